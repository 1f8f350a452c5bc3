#include "net/packet.h"

#include <algorithm>
#include <cstdio>

#include "base/endian.h"
#include "base/hash.h"

namespace bulwark::net {

namespace {

constexpr size_t k_eth_header = 14;
constexpr size_t k_vlan_tag = 4;
constexpr size_t k_arp_bytes = 28;
constexpr size_t k_ipv4_min_header = 20;
constexpr size_t k_ipv6_header = 40;
constexpr size_t k_tcp_min_header = 20;
constexpr size_t k_udp_header = 8;
constexpr size_t k_icmp_min = 4;
constexpr size_t k_icmp_echo = 8;

// IPv6 extension headers this decoder walks (RFC 8200 section 4), and how many it accepts
// before giving up: a long chain has no legitimate use and is a known way to hide the
// upper-layer header from filters (RFC 7112).
constexpr uint8_t k_ext_hop_by_hop = 0;
constexpr uint8_t k_ext_routing = 43;
constexpr uint8_t k_ext_fragment = 44;
constexpr uint8_t k_ext_dest_options = 60;
constexpr size_t k_max_ext_headers = 8;

constexpr uint16_t k_ipv4_mf = 0x2000;
constexpr uint16_t k_ipv4_offset_mask = 0x1fff;

DecodeResult fail(FrameError error)
{
    return DecodeResult { std::nullopt, error };
}


// A dotted quad, strictly: four decimal parts 0-255 without leading zeros (which some
// parsers read as octal, so "010" would mean 8 to them and 10 to us).
std::optional<std::array<uint8_t, 4>> parse_dotted_quad(std::string_view text)
{
    std::array<uint8_t, 4> out {};
    size_t part = 0;
    size_t i = 0;
    while (part < 4) {
        size_t start = i;
        unsigned value = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 3) {
            value = value * 10 + unsigned(text[i] - '0');
            ++i;
        }
        size_t digits = i - start;
        if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0'))
            return std::nullopt;
        out[part++] = static_cast<uint8_t>(value);
        if (part < 4) {
            if (i >= text.size() || text[i] != '.')
                return std::nullopt;
            ++i;
        }
    }
    if (i != text.size())
        return std::nullopt;
    return out;
}

// RFC 4291 section 2.2 text forms: eight groups of 1-4 hex digits, one "::" standing for
// one or more zero groups, optionally ending in a dotted quad. Zone ids are refused.
std::optional<std::array<uint8_t, 16>> parse_ipv6(std::string_view text)
{
    std::array<uint16_t, 8> groups {};
    size_t count = 0;
    std::optional<size_t> gap; // index in groups where "::" was
    size_t i = 0;
    if (text.size() < 2)
        return std::nullopt;
    if (text[0] == ':') {
        if (text[1] != ':')
            return std::nullopt;
        gap = 0;
        i = 2;
        if (i == text.size())
            return std::array<uint8_t, 16> {};
    }
    while (i < text.size()) {
        if (count >= 8)
            return std::nullopt;
        // An embedded IPv4 address takes the last two groups.
        size_t next_colon = text.find(':', i);
        std::string_view rest = text.substr(i, next_colon == std::string_view::npos ? std::string_view::npos : next_colon - i);
        if (next_colon == std::string_view::npos && rest.find('.') != std::string_view::npos) {
            auto quad = parse_dotted_quad(rest);
            if (!quad || count > 6)
                return std::nullopt;
            groups[count++] = static_cast<uint16_t>(((*quad)[0] << 8) | (*quad)[1]);
            groups[count++] = static_cast<uint16_t>(((*quad)[2] << 8) | (*quad)[3]);
            i = text.size();
            break;
        }
        if (rest.empty() || rest.size() > 4)
            return std::nullopt;
        unsigned value = 0;
        for (char c : rest) {
            int v = hex_digit_value(c);
            if (v < 0)
                return std::nullopt;
            value = value * 16 + unsigned(v);
        }
        groups[count++] = static_cast<uint16_t>(value);
        i += rest.size();
        if (i == text.size())
            break;
        // A single colon separates groups; a double one is the gap (at most one, and not at
        // the very end unless it is the whole tail).
        ++i;
        if (i < text.size() && text[i] == ':') {
            if (gap)
                return std::nullopt;
            gap = count;
            ++i;
            if (i == text.size())
                break;
        } else if (i == text.size()) {
            return std::nullopt; // a trailing single colon
        }
    }
    if (gap) {
        if (count >= 8)
            return std::nullopt; // "::" must stand for at least one group
        size_t tail = count - *gap;
        std::array<uint16_t, 8> full {};
        for (size_t k = 0; k < *gap; ++k)
            full[k] = groups[k];
        for (size_t k = 0; k < tail; ++k)
            full[8 - tail + k] = groups[*gap + k];
        groups = full;
    } else if (count != 8) {
        return std::nullopt;
    }
    std::array<uint8_t, 16> out {};
    for (size_t k = 0; k < 8; ++k) {
        out[2 * k] = static_cast<uint8_t>(groups[k] >> 8);
        out[2 * k + 1] = static_cast<uint8_t>(groups[k]);
    }
    return out;
}

std::optional<unsigned> parse_small_decimal(std::string_view text, unsigned max)
{
    if (text.empty() || text.size() > 3 || (text.size() > 1 && text[0] == '0'))
        return std::nullopt;
    unsigned value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        value = value * 10 + unsigned(c - '0');
    }
    if (value > max)
        return std::nullopt;
    return value;
}

