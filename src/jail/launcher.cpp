#include "jail/launcher.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "base/result.h"
#include "jail/cgroup.h"
#include "jail/seccomp.h"

namespace bulwark::jail {

namespace {

// The jailer is single-threaded, so plain C++ is safe on both sides of its fork. Exits use
// _exit: no atexit handlers (nor a sanitizer's leak check) run in a half-built jail.
int g_status_fd = -1;

void report(const std::string& line)
{
    std::string msg = line + "\n";
    if (g_status_fd >= 0)
        (void)!::write(g_status_fd, msg.data(), msg.size());
    std::string err = "bulwark-jailer: " + msg;
    (void)!::write(STDERR_FILENO, err.data(), err.size());
}

pid_t g_kill_on_failure = -1;

[[noreturn]] void fail(const std::string& step, const std::string& message)
{
    if (g_kill_on_failure > 0)
        ::kill(g_kill_on_failure, SIGKILL);
    report(step + ": " + message);
    ::_exit(k_jail_failed);
}

[[noreturn]] void fail_errno(const std::string& step, const std::string& what)
{
    fail(step, what + ": " + errno_message(errno));
}

void step_fds(const JailSpec& spec)
{
    std::set<int> keep(spec.keep_fds.begin(), spec.keep_fds.end());
    if (spec.status_fd >= 0)
        keep.insert(spec.status_fd);
    for (int fd : keep) {
        if (::fcntl(fd, F_GETFD) < 0)
            fail("fds", "fd " + std::to_string(fd) + " was to be handed over but is not open");
    }
    // Close every gap between the fds that are kept.
    unsigned from = 3;
    for (int fd : keep) {
        if (static_cast<unsigned>(fd) > from && ::syscall(SYS_close_range, from, static_cast<unsigned>(fd) - 1, 0) < 0)
            fail_errno("fds", "close_range");
        from = static_cast<unsigned>(fd) + 1;
    }
    if (::syscall(SYS_close_range, from, ~0U, 0) < 0)
        fail_errno("fds", "close_range");
    // The status fd closes at exec: its EOF tells bulwarkd that every step succeeded.
    if (spec.status_fd >= 0 && ::fcntl(spec.status_fd, F_SETFD, FD_CLOEXEC) < 0)
        fail_errno("fds", "status fd");
    for (int fd : spec.keep_fds) {
        if (::fcntl(fd, F_SETFD, 0) < 0)
            fail_errno("fds", "fd " + std::to_string(fd));
    }
}

// Creates the mountpoint for a bind of a file or directory at path (inside the new root).
void make_parents(const std::string& path)
{
    for (size_t pos = 1; (pos = path.find('/', pos)) != std::string::npos; ++pos) {
        std::string dir = path.substr(0, pos);
        if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST)
            fail_errno("mounts", "mkdir " + dir);
    }
}

// A device node of the host, made anew inside the jail's tmpfs: the same device number, but
// a private inode. Devices the host lets everyone use (null, zero, urandom...) stay 0666 and
// root's; the others (kvm) go to the guest's uid alone, without touching the host's node.
void make_device(const JailSpec& spec, const BindMount& m)
{
    const std::string step = "device " + m.target;
    struct stat st {};
    if (::stat(m.source.c_str(), &st) < 0)
        fail_errno(step, "stat " + m.source);
    if (!S_ISCHR(st.st_mode))
        fail(step, m.source + " is not a character device");
    std::string target = spec.root + m.target;
    make_parents(target);
    bool everyone = (st.st_mode & 0006) == 0006;
    mode_t mode = everyone ? 0666 : 0600;
    if (::mknod(target.c_str(), S_IFCHR | mode, st.st_rdev) < 0)
        fail_errno(step, "mknod");
    if (::chmod(target.c_str(), mode) < 0)
        fail_errno(step, "chmod");
    if (!everyone && ::chown(target.c_str(), spec.uid, spec.gid) < 0)
        fail_errno(step, "chown");
}

void bind_one(const std::string& root, const BindMount& m)
{
    const std::string step = "mount " + m.target;
    // The source is opened without following a final symlink, and the bind is made through
    // the open fd: what is checked is exactly what is mounted.
    int src = ::open(m.source.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (src < 0)
        fail_errno(step, "cannot open " + m.source);
    struct stat st {};
    if (::fstat(src, &st) < 0)
        fail_errno(step, "stat " + m.source);
    bool is_dir = S_ISDIR(st.st_mode);
    if (!(S_ISREG(st.st_mode) || is_dir))
        fail(step, m.source + " is not a regular file or directory");
    std::string target = root + m.target;
    make_parents(target);
    if (is_dir) {
        if (::mkdir(target.c_str(), 0755) < 0)
            fail_errno(step, "mkdir");
    } else {
        int t = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (t < 0)
            fail_errno(step, "create mountpoint");
        ::close(t);
    }
    std::string via = "/proc/self/fd/" + std::to_string(src);
    if (::mount(via.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) < 0)
        fail_errno(step, "bind " + m.source);
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV;
    if (!m.exec)
        flags |= MS_NOEXEC;
    if (!m.writable)
        flags |= MS_RDONLY;
    if (::mount(nullptr, target.c_str(), nullptr, flags, nullptr) < 0)
        fail_errno(step, "remount with nosuid,nodev,noexec,ro as asked");
    ::close(src);
}

void build_root(const JailSpec& spec)
{
    // Not nodev: the jail's few device nodes live on this tmpfs. Nobody can add one later
    // (the root is remounted read-only, and QEMU has no CAP_MKNOD).
    if (::mount("bulwark-jail", spec.root.c_str(), "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=256k,nr_inodes=1024") < 0)
        fail_errno("root", "mount a tmpfs on " + spec.root);
    for (const auto& m : spec.mounts) {
        if (m.device)
            make_device(spec, m);
        else
            bind_one(spec.root, m);
    }
    if (spec.mount_proc) {
        std::string proc = spec.root + "/proc";
        if (::mkdir(proc.c_str(), 0555) < 0)
            fail_errno("proc", "mkdir /proc");
        // This process is pid 1 of the jail's PID namespace: the procfs shows the jail only.
        if (::mount("proc", proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "subset=pid,hidepid=invisible") < 0)
            fail_errno("proc", "mount proc");
    }
    for (const auto& s : spec.symlinks) {
        std::string link = spec.root + s.link;
        make_parents(link);
        if (::symlink(s.target.c_str(), link.c_str()) < 0)
            fail_errno("symlinks", "symlink " + s.link);
    }
    // The root itself becomes read-only: the only writable places are the guest's own binds.
    if (::mount(nullptr, spec.root.c_str(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, nullptr) < 0)
        fail_errno("root", "remount read-only");
    if (::chdir(spec.root.c_str()) < 0)
        fail_errno("pivot_root", "chdir");
    // pivot_root(".", "."): the old root is stacked under the new one, then detached.
    if (::syscall(SYS_pivot_root, ".", ".") < 0)
        fail_errno("pivot_root", "pivot_root");
    if (::umount2(".", MNT_DETACH) < 0)
        fail_errno("pivot_root", "detach the old root");
    if (::chdir("/") < 0)
        fail_errno("pivot_root", "chdir /");
}

void step_rlimits()
{
    // No core dumps: a dump of QEMU is a dump of the guest's memory.
    struct rlimit none {0, 0};
    if (::setrlimit(RLIMIT_CORE, &none) < 0)
        fail_errno("rlimits", "RLIMIT_CORE");
}

void capset_to(uint64_t caps)
{
    __user_cap_header_struct header {_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] {};
    for (int i = 0; i < 2; ++i) {
        auto word = static_cast<uint32_t>(caps >> (32 * i));
        data[i].effective = word;
        data[i].permitted = word;
        data[i].inheritable = word;
    }
    if (::syscall(SYS_capset, &header, data) < 0)
        fail_errno("capabilities", "capset");
}

void step_identity(const JailSpec& spec)
{
    const uint64_t kept = spec.keep_sys_ptrace ? (1ULL << CAP_SYS_PTRACE) : 0;
    // The bounding set limits what any later exec could ever gain.
    for (int cap = 0; cap <= 63; ++cap) {
        if (kept & (1ULL << cap))
            continue;
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            fail_errno("capabilities", "drop capability " + std::to_string(cap) + " from the bounding set");
    }
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        fail_errno("capabilities", "clear ambient capabilities");
    if (kept && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        fail_errno("capabilities", "keep capabilities across setuid");
    if (::setgroups(0, nullptr) < 0)
        fail_errno("uid", "setgroups");
    if (::setresgid(spec.gid, spec.gid, spec.gid) < 0)
        fail_errno("uid", "setresgid");
    if (::setresuid(spec.uid, spec.uid, spec.uid) < 0)
        fail_errno("uid", "setresuid");
    uid_t r, e, s;
    if (::getresuid(&r, &e, &s) < 0 || r != spec.uid || e != spec.uid || s != spec.uid)
        fail("uid", "the uid did not change");
    // Leaves no capability at all, or exactly CAP_SYS_PTRACE, which then survives exec as an
    // ambient capability.
    capset_to(kept);
    if (kept) {
        if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
            fail_errno("capabilities", "reset keepcaps");
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_PTRACE, 0, 0) < 0)
            fail_errno("capabilities", "raise CAP_SYS_PTRACE as ambient");
    }
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        fail_errno("no_new_privs", "prctl");
}

pid_t g_child = -1;

void forward_signal(int sig)
{
    if (g_child > 0)
        ::kill(g_child, sig);
}

// The parent after the fork: it holds nothing and does nothing but wait for the jailed
// program and pass its exit status on to bulwarkd. It drops to the guest's uid, loses every
// capability and gets the same seccomp filter; it is outside the guest's pid namespace, so
// the guest cannot even name it.
[[noreturn]] void supervise(const JailSpec& spec, pid_t child)
{
    g_child = child;
    g_kill_on_failure = child;
    if (spec.status_fd >= 0)
        ::close(spec.status_fd);
    g_status_fd = -1;
    for (int fd : spec.keep_fds)
        ::close(fd);
    struct sigaction sa {};
    sa.sa_handler = forward_signal;
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2})
        ::sigaction(sig, &sa, nullptr);
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    JailSpec unprivileged = spec;
    unprivileged.keep_sys_ptrace = false;
    step_identity(unprivileged);
    if (auto r = install_seccomp_filter({}); r.is_error())
        fail("supervisor seccomp", r.error().message());
    int status = 0;
    while (::waitpid(child, &status, 0) < 0) {
        if (errno != EINTR)
            ::_exit(k_jail_failed);
    }
    if (WIFEXITED(status))
        ::_exit(WEXITSTATUS(status));
    int sig = WTERMSIG(status);
    // Die the same way, so bulwarkd's exit record says what happened to QEMU.
    ::signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
    ::kill(::getpid(), sig);
    ::_exit(128 + sig);
}

}  // namespace

