// The jail, attacked from inside: a probe runs through the real jailer in QEMU's place, with
// the jail bulwarkd builds for a guest, next to a real jailed guest, and tries to reach what
// an escaped guest would want. And a real guest, looked at from the host, is as boxed as the
// jail says.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <thread>

#include "base/json.h"
#include "base/process.h"
#include "base/system.h"
#include "harness/harness.h"
#include "jail/cgroup.h"
#include "jail/guest_jail.h"
#include "jail/launcher.h"

namespace bulwark::test {
namespace {

using namespace std::chrono_literals;

constexpr int64_t k_probe_id = 9000;

std::string read_or_empty(const std::string& path, size_t max = 8 << 20)
{
    auto r = sys::read_file(path, max);
    return r.is_ok() ? r.value() : std::string();
}

std::string link_target(const std::string& path)
{
    char buf[256];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}
constexpr uint32_t k_probe_pids = 24;
constexpr unsigned k_probe_memory_mib = 48;

std::string jailer() { return std::string(BULWARK_BIN_DIR) + "/bulwark-jailer"; }

struct ProbeRun {
    ExitStatus status;
    std::string report;  // what the jailer said on its status pipe
    std::vector<Json> lines;
    std::string output;
    const Json* find(const std::string& check, const std::string& target = "") const
    {
        for (const auto& l : lines) {
            if (json_string_or(l, "check", "") == check && (target.empty() || json_string_or(l, "target", "") == target))
                return &l;
        }
        return nullptr;
    }
};

class Jail : public ::testing::Test {
protected:
    Harness h;
    jail::GuestJailConfig config;
    std::string probe_dir;
    jail::GuestJail probe_jail;

    void SetUp() override
    {
        ASSERT_EQ(::geteuid(), 0u) << "the jail tests need root";
        h.start_daemon();
        h.import_demo();
        config.home = h.home();
        config.pids_max = k_probe_pids;
        config.memory_overhead_mib = 0;
        // A second guest's files, laid out as bulwarkd lays them out.
        probe_dir = h.dir() + "/probe-guest";
        ASSERT_TRUE(sys::mkdirs(probe_dir + "/run", 0700).is_ok());
        for (const char* f : {"/disk.qcow2", "/console.log"})
            std::ofstream(probe_dir + f).put('x');
        auto manifest = h.cli_json({"image", "show", "demo"})["manifest"];
        auto blob = [&](const std::string& digest) { return h.home() + "/images/blobs/" + digest.substr(7); };
        QemuLaunchSpec host;
        host.qemu_binary = sys::find_executable("qemu-system-x86_64").value();
        host.name = "probe";
        host.memory_mib = k_probe_memory_mib;
        host.base_disk = blob(manifest["disk"]["digest"].get<std::string>());
        host.kernel = blob(manifest["boot"]["kernel"]["digest"].get<std::string>());
        host.initrd = blob(manifest["boot"]["initrd"]["digest"].get<std::string>());
        host.overlay = probe_dir + "/disk.qcow2";
        host.console_log = probe_dir + "/console.log";
        auto made = jail::make_guest_jail(config, k_probe_id, host, probe_dir + "/run");
        ASSERT_TRUE(made.is_ok()) << made.error().message();
        probe_jail = made.release_value();
        for (const char* f : {"/disk.qcow2", "/console.log", "/run"})
            ASSERT_EQ(::chown((probe_dir + f).c_str(), probe_jail.spec.uid, probe_jail.spec.gid), 0);
        ASSERT_TRUE(sys::mkdirs(probe_jail.spec.root, 0700).is_ok());
        // The probe takes QEMU's place, at a path of its own.
        jail::BindMount probe;
        probe.source = BULWARK_JAIL_PROBE;
        probe.target = "/probe";
        probe.exec = true;
        probe_jail.spec.mounts.push_back(probe);
    }

    void TearDown() override
    {
        auto layout = jail::detect_cgroups();
        if (layout.is_ok())
            (void)jail::cgroup_destroy(layout.value(), probe_jail.spec.cgroup);
        (void)::rmdir(probe_jail.spec.root.c_str());
    }