// TCP, UDP and ICMP headers. `complete` says whether ip_payload is the whole upper-layer
// datagram (unfragmented) or only the first fragment of it: in a first fragment a header cut
// short is not an error, the L4 fields just stay unknown.
std::optional<FrameError> decode_l4(Packet& p, bool complete)
{
    auto data = p.ip_payload;
    switch (p.ip_proto) {
    case ipproto::tcp: {
        if (data.size() < k_tcp_min_header)
            return complete ? std::optional(FrameError::BadL4Header) : std::nullopt;
        size_t header = size_t(data[12] >> 4) * 4;
        if (header < k_tcp_min_header)
            return FrameError::BadL4Header;
        if (header > data.size())
            return complete ? std::optional(FrameError::BadL4Header) : std::nullopt;
        p.l4 = L4::Tcp;
        p.src_port = load_be16(&data[0]);
        p.dst_port = load_be16(&data[2]);
        p.tcp_seq = load_be32(&data[4]);
        p.tcp_ack = load_be32(&data[8]);
        p.tcp_flags = data[13];
        p.tcp_window = load_be16(&data[14]);
        p.payload = data.subspan(header);
        return std::nullopt;
    }
    case ipproto::udp: {
        if (data.size() < k_udp_header)
            return complete ? std::optional(FrameError::BadL4Header) : std::nullopt;
        size_t length = load_be16(&data[4]);
        if (length < k_udp_header)
            return FrameError::BadL4Header;
        size_t end = data.size();
        if (complete) {
            // The UDP length may be shorter than the IP payload (the rest is ignored, as in
            // Linux), never longer.
            if (length > data.size())
                return FrameError::BadL4Header;
            end = length;
        }
        p.l4 = L4::Udp;
        p.src_port = load_be16(&data[0]);
        p.dst_port = load_be16(&data[2]);
        p.payload = data.subspan(k_udp_header, end - k_udp_header);
        return std::nullopt;
    }
    case ipproto::icmp:
    case ipproto::icmpv6: {
        bool v6 = p.ip_proto == ipproto::icmpv6;
        if (v6 != (p.l3 == L3::Ipv6)) {
            p.l4 = L4::Other; // ICMPv4 over IPv6 or the reverse: not something we interpret
            return std::nullopt;
        }
        if (data.size() < k_icmp_min)
            return complete ? std::optional(FrameError::BadL4Header) : std::nullopt;
        uint8_t type = data[0];
        bool echo = v6 ? (type == 128 || type == 129) : (type == 8 || type == 0);
        if (echo && data.size() < k_icmp_echo)
            return complete ? std::optional(FrameError::BadL4Header) : std::nullopt;
        p.l4 = v6 ? L4::Icmpv6 : L4::Icmp;
        p.icmp_type = type;
        p.icmp_code = data[1];
        if (echo) {
            // Both ports carry the echo identifier, so a flow keys on it in both directions.
            p.src_port = p.dst_port = load_be16(&data[4]);
        }
        p.payload = data.subspan(std::min(data.size(), k_icmp_echo));
        return std::nullopt;
    }
    default:
        p.l4 = L4::Other;
        p.payload = data;
        return std::nullopt;
    }
}

