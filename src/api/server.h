// The control socket: accepts connections, reads one request each (with a size limit, a
// deadline and at most k_max_request_fds passed fds), and answers it on its own thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "base/fd.h"
#include "base/result.h"

namespace bulwark {

class ApiHandlers;

class ApiServer {
public:
    static Result<std::unique_ptr<ApiServer>> create(const std::string& socket_path, ApiHandlers& handlers);

    // Serves until stop_fd becomes readable; then waits for requests in flight.
    VoidResult run(int stop_fd);

private:
    ApiServer(Fd listener, ApiHandlers& handlers) : m_listener(std::move(listener)), m_handlers(handlers) {}
    void serve(Fd connection);

    Fd m_listener;
    ApiHandlers& m_handlers;
    std::atomic<int> m_active {0};
};

}  // namespace bulwark
