#include "net/frame_builder.h"

#include <algorithm>

#include "base/endian.h"

namespace bulwark::net {

namespace {

void put_ip(std::vector<uint8_t>& out, const IpAddr& ip)
{
    out.insert(out.end(), ip.bytes.begin(), ip.bytes.begin() + (ip.v6 ? 16 : 4));
}

std::vector<uint8_t> ip_packet(const IpAddr& src, const IpAddr& dst, uint8_t proto, std::span<const uint8_t> payload)
{
    return src.v6 ? ipv6_packet(src, dst, proto, payload) : ipv4_packet(src, dst, proto, payload);
}

uint16_t ethertype_of(const IpAddr& ip)
{
    return ip.v6 ? ethertype::ipv6 : ethertype::ipv4;
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

uint32_t pseudo_header_sum(const IpAddr& src, const IpAddr& dst, uint8_t proto, std::size_t l4_length)
{
    uint32_t sum = 0;
    std::size_t n = src.v6 ? 16 : 4;
    for (std::size_t i = 0; i < n; i += 2)
        sum += load_be16(&src.bytes[i]) + load_be16(&dst.bytes[i]);
    sum += proto;
    sum += static_cast<uint32_t>(l4_length & 0xffff) + static_cast<uint32_t>(l4_length >> 16);
    return sum;
}

std::vector<uint8_t> ethernet_frame(const MacAddr& src, const MacAddr& dst, uint16_t type, std::span<const uint8_t> payload)
{
    std::vector<uint8_t> f;
    f.reserve(14 + payload.size());
    f.insert(f.end(), dst.bytes.begin(), dst.bytes.end());
    f.insert(f.end(), src.bytes.begin(), src.bytes.end());
    append_be16(f, type);
    f.insert(f.end(), payload.begin(), payload.end());
    return f;
}

std::vector<uint8_t> ipv4_packet(
    const IpAddr& src, const IpAddr& dst, uint8_t proto, std::span<const uint8_t> payload, const Ipv4Fields& fields)
{
    std::vector<uint8_t> p;
    p.reserve(20 + payload.size());
    p.push_back(0x45);
    p.push_back(fields.tos);
    append_be16(p, static_cast<uint16_t>(20 + payload.size()));
    append_be16(p, fields.id);
    uint16_t frag = static_cast<uint16_t>((fields.frag_offset / 8) & 0x1fff);
    if (fields.dont_fragment)
        frag |= 0x4000;
    if (fields.more_fragments)
        frag |= 0x2000;
    append_be16(p, frag);
    p.push_back(fields.ttl);
    p.push_back(proto);
    append_be16(p, 0);
    put_ip(p, src);
    put_ip(p, dst);
    store_be16(&p[10], internet_checksum(std::span(p).first(20)));
    p.insert(p.end(), payload.begin(), payload.end());
    return p;
}

std::vector<uint8_t> ipv6_packet(
    const IpAddr& src, const IpAddr& dst, uint8_t next_header, std::span<const uint8_t> payload, uint8_t hop_limit)
{
    std::vector<uint8_t> p;
    p.reserve(40 + payload.size());
    append_be32(p, 0x60000000u);
    append_be16(p, static_cast<uint16_t>(payload.size()));
    p.push_back(next_header);
    p.push_back(hop_limit);
    put_ip(p, src);
    put_ip(p, dst);
    p.insert(p.end(), payload.begin(), payload.end());
    return p;
}

std::vector<uint8_t> udp_segment(
    const IpAddr& src, const IpAddr& dst, uint16_t sport, uint16_t dport, std::span<const uint8_t> payload)
{
    std::vector<uint8_t> s;
    s.reserve(8 + payload.size());
    append_be16(s, sport);
    append_be16(s, dport);
    append_be16(s, static_cast<uint16_t>(8 + payload.size()));
    append_be16(s, 0);
    s.insert(s.end(), payload.begin(), payload.end());
    uint16_t sum = internet_checksum(s, pseudo_header_sum(src, dst, ipproto::udp, s.size()));
    store_be16(&s[6], sum == 0 ? 0xffff : sum);
    return s;
}

std::vector<uint8_t> tcp_segment(const IpAddr& src, const IpAddr& dst, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
    uint8_t flags, std::span<const uint8_t> payload, uint16_t window)
{
    std::vector<uint8_t> s;
    s.reserve(20 + payload.size());
    append_be16(s, sport);
    append_be16(s, dport);
    append_be32(s, seq);
    append_be32(s, ack);
    s.push_back(5 << 4);
    s.push_back(flags);
    append_be16(s, window);
    append_be16(s, 0); // checksum
    append_be16(s, 0); // urgent pointer
    s.insert(s.end(), payload.begin(), payload.end());
    store_be16(&s[16], internet_checksum(s, pseudo_header_sum(src, dst, ipproto::tcp, s.size())));
    return s;
}

std::vector<uint8_t> icmp_message(
    const IpAddr& src, const IpAddr& dst, uint8_t type, uint8_t code, uint32_t rest, std::span<const uint8_t> data)
{
    std::vector<uint8_t> m;
    m.reserve(8 + data.size());
    m.push_back(type);
    m.push_back(code);
    append_be16(m, 0);
    append_be32(m, rest);
    m.insert(m.end(), data.begin(), data.end());
    // ICMPv6 sums the pseudo-header too; ICMP for IPv4 does not.
    uint32_t initial = src.v6 ? pseudo_header_sum(src, dst, ipproto::icmpv6, m.size()) : 0;
    store_be16(&m[2], internet_checksum(m, initial));
    return m;
}

std::vector<uint8_t> udp_frame(
    const Endpoint& from, const Endpoint& to, uint16_t sport, uint16_t dport, std::span<const uint8_t> payload)
{
    auto l4 = udp_segment(from.ip, to.ip, sport, dport, payload);
    return ethernet_frame(from.mac, to.mac, ethertype_of(from.ip), ip_packet(from.ip, to.ip, ipproto::udp, l4));
}

std::vector<uint8_t> tcp_frame(const Endpoint& from, const Endpoint& to, uint16_t sport, uint16_t dport, uint32_t seq,
    uint32_t ack, uint8_t flags, std::span<const uint8_t> payload)
{
    auto l4 = tcp_segment(from.ip, to.ip, sport, dport, seq, ack, flags, payload);
    return ethernet_frame(from.mac, to.mac, ethertype_of(from.ip), ip_packet(from.ip, to.ip, ipproto::tcp, l4));
}

std::vector<uint8_t> icmp_echo_frame(
    const Endpoint& from, const Endpoint& to, bool reply, uint16_t id, uint16_t seq, std::span<const uint8_t> data)
{
    uint8_t type = from.ip.v6 ? (reply ? 129 : 128) : (reply ? 0 : 8);
    auto l4 = icmp_message(from.ip, to.ip, type, 0, (uint32_t(id) << 16) | seq, data);
    return ethernet_frame(
        from.mac, to.mac, ethertype_of(from.ip), ip_packet(from.ip, to.ip, from.ip.v6 ? ipproto::icmpv6 : ipproto::icmp, l4));
}

std::vector<uint8_t> arp_frame(uint16_t op, const MacAddr& sender_mac, const IpAddr& sender_ip, const MacAddr& target_mac,
    const IpAddr& target_ip, const MacAddr& eth_dst)
{
    std::vector<uint8_t> a;
    a.reserve(28);
    append_be16(a, 1); // Ethernet
    append_be16(a, 0x0800); // IPv4
    a.push_back(6);
    a.push_back(4);
    append_be16(a, op);
    a.insert(a.end(), sender_mac.bytes.begin(), sender_mac.bytes.end());
    put_ip(a, sender_ip);
    a.insert(a.end(), target_mac.bytes.begin(), target_mac.bytes.end());
    put_ip(a, target_ip);
    return ethernet_frame(sender_mac, eth_dst, ethertype::arp, a);
}

std::vector<std::vector<uint8_t>> fragment_ipv4_frame(std::span<const uint8_t> frame, std::size_t mtu)
{
    std::vector<std::vector<uint8_t>> out;
    if (frame.size() < 14 + 20 || load_be16(frame.data() + 12) != ethertype::ipv4 || mtu < 68)
        return out;
    const uint8_t* ip = frame.data() + 14;
    std::size_t ihl = std::size_t(ip[0] & 0x0f) * 4;
    std::size_t total = load_be16(ip + 2);
    uint16_t flags = load_be16(ip + 6);
    if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || 14 + total > frame.size() || (flags & 0x4000) || (flags & 0x3fff))
        return out;
    IpAddr src, dst;
    std::copy_n(ip + 12, 4, src.bytes.begin());
    std::copy_n(ip + 16, 4, dst.bytes.begin());
    MacAddr dst_mac, src_mac;
    std::copy_n(frame.data(), 6, dst_mac.bytes.begin());
    std::copy_n(frame.data() + 6, 6, src_mac.bytes.begin());
    std::span<const uint8_t> payload = frame.subspan(14 + ihl, total - ihl);
    std::size_t chunk = (mtu - 20) & ~std::size_t(7);
    for (std::size_t off = 0; off < payload.size(); off += chunk) {
        std::size_t n = std::min(chunk, payload.size() - off);
        Ipv4Fields f;
        f.ttl = ip[8];
        f.tos = ip[1];
        f.id = load_be16(ip + 4);
        f.more_fragments = off + n < payload.size();
        f.frag_offset = static_cast<uint16_t>(off);
        out.push_back(
            ethernet_frame(src_mac, dst_mac, ethertype::ipv4, ipv4_packet(src, dst, ip[9], payload.subspan(off, n), f)));
    }
    return out;
}

} // namespace bulwark::net
