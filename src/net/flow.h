// Connection tracking for the switch and the IDS: one Flow per conversation, found from any
// packet of it in either direction.
//
// A flow's key is the normalised 5-tuple (the lower address/port pair first, so both
// directions find the same flow): protocol, addresses, and ports for TCP and UDP; for ICMP
// echo the identifier stands for both ports; other ICMP messages and other protocols have
// ports 0. The client is the source of the first packet seen.
//
// Limits and policies:
//   - at most max_flows flows (default 65536). When the table is full, a new flow evicts the
//     flow closest to its timeout (so a half-open or idle flow goes before an active
//     established one); new flows are never refused, since refusing would let a flood of junk
//     flows block every new legitimate connection for as long as their timeouts.
//   - per-state idle timeouts (FlowTimeouts), measured from the last packet.
//   - the two TcpStreams of all flows share a byte budget for out-of-order data (default
//     64 MiB), on top of each stream's own limits.
// Flows that end (timed out, evicted, or replaced by a new connection on the same ports) are
// handed to the caller by expire(), which must be called regularly (e.g. once a second); at
// most max_ended such records wait there, older ones are counted as lost.
//
// There are no clocks inside: now_ns (monotonic) is always an argument. track() is on the
// per-frame path: one hash lookup with a per-table random seed (so guests cannot aim for hash
// collisions), and O(1) list moves for expiry.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <unordered_map>

#include "net/packet.h"
#include "net/tcp_stream.h"

namespace bulwark::net {

enum class FlowState : uint8_t {
    New, // UDP, ICMP, other: no reply seen yet
    SynSent, // TCP: SYN seen
    SynRecv, // TCP: SYN+ACK seen
    Established, // TCP: handshake done (or picked up mid-stream); others: a reply seen
    Closing, // TCP: a FIN seen
    Closed, // TCP: FINs from both sides, or a RST
};
const char* flow_state_name(FlowState state);

// Why a flow left the table, as told to expire()'s callback.
enum class FlowEnd : uint8_t {
    Timeout, // idle longer than its state's timeout
    Evicted, // the table was full
    Reused, // a new TCP connection (SYN) arrived on the ports of a closed one
};
const char* flow_end_name(FlowEnd end);

struct FlowKey {
    IpAddr lo_ip;
    IpAddr hi_ip;
    uint16_t lo_port = 0;
    uint16_t hi_port = 0;
    uint8_t proto = 0;

    // The key of an IP packet (the caller checks packet.is_ip()).
    static FlowKey from_packet(const Packet& packet);
    bool operator==(const FlowKey&) const = default;
};

struct FlowTimeouts {
    static constexpr uint64_t k_second = 1000ULL * 1000 * 1000;
    uint64_t tcp_handshake = 60 * k_second; // SynSent, SynRecv
    uint64_t tcp_established = 3600 * k_second;
    uint64_t tcp_closing = 120 * k_second;
    uint64_t tcp_closed = 30 * k_second;
    uint64_t udp = 60 * k_second;
    uint64_t icmp = 30 * k_second;
    uint64_t other = 60 * k_second;
};

struct FlowLimits {
    size_t max_flows = 65536;
    size_t max_ended = 4096; // ended flows waiting for expire()
    FlowTimeouts timeouts;
    TcpStreamLimits tcp;
    size_t tcp_budget_bytes = 64 * 1024 * 1024;
};

struct Flow {
    uint64_t id = 0; // unique in this table, never 0
    FlowKey key;
    IpAddr client_ip;
    IpAddr server_ip;
    uint16_t client_port = 0;
    uint16_t server_port = 0;
    uint8_t proto = 0;
    FlowState state = FlowState::New;
    bool fin_from_client = false;
    bool fin_from_server = false;
    uint64_t first_ns = 0;
    uint64_t last_ns = 0;
    uint64_t packets_to_server = 0;
    uint64_t packets_to_client = 0;
    uint64_t bytes_to_server = 0; // whole frames
    uint64_t bytes_to_client = 0;
    // Reassembly of each direction; the table does not feed them: the IDS does, with the
    // packets it inspects.
    TcpStream to_server;
    TcpStream to_client;

