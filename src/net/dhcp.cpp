#include "net/dhcp.h"

#include <cstring>

#include "base/endian.h"

namespace bulwark::net {

namespace {

constexpr std::size_t k_bootp_fixed = 236;
constexpr uint8_t k_cookie[4] = {99, 130, 83, 99};
constexpr uint16_t k_server_port = 67;
constexpr uint16_t k_client_port = 68;

void put16(std::vector<uint8_t>& out, uint16_t v)
{
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
}

void put32(std::vector<uint8_t>& out, uint32_t v)
{
    put16(out, static_cast<uint16_t>(v >> 16));
    put16(out, static_cast<uint16_t>(v));
}

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

void store16(uint8_t* p, uint16_t v)
{
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

IpAddr netmask(uint8_t prefix)
{
    uint32_t mask = prefix == 0 ? 0 : ~uint32_t(0) << (32 - prefix);
    return IpAddr::v4(mask);
}

} // namespace

uint16_t internet_checksum(std::span<const uint8_t> bytes, uint32_t initial)
{
    uint64_t sum = initial;
    std::size_t i = 0;
    for (; i + 1 < bytes.size(); i += 2)
        sum += load_be16(bytes.data() + i);
    if (i < bytes.size())
        sum += uint32_t(bytes[i]) << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

std::vector<uint8_t> build_udp4_frame(const MacAddr& src_mac, const MacAddr& dst_mac, const IpAddr& src_ip,
    const IpAddr& dst_ip, uint16_t src_port, uint16_t dst_port, std::span<const uint8_t> payload)
{
    std::vector<uint8_t> f;
    f.reserve(14 + 20 + 8 + payload.size());
    f.insert(f.end(), dst_mac.bytes.begin(), dst_mac.bytes.end());
    f.insert(f.end(), src_mac.bytes.begin(), src_mac.bytes.end());
    put16(f, ethertype::ipv4);
    std::size_t ip = f.size();
    auto ip_len = static_cast<uint16_t>(20 + 8 + payload.size());
    f.insert(f.end(), {0x45, 0x00});
    put16(f, ip_len);
    put16(f, 0);       // id
    put16(f, 0x4000);  // don't fragment
    f.push_back(64);   // ttl
    f.push_back(ipproto::udp);
    put16(f, 0);  // checksum, below
    put_ip4(f, src_ip);
    put_ip4(f, dst_ip);
    store16(&f[ip + 10], internet_checksum(std::span(f).subspan(ip, 20)));
    std::size_t udp = f.size();
    put16(f, src_port);
    put16(f, dst_port);
    put16(f, static_cast<uint16_t>(8 + payload.size()));
    put16(f, 0);
    f.insert(f.end(), payload.begin(), payload.end());
    // The UDP checksum covers a pseudo-header: addresses, protocol and UDP length.
    uint32_t pseudo = load_be16(&src_ip.bytes[0]) + load_be16(&src_ip.bytes[2]) + load_be16(&dst_ip.bytes[0])
        + load_be16(&dst_ip.bytes[2]) + ipproto::udp + static_cast<uint32_t>(8 + payload.size());
    uint16_t sum = internet_checksum(std::span(f).subspan(udp), pseudo);
    store16(&f[udp + 6], sum == 0 ? 0xffff : sum);
    return f;
}

bool is_dhcp_client_packet(const Packet& packet)
{
    return packet.l3 == L3::Ipv4 && packet.l4 == L4::Udp && packet.src_port == k_client_port
        && packet.dst_port == k_server_port && !packet.is_fragment;
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

std::optional<std::vector<uint8_t>> dhcp_answer(const DhcpRequest& request, const SegmentAddressing& segment,
    const MacAddr& port_mac, const IpAddr& port_ip)
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
        return std::nullopt;  // decline, release: nothing to answer, no state to change
    }

    std::vector<uint8_t> b;
    b.reserve(300);
    b.insert(b.end(), {2, 1, 6, 0});  // op reply, Ethernet, hlen 6, hops 0
    put32(b, request.xid);
    put16(b, 0);  // secs
    put16(b, request.flags);
    put_ip4(b, request.type == dhcp::inform ? request.ciaddr : IpAddr::v4(0));               // ciaddr
    put_ip4(b, reply == dhcp::nak || request.type == dhcp::inform ? IpAddr::v4(0) : port_ip);  // yiaddr
    put_ip4(b, segment.server_ip);  // siaddr
    put_ip4(b, IpAddr::v4(0));      // giaddr
    b.insert(b.end(), port_mac.bytes.begin(), port_mac.bytes.end());
    b.resize(b.size() + 10 + 64 + 128, 0);  // chaddr padding, sname, file
    b.insert(b.end(), std::begin(k_cookie), std::end(k_cookie));
    b.insert(b.end(), {53, 1, reply});
    b.insert(b.end(), {54, 4});
    put_ip4(b, segment.server_ip);
    if (reply != dhcp::nak) {
        if (request.type != dhcp::inform) {
            b.insert(b.end(), {51, 4});
            put32(b, segment.lease_seconds);
        }
        b.insert(b.end(), {1, 4});
        put_ip4(b, netmask(segment.prefix));
        if (segment.router) {
            b.insert(b.end(), {3, 4});
            put_ip4(b, *segment.router);
        }
        if (!segment.dns.empty()) {
            auto n = std::min<std::size_t>(segment.dns.size(), 8);
            b.insert(b.end(), {6, static_cast<uint8_t>(4 * n)});
            for (std::size_t i = 0; i < n; ++i)
                put_ip4(b, segment.dns[i]);
        }
    }
    b.push_back(255);
    // The client has no address yet: broadcast at the IP layer, unicast to its MAC.
    return build_udp4_frame(segment.server_mac, port_mac, segment.server_ip, IpAddr::v4(0xffffffff), k_server_port,
        k_client_port, b);
}

std::optional<std::vector<uint8_t>> arp_answer(const Packet& packet, const SegmentAddressing& segment)
{
    if (packet.l3 != L3::Arp || packet.arp.op != 1 || packet.arp.target_ip != segment.server_ip)
        return std::nullopt;
    std::vector<uint8_t> f;
    f.reserve(42);
    f.insert(f.end(), packet.src.bytes.begin(), packet.src.bytes.end());
    f.insert(f.end(), segment.server_mac.bytes.begin(), segment.server_mac.bytes.end());
    put16(f, ethertype::arp);
    f.insert(f.end(), {0, 1, 8, 0, 6, 4, 0, 2});  // Ethernet, IPv4, 6, 4, reply
    f.insert(f.end(), segment.server_mac.bytes.begin(), segment.server_mac.bytes.end());
    put_ip4(f, segment.server_ip);
    f.insert(f.end(), packet.arp.sender_mac.bytes.begin(), packet.arp.sender_mac.bytes.end());
    put_ip4(f, packet.arp.sender_ip);
    return f;
}

} // namespace bulwark::net
