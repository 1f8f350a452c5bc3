#include "cli/client.h"

#include "api/protocol.h"
#include "base/socket.h"

namespace bulwark::cli {

using namespace std::chrono_literals;

Result<Json> Client::call(const std::string& method, const Json& params, const std::vector<int>& fds, const ProgressSink& progress)
{
    std::string socket_path = m_home + "/bulwarkd.sock";
    auto fd = unix_connect(socket_path);
    if (fd.is_error()) {
        if (fd.error().kind() == ErrorKind::Unavailable)
            return Error(ErrorKind::Unavailable, "bulwarkd is not running for " + m_home + " (nothing answers on " + socket_path
                    + ").\nStart it with: bulwarkd --home " + m_home + " --detach");
        return fd.release_error();
    }
    LineChannel channel(fd.release_value());
    Request req {method, params, static_cast<bool>(progress)};
    TRY(channel.write_with_fds(encode_request(req), fds));
    // Long operations (a large import, a slow guest shutdown) answer when they are done.
    auto deadline = deadline_in(std::chrono::hours(6));
    for (;;) {
        auto line = channel.read_line(k_max_response_bytes, deadline);
        if (line.is_error())
            return Error(ErrorKind::Unavailable, "bulwarkd closed the connection without answering: " + line.error().message());
        auto decoded = decode_response_line(line.value());
        if (!decoded.interim)
            return std::move(decoded.result);
        if (progress && decoded.progress)
            progress(*decoded.progress);
    }
}

}  // namespace bulwark::cli
