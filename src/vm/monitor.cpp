#include "vm/monitor.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/log.h"

namespace bulwark {

Result<std::unique_ptr<ProcessMonitor>> ProcessMonitor::create()
{
    Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake.valid())
        return Error::from_errno("eventfd", errno);
    std::unique_ptr<ProcessMonitor> monitor(new ProcessMonitor(std::move(wake)));
    monitor->m_thread = std::thread([m = monitor.get()] { m->run(); });
    return monitor;
}

ProcessMonitor::~ProcessMonitor() { shutdown(); }

void ProcessMonitor::shutdown()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    wake();
    if (m_thread.joinable())
        m_thread.join();
}

void ProcessMonitor::wake()
{
    uint64_t one = 1;
    (void)::write(m_wake.get(), &one, sizeof one);
}

void ProcessMonitor::watch(Fd pidfd, ExitCallback on_exit)
{
    {
        std::lock_guard lock(m_mutex);
        int key = pidfd.get();
        m_entries[key] = Entry {std::move(pidfd), std::move(on_exit)};
    }
    wake();
}

void ProcessMonitor::run()
{
    for (;;) {
        std::vector<pollfd> fds;
        {
            std::lock_guard lock(m_mutex);
            if (m_stopping)
                return;
            fds.push_back({m_wake.get(), POLLIN, 0});
            for (const auto& [key, entry] : m_entries)
                fds.push_back({key, POLLIN, 0});
        }
        int r = ::poll(fds.data(), fds.size(), -1);
        if (r < 0) {
            if (errno != EINTR)
                log::error("process monitor: poll failed");
            continue;
        }
        if (fds[0].revents) {
            uint64_t drained;
            (void)::read(m_wake.get(), &drained, sizeof drained);
        }
        for (size_t i = 1; i < fds.size(); ++i) {
            if (!fds[i].revents)
                continue;
            Entry entry;
            {
                std::lock_guard lock(m_mutex);
                auto it = m_entries.find(fds[i].fd);
                if (it == m_entries.end())
                    continue;
                entry = std::move(it->second);
                m_entries.erase(it);
            }
            auto status = pidfd_try_reap(entry.pidfd.get());
            try {
                entry.on_exit(status);
            } catch (const std::exception& e) {
                log::error(std::string("process monitor: exit handler failed: ") + e.what());
            }
        }
    }
}

}  // namespace bulwark
