// IP fragment reassembly (src/net/defrag.h): in-order and out-of-order reassembly for IPv4
// and IPv6 (the result decoded again), duplicates, overlap evasion, every limit (size,
// fragment count, datagrams in progress, bytes, timeout) and inconsistent fragments.
#include <algorithm>
#include <gtest/gtest.h>

#include "net/defrag.h"
#include "net_frames.h"

namespace bulwark::net {
namespace {

using namespace test;

constexpr uint64_t k_sec = 1000ULL * 1000 * 1000;

Bytes pattern(size_t n, uint8_t seed = 0)
{
    Bytes b(n);
    for (size_t i = 0; i < n; ++i)
        b[i] = uint8_t(i * 7 + seed);
    return b;
}

// The fragments of an IPv4 datagram carrying `payload` (the L4 bytes), cut every `step` bytes.
std::vector<Bytes> fragments_v4(const Bytes& payload, size_t step, V4 h = {})
{
    std::vector<Bytes> out;
    for (size_t at = 0; at < payload.size(); at += step) {
        size_t n = std::min(step, payload.size() - at);
        V4 f = h;
        f.frag_offset = uint16_t(at);
        f.more_fragments = at + n < payload.size();
        out.push_back(cat({ eth(ethertype::ipv4), ipv4(f, Bytes(payload.begin() + long(at), payload.begin() + long(at + n))) }));
    }
    return out;
}

std::vector<Bytes> fragments_v6(const Bytes& payload, size_t step, uint32_t id, uint8_t proto, const Bytes& unfragmentable = {})
{
    std::vector<Bytes> out;
    V6 h;
    h.next = unfragmentable.empty() ? 44 : 60;
    for (size_t at = 0; at < payload.size(); at += step) {
        size_t n = std::min(step, payload.size() - at);
        auto frag = frag_header(proto, uint16_t(at), at + n < payload.size(), id);
        out.push_back(cat({ eth(ethertype::ipv6),
            ipv6(h, cat({ unfragmentable, frag, Bytes(payload.begin() + long(at), payload.begin() + long(at + n)) })) }));
    }
    return out;
}

DefragOutput feed(Defragmenter& d, const Bytes& frame, uint64_t now = 0)
{
    auto p = decode_ok(frame);
    return d.feed(p, now);
}

TEST(NetDefrag, NotAFragment)
{
    Defragmenter d;
    auto out = feed(d, tcp_frame(k_host_a, k_host_b, 1, 2, 3, 0, tcpflag::syn, {}));
    EXPECT_EQ(out.status, DefragStatus::NotFragment);
    EXPECT_EQ(d.counters().fragments, 0u);
}

TEST(NetDefrag, Ipv4InOrderAndReversed)
{
    Bytes l4 = udp(4000, 53, pattern(3000));
    for (bool reversed : { false, true }) {
        Defragmenter d;
        V4 h;
        h.proto = ipproto::udp;
        h.dont_fragment = false;
        auto frags = fragments_v4(l4, 1480, h);
        ASSERT_EQ(frags.size(), 3u);
        if (reversed)
            std::reverse(frags.begin(), frags.end());
        EXPECT_EQ(feed(d, frags[0]).status, DefragStatus::Buffered);
        EXPECT_EQ(feed(d, frags[1]).status, DefragStatus::Buffered);
        EXPECT_EQ(d.in_progress(), 1u);
        auto out = feed(d, frags[2]);
        ASSERT_EQ(out.status, DefragStatus::Complete);
        EXPECT_EQ(d.in_progress(), 0u);
        EXPECT_EQ(d.buffered_bytes(), 0u);
        EXPECT_EQ(d.counters().reassembled, 1u);

        // The result is a normal frame: decodes whole, with a valid header checksum.
        EXPECT_GT(out.frame.size(), k_max_frame);
        EXPECT_EQ(decode_frame(out.frame).error, FrameError::TooLong);
        auto p = decode_ok(out.frame, k_max_reassembled_frame);
        EXPECT_FALSE(p.is_fragment);
        EXPECT_EQ(p.l4, L4::Udp);
        EXPECT_EQ(p.dst_port, 53);
        EXPECT_EQ(Bytes(p.payload.begin(), p.payload.end()), pattern(3000));
        EXPECT_EQ(internet_checksum(p.ip_header), 0);
        EXPECT_EQ(p.ip_header.size() + l4.size(), size_t(p.ip_header[2] << 8 | p.ip_header[3]));
    }
}

TEST(NetDefrag, Ipv4KeepsVlanAndOptions)
{
    Defragmenter d;
    V4 h;
    h.proto = ipproto::tcp;
    h.options = { 0x94, 4, 0, 0 }; // router alert
    Bytes l4 = tcp(1, 2, 100, 0, tcpflag::ack, pattern(64));
    std::vector<Bytes> frags;
    for (size_t at : { 0, 48 }) {
        V4 f = h;
        f.frag_offset = uint16_t(at);
        f.more_fragments = at == 0;
        size_t n = at == 0 ? 48 : l4.size() - 48;
        frags.push_back(cat({ eth(ethertype::ipv4, 42), ipv4(f, Bytes(l4.begin() + long(at), l4.begin() + long(at + n))) }));
    }
    EXPECT_EQ(feed(d, frags[1]).status, DefragStatus::Buffered);
    auto out = feed(d, frags[0]);
    ASSERT_EQ(out.status, DefragStatus::Complete);
    auto p = decode_ok(out.frame, k_max_reassembled_frame);
    ASSERT_TRUE(p.vlan);
    EXPECT_EQ(*p.vlan, 42);
    EXPECT_EQ(p.ip_header.size(), 24u);
    EXPECT_EQ(p.l4, L4::Tcp);
    EXPECT_EQ(Bytes(p.payload.begin(), p.payload.end()), pattern(64));
}

TEST(NetDefrag, Ipv6WithUnfragmentableHeaders)
{
    Defragmenter d;
    Bytes l4 = tcp(5000, 80, 1, 0, tcpflag::ack, pattern(200));
    auto frags = fragments_v6(l4, 64, 0x11223344, ipproto::tcp, ext_header(44)); // dest options, then fragment
    ASSERT_EQ(frags.size(), 4u);
    std::swap(frags[0], frags[3]);
    for (size_t i = 0; i < 3; ++i)
        EXPECT_EQ(feed(d, frags[i]).status, DefragStatus::Buffered);
    auto out = feed(d, frags[3]);
    ASSERT_EQ(out.status, DefragStatus::Complete);
    auto p = decode_ok(out.frame, k_max_reassembled_frame);
    EXPECT_EQ(p.l3, L3::Ipv6);
    EXPECT_FALSE(p.is_fragment);
    EXPECT_EQ(p.ip_header.size(), 48u); // the fragment header is gone
    EXPECT_EQ(p.l4, L4::Tcp);
    EXPECT_EQ(p.dst_port, 80);
    EXPECT_EQ(Bytes(p.payload.begin(), p.payload.end()), pattern(200));
}

TEST(NetDefrag, IdenticalDuplicatesAreAccepted)
{
    Defragmenter d;
    V4 h;
    h.proto = 200;
    auto frags = fragments_v4(pattern(64), 16, h);
    feed(d, frags[0]);
    feed(d, frags[0]);
    feed(d, frags[1]);
    feed(d, frags[2]);
    EXPECT_EQ(feed(d, frags[3]).status, DefragStatus::Complete);
    EXPECT_EQ(d.counters().evasion_overlaps, 0u);
}

TEST(NetDefrag, OverlapWithDifferentBytesIsEvasion)
{
    Defragmenter d;
    V4 h;
    h.proto = 200;
    Bytes payload = pattern(48);
    auto frags = fragments_v4(payload, 24, h);
    EXPECT_EQ(feed(d, frags[0]).status, DefragStatus::Buffered);
    // A fragment at offset 16 that rewrites bytes 16..23 of the first one.
    V4 f = h;
    f.frag_offset = 16;
    f.more_fragments = true;
    Bytes rewrite(payload.begin() + 16, payload.begin() + 40);
    rewrite[2] ^= 0xff;
    auto out = feed(d, cat({ eth(ethertype::ipv4), ipv4(f, rewrite) }));
    EXPECT_EQ(out.status, DefragStatus::Dropped);
    EXPECT_EQ(d.counters().evasion_overlaps, 1u);
    EXPECT_EQ(d.in_progress(), 0u);
    // The rest of the datagram starts a new one that never completes.
    EXPECT_EQ(feed(d, frags[1]).status, DefragStatus::Buffered);

    // The same overlap with the same bytes is fine.
    Defragmenter ok;
    feed(ok, frags[0]);
    Bytes same(payload.begin() + 16, payload.begin() + 40);
    EXPECT_EQ(feed(ok, cat({ eth(ethertype::ipv4), ipv4(f, same) })).status, DefragStatus::Buffered);
    EXPECT_EQ(feed(ok, frags[1]).status, DefragStatus::Complete);
}

TEST(NetDefrag, Ipv6OverlapEvasion)
{
    Defragmenter d;
    auto frags = fragments_v6(pattern(64), 32, 7, 200);
    auto evil = fragments_v6(pattern(64, 1), 32, 7, 200);
    feed(d, frags[1]);
    EXPECT_EQ(feed(d, evil[1]).status, DefragStatus::Dropped);
    EXPECT_EQ(d.counters().evasion_overlaps, 1u);
}

TEST(NetDefrag, TooBig)
{
    Defragmenter d;
    V4 h;
    h.proto = 200;
    h.frag_offset = 65528; // the largest offset; 8 bytes from here end past 65535 with the header
    h.more_fragments = false;
    auto out = feed(d, cat({ eth(ethertype::ipv4), ipv4(h, Bytes(8, 1)) }));
    EXPECT_EQ(out.status, DefragStatus::Dropped);
    EXPECT_EQ(d.counters().too_big, 1u);

    DefragLimits small;
    small.max_size = 1000;
    Defragmenter limited(small);
    h.frag_offset = 976;
    EXPECT_EQ(feed(limited, cat({ eth(ethertype::ipv4), ipv4(h, Bytes(8, 1)) })).status, DefragStatus::Dropped);
    h.frag_offset = 968;
    EXPECT_EQ(feed(limited, cat({ eth(ethertype::ipv4), ipv4(h, Bytes(8, 1)) })).status, DefragStatus::Buffered);
}

TEST(NetDefrag, TooManyFragments)
{
    DefragLimits limits;
    limits.max_fragments = 4;
    Defragmenter d(limits);
    V4 h;
    h.proto = 200;
    auto frags = fragments_v4(pattern(80), 16, h); // 5 fragments
    for (size_t i = 0; i < 4; ++i)
        EXPECT_EQ(feed(d, frags[i]).status, DefragStatus::Buffered);
    EXPECT_EQ(feed(d, frags[4]).status, DefragStatus::Dropped);
    EXPECT_EQ(d.counters().too_many_fragments, 1u);

    // Duplicates count too: resending one fragment cannot keep a datagram alive for ever.
    Defragmenter dup(limits);
    for (int i = 0; i < 4; ++i)
        feed(dup, frags[0]);
    EXPECT_EQ(feed(dup, frags[0]).status, DefragStatus::Dropped);
}

TEST(NetDefrag, Inconsistent)
{
    V4 h;
    h.proto = 200;
    auto frags = fragments_v4(pattern(64), 32, h);
    // Two different ends.
    {
        Defragmenter d;
        feed(d, frags[1]);
        V4 f = h;
        f.frag_offset = 32;
        EXPECT_EQ(feed(d, cat({ eth(ethertype::ipv4), ipv4(f, Bytes(40, 0)) })).status, DefragStatus::Dropped);
        EXPECT_EQ(d.counters().inconsistent, 1u);
    }
    // Data past the end.
    {
        Defragmenter d;
        feed(d, frags[1]);
        V4 f = h;
        f.frag_offset = 64;
        f.more_fragments = true;
        EXPECT_EQ(feed(d, cat({ eth(ethertype::ipv4), ipv4(f, Bytes(8, 0)) })).status, DefragStatus::Dropped);
        EXPECT_EQ(d.counters().inconsistent, 1u);
    }
    // A non-final fragment whose size is not a multiple of 8, and an empty one.
    {
        Defragmenter d;
        V4 f = h;
        f.more_fragments = true;
        EXPECT_EQ(feed(d, cat({ eth(ethertype::ipv4), ipv4(f, Bytes(12, 0)) })).status, DefragStatus::Dropped);
        f.frag_offset = 8;
        f.more_fragments = false;
        EXPECT_EQ(feed(d, cat({ eth(ethertype::ipv4), ipv4(f, Bytes {}) })).status, DefragStatus::Dropped);
        EXPECT_EQ(d.counters().inconsistent, 2u);
    }
}

TEST(NetDefrag, Timeout)
{
    Defragmenter d;
    V4 h;
    h.proto = 200;
    auto frags = fragments_v4(pattern(64), 32, h);
    feed(d, frags[0], 10 * k_sec);
    d.expire(39 * k_sec);
    EXPECT_EQ(d.in_progress(), 1u);
    d.expire(40 * k_sec);
    EXPECT_EQ(d.in_progress(), 0u);
    EXPECT_EQ(d.counters().timed_out, 1u);
    // The late second half now starts a datagram of its own.
    EXPECT_EQ(feed(d, frags[1], 41 * k_sec).status, DefragStatus::Buffered);

    // feed() expires too.
    Defragmenter e;
    feed(e, frags[0], 0);
    V4 other = h;
    other.id = 99;
    feed(e, fragments_v4(pattern(64), 32, other)[0], 31 * k_sec);
    EXPECT_EQ(e.counters().timed_out, 1u);
    EXPECT_EQ(e.in_progress(), 1u);
}

TEST(NetDefrag, TableFullEvictsOldest)
{
    DefragLimits limits;
    limits.max_datagrams = 3;
    Defragmenter d(limits);
    V4 h;
    h.proto = 200;
    std::vector<std::vector<Bytes>> datagrams;
    for (uint16_t id = 1; id <= 4; ++id) {
        V4 f = h;
        f.id = id;
        datagrams.push_back(fragments_v4(pattern(32, uint8_t(id)), 16, f));
        EXPECT_EQ(feed(d, datagrams.back()[0], id).status, DefragStatus::Buffered);
    }
    EXPECT_EQ(d.in_progress(), 3u);
    EXPECT_EQ(d.counters().evicted, 1u);
    // Datagram 1 was the oldest and is gone: its second half alone does not complete it.
    EXPECT_EQ(feed(d, datagrams[0][1], 5).status, DefragStatus::Buffered);
    EXPECT_EQ(feed(d, datagrams[3][1], 6).status, DefragStatus::Complete);
}

TEST(NetDefrag, ByteBudgetEvictsOldest)
{
    DefragLimits limits;
    limits.max_buffered_bytes = 3000;
    Defragmenter d(limits);
    V4 h;
    h.proto = 200;
    for (uint16_t id = 1; id <= 3; ++id) {
        V4 f = h;
        f.id = id;
        f.frag_offset = 1400; // a fragment at 1400 makes a 1408-byte buffer
        f.more_fragments = true;
        feed(d, cat({ eth(ethertype::ipv4), ipv4(f, Bytes(8, 0)) }), id);
        EXPECT_LE(d.buffered_bytes(), 3000u);
    }
    EXPECT_EQ(d.in_progress(), 2u);
    EXPECT_EQ(d.counters().evicted, 1u);
}

TEST(NetDefrag, SameIdDifferentKeysStaySeparate)
{
    Defragmenter d;
    V4 a;
    a.proto = 200;
    V4 b = a;
    b.src = ip("10.0.0.9");
    auto fa = fragments_v4(pattern(32, 1), 16, a);
    auto fb = fragments_v4(pattern(32, 2), 16, b);
    feed(d, fa[0]);
    feed(d, fb[0]);
    EXPECT_EQ(d.in_progress(), 2u);
    auto out = feed(d, fb[1]);
    ASSERT_EQ(out.status, DefragStatus::Complete);
    auto p = decode_ok(out.frame, k_max_reassembled_frame);
    EXPECT_EQ(Bytes(p.ip_payload.begin(), p.ip_payload.end()), pattern(32, 2));
    EXPECT_EQ(d.counters().evasion_overlaps, 0u);
}

} // namespace
} // namespace bulwark::net
