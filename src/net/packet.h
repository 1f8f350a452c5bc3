// A decoded Ethernet frame: the view every part of the switch works on (forwarding, the
// anti-spoofing checks, segmentation, connection tracking, the IDS).
//
// Frames come from guests that may be compromised, so decoding never trusts a length field:
// every header is checked against the bytes really present, and a frame that does not parse
// yields a FrameError (counted and dropped by the switch), never a crash or an out-of-bounds
// read. A Packet borrows the frame's bytes: it is valid only as long as the frame buffer is.
#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace bulwark::net {

// The largest frame the switch accepts: a jumbo-less Ethernet MTU of 1500 plus the 14-byte
// header and one 802.1Q tag. QEMU's stream backend carries frames without FCS.
inline constexpr std::size_t k_max_frame = 1518;
inline constexpr std::size_t k_min_frame = 14;

struct MacAddr {
    std::array<uint8_t, 6> bytes {};

    bool is_broadcast() const;
    bool is_multicast() const { return (bytes[0] & 1) != 0; } // broadcast included
    bool is_zero() const;
    std::string to_string() const; // "52:54:00:12:34:56"
    static std::optional<MacAddr> parse(std::string_view text);
    auto operator<=>(const MacAddr&) const = default;
    // Spelled out (the defaulted one calls memcmp): every frame's MACs are compared.
    bool operator==(const MacAddr& other) const
    {
        uint32_t a, b;
        uint16_t c, d;
        std::memcpy(&a, bytes.data(), 4);
        std::memcpy(&b, other.bytes.data(), 4);
        std::memcpy(&c, bytes.data() + 4, 2);
        std::memcpy(&d, other.bytes.data() + 4, 2);
        return a == b && c == d;
    }
};

// An IPv4 or IPv6 address. IPv4 addresses are kept in their 4 first bytes, the rest zero.
struct IpAddr {
    bool v6 = false;
    std::array<uint8_t, 16> bytes {};

    static IpAddr v4(uint32_t host_order);
    uint32_t v4_host_order() const; // only meaningful when !v6
    bool is_unspecified() const; // 0.0.0.0 or ::
    std::string to_string() const; // dotted quad, or RFC 5952 compressed IPv6
    static std::optional<IpAddr> parse(std::string_view text);
    // Spelled out as 64-bit word compares: the defaulted forms call memcmp, and the switch
    // compares addresses several times per frame (anti-spoofing, flow keys), where those calls
    // showed up as a tenth of forwarding time in the 64-byte-frame benchmark. The order is the
    // same as the defaulted one: v4 before v6, then the bytes lexicographically.
    bool operator==(const IpAddr& other) const
    {
        return v6 == other.v6 && word(0) == other.word(0) && word(1) == other.word(1);
    }
    std::strong_ordering operator<=>(const IpAddr& other) const
    {
        if (v6 != other.v6)
            return v6 <=> other.v6;
        if (word(0) != other.word(0))
            return word(0) <=> other.word(0);
        return word(1) <=> other.word(1);
    }

private:
    // Bytes 8i..8i+7 as a big-endian number, so that numeric order is byte order.
    uint64_t word(int i) const
    {
        uint64_t w;
        std::memcpy(&w, bytes.data() + 8 * i, 8);
        if constexpr (std::endian::native == std::endian::little)
            w = __builtin_bswap64(w);
        return w;
    }
};

// An address block, e.g. 10.0.0.0/24 or fd00::/64.
struct Cidr {
    IpAddr base; // host bits cleared
    uint8_t prefix = 0;

    bool contains(const IpAddr& addr) const;
    std::string to_string() const;
    static std::optional<Cidr> parse(std::string_view text); // "a.b.c.d", "a.b.c.d/n", "v6/n"
    auto operator<=>(const Cidr&) const = default;
};

namespace ethertype {
inline constexpr uint16_t ipv4 = 0x0800;
inline constexpr uint16_t arp = 0x0806;
inline constexpr uint16_t vlan = 0x8100;
inline constexpr uint16_t ipv6 = 0x86dd;
} // namespace ethertype

namespace ipproto {
inline constexpr uint8_t icmp = 1;
inline constexpr uint8_t tcp = 6;
inline constexpr uint8_t udp = 17;
inline constexpr uint8_t icmpv6 = 58;
} // namespace ipproto

