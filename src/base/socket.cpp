#include "base/socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/system.h"

namespace bulwark {

static Result<sockaddr_un> make_addr(const std::string& path)
{
    if (path.size() > k_max_unix_path)
        return Error(ErrorKind::InvalidArgument, "socket path " + path + " is longer than " + std::to_string(k_max_unix_path)
                + " bytes; choose a shorter data directory");
    sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

Result<Fd> unix_connect(const std::string& path)
{
    auto addr = TRY(make_addr(path));
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid())
        return Error::from_errno("socket", errno);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        int err = errno;
        ErrorKind kind = (err == ENOENT || err == ECONNREFUSED) ? ErrorKind::Unavailable : ErrorKind::Io;
        return Error(kind, "cannot connect to " + path + ": " + errno_message(err));
    }
    return fd;
}

Result<Fd> unix_listen(const std::string& path, mode_t mode)
{
    auto addr = TRY(make_addr(path));
    TRY(sys::unlink_if_exists(path));
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid())
        return Error::from_errno("socket", errno);
    // Bind under a restrictive umask so the socket never exists with a wider mode.
    mode_t old = ::umask(0777 & ~mode);
    int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    int err = errno;
    ::umask(old);
    if (rc < 0)
        return Error::from_errno("cannot bind " + path, err);
    TRY(sys::chmod(path, mode));
    if (::listen(fd.get(), 64) < 0)
        return Error::from_errno("listen " + path, errno);
    return fd;
}

Result<PeerCred> peer_credentials(int fd)
{
    struct ucred cred {};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return Error::from_errno("SO_PEERCRED", errno);
    return PeerCred {cred.pid, cred.uid, cred.gid};
}

Result<size_t> LineChannel::fill(Deadline deadline, std::vector<Fd>* fds, size_t max_fds)
{
    for (;;) {
        auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (remaining.count() <= 0)
            return Error(ErrorKind::Timeout, "no answer in time");
        struct pollfd pfd {m_fd.get(), POLLIN, 0};
        int r = ::poll(&pfd, 1, static_cast<int>(remaining.count()));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return Error::from_errno("poll", errno);
        if (r == 0)
            return Error(ErrorKind::Timeout, "no answer in time");
        char buf[65536];
        struct iovec iov {buf, sizeof buf};
        alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)];
        struct msghdr msg {};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        ssize_t n = ::recvmsg(m_fd.get(), &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return Error::from_errno("recv", errno);
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; ++i) {
                int received;
                std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                Fd owned(received);
                if (fds && fds->size() < max_fds)
                    fds->push_back(std::move(owned));
            }
        }
        if (n == 0)
            return Error(ErrorKind::Unavailable, "the peer closed the connection");
        m_buffer.append(buf, static_cast<size_t>(n));
        return static_cast<size_t>(n);
    }
}

Result<std::string> LineChannel::read_line_impl(size_t max_bytes, Deadline deadline, char delimiter,
    std::vector<Fd>* fds, size_t max_fds)
{
    size_t scanned = 0;
    for (;;) {
        auto pos = m_buffer.find(delimiter, scanned);
        if (pos != std::string::npos) {
            if (pos > max_bytes)
                return Error(ErrorKind::Corrupt, "message longer than the limit of " + std::to_string(max_bytes) + " bytes");
            std::string line = m_buffer.substr(0, pos);
            m_buffer.erase(0, pos + 1);
            return line;
        }
        scanned = m_buffer.size();
        if (m_buffer.size() > max_bytes)
            return Error(ErrorKind::Corrupt, "message longer than the limit of " + std::to_string(max_bytes) + " bytes");
        TRY(fill(deadline, fds, max_fds));
    }
}

Result<std::string> LineChannel::read_line(size_t max_bytes, Deadline deadline, char delimiter)
{
    return read_line_impl(max_bytes, deadline, delimiter, nullptr, 0);
}

Result<std::string> LineChannel::read_line_with_fds(size_t max_bytes, Deadline deadline, std::vector<Fd>& fds, size_t max_fds)
{
    return read_line_impl(max_bytes, deadline, '\n', &fds, max_fds);
}

VoidResult LineChannel::skip_until(char byte, size_t max_bytes, Deadline deadline)
{
    size_t skipped = 0;
    for (;;) {
        auto pos = m_buffer.find(byte);
        if (pos != std::string::npos) {
            m_buffer.erase(0, pos + 1);
            return {};
        }
        skipped += m_buffer.size();
        m_buffer.clear();
        if (skipped > max_bytes)
            return Error(ErrorKind::Corrupt, "too much data before the synchronisation marker");
        TRY(fill(deadline, nullptr, 0));
    }
}

VoidResult LineChannel::write(const std::string& data)
{
    // send(MSG_NOSIGNAL): a peer that hung up is an error to report, not a SIGPIPE.
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
        ssize_t n = ::send(m_fd.get(), p, left, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return Error(ErrorKind::Unavailable, "the peer closed the connection: " + errno_message(errno));
        p += n;
        left -= static_cast<size_t>(n);
    }
    return {};
}

VoidResult LineChannel::write_with_fds(const std::string& data, const std::vector<int>& fds)
{
    if (fds.empty())
        return write(data);
    if (fds.size() > 16)
        return Error(ErrorKind::Internal, "too many fds in one message");
    struct iovec iov {const_cast<char*>(data.data()), data.size()};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)] = {};
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    ssize_t n;
    do {
        n = ::sendmsg(m_fd.get(), &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return Error::from_errno("sendmsg", errno);
    if (static_cast<size_t>(n) < data.size())
        return write(data.substr(static_cast<size_t>(n)));
    return {};
}

}  // namespace bulwark
