// The switch's fast path: an established flow cache (issue 5, goal (b)).
//
// When the slow path (net/switch.cpp: decode, anti-spoofing, MAC table, quarantine, flow
// tracking, policy) forwards a unicast IPv4 TCP or UDP frame from one guest to exactly one
// other guest, unchanged, the decision is remembered under the bytes of the frame's header it
// depends on: the ingress port, the Ethernet header (destination MAC, source MAC, ethertype
// 0x0800, so no 802.1Q tag), IPv4 version and IHL (0x45 only: no options), the protocol, the
// addresses and the ports. A later frame on the same port whose header matches an entry and
// which passes structural checks exactly as strict as decode_frame's for that shape (frame
// length, IPv4 total length, no fragment bits, TCP data offset, UDP length) is delivered from
// the entry: the caller has already counted it and charged the port's token buckets, and
// counts it toward the flow (packets, bytes, last seen, expiry order) and the receiving port
// as the slow path would. Everything else takes the slow path: TCP segments with flags other
// than ACK or PSH+ACK (so SYN, FIN and RST always reach the connection tracking), frames of
// flows whose state the frame could change (TCP not established, the first UDP reply), ICMP,
// IPv6, ARP, fragments, broadcast and multicast.
//
// An entry is valid only while
//   - the switch's generation is the one it was learned under (bumped by policy changes,
//     quarantine changes and ports coming and going: everything the slow path's decision reads
//     that is not in the key);
//   - the flow table's removal epoch is unchanged (bumped whenever any flow is removed, timed
//     out, evicted or reused), so the flow the entry points at is still alive;
// and the switch looks it up only while no IDS inspects traffic (IDS disabled, or no rules
// loaded): the IDS must see every packet and every TCP stream. The switch also empties the
// cache when the IDS rules or a segment's addressing change.
//
// The table is bounded: 1024 sets of 2 entries, indexed by a hash keyed with a per-switch
// random seed (a guest cannot aim its flows at another guest's entries); a colliding flow only
// takes the slow path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "net/flow.h"
#include "net/packet.h"

namespace bulwark::net {

// What the slow path decided, and what a hit updates.
struct FastPathTarget {
    void* to_port = nullptr; // the switch's receiving port (opaque here)
    FlowTable::Entry* flow = nullptr;
    bool to_server = false; // the frame's direction in its flow
};

struct FastPathCounters {
    uint64_t hits = 0;
    uint64_t learned = 0;
};

class FastPath {
public:
    static constexpr std::size_t k_sets = 1024;
    static constexpr std::size_t k_ways = 2;

    FastPath();
    ~FastPath();
    FastPath(const FastPath&) = delete;
    FastPath& operator=(const FastPath&) = delete;

    // The decision for a frame received on `ingress`, when an entry matches its header, is
    // valid for this generation and flow epoch, and the frame passes the structural checks and
    // changes no flow state; false otherwise (the slow path decides). Counts a hit.
    bool lookup(uint32_t ingress, std::span<const uint8_t> frame, uint64_t generation, uint64_t flow_epoch, FastPathTarget& out);

    // Called by the slow path when it is about to deliver `packet`, decoded from `frame` as
    // received on `ingress`, unchanged to exactly one port, with no IDS inspecting. Remembers
    // the decision when the frame has the one shape the fast path handles and its flow's state
    // is one that frames of that shape cannot change. `generation` is never 0.
    void learn(uint32_t ingress, std::span<const uint8_t> frame, const Packet& packet, const FastPathTarget& target,
        uint64_t generation, uint64_t flow_epoch);

    void clear();
    const FastPathCounters& counters() const { return m_counters; }

    // True when a frame has the shape the fast path handles and passes decode_frame's checks
    // for it (public for the tests).
    static bool frame_shape_ok(std::span<const uint8_t> frame);

private:
    // The header bytes an entry is found by, as whole words (built in registers: a key put
    // together from narrower stores and read back as words stalls store forwarding). The
    // ethertype (0x0800) and version/IHL (0x45) are not kept: frame_shape_ok requires them of
    // every frame learnt or looked up.
    struct Key {
        uint64_t macs = 0; // bytes 0-7: the destination MAC and 2 bytes of the source MAC
        uint64_t addrs = 0; // bytes 26-33: the source and destination addresses
        uint64_t ports_src = 0; // bytes 34-37 (the ports), then bytes 8-11 (the rest of the source MAC)
        uint64_t ingress_proto = 0; // the ingress port, then the protocol (byte 23)
    };
    // One cache line: the key, the validity (generation 0: unused; the switch's generations
    // start at 1) and the decision.
    struct alignas(64) Slot {
        uint64_t macs = 0;
        uint64_t addrs = 0;
        uint64_t ports_src = 0;
        uint32_t ingress = 0;
        uint8_t proto = 0;
        bool to_server = false;
        uint64_t generation = 0;
        uint64_t flow_epoch = 0;
        void* to_port = nullptr;
        FlowTable::Entry* flow = nullptr;

        bool matches(const Key& k) const
        {
            return macs == k.macs && addrs == k.addrs && ports_src == k.ports_src
                && (uint64_t(ingress) | uint64_t(proto) << 32) == k.ingress_proto;
        }
    };
    static_assert(sizeof(Slot) == 64);

    static Key key_of(uint32_t ingress, const uint8_t* frame);
    std::size_t set_of(const Key& key) const;

    std::unique_ptr<Slot[]> m_slots;
    uint64_t m_seed[2] = {};
    FastPathCounters m_counters;
};

} // namespace bulwark::net
