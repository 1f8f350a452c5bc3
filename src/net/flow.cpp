#include "net/flow.h"

#include <cstring>
#include <random>

namespace bulwark::net {

namespace {

enum TimeoutClass : uint8_t {
    k_tcp_handshake,
    k_tcp_established,
    k_tcp_closing,
    k_tcp_closed,
    k_udp,
    k_icmp,
    k_other,
};

uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v;
    h *= 0x9e3779b97f4a7c15ULL;
    h ^= h >> 32;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 29);
}

bool pair_less(const IpAddr& a_ip, uint16_t a_port, const IpAddr& b_ip, uint16_t b_port)
{
    if (a_ip != b_ip)
        return a_ip < b_ip;
    return a_port < b_port;
}

} // namespace

const char* flow_state_name(FlowState state)
{
    switch (state) {
    case FlowState::New:
        return "new";
    case FlowState::SynSent:
        return "syn_sent";
    case FlowState::SynRecv:
        return "syn_recv";
    case FlowState::Established:
        return "established";
    case FlowState::Closing:
        return "closing";
    case FlowState::Closed:
        return "closed";
    }
    return "unknown";
}

const char* flow_end_name(FlowEnd end)
{
    switch (end) {
    case FlowEnd::Timeout:
        return "timeout";
    case FlowEnd::Evicted:
        return "evicted";
    case FlowEnd::Reused:
        return "reused";
    }
    return "unknown";
}

// The ports a flow is keyed on. The decoder already put the echo identifier in both ports,
// and left them 0 for other ICMP messages.
static std::pair<uint16_t, uint16_t> key_ports(const Packet& packet)
{
    if (packet.l4 == L4::Tcp || packet.l4 == L4::Udp || packet.l4 == L4::Icmp || packet.l4 == L4::Icmpv6)
        return { packet.src_port, packet.dst_port };
    return { 0, 0 };
}

FlowKey FlowKey::from_packet(const Packet& packet)
{
    auto [src_port, dst_port] = key_ports(packet);
    FlowKey key;
    key.proto = packet.ip_proto;
    if (pair_less(packet.ip_dst, dst_port, packet.ip_src, src_port)) {
        key.lo_ip = packet.ip_dst;
        key.lo_port = dst_port;
        key.hi_ip = packet.ip_src;
        key.hi_port = src_port;
    } else {
        key.lo_ip = packet.ip_src;
        key.lo_port = src_port;
        key.hi_ip = packet.ip_dst;
        key.hi_port = dst_port;
    }
    return key;
}

size_t FlowTable::KeyHash::operator()(const FlowKey& key) const
{
    uint64_t h = seed;
    for (const IpAddr* ip : { &key.lo_ip, &key.hi_ip }) {
        uint64_t a = 0;
        uint64_t b = 0;
        std::memcpy(&a, &ip->bytes[0], 8);
        std::memcpy(&b, &ip->bytes[8], 8);
        h = mix(mix(h, a), b);
    }
    h = mix(h, (uint64_t(key.lo_port) << 32) | (uint64_t(key.hi_port) << 16) | (uint64_t(key.proto) << 8) | key.lo_ip.v6);
    return static_cast<size_t>(h);
}

FlowTable::FlowTable(const FlowLimits& limits)
    : m_limits(limits)
    , m_budget { limits.tcp_budget_bytes, 0 }
    , m_table(16, KeyHash { (uint64_t(std::random_device {}()) << 32) ^ std::random_device {}() })
{
}

FlowTable::~FlowTable() = default;

uint8_t FlowTable::timeout_class(const Flow& flow) const
{
    switch (flow.proto) {
    case ipproto::tcp:
        switch (flow.state) {
        case FlowState::Established:
            return k_tcp_established;
        case FlowState::Closing:
            return k_tcp_closing;
        case FlowState::Closed:
            return k_tcp_closed;
        default:
            return k_tcp_handshake;
        }
    case ipproto::udp:
        return k_udp;
    case ipproto::icmp:
    case ipproto::icmpv6:
        return k_icmp;
    default:
        return k_other;
    }
}

uint64_t FlowTable::timeout_of(uint8_t timeout_class) const
{
    const auto& t = m_limits.timeouts;
    switch (timeout_class) {
    case k_tcp_handshake:
        return t.tcp_handshake;
    case k_tcp_established:
        return t.tcp_established;
    case k_tcp_closing:
        return t.tcp_closing;
    case k_tcp_closed:
        return t.tcp_closed;
    case k_udp:
        return t.udp;
    case k_icmp:
        return t.icmp;
    default:
        return t.other;
    }
}

