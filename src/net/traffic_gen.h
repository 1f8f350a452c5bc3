// A traffic generator that speaks QEMU's side of the switch: it starts a real bulwark-switch
// worker (unjailed, argv only), drives its control protocol the way bulwarkd does (newline
// JSON over a socketpair, fds with SCM_RIGHTS, documents as memfds), plays each guest's QEMU
// on a socketpair in -netdev stream framing, and builds realistic traffic: TCP connections
// with a handshake and in-order data, UDP datagrams. Used by the unit tests and by the
// benchmark bench/netgen.cpp; nothing in bulwarkd depends on it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/fd.h"
#include "base/json.h"
#include "base/process.h"
#include "base/result.h"
#include "base/socket.h"
#include "net/frame_builder.h"
#include "net/segment_policy.h"
#include "net/stream_framing.h"

namespace bulwark::net {

// QEMU's end of a guest port: frames go out and come back in stream framing.
class GuestLink {
public:
    explicit GuestLink(Fd fd);
    GuestLink(GuestLink&&) = default;
    GuestLink& operator=(GuestLink&&) = default;

    int fd() const { return m_fd.get(); }

    // Frames one frame and writes it (blocking until the socket takes it all).
    VoidResult send(std::span<const uint8_t> frame);
    // Writes bytes as they are: already framed batches, or deliberately broken framing.
    VoidResult send_raw(std::span<const uint8_t> bytes);
    // The next frame the switch delivered, waiting until the deadline; nullopt when none came
    // in time. Unavailable once the switch has closed the connection.
    Result<std::optional<std::vector<uint8_t>>> receive(Deadline deadline);
    // True when the switch closes the connection before the deadline (frames that arrive
    // meanwhile are discarded).
    bool wait_closed(Deadline deadline);

private:
    Fd m_fd;
    StreamDecoder m_decoder;
    std::deque<std::vector<uint8_t>> m_ready;
};

// A guest as the switch's port_add request describes it.
struct GuestSpec {
    uint32_t id = 0;
    std::string name;
    std::string segment;
    MacAddr mac;
    IpAddr ip;
    Labels labels;
    uint64_t max_fps = 0; // 0: no rate limit (the switch's own default is a limit)
    uint64_t max_bps = 0;

    Endpoint endpoint() const { return { mac, ip }; }
};

struct SwitchProcessOptions {
    std::string binary; // the bulwark-switch executable
    bool relay = false; // --relay: the benchmark baseline
    bool fast_path = true; // false: --no-fast-path (the established flow cache off)
    int eve_fd = -1; // given to the worker as --eve-fd when >= 0 (the caller keeps its copy)
    std::string log_path; // the worker's stderr (empty: discarded)
};

// A running bulwark-switch and its control channel. The worker ends when the channel closes;
// the destructor closes it, waits briefly and kills a worker that does not go.
class SwitchProcess {
public:
    static Result<std::unique_ptr<SwitchProcess>> spawn(const SwitchProcessOptions& options);
    ~SwitchProcess();
    SwitchProcess(const SwitchProcess&) = delete;
    SwitchProcess& operator=(const SwitchProcess&) = delete;

    // One request and its reply; a reply with "ok": false is an Error carrying its message.
    Result<Json> request(const Json& request, const std::vector<int>& fds = {});

    VoidResult add_segment(const std::string& name, const Cidr& subnet, const IpAddr& server_ip, const MacAddr& server_mac);
    Result<Json> set_policy(const SegmentPolicy& policy);
    // Loads rules (and turns the IDS on); the reply counts them and lists the rejected ones.
    Result<Json> set_rules(const std::string& text);
    // Adds a port connected to a new socketpair and returns QEMU's end of it.
    Result<GuestLink> add_port(const GuestSpec& guest);
    // Adds a port with no connection: a guest that exists for the policy only.
    VoidResult add_unconnected_port(const GuestSpec& guest);
    Result<Json> status();

    pid_t pid() const { return m_child.pid(); }
    // The worker's user + system CPU time so far, from /proc/PID/stat.
    Result<double> cpu_seconds() const;

private:
    SwitchProcess(Child child, Fd control)
        : m_child(std::move(child))
        , m_control(std::move(control))
    {
    }
    VoidResult port_request(const GuestSpec& guest, const std::vector<int>& fds);

    Child m_child;
    LineChannel m_control;
};

// A memfd holding `text`, positioned at its start: how documents reach the worker.
Result<Fd> document_fd(const std::string& text, const char* name);

// One TCP connection from a client guest to a server guest, frame by frame with real sequence
// and acknowledgement numbers, so that the switch's connection tracking and stream reassembly
// see what a guest's kernel would send.
class TcpConnection {
public:
    TcpConnection(const Endpoint& client, const Endpoint& server, uint16_t client_port, uint16_t server_port,
        uint32_t client_isn = 1000, uint32_t server_isn = 500000);

    std::vector<uint8_t> syn();
    std::vector<uint8_t> syn_ack();
    std::vector<uint8_t> ack();
    // Data with ACK|PSH; advances the sender's sequence number.
    std::vector<uint8_t> client_data(std::span<const uint8_t> payload);
    std::vector<uint8_t> server_data(std::span<const uint8_t> payload);
    std::vector<uint8_t> client_fin();
    std::vector<uint8_t> server_fin();

    const Endpoint& client() const { return m_client; }
    const Endpoint& server() const { return m_server; }
    uint16_t client_port() const { return m_client_port; }
    uint16_t server_port() const { return m_server_port; }
    uint32_t client_seq() const { return m_client_seq; }

private:
    Endpoint m_client, m_server;
    uint16_t m_client_port, m_server_port;
    uint32_t m_client_seq, m_server_seq;
};

// A batch of framed client data segments of several connections, built once and sent many
// times. Each lap moves every segment's sequence number past the data of the lap before
// (fixing the TCP checksum incrementally, RFC 1624), so that the switch sees new in-order data
// each time, as from a bulk transfer, and never a retransmission, at almost no cost to the
// sender.
class TcpBatch {
public:
    // Appends a data segment of `connection` (which advances it) to the batch. The connection
    // must outlive the batch; laps do not advance it further.
    void add(TcpConnection& connection, std::span<const uint8_t> payload);
    // The framed bytes of the current lap.
    std::span<const uint8_t> bytes() const { return m_bytes; }
    std::size_t frames() const { return m_segments.size(); }
    // Ethernet bytes per lap (without the 4-byte stream headers).
    uint64_t frame_bytes() const { return m_frame_bytes; }
    // Turns the batch into the next lap.
    void advance();

private:
    struct Segment {
        std::size_t seq_at; // offset of the TCP sequence number in m_bytes
        std::size_t checksum_at; // offset of the TCP checksum
        TcpConnection* connection;
    };
    std::vector<uint8_t> m_bytes;
    std::vector<Segment> m_segments;
    std::unordered_map<const TcpConnection*, uint32_t> m_lap_bytes; // payload bytes per lap
    uint64_t m_frame_bytes = 0;
};

// A small deterministic generator (xorshift64*) for payloads and rule contents.
class TrafficRng {
public:
    explicit TrafficRng(uint64_t seed)
        : m_state(seed ? seed : 0x9e3779b97f4a7c15ull)
    {
    }
    uint64_t next();
    uint32_t below(uint32_t bound) { return static_cast<uint32_t>(next() % bound); }

private:
    uint64_t m_state;
};

// Application bytes that look like text protocols (HTTP-like lines of words), so that a
// content prefilter works as it would on real traffic rather than on uniform noise.
std::vector<uint8_t> text_payload(TrafficRng& rng, std::size_t size);

} // namespace bulwark::net
