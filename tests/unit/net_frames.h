// Helpers for the packet layer's tests (src/net). Well-formed frames come from
// src/net/frame_builder.h (tcp_frame, udp_frame, icmp_echo_frame, ipv4_packet, ...); what is
// here builds the pieces those do not: headers with every field settable so that tests can
// corrupt any of them (IHL and IP options, 802.1Q tags, IPv6 extension and fragment headers,
// TCP options, checksum-less L4 headers), and the decode helper. Kept in a header so the unit
// test glob (*.cpp) does not pick it up.
#pragma once

#include <cstdint>
#include <deque>
#include <gtest/gtest.h>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/endian.h"
#include "net/frame_builder.h"
#include "net/packet.h"

namespace bulwark::net::test {

using Bytes = std::vector<uint8_t>;

inline void set16(Bytes& b, size_t at, uint16_t v)
{
    b[at] = uint8_t(v >> 8);
    b[at + 1] = uint8_t(v);
}

inline Bytes bytes_of(std::string_view text)
{
    return Bytes(text.begin(), text.end());
}

inline Bytes cat(std::initializer_list<Bytes> parts)
{
    Bytes out;
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

inline IpAddr ip(std::string_view text)
{
    return *IpAddr::parse(text);
}

inline MacAddr mac(std::string_view text)
{
    return *MacAddr::parse(text);
}

inline const MacAddr k_mac_a = *MacAddr::parse("52:54:00:00:00:0a");
inline const MacAddr k_mac_b = *MacAddr::parse("52:54:00:00:00:0b");
// The two hosts of the tests' frames: a (10.0.0.1) sends to b (10.0.0.2) unless told otherwise.
inline const Endpoint k_host_a { k_mac_a, *IpAddr::parse("10.0.0.1") };
inline const Endpoint k_host_b { k_mac_b, *IpAddr::parse("10.0.0.2") };

inline Bytes eth(uint16_t type, std::optional<uint16_t> vlan = std::nullopt, MacAddr dst = k_mac_b, MacAddr src = k_mac_a)
{
    Bytes b(dst.bytes.begin(), dst.bytes.end());
    b.insert(b.end(), src.bytes.begin(), src.bytes.end());
    if (vlan) {
        append_be16(b, ethertype::vlan);
        append_be16(b, *vlan);
    }
    append_be16(b, type);
    return b;
}

struct V4 {
    IpAddr src = *IpAddr::parse("10.0.0.1");
    IpAddr dst = *IpAddr::parse("10.0.0.2");
    uint8_t proto = ipproto::tcp;
    uint16_t id = 0x1234;
    bool more_fragments = false;
    bool dont_fragment = false;
    uint16_t frag_offset = 0; // bytes (a multiple of 8)
    uint8_t ttl = 64;
    Bytes options; // a multiple of 4 bytes
};

// An IPv4 header and payload, with a correct total length and checksum: ipv4_packet() from
// frame_builder.h, except with IP options, which only these tests build.
inline Bytes ipv4(const V4& h, const Bytes& payload)
{
    if (h.options.empty()) {
        Ipv4Fields fields;
        fields.ttl = h.ttl;
        fields.id = h.id;
        fields.dont_fragment = h.dont_fragment;
        fields.more_fragments = h.more_fragments;
        fields.frag_offset = h.frag_offset;
        return ipv4_packet(h.src, h.dst, h.proto, payload, fields);
    }
    Bytes b;
    size_t header = 20 + h.options.size();
    b.push_back(uint8_t(0x40 | (header / 4)));
    b.push_back(0);
    append_be16(b, uint16_t(header + payload.size()));
    append_be16(b, h.id);
    append_be16(b, uint16_t((h.dont_fragment ? 0x4000 : 0) | (h.more_fragments ? 0x2000 : 0) | (h.frag_offset / 8)));
    b.push_back(h.ttl);
    b.push_back(h.proto);
    append_be16(b, 0);
    b.insert(b.end(), h.src.bytes.begin(), h.src.bytes.begin() + 4);
    b.insert(b.end(), h.dst.bytes.begin(), h.dst.bytes.begin() + 4);
    b.insert(b.end(), h.options.begin(), h.options.end());
    set16(b, 10, internet_checksum(std::span(b).first(header)));
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

struct V6 {
    IpAddr src = *IpAddr::parse("fd00::1");
    IpAddr dst = *IpAddr::parse("fd00::2");
    uint8_t next = ipproto::tcp;
    uint8_t hop_limit = 64;
};

// An IPv6 header and payload (which includes any extension headers), with a correct length.
inline Bytes ipv6(const V6& h, const Bytes& payload)
{
    return ipv6_packet(h.src, h.dst, h.next, payload, h.hop_limit);
}

// A hop-by-hop, routing or destination options header of (1 + len8) * 8 bytes.
inline Bytes ext_header(uint8_t next, uint8_t len8 = 0)
{
    Bytes b { next, len8 };
    b.resize((size_t(len8) + 1) * 8, 0);
    if (b.size() >= 4)
        b[2] = 1; // a PadN option, for realism
    return b;
}

inline Bytes frag_header(uint8_t next, uint16_t offset_bytes, bool more, uint32_t id)
{
    Bytes b { next, 0 };
    append_be16(b, uint16_t((offset_bytes & 0xfff8) | (more ? 1 : 0)));
    append_be32(b, id);
    return b;
}

inline Bytes tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, const Bytes& payload = {},
    const Bytes& options = {})
{
    Bytes b;
    append_be16(b, sport);
    append_be16(b, dport);
    append_be32(b, seq);
    append_be32(b, ack);
    b.push_back(uint8_t(((20 + options.size()) / 4) << 4));
    b.push_back(flags);
    append_be16(b, 65535);
    append_be16(b, 0);
    append_be16(b, 0);
    b.insert(b.end(), options.begin(), options.end());
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

inline Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload)
{
    Bytes b;
    append_be16(b, sport);
    append_be16(b, dport);
    append_be16(b, uint16_t(8 + payload.size()));
    append_be16(b, 0);
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

inline Bytes icmp(uint8_t type, uint8_t code, uint16_t id, uint16_t seq, const Bytes& payload = {})
{
    Bytes b { type, code, 0, 0 };
    append_be16(b, id);
    append_be16(b, seq);
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

// Decodes a frame that must decode. A Packet borrows its frame's bytes, so the frame is kept
// (until the test binary exits) and callers may pass temporaries.
inline Packet decode_ok(Bytes frame, size_t max_size = k_max_frame)
{
    static std::deque<Bytes> kept;
    kept.push_back(std::move(frame));
    auto r = decode_frame(kept.back(), DecodeOptions { .max_size = max_size });
    EXPECT_TRUE(r.packet.has_value()) << (r.error ? frame_error_name(*r.error) : "");
    return r.packet ? *r.packet : Packet {};
}

} // namespace bulwark::net::test
