#include "net/fast_path.h"

#include <cstring>
#include <random>

#include "base/endian.h"
#include "net/switch.h"
#include "net/traffic_inspector.h"

namespace bulwark::net {

namespace {

constexpr std::size_t k_eth = 14;
constexpr std::size_t k_ip = 20; // IHL 5: the only IPv4 header length the fast path takes
constexpr std::size_t k_tcp_min = 20;
constexpr std::size_t k_udp = 8;
constexpr uint8_t k_ipv4_ihl5 = 0x45;

static_assert((FastPath::k_sets & (FastPath::k_sets - 1)) == 0, "the set count is a power of two");

// May a frame of the fast path's shape in this direction leave the flow's state as it is? It
// never has SYN, FIN or RST (frame_shape_ok), so a TCP flow in Established stays there
// (FlowTable::update_state); other TCP states are left to the slow path. A UDP flow becomes
// Established with its first reply, so that reply takes the slow path.
bool state_is_stable(const Flow& flow, bool to_server)
{
    if (flow.proto == ipproto::tcp)
        return flow.state == FlowState::Established;
    return flow.state == FlowState::Established || (flow.state == FlowState::New && to_server);
}

uint64_t mum(uint64_t a, uint64_t b)
{
    unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

} // namespace

// The checks decode_frame (net/packet.cpp) makes of an Ethernet II frame carrying IPv4 with a
// 20-byte header and TCP or UDP, in the same terms, so that a frame passing them is one the
// slow path decodes, to the same header fields:
//   - at most k_max_frame bytes (and at least 42, which the lengths below imply); ethertype
//     0x0800 (no 802.1Q tag);
//   - version 4, IHL 5; the total length at least the header and at most the bytes present
//     (the rest is Ethernet padding); no more-fragments flag and a fragment offset of 0 (DF and
//     the reserved bit are not looked at, as in decode_ipv4);
//   - TCP: at least 20 bytes of IP payload, a data offset of at least 20 bytes and no more than
//     the IP payload; UDP: at least 8 bytes of IP payload, a UDP length of at least 8 and no
//     more than the IP payload.
// On top of decoding, TCP flags must be exactly ACK or PSH+ACK: anything else (SYN, FIN, RST,
// URG, ECE, CWR, none) takes the slow path, so connection tracking sees every state change.
bool FastPath::frame_shape_ok(std::span<const uint8_t> frame)
{
    const std::size_t size = frame.size();
    if (size < k_eth + k_ip + k_udp || size > k_max_frame)
        return false;
    const uint8_t* f = frame.data();
    if (load_be16(f + 12) != ethertype::ipv4 || f[14] != k_ipv4_ihl5)
        return false;
    std::size_t total = load_be16(f + 16);
    if (total > size - k_eth || (load_be16(f + 20) & 0x3fff) != 0)
        return false;
    switch (f[23]) {
    case ipproto::tcp: {
        if (total < k_ip + k_tcp_min)
            return false;
        std::size_t header = std::size_t(f[k_eth + k_ip + 12] >> 4) * 4;
        uint8_t flags = f[k_eth + k_ip + 13];
        return header >= k_tcp_min && header <= total - k_ip && (flags == tcpflag::ack || flags == (tcpflag::ack | tcpflag::psh));
    }
    case ipproto::udp: {
        if (total < k_ip + k_udp)
            return false;
        std::size_t length = load_be16(f + k_eth + k_ip + 4);
        return length >= k_udp && length <= total - k_ip;
    }
    default:
        return false;
    }
}

FastPath::FastPath()
    : m_slots(std::make_unique<Slot[]>(k_sets * k_ways))
{
    std::random_device rd;
    for (auto& s : m_seed)
        s = (uint64_t(rd()) << 32) ^ rd() ^ 0x9e3779b97f4a7c15ULL;
}

FastPath::~FastPath() = default;

// Only for frames that passed frame_shape_ok (at least 42 bytes).
FastPath::Key FastPath::key_of(uint32_t ingress, const uint8_t* f)
{
    uint64_t macs, addrs;
    uint32_t ports, src_tail;
    std::memcpy(&macs, f, 8);
    std::memcpy(&addrs, f + 26, 8);
    std::memcpy(&ports, f + 34, 4);
    std::memcpy(&src_tail, f + 8, 4);
    return Key { macs, addrs, uint64_t(ports) | uint64_t(src_tail) << 32, uint64_t(ingress) | uint64_t(f[23]) << 32 };
}

// The guest chooses the destination (among its peers), the ports and the protocol; its own
// addresses are fixed by anti-spoofing. One 128-bit multiply of the seeded words (as in
// wyhash) mixes them well enough that the sets cannot be aimed at without the seed.
std::size_t FastPath::set_of(const Key& key) const
{
    uint64_t a = key.addrs ^ key.macs ^ m_seed[0];
    uint64_t b = key.ports_src ^ (key.ingress_proto << 16) ^ m_seed[1];
    return static_cast<std::size_t>(mum(a, b)) & (k_sets - 1);
}

bool FastPath::lookup(
    uint32_t ingress, std::span<const uint8_t> frame, uint64_t generation, uint64_t flow_epoch, FastPathTarget& out)
{
    if (!frame_shape_ok(frame))
        return false;
    Key key = key_of(ingress, frame.data());
    const Slot* set = &m_slots[set_of(key) * k_ways];
    for (std::size_t way = 0; way < k_ways; ++way) {
        const Slot& slot = set[way];
        if (!slot.matches(key))
            continue;
        // The flow may be looked at only once the epoch says it is still alive.
        if (slot.generation != generation || slot.flow_epoch != flow_epoch || !state_is_stable(slot.flow->flow, slot.to_server))
            return false;
        ++m_counters.hits;
        out = FastPathTarget { slot.to_port, slot.flow, slot.to_server };
        return true;
    }
    return false;
}

void FastPath::learn(uint32_t ingress, std::span<const uint8_t> frame, const Packet& packet, const FastPathTarget& target,
    uint64_t generation, uint64_t flow_epoch)
{
    // The decoded packet must be this frame's own (not a reassembled datagram), unicast, of
    // the one shape, and its flow in a state such frames do not change.
    if (packet.frame.data() != frame.data() || packet.frame.size() != frame.size() || packet.l3 != L3::Ipv4 || packet.vlan
        || packet.is_fragment || packet.ip_header.size() != k_ip || (packet.l4 != L4::Tcp && packet.l4 != L4::Udp)
        || packet.dst.is_multicast() || !target.flow || !target.to_port || generation == 0)
        return;
    if (!frame_shape_ok(frame) || !state_is_stable(target.flow->flow, target.to_server))
        return;
    Key key = key_of(ingress, frame.data());
    Slot* set = &m_slots[set_of(key) * k_ways];
    // The same key again (after an invalidation) replaces its entry; otherwise an unused or
    // stale way is taken; otherwise the newer entry moves to the second way and the older one
    // is forgotten.
    Slot* slot = nullptr;
    for (std::size_t way = 0; way < k_ways && !slot; ++way) {
        if (set[way].generation != 0 && set[way].matches(key))
            slot = &set[way];
    }
    for (std::size_t way = 0; way < k_ways && !slot; ++way) {
        if (set[way].generation != generation || set[way].flow_epoch != flow_epoch)
            slot = &set[way];
    }
    if (!slot) {
        for (std::size_t way = k_ways - 1; way > 0; --way)
            set[way] = set[way - 1];
        slot = &set[0];
    }
    slot->macs = key.macs;
    slot->addrs = key.addrs;
    slot->ports_src = key.ports_src;
    slot->ingress = ingress;
    slot->proto = frame[23];
    slot->to_server = target.to_server;
    slot->generation = generation;
    slot->flow_epoch = flow_epoch;
    slot->to_port = target.to_port;
    slot->flow = target.flow;
    ++m_counters.learned;
}

void FastPath::clear()
{
    for (std::size_t i = 0; i < k_sets * k_ways; ++i)
        m_slots[i] = Slot {};
}

// The switch's two hooks (declared in net/switch.h, kept here with the rest of the fast path).

// Called for every frame from a guest port once it is counted and within the port's rate
// limit: true when the fast path delivered it.
bool Switch::fast_forward(Port& port, std::span<const uint8_t> frame, uint64_t now_ns)
{
    m_fast_frame = frame;
    if (!m_fast || (m_options.ids_enabled && m_inspector->has_engine()))
        return false;
    FlowTable& flows = m_inspector->flow_table();
    FastPathTarget hit;
    if (!m_fast->lookup(port.config.id, frame, m_generation, flows.removal_epoch(), hit))
        return false;
    flows.account(*hit.flow, hit.to_server, frame.size(), now_ns);
    deliver(*static_cast<Port*>(hit.to_port), frame, now_ns);
    return true;
}

// Called by forward_ip when a guest's frame has passed every check up to the IDS and is about
// to be delivered to `to`.
void Switch::fast_learn(Port& from, Port& to, const Packet& packet, const Tracked& tracked)
{
    if (!m_fast || (m_options.ids_enabled && m_inspector->has_engine()) || !tracked.flow)
        return;
    if (packet.frame.data() != m_fast_frame.data() || packet.frame.size() != m_fast_frame.size())
        return;
    FlowTable& flows = m_inspector->flow_table();
    FlowTable::Entry* entry = flows.entry_of(*tracked.flow);
    if (!entry)
        return;
    m_fast->learn(from.config.id, m_fast_frame, packet, FastPathTarget { &to, entry, tracked.to_server }, m_generation,
        flows.removal_epoch());
}

Json Switch::fast_path_status() const
{
    if (!m_fast)
        return { { "enabled", false } };
    const auto& c = m_fast->counters();
    return { { "enabled", true }, { "hits", c.hits }, { "learned", c.learned } };
}

} // namespace bulwark::net