// Moves the flow to the back of its (possibly new) timeout class: each class list stays
// ordered by last_ns, so expiry only ever looks at the fronts. A flow already seen at this
// very time in the same class stays where it is: with the clock not going back, every flow
// after it was also seen at this time, so the order holds (the switch's worker reads its clock
// once per round of reads, so a burst of one flow's packets moves it once).
void FlowTable::touch(Entry& entry, uint64_t now_ns)
{
    uint8_t cls = timeout_class(entry.flow);
    if (entry.flow.last_ns == now_ns && cls == entry.timeout_class)
        return;
    entry.flow.last_ns = now_ns;
    auto& to = m_by_class[cls];
    to.splice(to.end(), m_by_class[entry.timeout_class], entry.position);
    entry.timeout_class = cls;
}

void FlowTable::end(Table::iterator it, FlowEnd reason)
{
    Entry& entry = it->second;
    m_by_class[entry.timeout_class].erase(entry.position);
    if (m_ended.size() >= m_limits.max_ended) {
        m_ended.pop_front();
        ++m_counters.records_lost;
    }
    if (m_limits.max_ended > 0)
        m_ended.emplace_back(std::move(entry.flow), reason);
    else
        ++m_counters.records_lost;
    m_table.erase(it);
    ++m_removal_epoch;
}

void FlowTable::update_state(Flow& flow, const Packet& packet, bool to_server)
{
    if (flow.proto != ipproto::tcp) {
        if (!to_server && flow.state == FlowState::New)
            flow.state = FlowState::Established;
        return;
    }
    if (packet.l4 != L4::Tcp)
        return; // a first fragment too short for the TCP header
    uint8_t flags = packet.tcp_flags;
    if (flags & tcpflag::rst) {
        flow.state = FlowState::Closed;
        return;
    }
    if (flags & tcpflag::fin) {
        (to_server ? flow.fin_from_client : flow.fin_from_server) = true;
        flow.state = flow.fin_from_client && flow.fin_from_server ? FlowState::Closed : FlowState::Closing;
        return;
    }
    bool syn = flags & tcpflag::syn;
    bool ack = flags & tcpflag::ack;
    switch (flow.state) {
    case FlowState::SynSent:
        if (!to_server && syn && ack)
            flow.state = FlowState::SynRecv;
        break;
    case FlowState::SynRecv:
        if (to_server && ack && !syn)
            flow.state = FlowState::Established;
        break;
    default:
        break;
    }
}

