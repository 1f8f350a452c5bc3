#include "api/server.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <thread>

#include "api/handlers.h"
#include "api/protocol.h"
#include "base/log.h"
#include "base/socket.h"

namespace bulwark {

using namespace std::chrono_literals;

static constexpr int k_max_connections = 64;

namespace {

// The interim progress lines of one request. At most k_progress_lines_per_second are sent,
// and only while the client keeps reading: a line that would have to wait for room in the
// socket is dropped, so a client that stops reading never stalls the operation. Called on
// the request's own thread.
class ProgressWriter {
public:
    explicit ProgressWriter(LineChannel& channel) : m_channel(channel) {}
    void operator()(const Progress& progress)
    {
        auto now = std::chrono::steady_clock::now();
        if (m_broken || (m_sent_any && now - m_last < std::chrono::milliseconds(1000 / k_progress_lines_per_second)))
            return;
        struct pollfd pfd {m_channel.fd(), POLLOUT, 0};
        if (::poll(&pfd, 1, 0) != 1 || (pfd.revents & POLLOUT) == 0)
            return;
        m_broken = m_channel.write(encode_progress(progress)).is_error();
        m_sent_any = true;
        m_last = now;
    }

private:
    LineChannel& m_channel;
    std::chrono::steady_clock::time_point m_last;
    bool m_sent_any = false;
    bool m_broken = false;
};

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::create(const std::string& socket_path, ApiHandlers& handlers)
{
    // 0600: only the daemon's own user can connect; peer credentials are checked again.
    auto listener = TRY(unix_listen(socket_path, 0600));
    return std::unique_ptr<ApiServer>(new ApiServer(std::move(listener), handlers));
}

VoidResult ApiServer::run(int stop_fd)
{
    for (;;) {
        struct pollfd fds[2] = {{m_listener.get(), POLLIN, 0}, {stop_fd, POLLIN, 0}};
        int r = ::poll(fds, 2, -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return Error::from_errno("poll", errno);
        if (fds[1].revents)
            break;
        if (!fds[0].revents)
            continue;
        Fd conn(::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!conn.valid())
            continue;
        if (m_active.load() >= k_max_connections) {
            LineChannel ch(std::move(conn));
            (void)ch.write(encode_response(Error(ErrorKind::Unavailable, "bulwarkd is busy; try again")));
            continue;
        }
        ++m_active;
        std::thread([this, c = std::move(conn)]() mutable {
            serve(std::move(c));
            --m_active;
        }).detach();
    }
    // Let requests in flight finish (bounded), so none is cut off half-done.
    for (int i = 0; i < 600 && m_active.load() > 0; ++i)
        std::this_thread::sleep_for(100ms);
    return {};
}

void ApiServer::serve(Fd connection)
{
    auto cred = peer_credentials(connection.get());
    LineChannel channel(std::move(connection));
    if (cred.is_error())
        return;
    std::vector<Fd> fds;
    auto line = channel.read_line_with_fds(k_max_request_bytes, deadline_in(10s), fds, k_max_request_fds);
    if (line.is_error()) {
        (void)channel.write(encode_response(line.release_error().with_context("bad request")));
        return;
    }
    auto request = parse_request(line.value());
    if (request.is_error()) {
        (void)channel.write(encode_response(request.release_error()));
        return;
    }
    Caller caller {cred.value(), describe_caller(cred.value())};
    ProgressWriter writer(channel);
    ProgressSink progress;
    if (request.value().progress)
        progress = std::ref(writer);
    // Exceptions from dependencies are caught here, at the edge: a request can fail, the
    // daemon cannot.
    Result<Json> result = Error(ErrorKind::Internal, "unreachable");
    try {
        result = m_handlers.handle(request.value(), caller, fds, progress);
    } catch (const std::exception& e) {
        log::error("internal error in " + request.value().method + ": " + e.what());
        result = Error(ErrorKind::Internal, std::string("internal error: ") + e.what());
    }
    if (result.is_error())
        log::info(request.value().method + " by " + caller.actor + " failed: " + result.error().message());
    (void)channel.write(encode_response(result));
}

}  // namespace bulwark
