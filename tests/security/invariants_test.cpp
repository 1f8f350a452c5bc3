// Tests that try to break the foundation's invariants (DESIGN.md, "Invariants").
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "base/hash.h"
#include "base/system.h"
#include "harness/harness.h"

using namespace bulwark;
using namespace bulwark::test;
using namespace std::chrono_literals;

namespace {

// Flips one byte of a read-only library file in place, as an attacker with root would.
void flip_byte(const std::string& path, off_t offset)
{
    ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    unsigned char c;
    ASSERT_EQ(::pread(fd, &c, 1, offset), 1);
    c ^= 0x40;
    ASSERT_EQ(::pwrite(fd, &c, 1, offset), 1);
    ::close(fd);
    ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
}

class Invariants : public ::testing::Test {
protected:
    void SetUp() override
    {
        h.start_daemon();
        h.import_demo();
        manifest = h.cli_json({"image", "show", "demo"})["manifest"];
    }
    std::string blob(const char* part)
    {
        std::string digest = std::string(part) == "disk" ? manifest["disk"]["digest"].get<std::string>()
                                                           : manifest["boot"][part]["digest"].get<std::string>();
        return h.home() + "/images/blobs/" + digest.substr(7);
    }
    void expect_start_refused(const std::string& vm, const std::string& what)
    {
        auto r = h.cli({"vm", "start", vm});
        EXPECT_EQ(r.code, 5) << r.output;
        EXPECT_NE(r.output.find("image 'demo:1' failed verification"), std::string::npos) << r.output;
        EXPECT_NE(r.output.find(what), std::string::npos) << r.output;
        EXPECT_EQ(h.vm_state(vm), "stopped");
        EXPECT_EQ(h.qemu_count(vm), 0) << "no QEMU may have been started";
    }
    Harness h;
    Json manifest;
};

}  // namespace

// Invariant: nothing boots from an image whose digest or signature does not verify.
TEST_F(Invariants, TamperedDiskIsRefusedEvenAfterAVerifiedStart)
{
    h.boot_guest("g1");
    ASSERT_EQ(h.cli({"vm", "kill", "g1"}).code, 0);
    // The earlier start cached the verified digest; a write to the blob must invalidate it.
    flip_byte(blob("disk"), 1 << 20);
    expect_start_refused("g1", "its disk does not match the signed digest");
    auto r = h.cli({"image", "verify", "demo"});
    EXPECT_EQ(r.code, 5) << r.output;
}

TEST_F(Invariants, TamperedKernelIsRefused)
{
    ASSERT_EQ(h.cli({"vm", "create", "g1", "--image", "demo"}).code, 0);
    flip_byte(blob("kernel"), 4096);
    expect_start_refused("g1", "its kernel does not match");
}

TEST_F(Invariants, TamperedInitrdIsRefused)
{
    ASSERT_EQ(h.cli({"vm", "create", "g1", "--image", "demo"}).code, 0);
    flip_byte(blob("initrd"), 100);
    expect_start_refused("g1", "its initrd does not match");
}

TEST_F(Invariants, EditedManifestIsRefused)
{
    ASSERT_EQ(h.cli({"vm", "create", "g1", "--image", "demo"}).code, 0);
    h.stop_daemon();
    // Point the kernel command line at a root shell: the manifest no longer matches its
    // signature.
    exec_sql(h.home() + "/bulwark.db", "UPDATE images SET manifest = replace(manifest, 'console=ttyS0', 'init=/bin/sh console=ttyS0')");
    h.start_daemon();
    expect_start_refused("g1", "manifest signature is invalid");
}