// IPv4 (RFC 791). Header: version/IHL, TOS, total length, id, flags/fragment offset, TTL,
// protocol, checksum, source, destination, options up to IHL*4. The checksum is not checked:
// guests' offloads leave it to the host, and a wrong one harms only the sender.
std::optional<FrameError> decode_ipv4(Packet& p, std::span<const uint8_t> bytes)
{
    if (bytes.size() < k_ipv4_min_header)
        return FrameError::TooShort;
    if ((bytes[0] >> 4) != 4)
        return FrameError::BadIpHeader;
    size_t header = size_t(bytes[0] & 0x0f) * 4;
    size_t total = load_be16(&bytes[2]);
    if (header < k_ipv4_min_header || header > total || total > bytes.size())
        return FrameError::BadIpHeader;
    p.l3 = L3::Ipv4;
    p.ip_id = load_be16(&bytes[4]);
    uint16_t frag = load_be16(&bytes[6]);
    p.more_fragments = (frag & k_ipv4_mf) != 0;
    p.frag_offset = static_cast<uint16_t>((frag & k_ipv4_offset_mask) * 8);
    p.is_fragment = p.more_fragments || p.frag_offset != 0;
    p.ttl = bytes[8];
    p.ip_proto = bytes[9];
    p.ip_src.bytes = {};
    p.ip_dst.bytes = {};
    std::copy_n(&bytes[12], 4, p.ip_src.bytes.begin());
    std::copy_n(&bytes[16], 4, p.ip_dst.bytes.begin());
    // Bytes past the total length are Ethernet padding (short frames are padded to 60 bytes).
    p.ip_header = bytes.subspan(0, header);
    p.ip_payload = bytes.subspan(header, total - header);
    if (p.is_fragment) {
        p.frag_data = p.ip_payload;
        p.frag_next_header = p.ip_proto;
        if (p.frag_offset != 0)
            return std::nullopt;
    }
    return decode_l4(p, !p.is_fragment);
}

// IPv6 (RFC 8200): a fixed 40-byte header (version, traffic class, flow label, payload
// length, next header, hop limit, source, destination), then a chain of extension headers.
// Hop-by-hop, routing and destination options headers are (1 + length byte) * 8 bytes long;
// the fragment header is 8 bytes: next header, reserved, offset (13 bits, in 8-byte units)
// with the M flag in bit 0, and a 32-bit identification.
std::optional<FrameError> decode_ipv6(Packet& p, std::span<const uint8_t> bytes)
{
    if (bytes.size() < k_ipv6_header)
        return FrameError::TooShort;
    if ((bytes[0] >> 4) != 6)
        return FrameError::BadIpHeader;
    size_t payload_length = load_be16(&bytes[4]);
    // A zero payload length means a jumbogram (RFC 2675), which no frame here can carry.
    if (payload_length == 0 && bytes[6] == k_ext_hop_by_hop)
        return FrameError::BadIpHeader;
    if (k_ipv6_header + payload_length > bytes.size())
        return FrameError::BadIpHeader;
    auto datagram = bytes.subspan(0, k_ipv6_header + payload_length);
    p.l3 = L3::Ipv6;
    p.ttl = bytes[7];
    p.ip_src.v6 = p.ip_dst.v6 = true;
    std::copy_n(&bytes[8], 16, p.ip_src.bytes.begin());
    std::copy_n(&bytes[24], 16, p.ip_dst.bytes.begin());

    uint8_t next = bytes[6];
    size_t nh_offset = 6; // where the byte naming `next` is
    size_t offset = k_ipv6_header;
    size_t ext_count = 0;
    bool seen_fragment = false;
    for (;;) {
        bool is_ext = next == k_ext_hop_by_hop || next == k_ext_routing || next == k_ext_fragment || next == k_ext_dest_options;
        if (!is_ext)
            break;
        if (++ext_count > k_max_ext_headers)
            return FrameError::TooManyExtHeaders;
        // Hop-by-hop options may only come first (RFC 8200 section 4.1).
        if (next == k_ext_hop_by_hop && offset != k_ipv6_header)
            return FrameError::BadIpHeader;
        if (datagram.size() - offset < 8)
            return FrameError::BadIpHeader;
        if (next == k_ext_fragment) {
            // Two fragment headers in one packet have no meaning but to confuse reassembly.
            if (seen_fragment)
                return FrameError::BadIpHeader;
            seen_fragment = true;
            uint16_t field = load_be16(&datagram[offset + 2]);
            p.frag_offset = static_cast<uint16_t>(field & 0xfff8);
            p.more_fragments = (field & 1) != 0;
            p.ip6_frag_id = load_be32(&datagram[offset + 4]);
            p.ip_id = static_cast<uint16_t>(p.ip6_frag_id);
            p.frag_next_header = datagram[offset];
            p.ip6_unfragmentable_len = static_cast<uint16_t>(offset);
            p.ip6_frag_nh_offset = static_cast<uint16_t>(nh_offset);
            // An atomic fragment (offset 0, no more fragments; RFC 6946) is a whole datagram.
            p.is_fragment = p.more_fragments || p.frag_offset != 0;
            nh_offset = offset;
            next = datagram[offset];
            offset += 8;
            if (p.is_fragment) {
                p.frag_data = datagram.subspan(offset);
                // Later fragments carry only payload: the header chain ends here for them.
                if (p.frag_offset != 0)
                    break;
            }
            continue;
        }
        size_t length = (size_t(datagram[offset + 1]) + 1) * 8;
        if (length > datagram.size() - offset)
            return FrameError::BadIpHeader;
        nh_offset = offset;
        next = datagram[offset];
        offset += length;
    }
    p.ip_proto = next;
    p.ip_header = datagram.subspan(0, offset);
    p.ip_payload = datagram.subspan(offset);
    if (p.is_fragment && p.frag_offset != 0)
        return std::nullopt;
    return decode_l4(p, !p.is_fragment);
}