    ProbeRun run_probe(const std::vector<std::string>& commands)
    {
        ProbeRun run;
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
        Fd rd(fds[0]), wr(fds[1]);
        jail::JailSpec spec = probe_jail.spec;
        spec.status_fd = wr.get();
        spec.argv = {"/probe"};
        spec.argv.insert(spec.argv.end(), commands.begin(), commands.end());
        SpawnOptions options;
        options.argv = jail::to_jailer_args(spec);
        options.argv.insert(options.argv.begin(), jailer());
        options.env = minimal_env();
        options.stdout_path = probe_dir + "/probe.out";
        options.stderr_to_stdout = true;
        options.pass_fds = {wr.get()};
        (void)sys::unlink_if_exists(options.stdout_path);
        auto child = Child::spawn(options);
        EXPECT_TRUE(child.is_ok());
        wr = Fd();
        auto report = sys::read_fd(rd.get(), 4096);
        run.report = report.is_ok() ? report.value() : std::string();
        auto status = child.value().wait(120s);
        EXPECT_TRUE(status.is_ok()) << "the jailed probe did not finish";
        if (status.is_ok())
            run.status = status.value();
        run.output = read_or_empty(options.stdout_path);
        size_t pos = 0;
        while (pos < run.output.size()) {
            size_t end = run.output.find('\n', pos);
            if (end == std::string::npos)
                end = run.output.size();
            auto j = parse_json(run.output.substr(pos, end - pos), {1 << 20, 16});
            if (j.is_ok())
                run.lines.push_back(j.release_value());
            pos = end + 1;
        }
        return run;
    }

    // The host pid of the QEMU that the jailer of guest vm supervises.
    pid_t qemu_of(const std::string& vm)
    {
        auto supervisor = h.vm_pid(vm);
        auto kids = read_or_empty("/proc/" + std::to_string(supervisor) + "/task/" + std::to_string(supervisor) + "/children");
        return kids.empty() ? -1 : static_cast<pid_t>(std::atoi(kids.c_str()));
    }
};

// Expects the probe's attempt at check/target to have failed.
#define EXPECT_DENIED(run, check, target)                                                      \
    do {                                                                                       \
        const Json* line = (run).find(check, target);                                          \
        ASSERT_NE(line, nullptr) << "no result for " << check << " " << target << "\n" << (run).output; \
        EXPECT_FALSE(json_bool_or(*line, "ok", true)) << check << " " << target << " succeeded from inside the jail"; \
    } while (0)

TEST_F(Jail, ProbeCannotReachOtherGuestsTheDaemonOrTheHost)
{
    h.boot_guest("a");
    pid_t a_supervisor = static_cast<pid_t>(h.vm_pid("a"));
    pid_t a_qemu = qemu_of("a");
    ASSERT_GT(a_qemu, 0);
    // A TCP listener on the host's loopback.
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa {};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ASSERT_EQ(::listen(listener, 4), 0);
    socklen_t len = sizeof sa;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&sa), &len);
    std::string port = std::to_string(ntohs(sa.sin_port));

    const std::string a_overlay = h.home() + "/vms/a/disk.qcow2";
    auto run = run_probe({
        "whoami",
        "read", a_overlay,
        "read", h.home() + "/bulwark.db",
        "read", h.home() + "/keys/host.key",
        "read", "/proc/" + std::to_string(a_qemu) + "/environ",
        "read", "/proc/1/environ",
        "read", "/etc/shadow",
        "kill", std::to_string(a_supervisor),
        "kill", std::to_string(a_qemu),
        "connect-tcp", "127.0.0.1", port,
        "connect-unix", h.home() + "/bulwarkd.sock",
        "connect-unix", h.home() + "/run/" + std::to_string(1) + "/qmp.sock",
        "write", "/disk/base.qcow2",
        "write", "/usr/lib/x86_64-linux-gnu/planted.so",
        "write", "/planted",
        "setuid0", "unshare-user", "mount",
        "read", "/disk/overlay.qcow2",  // its own overlay: the one thing it may use
        "list", "/",
    });
    ::close(listener);
    EXPECT_TRUE(run.report.empty()) << run.report;
    EXPECT_TRUE(run.status.success()) << run.status.describe() << "\n" << run.output;

