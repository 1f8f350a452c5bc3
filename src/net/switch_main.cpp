// bulwark-switch: the switch worker. bulwarkd starts it inside the jail (its own uid, no
// network, no files: everything it touches arrives as an fd) and supervises it.
//
//   bulwark-switch --control-fd N --eve-fd N [--relay] [--no-fast-path]
//
// The control fd is one end of a socketpair with bulwarkd: newline-terminated JSON requests,
// each answered by one JSON line ({"ok":true,...} or {"ok":false,"error":"..."}); fds ride along
// with SCM_RIGHTS: a guest port's connected stream socket (QEMU's -netdev stream), a capture
// file, and documents too large for a line (the policy, the rules) as memfds. docs/network.md
// lists the requests.
//
// --relay is the benchmark's baseline: the same socket I/O, every frame copied unchanged to
// every other port, no decoding and no policy. --no-fast-path turns the established flow
// cache (net/fast_path.h) off, for the benchmark's comparison.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/socket.h"
#include "ids/engine.h"
#include "ids/rule_parser.h"
#include "net/pcap.h"
#include "net/stream_framing.h"
#include "net/switch.h"

using namespace bulwark;
using namespace bulwark::net;

namespace {

constexpr std::size_t k_read_chunk = 256 * 1024;
// A guest that does not read its frames gets no more queued than this; the rest are dropped
// (and counted) so that it cannot make the switch hold memory or stall other ports.
constexpr std::size_t k_max_out_queue = 1 << 20;
constexpr std::size_t k_max_control_line = 64 * 1024;
constexpr std::size_t k_max_document = 64 << 20;
constexpr uint64_t k_control_tag = ~uint64_t(0);

uint64_t now_ns()
{
    struct timespec ts { };
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

uint64_t wall_ns()
{
    struct timespec ts { };
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

bool write_all(int fd, const uint8_t* data, std::size_t size)
{
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

Result<std::string> read_document(int fd)
{
    std::string out;
    char buf[65536];
    if (::lseek(fd, 0, SEEK_SET) < 0 && errno != ESPIPE)
        return Error::from_errno("seek", errno);
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return Error::from_errno("read", errno);
        if (n == 0)
            return out;
        if (out.size() + static_cast<std::size_t>(n) > k_max_document)
            return Error(ErrorKind::InvalidArgument, "a document over 64 MiB");
        out.append(buf, static_cast<std::size_t>(n));
    }
}

struct PortIo {
    uint32_t id = 0;
    Fd fd;
    StreamDecoder decoder;
    std::vector<uint8_t> in;
    std::vector<uint8_t> out;
    std::size_t out_head = 0;
    bool want_write = false;
    uint64_t dropped_tx = 0;
    uint64_t framing_errors = 0;
    std::unique_ptr<PcapWriter> capture;
    Fd capture_fd;
    uint64_t captured = 0;
};

// A capture that fails to write (disk full) stops; the port keeps forwarding.
void capture(PortIo& port, std::span<const uint8_t> frame)
{
    if (port.capture->write(wall_ns(), frame).is_ok()) {
        ++port.captured;
    } else {
        port.capture.reset();
        port.capture_fd.reset();
    }
}

class Worker final : public FrameSink {
public:
    Worker(Fd control, Fd eve_fd, bool relay, bool fast_path)
        : m_control(std::move(control))
        , m_eve_fd(std::move(eve_fd))
        , m_relay(relay)
        , m_switch(*this, SwitchOptions { .fast_path = fast_path })
    {
        if (m_eve_fd.valid())
            m_switch.set_eve_sink([this](const std::string& line) { write_eve(line); });
    }

    int run();
    void deliver(uint32_t port, std::span<const uint8_t> frame) override;

private:
    void write_eve(const std::string& line)
    {
        m_eve_buffer += line;
        m_eve_buffer += '\n';
        if (m_eve_buffer.size() > 64 * 1024)
            flush_eve();
    }
    void flush_eve()
    {
        if (!m_eve_buffer.empty()) {
            (void)write_all(m_eve_fd.get(), reinterpret_cast<const uint8_t*>(m_eve_buffer.data()), m_eve_buffer.size());
            m_eve_buffer.clear();
        }
    }
    bool handle_control();
    Json handle_request(const Json& request, std::vector<Fd>& fds);
    Result<Json> dispatch(const Json& request, std::vector<Fd>& fds);
    void read_port(PortIo& port);
    void flush_port(PortIo& port);
    void close_port(uint32_t id);
    VoidResult open_port_io(uint32_t id, Fd fd, std::size_t max_frame);
    void update_epoll(PortIo& port);

    LineChannel m_control;
    Fd m_eve_fd;
    bool m_relay;
    Switch m_switch;
    Fd m_epoll;
    std::map<uint32_t, std::unique_ptr<PortIo>> m_ports;
    std::vector<PortIo*> m_dirty;
    std::string m_eve_buffer;
    uint64_t m_now = 0;
};

void Worker::deliver(uint32_t id, std::span<const uint8_t> frame)
{
    auto it = m_ports.find(id);
    if (it == m_ports.end() || !it->second->fd.valid())
        return;
    PortIo& port = *it->second;
    if (port.out.size() - port.out_head + frame.size() + 4 > k_max_out_queue) {
        ++port.dropped_tx;
        return;
    }
    if (port.out_head > 0 && port.out_head == port.out.size()) {
        port.out.clear();
        port.out_head = 0;
    }
    (void)append_stream_frame(port.out, frame);
    if (!port.want_write && (m_dirty.empty() || m_dirty.back() != &port))
        m_dirty.push_back(&port);
    if (port.capture)
        capture(port, frame);
}

void Worker::update_epoll(PortIo& port)
{
    struct epoll_event ev { };
    ev.events = EPOLLIN | (port.want_write ? EPOLLOUT : 0u);
    ev.data.u64 = port.id;
    (void)::epoll_ctl(m_epoll.get(), EPOLL_CTL_MOD, port.fd.get(), &ev);
}

void Worker::flush_port(PortIo& port)
{
    while (port.out_head < port.out.size()) {
        ssize_t n = ::send(port.fd.get(), port.out.data() + port.out_head, port.out.size() - port.out_head, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!port.want_write) {
                port.want_write = true;
                update_epoll(port);
            }
            return;
        }
        if (n <= 0) {
            port.out.clear();
            port.out_head = 0;
            return; // the read side sees the hang-up and closes the port
        }
        port.out_head += static_cast<std::size_t>(n);
    }
    port.out.clear();
    port.out_head = 0;
    if (port.want_write) {
        port.want_write = false;
        update_epoll(port);
    }
}

void Worker::read_port(PortIo& port)
{
    // Bounded work per wake-up, so that one busy guest cannot starve the others.
    // The read buffer is sized once and never shrunk: resizing it per read zero-filled
    // 256 KiB each time, a cost the 64-byte-frame benchmark showed (bench/netgen.cpp). The
    // decoder copies a frame split across reads, so the bytes need not outlive one round.
    if (port.in.size() < k_read_chunk)
        port.in.resize(k_read_chunk);
    for (int round = 0; round < 4; ++round) {
        ssize_t n = ::recv(port.fd.get(), port.in.data(), k_read_chunk, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            close_port(port.id);
            return;
        }
        std::span<const uint8_t> input(port.in.data(), static_cast<std::size_t>(n));
        for (;;) {
            StreamItem item = port.decoder.next(input);
            if (item.status == StreamStatus::NeedMore)
                break;
            if (item.status == StreamStatus::Fatal) {
                // A length that cannot be a frame: the stream cannot be resynchronised. The
                // connection is closed; QEMU accepts again and bulwarkd reconnects the port.
                ++port.framing_errors;
                std::fprintf(stderr, "bulwark-switch: port %u: a frame length of %u; connection closed\n", port.id,
                    port.decoder.bad_length());
                close_port(port.id);
                return;
            }
            if (port.capture)
                capture(port, item.frame);
            if (m_relay) {
                for (auto& [id, other] : m_ports) {
                    if (id != port.id)
                        deliver(id, item.frame);
                }
            } else {
                m_switch.receive(port.id, item.frame, m_now);
            }
        }
        if (static_cast<std::size_t>(n) < k_read_chunk)
            return;
    }
}

VoidResult Worker::open_port_io(uint32_t id, Fd fd, std::size_t max_frame)
{
    close_port(id);
    m_ports.erase(id);
    auto io = std::make_unique<PortIo>();
    io->id = id;
    io->decoder = StreamDecoder(max_frame);
    if (fd.valid()) {
        io->fd = std::move(fd);
        int flags = ::fcntl(io->fd.get(), F_GETFL);
        (void)::fcntl(io->fd.get(), F_SETFL, flags | O_NONBLOCK);
        int size = 4 << 20;
        (void)::setsockopt(io->fd.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        (void)::setsockopt(io->fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        struct epoll_event ev { };
        ev.events = EPOLLIN;
        ev.data.u64 = id;
        if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, io->fd.get(), &ev) < 0)
            return Error::from_errno("epoll_ctl", errno);
    }
    m_ports[id] = std::move(io);
    return {};
}

void Worker::close_port(uint32_t id)
{
    auto it = m_ports.find(id);
    if (it == m_ports.end())
        return;
    PortIo& port = *it->second;
    if (port.fd.valid()) {
        (void)::epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, port.fd.get(), nullptr);
        port.fd.reset();
    }
    std::erase(m_dirty, &port);
}

Result<Json> Worker::dispatch(const Json& request, std::vector<Fd>& fds)
{
    std::string op = TRY(json_string(request, "op"));
    if (op == "segment") {
        SegmentConfig seg;
        seg.name = TRY(json_string(request, "name"));
        auto subnet = Cidr::parse(TRY(json_string(request, "subnet")));
        auto server_ip = IpAddr::parse(TRY(json_string(request, "server_ip")));
        auto server_mac = MacAddr::parse(TRY(json_string(request, "server_mac")));
        if (!subnet || !server_ip || !server_mac)
            return Error(ErrorKind::InvalidArgument, "a segment needs a subnet, server_ip and server_mac");
        seg.subnet = *subnet;
        seg.addressing.server_ip = *server_ip;
        seg.addressing.server_mac = *server_mac;
        seg.addressing.prefix = subnet->prefix;
        // Every guest learns the gateway: without an uplink its traffic beyond the segment is
        // dropped at the switch, with one the policy decides.
        seg.addressing.router = *server_ip;
        TRY(m_switch.add_segment(std::move(seg)));
        return Json::object();
    }
    if (op == "policy") {
        if (fds.size() != 1)
            return Error(ErrorKind::InvalidArgument, "'policy' carries the policy document as one fd");
        auto text = TRY(read_document(fds[0].get()));
        auto doc = TRY(parse_json(text, JsonLimits { k_max_document, 16 }));
        m_switch.set_policy(TRY(SegmentPolicy::from_json(doc)));
        return Json { { "generation", m_switch.policy_generation() } };
    }
    if (op == "rules") {
        if (fds.empty()) {
            m_switch.set_ids(nullptr);
            return Json { { "rules", 0 } };
        }
        auto text = TRY(read_document(fds[0].get()));
        ids::RuleVars overrides;
        if (request.contains("vars") && request["vars"].is_object()) {
            for (const auto& [k, v] : request["vars"].items()) {
                if (v.is_string())
                    overrides[k] = v.get<std::string>();
            }
        }
        auto loaded = ids::load_rules(text, ids::default_rule_vars(overrides));
        Json errors = Json::array();
        for (const auto& e : loaded.errors)
            errors.push_back({ { "line", e.line }, { "keyword", e.keyword }, { "error", e.message } });
        std::size_t count = loaded.rules.size();
        // A file of which nothing loads does not replace the running rules.
        if (count == 0 && !loaded.errors.empty()) {
            std::string first;
            for (std::size_t i = 0; i < loaded.errors.size() && i < 3; ++i)
                first += (i ? "; " : "") + loaded.errors[i].message;
            return Error(ErrorKind::InvalidArgument, "no rule in the file could be loaded (" + first + ")");
        }
        auto engine = TRY(ids::Engine::create(std::move(loaded.rules)));
        m_switch.set_ids(std::shared_ptr<ids::Engine>(std::move(engine)));
        return Json { { "rules", count }, { "errors", errors } };
    }
    if (op == "port_add") {
        PortConfig pc;
        pc.id = static_cast<uint32_t>(TRY(json_int(request, "id")));
        pc.name = TRY(json_string(request, "name"));
        pc.segment = TRY(json_string(request, "segment"));
        auto mac = MacAddr::parse(TRY(json_string(request, "mac")));
        auto ip = IpAddr::parse(TRY(json_string(request, "ip")));
        if (!mac || !ip)
            return Error(ErrorKind::InvalidArgument, "a port needs a MAC and an IPv4 address");
        pc.mac = *mac;
        pc.ip4 = *ip;
        if (request.contains("labels")) {
            for (const auto& [k, v] : request["labels"].items()) {
                if (v.is_string())
                    pc.labels[k] = v.get<std::string>();
            }
        }
        pc.quarantined = json_bool_or(request, "quarantined", false);
        pc.max_frames_per_second = static_cast<uint64_t>(json_int_or(request, "max_fps", int64_t(pc.max_frames_per_second)));
        pc.max_bytes_per_second = static_cast<uint64_t>(json_int_or(request, "max_bps", int64_t(pc.max_bytes_per_second)));
        if (m_relay) {
            // The baseline has no switch state at all.
        } else {
            m_switch.remove_port(pc.id);
            TRY(m_switch.add_port(pc));
        }
        TRY(open_port_io(pc.id, fds.empty() ? Fd() : std::move(fds[0]), k_max_frame));
        return Json::object();
    }
    if (op == "uplink_add") {
        // The guest port's uplink: a connected socket to the passt process bulwarkd started
        // for it. passt may send frames larger than the guest's link (a big UDP datagram in
        // one frame); the switch fragments them toward the guest instead of closing the port.
        auto id = static_cast<uint32_t>(TRY(json_int(request, "id")));
        auto owner = static_cast<uint32_t>(TRY(json_int(request, "owner")));
        if (fds.size() != 1)
            return Error(ErrorKind::InvalidArgument, "'uplink_add' carries the uplink's socket as one fd");
        if (!m_relay) {
            m_switch.remove_port(id);
            TRY(m_switch.add_uplink(id, owner, TRY(json_string(request, "name"))));
        }
        TRY(open_port_io(id, std::move(fds[0]), k_max_reassembled_frame));
        return Json::object();
    }
    if (op == "port_remove") {
        auto id = static_cast<uint32_t>(TRY(json_int(request, "id")));
        close_port(id);
        m_ports.erase(id);
        m_switch.remove_port(id);
        return Json::object();
    }
    if (op == "quarantine") {
        auto id = static_cast<uint32_t>(TRY(json_int(request, "id")));
        TRY(m_switch.set_quarantine(id, json_bool_or(request, "on", true)));
        return Json::object();
    }
    if (op == "capture") {
        auto id = static_cast<uint32_t>(TRY(json_int(request, "id")));
        auto it = m_ports.find(id);
        if (it == m_ports.end())
            return Error(ErrorKind::NotFound, "no port " + std::to_string(id));
        if (fds.empty()) {
            uint64_t written = it->second->captured;
            it->second->capture.reset();
            it->second->captured = 0;
            it->second->capture_fd.reset();
            return Json { { "frames", written } };
        }
        it->second->capture_fd = std::move(fds[0]);
        auto writer = TRY(PcapWriter::open(it->second->capture_fd.get()));
        it->second->captured = 0;
        it->second->capture = std::make_unique<PcapWriter>(std::move(writer));
        return Json::object();
    }
    if (op == "status") {
        Json j = m_switch.status();
        for (const auto& [id, port] : m_ports) {
            Json& p = j["ports"][std::to_string(id)];
            p["connected"] = port->fd.valid();
            p["drop_tx_full"] = port->dropped_tx;
            p["framing_errors"] = port->framing_errors;
        }
        return j;
    }
    if (op == "policy_show")
        return m_switch.compiled_policy();
    return Error(ErrorKind::InvalidArgument, "unknown request '" + op + "'");
}

Json Worker::handle_request(const Json& request, std::vector<Fd>& fds)
{
    auto result = dispatch(request, fds);
    if (result.is_error())
        return { { "ok", false }, { "error", result.error().message() }, { "kind", error_kind_name(result.error().kind()) } };
    Json j = result.release_value();
    if (!j.is_object())
        j = Json { { "value", j } };
    j["ok"] = true;
    return j;
}

bool Worker::handle_control()
{
    std::vector<Fd> fds;
    auto line = m_control.read_line_with_fds(k_max_control_line, deadline_in(std::chrono::seconds(2)), fds, 4);
    if (line.is_error())
        return false; // bulwarkd is gone (or talks nonsense): there is nobody to serve
    Json reply;
    auto request = parse_json(line.value());
    if (request.is_error() || !request.value().is_object())
        reply = { { "ok", false }, { "error", "a request must be a JSON object" } };
    else
        reply = handle_request(request.value(), fds);
    return m_control.write(json_dump(reply) + "\n").is_ok();
}

int Worker::run()
{
    m_epoll = Fd(::epoll_create1(EPOLL_CLOEXEC));
    if (!m_epoll.valid())
        return 1;
    struct epoll_event ev { };
    ev.events = EPOLLIN;
    ev.data.u64 = k_control_tag;
    if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, m_control.fd(), &ev) < 0)
        return 1;
    std::vector<struct epoll_event> events(64);
    uint64_t last_tick = now_ns();
    for (;;) {
        int n = ::epoll_wait(m_epoll.get(), events.data(), static_cast<int>(events.size()), 200);
        if (n < 0 && errno != EINTR)
            return 1;
        m_now = now_ns();
        for (int i = 0; i < n; ++i) {
            uint64_t tag = events[i].data.u64;
            if (tag == k_control_tag) {
                if (!handle_control()) {
                    flush_eve();
                    return 0;
                }
                continue;
            }
            auto it = m_ports.find(static_cast<uint32_t>(tag));
            if (it == m_ports.end() || !it->second->fd.valid())
                continue;
            if (events[i].events & EPOLLOUT)
                flush_port(*it->second);
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                read_port(*it->second);
        }
        // Writes are batched: every frame queued in this round goes out in one send per port.
        auto dirty = std::move(m_dirty);
        m_dirty.clear();
        for (PortIo* port : dirty) {
            if (port->fd.valid())
                flush_port(*port);
        }
        if (m_now - last_tick >= 1000000000ull) {
            last_tick = m_now;
            m_switch.tick(m_now);
        }
        // Events reach the file by the end of the round that produced them (one write per
        // round), so a reader of eve.json sees an alert as soon as the frame has been handled.
        flush_eve();
    }
}

int parse_fd(const char* text)
{
    int v = -1;
    auto [end, ec] = std::from_chars(text, text + std::strlen(text), v);
    if (ec != std::errc() || *end != '\0' || v < 0)
        return -1;
    return v;
}

} // namespace

int main(int argc, char** argv)
{
    int control = -1;
    int eve = -1;
    bool relay = false;
    bool fast_path = true;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--control-fd" && i + 1 < argc)
            control = parse_fd(argv[++i]);
        else if (a == "--eve-fd" && i + 1 < argc)
            eve = parse_fd(argv[++i]);
        else if (a == "--relay")
            relay = true;
        else if (a == "--no-fast-path")
            fast_path = false;
        else {
            std::fprintf(stderr, "usage: bulwark-switch --control-fd N [--eve-fd N] [--relay] [--no-fast-path]\n");
            return 2;
        }
    }
    if (control < 0) {
        std::fprintf(stderr, "bulwark-switch: --control-fd is required\n");
        return 2;
    }
    ::signal(SIGPIPE, SIG_IGN);
    // The worker ends when bulwarkd closes the control socket (or dies): a restarted daemon
    // starts a new switch and reconnects every port.
    Worker worker(Fd(control), Fd(eve), relay, fast_path);
    return worker.run();
}
