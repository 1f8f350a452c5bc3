#include <gtest/gtest.h>
#include <unistd.h>

#include "base/process.h"
#include "jail/cgroup.h"
#include "jail/guest_jail.h"
#include "jail/jail_spec.h"
#include "jail/seccomp.h"

namespace bulwark::jail {
namespace {

using namespace std::chrono_literals;

JailSpec good_spec()
{
    JailSpec s;
    s.name = "web1";
    s.uid = s.gid = 2000000007;
    s.root = "/var/lib/bulwark/jail/7";
    s.cgroup = "bulwark/0123456789ab/vm-7";
    s.limits = {512ULL << 20, 100, 256};
    s.mounts = {{"/usr/bin/qemu-system-x86_64", "/usr/bin/qemu-system-x86_64", false, false, true},
        {"/var/lib/bulwark/vms/web1/disk.qcow2", "/disk/overlay.qcow2", true, false, false},
        {"/dev/urandom", "/dev/urandom", false, true, false}};
    s.symlinks = {{"/lib64", "usr/lib64"}};
    s.status_fd = 5;
    s.keep_fds = {7};
    s.argv = {"/usr/bin/qemu-system-x86_64", "-name", "guest=web1", "--", "-x"};
    return s;
}

TEST(JailSpec, RoundTripsThroughTheJailersCommandLine)
{
    JailSpec s = good_spec();
    s.keep_sys_ptrace = true;
    s.mount_proc = true;
    ASSERT_TRUE(validate(s).is_ok());
    auto args = to_jailer_args(s);
    auto back = parse_jailer_args(args);
    ASSERT_TRUE(back.is_ok()) << back.error().message();
    const JailSpec& b = back.value();
    EXPECT_EQ(b.name, s.name);
    EXPECT_EQ(b.uid, s.uid);
    EXPECT_EQ(b.root, s.root);
    EXPECT_EQ(b.cgroup, s.cgroup);
    EXPECT_EQ(b.limits.memory_bytes, s.limits.memory_bytes);
    EXPECT_EQ(b.limits.cpu_percent, s.limits.cpu_percent);
    EXPECT_EQ(b.limits.pids_max, s.limits.pids_max);
    ASSERT_EQ(b.mounts.size(), 3u);
    EXPECT_TRUE(b.mounts[0].exec && !b.mounts[0].writable);
    EXPECT_TRUE(b.mounts[1].writable && !b.mounts[1].exec);
    EXPECT_TRUE(b.mounts[2].device);
    EXPECT_EQ(b.symlinks[0].target, "usr/lib64");
    EXPECT_EQ(b.status_fd, 5);
    EXPECT_EQ(b.keep_fds, std::vector<int> {7});
    EXPECT_TRUE(b.keep_sys_ptrace);
    EXPECT_TRUE(b.mount_proc);
    // Everything after the first "--" is the program's, even another "--".
    EXPECT_EQ(b.argv, s.argv);
}

TEST(JailSpec, RefusesWhatWouldWeakenTheBox)
{
    auto refused = [](auto mutate, const char* why) {
        JailSpec s = good_spec();
        mutate(s);
        auto r = validate(s);
        EXPECT_TRUE(r.is_error()) << why;
        if (r.is_error())
            EXPECT_EQ(r.error().kind(), ErrorKind::InvalidArgument) << why;
    };
    refused([](JailSpec& s) { s.uid = 0; }, "root");
    refused([](JailSpec& s) { s.gid = 999; }, "a system gid");
    refused([](JailSpec& s) { s.root = "/"; }, "the host's root as the jail");
    refused([](JailSpec& s) { s.root = "relative/dir"; }, "relative root");
    refused([](JailSpec& s) { s.root = "/var/lib/../../etc"; }, "dot-dot in root");
    refused([](JailSpec& s) { s.cgroup = "../../system.slice"; }, "cgroup escaping its parent");
    refused([](JailSpec& s) { s.cgroup = "/bulwark/x"; }, "absolute cgroup");
    refused([](JailSpec& s) { s.limits.memory_bytes = 1 << 20; }, "memory limit too small to be real");
    refused([](JailSpec& s) { s.limits.pids_max = 0; }, "no pids limit");
    refused([](JailSpec& s) { s.limits.cpu_percent = 0; }, "no cpu limit");
    refused([](JailSpec& s) { s.mounts[1].target = "/"; }, "a bind over the jail's root");
    refused([](JailSpec& s) { s.mounts[1].target = "/disk/../etc"; }, "dot-dot in a target");
    refused([](JailSpec& s) { s.mounts[1].source = "disk.qcow2"; }, "relative source");
    refused([](JailSpec& s) { s.mounts[1].exec = true; }, "writable and executable");
    refused([](JailSpec& s) { s.mounts[2].writable = true; }, "a writable device");
    refused([](JailSpec& s) { s.mounts.push_back({"/etc", "/disk", false, false, false}); }, "a bind that hides another");
    refused([](JailSpec& s) { s.mounts.push_back({"/etc", "/disk/overlay.qcow2", false, false, false}); }, "a target used twice");
    refused([](JailSpec& s) { s.symlinks.push_back({"/disk/overlay.qcow2/x", "/etc"}); }, "a symlink inside a bind");
    refused([](JailSpec& s) { s.status_fd = 1; }, "stdout as the status fd");
    refused([](JailSpec& s) { s.keep_fds = {2}; }, "stderr as a kept fd");
    refused([](JailSpec& s) { s.argv.clear(); }, "no program");
    refused([](JailSpec& s) { s.argv[0] = "qemu"; }, "a program looked up on PATH");
    refused([](JailSpec& s) { s.mounts[0].source = "/usr/bin/qemu,evil"; }, "a comma in a path");
    refused([](JailSpec& s) { s.name = "../x"; }, "a bad name");
    refused([](JailSpec& s) {
        s.mount_proc = true;
        s.mounts.push_back({"/etc", "/proc/sys", false, false, false});
    }, "a bind into the jail's /proc");
}

TEST(JailSpec, ParserIsStrict)
{
    auto args = to_jailer_args(good_spec());
    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> a = extra;
        a.insert(a.end(), args.begin(), args.end());
        return parse_jailer_args(a);
    };
    EXPECT_TRUE(with({"--uid", "2000000008"}).is_error()) << "repeated scalar";
    EXPECT_TRUE(with({"--frobnicate"}).is_error()) << "unknown option";
    EXPECT_TRUE(with({"--bind-ro", "/etc"}).is_error()) << "missing target";
    std::vector<std::string> bad = args;
    for (size_t i = 0; i + 1 < bad.size(); ++i) {
        if (bad[i] == "--memory")
            bad[i + 1] = "512M";
    }
    EXPECT_TRUE(parse_jailer_args(bad).is_error()) << "trailing garbage in a number";
    EXPECT_TRUE(parse_jailer_args(std::vector<std::string> {}).is_error());
}

TEST(JailSpec, GuestJailRewritesEveryPathIntoTheJail)
{
    GuestJailConfig config;
    config.home = "/var/lib/bulwark";
    QemuLaunchSpec host;
    host.qemu_binary = "/bin/true";  // any real binary
    host.name = "web1";
    host.cpus = 2;
    host.memory_mib = 512;
    host.base_disk = "/var/lib/bulwark/images/blobs/aa";
    host.overlay = "/var/lib/bulwark/vms/web1/disk.qcow2";
    host.kernel = "/var/lib/bulwark/images/blobs/bb";
    host.initrd = "/var/lib/bulwark/images/blobs/cc";
    host.console_log = "/var/lib/bulwark/vms/web1/console.log";
    host.qmp_socket = "/var/lib/bulwark/run/7/qmp.sock";
    host.agent_socket = "/var/lib/bulwark/run/7/qga.sock";
    auto jail = make_guest_jail(config, 7, host, "/var/lib/bulwark/run/7");
    ASSERT_TRUE(jail.is_ok()) << jail.error().message();
    EXPECT_EQ(jail.value().spec.uid, k_default_uid_base + 7);
    EXPECT_EQ(jail.value().spec.limits.cpu_percent, 300u) << "2 vCPUs and one core for QEMU's own threads";
    EXPECT_EQ(jail.value().spec.limits.memory_bytes, (512ULL + config.memory_overhead_mib) << 20);
    EXPECT_EQ(jail.value().spec.cgroup, cgroup_parent(config.home) + "/vm-7");
    auto argv = build_qemu_argv(jail.value().qemu);
    for (const auto& a : argv)
        EXPECT_EQ(a.find("/var/lib/bulwark"), std::string::npos) << "QEMU is given a host path: " << a;
    JailSpec spec = jail.value().spec;
    spec.argv = argv;
    spec.argv[0] = "/usr/bin/true";
    EXPECT_TRUE(validate(spec).is_ok()) << validate(spec).error().message();
    // Two daemons never share a cgroup parent.
    EXPECT_NE(cgroup_parent("/var/lib/bulwark"), cgroup_parent("/srv/bulwark"));
    // Ids beyond the uid range are refused, not wrapped.
    EXPECT_TRUE(make_guest_jail(config, int64_t {1} << 40, host, "/var/lib/bulwark/run/7").is_error());
}

TEST(JailSeccomp, DeniesTheWaysOut)
{
    auto names = denied_syscalls({});
    for (const char* must : {"unshare", "setns", "mount", "ptrace", "bpf", "userfaultfd", "init_module", "kexec_load", "keyctl"})
        EXPECT_NE(std::find(names.begin(), names.end(), must), names.end()) << must;
    // The background-snapshot exception lifts userfaultfd and nothing else.
    auto relaxed = denied_syscalls({.allow_userfaultfd = true});
    EXPECT_EQ(std::find(relaxed.begin(), relaxed.end(), "userfaultfd"), relaxed.end());
    EXPECT_EQ(relaxed.size() + 1, names.size());
}

// Real cgroups (needs root): limits are written, a process inside is found, and destroy
// kills it and removes the cgroup.
TEST(JailCgroup, CreateJoinDestroy)
{
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root";
    auto layout = detect_cgroups();
    ASSERT_TRUE(layout.is_ok()) << layout.error().message();
    std::string path = "bulwark/unit-" + std::to_string(::getpid()) + "/vm-1";
    ASSERT_TRUE(cgroup_create(layout.value(), path, {64ULL << 20, 50, 16}).is_ok());
    EXPECT_TRUE(cgroup_exists(layout.value(), path));
    SpawnOptions o;
    o.argv = {"sleep", "60"};
    o.env = minimal_env();
    auto child = Child::spawn(o);
    ASSERT_TRUE(child.is_ok());
    ASSERT_TRUE(cgroup_join(layout.value(), path, child.value().pid()).is_ok());
    auto procs = cgroup_processes(layout.value(), path);
    ASSERT_EQ(procs.size(), 1u);
    EXPECT_EQ(procs[0], child.value().pid());
    // A cgroup that still holds processes is not silently reused.
    EXPECT_EQ(cgroup_create(layout.value(), path, {64ULL << 20, 50, 16}).error().kind(), ErrorKind::Conflict);
    ASSERT_TRUE(cgroup_destroy(layout.value(), path).is_ok());
    auto status = child.value().wait(5s);
    ASSERT_TRUE(status.is_ok());
    EXPECT_EQ(status.value().signal, SIGKILL);
    EXPECT_FALSE(cgroup_exists(layout.value(), path));
    for (const auto& h : layout.value().hierarchies)
        ::rmdir((h + "/bulwark/unit-" + std::to_string(::getpid())).c_str());
    // Destroying what is not there is fine.
    EXPECT_TRUE(cgroup_destroy(layout.value(), path).is_ok());
}

}  // namespace
}  // namespace bulwark::jail
