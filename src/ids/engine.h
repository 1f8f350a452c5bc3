// The IDS/IPS matcher: a RuleSet compiled into a Hyperscan prefilter plus per-rule checks.
//
// Per packet, Hyperscan scans the inspected bytes once for every rule's fast pattern (one
// literal per rule); only the rules whose literal occurs, plus the rules of the packet's
// protocol that have no positive content, are checked in full (header, flow, dsize, flags,
// contents, pcre, threshold). See docs/ids-rules.md.
//
// Threading: an Engine is used by one thread at a time (it owns the Hyperscan scratch, the
// pcre match data and the threshold table). clone() makes another engine for another thread
// that shares the compiled databases and rules (cheap: new scratch only) but has its own
// threshold state.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/result.h"
#include "ids/rule_parser.h"
#include "net/packet.h"

namespace bulwark::ids {

// What the switch knows about a packet besides its bytes.
struct InspectInput {
    const net::Packet& packet;
    bool has_flow = false; // the packet belongs to a tracked connection
    bool to_server = true; // direction within it (the initiator is the client)
    bool established = false; // TCP: handshake done; UDP: replies seen
    uint64_t flow_id = 0;
    // TCP: the reassembled bytes of this direction so far (bounded by the caller), of which
    // bytes from stream_new_offset on are new with this packet. When non-empty, content and
    // pcre match over it instead of packet.payload, and only a match whose last byte is new
    // counts, so data already inspected does not alert again.
    std::span<const uint8_t> stream {};
    size_t stream_new_offset = 0;
    uint64_t now_ns = 0; // a monotonic clock, for thresholds
};

// The most alerts one packet reports (Suricata's default is 15).
inline constexpr size_t k_max_alerts_per_packet = 15;
// Threshold state entries (rule, tracked address); the oldest expired ones go first.
inline constexpr size_t k_max_threshold_entries = 65536;
// Backtracking steps per rule per packet for contents with relative modifiers: past it the
// rule does not match (a pathological rule cannot stall the switch).
inline constexpr size_t k_max_match_steps = 4096;
// pcre2 limits per match call.
inline constexpr uint32_t k_pcre_match_limit = 100000;
inline constexpr uint32_t k_pcre_depth_limit = 1000;

struct Verdict {
    // Pass beats Drop beats Reject beats Alert. A matching pass rule clears the alerts.
    Action action = Action::None;
    // The matching alert/drop/reject rules that produce an alert (thresholds applied), most
    // severe action first. Pointers into the Engine's rules: valid while the Engine lives.
    std::vector<const Rule*> alerts;
};

struct EngineStats {
    uint64_t packets = 0;
    uint64_t candidates = 0; // rules checked in full
    uint64_t matches = 0;
    uint64_t thresholded = 0; // alerts suppressed by threshold
    uint64_t step_limit_hits = 0;
    uint64_t pcre_limit_hits = 0;
};

class Engine {
public:
    // Compiles the rules. Fails (Unavailable) when the CPU lacks what Hyperscan needs, or
    // (InvalidArgument) when a pattern does not compile.
    static Result<std::unique_ptr<Engine>> create(std::vector<Rule> rules);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Another engine over the same compiled rules, for another thread.
    Result<std::unique_ptr<Engine>> clone() const;

    Verdict inspect(const InspectInput& input);

    const std::vector<Rule>& rules() const;
    const EngineStats& stats() const { return m_stats; }
    size_t prefiltered_rule_count() const; // rules with a fast pattern
    size_t threshold_entries() const;

    struct Compiled;
    struct Scratch;

private:
    Engine(std::shared_ptr<const Compiled> compiled, std::unique_ptr<Scratch> scratch);

    std::shared_ptr<const Compiled> m_compiled;
    std::unique_ptr<Scratch> m_scratch;
    EngineStats m_stats;
};

// The frame a reject rule sends back to the packet's sender: for TCP a RST from the
// destination (seq/ack per RFC 793, checksums set); for UDP and other IP an ICMP (or ICMPv6)
// port unreachable from the destination quoting the offending datagram. Empty when nothing
// may be sent: not IP, a fragment past the first, an ICMP error or RST itself, or a multicast
// or broadcast sender or destination.
std::vector<uint8_t> build_reject_frame(const net::Packet& packet);

} // namespace bulwark::ids