    const Json* me = run.find("whoami");
    ASSERT_NE(me, nullptr) << run.output;
    EXPECT_EQ(json_int_or(*me, "uid", 0), probe_jail.spec.uid);
    EXPECT_EQ(json_int_or(*me, "euid", 0), probe_jail.spec.uid);
    EXPECT_EQ(json_int_or(*me, "suid", 0), probe_jail.spec.uid);
    EXPECT_EQ(json_int_or(*me, "groups", -1), 0);
    EXPECT_EQ(json_int_or(*me, "cap_eff", -1), 0);
    EXPECT_EQ(json_int_or(*me, "cap_prm", -1), 0);
    EXPECT_EQ(json_int_or(*me, "cap_bounding", -1), 0);
    EXPECT_EQ(json_int_or(*me, "no_new_privs", 0), 1);
    EXPECT_EQ(json_int_or(*me, "seccomp", 0), 2);
    EXPECT_EQ(json_int_or(*me, "pid", 0), 1) << "the jailed program is pid 1 of its own pid namespace";

    EXPECT_DENIED(run, "read", a_overlay);
    EXPECT_DENIED(run, "read", h.home() + "/bulwark.db");
    EXPECT_DENIED(run, "read", h.home() + "/keys/host.key");
    EXPECT_DENIED(run, "read", "/proc/" + std::to_string(a_qemu) + "/environ");
    EXPECT_DENIED(run, "read", "/proc/1/environ");
    EXPECT_DENIED(run, "read", "/etc/shadow");
    EXPECT_DENIED(run, "kill", std::to_string(a_supervisor));
    EXPECT_DENIED(run, "kill", std::to_string(a_qemu));
    EXPECT_DENIED(run, "connect-tcp", "127.0.0.1:" + port);
    EXPECT_DENIED(run, "connect-unix", h.home() + "/bulwarkd.sock");
    EXPECT_DENIED(run, "connect-unix", h.home() + "/run/1/qmp.sock");
    EXPECT_DENIED(run, "write", "/disk/base.qcow2");
    EXPECT_DENIED(run, "write", "/usr/lib/x86_64-linux-gnu/planted.so");
    EXPECT_DENIED(run, "write", "/planted");
    EXPECT_DENIED(run, "setuid0", "");
    EXPECT_DENIED(run, "unshare-user", "");
    EXPECT_DENIED(run, "mount", "/run");
    const Json* own = run.find("read", "/disk/overlay.qcow2");
    ASSERT_NE(own, nullptr);
    EXPECT_TRUE(json_bool_or(*own, "ok", false)) << "the guest's own overlay must stay usable";

    // Everything the jail shows, outside the system libraries, is on this list.
    const Json* listing = run.find("list", "/");
    ASSERT_NE(listing, nullptr);
    std::set<std::string> allowed_top {"/usr", "/lib", "/lib64", "/etc", "/dev", "/disk", "/boot", "/log", "/run", "/probe"};
    std::set<std::string> allowed {"/etc/ld.so.cache", "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
        "/disk/base.qcow2", "/disk/overlay.qcow2", "/boot/kernel", "/boot/initrd", "/log/console.log", "/usr/bin",
        "/usr/lib", "/usr/share", "/usr/bin/qemu-system-x86_64", "/usr/lib/x86_64-linux-gnu", "/usr/lib64",
        "/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe", "/usr/lib/ipxe/qemu"};
    for (const auto& e : (*listing)["entries"]) {
        std::string path = e.get<std::string>();
        if (path.rfind("/usr/lib/x86_64-linux-gnu/", 0) == 0 || path.rfind("/usr/share/", 0) == 0 || path.rfind("/usr/lib64/", 0) == 0
            || path.rfind("/usr/lib/ipxe/qemu/", 0) == 0)
            continue;
        bool top = std::count(path.begin(), path.end(), '/') == 1;
        EXPECT_TRUE(top ? allowed_top.count(path) : allowed.count(path)) << "the jail shows " << path;
    }

    // The other guest is untouched.
    EXPECT_EQ(h.guest_sh("a", "echo alive").output, "alive\n");
}

