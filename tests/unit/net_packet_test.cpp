// The frame decoder and the address types (src/net/packet.h): hand-built frames with correct
// and corrupted fields, one test or more per FrameError, IPv6 extension header chains, and the
// strict text forms of MAC and IP addresses (RFC 5952 output).
#include <gtest/gtest.h>

#include "net/packet.h"
#include "net_frames.h"

namespace bulwark::net {
namespace {

using namespace test;

std::optional<FrameError> error_of(const Bytes& frame, size_t max_size = k_max_frame)
{
    auto r = decode_frame(frame, DecodeOptions { .max_size = max_size });
    EXPECT_NE(r.packet.has_value(), r.error.has_value());
    return r.error;
}

TEST(NetAddr, MacParseAndFormat)
{
    auto m = MacAddr::parse("52:54:00:AB:cd:0F");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->to_string(), "52:54:00:ab:cd:0f");
    EXPECT_FALSE(m->is_multicast());
    EXPECT_TRUE(MacAddr::parse("ff:ff:ff:ff:ff:ff")->is_broadcast());
    EXPECT_TRUE(MacAddr::parse("01:00:5e:00:00:01")->is_multicast());
    EXPECT_TRUE(MacAddr::parse("00:00:00:00:00:00")->is_zero());
    for (const char* bad : { "", "52:54:00:ab:cd", "52:54:00:ab:cd:0f:", "52-54-00-ab-cd-0f", "52:54:00:ab:cd:0g",
             "5:54:00:ab:cd:0f0", " 52:54:00:ab:cd:0f" })
        EXPECT_FALSE(MacAddr::parse(bad)) << bad;
}

TEST(NetAddr, Ipv4ParseIsStrict)
{
    auto a = IpAddr::parse("192.168.1.254");
    ASSERT_TRUE(a);
    EXPECT_FALSE(a->v6);
    EXPECT_EQ(a->v4_host_order(), 0xc0a801feu);
    EXPECT_EQ(a->to_string(), "192.168.1.254");
    EXPECT_EQ(IpAddr::v4(0x0a000001), *IpAddr::parse("10.0.0.1"));
    EXPECT_TRUE(IpAddr::parse("0.0.0.0")->is_unspecified());
    for (const char* bad : { "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.04", "1..3.4", "1.2.3.4 ", "a.b.c.d",
             "1.2.3.-4", "1234.1.1.1", "1.2.3.4/" })
        EXPECT_FALSE(IpAddr::parse(bad)) << bad;
}

TEST(NetAddr, Ipv6FormatsPerRfc5952)
{
    struct Case {
        const char* in;
        const char* out;
    } cases[] = {
        { "2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1" },
        { "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1" }, // a single zero group is not compressed
        { "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" }, // the first of two equal runs
        { "2001:0:0:1:0:0:0:1", "2001:0:0:1::1" }, // the longest run
        { "::", "::" },
        { "::1", "::1" },
        { "1::", "1::" },
        { "FD00::ABCD", "fd00::abcd" },
        { "::ffff:192.0.2.1", "::ffff:192.0.2.1" }, // IPv4-mapped keeps its dotted quad
        { "64:ff9b::192.0.2.33", "64:ff9b::c000:221" },
        { "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0" },
    };
    for (const auto& c : cases) {
        auto a = IpAddr::parse(c.in);
        ASSERT_TRUE(a) << c.in;
        EXPECT_TRUE(a->v6);
        EXPECT_EQ(a->to_string(), c.out) << c.in;
        EXPECT_EQ(*IpAddr::parse(a->to_string()), *a);
    }
    EXPECT_TRUE(IpAddr::parse("::")->is_unspecified());
}

TEST(NetAddr, Ipv6ParseIsStrict)
{
    for (const char* bad : { ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::", ":1::", "1:", "1::2:",
             "::1.2.3", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.4:5", "fe80::1%eth0", "1:2:3:4:5:6:7:8::" })
        EXPECT_FALSE(IpAddr::parse(bad)) << bad;
}

TEST(NetAddr, Cidr)
{
    auto c = Cidr::parse("10.1.0.0/16");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->prefix, 16);
    EXPECT_TRUE(c->contains(ip("10.1.255.3")));
    EXPECT_FALSE(c->contains(ip("10.2.0.1")));
    EXPECT_FALSE(c->contains(ip("::a01:1")));
    EXPECT_EQ(c->to_string(), "10.1.0.0/16");
    EXPECT_EQ(Cidr::parse("10.0.0.7")->prefix, 32);
    EXPECT_EQ(Cidr::parse("fd00::/8")->to_string(), "fd00::/8");
    EXPECT_TRUE(Cidr::parse("fd00::/8")->contains(ip("fdff::1")));
    EXPECT_FALSE(Cidr::parse("fd00::/8")->contains(ip("fe00::1")));
    EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(ip("8.8.8.8")));
    EXPECT_TRUE(Cidr::parse("10.0.0.0/25")->contains(ip("10.0.0.127")));
    EXPECT_FALSE(Cidr::parse("10.0.0.0/25")->contains(ip("10.0.0.128")));
    for (const char* bad :
        { "10.0.0.1/24", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "fd00::/129", "fd00::1/64", "/8", "10.0.0.0/-1" })
        EXPECT_FALSE(Cidr::parse(bad)) << bad;
}

TEST(NetDecode, EthernetAndVlan)
{
    auto p = decode_ok(cat({ eth(0x88b5), bytes_of("payload") }));
    EXPECT_EQ(p.l3, L3::Other);
    EXPECT_EQ(p.ethertype, 0x88b5);
    EXPECT_EQ(p.src, k_mac_a);
    EXPECT_EQ(p.dst, k_mac_b);
    EXPECT_FALSE(p.vlan);

    auto tagged = decode_ok(cat({ eth(0x88b5, 0x2064), bytes_of("x") }));
    ASSERT_TRUE(tagged.vlan);
    EXPECT_EQ(*tagged.vlan, 0x064); // the priority bits are not part of the id
    EXPECT_EQ(tagged.ethertype, 0x88b5);

    // A second tag is not interpreted.
    auto qinq = decode_ok(cat({ eth(ethertype::vlan, 5), Bytes { 0, 6, 0x08, 0x00 } }));
    EXPECT_EQ(qinq.l3, L3::Other);
}

TEST(NetDecode, TooShortAndTooLong)
{
    EXPECT_EQ(error_of(Bytes(13, 0)), FrameError::TooShort);
    EXPECT_EQ(error_of(Bytes {}), FrameError::TooShort);
    // A VLAN tag cut off.
    auto cut = eth(0x0800, 7);
    cut.resize(16);
    EXPECT_EQ(error_of(cut), FrameError::TooShort);
    // IPv4 and IPv6 fixed headers cut off.
    EXPECT_EQ(error_of(cat({ eth(ethertype::ipv4), Bytes(19, 0x45) })), FrameError::TooShort);
    EXPECT_EQ(error_of(cat({ eth(ethertype::ipv6), Bytes(39, 0x60) })), FrameError::TooShort);

    Bytes big = cat({ eth(0x88b5), Bytes(k_max_frame - 14, 0) });
    EXPECT_FALSE(error_of(big));
    big.push_back(0);
    EXPECT_EQ(error_of(big), FrameError::TooLong);
    EXPECT_FALSE(error_of(big, k_max_reassembled_frame));
}

TEST(NetDecode, Arp)
{
    Bytes arp;
    append_be16(arp, 1);
    append_be16(arp, 0x0800);
    arp.push_back(6);
    arp.push_back(4);
    append_be16(arp, 1);
    arp.insert(arp.end(), k_mac_a.bytes.begin(), k_mac_a.bytes.end());
    arp.insert(arp.end(), { 10, 0, 0, 1 });
    arp.insert(arp.end(), 6, 0);
    arp.insert(arp.end(), { 10, 0, 0, 2 });
    auto p = decode_ok(cat({ eth(ethertype::arp), arp, Bytes(18, 0) })); // padded to 60 bytes
    EXPECT_EQ(p.l3, L3::Arp);
    EXPECT_EQ(p.arp.op, 1);
    EXPECT_EQ(p.arp.sender_mac, k_mac_a);
    EXPECT_EQ(p.arp.sender_ip, ip("10.0.0.1"));
    EXPECT_EQ(p.arp.target_ip, ip("10.0.0.2"));
    EXPECT_TRUE(p.arp.target_mac.is_zero());

    Bytes cut(arp.begin(), arp.end() - 1);
    EXPECT_EQ(error_of(cat({ eth(ethertype::arp), cut })), FrameError::BadArp);
    for (size_t field : { 1, 3, 4, 5 }) { // htype, ptype, hlen, plen
        Bytes bad = arp;
        bad[field] ^= 0x10;
        EXPECT_EQ(error_of(cat({ eth(ethertype::arp), bad })), FrameError::BadArp) << field;
    }
}

TEST(NetDecode, Ipv4Tcp)
{
    auto segment = tcp_segment(k_host_a.ip, k_host_b.ip, 40000, 443, 0xfffffff0, 77, tcpflag::syn | tcpflag::ack, bytes_of("hello"));
    auto frame = ethernet_frame(k_mac_a, k_mac_b, ethertype::ipv4,
        ipv4_packet(k_host_a.ip, k_host_b.ip, ipproto::tcp, segment, Ipv4Fields { .ttl = 17, .id = 0x1234 }));
    auto p = decode_ok(frame);
    EXPECT_EQ(p.l3, L3::Ipv4);
    EXPECT_EQ(p.ip_src, ip("10.0.0.1"));
    EXPECT_EQ(p.ip_dst, ip("10.0.0.2"));
    EXPECT_EQ(p.ttl, 17);
    EXPECT_EQ(p.ip_id, 0x1234);
    EXPECT_FALSE(p.is_fragment);
    EXPECT_EQ(p.ip_header.size(), 20u);
    EXPECT_EQ(p.l4, L4::Tcp);
    EXPECT_EQ(p.src_port, 40000);
    EXPECT_EQ(p.dst_port, 443);
    EXPECT_EQ(p.tcp_seq, 0xfffffff0u);
    EXPECT_EQ(p.tcp_ack, 77u);
    EXPECT_EQ(p.tcp_flags, tcpflag::syn | tcpflag::ack);
    EXPECT_EQ(p.tcp_window, 65535);
    EXPECT_EQ(Bytes(p.payload.begin(), p.payload.end()), bytes_of("hello"));
    EXPECT_EQ(p.frame.size(), frame.size());
}

TEST(NetDecode, Ipv4PaddingAndOptions)
{
    // A short datagram padded to Ethernet's 60-byte minimum: the padding is not payload.
    V4 h;
    h.proto = ipproto::udp;
    auto frame = cat({ eth(ethertype::ipv4), ipv4(h, udp(53, 5353, bytes_of("q"))), Bytes(20, 0xee) });
    auto p = decode_ok(frame);
    EXPECT_EQ(p.ip_payload.size(), 9u);
    EXPECT_EQ(Bytes(p.payload.begin(), p.payload.end()), bytes_of("q"));

    // IP options move the L4 header.
    h.proto = ipproto::tcp;
    h.options = { 1, 1, 1, 0 };
    auto with_options = decode_ok(cat({ eth(ethertype::ipv4), ipv4(h, tcp(1, 2, 3, 0, tcpflag::ack, bytes_of("x"))) }));
    EXPECT_EQ(with_options.ip_header.size(), 24u);
    EXPECT_EQ(with_options.dst_port, 2);
    EXPECT_EQ(Bytes(with_options.payload.begin(), with_options.payload.end()), bytes_of("x"));
}

TEST(NetDecode, Ipv4BadHeaders)
{
    V4 h;
    auto good = cat({ eth(ethertype::ipv4), ipv4(h, tcp(1, 2, 3, 0, tcpflag::ack)) });
    ASSERT_FALSE(error_of(good));
    auto with = [&](size_t at, uint8_t value) {
        Bytes b = good;
        b[14 + at] = value;
        return error_of(b);
    };
    EXPECT_EQ(with(0, 0x65), FrameError::BadIpHeader); // version 6 under ethertype IPv4
    EXPECT_EQ(with(0, 0x44), FrameError::BadIpHeader); // IHL 4 < 5
    EXPECT_EQ(with(0, 0x4f), FrameError::BadIpHeader); // IHL 15: 60 bytes > total length
    EXPECT_EQ(with(3, 19), FrameError::BadIpHeader); // total length under the header
    EXPECT_EQ(with(3, 41), FrameError::BadIpHeader); // total length past the frame
    EXPECT_EQ(with(2, 0xff), FrameError::BadIpHeader);
}

TEST(NetDecode, L4BadHeaders)
{
    V4 h;
    // TCP: data offset under 5, past the datagram, or the header cut short.
    auto t = tcp(1, 2, 3, 0, tcpflag::ack);
    t[12] = 0x40;
    EXPECT_EQ(error_of(cat({ eth(ethertype::ipv4), ipv4(h, t) })), FrameError::BadL4Header);
    t[12] = 0x60;
    EXPECT_EQ(error_of(cat({ eth(ethertype::ipv4), ipv4(h, t) })), FrameError::BadL4Header);
    EXPECT_EQ(error_of(cat({ eth(ethertype::ipv4), ipv4(h, Bytes(19, 0)) })), FrameError::BadL4Header);
    // A data offset covering options is fine.
    auto with_opts = tcp(1, 2, 3, 0, tcpflag::syn, bytes_of("d"), { 2, 4, 5, 0xb4 });
    auto p = decode_ok(cat({ eth(ethertype::ipv4), ipv4(h, with_opts) }));
    EXPECT_EQ(Bytes(p.payload.begin(), p.payload.end()), bytes_of("d"));

    // UDP: length under 8 or past the IP payload; shorter than the IP payload is fine.
    h.proto = ipproto::udp;
    auto u = udp(1, 2, bytes_of("abcd"));
    set16(u, 4, 7);
    EXPECT_EQ(error_of(cat({ eth(ethertype::ipv4), ipv4(h, u) })), FrameError::BadL4Header);
    set16(u, 4, 13);
    EXPECT_EQ(error_of(cat({ eth(ethertype::ipv4), ipv4(h, u) })), FrameError::BadL4Header);
    set16(u, 4, 10);
    auto short_udp = decode_ok(cat({ eth(ethertype::ipv4), ipv4(h, u) }));
    EXPECT_EQ(Bytes(short_udp.payload.begin(), short_udp.payload.end()), bytes_of("ab"));
    EXPECT_EQ(error_of(cat({ eth(ethertype::ipv4), ipv4(h, Bytes(7, 0)) })), FrameError::BadL4Header);

    // ICMP: under 4 bytes, or an echo under 8.
    h.proto = ipproto::icmp;
    EXPECT_EQ(error_of(cat({ eth(ethertype::ipv4), ipv4(h, Bytes { 3, 0, 0 }) })), FrameError::BadL4Header);
    EXPECT_EQ(error_of(cat({ eth(ethertype::ipv4), ipv4(h, Bytes { 8, 0, 0, 0, 1 }) })), FrameError::BadL4Header);
    EXPECT_FALSE(error_of(cat({ eth(ethertype::ipv4), ipv4(h, Bytes { 3, 1, 0, 0 }) })));
}

TEST(NetDecode, IcmpEchoIdentifierInBothPorts)
{
    V4 h;
    h.proto = ipproto::icmp;
    auto p = decode_ok(cat({ eth(ethertype::ipv4), ipv4(h, icmp(8, 0, 0xbeef, 1, bytes_of("ping"))) }));
    EXPECT_EQ(p.l4, L4::Icmp);
    EXPECT_EQ(p.icmp_type, 8);
    EXPECT_EQ(p.src_port, 0xbeef);
    EXPECT_EQ(p.dst_port, 0xbeef);
    EXPECT_EQ(Bytes(p.payload.begin(), p.payload.end()), bytes_of("ping"));

    auto unreachable = decode_ok(cat({ eth(ethertype::ipv4), ipv4(h, icmp(3, 3, 0xbeef, 1)) }));
    EXPECT_EQ(unreachable.icmp_code, 3);
    EXPECT_EQ(unreachable.src_port, 0);
    EXPECT_EQ(unreachable.dst_port, 0);

    V6 h6;
    h6.next = ipproto::icmpv6;
    auto p6 = decode_ok(cat({ eth(ethertype::ipv6), ipv6(h6, icmp(129, 0, 77, 2)) }));
    EXPECT_EQ(p6.l4, L4::Icmpv6);
    EXPECT_EQ(p6.icmp_type, 129);
    EXPECT_EQ(p6.src_port, 77);
    EXPECT_EQ(p6.dst_port, 77);
}

TEST(NetDecode, UnknownProtocolIsOther)
{
    V4 h;
    h.proto = 132; // SCTP
    auto p = decode_ok(cat({ eth(ethertype::ipv4), ipv4(h, bytes_of("sctp")) }));
    EXPECT_EQ(p.l4, L4::Other);
    EXPECT_EQ(p.ip_proto, 132);
    EXPECT_EQ(p.src_port, 0);
}

TEST(NetDecode, Ipv4Fragments)
{
    V4 h;
    h.proto = ipproto::udp;
    h.more_fragments = true;
    auto first = decode_ok(cat({ eth(ethertype::ipv4), ipv4(h, udp(1000, 53, Bytes(16, 'a'))) }));
    EXPECT_TRUE(first.is_fragment);
    EXPECT_TRUE(first.more_fragments);
    EXPECT_EQ(first.frag_offset, 0);
    EXPECT_EQ(first.l4, L4::Udp); // the first fragment carries the ports
    EXPECT_EQ(first.dst_port, 53);
    EXPECT_EQ(first.frag_data.size(), 24u);

    // A first fragment too short for the L4 header is not an error; the ports stay unknown.
    h.proto = ipproto::tcp;
    auto short_first = decode_ok(cat({ eth(ethertype::ipv4), ipv4(h, Bytes(8, 0)) }));
    EXPECT_EQ(short_first.l4, L4::None);

    h.more_fragments = false;
    h.frag_offset = 1480;
    auto last = decode_ok(cat({ eth(ethertype::ipv4), ipv4(h, Bytes(40, 'b')) }));
    EXPECT_TRUE(last.is_fragment);
    EXPECT_FALSE(last.more_fragments);
    EXPECT_EQ(last.frag_offset, 1480);
    EXPECT_EQ(last.l4, L4::None); // later fragments are never decoded as L4
    EXPECT_EQ(last.src_port, 0);
    EXPECT_EQ(last.frag_data.size(), 40u);
}

TEST(NetDecode, Ipv6ExtensionHeaders)
{
    V6 h;
    h.next = 0; // hop-by-hop
    auto chain = cat({ ext_header(60), ext_header(43, 1), ext_header(ipproto::udp), udp(546, 547, bytes_of("dhcp")) });
    auto p = decode_ok(cat({ eth(ethertype::ipv6), ipv6(h, chain) }));
    EXPECT_EQ(p.l3, L3::Ipv6);
    EXPECT_EQ(p.ip_proto, ipproto::udp);
    EXPECT_EQ(p.ip_header.size(), 40u + 8 + 16 + 8);
    EXPECT_EQ(p.l4, L4::Udp);
    EXPECT_EQ(p.dst_port, 547);
    EXPECT_EQ(Bytes(p.payload.begin(), p.payload.end()), bytes_of("dhcp"));
    EXPECT_EQ(p.ip_src.to_string(), "fd00::1");

    // Hop-by-hop anywhere but first is refused.
    h.next = 60;
    EXPECT_EQ(error_of(cat({ eth(ethertype::ipv6), ipv6(h, cat({ ext_header(0), ext_header(59) })) })), FrameError::BadIpHeader);
    // An extension header running past the payload length.
    auto past = cat({ eth(ethertype::ipv6), ipv6(h, ext_header(59, 2)) });
    set16(past, 14 + 4, 8); // the payload length says 8, the header says 24
    EXPECT_EQ(error_of(past), FrameError::BadIpHeader);
    // "No next header" ends the chain.
    auto none = decode_ok(cat({ eth(ethertype::ipv6), ipv6(h, ext_header(59)) }));
    EXPECT_EQ(none.ip_proto, 59);
    EXPECT_EQ(none.l4, L4::Other);
}

TEST(NetDecode, Ipv6TooManyExtHeaders)
{
    V6 h;
    h.next = 60;
    Bytes chain;
    for (int i = 0; i < 8; ++i)
        chain = cat({ chain, ext_header(i == 7 ? ipproto::tcp : 60) });
    chain = cat({ chain, tcp(1, 2, 3, 0, tcpflag::syn) });
    auto eight = decode_ok(cat({ eth(ethertype::ipv6), ipv6(h, chain) }));
    EXPECT_EQ(eight.l4, L4::Tcp);

    Bytes nine;
    for (int i = 0; i < 9; ++i)
        nine = cat({ nine, ext_header(i == 8 ? ipproto::tcp : 60) });
    nine = cat({ nine, tcp(1, 2, 3, 0, tcpflag::syn) });
    EXPECT_EQ(error_of(cat({ eth(ethertype::ipv6), ipv6(h, nine) })), FrameError::TooManyExtHeaders);
}

TEST(NetDecode, Ipv6Fragments)
{
    V6 h;
    h.next = 44;
    auto first = decode_ok(cat({ eth(ethertype::ipv6),
        ipv6(h, cat({ frag_header(ipproto::tcp, 0, true, 0xabcdef01), tcp(5, 6, 7, 0, tcpflag::ack, Bytes(20, 'x')) })) }));
    EXPECT_TRUE(first.is_fragment);
    EXPECT_TRUE(first.more_fragments);
    EXPECT_EQ(first.ip6_frag_id, 0xabcdef01u);
    EXPECT_EQ(first.ip_id, 0xef01);
    EXPECT_EQ(first.frag_next_header, ipproto::tcp);
    EXPECT_EQ(first.ip6_unfragmentable_len, 40);
    EXPECT_EQ(first.ip6_frag_nh_offset, 6);
    EXPECT_EQ(first.l4, L4::Tcp);
    EXPECT_EQ(first.frag_data.size(), 40u);

    auto later = decode_ok(
        cat({ eth(ethertype::ipv6), ipv6(h, cat({ frag_header(ipproto::tcp, 40, false, 0xabcdef01), Bytes(8, 'y') })) }));
    EXPECT_TRUE(later.is_fragment);
    EXPECT_EQ(later.frag_offset, 40);
    EXPECT_EQ(later.l4, L4::None);
    EXPECT_EQ(later.ip_proto, ipproto::tcp);

    // An atomic fragment (offset 0, no more fragments) is a whole datagram.
    auto atomic
        = decode_ok(cat({ eth(ethertype::ipv6), ipv6(h, cat({ frag_header(ipproto::udp, 0, false, 9), udp(1, 2, {}) })) }));
    EXPECT_FALSE(atomic.is_fragment);
    EXPECT_EQ(atomic.l4, L4::Udp);

    // Two fragment headers are refused.
    EXPECT_EQ(error_of(cat({ eth(ethertype::ipv6),
                  ipv6(h, cat({ frag_header(44, 0, true, 1), frag_header(6, 0, true, 1), Bytes(8, 0) })) })),
        FrameError::BadIpHeader);
}

TEST(NetDecode, Ipv6BadHeaders)
{
    V6 h;
    auto good = cat({ eth(ethertype::ipv6), ipv6(h, tcp(1, 2, 3, 0, tcpflag::ack)) });
    ASSERT_FALSE(error_of(good));
    Bytes bad_version = good;
    bad_version[14] = 0x40;
    EXPECT_EQ(error_of(bad_version), FrameError::BadIpHeader);
    Bytes too_long = good;
    set16(too_long, 14 + 4, 21);
    EXPECT_EQ(error_of(too_long), FrameError::BadIpHeader);
    // A jumbogram (payload length 0 with hop-by-hop).
    h.next = 0;
    auto jumbo = cat({ eth(ethertype::ipv6), ipv6(h, ext_header(59)) });
    set16(jumbo, 14 + 4, 0);
    EXPECT_EQ(error_of(jumbo), FrameError::BadIpHeader);
}

TEST(NetDecode, ErrorNames)
{
    EXPECT_STREQ(frame_error_name(FrameError::TooShort), "too_short");
    EXPECT_STREQ(frame_error_name(FrameError::TooManyExtHeaders), "too_many_ext_headers");
}

} // namespace
} // namespace bulwark::net
