#include "net/dhcp.h"

#include <cstring>

#include "base/endian.h"
#include "net/frame_builder.h"

namespace bulwark::net {

namespace {

constexpr std::size_t k_bootp_fixed = 236;
constexpr uint8_t k_cookie[4] = { 99, 130, 83, 99 };
constexpr uint16_t k_server_port = 67;
constexpr uint16_t k_client_port = 68;

void put_ip4(std::vector<uint8_t>& out, const IpAddr& ip)
{
    out.insert(out.end(), ip.bytes.begin(), ip.bytes.begin() + 4);
}

IpAddr ip4_at(const uint8_t* p)
{
    IpAddr ip;
    std::memcpy(ip.bytes.data(), p, 4);
    return ip;
}

IpAddr netmask(uint8_t prefix)
{
    uint32_t mask = prefix == 0 ? 0 : ~uint32_t(0) << (32 - prefix);
    return IpAddr::v4(mask);
}

} // namespace

bool is_dhcp_client_packet(const Packet& packet)
{
    return packet.l3 == L3::Ipv4 && packet.l4 == L4::Udp && packet.src_port == k_client_port && packet.dst_port == k_server_port
        && !packet.is_fragment;
}

std::optional<DhcpRequest> parse_dhcp_request(std::span<const uint8_t> p)
{
    if (p.size() < k_bootp_fixed + sizeof(k_cookie))
        return std::nullopt;
    // op 1 (request), htype 1 (Ethernet), hlen 6.
    if (p[0] != 1 || p[1] != 1 || p[2] != 6)
        return std::nullopt;
    if (std::memcmp(p.data() + k_bootp_fixed, k_cookie, sizeof(k_cookie)) != 0)
        return std::nullopt;
    DhcpRequest r;
    r.xid = load_be32(p.data() + 4);
    r.flags = load_be16(p.data() + 10);
    r.ciaddr = ip4_at(p.data() + 12);
    std::memcpy(r.client_mac.bytes.data(), p.data() + 28, 6);
    std::size_t i = k_bootp_fixed + sizeof(k_cookie);
    bool ended = false;
    while (i < p.size()) {
        uint8_t type = p[i++];
        if (type == 0)
            continue;
        if (type == 255) {
            ended = true;
            break;
        }
        if (i >= p.size())
            return std::nullopt;
        uint8_t len = p[i++];
        if (len > p.size() - i)
            return std::nullopt;
        const uint8_t* v = p.data() + i;
        switch (type) {
        case 53:
            if (len != 1)
                return std::nullopt;
            r.type = v[0];
            break;
        case 50:
            if (len != 4)
                return std::nullopt;
            r.requested = ip4_at(v);
            break;
        case 54:
            if (len != 4)
                return std::nullopt;
            r.server_id = ip4_at(v);
            break;
        default:
            break;
        }
        i += len;
    }
    if (!ended || r.type == 0)
        return std::nullopt;
    return r;
}

std::optional<std::vector<uint8_t>> dhcp_answer(
    const DhcpRequest& request, const SegmentAddressing& segment, const MacAddr& port_mac, const IpAddr& port_ip)
{
    if (request.client_mac != port_mac)
        return std::nullopt;
    uint8_t reply = 0;
    switch (request.type) {
    case dhcp::discover:
        reply = dhcp::offer;
        break;
    case dhcp::request:
        // A request naming another server is that server's business; one for another address
        // (a guest remembering a lease from elsewhere) is refused so it asks again.
        if (request.server_id && *request.server_id != segment.server_ip)
            return std::nullopt;
        if (request.requested)
            reply = *request.requested == port_ip ? dhcp::ack : dhcp::nak;
        else
            reply = request.ciaddr == port_ip ? dhcp::ack : dhcp::nak;
        break;
    case dhcp::inform:
        reply = dhcp::ack;
        break;
    default:
        return std::nullopt; // decline, release: nothing to answer, no state to change
    }

    std::vector<uint8_t> b;
    b.reserve(300);
    b.insert(b.end(), { 2, 1, 6, 0 }); // op reply, Ethernet, hlen 6, hops 0
    append_be32(b, request.xid);
    append_be16(b, 0); // secs
    append_be16(b, request.flags);
    put_ip4(b, request.type == dhcp::inform ? request.ciaddr : IpAddr::v4(0)); // ciaddr
    put_ip4(b, reply == dhcp::nak || request.type == dhcp::inform ? IpAddr::v4(0) : port_ip); // yiaddr
    put_ip4(b, segment.server_ip); // siaddr
    put_ip4(b, IpAddr::v4(0)); // giaddr
    b.insert(b.end(), port_mac.bytes.begin(), port_mac.bytes.end());
    b.resize(b.size() + 10 + 64 + 128, 0); // chaddr padding, sname, file
    b.insert(b.end(), std::begin(k_cookie), std::end(k_cookie));
    b.insert(b.end(), { 53, 1, reply });
    b.insert(b.end(), { 54, 4 });
    put_ip4(b, segment.server_ip);
    if (reply != dhcp::nak) {
        if (request.type != dhcp::inform) {
            b.insert(b.end(), { 51, 4 });
            append_be32(b, segment.lease_seconds);
        }
        b.insert(b.end(), { 1, 4 });
        put_ip4(b, netmask(segment.prefix));
        if (segment.router) {
            b.insert(b.end(), { 3, 4 });
            put_ip4(b, *segment.router);
        }
        if (!segment.dns.empty()) {
            auto n = std::min<std::size_t>(segment.dns.size(), 8);
            b.insert(b.end(), { 6, static_cast<uint8_t>(4 * n) });
            for (std::size_t i = 0; i < n; ++i)
                put_ip4(b, segment.dns[i]);
        }
    }
    b.push_back(255);
    // The client has no address yet: broadcast at the IP layer, unicast to its MAC.
    return udp_frame(
        { segment.server_mac, segment.server_ip }, { port_mac, IpAddr::v4(0xffffffff) }, k_server_port, k_client_port, b);
}

std::optional<std::vector<uint8_t>> arp_answer(const Packet& packet, const SegmentAddressing& segment)
{
    if (packet.l3 != L3::Arp || packet.arp.op != 1 || packet.arp.target_ip != segment.server_ip)
        return std::nullopt;
    return arp_frame(2, segment.server_mac, segment.server_ip, packet.arp.sender_mac, packet.arp.sender_ip, packet.src);
}

} // namespace bulwark::net