TEST_F(Jail, LimitsHoldMemoryAndProcesses)
{
    auto run = run_probe({"alloc", std::to_string(k_probe_memory_mib * 4), "fork-max", "200"});
    EXPECT_TRUE(run.report.empty()) << run.report;
    const Json* alloc = run.find("alloc");
    ASSERT_NE(alloc, nullptr) << run.output;
    EXPECT_FALSE(json_bool_or(*alloc, "ok", true)) << "a child allocated 4x the memory limit";
    EXPECT_EQ(json_int_or(*alloc, "signal", 0), SIGKILL) << "the memory cgroup's OOM killer ends it";
    auto layout = jail::detect_cgroups();
    ASSERT_TRUE(layout.is_ok());
    EXPECT_GT(jail::cgroup_oom_kills(layout.value(), probe_jail.spec.cgroup), 0u);

    const Json* forks = run.find("fork-max");
    ASSERT_NE(forks, nullptr) << run.output;
    EXPECT_FALSE(json_bool_or(*forks, "ok", true));
    // The supervisor and the probe count too.
    EXPECT_LE(json_int_or(*forks, "forked", 999), static_cast<int64_t>(k_probe_pids) - 2);
    EXPECT_EQ(json_string_or(*forks, "error", ""), std::string(strerror(EAGAIN)));
}

TEST_F(Jail, SetuidBinaryGivesNothingBack)
{
    // A setuid-root copy of the probe, made visible in the jail.
    std::string suid = h.dir() + "/suid-probe";
    ASSERT_TRUE(run({"cp", BULWARK_JAIL_PROBE, suid}).code == 0);
    ASSERT_EQ(::chown(suid.c_str(), 0, 0), 0);
    ASSERT_EQ(::chmod(suid.c_str(), 04755), 0);
    jail::BindMount m;
    m.source = suid;
    m.target = "/suid-probe";
    m.exec = true;
    probe_jail.spec.mounts.push_back(m);
    auto run = run_probe({"exec", "/suid-probe"});
    const Json* me = run.find("whoami");
    ASSERT_NE(me, nullptr) << run.output;
    EXPECT_EQ(json_int_or(*me, "euid", 0), probe_jail.spec.uid);
    EXPECT_EQ(json_int_or(*me, "cap_eff", -1), 0);
}

// The one documented exception (background snapshots need userfaultfd): exactly
// CAP_SYS_PTRACE is kept, and in a pid namespace of one process it reaches nobody else.
TEST_F(Jail, SnapshotExceptionKeepsOnlySysPtrace)
{
    h.boot_guest("a");
    pid_t a_qemu = qemu_of("a");
    probe_jail.spec.keep_sys_ptrace = true;
    auto run = run_probe({"whoami", "kill", std::to_string(a_qemu), "read", "/proc/" + std::to_string(a_qemu) + "/mem",
        "unshare-user", "setuid0"});
    EXPECT_TRUE(run.report.empty()) << run.report;
    const Json* me = run.find("whoami");
    ASSERT_NE(me, nullptr) << run.output;
    EXPECT_EQ(json_int_or(*me, "cap_eff", -1), int64_t {1} << 19) << "CAP_SYS_PTRACE and nothing else";
    EXPECT_EQ(json_int_or(*me, "cap_bounding", -1), 1);
    EXPECT_EQ(json_int_or(*me, "euid", 0), probe_jail.spec.uid);
    EXPECT_DENIED(run, "kill", std::to_string(a_qemu));
    EXPECT_DENIED(run, "read", "/proc/" + std::to_string(a_qemu) + "/mem");
    EXPECT_DENIED(run, "unshare-user", "");
    EXPECT_DENIED(run, "setuid0", "");
}