// ARP (RFC 826) for Ethernet and IPv4 only: htype 1, ptype 0x0800, hlen 6, plen 4, then the
// operation and the four addresses (28 bytes in all).
std::optional<FrameError> decode_arp(Packet& p, std::span<const uint8_t> bytes)
{
    if (bytes.size() < k_arp_bytes)
        return FrameError::BadArp;
    if (load_be16(&bytes[0]) != 1 || load_be16(&bytes[2]) != ethertype::ipv4 || bytes[4] != 6 || bytes[5] != 4)
        return FrameError::BadArp;
    p.l3 = L3::Arp;
    p.arp.op = load_be16(&bytes[6]);
    std::copy_n(&bytes[8], 6, p.arp.sender_mac.bytes.begin());
    std::copy_n(&bytes[14], 4, p.arp.sender_ip.bytes.begin());
    std::copy_n(&bytes[18], 6, p.arp.target_mac.bytes.begin());
    std::copy_n(&bytes[24], 4, p.arp.target_ip.bytes.begin());
    return std::nullopt;
}

} // namespace

bool MacAddr::is_broadcast() const
{
    return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0xff; });
}

bool MacAddr::is_zero() const
{
    return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

std::string MacAddr::to_string() const
{
    char buf[18];
    (void)std::snprintf(
        buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]);
    return buf;
}

