// Watches guest QEMU processes through pidfds and reports each exit once, at once (poll
// wakes on exit; no polling interval).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "base/fd.h"
#include "base/process.h"
#include "base/result.h"

namespace bulwark {

class ProcessMonitor {
public:
    // status is nullopt when the process was not our child (adopted after a restart).
    using ExitCallback = std::function<void(std::optional<ExitStatus> status)>;

    static Result<std::unique_ptr<ProcessMonitor>> create();
    ~ProcessMonitor();

    // Takes ownership of pidfd; calls on_exit from the monitor thread when the process exits.
    void watch(Fd pidfd, ExitCallback on_exit);
    void shutdown();

private:
    explicit ProcessMonitor(Fd wake) : m_wake(std::move(wake)) {}
    void run();
    void wake();

    Fd m_wake;  // eventfd: the set of watched fds changed, or shut down
    std::mutex m_mutex;
    struct Entry {
        Fd pidfd;
        ExitCallback on_exit;
    };
    std::map<int, Entry> m_entries;  // by pidfd number
    bool m_stopping = false;
    std::thread m_thread;
};

}  // namespace bulwark
