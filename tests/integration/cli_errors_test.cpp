// Bad input gets a clear error, an exit code a script can act on, and leaves nothing behind.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "base/system.h"
#include "harness/harness.h"

using namespace bulwark;
using namespace bulwark::test;

namespace {

void write_file(const std::string& path, const std::string& data)
{
    std::ofstream f(path, std::ios::binary);
    f << data;
}

// A valid qcow2 made by qemu-img, for the corrupt variants below.
std::string make_qcow2(const std::string& dir, const std::string& name, const std::string& extra_opt = "")
{
    std::string path = dir + "/" + name;
    std::vector<std::string> argv {"qemu-img", "create", "-q", "-f", "qcow2"};
    if (!extra_opt.empty()) {
        argv.push_back("-o");
        argv.push_back(extra_opt);
    }
    argv.push_back(path);
    argv.push_back("16M");
    EXPECT_EQ(run(argv).code, 0);
    return path;
}

class CliErrors : public ::testing::Test {
protected:
    void SetUp() override { h.start_daemon(); }
    Harness h;

    void expect_nothing_stored()
    {
        EXPECT_TRUE(h.cli_json({"image", "list"}).empty());
        EXPECT_TRUE(h.cli_json({"vm", "list"}).empty());
        // No half-imported file is left in staging.
        auto staged = run({"find", h.home() + "/images/staging", "-mindepth", "1"});
        EXPECT_EQ(staged.output, "");
    }
};

}  // namespace

TEST(CliNoDaemon, SaysHowToStartIt)
{
    Harness h;
    auto r = h.cli({"vm", "list"});
    EXPECT_EQ(r.code, 6);
    EXPECT_NE(r.output.find("bulwarkd is not running"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("bulwarkd --home " + h.home() + " --detach"), std::string::npos) << r.output;
}

TEST_F(CliErrors, UnknownImageAndGuest)
{
    auto r = h.cli({"vm", "create", "g1", "--image", "nosuch"});
    EXPECT_EQ(r.code, 3) << r.output;
    EXPECT_NE(r.output.find("image 'nosuch' does not exist"), std::string::npos) << r.output;
    for (const char* cmd : {"start", "stop", "kill", "show", "rm", "console"}) {
        r = h.cli({"vm", cmd, "ghost"});
        EXPECT_EQ(r.code, 3) << cmd << ": " << r.output;
        EXPECT_NE(r.output.find("guest 'ghost' does not exist"), std::string::npos) << r.output;
    }
    r = h.cli({"image", "show", "nosuch:3"});
    EXPECT_EQ(r.code, 3) << r.output;
    expect_nothing_stored();
}

TEST_F(CliErrors, FilesThatAreNotDiskImages)
{
    std::string d = h.dir();
    write_file(d + "/text.img", "this is not a disk image\n");
    write_file(d + "/empty.img", "");
    write_file(d + "/vmdk.img", std::string("KDMV") + std::string(1020, '\0'));
    struct Case {
        std::string file;
        std::string expect;
    };
    std::vector<Case> cases {
        {d + "/text.img", "neither qcow2 nor raw"},
        {d + "/empty.img", "empty"},
        {d + "/vmdk.img", "VMDK"},
    };
    // A qcow2 cut short: its tables lie beyond the end of the file.
    std::string truncated = make_qcow2(d, "trunc.qcow2");
    ASSERT_EQ(::truncate(truncated.c_str(), 1024), 0);
    cases.push_back({truncated, "truncated"});
    // A qcow2 whose header says "read the host's /etc/shadow as my backing file".
    std::string backed = d + "/backed.qcow2";
    ASSERT_EQ(run({"qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/shadow", "-F", "raw", backed, "16M"}).code, 0);
    cases.push_back({backed, "backing file"});
    for (const auto& c : cases) {
        auto r = h.cli({"image", "import", c.file, "--name", "bad"});
        EXPECT_NE(r.code, 0) << c.file;
        EXPECT_TRUE(r.code == 8 || r.code == 9) << c.file << " exit " << r.code << ": " << r.output;
        EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.file << ": " << r.output;
        EXPECT_EQ(r.output.find("terminate"), std::string::npos) << "no crash, no stack trace: " << r.output;
    }
    auto r = h.cli({"image", "import", d + "/does-not-exist.img", "--name", "bad"});
    EXPECT_EQ(r.code, 3) << r.output;
    expect_nothing_stored();
    // The daemon survived all of it.
    EXPECT_EQ(h.cli({"status"}).code, 0);
}

TEST_F(CliErrors, NamesAndRanges)
{
    std::string img = h.dir() + "/raw.img";
    ASSERT_EQ(run({"truncate", "-s", "1M", img}).code, 0);
    for (const char* bad : {"Bad", "a/b", "../x", "a b", "-x", "", "x;rm", "\xc3\xa9t\xc3\xa9"}) {
        auto r = h.cli({"image", "import", img, "--name", bad});
        EXPECT_EQ(r.code, 2) << "'" << bad << "': " << r.output;
    }
    ASSERT_EQ(h.cli({"image", "import", img, "--name", "tiny"}).code, 0);
    auto r = h.cli({"image", "import", img, "--name", "tiny", "--version", "1"});
    EXPECT_EQ(r.code, 4) << r.output;
    EXPECT_NE(r.output.find("already exists"), std::string::npos);

    r = h.cli({"vm", "create", "g1", "--image", "tiny", "--cpus", "0"});
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("cpus must be between 1 and 64"), std::string::npos) << r.output;
    r = h.cli({"vm", "create", "g1", "--image", "tiny", "--cpus", "65"});
    EXPECT_EQ(r.code, 2) << r.output;
    r = h.cli({"vm", "create", "g1", "--image", "tiny", "--memory", "8"});
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("memory must be between"), std::string::npos) << r.output;
    r = h.cli({"vm", "create", "g1", "--image", "tiny", "--memory", "100T"});
    EXPECT_EQ(r.code, 2) << r.output;
    r = h.cli({"vm", "create", "g1", "--image", "tiny", "--memory", "4096G"});
    EXPECT_EQ(r.code, 2) << r.output;
    r = h.cli({"vm", "create", "UPPER", "--image", "tiny"});
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_TRUE(h.cli_json({"vm", "list"}).empty()) << "a refused create leaves no record";

    ASSERT_EQ(h.cli({"vm", "create", "g1", "--image", "tiny"}).code, 0);
    r = h.cli({"vm", "create", "g1", "--image", "tiny"});
    EXPECT_EQ(r.code, 4) << r.output;
    EXPECT_NE(r.output.find("already exists"), std::string::npos);
    // An image in use cannot be removed.
    r = h.cli({"image", "rm", "tiny:1"});
    EXPECT_EQ(r.code, 4) << r.output;
    EXPECT_NE(r.output.find("in use by guest(s) g1"), std::string::npos) << r.output;
    ASSERT_EQ(h.cli({"vm", "rm", "g1"}).code, 0);
    EXPECT_EQ(h.cli({"image", "rm", "tiny:1"}).code, 0);
}