TEST_F(Invariants, ManifestSwappedBetweenImagesIsRefused)
{
    std::string img = h.dir() + "/raw.img";
    ASSERT_EQ(run({"truncate", "-s", "1M", img}).code, 0);
    ASSERT_EQ(h.cli({"image", "import", img, "--name", "other"}).code, 0);
    ASSERT_EQ(h.cli({"vm", "create", "g1", "--image", "demo"}).code, 0);
    h.stop_daemon();
    // A validly signed manifest of another image, copied over demo's.
    exec_sql(h.home() + "/bulwark.db",
        "UPDATE images SET (manifest, signature) = (SELECT manifest, signature FROM images WHERE name = 'other') WHERE name = 'demo'");
    h.start_daemon();
    expect_start_refused("g1", "names a different image");
}

TEST_F(Invariants, BlobMadeWritableOrMissingIsRefused)
{
    ASSERT_EQ(h.cli({"vm", "create", "g1", "--image", "demo"}).code, 0);
    ASSERT_EQ(::chmod(blob("initrd").c_str(), 0666), 0);
    expect_start_refused("g1", "has been made writable");
    ASSERT_EQ(::unlink(blob("initrd").c_str()), 0);
    expect_start_refused("g1", "missing from the library");
}

// Invariant: golden images are immutable; an instance writes only to its own overlay.
TEST_F(Invariants, GuestsWriteOnlyToTheirOwnOverlay)
{
    auto before = Sha256::of_file(blob("disk"));
    ASSERT_TRUE(before.is_ok());
    struct stat st {};
    ASSERT_EQ(::stat(blob("disk").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0444u);
    h.boot_guest("a");
    h.boot_guest("b");
    // Scribble over files that live in the golden image, from inside the guest.
    auto r = h.guest_sh("a", "for f in /bin/busybox /etc/inittab; do dd if=/dev/urandom of=$f bs=1k count=64 conv=notrunc 2>/dev/null; done;"
                             " echo a-was-here > /root/mine; sync; echo done");
    EXPECT_EQ(r.output, "done\n") << r.output;
    // The other guest, on the same golden image, sees none of it.
    r = h.guest_sh("b", "test -e /root/mine && echo leaked || echo clean");
    EXPECT_EQ(r.output, "clean\n");
    // QEMU was given the golden base read-only.
    auto cmdline = sys::read_file("/proc/" + std::to_string(h.vm_pid("a")) + "/cmdline", 1 << 20);
    ASSERT_TRUE(cmdline.is_ok());
    EXPECT_NE(cmdline.value().find("\"node-name\":\"base-file\",\"read-only\":true"), std::string::npos) << cmdline.value();
    ASSERT_EQ(h.cli({"vm", "kill", "a"}).code, 0);
    ASSERT_EQ(h.cli({"vm", "kill", "b"}).code, 0);
    auto after = Sha256::of_file(blob("disk"));
    ASSERT_TRUE(after.is_ok());
    EXPECT_EQ(to_hex(before.value()), to_hex(after.value()));
    EXPECT_EQ(h.cli({"image", "verify", "demo"}).code, 0);
}

// Invariant: every state-changing request is authenticated, authorised and audited first.
TEST_F(Invariants, ControlSocketIsClosedToOtherUsers)
{
    struct stat st {};
    ASSERT_EQ(::stat((h.home() + "/bulwarkd.sock").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat(h.home().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0077, 0u);
    ASSERT_EQ(::stat((h.home() + "/keys/host.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat((h.home() + "/bulwark.db").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0077, 0u);
    // An unprivileged user cannot even reach the socket.
    auto r = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", std::string(BULWARK_BIN_DIR) + "/bulwark",
        "--home", h.home(), "vm", "create", "x", "--image", "demo"});
    EXPECT_NE(r.code, 0) << r.output;
    EXPECT_TRUE(h.cli_json({"vm", "list"}).empty());
}

TEST_F(Invariants, NoAuditNoOperation)
{
    h.stop_daemon();
    // The audit log cannot be written (as if the disk were full): nothing may happen.
    exec_sql(h.home() + "/bulwark.db", "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;");
    h.start_daemon();
    auto r = h.cli({"vm", "create", "g1", "--image", "demo"});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.output.find("cannot write the audit log, so the operation was not attempted"), std::string::npos) << r.output;
    EXPECT_TRUE(h.cli_json({"vm", "list"}).empty());
    EXPECT_FALSE(sys::exists(h.home() + "/vms/g1"));
}

// Invariant: a crash at any point leaves a state the next start repairs, losing no record.
TEST_F(Invariants, CrashDuringAnOperationIsRepaired)
{
    h.boot_guest("g1");
    // A long command in the guest, and bulwarkd killed while it runs.
    CliResult slow;
    std::thread t([&] { slow = h.cli({"vm", "exec", "g1", "--", "/bin/sleep", "30"}); });
    std::this_thread::sleep_for(2s);
    h.crash_daemon();
    t.join();
    EXPECT_EQ(slow.code, 6) << slow.output;
    // Debris a crash can leave: a half-imported file and a half-created guest directory.
    ASSERT_TRUE(sys::mkdirs(h.home() + "/images/staging/123", 0700).is_ok());
    ASSERT_TRUE(sys::mkdirs(h.home() + "/vms/half-made", 0700).is_ok());
    h.start_daemon();
    auto entries = h.cli_json({"audit", "tail", "-n", "2"});
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0]["action"], "vm.exec");
    EXPECT_EQ(entries[0]["phase"], "intent");
    EXPECT_EQ(entries[1]["phase"], "result");
    EXPECT_EQ(entries[1]["outcome"], "interrupted");
    EXPECT_EQ(h.cli({"audit", "verify"}).code, 0);
    EXPECT_FALSE(sys::exists(h.home() + "/images/staging/123"));
    EXPECT_FALSE(sys::exists(h.home() + "/vms/half-made"));
    // The guest itself was not harmed: reattached and answering.
    EXPECT_EQ(h.vm_state("g1"), "running");
    EXPECT_EQ(h.guest_sh("g1", "echo ok").output, "ok\n");
}

TEST_F(Invariants, CrashMidStartIsUndone)
{
    h.boot_guest("g1");
    int64_t pid = h.vm_pid("g1");
    h.crash_daemon();
    // As if bulwarkd died after spawning QEMU but before QMP answered.
    exec_sql(h.home() + "/bulwark.db", "UPDATE vms SET state = 'starting' WHERE name = 'g1'");
    h.start_daemon();
    EXPECT_EQ(h.vm_state("g1"), "stopped");
    for (int i = 0; i < 50 && ::kill(static_cast<pid_t>(pid), 0) == 0; ++i)
        std::this_thread::sleep_for(100ms);
    EXPECT_NE(::kill(static_cast<pid_t>(pid), 0), 0) << "the half-started QEMU must be gone";
    auto events = h.cli_json({"vm", "events", "g1"});
    EXPECT_EQ(events.back()["kind"], "start-interrupted");
}

// A guest that prints without end cannot fill the host's disk through its console log.
TEST(HostileGuest, ConsoleFloodIsCutBack)
{
    Harness h;
    h.start_daemon({{"BULWARK_CONSOLE_LIMIT", "262144"}});
    h.import_demo();
    h.boot_guest("noisy");
    auto r = h.guest_sh("noisy", "head -c 1200000 /dev/zero | tr '\\000' x > /dev/ttyS0; echo sent");
    EXPECT_EQ(r.output, "sent\n") << r.output;
    std::this_thread::sleep_for(2500ms);
    struct stat st {};
    ASSERT_EQ(::stat((h.home() + "/vms/noisy/console.log").c_str(), &st), 0);
    EXPECT_LT(st.st_size, 1200000) << "the console log was never cut back";
    EXPECT_TRUE(sys::exists(h.home() + "/vms/noisy/console.log.trimmed"));
    // The guest and its console still work afterwards.
    EXPECT_EQ(h.guest_sh("noisy", "echo after-flood > /dev/ttyS0; echo ok").output, "ok\n");
    std::this_thread::sleep_for(300ms);
    EXPECT_NE(h.console("noisy").find("after-flood"), std::string::npos);
}
