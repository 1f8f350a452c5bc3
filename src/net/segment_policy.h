// Segmentation policy: which guests may open connections to which, by label, protocol and port.
//
// Guests carry labels (tier=web, tier=db). A policy is a list of allow rules between label
// selectors; everything else between two guests is denied. Rules are directional: they say who
// may *open* a flow. Replies of an allowed flow pass because the switch tracks flows
// (net/flow.h), so no rule is needed for them.
//
// The file format is TOML (docs/network.md):
//
//   [[allow]]
//   name = "web to db"            # optional, shown in `net policy show` and flow records
//   segment = "prod"              # optional: only within this segment (default: every segment)
//   from = { tier = "web" }       # every key=value must be on the source guest; {} = any guest
//   to = { tier = "db" }
//   proto = "tcp"                 # tcp | udp | icmp | any
//   ports = [5432, "8000-8080"]   # destination ports (tcp/udp); omitted = all
//
//   [quarantine]
//   analysis = { role = "forensics" }   # guests that may still reach a quarantined guest
//
//   [uplink]
//   segments = ["prod"]           # segments whose guests get a port to the host (none by default)
//   dns = true                    # their guests may ask the gateway's address for DNS (passt
//                                 # forwards to the host's resolver); off by default
//
//   [[allow]]                     # a rule toward the outside names networks instead of `to`
//   from = { tier = "web" }
//   outside = ["0.0.0.0/0"]       # IPv4 networks beyond the uplink
//   proto = "tcp"
//   ports = [80, 443]
//
// Traffic never crosses segments: a segment is one broadcast domain and one subnet, and the
// switch does not route between them. Outside means beyond the uplink only: whatever a rule
// says, the switch never sends a guest's traffic to 0.0.0.0/8, loopback, multicast, the
// reserved 240.0.0.0/4 or a segment's subnet through it, and 169.254.0.0/16 (where cloud
// metadata services answer) only when a rule names a network inside it. bulwarkd parses and validates the file and hands the
// switch worker its canonical JSON form; the worker compiles it against the ports it has.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "net/packet.h"

namespace bulwark::net {

using Labels = std::map<std::string, std::string>;

// Limits on a policy file, which an operator writes but which is still parsed with care.
inline constexpr std::size_t k_max_policy_bytes = 4 << 20;
inline constexpr std::size_t k_max_policy_rules = 100000;
inline constexpr std::size_t k_max_labels = 32;
inline constexpr std::size_t k_max_label_length = 63;

// A set of required labels; empty matches every guest.
struct Selector {
    Labels labels;
    bool matches(const Labels& guest) const;
};

enum class Proto : uint8_t { Any, Tcp, Udp, Icmp };
const char* proto_name(Proto proto);

struct PortRange {
    uint16_t lo = 0;
    uint16_t hi = 65535;
};

struct AllowRule {
    std::string name;
    std::string segment; // empty: any
    Selector from;
    Selector to;
    std::vector<Cidr> outside; // non-empty: a rule toward the uplink (then `to` is unused)
    Proto proto = Proto::Any;
    std::vector<PortRange> ports; // empty: all ports

    bool to_outside() const { return !outside.empty(); }
};

inline constexpr std::size_t k_max_outside_networks = 256;

struct SegmentPolicy {
    std::vector<AllowRule> allow;
    Selector analysis; // guests allowed to reach quarantined ones
    bool has_analysis = false; // without a [quarantine] table no guest may
    std::vector<std::string> uplink_segments; // sorted, unique
    bool uplink_dns = false; // DNS to the gateway goes through the uplink to the host's resolver

    bool has_uplink(const std::string& segment) const;

    Json to_json() const;
    static Result<SegmentPolicy> from_json(const Json& j);
};

// False for the addresses no [[allow]] rule opens through an uplink: IPv6 (the uplink carries
// IPv4), 0.0.0.0/8, loopback, multicast, 240.0.0.0/4 and the limited broadcast.
bool outside_address_is_reachable(const IpAddr& dst);

// Parses a TOML policy; errors name the file (source) and the line.
Result<SegmentPolicy> parse_segment_policy(const std::string& text, const std::string& source);

// Checks a guest's label set: keys and values are [A-Za-z0-9._-]{1,63}, at most 32 labels.
VoidResult validate_labels(const Labels& labels);
// "tier=web,role=x" → labels (the form `vm create --net SEG,label=tier=web` uses).
Result<Labels> parse_label(const std::string& text, Labels into);

// A port as the policy sees it.
struct PolicyPort {
    uint32_t id = 0;
    std::string segment;
    Labels labels;
};

// The policy resolved against the current ports: for each ordered pair of ports in the same
// segment, the protocol/port ranges the first may open toward the second. Lookups run once per
// new flow, so they are a hash lookup plus a short scan.
class CompiledPolicy {
public:
    static CompiledPolicy compile(const SegmentPolicy& policy, const std::vector<PolicyPort>& ports);

    // May `src` open a flow of this protocol to `dst` on this destination port? The name of the
    // allowing rule is written to *rule when it does.
    bool allows(uint32_t src, uint32_t dst, uint8_t ip_proto, uint16_t dst_port, std::string* rule = nullptr) const;
    // May `src` open a flow through its uplink to `dst`, outside? Also false for the addresses
    // no rule can open (see the top of this file).
    bool allows_outside(uint32_t src, const IpAddr& dst, uint8_t ip_proto, uint16_t dst_port, std::string* rule = nullptr) const;
    bool is_analysis(uint32_t port) const;

    // The compiled result, for `bulwark net policy show`: every allowed pair of ports.
    Json to_json(const std::unordered_map<uint32_t, std::string>& port_names) const;
    std::size_t pair_count() const { return m_pairs.size(); }

private:
    struct Entry {
        Proto proto;
        PortRange ports;
        uint32_t rule; // index into m_rule_names
    };
    static uint64_t key(uint32_t src, uint32_t dst) { return (uint64_t(src) << 32) | dst; }

    struct OutsideEntry {
        Proto proto;
        PortRange ports;
        Cidr network;
        uint32_t rule;
    };

    std::vector<std::string> m_rule_names;
    std::unordered_map<uint64_t, std::vector<Entry>> m_pairs;
    std::unordered_map<uint32_t, std::vector<OutsideEntry>> m_outside; // by source port
    std::vector<uint32_t> m_analysis;
};

} // namespace bulwark::net
