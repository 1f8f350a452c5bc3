// Real guests under QEMU: boot, exec through the agent, clean shutdown, ephemeral rollback,
// snapshots and revert, a daemon restart with reattach, a QEMU killed from outside.
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "base/system.h"
#include "harness/harness.h"

using namespace bulwark;
using namespace bulwark::test;
using namespace std::chrono_literals;

namespace {

class Guest : public ::testing::Test {
protected:
    void SetUp() override
    {
        h.start_daemon();
        h.import_demo();
    }
    Harness h;
};

bool has_event(const Json& events, const std::string& kind)
{
    for (const auto& e : events) {
        if (json_string_or(e, "kind", "") == kind)
            return true;
    }
    return false;
}

}  // namespace

TEST_F(Guest, BootsExecsAndShutsDownCleanly)
{
    h.boot_guest("g1");
    auto show = h.cli_json({"vm", "show", "g1"});
    EXPECT_EQ(json_string_or(show, "state", ""), "running");
    // KVM when it really works (a /dev/kvm that QEMU cannot use is detected), TCG otherwise.
    std::string accel = json_string_or(show, "accel", "");
    EXPECT_TRUE(accel == "kvm" || (accel == "tcg" && !sys::exists("/dev/kvm")) || (accel == "tcg" && h.daemon_log().find("software emulation") != std::string::npos)) << accel;
    EXPECT_EQ(json_string_or(show, "qemu_status", ""), "running");

    auto r = h.guest_sh("g1", "echo hello from $(uname -s)");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output, "hello from Linux\n");
    // The guest command's exit code and stderr come back as they are.
    r = h.guest_sh("g1", "echo oops >&2; exit 3");
    EXPECT_EQ(r.code, 3);
    EXPECT_EQ(r.output, "oops\n");
    auto j = h.cli_json({"vm", "exec", "g1", "--", "/bin/sh", "-c", "printf 'a\\000b'"});
    EXPECT_EQ(json_int_or(j, "exit_code", -1), 0);

    // QEMU runs with QEMU's own seccomp sandbox and no default devices.
    auto cmdline = sys::read_file("/proc/" + std::to_string(h.vm_pid("g1")) + "/cmdline", 1 << 20);
    ASSERT_TRUE(cmdline.is_ok());
    EXPECT_NE(cmdline.value().find("spawn=deny"), std::string::npos);
    EXPECT_NE(cmdline.value().find("-nodefaults"), std::string::npos);

    r = h.cli({"vm", "stop", "g1", "--timeout", "60"});
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("shut down cleanly"), std::string::npos) << r.output;
    EXPECT_EQ(h.vm_state("g1"), "stopped");
    r = h.guest_sh("g1", "true");
    EXPECT_EQ(r.code, 4) << "exec on a stopped guest is a conflict: " << r.output;

    // The console command shows what the guest printed.
    r = h.cli({"vm", "console", "g1", "--tail", "0"});
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.output.find("BULWARK-GUEST-READY"), std::string::npos);
}

TEST_F(Guest, EphemeralGuestComesBackClean)
{
    // Control: a persistent guest keeps what it wrote, so the check below can fail.
    h.boot_guest("keep");
    ASSERT_EQ(h.guest_sh("keep", "echo precious > /root/marker && sync").code, 0);
    ASSERT_EQ(h.cli({"vm", "stop", "keep", "--timeout", "60"}).code, 0);
    ASSERT_EQ(h.cli({"vm", "start", "keep"}).code, 0);
    ASSERT_TRUE(h.wait_console("keep", "BULWARK-GUEST-READY"));
    auto r = h.guest_sh("keep", "cat /root/marker");
    EXPECT_EQ(r.output, "precious\n");
    ASSERT_EQ(h.cli({"vm", "kill", "keep"}).code, 0);

    h.boot_guest("eph", {"--ephemeral"});
    ASSERT_EQ(h.guest_sh("eph", "echo malware > /root/marker && sync").code, 0);
    ASSERT_EQ(h.cli({"vm", "stop", "eph", "--timeout", "60"}).code, 0);
    // What the guest wrote does not linger on the host while it is stopped.
    EXPECT_FALSE(sys::exists(h.home() + "/vms/eph/disk.qcow2"));
    ASSERT_EQ(h.cli({"vm", "start", "eph"}).code, 0);
    ASSERT_TRUE(h.wait_console("eph", "BULWARK-GUEST-READY"));
    r = h.guest_sh("eph", "test -e /root/marker && echo present || echo absent");
    EXPECT_EQ(r.output, "absent\n") << "an ephemeral guest must forget what the last boot wrote";
    // Snapshots would not survive the next boot, so they are refused.
    r = h.cli({"snapshot", "create", "eph", "s1"});
    EXPECT_EQ(r.code, 4) << r.output;
    EXPECT_NE(r.output.find("ephemeral"), std::string::npos);
}

