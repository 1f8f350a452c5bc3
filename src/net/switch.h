// The switch engine: what happens to one frame from one guest port. No sockets here (the
// worker, net/switch_main.cpp, does the I/O), so tests and the benchmarks drive it directly.
//
// A frame from a port goes through, in order (docs/network.md):
//   1. the port's rate limit (frames/s and bytes/s token buckets);
//   2. the fast path (net/fast_path.h): a frame of an established flow whose forwarding was
//      decided before, with nothing it depends on changed since, is delivered at once;
//   3. decoding (net/packet.h): a malformed frame is counted and dropped;
//   4. anti-spoofing: the source MAC must be the port's; ARP's sender must be the port's MAC
//      and address; an IPv4 source must be the port's address, an IPv6 source the port's
//      address or its link-local one; 802.1Q tags and other ethertypes are dropped;
//   5. the switch's own services: DHCP (the port's assigned address) and ARP for its address;
//   6. IP fragments are held until the datagram is whole (net/defrag.h) and inspected whole;
//   7. destination: learned MAC table within the segment; broadcast and multicast go to every
//      other port of the segment; unknown unicast is dropped, never flooded;
//   8. quarantine: a quarantined port reaches, and is reached by, analysis ports only;
//   9. segmentation: a new flow must be allowed by the policy (net/segment_policy.h); its
//      replies pass; a policy change re-checks each flow on its next packet, so flows the new
//      policy still allows are not dropped;
//  10. the IDS (ids/engine.h) over the packet and its reassembled TCP stream: drop and reject
//      stop the frame (reject also answers the sender), alerts are written as EVE JSON;
//  11. delivery to the destination ports. (Captures are the worker's: it sees every frame a
//      port sends and every frame delivered to it.)
//
// Uplinks: a guest port on a segment with an uplink has a second, hidden port beside it, the
// uplink (bulwarkd connects it to a passt process of its own that carries the guest's flows to
// the host's network). IPv4 a guest sends to the segment's gateway MAC, not to the gateway's own
// address, goes out through its uplink when the policy's `outside` rules allow the flow (and,
// with [uplink] dns, DNS to the gateway's own address, which passt forwards); what
// the uplink sends back must be addressed to that guest, come from an outside address, and
// belong to a flow the guest opened (nothing is opened from outside). Both directions pass the
// quarantine check, the flow tracking and the IDS like guest-to-guest traffic; the uplink's
// frames reach the guest from the gateway's MAC.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/json.h"
#include "net/dhcp.h"
#include "net/packet.h"
#include "net/segment_policy.h"

namespace bulwark::ids {
class Engine;
}

namespace bulwark::net {

class TrafficInspector;
class FastPath;
struct Flow;
struct Tracked;

struct SegmentConfig {
    std::string name;
    Cidr subnet; // IPv4
    SegmentAddressing addressing;
};

struct PortConfig {
    uint32_t id = 0;
    std::string name; // the guest's name, and the NIC index when it has several: "web1" or "web1.1"
    std::string segment;
    Labels labels;
    MacAddr mac;
    IpAddr ip4;
    std::optional<IpAddr> ip6; // besides the link-local address derived from the MAC
    bool quarantined = false;
    // Token buckets; 0 turns a limit off. Bursts of up to 1/10 s of the rate are allowed.
    uint64_t max_frames_per_second = 20000;
    uint64_t max_bytes_per_second = 50ull << 20;
};

struct PortCounters {
    uint64_t rx_frames = 0, rx_bytes = 0, tx_frames = 0, tx_bytes = 0;
    uint64_t drop_rate = 0, drop_malformed = 0, drop_spoofed = 0, drop_unknown_dest = 0, drop_policy = 0, drop_quarantine = 0,
             drop_ids = 0, drop_not_ip = 0, dhcp_answers = 0, ids_alerts = 0;
    Json to_json() const;
};

// Where the switch sends frames: the worker writes them to the port's socket; tests collect.
class FrameSink {
public:
    virtual ~FrameSink() = default;
    virtual void deliver(uint32_t port, std::span<const uint8_t> frame) = 0;
};

struct SwitchOptions {
    bool ids_enabled = true;
    std::string interface_name = "bulwark0"; // EVE's in_iface for flow records
    // Added to the monotonic now_ns the switch is given, for EVE's wall-clock timestamps
    // (0: taken from the clocks at construction).
    uint64_t wall_offset_ns = 0;
    // The established flow cache (net/fast_path.h); off only for tests and benchmarks.
    bool fast_path = true;
};

class Switch {
public:
    explicit Switch(FrameSink& sink, SwitchOptions options = {});
    ~Switch();
    Switch(const Switch&) = delete;
    Switch& operator=(const Switch&) = delete;