std::optional<MacAddr> MacAddr::parse(std::string_view text)
{
    // Exactly "xx:xx:xx:xx:xx:xx", either case.
    if (text.size() != 17)
        return std::nullopt;
    MacAddr mac;
    for (size_t i = 0; i < 6; ++i) {
        int hi = hex_digit_value(text[i * 3]);
        int lo = hex_digit_value(text[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':'))
            return std::nullopt;
        mac.bytes[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    return mac;
}

IpAddr IpAddr::v4(uint32_t host_order)
{
    IpAddr addr;
    addr.bytes[0] = static_cast<uint8_t>(host_order >> 24);
    addr.bytes[1] = static_cast<uint8_t>(host_order >> 16);
    addr.bytes[2] = static_cast<uint8_t>(host_order >> 8);
    addr.bytes[3] = static_cast<uint8_t>(host_order);
    return addr;
}

uint32_t IpAddr::v4_host_order() const
{
    return load_be32(bytes.data());
}

bool IpAddr::is_unspecified() const
{
    return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

std::string IpAddr::to_string() const
{
    char buf[64];
    if (!v6) {
        (void)std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", bytes[0], bytes[1], bytes[2], bytes[3]);
        return buf;
    }
    uint16_t groups[8];
    for (size_t i = 0; i < 8; ++i)
        groups[i] = load_be16(&bytes[2 * i]);
    // IPv4-mapped addresses keep their dotted quad (RFC 5952 section 5).
    bool mapped = groups[0] == 0 && groups[1] == 0 && groups[2] == 0 && groups[3] == 0 && groups[4] == 0 && groups[5] == 0xffff;
    if (mapped) {
        (void)std::snprintf(buf, sizeof buf, "::ffff:%u.%u.%u.%u", bytes[12], bytes[13], bytes[14], bytes[15]);
        return buf;
    }
    // RFC 5952 section 4.2: "::" replaces the longest run of two or more zero groups, the
    // first one when runs tie; hex digits are lower case without leading zeros.
    int best_start = -1;
    int best_len = 1;
    for (int i = 0; i < 8;) {
        if (groups[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && groups[j] == 0)
            ++j;
        if (j - i > best_len) {
            best_start = i;
            best_len = j - i;
        }
        i = j;
    }
    std::string out;
    for (int i = 0; i < 8; ++i) {
        if (i == best_start) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':')
            out += ':';
        (void)std::snprintf(buf, sizeof buf, "%x", groups[i]);
        out += buf;
    }
    return out;
}

std::optional<IpAddr> IpAddr::parse(std::string_view text)
{
    if (text.find(':') == std::string_view::npos) {
        auto quad = parse_dotted_quad(text);
        if (!quad)
            return std::nullopt;
        IpAddr addr;
        std::copy(quad->begin(), quad->end(), addr.bytes.begin());
        return addr;
    }
    auto bytes = parse_ipv6(text);
    if (!bytes)
        return std::nullopt;
    IpAddr addr;
    addr.v6 = true;
    addr.bytes = *bytes;
    return addr;
}

namespace {

bool prefix_matches(const IpAddr& a, const IpAddr& b, unsigned prefix)
{
    size_t whole = prefix / 8;
    if (!std::equal(a.bytes.begin(), a.bytes.begin() + static_cast<ptrdiff_t>(whole), b.bytes.begin()))
        return false;
    unsigned rest = prefix % 8;
    if (rest == 0)
        return true;
    auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (a.bytes[whole] & mask) == (b.bytes[whole] & mask);
}

} // namespace

bool Cidr::contains(const IpAddr& addr) const
{
    return addr.v6 == base.v6 && prefix_matches(base, addr, prefix);
}

std::string Cidr::to_string() const
{
    return base.to_string() + "/" + std::to_string(prefix);
}

std::optional<Cidr> Cidr::parse(std::string_view text)
{
    size_t slash = text.find('/');
    auto addr = IpAddr::parse(text.substr(0, slash));
    if (!addr)
        return std::nullopt;
    unsigned max = addr->v6 ? 128 : 32;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
        auto parsed = parse_small_decimal(text.substr(slash + 1), max);
        if (!parsed)
            return std::nullopt;
        prefix = *parsed;
    }
    // Host bits must be clear: "10.0.0.5/24" is refused rather than guessed at, since it may
    // mean the network or the host.
    for (unsigned bit = prefix; bit < max; ++bit) {
        if (addr->bytes[bit / 8] & (0x80 >> (bit % 8)))
            return std::nullopt;
    }
    return Cidr { *addr, static_cast<uint8_t>(prefix) };
}

const char* frame_error_name(FrameError error)
{
    switch (error) {
    case FrameError::TooShort:
        return "too_short";
    case FrameError::TooLong:
        return "too_long";
    case FrameError::BadIpHeader:
        return "bad_ip_header";
    case FrameError::BadL4Header:
        return "bad_l4_header";
    case FrameError::BadArp:
        return "bad_arp";
    case FrameError::TooManyExtHeaders:
        return "too_many_ext_headers";
    }
    return "unknown";
}

DecodeResult decode_frame(std::span<const uint8_t> frame)
{
    return decode_frame(frame, DecodeOptions {});
}

// Ethernet II (no FCS: QEMU strips it): destination MAC, source MAC, ethertype; with an
// 802.1Q tag the ethertype 0x8100 is followed by the tag control (PCP, DEI, 12-bit VLAN id)
// and the real ethertype. Only one tag is interpreted: a second one (QinQ) decodes as an
// unknown ethertype, L3::Other.
DecodeResult decode_frame(std::span<const uint8_t> frame, const DecodeOptions& options)
{
    if (frame.size() < k_min_frame)
        return fail(FrameError::TooShort);
    if (frame.size() > options.max_size)
        return fail(FrameError::TooLong);
    Packet p;
    p.frame = frame;
    std::copy_n(&frame[0], 6, p.dst.bytes.begin());
    std::copy_n(&frame[6], 6, p.src.bytes.begin());
    p.ethertype = load_be16(&frame[12]);
    size_t offset = k_eth_header;
    if (p.ethertype == ethertype::vlan) {
        if (frame.size() < k_eth_header + k_vlan_tag)
            return fail(FrameError::TooShort);
        p.vlan = static_cast<uint16_t>(load_be16(&frame[14]) & 0x0fff);
        p.ethertype = load_be16(&frame[16]);
        offset += k_vlan_tag;
    }
    auto rest = frame.subspan(offset);
    std::optional<FrameError> error;
    switch (p.ethertype) {
    case ethertype::arp:
        error = decode_arp(p, rest);
        break;
    case ethertype::ipv4:
        error = decode_ipv4(p, rest);
        break;
    case ethertype::ipv6:
        error = decode_ipv6(p, rest);
        break;
    default:
        p.l3 = L3::Other;
        break;
    }
    if (error)
        return fail(*error);
    return DecodeResult { std::move(p), std::nullopt };
}

} // namespace bulwark::net
