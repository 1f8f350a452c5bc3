// Child processes: spawned from an argv vector (never a shell string), with a cleared
// environment, only the fds we hand over, and optional resource limits.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace bulwark {

struct SpawnOptions {
    std::vector<std::string> argv;              // argv[0] is an absolute path or a PATH name
    std::map<std::string, std::string> env;     // the complete environment of the child
    std::string stdout_path;                    // append stdout here (empty: /dev/null)
    bool stderr_to_stdout = true;               // else stderr goes to /dev/null
    std::vector<int> pass_fds;                  // fds inherited by the child, same numbers
    bool new_session = false;                   // setsid(): the child outlives our session
    std::optional<uint64_t> address_space_limit;  // RLIMIT_AS in bytes
    std::optional<uint64_t> cpu_seconds_limit;    // RLIMIT_CPU
};

struct ExitStatus {
    bool exited = false;    // true: code is valid; false: killed by signal
    int code = 0;
    int signal = 0;
    std::string describe() const;
    bool success() const { return exited && code == 0; }
};

class Child {
public:
    // Spawns the child. The returned Child owns a pidfd for it.
    static Result<Child> spawn(const SpawnOptions& options);

    Child(Child&&) = default;
    Child& operator=(Child&&) = default;

    pid_t pid() const { return m_pid; }
    int pidfd() const { return m_pidfd.get(); }
    Fd release_pidfd() { return std::move(m_pidfd); }

    // Waits for exit, up to timeout (nullopt: forever). On timeout the child keeps running.
    Result<ExitStatus> wait(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

private:
    Child(pid_t pid, Fd pidfd) : m_pid(pid), m_pidfd(std::move(pidfd)) {}
    pid_t m_pid;
    Fd m_pidfd;
};

// The minimal environment given to helper processes.
std::map<std::string, std::string> minimal_env();

struct RunOutput {
    ExitStatus status;
    std::string output;  // stdout and stderr interleaved, capped
};

// Runs argv to completion, capturing up to max_output bytes of output. Kills it after timeout.
Result<RunOutput> run_command(const std::vector<std::string>& argv,
    std::chrono::milliseconds timeout, size_t max_output = 1 << 20,
    const std::vector<int>& pass_fds = {}, const std::map<std::string, std::string>& env = minimal_env());

// Opens a pidfd for an existing process (not necessarily our child).
Result<Fd> pidfd_open(pid_t pid);
// Sends a signal through a pidfd (no pid-reuse race).
VoidResult pidfd_send_signal(int pidfd, int sig);
// Non-blocking reap of our own child via its pidfd. nullopt: not our child or not exited.
std::optional<ExitStatus> pidfd_try_reap(int pidfd);
// Blocking reap of our own child via its pidfd.
std::optional<ExitStatus> pidfd_wait(int pidfd);
// The process start time (clock ticks since boot, /proc/PID/stat field 22): with the pid it
// identifies a process across pid reuse.
std::optional<uint64_t> process_start_time(pid_t pid);


}  // namespace bulwark