    VoidResult add_segment(SegmentConfig segment);
    VoidResult add_port(PortConfig port);
    // The uplink of guest port `owner` (same segment); its frames may be up to
    // k_max_reassembled_frame long (they are fragmented toward the guest).
    VoidResult add_uplink(uint32_t id, uint32_t owner, std::string name);
    // Removes a guest port (and unhooks its uplink) or an uplink.
    void remove_port(uint32_t id);
    VoidResult set_quarantine(uint32_t id, bool quarantined);
    void set_policy(SegmentPolicy policy);
    // The IDS rules (nullptr: none). The engine must outlive its use here.
    void set_ids(std::shared_ptr<ids::Engine> engine);

    // EVE JSON lines (alerts, drops, flow records) go here; none are produced without it.
    void set_eve_sink(std::function<void(const std::string& line)> sink);

    // One frame sent by a guest.
    void receive(uint32_t port, std::span<const uint8_t> frame, uint64_t now_ns);
    // Time passes: expire flows (writing their flow records) and fragment buffers.
    void tick(uint64_t now_ns);

    const PortCounters* counters(uint32_t port) const;
    Json status() const;
    Json compiled_policy() const;
    std::size_t flow_count() const;
    uint64_t policy_generation() const { return m_generation; }

private:
    struct Bucket {
        double frames = 0, bytes = 0;
        uint64_t last_ns = 0;
    };
    struct Port {
        PortConfig config;
        bool is_uplink = false;
        Port* uplink = nullptr; // a guest port's uplink, if it has one
        Port* owner = nullptr; // an uplink's guest port (null once that is removed)
        IpAddr link_local;
        const SegmentConfig* segment = nullptr;
        // The segment's MAC table and port list (entries of m_macs and m_segment_ports, which
        // are never erased, so the pointers stay valid): found once here rather than by
        // hashing the segment's name for every frame, which cost several percent of forwarding.
        std::unordered_map<uint64_t, Port*>* macs = nullptr;
        std::vector<Port*>* peers = nullptr;
        PortCounters counters;
        Bucket bucket;
    };
    enum class Verdict : uint8_t { Unknown = 0, Allowed = 1, Denied = 2 };

    bool take_tokens(Port& port, std::size_t bytes, uint64_t now_ns);
    bool source_is_valid(const Port& port, const Packet& packet) const;
    void handle(Port& port, const Packet& packet, uint64_t now_ns);
    void forward_l2(Port& from, const Packet& packet, uint64_t now_ns);
    void forward_ip(Port& from, const Packet& packet, uint64_t now_ns);
    void forward_outside(Port& from, const Packet& packet, uint64_t now_ns);
    void receive_from_uplink(Port& uplink, std::span<const uint8_t> frame, uint64_t now_ns);
    // The common end of both paths: the IDS, then delivery (re-fragmenting a large datagram).
    void inspect_and_deliver(Port& from, Port& to, const Packet& packet, const Tracked& tracked, uint64_t now_ns);
    bool outside_allows_flow(const Port& guest, const Packet& packet, Flow& flow, bool guest_is_client, bool from_guest);
    bool in_a_segment(const IpAddr& ip) const;
    // [uplink] dns: the guest may ask the gateway's address for DNS (through its uplink).
    bool gateway_dns(const Port& guest) const;
    static bool has_ports(const Packet& packet); // TCP or UDP
    bool quarantine_blocks(const Port& a, const Port& b) const;
    bool policy_allows_flow(const Port& from, const Port& to, const Packet& packet, Flow& flow, bool to_server);
    void deliver(Port& to, std::span<const uint8_t> frame, uint64_t now_ns);
    // The fast path's hooks (net/fast_path.cpp).
    bool fast_forward(Port& port, std::span<const uint8_t> frame, uint64_t now_ns);
    void fast_learn(Port& from, Port& to, const Packet& packet, const Tracked& tracked);
    Json fast_path_status() const;
    void recompile();
    const std::string& port_name(const Port& port) const;

    FrameSink& m_sink;
    SwitchOptions m_options;
    std::unordered_map<std::string, std::unique_ptr<SegmentConfig>> m_segments;
    std::unordered_map<uint32_t, std::unique_ptr<Port>> m_ports;
    std::unordered_map<std::string, std::vector<Port*>> m_segment_ports;
    // (segment, MAC) → port; learned from validated source MACs only, so it cannot be poisoned.
    std::unordered_map<std::string, std::unordered_map<uint64_t, Port*>> m_macs;
    SegmentPolicy m_policy;
    CompiledPolicy m_compiled;
    uint64_t m_generation = 1;
    std::unique_ptr<TrafficInspector> m_inspector;
    std::unique_ptr<FastPath> m_fast; // null when SwitchOptions::fast_path is off
    std::span<const uint8_t> m_fast_frame; // the guest frame being handled (compared, never read)
    Port* m_last_port = nullptr; // the port receive() found last (reset by remove_port)
    std::vector<uint8_t> m_rewrite; // a frame from an uplink, readdressed to its guest
};

} // namespace bulwark::net
