#include "net/switch.h"

#include <algorithm>
#include <cstring>
#include <ctime>

#include "ids/engine.h"
#include "net/fast_path.h"
#include "net/frame_builder.h"
#include "net/traffic_inspector.h"

namespace bulwark::net {

namespace {

uint64_t mac_key(const MacAddr& mac)
{
    uint64_t k = 0;
    for (uint8_t b : mac.bytes)
        k = (k << 8) | b;
    return k;
}

// fe80::/64 with the modified EUI-64 interface id of the MAC (RFC 4291 appendix A), the
// address Linux gives an interface by default.
IpAddr link_local_of(const MacAddr& mac)
{
    IpAddr ip;
    ip.v6 = true;
    ip.bytes[0] = 0xfe;
    ip.bytes[1] = 0x80;
    ip.bytes[8] = mac.bytes[0] ^ 0x02;
    ip.bytes[9] = mac.bytes[1];
    ip.bytes[10] = mac.bytes[2];
    ip.bytes[11] = 0xff;
    ip.bytes[12] = 0xfe;
    ip.bytes[13] = mac.bytes[3];
    ip.bytes[14] = mac.bytes[4];
    ip.bytes[15] = mac.bytes[5];
    return ip;
}

// Neighbour discovery (router/neighbour solicitation and advertisement, redirect) is to IPv6
// what ARP is to IPv4: it must pass within a segment for IPv6 to work at all.
bool is_neighbour_discovery(const Packet& p)
{
    return p.l3 == L3::Ipv6 && p.l4 == L4::Icmpv6 && p.icmp_type >= 133 && p.icmp_type <= 137;
}

bool is_ip_broadcast(const Packet& p, const SegmentConfig& seg)
{
    if (p.l3 == L3::Ipv6)
        return p.ip_dst.bytes[0] == 0xff; // multicast
    uint32_t dst = p.ip_dst.v4_host_order();
    if (dst == 0xffffffffu || (dst >> 28) == 0xe)
        return true;
    uint32_t host_mask = seg.subnet.prefix >= 32 ? 0 : (~uint32_t(0) >> seg.subnet.prefix);
    return seg.subnet.contains(p.ip_dst) && (dst & host_mask) == host_mask;
}

TrafficInspectorOptions inspector_options(const SwitchOptions& options)
{
    TrafficInspectorOptions o;
    o.interface_name = options.interface_name;
    o.wall_offset_ns = options.wall_offset_ns;
    if (o.wall_offset_ns == 0) {
        struct timespec mono {
        }, real {};
        ::clock_gettime(CLOCK_MONOTONIC, &mono);
        ::clock_gettime(CLOCK_REALTIME, &real);
        auto ns = [](const timespec& t) { return uint64_t(t.tv_sec) * 1000000000ull + uint64_t(t.tv_nsec); };
        o.wall_offset_ns = ns(real) - ns(mono);
    }
    return o;
}

} // namespace

Json PortCounters::to_json() const
{
    return { { "rx_frames", rx_frames }, { "rx_bytes", rx_bytes }, { "tx_frames", tx_frames }, { "tx_bytes", tx_bytes },
        { "drop_rate", drop_rate }, { "drop_malformed", drop_malformed }, { "drop_spoofed", drop_spoofed },
        { "drop_unknown_dest", drop_unknown_dest }, { "drop_policy", drop_policy }, { "drop_quarantine", drop_quarantine },
        { "drop_ids", drop_ids }, { "drop_not_ip", drop_not_ip }, { "dhcp_answers", dhcp_answers },
        { "ids_alerts", ids_alerts } };
}

Switch::Switch(FrameSink& sink, SwitchOptions options)
    : m_sink(sink)
    , m_options(std::move(options))
    , m_inspector(std::make_unique<TrafficInspector>(inspector_options(m_options)))
    , m_fast(m_options.fast_path ? std::make_unique<FastPath>() : nullptr)
{
}

Switch::~Switch() = default;

VoidResult Switch::add_segment(SegmentConfig segment)
{
    if (segment.subnet.base.v6 || segment.subnet.prefix < 8 || segment.subnet.prefix > 30)
        return Error(ErrorKind::InvalidArgument, "a segment's subnet must be IPv4 with a prefix of 8 to 30");
    std::string name = segment.name;
    auto& slot = m_segments[name];
    if (slot) {
        *slot = std::move(segment);
    } else {
        slot = std::make_unique<SegmentConfig>(std::move(segment));
    }
    if (m_fast)
        m_fast->clear(); // the gateway's MAC and the subnet's broadcast address are not in its key
    return {};
}

VoidResult Switch::add_port(PortConfig config)
{
    if (m_ports.count(config.id))
        return Error(ErrorKind::Conflict, "port " + std::to_string(config.id) + " exists");
    auto seg = m_segments.find(config.segment);
    if (seg == m_segments.end())
        return Error(ErrorKind::NotFound, "no segment '" + config.segment + "'");
    if (config.mac.is_multicast() || config.mac.is_zero())
        return Error(ErrorKind::InvalidArgument, "a port's MAC must be a unicast address");
    if (!seg->second->subnet.contains(config.ip4))
        return Error(ErrorKind::InvalidArgument,
            "port address " + config.ip4.to_string() + " is outside " + seg->second->subnet.to_string());
    auto& macs = m_macs[config.segment];
    if (macs.count(mac_key(config.mac)))
        return Error(ErrorKind::Conflict, "MAC " + config.mac.to_string() + " is already on segment " + config.segment);
    auto port = std::make_unique<Port>();
    port->link_local = link_local_of(config.mac);
    port->segment = seg->second.get();
    port->config = std::move(config);
    Port* p = port.get();
    macs[mac_key(p->config.mac)] = p;
    m_segment_ports[p->config.segment].push_back(p);
    p->macs = &macs;
    p->peers = &m_segment_ports[p->config.segment];
    m_ports[p->config.id] = std::move(port);
    recompile();
    return {};
}

VoidResult Switch::add_uplink(uint32_t id, uint32_t owner_id, std::string name)
{
    if (m_ports.count(id))
        return Error(ErrorKind::Conflict, "port " + std::to_string(id) + " exists");
    auto owner = m_ports.find(owner_id);
    if (owner == m_ports.end() || owner->second->is_uplink)
        return Error(ErrorKind::NotFound, "no guest port " + std::to_string(owner_id));
    Port& guest = *owner->second;
    if (guest.uplink)
        return Error(ErrorKind::Conflict, "guest port " + std::to_string(owner_id) + " already has an uplink");
    auto port = std::make_unique<Port>();
    port->is_uplink = true;
    port->owner = &guest;
    port->segment = guest.segment;
    port->config.id = id;
    port->config.name = std::move(name);
    port->config.segment = guest.config.segment;
    port->config.mac = guest.segment->addressing.server_mac;
    port->config.ip4 = guest.config.ip4;
    port->config.max_frames_per_second = guest.config.max_frames_per_second;
    port->config.max_bytes_per_second = guest.config.max_bytes_per_second;
    guest.uplink = port.get();
    m_ports[id] = std::move(port);
    // Flows through the old uplink (if any) are re-checked with their next packet.
    ++m_generation;
    return {};
}

void Switch::remove_port(uint32_t id)
{
    auto it = m_ports.find(id);
    if (it == m_ports.end())
        return;
    m_last_port = nullptr;
    Port* p = it->second.get();
    if (p->is_uplink) {
        if (p->owner)
            p->owner->uplink = nullptr;
        m_ports.erase(it);
        ++m_generation;
        return;
    }
    if (p->uplink)
        p->uplink->owner = nullptr; // it carries nothing more; the worker removes it too
    m_macs[p->config.segment].erase(mac_key(p->config.mac));
    std::erase(m_segment_ports[p->config.segment], p);
    m_ports.erase(it);
    // Flows that lead to a removed port die with their next packet's lookup (their peer port
    // is gone); the policy no longer names it.
    recompile();
}

VoidResult Switch::set_quarantine(uint32_t id, bool quarantined)
{
    auto it = m_ports.find(id);
    if (it == m_ports.end())
        return Error(ErrorKind::NotFound, "no port " + std::to_string(id));
    it->second->config.quarantined = quarantined;
    // Quarantine is checked on every frame, not cached in flows, so it takes effect at once;
    // the generation bump also makes every flow re-check the policy after a release.
    ++m_generation;
    return {};
}

void Switch::set_policy(SegmentPolicy policy)
{
    m_policy = std::move(policy);
    recompile();
}

void Switch::recompile()
{
    std::vector<PolicyPort> ports;
    ports.reserve(m_ports.size());
    for (const auto& [id, p] : m_ports) {
        if (!p->is_uplink)
            ports.push_back({ id, p->config.segment, p->config.labels });
    }
    m_compiled = CompiledPolicy::compile(m_policy, ports);
    ++m_generation;
}

void Switch::set_ids(std::shared_ptr<ids::Engine> engine)
{
    m_inspector->set_engine(std::move(engine));
    if (m_fast)
        m_fast->clear();
}

void Switch::set_eve_sink(std::function<void(const std::string& line)> sink)
{
    m_inspector->set_eve_sink(std::move(sink));
}

const PortCounters* Switch::counters(uint32_t port) const
{
    auto it = m_ports.find(port);
    return it == m_ports.end() ? nullptr : &it->second->counters;
}

std::size_t Switch::flow_count() const
{
    return m_inspector->flow_count();
}

bool Switch::take_tokens(Port& port, std::size_t bytes, uint64_t now_ns)
{
    const auto& c = port.config;
    if (c.max_frames_per_second == 0 && c.max_bytes_per_second == 0)
        return true;
    Bucket& b = port.bucket;
    double burst_frames = double(c.max_frames_per_second) / 10.0 + 1.0;
    double burst_bytes = double(c.max_bytes_per_second) / 10.0 + double(k_max_frame);
    if (b.last_ns == 0) {
        b.frames = burst_frames;
        b.bytes = burst_bytes;
    } else if (now_ns > b.last_ns) {
        double dt = double(now_ns - b.last_ns) / 1e9;
        b.frames = std::min(burst_frames, b.frames + dt * double(c.max_frames_per_second));
        b.bytes = std::min(burst_bytes, b.bytes + dt * double(c.max_bytes_per_second));
    }
    b.last_ns = now_ns;
    if ((c.max_frames_per_second && b.frames < 1.0) || (c.max_bytes_per_second && b.bytes < double(bytes)))
        return false;
    b.frames -= 1.0;
    b.bytes -= double(bytes);
    return true;
}

bool Switch::source_is_valid(const Port& port, const Packet& p) const
{
    if (p.src != port.config.mac || p.vlan)
        return false;
    switch (p.l3) {
    case L3::Arp:
        // Probes (RFC 5227) carry 0.0.0.0 as the sender address.
        return p.arp.sender_mac == port.config.mac && (p.arp.sender_ip == port.config.ip4 || p.arp.sender_ip.is_unspecified());
    case L3::Ipv4:
        if (p.ip_src == port.config.ip4)
            return true;
        // Before DHCP has answered, a client sends from 0.0.0.0; only DHCP may do that.
        return p.ip_src.is_unspecified() && is_dhcp_client_packet(p);
    case L3::Ipv6:
        if (p.ip_src == port.link_local || (port.config.ip6 && p.ip_src == *port.config.ip6))
            return true;
        // Duplicate address detection sends neighbour solicitations from ::.
        return p.ip_src.is_unspecified() && p.l4 == L4::Icmpv6 && p.icmp_type == 135;
    case L3::None:
    case L3::Other:
        return false;
    }
    return false;
}

void Switch::receive(uint32_t id, std::span<const uint8_t> frame, uint64_t now_ns)
{
    // The worker hands over each port's frames in runs (a read's worth at a time): the port of
    // the frame before is tried first, since finding one in m_ports costs a division.
    if (!m_last_port || m_last_port->config.id != id) {
        auto it = m_ports.find(id);
        if (it == m_ports.end())
            return;
        m_last_port = it->second.get();
    }
    Port& port = *m_last_port;
    if (port.is_uplink) {
        receive_from_uplink(port, frame, now_ns);
        return;
    }
    port.counters.rx_frames++;
    port.counters.rx_bytes += frame.size();
    if (!take_tokens(port, frame.size(), now_ns)) {
        port.counters.drop_rate++;
        return;
    }
    if (fast_forward(port, frame, now_ns))
        return;
    auto decoded = decode_frame(frame);
    if (!decoded.packet) {
        port.counters.drop_malformed++;
        return;
    }
    const Packet& packet = *decoded.packet;
    if (packet.l3 == L3::Other || packet.l3 == L3::None) {
        port.counters.drop_not_ip++;
        return;
    }
    if (!source_is_valid(port, packet)) {
        port.counters.drop_spoofed++;
        return;
    }
    handle(port, packet, now_ns);
}

void Switch::handle(Port& port, const Packet& packet, uint64_t now_ns)
{
    const SegmentAddressing& addressing = port.segment->addressing;
    if (packet.l3 == L3::Arp) {
        if (auto answer = arp_answer(packet, addressing)) {
            deliver(port, *answer, now_ns);
            return;
        }
        forward_l2(port, packet, now_ns);
        return;
    }
    if (is_dhcp_client_packet(packet)) {
        if (auto request = parse_dhcp_request(packet.payload)) {
            // With DNS through the uplink, the gateway is the guest's resolver.
            SegmentAddressing offered = addressing;
            if (gateway_dns(port))
                offered.dns = { addressing.server_ip };
            if (auto answer = dhcp_answer(*request, offered, port.config.mac, port.config.ip4)) {
                port.counters.dhcp_answers++;
                deliver(port, *answer, now_ns);
            }
        }
        return; // DHCP to other guests is never forwarded: no rogue servers
    }
    // To the gateway's MAC: IPv4 for beyond the uplink. The gateway's own address answers ARP,
    // DHCP and (with [uplink] dns) DNS only: forward_outside checks the port of the whole
    // datagram.
    bool to_gateway = packet.dst == addressing.server_mac;
    bool to_gateway_ip = to_gateway && packet.ip_dst == addressing.server_ip;
    if (to_gateway
        && (packet.l3 != L3::Ipv4 || (to_gateway_ip && !(gateway_dns(port) && (has_ports(packet) || packet.is_fragment))))) {
        port.counters.drop_unknown_dest++;
        return;
    }
    if (!to_gateway && is_neighbour_discovery(packet)) {
        forward_l2(port, packet, now_ns);
        return;
    }
    Reassembled whole = m_inspector->reassemble(packet, now_ns);
    if (whole.kind == Reassembled::Kind::Held)
        return;
    // The reassembled datagram must come from the port as well, and is inspected whole.
    if (whole.kind == Reassembled::Kind::Dropped || (packet.is_fragment && !source_is_valid(port, *whole.packet))) {
        port.counters.drop_malformed++;
        return;
    }
    if (to_gateway)
        forward_outside(port, *whole.packet, now_ns);
    else
        forward_ip(port, *whole.packet, now_ns);
}

bool Switch::quarantine_blocks(const Port& a, const Port& b) const
{
    if (!a.config.quarantined && !b.config.quarantined)
        return false;
    // A quarantined guest talks to analysis ports only, and two quarantined guests not at all
    // (unless one of them is itself an analysis port).
    const Port& other_of_a = b;
    const Port& other_of_b = a;
    if (a.config.quarantined && !m_compiled.is_analysis(other_of_a.config.id))
        return true;
    if (b.config.quarantined && !m_compiled.is_analysis(other_of_b.config.id))
        return true;
    return false;
}

void Switch::forward_l2(Port& from, const Packet& packet, uint64_t now_ns)
{
    auto& ports = *from.peers;
    if (packet.dst.is_multicast()) {
        for (Port* to : ports) {
            if (to == &from)
                continue;
            if (quarantine_blocks(from, *to)) {
                from.counters.drop_quarantine++;
                continue;
            }
            deliver(*to, packet.frame, now_ns);
        }
        return;
    }
    auto& macs = *from.macs;
    auto found = macs.find(mac_key(packet.dst));
    if (found == macs.end() || found->second == &from) {
        from.counters.drop_unknown_dest++;
        return;
    }
    if (quarantine_blocks(from, *found->second)) {
        from.counters.drop_quarantine++;
        return;
    }
    deliver(*found->second, packet.frame, now_ns);
}

bool Switch::policy_allows_flow(const Port& from, const Port& to, const Packet& packet, Flow& flow, bool to_server)
{
    // An echo request against the flow's direction is the other side opening its own
    // exchange with the same identifier, not a reply: the policy decides it afresh.
    bool echo_request = (packet.l4 == L4::Icmp && packet.icmp_type == 8) || (packet.l4 == L4::Icmpv6 && packet.icmp_type == 128);
    if (echo_request && !to_server)
        return m_compiled.allows(from.config.id, to.config.id, packet.ip_proto, 0);
    if (flow.policy_generation == m_generation && flow.verdict != uint8_t(Verdict::Unknown))
        return flow.verdict == uint8_t(Verdict::Allowed);
    // The policy speaks of who opens a flow: check it in the flow's own direction, whichever
    // side this packet comes from.
    const Port& client = to_server ? from : to;
    const Port& server = to_server ? to : from;
    uint16_t server_port = to_server ? packet.dst_port : packet.src_port;
    bool allowed = m_compiled.allows(client.config.id, server.config.id, packet.ip_proto, server_port);
    flow.verdict = uint8_t(allowed ? Verdict::Allowed : Verdict::Denied);
    flow.policy_generation = static_cast<uint32_t>(m_generation);
    return allowed;
}

void Switch::forward_ip(Port& from, const Packet& packet, uint64_t now_ns)
{
    auto& macs = *from.macs;
    // Broadcast and multicast IP: each receiver is checked against the policy on its own,
    // without flow state (there is no single peer to reply).
    if (packet.dst.is_multicast() || is_ip_broadcast(packet, *from.segment)) {
        for (Port* to : *from.peers) {
            if (to == &from)
                continue;
            if (quarantine_blocks(from, *to)) {
                from.counters.drop_quarantine++;
                continue;
            }
            if (!m_compiled.allows(from.config.id, to->config.id, packet.ip_proto, packet.dst_port)) {
                from.counters.drop_policy++;
                continue;
            }
            deliver(*to, packet.frame, now_ns);
        }
        return;
    }
    auto found = macs.find(mac_key(packet.dst));
    if (found == macs.end() || found->second == &from) {
        from.counters.drop_unknown_dest++;
        return;
    }
    Port& to = *found->second;
    // The destination MAC and the destination address must name the same guest, so a guest
    // cannot reach a third one by addressing its frames to an allowed neighbour.
    bool to_own_address = packet.l3 == L3::Ipv4
        ? packet.ip_dst == to.config.ip4
        : (packet.ip_dst == to.link_local || (to.config.ip6 && packet.ip_dst == *to.config.ip6));
    if (!to_own_address) {
        from.counters.drop_unknown_dest++;
        return;
    }
    if (quarantine_blocks(from, to)) {
        from.counters.drop_quarantine++;
        return;
    }
    Tracked tracked = m_inspector->track(packet, now_ns);
    if (!tracked.flow) {
        from.counters.drop_policy++;
        return;
    }
    if (!policy_allows_flow(from, to, packet, *tracked.flow, tracked.to_server)) {
        from.counters.drop_policy++;
        return;
    }
    fast_learn(from, to, packet, tracked);
    inspect_and_deliver(from, to, packet, tracked, now_ns);
}

void Switch::inspect_and_deliver(Port& from, Port& to, const Packet& packet, const Tracked& tracked, uint64_t now_ns)
{
    if (m_options.ids_enabled) {
        IdsAction action = m_inspector->inspect(packet, tracked, now_ns, port_name(from));
        if (action != IdsAction::Forward) {
            from.counters.drop_ids++;
            if (action == IdsAction::Reject) {
                // build_reject_frame is empty when no reject can be built (a RST, a broadcast):
                // an empty frame must not be delivered (or counted as sent).
                auto reject = ids::build_reject_frame(packet);
                if (!reject.empty())
                    deliver(from, reject, now_ns);
            }
            return;
        }
    }
    if (packet.frame.size() > k_max_frame) {
        // A datagram reassembled here leaves as fragments again: the guest's link is 1500.
        auto fragments = fragment_ipv4_frame(packet.frame);
        if (fragments.empty()) {
            from.counters.drop_malformed++; // IPv6: the switch does not re-fragment it
            return;
        }
        for (const auto& f : fragments)
            deliver(to, f, now_ns);
        return;
    }
    deliver(to, packet.frame, now_ns);
}

bool Switch::gateway_dns(const Port& guest) const
{
    return m_policy.uplink_dns && guest.uplink && m_policy.has_uplink(guest.config.segment);
}

bool Switch::has_ports(const Packet& packet)
{
    return packet.l4 == L4::Udp || packet.l4 == L4::Tcp;
}

bool Switch::in_a_segment(const IpAddr& ip) const
{
    for (const auto& [name, seg] : m_segments) {
        if (seg->subnet.contains(ip))
            return true;
    }
    return false;
}

bool Switch::outside_allows_flow(const Port& guest, const Packet& packet, Flow& flow, bool guest_is_client, bool from_guest)
{
    bool echo_request = packet.l4 == L4::Icmp && packet.icmp_type == 8;
    if (echo_request) {
        // Never opened from outside; from the guest, decided afresh (see policy_allows_flow).
        return from_guest && m_compiled.allows_outside(guest.config.id, packet.ip_dst, packet.ip_proto, 0);
    }
    if (!guest_is_client)
        return false; // nothing is opened from outside: there is no inbound rule
    if (flow.policy_generation == m_generation && flow.verdict != uint8_t(Verdict::Unknown))
        return flow.verdict == uint8_t(Verdict::Allowed);
    const IpAddr& server = from_guest ? packet.ip_dst : packet.ip_src;
    uint16_t server_port = from_guest ? packet.dst_port : packet.src_port;
    bool allowed = server == guest.segment->addressing.server_ip
        ? gateway_dns(guest) && server_port == 53 && has_ports(packet)
        : m_compiled.allows_outside(guest.config.id, server, packet.ip_proto, server_port);
    flow.verdict = uint8_t(allowed ? Verdict::Allowed : Verdict::Denied);
    flow.policy_generation = static_cast<uint32_t>(m_generation);
    return allowed;
}

void Switch::forward_outside(Port& from, const Packet& packet, uint64_t now_ns)
{
    if (!from.uplink) {
        from.counters.drop_unknown_dest++;
        return;
    }
    // Never through the uplink, whatever the policy: the guests' own subnets (the switch does
    // not route between segments) and the addresses that are nobody's outside; the one
    // exception is DNS to the gateway's own address, which passt forwards to the host's
    // resolver.
    bool dns
        = packet.ip_dst == from.segment->addressing.server_ip && packet.dst_port == 53 && has_ports(packet) && gateway_dns(from);
    if (!dns && (in_a_segment(packet.ip_dst) || !outside_address_is_reachable(packet.ip_dst))) {
        from.counters.drop_policy++;
        return;
    }
    if (from.config.quarantined) {
        from.counters.drop_quarantine++;
        return;
    }
    Tracked tracked = m_inspector->track(packet, now_ns);
    if (!tracked.flow || !outside_allows_flow(from, packet, *tracked.flow, tracked.to_server, true)) {
        from.counters.drop_policy++;
        return;
    }
    inspect_and_deliver(from, *from.uplink, packet, tracked, now_ns);
}

void Switch::receive_from_uplink(Port& uplink, std::span<const uint8_t> frame, uint64_t now_ns)
{
    uplink.counters.rx_frames++;
    uplink.counters.rx_bytes += frame.size();
    Port* guest = uplink.owner;
    if (!guest)
        return;
    if (!take_tokens(uplink, frame.size(), now_ns)) {
        uplink.counters.drop_rate++;
        return;
    }
    if (frame.size() < 14 || frame.size() > k_max_reassembled_frame) {
        uplink.counters.drop_malformed++;
        return;
    }
    // Readdressed first, from the gateway to the guest, so that what is inspected, captured and
    // delivered is the frame the guest gets.
    m_rewrite.assign(frame.begin(), frame.end());
    std::memcpy(m_rewrite.data(), guest->config.mac.bytes.data(), 6);
    std::memcpy(m_rewrite.data() + 6, uplink.config.mac.bytes.data(), 6);
    auto decoded = decode_frame(m_rewrite, DecodeOptions { .max_size = k_max_reassembled_frame });
    if (!decoded.packet) {
        uplink.counters.drop_malformed++;
        return;
    }
    const Packet& packet = *decoded.packet;
    if (packet.l3 != L3::Ipv4) {
        uplink.counters.drop_not_ip++;
        return;
    }
    // From outside, to this guest: an outside source can never pose as a guest (or the host's
    // loopback), and an uplink reaches its own guest only.
    bool dns_answer = packet.ip_src == guest->segment->addressing.server_ip && packet.src_port == 53 && has_ports(packet)
        && gateway_dns(*guest);
    if (packet.vlan || packet.ip_dst != guest->config.ip4
        || (!dns_answer && (in_a_segment(packet.ip_src) || !outside_address_is_reachable(packet.ip_src)))) {
        uplink.counters.drop_spoofed++;
        return;
    }
    if (guest->config.quarantined) {
        uplink.counters.drop_quarantine++;
        return;
    }
    Reassembled whole = m_inspector->reassemble(packet, now_ns);
    if (whole.kind == Reassembled::Kind::Held)
        return;
    if (whole.kind == Reassembled::Kind::Dropped) {
        uplink.counters.drop_malformed++;
        return;
    }
    const Packet& datagram = *whole.packet;
    if (packet.is_fragment && (datagram.ip_dst != guest->config.ip4 || (in_a_segment(datagram.ip_src) && !dns_answer))) {
        uplink.counters.drop_spoofed++;
        return;
    }
    Tracked tracked = m_inspector->track(datagram, now_ns);
    if (!tracked.flow || !outside_allows_flow(*guest, datagram, *tracked.flow, !tracked.to_server, false)) {
        uplink.counters.drop_policy++;
        return;
    }
    inspect_and_deliver(uplink, *guest, datagram, tracked, now_ns);
}

void Switch::deliver(Port& to, std::span<const uint8_t> frame, uint64_t now_ns)
{
    to.counters.tx_frames++;
    to.counters.tx_bytes += frame.size();
    m_sink.deliver(to.config.id, frame);
}

void Switch::tick(uint64_t now_ns)
{
    m_inspector->tick(now_ns);
}

const std::string& Switch::port_name(const Port& port) const
{
    return port.config.name.empty() ? m_options.interface_name : port.config.name;
}

Json Switch::status() const
{
    Json ports = Json::object();
    for (const auto& [id, p] : m_ports) {
        Json j = p->counters.to_json();
        j["name"] = p->config.name;
        j["segment"] = p->config.segment;
        j["mac"] = p->config.mac.to_string();
        j["ip"] = p->config.ip4.to_string();
        j["quarantined"] = p->config.quarantined;
        j["max_fps"] = p->config.max_frames_per_second;
        j["max_bps"] = p->config.max_bytes_per_second;
        if (p->is_uplink) {
            j["uplink_of"] = p->owner ? Json(p->owner->config.id) : Json(nullptr);
            j.erase("quarantined");
        }
        ports[std::to_string(id)] = j;
    }
    const auto& d = m_inspector->defrag_counters();
    Json status = { { "ports", ports }, { "flows", m_inspector->flow_count() }, { "policy_generation", m_generation },
        { "ids_rules", m_inspector->engine() ? m_inspector->engine()->rules().size() : 0 },
        { "ids_alerts", m_inspector->alerts() }, { "ids_drops", m_inspector->drops() },
        { "defrag",
            { { "fragments", d.fragments }, { "reassembled", d.reassembled }, { "evasion_overlaps", d.evasion_overlaps },
                { "timed_out", d.timed_out }, { "evicted", d.evicted } } } };
    status["fast_path"] = fast_path_status();
    return status;
}

Json Switch::compiled_policy() const
{
    std::unordered_map<uint32_t, std::string> names;
    for (const auto& [id, p] : m_ports)
        names[id] = p->config.name;
    Json j = m_compiled.to_json(names);
    j["policy"] = m_policy.to_json();
    j["generation"] = m_generation;
    return j;
}

} // namespace bulwark::net
