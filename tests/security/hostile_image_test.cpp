// Hostile disk images against the inspector: every one gets findings or a clean refusal,
// bulwarkd keeps answering, and nothing of the inspector is left behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <functional>

#include "base/json.h"
#include "base/system.h"
#include "harness/harness.h"
#include "jail/cgroup.h"
#include "jail/guest_jail.h"

namespace bulwark::test {
namespace {

std::string debian(const std::string& name) { return std::string(BULWARK_DEBIAN_IMAGE_DIR) + "/" + name; }

void write_at(const std::string& path, uint64_t offset, const std::string& bytes)
{
    int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
}

std::string be64(uint64_t v)
{
    std::string s(8, '\0');
    for (int i = 7; i >= 0; --i, v >>= 8)
        s[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    return s;
}

class HostileImage : public ::testing::Test {
protected:
    Harness h;
    void expect_nothing_left()
    {
        // No inspector jail, cgroup or process of this daemon remains.
        for (const auto& n : sys::list_dir(h.home() + "/jail"))
            ADD_FAILURE() << "left behind: " << h.home() << "/jail/" << n;
        auto layout = jail::detect_cgroups();
        ASSERT_TRUE(layout.is_ok());
        for (const auto& hier : layout.value().hierarchies) {
            for (const auto& n : sys::list_dir(hier + "/" + jail::cgroup_parent(h.home())))
                EXPECT_EQ(n.rfind("inspect-", 0), std::string::npos) << "cgroup left behind: " << n;
        }
        EXPECT_NE(run({"pgrep", "-f", h.home() + "/jail/inspect-"}).code, 0) << "an inspector of this daemon still runs";
        // And bulwarkd still answers.
        EXPECT_EQ(h.cli({"status"}).code, 0);
    }
};

TEST_F(HostileImage, CorruptQcow2IsRefusedCleanly)
{
    h.start_daemon();
    std::string bad = h.dir() + "/bad.qcow2";
    ASSERT_EQ(run({"cp", debian("clean.qcow2"), bad}).code, 0);
    // The L1 table offset, pointed far past the end of the file.
    write_at(bad, 40, be64(1ULL << 50));
    auto r = h.cli({"image", "scan", bad});
    EXPECT_EQ(r.code, 8) << r.output;  // corrupt
    EXPECT_NE(r.output.find("bulwark:"), std::string::npos) << r.output;
    r = h.cli({"image", "import", bad, "--name", "bad"});
    EXPECT_NE(r.code, 0) << r.output;
    EXPECT_EQ(h.cli_json({"image", "list"}).size(), 0u);
    EXPECT_TRUE(sys::list_dir(h.home() + "/images/blobs").empty());
    expect_nothing_left();
}

TEST_F(HostileImage, GarbageAndForeignFilesystemsAreNotAdmitted)
{
    h.start_daemon();
    // A policy that refuses what Bulwark cannot read (the default only warns, so that EFI
    // system partitions and blank disks pass).
    std::string strict = h.dir() + "/strict.toml";
    {
        std::ofstream f(strict);
        f << "[findings]\nrefuse = [\"secret.*\", \"disk.*\"]\n";
    }
    // Random bytes: no partition table, no filesystem.
    std::string garbage = h.dir() + "/garbage.raw";
    ASSERT_EQ(run({"dd", "if=/dev/urandom", "of=" + garbage, "bs=1M", "count=8", "status=none"}).code, 0);
    auto warned = h.cli({"image", "scan", garbage});
    EXPECT_EQ(warned.code, 0) << "the default policy warns about an unreadable disk: " << warned.output;
    EXPECT_NE(warned.output.find("disk.no-filesystem"), std::string::npos) << warned.output;
    auto r = h.cli({"image", "scan", garbage, "--format", "json", "--policy", strict});
    EXPECT_EQ(r.code, 9) << r.output.substr(0, 2000);
    auto j = parse_json(r.output, {64 << 20, 64});
    ASSERT_TRUE(j.is_ok()) << r.output.substr(0, 2000);
    bool nothing = false;
    for (const auto& f : j.value()["findings"])
        nothing |= f["id"] == "disk.no-filesystem" && f["outcome"] == "refuse";
    EXPECT_TRUE(nothing) << j.value()["findings"].dump(2);

    // A filesystem Bulwark cannot read is named, and refused: nobody vetted it.
    std::string vfat = h.dir() + "/vfat.raw";
    ASSERT_EQ(run({"truncate", "-s", "64M", vfat}).code, 0);
    ASSERT_EQ(run({"mkfs.vfat", vfat}).code, 0);
    r = h.cli({"image", "scan", vfat, "--policy", strict});
    EXPECT_EQ(r.code, 9) << r.output;
    EXPECT_NE(r.output.find("unsupported filesystem: vfat"), std::string::npos) << r.output;
    expect_nothing_left();
}

TEST_F(HostileImage, InspectorPastItsDeadlineIsKilled)
{
    h.start_daemon({{"BULWARK_INSPECT_TIMEOUT", "1"}});
    // A big image under a one-second deadline (the sanitizer build needs several).
    auto r = h.cli({"image", "scan", debian("clean-compressed.qcow2")});
    EXPECT_EQ(r.code, 7) << r.output;  // timeout
    EXPECT_NE(r.output.find("did not finish within 1 s"), std::string::npos) << r.output;
    expect_nothing_left();
}

TEST_F(HostileImage, SecretsNeverLeaveTheImage)
{
    h.start_daemon();
    auto planted = parse_json(sys::read_file(debian("planted.json"), 1 << 20).value(), {1 << 20, 32});
    ASSERT_TRUE(planted.is_ok());
    auto r = h.cli({"image", "scan", debian("planted.qcow2"), "--format", "json"});
    EXPECT_EQ(r.code, 9);
    // planted.json records the random secret values it planted; none may appear in the report.
    std::string report = r.output;
    size_t checked = 0;
    for (auto it = planted.value()["secret_values"].begin(); it != planted.value()["secret_values"].end(); ++it) {
        if (it.key() == "note" || !it->is_string())
            continue;
        ++checked;
        EXPECT_EQ(report.find(it->get<std::string>()), std::string::npos) << "secret leaked: " << it.key();
    }
    EXPECT_GE(checked, 2u) << "planted.json lists no secret values to check";
}

}  // namespace
}  // namespace bulwark::test