TEST_F(Jail, FailedStepIsNamedAndLeavesNothing)
{
    probe_jail.spec.mounts.push_back({h.dir() + "/does-not-exist", "/missing", false, false, false});
    auto run = run_probe({"whoami"});
    EXPECT_NE(run.report.find("mount /missing: cannot open"), std::string::npos) << run.report;
    EXPECT_FALSE(run.status.success());
    EXPECT_EQ(run.find("whoami"), nullptr) << "the program must not run in a half-built jail";
    // The jail's mounts died with its mount namespace: the host directory is still empty.
    EXPECT_TRUE(sys::list_dir(probe_jail.spec.root).empty());

    // A failed step in bulwarkd's own start: QEMU that cannot run in the jail (a script whose
    // interpreter the jail does not have). The start fails naming the step, and nothing of
    // the guest is left: no process, no cgroup, no jail directory.
    std::string fake = h.dir() + "/fake-qemu";
    {
        std::ofstream f(fake);
        f << "#!/bin/sh\nexit 0\n";
    }
    ::chmod(fake.c_str(), 0755);
    h.stop_daemon();
    h.start_daemon({{"BULWARK_QEMU", fake}});
    ASSERT_EQ(h.cli({"vm", "create", "b", "--image", "demo"}).code, 0);
    auto r = h.cli({"vm", "start", "b"});
    EXPECT_EQ(r.code, 6) << r.output;
    EXPECT_NE(r.output.find("the jail could not be built: exec: cannot run"), std::string::npos) << r.output;
    EXPECT_EQ(h.vm_state("b"), "stopped");
    auto layout = jail::detect_cgroups();
    ASSERT_TRUE(layout.is_ok());
    EXPECT_FALSE(jail::cgroup_exists(layout.value(), jail::guest_cgroup(h.home(), 1)));
    EXPECT_FALSE(sys::exists(jail::guest_jail_root(h.home(), 1)));
    EXPECT_EQ(h.qemu_count("b"), 0);
}

