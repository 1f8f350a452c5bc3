#include "base/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/close_range.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/system.h"

namespace bulwark {

std::string ExitStatus::describe() const
{
    if (exited)
        return "exited with code " + std::to_string(code);
    const char* abbrev = ::sigabbrev_np(signal);
    return "killed by signal " + std::to_string(signal) + (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
}

Result<Fd> pidfd_open(pid_t pid)
{
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0)
        return Error::from_errno("pidfd_open(" + std::to_string(pid) + ")", errno);
    return Fd(fd);
}

VoidResult pidfd_send_signal(int pidfd, int sig)
{
    if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) < 0) {
        if (errno == ESRCH)
            return {};
        return Error::from_errno("pidfd_send_signal", errno);
    }
    return {};
}

static ExitStatus from_siginfo(const siginfo_t& info)
{
    ExitStatus status;
    if (info.si_code == CLD_EXITED) {
        status.exited = true;
        status.code = info.si_status;
    } else {
        status.signal = info.si_status;
    }
    return status;
}

std::optional<ExitStatus> pidfd_try_reap(int pidfd)
{
    siginfo_t info {};
    if (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG) < 0)
        return std::nullopt;
    if (info.si_pid == 0)
        return std::nullopt;
    return from_siginfo(info);
}

std::optional<ExitStatus> pidfd_wait(int pidfd)
{
    siginfo_t info {};
    while (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED) < 0) {
        if (errno != EINTR)
            return std::nullopt;
    }
    return from_siginfo(info);
}

std::optional<uint64_t> process_start_time(pid_t pid)
{
    auto stat = sys::read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
    if (stat.is_error())
        return std::nullopt;
    const std::string& s = stat.value();
    // The command name (field 2) is in parentheses and may contain spaces: skip past the
    // last ')'.
    auto close = s.rfind(')');
    if (close == std::string::npos)
        return std::nullopt;
    size_t pos = close + 2;
    // Fields after ')' start at field 3; the start time is field 22.
    for (int field = 3; field < 22; ++field) {
        pos = s.find(' ', pos);
        if (pos == std::string::npos)
            return std::nullopt;
        ++pos;
    }
    try {
        return std::stoull(s.substr(pos, s.find(' ', pos) - pos));
    } catch (...) {
        return std::nullopt;
    }
}

std::map<std::string, std::string> minimal_env()
{
    return {{"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, {"LC_ALL", "C"}};
}

// Runs in the child between fork and exec: only async-signal-safe calls.
[[noreturn]] static void exec_child(const SpawnOptions& options, char* const* argv, char* const* envp,
    int out_fd, int null_fd)
{
    if (options.new_session)
        ::setsid();
    ::sigset_t all;
    ::sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int sig = 1; sig < NSIG; ++sig)
        ::signal(sig, SIG_DFL);

    ::dup2(null_fd, 0);
    ::dup2(out_fd >= 0 ? out_fd : null_fd, 1);
    ::dup2(options.stderr_to_stdout && out_fd >= 0 ? out_fd : null_fd, 2);

    // Every fd except stdio and the ones we hand over is closed on exec.
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    for (int fd : options.pass_fds) {
        int flags = ::fcntl(fd, F_GETFD);
        if (flags >= 0)
            ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }

    if (options.address_space_limit) {
        struct rlimit lim {*options.address_space_limit, *options.address_space_limit};
        ::setrlimit(RLIMIT_AS, &lim);
    }
    if (options.cpu_seconds_limit) {
        struct rlimit lim {*options.cpu_seconds_limit, *options.cpu_seconds_limit + 1};
        ::setrlimit(RLIMIT_CPU, &lim);
    }
    ::execve(argv[0], argv, envp);
    ::_exit(127);
}

Result<Child> Child::spawn(const SpawnOptions& options)
{
    if (options.argv.empty())
        return Error(ErrorKind::Internal, "spawn with an empty argv");
    std::string exe = TRY(sys::find_executable(options.argv[0]));

    std::vector<std::string> argv_storage = options.argv;
    argv_storage[0] = exe;
    std::vector<char*> argv;
    for (auto& a : argv_storage)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_storage;
    for (const auto& [k, v] : options.env)
        env_storage.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& e : env_storage)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    Fd null_fd = TRY(sys::open("/dev/null", O_RDWR));
    Fd out_fd;
    if (!options.stdout_path.empty())
        out_fd = TRY(sys::open(options.stdout_path, O_WRONLY | O_CREAT | O_APPEND, 0600));

    pid_t pid = ::fork();
    if (pid < 0)
        return Error::from_errno("fork", errno);
    if (pid == 0)
        exec_child(options, argv.data(), envp.data(), out_fd.get(), null_fd.get());

    auto pidfd = pidfd_open(pid);
    if (pidfd.is_error()) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return pidfd.release_error();
    }
    return Child(pid, pidfd.release_value());
}

Result<ExitStatus> Child::wait(std::optional<std::chrono::milliseconds> timeout)
{
    struct pollfd pfd {m_pidfd.get(), POLLIN, 0};
    int ms = timeout ? static_cast<int>(timeout->count()) : -1;
    for (;;) {
        int r = ::poll(&pfd, 1, ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return Error::from_errno("poll", errno);
        if (r == 0)
            return Error(ErrorKind::Timeout, "process " + std::to_string(m_pid) + " did not exit in time");
        break;
    }
    siginfo_t info {};
    if (::waitid(P_PIDFD, static_cast<id_t>(m_pidfd.get()), &info, WEXITED) < 0)
        return Error::from_errno("waitid", errno);
    return from_siginfo(info);
}

Result<RunOutput> run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
    size_t max_output, const std::vector<int>& pass_fds, const std::map<std::string, std::string>& env)
{
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) < 0)
        return Error::from_errno("pipe", errno);
    Fd read_end(pipefd[0]);
    Fd write_end(pipefd[1]);

    SpawnOptions options;
    options.argv = argv;
    options.env = env;
    options.pass_fds = pass_fds;
    // Its own session and so its own process group: a timeout kills everything it started.
    options.new_session = true;
    // The child's stdout is the pipe: pass it through /proc/self/fd so the generic spawn
    // path (which opens stdout_path) stays the only one.
    options.stdout_path = "/proc/self/fd/" + std::to_string(write_end.get());
    auto child = TRY(Child::spawn(options));
    write_end.reset();

    RunOutput out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[8192];
    bool timed_out = false;
    for (;;) {
        auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (remaining.count() <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd {read_end.get(), POLLIN, 0};
        int r = ::poll(&pfd, 1, static_cast<int>(remaining.count()));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            timed_out = r == 0;
            break;
        }
        ssize_t n = ::read(read_end.get(), buf, sizeof buf);
        if (n <= 0)
            break;
        if (out.output.size() < max_output)
            out.output.append(buf, std::min(static_cast<size_t>(n), max_output - out.output.size()));
    }
    if (timed_out) {
        ::kill(-child.pid(), SIGKILL);
        (void)pidfd_send_signal(child.pidfd(), SIGKILL);
        (void)child.wait();
        return Error(ErrorKind::Timeout, sys::basename(argv[0]) + " did not finish within "
                + std::to_string(timeout.count() / 1000) + " s and was killed");
    }
    out.status = TRY(child.wait());
    return out;
}

}  // namespace bulwark