    // Owned by the caller; the table only zeroes them for a new flow.
    uint8_t verdict = 0;
    uint32_t policy_generation = 0;
    uint32_t tag = 0;
};

struct Tracked {
    Flow* flow = nullptr; // nullptr for non-IP packets and non-first fragments
    bool to_server = false;
    bool is_new = false;
};

struct FlowCounters {
    uint64_t created = 0;
    uint64_t timed_out = 0;
    uint64_t evicted = 0;
    uint64_t reused = 0;
    uint64_t removed = 0;
    uint64_t records_lost = 0; // ended flows dropped because expire() was not called in time
    uint64_t untracked = 0; // non-IP packets and non-first fragments
};

class FlowTable {
public:
    explicit FlowTable(const FlowLimits& limits = {});
    ~FlowTable();
    FlowTable(const FlowTable&) = delete;
    FlowTable& operator=(const FlowTable&) = delete;

    // Finds or creates the flow of a packet and updates its state and counters. The Flow*
    // stays valid until the flow is removed, expired or evicted (by a later track()).
    Tracked track(const Packet& packet, uint64_t now_ns);

    // Hands every ended flow (evicted or reused since the last call, then those idle past
    // their timeout at now_ns) to on_end, then forgets it. Returns how many.
    size_t expire(uint64_t now_ns, const std::function<void(Flow&, FlowEnd)>& on_end);

    Flow* find(const FlowKey& key);
    // Forgets a flow without reporting it.
    void remove(Flow* flow);

    // For a caller that keeps flows between packets (the switch's fast path, net/fast_path.h).
    // Every removal of a flow (timed out, evicted, reused, removed) bumps the removal epoch, so
    // a Flow* or Entry* kept while the epoch has not changed still points at a live flow.
    struct Entry;
    uint64_t removal_epoch() const { return m_removal_epoch; }
    // The table entry of a flow found by track() (a lookup); nullptr when it is not here.
    Entry* entry_of(const Flow& flow);
    // What track() does for a packet of an existing flow that changes nothing in its state:
    // its direction's packet and byte counts, its last-seen time and its place in the expiry
    // order. The caller has checked that the packet changes no state (net/fast_path.cpp).
    void account(Entry& entry, bool to_server, size_t frame_bytes, uint64_t now_ns);
    void for_each(const std::function<void(Flow&)>& fn);
    size_t size() const { return m_table.size(); }
    const FlowCounters& counters() const { return m_counters; }
    const TcpBudget& tcp_budget() const { return m_budget; }

    struct KeyHash {
        uint64_t seed = 0;
        size_t operator()(const FlowKey& key) const;
    };

    struct Entry {
        Flow flow;
        uint8_t timeout_class = 0;
        std::list<Flow*>::iterator position;
    };

private:
    static constexpr size_t k_classes = 7;
    using Table = std::unordered_map<FlowKey, Entry, KeyHash>;

    uint8_t timeout_class(const Flow& flow) const;
    uint64_t timeout_of(uint8_t timeout_class) const;
    void touch(Entry& entry, uint64_t now_ns);
    void end(Table::iterator it, FlowEnd reason);
    void update_state(Flow& flow, const Packet& packet, bool to_server);

    FlowLimits m_limits;
    TcpBudget m_budget; // declared first: the streams below give their bytes back to it
    FlowCounters m_counters;
    Table m_table;
    std::list<Flow*> m_by_class[k_classes]; // each least recently used first
    std::deque<std::pair<Flow, FlowEnd>> m_ended;
    uint64_t m_next_id = 1;
    uint64_t m_removal_epoch = 0;
};

} // namespace bulwark::net