TEST(CliQemuMissing, StartSaysWhatToInstall)
{
    Harness h;
    h.start_daemon({{"BULWARK_QEMU", "/nonexistent/qemu-system-x86_64"}});
    std::string img = h.dir() + "/raw.img";
    ASSERT_EQ(run({"truncate", "-s", "1M", img}).code, 0);
    ASSERT_EQ(h.cli({"image", "import", img, "--name", "tiny"}).code, 0);
    ASSERT_EQ(h.cli({"vm", "create", "g1", "--image", "tiny"}).code, 0);
    auto r = h.cli({"vm", "start", "g1"});
    EXPECT_EQ(r.code, 6) << r.output;
    EXPECT_NE(r.output.find("install the qemu-system-x86 package"), std::string::npos) << r.output;
    EXPECT_EQ(h.vm_state("g1"), "stopped");
}

TEST(CliHelp, EveryCommandHasHelp)
{
    Harness h;
    for (std::vector<std::string> args : std::vector<std::vector<std::string>> {{"--help"}, {"vm", "--help"}, {"vm", "exec", "--help"},
             {"image", "import", "--help"}, {"snapshot", "--help"}, {"audit", "verify", "--help"}}) {
        auto r = h.cli(args);
        EXPECT_EQ(r.code, 0) << r.output;
        EXPECT_NE(r.output.find("Usage"), std::string::npos) << r.output;
    }
    auto r = h.cli({"vm", "frobnicate"});
    EXPECT_EQ(r.code, 2) << r.output;
}