namespace tcpflag {
inline constexpr uint8_t fin = 0x01;
inline constexpr uint8_t syn = 0x02;
inline constexpr uint8_t rst = 0x04;
inline constexpr uint8_t psh = 0x08;
inline constexpr uint8_t ack = 0x10;
inline constexpr uint8_t urg = 0x20;
inline constexpr uint8_t ece = 0x40;
inline constexpr uint8_t cwr = 0x80;
} // namespace tcpflag

enum class L3 : uint8_t { None, Arp, Ipv4, Ipv6, Other };
enum class L4 : uint8_t { None, Tcp, Udp, Icmp, Icmpv6, Other };

struct ArpInfo {
    uint16_t op = 0; // 1 request, 2 reply
    MacAddr sender_mac;
    IpAddr sender_ip;
    MacAddr target_mac;
    IpAddr target_ip;
};

struct Packet {
    std::span<const uint8_t> frame; // the whole frame

    MacAddr dst;
    MacAddr src;
    uint16_t ethertype = 0; // after any 802.1Q tag
    std::optional<uint16_t> vlan;

    L3 l3 = L3::None;
    ArpInfo arp; // when l3 == Arp

    // IPv4 / IPv6 (when l3 is Ipv4 or Ipv6)
    IpAddr ip_src;
    IpAddr ip_dst;
    uint8_t ip_proto = 0; // IPv6: the upper-layer protocol after extension headers
    uint8_t ttl = 0; // hop limit for IPv6
    uint16_t ip_id = 0; // IPv4 identification; IPv6 fragment id's low bits
    uint32_t ip6_frag_id = 0;
    bool is_fragment = false; // more-fragments set or non-zero offset
    bool more_fragments = false;
    uint16_t frag_offset = 0; // in bytes
    std::span<const uint8_t> ip_header; // IPv4 header incl. options / IPv6 header + ext headers
    std::span<const uint8_t> ip_payload; // bytes after the IP header(s), bounded by the IP length

    // For fragments (is_fragment): the bytes this fragment carries, at frag_offset of the
    // original datagram's fragmentable part. For IPv6 also the protocol named by the fragment
    // header, the length of the headers before it (the unfragmentable part, which reassembly
    // keeps) and where in ip_header the next-header byte that points at the fragment header is.
    std::span<const uint8_t> frag_data;
    uint8_t frag_next_header = 0;
    uint16_t ip6_unfragmentable_len = 0;
    uint16_t ip6_frag_nh_offset = 0;

    // L4 (only for the first fragment or an unfragmented datagram)
    L4 l4 = L4::None;
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint8_t tcp_flags = 0;
    uint32_t tcp_seq = 0;
    uint32_t tcp_ack = 0;
    uint16_t tcp_window = 0;
    uint8_t icmp_type = 0;
    uint8_t icmp_code = 0;
    std::span<const uint8_t> payload; // application bytes after the L4 header

    bool is_ip() const { return l3 == L3::Ipv4 || l3 == L3::Ipv6; }
};

enum class FrameError : uint8_t {
    TooShort, // under 14 bytes, or a header cut off
    TooLong, // over k_max_frame
    BadIpHeader, // version/IHL/length fields inconsistent with the bytes present
    BadL4Header, // TCP data offset or UDP length inconsistent
    BadArp, // ARP not Ethernet/IPv4 or cut off
    TooManyExtHeaders,
};
const char* frame_error_name(FrameError error);

// Decodes a frame. Unknown ethertypes and protocols decode as L3::Other / L4::Other (they are
// still frames the switch may forward or refuse by policy); only inconsistent bytes are errors.
struct DecodeResult {
    std::optional<Packet> packet;
    std::optional<FrameError> error;
};
DecodeResult decode_frame(std::span<const uint8_t> frame);

// The largest frame IP reassembly (defrag.h) produces: Ethernet, one 802.1Q tag, an IPv6
// header and the largest payload its 16-bit length can name. Reassembled frames are decoded
// with DecodeOptions { .max_size = k_max_reassembled_frame }; guest frames never are.
inline constexpr std::size_t k_max_reassembled_frame = 14 + 4 + 40 + 65535;

struct DecodeOptions {
    std::size_t max_size = k_max_frame; // larger frames are TooLong
};
DecodeResult decode_frame(std::span<const uint8_t> frame, const DecodeOptions& options);

} // namespace bulwark::net
