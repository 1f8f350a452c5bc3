#include "net/traffic_gen.h"

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>

#include "base/endian.h"
#include "base/system.h"

namespace bulwark::net {

namespace {

// Compiling 10,000 IDS rules takes seconds on a loaded machine; nothing else comes close.
constexpr auto k_request_timeout = std::chrono::seconds(120);

int remaining_ms(Deadline deadline)
{
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    return left < 0 ? 0 : static_cast<int>(left);
}

// One's complement sum of the checksum's inputs, for an RFC 1624 incremental update:
// HC' = ~(~HC + ~m + m').
uint16_t checksum_replace32(uint16_t checksum, uint32_t old_value, uint32_t new_value)
{
    uint32_t sum = static_cast<uint16_t>(~checksum);
    sum += static_cast<uint16_t>(~(old_value >> 16)) + static_cast<uint16_t>(~old_value);
    sum += (new_value >> 16) + (new_value & 0xffff);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

void store_be16(uint8_t* p, uint16_t v)
{
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

void store_be32(uint8_t* p, uint32_t v)
{
    store_be16(p, static_cast<uint16_t>(v >> 16));
    store_be16(p + 2, static_cast<uint16_t>(v));
}

} // namespace

GuestLink::GuestLink(Fd fd)
    : m_fd(std::move(fd))
{
}

VoidResult GuestLink::send(std::span<const uint8_t> frame)
{
    std::vector<uint8_t> framed;
    TRY(append_stream_frame(framed, frame));
    return send_raw(framed);
}

VoidResult GuestLink::send_raw(std::span<const uint8_t> bytes)
{
    while (!bytes.empty()) {
        ssize_t n = ::send(m_fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return Error::from_errno("send to the switch", errno);
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return {};
}

Result<std::optional<std::vector<uint8_t>>> GuestLink::receive(Deadline deadline)
{
    uint8_t buf[65536];
    while (m_ready.empty()) {
        struct pollfd pfd {
            m_fd.get(), POLLIN, 0
        };
        int r = ::poll(&pfd, 1, remaining_ms(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return Error::from_errno("poll", errno);
        if (r == 0)
            return std::optional<std::vector<uint8_t>> {};
        ssize_t n = ::recv(m_fd.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return Error::from_errno("recv from the switch", errno);
        if (n == 0)
            return Error(ErrorKind::Unavailable, "the switch closed the port's connection");
        std::span<const uint8_t> input(buf, static_cast<std::size_t>(n));
        for (;;) {
            StreamItem item = m_decoder.next(input);
            if (item.status == StreamStatus::NeedMore)
                break;
            if (item.status == StreamStatus::Fatal)
                return Error(ErrorKind::Corrupt, "the switch sent a frame length of " + std::to_string(m_decoder.bad_length()));
            m_ready.emplace_back(item.frame.begin(), item.frame.end());
        }
    }
    std::vector<uint8_t> frame = std::move(m_ready.front());
    m_ready.pop_front();
    return std::optional<std::vector<uint8_t>> { std::move(frame) };
}

bool GuestLink::wait_closed(Deadline deadline)
{
    uint8_t buf[65536];
    for (;;) {
        struct pollfd pfd {
            m_fd.get(), POLLIN, 0
        };
        int r = ::poll(&pfd, 1, remaining_ms(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        ssize_t n = ::recv(m_fd.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return true; // EOF, or a reset: either way the switch let go of the connection
    }
}

Result<std::unique_ptr<SwitchProcess>> SwitchProcess::spawn(const SwitchProcessOptions& options)
{
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        return Error::from_errno("socketpair", errno);
    Fd ours(pair[0]);
    Fd theirs(pair[1]);
    SpawnOptions spawn;
    spawn.argv = { options.binary, "--control-fd", std::to_string(theirs.get()) };
    spawn.pass_fds = { theirs.get() };
    if (options.eve_fd >= 0) {
        spawn.argv.insert(spawn.argv.end(), { "--eve-fd", std::to_string(options.eve_fd) });
        spawn.pass_fds.push_back(options.eve_fd);
    }
    if (options.relay)
        spawn.argv.push_back("--relay");
    if (!options.fast_path)
        spawn.argv.push_back("--no-fast-path");
    spawn.env = minimal_env();
    spawn.stdout_path = options.log_path;
    auto child = Child::spawn(spawn);
    if (child.is_error())
        return child.release_error().with_context("start " + options.binary);
    return std::unique_ptr<SwitchProcess>(new SwitchProcess(child.release_value(), std::move(ours)));
}

SwitchProcess::~SwitchProcess()
{
    // Closing the control channel is the worker's signal to exit.
    m_control = LineChannel(Fd());
    if (m_child.pidfd() < 0)
        return;
    auto status = m_child.wait(std::chrono::milliseconds(3000));
    if (status.is_error() || !status.value().exited) {
        (void)pidfd_send_signal(m_child.pidfd(), SIGKILL);
        (void)m_child.wait(std::chrono::milliseconds(3000));
    }
}

Result<Json> SwitchProcess::request(const Json& request, const std::vector<int>& fds)
{
    TRY(m_control.write_with_fds(json_dump(request) + "\n", fds));
    auto line = TRY(m_control.read_line(1 << 20, deadline_in(k_request_timeout)));
    Json reply = TRY(parse_json(line));
    if (!reply.is_object() || !reply.value("ok", false)) {
        std::string op = request.value("op", "");
        return Error(
            ErrorKind::InvalidArgument, "bulwark-switch refused '" + op + "': " + reply.value("error", json_dump(reply)));
    }
    return reply;
}

VoidResult SwitchProcess::add_segment(
    const std::string& name, const Cidr& subnet, const IpAddr& server_ip, const MacAddr& server_mac)
{
    TRY(request({ { "op", "segment" }, { "name", name }, { "subnet", subnet.to_string() }, { "server_ip", server_ip.to_string() },
        { "server_mac", server_mac.to_string() } }));
    return {};
}

Result<Json> SwitchProcess::set_policy(const SegmentPolicy& policy)
{
    Fd doc = TRY(sys::memfd_with(json_dump(policy.to_json()), "bulwark-policy"));
    return request({ { "op", "policy" } }, { doc.get() });
}

Result<Json> SwitchProcess::set_rules(const std::string& text)
{
    Fd doc = TRY(sys::memfd_with(text, "bulwark-rules"));
    return request({ { "op", "rules" } }, { doc.get() });
}

VoidResult SwitchProcess::port_request(const GuestSpec& guest, const std::vector<int>& fds)
{
    Json labels = Json::object();
    for (const auto& [k, v] : guest.labels)
        labels[k] = v;
    TRY(request({ { "op", "port_add" }, { "id", guest.id }, { "name", guest.name }, { "segment", guest.segment },
                    { "mac", guest.mac.to_string() }, { "ip", guest.ip.to_string() }, { "labels", labels },
                    { "max_fps", guest.max_fps }, { "max_bps", guest.max_bps } },
        fds));
    return {};
}

Result<GuestLink> SwitchProcess::add_port(const GuestSpec& guest)
{
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        return Error::from_errno("socketpair", errno);
    Fd qemu_end(pair[0]);
    Fd switch_end(pair[1]);
    // Large buffers, as the worker sets on its end, so that a burst is not held up by the
    // socket before the switch sees it.
    int size = 4 << 20;
    (void)::setsockopt(qemu_end.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    (void)::setsockopt(qemu_end.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    TRY(port_request(guest, { switch_end.get() }));
    return GuestLink(std::move(qemu_end));
}

VoidResult SwitchProcess::add_unconnected_port(const GuestSpec& guest)
{
    return port_request(guest, {});
}

Result<Json> SwitchProcess::status()
{
    return request({ { "op", "status" } });
}

Result<double> SwitchProcess::cpu_seconds() const
{
    std::ifstream in("/proc/" + std::to_string(pid()) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The command name (field 2) may hold spaces; the fields after it start past the last ')'.
    auto close = text.rfind(')');
    if (close == std::string::npos)
        return Error(ErrorKind::NotFound, "no /proc entry for the switch worker");
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    uint64_t utime = 0, stime = 0;
    // Fields 3.. follow; utime and stime are fields 14 and 15.
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14)
            utime = std::stoull(field);
        if (i == 15)
            stime = std::stoull(field);
    }
    return double(utime + stime) / double(::sysconf(_SC_CLK_TCK));
}

TcpConnection::TcpConnection(const Endpoint& client, const Endpoint& server, uint16_t client_port, uint16_t server_port,
    uint32_t client_isn, uint32_t server_isn)
    : m_client(client)
    , m_server(server)
    , m_client_port(client_port)
    , m_server_port(server_port)
    , m_client_seq(client_isn)
    , m_server_seq(server_isn)
{
}

std::vector<uint8_t> TcpConnection::syn()
{
    return tcp_frame(m_client, m_server, m_client_port, m_server_port, m_client_seq++, 0, tcpflag::syn, {});
}

std::vector<uint8_t> TcpConnection::syn_ack()
{
    return tcp_frame(
        m_server, m_client, m_server_port, m_client_port, m_server_seq++, m_client_seq, tcpflag::syn | tcpflag::ack, {});
}

std::vector<uint8_t> TcpConnection::ack()
{
    return tcp_frame(m_client, m_server, m_client_port, m_server_port, m_client_seq, m_server_seq, tcpflag::ack, {});
}

std::vector<uint8_t> TcpConnection::client_data(std::span<const uint8_t> payload)
{
    auto f = tcp_frame(
        m_client, m_server, m_client_port, m_server_port, m_client_seq, m_server_seq, tcpflag::ack | tcpflag::psh, payload);
    m_client_seq += static_cast<uint32_t>(payload.size());
    return f;
}

std::vector<uint8_t> TcpConnection::server_data(std::span<const uint8_t> payload)
{
    auto f = tcp_frame(
        m_server, m_client, m_server_port, m_client_port, m_server_seq, m_client_seq, tcpflag::ack | tcpflag::psh, payload);
    m_server_seq += static_cast<uint32_t>(payload.size());
    return f;
}

std::vector<uint8_t> TcpConnection::client_fin()
{
    return tcp_frame(
        m_client, m_server, m_client_port, m_server_port, m_client_seq++, m_server_seq, tcpflag::fin | tcpflag::ack, {});
}

std::vector<uint8_t> TcpConnection::server_fin()
{
    return tcp_frame(
        m_server, m_client, m_server_port, m_client_port, m_server_seq++, m_client_seq, tcpflag::fin | tcpflag::ack, {});
}

void TcpBatch::add(TcpConnection& connection, std::span<const uint8_t> payload)
{
    auto frame = connection.client_data(payload);
    std::size_t start = m_bytes.size() + k_stream_header;
    (void)append_stream_frame(m_bytes, frame);
    // The frame is Ethernet, an IP header without options or extension headers, then TCP, as
    // tcp_frame builds it.
    std::size_t tcp_at = start + 14 + (connection.client().ip.v6 ? 40 : 20);
    m_segments.push_back({ tcp_at + 4, tcp_at + 16, &connection });
    m_frame_bytes += frame.size();
    m_lap_bytes[&connection] += static_cast<uint32_t>(payload.size());
}

void TcpBatch::advance()
{
    for (const Segment& s : m_segments) {
        uint8_t* seq = &m_bytes[s.seq_at];
        uint8_t* sum = &m_bytes[s.checksum_at];
        uint32_t old_seq = load_be32(seq);
        // Each segment moves on by all its connection's bytes of one lap.
        uint32_t new_seq = old_seq + m_lap_bytes[s.connection];
        store_be32(seq, new_seq);
        store_be16(sum, checksum_replace32(load_be16(sum), old_seq, new_seq));
    }
}

uint64_t TrafficRng::next()
{
    m_state ^= m_state >> 12;
    m_state ^= m_state << 25;
    m_state ^= m_state >> 27;
    return m_state * 0x2545f4914f6cdd1dull;
}

std::vector<uint8_t> text_payload(TrafficRng& rng, std::size_t size)
{
    static constexpr const char* k_words[] = { "GET", "POST", "HTTP/1.1", "Host:", "Accept:", "text/html", "application/json",
        "Content-Length:", "Cache-Control:", "no-cache", "user", "session", "id", "value", "the", "data", "index", "api", "v1",
        "status", "ok", "error", "200", "404", "keep-alive", "Connection:", "gzip", "deflate", "Server:", "nginx",
        "Date:", "GMT" };
    std::vector<uint8_t> out;
    out.reserve(size);
    while (out.size() < size) {
        const char* word = k_words[rng.below(std::size(k_words))];
        for (const char* c = word; *c && out.size() < size; ++c)
            out.push_back(static_cast<uint8_t>(*c));
        // Now and then a number, as real headers and bodies carry them.
        if (out.size() < size && rng.below(4) == 0) {
            auto digits = std::to_string(rng.below(100000));
            for (char c : digits) {
                if (out.size() < size)
                    out.push_back(static_cast<uint8_t>(c));
            }
        }
        if (out.size() < size)
            out.push_back(rng.below(8) == 0 ? '\n' : ' ');
    }
    return out;
}

} // namespace bulwark::net
