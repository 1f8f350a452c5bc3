// What the switch and the offline mode (`bulwark net inspect --pcap`) share: IP fragment
// reassembly, connection tracking, TCP stream reassembly, the IDS verdict and its EVE JSON
// lines (alert, drop, flow). Running one class in both places is what makes the offline mode
// a faithful test of rules before they are deployed on the switch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "net/defrag.h"
#include "net/flow.h"
#include "net/packet.h"

namespace bulwark::ids {
class Engine;
struct Verdict;
} // namespace bulwark::ids

namespace bulwark::net {

struct TrafficInspectorOptions {
    std::string interface_name = "bulwark0";
    // Added to the monotonic time the caller passes, for EVE's wall-clock timestamps. The
    // offline mode passes capture timestamps and an offset of 0.
    uint64_t wall_offset_ns = 0;
    FlowLimits flows;
    DefragLimits defrag;
};

// The outcome of reassembly for one decoded packet.
struct Reassembled {
    enum class Kind : uint8_t { Whole, Held, Dropped };
    Kind kind = Kind::Whole;
    std::optional<Packet> packet; // for Whole: the packet itself, or the reassembled datagram
};

enum class IdsAction : uint8_t { Forward, Drop, Reject };

class TrafficInspector {
public:
    explicit TrafficInspector(TrafficInspectorOptions options = {});
    ~TrafficInspector();

    void set_engine(std::shared_ptr<ids::Engine> engine) { m_engine = std::move(engine); }
    bool has_engine() const { return m_engine != nullptr; }
    const ids::Engine* engine() const { return m_engine.get(); }
    void set_eve_sink(std::function<void(const std::string&)> sink) { m_eve = std::move(sink); }

    // Fragments are held until their datagram is whole; the reassembled datagram's bytes
    // live in this object until the next call.
    Reassembled reassemble(const Packet& packet, uint64_t now_ns);
    Tracked track(const Packet& packet, uint64_t now_ns) { return m_flows.track(packet, now_ns); }
    // Runs the IDS over a tracked packet (feeding its TCP stream), writes alert and drop
    // events, and says what to do with the packet. `iface` names the port in EVE.
    IdsAction inspect(const Packet& packet, const Tracked& tracked, uint64_t now_ns, const std::string& iface);
    // Expires flows (writing their EVE flow records) and fragment buffers.
    void tick(uint64_t now_ns);
    // Ends every flow now, writing its record (the offline mode at the end of a capture).
    void flush(uint64_t now_ns);

    std::size_t flow_count() const { return m_flows.size(); }
    const DefragCounters& defrag_counters() const { return m_defrag.counters(); }
    const FlowCounters& flow_counters() const { return m_flows.counters(); }
    // The switch's fast path (net/fast_path.h) accounts the packets of flows it keeps here.
    FlowTable& flow_table() { return m_flows; }
    uint64_t alerts() const { return m_alerts; }
    uint64_t drops() const { return m_drops; }

private:
    int64_t wall_us(uint64_t now_ns) const;
    void write_flow(Flow& flow, int reason, uint64_t now_ns); // reason: an ids::FlowEndReason

    TrafficInspectorOptions m_options;
    FlowTable m_flows;
    Defragmenter m_defrag;
    std::shared_ptr<ids::Engine> m_engine;
    std::function<void(const std::string&)> m_eve;
    std::vector<uint8_t> m_reassembled;
    uint64_t m_alerts = 0;
    uint64_t m_drops = 0;
};

} // namespace bulwark::net
