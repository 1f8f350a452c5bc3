// Unix stream sockets: connect/listen, newline-framed messages with size limits and
// deadlines, and fd passing (SCM_RIGHTS).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace bulwark {

using Deadline = std::chrono::steady_clock::time_point;
inline Deadline deadline_in(std::chrono::milliseconds ms) { return std::chrono::steady_clock::now() + ms; }

inline constexpr size_t k_max_unix_path = 107;

Result<Fd> unix_connect(const std::string& path);
// Binds and listens; the socket file gets `mode`. An existing stale socket file is replaced.
Result<Fd> unix_listen(const std::string& path, mode_t mode);

// Credentials of the peer of a connected unix socket.
struct PeerCred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};
Result<PeerCred> peer_credentials(int fd);

// A buffered reader/writer over a stream socket.
class LineChannel {
public:
    explicit LineChannel(Fd fd) : m_fd(std::move(fd)) {}
    int fd() const { return m_fd.get(); }

    // Reads up to and excluding the next delimiter. Errors: Timeout at the deadline,
    // Corrupt when a line exceeds max_bytes, Unavailable when the peer closes.
    Result<std::string> read_line(size_t max_bytes, Deadline deadline, char delimiter = '\n');
    // Discards input up to and including the first `byte` (guest agent resync).
    VoidResult skip_until(char byte, size_t max_bytes, Deadline deadline);
    VoidResult write(const std::string& data);
    // Sends data with fds attached (SCM_RIGHTS) in one message.
    VoidResult write_with_fds(const std::string& data, const std::vector<int>& fds);
    // Reads a line and takes any fds that arrive with it (at most max_fds; extras closed).
    Result<std::string> read_line_with_fds(size_t max_bytes, Deadline deadline, std::vector<Fd>& fds, size_t max_fds);

private:
    Result<size_t> fill(Deadline deadline, std::vector<Fd>* fds, size_t max_fds);
    Result<std::string> read_line_impl(size_t max_bytes, Deadline deadline, char delimiter, std::vector<Fd>* fds, size_t max_fds);
    Fd m_fd;
    std::string m_buffer;
};

}  // namespace bulwark