TEST_F(Guest, SnapshotAndRevert)
{
    h.boot_guest("g1");
    ASSERT_EQ(h.guest_sh("g1", "echo before > /root/state && sync").code, 0);
    auto r = h.cli({"snapshot", "create", "g1", "s1"});
    ASSERT_EQ(r.code, 0) << r.output;
    ASSERT_EQ(h.guest_sh("g1", "echo after > /root/state && touch /root/later && sync").code, 0);
    auto list = h.cli_json({"snapshot", "list", "g1"});
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(json_string_or(list[0], "name", ""), "s1");
    EXPECT_TRUE(json_bool_or(list[0], "memory", false));
    EXPECT_GT(json_int_or(list[0], "vm_state_size", 0), 0);

    r = h.cli({"snapshot", "revert", "g1", "s1"});
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(h.vm_state("g1"), "running");
    r = h.guest_sh("g1", "cat /root/state; test -e /root/later && echo later || echo no-later");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output, "before\nno-later\n");

    // A disk-only snapshot of a stopped guest, reverted while stopped.
    ASSERT_EQ(h.cli({"vm", "stop", "g1", "--timeout", "60"}).code, 0);
    ASSERT_EQ(h.cli({"snapshot", "create", "g1", "cold"}).code, 0);
    ASSERT_EQ(h.cli({"vm", "start", "g1"}).code, 0);
    ASSERT_TRUE(h.wait_console("g1", "BULWARK-GUEST-READY"));
    ASSERT_EQ(h.guest_sh("g1", "echo changed > /root/state && sync").code, 0);
    r = h.cli({"snapshot", "revert", "g1", "cold"});
    EXPECT_EQ(r.code, 4) << "a disk-only snapshot cannot be applied under a running guest: " << r.output;
    ASSERT_EQ(h.cli({"vm", "stop", "g1", "--timeout", "60"}).code, 0);
    ASSERT_EQ(h.cli({"snapshot", "revert", "g1", "cold"}).code, 0);
    ASSERT_EQ(h.cli({"vm", "start", "g1"}).code, 0);
    ASSERT_TRUE(h.wait_console("g1", "BULWARK-GUEST-READY"));
    r = h.guest_sh("g1", "cat /root/state");
    EXPECT_EQ(r.output, "before\n");

    // Reverting a stopped guest to a memory snapshot resumes it from there.
    ASSERT_EQ(h.cli({"vm", "kill", "g1"}).code, 0);
    r = h.cli({"snapshot", "revert", "g1", "s1"});
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(h.vm_state("g1"), "running");
    r = h.guest_sh("g1", "cat /root/state");
    EXPECT_EQ(r.output, "before\n");

    ASSERT_EQ(h.cli({"snapshot", "rm", "g1", "s1"}).code, 0);
    EXPECT_EQ(h.cli({"snapshot", "revert", "g1", "s1"}).code, 3);
    EXPECT_EQ(h.cli_json({"snapshot", "list", "g1"}).size(), 1u);
}