TEST_F(Jail, RealGuestRunsBoxed)
{
    h.boot_guest("g1", {"--cpus", "1"});
    auto show = h.cli_json({"vm", "show", "g1"});
    ASSERT_TRUE(show["jail"].is_object()) << show.dump();
    auto uid = static_cast<uid_t>(show["jail"]["uid"].get<int64_t>());
    std::string cgroup = show["jail"]["cgroup"].get<std::string>();
    pid_t qemu = qemu_of("g1");
    ASSERT_GT(qemu, 0);
    auto status = read_or_empty("/proc/" + std::to_string(qemu) + "/status");
    auto field = [&](const std::string& name) {
        size_t p = status.find("\n" + name + ":");
        if (p == std::string::npos)
            return std::string();
        size_t start = status.find_first_not_of(" \t", p + name.size() + 2);
        return status.substr(start, status.find('\n', start) - start);
    };
    std::string u = std::to_string(uid);
    EXPECT_EQ(field("Uid"), u + "\t" + u + "\t" + u + "\t" + u);
    EXPECT_EQ(field("Gid"), u + "\t" + u + "\t" + u + "\t" + u);
    EXPECT_EQ(field("CapEff"), "0000000000000000");
    EXPECT_EQ(field("CapPrm"), "0000000000000000");
    EXPECT_EQ(field("CapBnd"), "0000000000000000");
    EXPECT_EQ(field("NoNewPrivs"), "1");
    EXPECT_EQ(field("Seccomp"), "2");
    // Own namespaces, every one.
    for (const char* ns : {"mnt", "pid", "net", "ipc", "uts", "cgroup"}) {
        auto theirs = link_target("/proc/" + std::to_string(qemu) + "/ns/" + ns);
        auto ours = link_target(std::string("/proc/self/ns/") + ns);
        ASSERT_FALSE(theirs.empty() || ours.empty());
        EXPECT_NE(theirs, ours) << ns;
    }
    // QEMU's mount table names nothing of bulwarkd's but this guest's own files.
    auto mounts = read_or_empty("/proc/" + std::to_string(qemu) + "/mountinfo");
    EXPECT_EQ(mounts.find("bulwark.db"), std::string::npos);
    EXPECT_EQ(mounts.find("/keys"), std::string::npos);
    EXPECT_NE(mounts.find("/vms/g1/disk.qcow2 /disk/overlay.qcow2 rw,nosuid,nodev,noexec"), std::string::npos) << mounts;
    EXPECT_NE(mounts.find("/disk/base.qcow2 ro,"), std::string::npos) << mounts;
    // Its cgroup holds it, with the guest's limits.
    auto layout = jail::detect_cgroups();
    ASSERT_TRUE(layout.is_ok());
    auto procs = jail::cgroup_processes(layout.value(), cgroup);
    EXPECT_NE(std::find(procs.begin(), procs.end(), qemu), procs.end());
    // Files: the overlay, console and sockets are the guest's alone; the base is shared, read-only.
    struct stat st {};
    ASSERT_EQ(::stat((h.home() + "/vms/g1/disk.qcow2").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, uid);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_EQ(::stat((h.home() + "/run/1").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, uid);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    ASSERT_EQ(::stat((h.home() + "/run/1/qmp.sock").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0077, 0u) << "QEMU's sockets are its own";

    // It snapshots and reverts inside the jail, and shuts down cleanly.
    ASSERT_EQ(h.cli({"snapshot", "create", "g1", "s1"}).code, 0);
    ASSERT_EQ(h.guest_sh("g1", "echo after > /root/mark; sync").code, 0);
    auto r = h.cli({"snapshot", "revert", "g1", "s1"});
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(h.guest_sh("g1", "cat /root/mark 2>/dev/null || echo none").output, "none\n");
    r = h.cli({"vm", "stop", "g1", "--timeout", "60"});
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("shut down cleanly"), std::string::npos) << r.output;
    // Nothing is left: cgroup and jail directory are gone with the guest.
    EXPECT_FALSE(jail::cgroup_exists(layout.value(), cgroup));
    EXPECT_FALSE(sys::exists(h.home() + "/jail/1"));
    EXPECT_EQ(h.qemu_count("g1"), 0);
}

// The switch worker parses every guest frame: it runs boxed like a guest's QEMU, as its own
// uid (just below the guests' range), with nothing of bulwarkd's in its mount table.
TEST_F(Jail, SwitchWorkerRunsBoxed)
{
    std::string policy = h.dir() + "/p.toml";
    ASSERT_TRUE(sys::write_file_atomic(policy, "[[allow]]\nfrom = {}\nto = {}\nproto = \"icmp\"\n", 0600).is_ok());
    auto r = h.cli({"net", "policy", "apply", policy});
    ASSERT_EQ(r.code, 0) << r.output;
    auto status = h.cli_json({"net", "status"});
    pid_t supervisor = status["worker"]["pid"].get<pid_t>();
    ASSERT_GT(supervisor, 0);
    auto kids = read_or_empty("/proc/" + std::to_string(supervisor) + "/task/" + std::to_string(supervisor) + "/children");
    pid_t worker = static_cast<pid_t>(std::atoi(kids.c_str()));
    ASSERT_GT(worker, 0) << "the jailer's supervisor has no child";
    EXPECT_NE(read_or_empty("/proc/" + std::to_string(worker) + "/cmdline").find("bulwark-switch"), std::string::npos);
    auto proc = read_or_empty("/proc/" + std::to_string(worker) + "/status");
    auto field = [&](const std::string& name) {
        size_t p = proc.find("\n" + name + ":");
        if (p == std::string::npos)
            return std::string();
        size_t start = proc.find_first_not_of(" \t", p + name.size() + 2);
        return proc.substr(start, proc.find('\n', start) - start);
    };
    std::string u = std::to_string(jail::k_default_uid_base - 1);
    EXPECT_EQ(field("Uid"), u + "\t" + u + "\t" + u + "\t" + u);
    EXPECT_EQ(field("CapEff"), "0000000000000000");
    EXPECT_EQ(field("CapBnd"), "0000000000000000");
    EXPECT_EQ(field("NoNewPrivs"), "1");
    EXPECT_EQ(field("Seccomp"), "2");
    for (const char* ns : {"mnt", "pid", "net", "ipc", "uts", "cgroup"}) {
        auto theirs = link_target("/proc/" + std::to_string(worker) + "/ns/" + ns);
        auto ours = link_target(std::string("/proc/self/ns/") + ns);
        ASSERT_FALSE(theirs.empty() || ours.empty());
        EXPECT_NE(theirs, ours) << ns;
    }
    auto mounts = read_or_empty("/proc/" + std::to_string(worker) + "/mountinfo");
    EXPECT_EQ(mounts.find("bulwark.db"), std::string::npos);
    EXPECT_EQ(mounts.find("/keys"), std::string::npos);
    EXPECT_EQ(mounts.find(h.home() + "/vms"), std::string::npos);
    EXPECT_EQ(mounts.find(h.home() + "/run"), std::string::npos) << "the worker must get guest sockets as fds, not by path";
}

}  // namespace
}  // namespace bulwark::test