void run_jailer(const JailSpec& spec)
{
    g_status_fd = spec.status_fd;
    // The jail's own directories are created 0755 (root-owned, read-only once the root is
    // remounted), whatever umask bulwarkd had.
    ::umask(022);
    step_fds(spec);
    if (::clearenv() != 0)
        fail("environment", "clearenv failed");
    if (::geteuid() != 0)
        fail("privileges", "the jailer must start as root (it drops to uid " + std::to_string(spec.uid) + ")");

    auto layout = detect_cgroups();
    if (layout.is_error())
        fail("cgroup", layout.error().message());
    if (auto r = cgroup_create(layout.value(), spec.cgroup, spec.limits); r.is_error())
        fail("cgroup", r.error().message());
    // Until the fork, a failed step undoes the cgroup itself.
    auto fail_in_cgroup = [&](const std::string& step, const std::string& message) {
        (void)cgroup_leave(layout.value(), ::getpid());
        (void)cgroup_destroy(layout.value(), spec.cgroup);
        fail(step, message);
    };
    if (auto r = cgroup_join(layout.value(), spec.cgroup, ::getpid()); r.is_error())
        fail_in_cgroup("cgroup", r.error().message());

    if (::unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP) < 0)
        fail_in_cgroup("namespaces", std::string("unshare: ") + errno_message(errno));
    // Nothing mounted in the jail propagates back to the host, or from it.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
        fail_in_cgroup("namespaces", std::string("make / private: ") + errno_message(errno));

    pid_t child = ::fork();
    if (child < 0)
        fail_in_cgroup("fork", errno_message(errno));
    if (child > 0)
        supervise(spec, child);

    // The child: pid 1 of a new pid namespace, alone in new mount, network, IPC, UTS and
    // cgroup namespaces, still root.
    if (::sethostname(spec.name.data(), spec.name.size()) < 0)
        fail_errno("hostname", "sethostname");
    build_root(spec);
    step_rlimits();
    step_identity(spec);
    // Set after the uid change (which clears it): if the supervisor dies, so does QEMU.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        fail_errno("parent-death signal", "prctl");
    ::umask(077);
    if (auto r = install_seccomp_filter({.allow_userfaultfd = spec.keep_sys_ptrace}); r.is_error())
        fail("seccomp", r.error().message());

    std::vector<char*> argv;
    for (const auto& a : spec.argv)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    char* envp[] = {nullptr};
    ::execve(argv[0], argv.data(), envp);
    fail_errno("exec", "cannot run " + spec.argv[0]);
}

std::string read_status(int fd, std::chrono::milliseconds timeout)
{
    std::string report;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return report.empty() ? "the jailer did not finish within " + std::to_string(timeout.count()) + " ms" : report;
        struct pollfd pfd {fd, POLLIN, 0};
        int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        char buf[512];
        ssize_t got = ::read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        report.append(buf, static_cast<size_t>(got));
        if (report.size() > 4096)
            break;
    }
    while (!report.empty() && report.back() == '\n')
        report.pop_back();
    return report;
}

}  // namespace bulwark::jail