TEST_F(Guest, DaemonRestartReattaches)
{
    h.boot_guest("g1");
    int64_t pid = h.vm_pid("g1");
    h.stop_daemon();
    ASSERT_EQ(::kill(static_cast<pid_t>(pid), 0), 0) << "QEMU must outlive bulwarkd";
    h.start_daemon();
    EXPECT_EQ(h.vm_state("g1"), "running");
    EXPECT_EQ(h.vm_pid("g1"), pid);
    auto r = h.guest_sh("g1", "echo still here");
    EXPECT_EQ(r.output, "still here\n");
    EXPECT_TRUE(has_event(h.cli_json({"vm", "events", "g1"}), "reattached"));
    // The adopted QEMU is still watched: a clean stop works and is recorded.
    r = h.cli({"vm", "stop", "g1", "--timeout", "60"});
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(h.vm_state("g1"), "stopped");

    // A guest that dies while bulwarkd is down is found stopped, with an event saying so.
    ASSERT_EQ(h.cli({"vm", "start", "g1"}).code, 0);
    pid = h.vm_pid("g1");
    h.crash_daemon();
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    std::this_thread::sleep_for(300ms);
    h.start_daemon();
    EXPECT_EQ(h.vm_state("g1"), "stopped");
    EXPECT_TRUE(has_event(h.cli_json({"vm", "events", "g1"}), "exited"));
    // The audit log survived the crash intact.
    EXPECT_EQ(h.cli({"audit", "verify"}).code, 0);
}

TEST_F(Guest, QemuKilledFromOutsideIsNoticedWithinASecond)
{
    h.boot_guest("g1");
    int64_t pid = h.vm_pid("g1");
    ASSERT_GT(pid, 0);
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    auto t0 = std::chrono::steady_clock::now();
    std::string state;
    while (std::chrono::steady_clock::now() - t0 < 5s) {
        state = h.vm_state("g1");
        if (state == "stopped")
            break;
        std::this_thread::sleep_for(50ms);
    }
    // Not a timing assertion on speed: the monitor wakes on the pidfd, so the first look
    // after the kill (bounded by the CLI's own latency) already sees it.
    EXPECT_EQ(state, "stopped");
    auto events = h.cli_json({"vm", "events", "g1"});
    ASSERT_TRUE(has_event(events, "crashed")) << events.dump();
    EXPECT_NE(events.back()["message"].get<std::string>().find("signal 9"), std::string::npos);
    // And it starts again.
    ASSERT_EQ(h.cli({"vm", "start", "g1"}).code, 0);
    EXPECT_TRUE(h.wait_console("g1", "BULWARK-GUEST-READY"));
}

TEST_F(Guest, OperationsOnOneGuestAreSerialised)
{
    ASSERT_EQ(h.cli({"vm", "create", "g1", "--image", "demo"}).code, 0);
    // Two starts at once: exactly one wins, the other is told the guest is not stopped.
    CliResult a, b;
    std::thread ta([&] { a = h.cli({"vm", "start", "g1"}); });
    std::thread tb([&] { b = h.cli({"vm", "start", "g1"}); });
    ta.join();
    tb.join();
    EXPECT_EQ((a.code == 0) + (b.code == 0), 1) << a.output << "\n" << b.output;
    EXPECT_TRUE(a.code == 4 || b.code == 4) << a.output << "\n" << b.output;
    // Exactly one QEMU for this guest.
    EXPECT_EQ(h.qemu_count("g1"), 1);
}

TEST_F(Guest, BootsFromItsOwnBootloader)
{
    // An image without direct-boot files: firmware -> MBR -> syslinux -> kernel.
    std::string disk = h.dir() + "/bootable.raw";
    auto made = run({std::string(BULWARK_SOURCE_DIR) + "/tests/integration/data/make-bootable-disk.sh", Harness::guest_dir(), disk}, 300s);
    ASSERT_EQ(made.code, 0) << made.output;
    ASSERT_EQ(h.cli({"image", "import", disk, "--name", "bootable"}).code, 0);
    auto manifest = h.cli_json({"image", "show", "bootable"})["manifest"];
    EXPECT_FALSE(manifest.contains("boot")) << "no kernel was given, none may be recorded";
    ASSERT_EQ(h.cli({"vm", "create", "b1", "--image", "bootable"}).code, 0);
    ASSERT_EQ(h.cli({"vm", "start", "b1"}).code, 0);
    ASSERT_TRUE(h.wait_console("b1", "BULWARK-GUEST-READY")) << h.console("b1");
    EXPECT_NE(h.console("b1").find("SYSLINUX"), std::string::npos);
    auto r = h.guest_sh("b1", "cat /proc/cmdline");
    EXPECT_NE(r.output.find("root=/dev/vda2"), std::string::npos) << r.output;
    EXPECT_EQ(h.cli({"vm", "stop", "b1", "--timeout", "60"}).code, 0);
}