Tracked FlowTable::track(const Packet& packet, uint64_t now_ns)
{
    if (!packet.is_ip() || (packet.is_fragment && packet.frag_offset != 0)) {
        ++m_counters.untracked;
        return {};
    }
    FlowKey key = FlowKey::from_packet(packet);
    auto [src_port, dst_port] = key_ports(packet);
    auto it = m_table.find(key);
    bool is_tcp = packet.l4 == L4::Tcp;
    bool syn_only = is_tcp && (packet.tcp_flags & (tcpflag::syn | tcpflag::ack | tcpflag::rst)) == tcpflag::syn;

    // A SYN on the ports of a closed connection starts a new one: the old flow ends here.
    if (it != m_table.end() && syn_only && it->second.flow.state == FlowState::Closed) {
        ++m_counters.reused;
        end(it, FlowEnd::Reused);
        it = m_table.end();
    }

    if (it != m_table.end()) {
        Entry& entry = it->second;
        Flow& flow = entry.flow;
        // Keys are equal, so the source is either the client or the server (both, when a host
        // talks to itself on one port: then every packet counts as to the server).
        bool to_server = packet.ip_src == flow.client_ip && src_port == flow.client_port;
        if (to_server) {
            ++flow.packets_to_server;
            flow.bytes_to_server += packet.frame.size();
        } else {
            ++flow.packets_to_client;
            flow.bytes_to_client += packet.frame.size();
        }
        update_state(flow, packet, to_server);
        touch(entry, now_ns);
        return { &flow, to_server, false };
    }

    if (m_limits.max_flows == 0)
        return {};
    if (m_table.size() >= m_limits.max_flows) {
        // Evict the flow whose deadline is nearest: the fronts of the class lists are each
        // class's oldest.
        int victim = -1;
        uint64_t best = 0;
        for (size_t c = 0; c < k_classes; ++c) {
            if (m_by_class[c].empty())
                continue;
            uint64_t deadline = m_by_class[c].front()->last_ns + timeout_of(static_cast<uint8_t>(c));
            if (victim < 0 || deadline < best) {
                victim = static_cast<int>(c);
                best = deadline;
            }
        }
        if (victim >= 0) {
            ++m_counters.evicted;
            end(m_table.find(m_by_class[victim].front()->key), FlowEnd::Evicted);
        }
    }

    Entry entry;
    Flow& flow = entry.flow;
    flow.id = m_next_id++;
    flow.key = key;
    flow.client_ip = packet.ip_src;
    flow.server_ip = packet.ip_dst;
    flow.proto = packet.ip_proto;
    flow.client_port = src_port;
    flow.server_port = dst_port;
    flow.first_ns = flow.last_ns = now_ns;
    flow.packets_to_server = 1;
    flow.bytes_to_server = packet.frame.size();
    flow.to_server = TcpStream(m_limits.tcp, &m_budget);
    flow.to_client = TcpStream(m_limits.tcp, &m_budget);
    if (flow.proto == ipproto::tcp) {
        uint8_t flags = is_tcp ? packet.tcp_flags : 0;
        if (flags & tcpflag::rst)
            flow.state = FlowState::Closed;
        else if (flags & tcpflag::fin) {
            flow.fin_from_client = true;
            flow.state = FlowState::Closing;
        } else if ((flags & (tcpflag::syn | tcpflag::ack)) == tcpflag::syn)
            flow.state = FlowState::SynSent;
        else if (flags & tcpflag::syn)
            flow.state = FlowState::SynRecv; // a SYN+ACK: we missed the SYN
        else if (is_tcp)
            flow.state = FlowState::Established; // picked up mid-stream
        else
            flow.state = FlowState::SynSent; // no TCP header (a short first fragment)
    }
    entry.timeout_class = timeout_class(flow);
    auto& list = m_by_class[entry.timeout_class];
    auto [pos, inserted] = m_table.emplace(key, std::move(entry));
    (void)inserted;
    pos->second.position = list.insert(list.end(), &pos->second.flow);
    ++m_counters.created;
    return { &pos->second.flow, true, true };
}

size_t FlowTable::expire(uint64_t now_ns, const std::function<void(Flow&, FlowEnd)>& on_end)
{
    size_t count = 0;
    while (!m_ended.empty()) {
        auto record = std::move(m_ended.front());
        m_ended.pop_front();
        on_end(record.first, record.second);
        ++count;
    }
    for (size_t c = 0; c < k_classes; ++c) {
        uint64_t timeout = timeout_of(static_cast<uint8_t>(c));
        auto& list = m_by_class[c];
        while (!list.empty()) {
            Flow* flow = list.front();
            if (now_ns < flow->last_ns || now_ns - flow->last_ns < timeout)
                break;
            auto it = m_table.find(flow->key);
            ++m_counters.timed_out;
            list.pop_front();
            on_end(it->second.flow, FlowEnd::Timeout);
            m_table.erase(it);
            ++m_removal_epoch;
            ++count;
        }
    }
    return count;
}

Flow* FlowTable::find(const FlowKey& key)
{
    auto it = m_table.find(key);
    return it == m_table.end() ? nullptr : &it->second.flow;
}

void FlowTable::remove(Flow* flow)
{
    if (!flow)
        return;
    auto it = m_table.find(flow->key);
    if (it == m_table.end() || &it->second.flow != flow)
        return;
    m_by_class[it->second.timeout_class].erase(it->second.position);
    m_table.erase(it);
    ++m_removal_epoch;
    ++m_counters.removed;
}

FlowTable::Entry* FlowTable::entry_of(const Flow& flow)
{
    auto it = m_table.find(flow.key);
    return it == m_table.end() || &it->second.flow != &flow ? nullptr : &it->second;
}

void FlowTable::account(Entry& entry, bool to_server, size_t frame_bytes, uint64_t now_ns)
{
    Flow& flow = entry.flow;
    if (to_server) {
        ++flow.packets_to_server;
        flow.bytes_to_server += frame_bytes;
    } else {
        ++flow.packets_to_client;
        flow.bytes_to_client += frame_bytes;
    }
    touch(entry, now_ns);
}

void FlowTable::for_each(const std::function<void(Flow&)>& fn)
{
    for (auto& [key, entry] : m_table)
        fn(entry.flow);
}

} // namespace bulwark::net
