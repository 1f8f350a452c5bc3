// The IDS engine (src/ids/engine): prefilter plus full checks, verdicts, thresholds, stream
// matching, reject frames. Packets are built by hand (frame bytes and the decoded fields), so
// these tests do not depend on the frame decoder.
#include <algorithm>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <random>
#include <set>

#include "ids/engine.h"

namespace bulwark::ids {
namespace {

using namespace net::tcpflag;

net::IpAddr ip(const char* text)
{
    net::IpAddr a;
    if (::inet_pton(AF_INET, text, a.bytes.data()) == 1)
        return a;
    a.v6 = true;
    EXPECT_EQ(::inet_pton(AF_INET6, text, a.bytes.data()), 1) << text;
    return a;
}

struct Spec {
    uint8_t proto = net::ipproto::tcp;
    const char* src = "10.0.0.1";
    const char* dst = "10.0.0.2";
    uint16_t sport = 40000;
    uint16_t dport = 80;
    uint8_t flags = ack | psh;
    std::string payload;
    uint32_t seq = 1000;
    uint32_t ack_no = 2000;
    uint8_t icmp_type = 8;
    std::optional<uint16_t> vlan;
    std::array<uint8_t, 6> dst_mac { 0x52, 0x54, 0, 0, 0, 2 };
};

// A frame and its decoded view; the Packet's spans point into frame.
struct TestPacket {
    std::vector<uint8_t> frame;
    net::Packet packet;
};

uint16_t checksum(const uint8_t* data, size_t len, uint32_t sum = 0)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t(data[i]) << 8) | data[i + 1];
    if (len & 1)
        sum += uint32_t(data[len - 1]) << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

uint32_t pseudo(const net::IpAddr& s, const net::IpAddr& d, uint8_t proto, size_t len)
{
    size_t n = s.v6 ? 16 : 4;
    uint32_t sum = 0;
    for (size_t i = 0; i < n; i += 2) {
        sum += (uint32_t(s.bytes[i]) << 8) | s.bytes[i + 1];
        sum += (uint32_t(d.bytes[i]) << 8) | d.bytes[i + 1];
    }
    return sum + proto + static_cast<uint32_t>(len);
}

void be16(std::vector<uint8_t>& v, size_t at, uint16_t x)
{
    v[at] = static_cast<uint8_t>(x >> 8);
    v[at + 1] = static_cast<uint8_t>(x);
}

void be32(std::vector<uint8_t>& v, size_t at, uint32_t x)
{
    be16(v, at, static_cast<uint16_t>(x >> 16));
    be16(v, at + 2, static_cast<uint16_t>(x));
}

std::unique_ptr<TestPacket> make_packet(const Spec& s)
{
    auto tp = std::make_unique<TestPacket>();
    net::Packet& p = tp->packet;
    p.ip_src = ip(s.src);
    p.ip_dst = ip(s.dst);
    bool v6 = p.ip_src.v6;
    uint8_t proto = s.proto;
    if (v6 && proto == net::ipproto::icmp)
        proto = net::ipproto::icmpv6;
    size_t eth = s.vlan ? 18 : 14;
    size_t iph = v6 ? 40 : 20;
    size_t l4h = proto == net::ipproto::tcp ? 20 : 8;
    auto& f = tp->frame;
    f.assign(eth + iph + l4h + s.payload.size(), 0);
    std::copy(s.dst_mac.begin(), s.dst_mac.end(), f.begin());
    const uint8_t src_mac[6] = { 0x52, 0x54, 0, 0, 0, 1 };
    std::copy(src_mac, src_mac + 6, f.begin() + 6);
    if (s.vlan) {
        be16(f, 12, net::ethertype::vlan);
        be16(f, 14, *s.vlan);
    }
    be16(f, eth - 2, v6 ? net::ethertype::ipv6 : net::ethertype::ipv4);
    size_t l4_len = l4h + s.payload.size();
    if (v6) {
        f[eth] = 0x60;
        be16(f, eth + 4, static_cast<uint16_t>(l4_len));
        f[eth + 6] = proto;
        f[eth + 7] = 64;
        std::copy(p.ip_src.bytes.begin(), p.ip_src.bytes.end(), f.begin() + static_cast<ptrdiff_t>(eth + 8));
        std::copy(p.ip_dst.bytes.begin(), p.ip_dst.bytes.end(), f.begin() + static_cast<ptrdiff_t>(eth + 24));
    } else {
        f[eth] = 0x45;
        be16(f, eth + 2, static_cast<uint16_t>(iph + l4_len));
        be16(f, eth + 4, 0x1234);
        f[eth + 8] = 64;
        f[eth + 9] = proto;
        std::copy_n(p.ip_src.bytes.begin(), 4, f.begin() + static_cast<ptrdiff_t>(eth + 12));
        std::copy_n(p.ip_dst.bytes.begin(), 4, f.begin() + static_cast<ptrdiff_t>(eth + 16));
        be16(f, eth + 10, checksum(&f[eth], 20));
    }
    size_t l4 = eth + iph;
    std::copy(s.payload.begin(), s.payload.end(), f.begin() + static_cast<ptrdiff_t>(l4 + l4h));
    if (proto == net::ipproto::tcp) {
        be16(f, l4, s.sport);
        be16(f, l4 + 2, s.dport);
        be32(f, l4 + 4, s.seq);
        be32(f, l4 + 8, s.ack_no);
        f[l4 + 12] = 5 << 4;
        f[l4 + 13] = s.flags;
        be16(f, l4 + 14, 65535);
        be16(f, l4 + 16, checksum(&f[l4], l4_len, pseudo(p.ip_src, p.ip_dst, proto, l4_len)));
        p.l4 = net::L4::Tcp;
    } else if (proto == net::ipproto::udp) {
        be16(f, l4, s.sport);
        be16(f, l4 + 2, s.dport);
        be16(f, l4 + 4, static_cast<uint16_t>(l4_len));
        be16(f, l4 + 6, checksum(&f[l4], l4_len, pseudo(p.ip_src, p.ip_dst, proto, l4_len)));
        p.l4 = net::L4::Udp;
    } else {
        f[l4] = s.icmp_type;
        be16(f, l4 + 2, checksum(&f[l4], l4_len, v6 ? pseudo(p.ip_src, p.ip_dst, proto, l4_len) : 0));
        p.l4 = v6 ? net::L4::Icmpv6 : net::L4::Icmp;
        p.icmp_type = s.icmp_type;
    }
    p.frame = f;
    std::copy(f.begin(), f.begin() + 6, p.dst.bytes.begin());
    std::copy(f.begin() + 6, f.begin() + 12, p.src.bytes.begin());
    p.vlan = s.vlan;
    p.ethertype = v6 ? net::ethertype::ipv6 : net::ethertype::ipv4;
    p.l3 = v6 ? net::L3::Ipv6 : net::L3::Ipv4;
    p.ip_proto = proto;
    p.ttl = 64;
    p.ip_header = std::span<const uint8_t>(f).subspan(eth, iph);
    p.ip_payload = std::span<const uint8_t>(f).subspan(l4);
    p.payload = std::span<const uint8_t>(f).subspan(l4 + l4h);
    if (proto == net::ipproto::tcp || proto == net::ipproto::udp) {
        p.src_port = s.sport;
        p.dst_port = s.dport;
    }
    p.tcp_flags = proto == net::ipproto::tcp ? s.flags : 0;
    p.tcp_seq = s.seq;
    p.tcp_ack = s.ack_no;
    return tp;
}

std::unique_ptr<TestPacket> tcp(std::string payload, uint16_t dport = 80, uint8_t flags = ack | psh)
{
    Spec s;
    s.payload = std::move(payload);
    s.dport = dport;
    s.flags = flags;
    return make_packet(s);
}

std::unique_ptr<Engine> engine_for(const std::string& rules, const RuleVars& vars = default_rule_vars())
{
    auto set = load_rules(rules, vars);
    for (const auto& e : set.errors)
        ADD_FAILURE() << e.message;
    auto engine = Engine::create(std::move(set.rules));
    if (engine.is_error()) {
        ADD_FAILURE() << engine.error().message();
        return nullptr;
    }
    return engine.release_value();
}

std::vector<uint32_t> sids(const Verdict& v)
{
    std::vector<uint32_t> out;
    for (const Rule* r : v.alerts)
        out.push_back(r->sid);
    return out;
}

struct Flow {
    bool has_flow = true;
    bool to_server = true;
    bool established = true;
};

Verdict run(Engine& e, const TestPacket& tp, Flow flow = {}, uint64_t now_ns = 0)
{
    InspectInput in { .packet = tp.packet,
        .has_flow = flow.has_flow,
        .to_server = flow.to_server,
        .established = flow.established,
        .flow_id = 1,
        .now_ns = now_ns };
    return e.inspect(in);
}

using Sids = std::vector<uint32_t>;

TEST(IdsEngine, ContentAndNocase)
{
    auto e = engine_for("alert tcp any any -> any any (content:\"evil\"; sid:1;)\n"
                        "alert tcp any any -> any any (content:\"EvIl\"; nocase; sid:2;)\n"
                        "alert tcp any any -> any any (content:\"|de ad be ef|\"; sid:3;)\n");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->prefiltered_rule_count(), 3u);
    EXPECT_EQ(sids(run(*e, *tcp("an evil thing"))), (Sids { 1, 2 }));
    EXPECT_EQ(sids(run(*e, *tcp("an EVIL thing"))), (Sids { 2 }));
    EXPECT_EQ(sids(run(*e, *tcp(std::string("x\xde\xad\xbe\xefy")))), (Sids { 3 }));
    auto v = run(*e, *tcp("nothing here"));
    EXPECT_EQ(v.action, Action::None);
    EXPECT_TRUE(v.alerts.empty());
    EXPECT_EQ(run(*e, *tcp("evil")).action, Action::Alert);
}

TEST(IdsEngine, OffsetAndDepth)
{
    auto e = engine_for("alert tcp any any -> any any (content:\"abc\"; offset:2; depth:5; sid:1;)\n"
                        "alert tcp any any -> any any (content:\"xyz\"; depth:3; sid:2;)\n");
    ASSERT_TRUE(e);
    EXPECT_EQ(sids(run(*e, *tcp("..abc"))), (Sids { 1 }));
    EXPECT_EQ(sids(run(*e, *tcp("....abc"))), (Sids { 1 })); // ends at 7 = offset + depth
    EXPECT_EQ(sids(run(*e, *tcp(".....abc"))), (Sids {})); // ends past the depth
    EXPECT_EQ(sids(run(*e, *tcp(".abc"))), (Sids {})); // starts before the offset
    EXPECT_EQ(sids(run(*e, *tcp("xyz..."))), (Sids { 2 }));
    EXPECT_EQ(sids(run(*e, *tcp(".xyz"))), (Sids {}));
}

TEST(IdsEngine, RelativeContentsAndBacktracking)
{
    auto e
        = engine_for("alert tcp any any -> any any (content:\"a\"; content:\"b\"; distance:0; within:1; sid:1;)\n"
                     "alert tcp any any -> any any (content:\"key=\"; content:\"secret\"; distance:2; within:8; sid:2;)\n"
                     "alert tcp any any -> any any (content:\"bc\"; content:\"Q\"; distance:-3; within:1; sid:3;)\n"
                     "alert tcp any any -> any any (content:\"one\"; content:\"two\"; content:\"three\"; distance:0; sid:4;)\n");
    ASSERT_TRUE(e);
    // The first "a" is not followed by "b"; the engine must try the second.
    EXPECT_EQ(sids(run(*e, *tcp("a-x ab"))), (Sids { 1 }));
    EXPECT_EQ(sids(run(*e, *tcp("a-x a-b"))), (Sids {}));
    EXPECT_EQ(sids(run(*e, *tcp("key=..secret"))), (Sids { 2 }));
    EXPECT_EQ(sids(run(*e, *tcp("key=.secret"))), (Sids {})); // distance 2 not met
    EXPECT_EQ(sids(run(*e, *tcp("key=......secret"))), (Sids {})); // past within
    EXPECT_EQ(sids(run(*e, *tcp("Qbc"))), (Sids { 3 }));
    EXPECT_EQ(sids(run(*e, *tcp("xbcQ"))), (Sids {}));
    // "three" is relative to "two", which may come anywhere after "one"'s absolute search.
    EXPECT_EQ(sids(run(*e, *tcp("two one three"))), (Sids { 4 }));
    EXPECT_EQ(sids(run(*e, *tcp("three two one"))), (Sids {}));
}

TEST(IdsEngine, NegatedContent)
{
    auto e = engine_for("alert tcp any any -> any any (content:\"GET\"; content:!\"Host:\"; sid:1;)\n"
                        "alert tcp any any -> any any (content:\"user=\"; content:!\"admin\"; distance:0; within:8; sid:2;)\n"
                        "alert tcp any any -> any any (content:!\"ok\"; dsize:>3; sid:3;)\n");
    ASSERT_TRUE(e);
    EXPECT_EQ(sids(run(*e, *tcp("GET / HTTP/1.0"))), (Sids { 1, 3 }));
    EXPECT_EQ(sids(run(*e, *tcp("GET / Host: x ok"))), (Sids {}));
    EXPECT_EQ(sids(run(*e, *tcp("user=bob ok"))), (Sids { 2 }));
    EXPECT_EQ(sids(run(*e, *tcp("user=admin ok"))), (Sids {}));
    EXPECT_EQ(sids(run(*e, *tcp("user=bob...... admin ok"))), (Sids { 2 })); // admin past within
}

TEST(IdsEngine, Pcre)
{
    auto e = engine_for(
        "alert tcp any any -> any any (content:\"login=\"; pcre:\"/^[a-z]{3,}\\d/R\"; sid:1;)\n"
        "alert tcp any any -> any any (pcre:\"/select.+from/i\"; sid:2;)\n"
        "alert tcp any any -> any any (content:\"cmd\"; pcre:!\"/cmd=(ls|pwd)/\"; sid:3;)\n"
        "alert tcp any any -> any any (content:\"A\"; pcre:\"/B+/R\"; content:\"C\"; distance:0; within:1; sid:4;)\n");
    ASSERT_TRUE(e);
    EXPECT_EQ(sids(run(*e, *tcp("login=abc1"))), (Sids { 1 }));
    EXPECT_EQ(sids(run(*e, *tcp("login=1abc"))), (Sids {})); // ^ anchors at the relative start
    EXPECT_EQ(sids(run(*e, *tcp("abc1 login=9"))), (Sids {}));
    EXPECT_EQ(sids(run(*e, *tcp("SeLeCt * FROM t"))), (Sids { 2 }));
    EXPECT_EQ(sids(run(*e, *tcp("cmd=rm"))), (Sids { 3 }));
    EXPECT_EQ(sids(run(*e, *tcp("cmd=ls"))), (Sids {}));
    // The content after a pcre is relative to the pcre's match end.
    EXPECT_EQ(sids(run(*e, *tcp("ABBBC"))), (Sids { 4 }));
    EXPECT_EQ(sids(run(*e, *tcp("ABBB.C"))), (Sids {}));
}

TEST(IdsEngine, Flow)
{
    auto e = engine_for("alert tcp any any -> any any (flow:established,to_server; content:\"x\"; sid:1;)\n"
                        "alert tcp any any -> any any (flow:to_client; content:\"x\"; sid:2;)\n"
                        "alert tcp any any -> any any (flow:not_established; content:\"x\"; sid:3;)\n"
                        "alert tcp any any -> any any (flow:stateless; content:\"x\"; sid:4;)\n");
    ASSERT_TRUE(e);
    auto p = tcp("x");
    EXPECT_EQ(sids(run(*e, *p, { true, true, true })), (Sids { 1, 4 }));
    EXPECT_EQ(sids(run(*e, *p, { true, false, true })), (Sids { 2, 4 }));
    EXPECT_EQ(sids(run(*e, *p, { true, true, false })), (Sids { 3, 4 }));
    EXPECT_EQ(sids(run(*e, *p, { false, true, true })), (Sids { 4 }));
}

TEST(IdsEngine, Dsize)
{
    auto e = engine_for("alert udp any any -> any any (dsize:4; sid:1;)\n"
                        "alert udp any any -> any any (dsize:<3; sid:2;)\n"
                        "alert udp any any -> any any (dsize:>5; sid:3;)\n"
                        "alert udp any any -> any any (dsize:2<>5; sid:4;)\n"
                        "alert udp any any -> any any (dsize:!0; sid:5;)\n");
    ASSERT_TRUE(e);
    auto udp = [](size_t n) {
        Spec s;
        s.proto = net::ipproto::udp;
        s.payload = std::string(n, 'u');
        return make_packet(s);
    };
    EXPECT_EQ(sids(run(*e, *udp(0))), (Sids { 2 }));
    EXPECT_EQ(sids(run(*e, *udp(2))), (Sids { 2, 5 }));
    EXPECT_EQ(sids(run(*e, *udp(4))), (Sids { 1, 4, 5 }));
    EXPECT_EQ(sids(run(*e, *udp(5))), (Sids { 5 }));
    EXPECT_EQ(sids(run(*e, *udp(6))), (Sids { 3, 5 }));
    EXPECT_EQ(e->prefiltered_rule_count(), 0u);
}

TEST(IdsEngine, Flags)
{
    auto e = engine_for("alert tcp any any -> any any (flags:S; sid:1;)\n"
                        "alert tcp any any -> any any (flags:S+; sid:2;)\n"
                        "alert tcp any any -> any any (flags:*FR; sid:3;)\n"
                        "alert tcp any any -> any any (flags:!A; sid:4;)\n"
                        "alert tcp any any -> any any (flags:S,CE; sid:5;)\n"
                        "alert ip any any -> any any (flags:0; sid:6;)\n");
    ASSERT_TRUE(e);
    EXPECT_EQ(sids(run(*e, *tcp("", 80, syn))), (Sids { 1, 2, 4, 5 }));
    EXPECT_EQ(sids(run(*e, *tcp("", 80, syn | ack))), (Sids { 2 }));
    EXPECT_EQ(sids(run(*e, *tcp("", 80, syn | ece | cwr))), (Sids { 2, 4, 5 }));
    EXPECT_EQ(sids(run(*e, *tcp("", 80, rst))), (Sids { 3, 4 }));
    EXPECT_EQ(sids(run(*e, *tcp("", 80, fin | ack))), (Sids { 3 }));
    EXPECT_EQ(sids(run(*e, *tcp("", 80, 0))), (Sids { 4, 6 }));
    Spec u;
    u.proto = net::ipproto::udp;
    EXPECT_EQ(sids(run(*e, *make_packet(u))), (Sids {})); // flags never match non-TCP
}

TEST(IdsEngine, Thresholds)
{
    auto e = engine_for(
        "alert tcp any any -> any any (content:\"lim\"; threshold:type limit, track by_src, count 2, seconds 10; sid:1;)\n"
        "alert tcp any any -> any any (content:\"thr\"; threshold:type threshold, track by_src, count 3, seconds 10; sid:2;)\n"
        "alert tcp any any -> any any (content:\"both\"; threshold:type both, track by_dst, count 3, seconds 10; sid:3;)\n"
        "drop tcp any any -> any any (content:\"drp\"; threshold:type limit, track by_src, count 1, seconds 10; sid:4;)\n");
    ASSERT_TRUE(e);
    const uint64_t s = 1000000000ULL;
    auto hits = [&](const char* payload, int n, uint64_t start, const char* src = "10.0.0.1") {
        std::string pattern;
        Spec sp;
        sp.payload = payload;
        sp.src = src;
        auto p = make_packet(sp);
        for (int i = 0; i < n; ++i)
            pattern += run(*e, *p, {}, start + uint64_t(i) * s / 10).alerts.empty() ? '.' : 'A';
        return pattern;
    };
    EXPECT_EQ(hits("lim", 5, 100 * s), "AA...");
    EXPECT_EQ(hits("lim", 2, 100 * s, "10.0.0.9"), "AA"); // tracked per source
    EXPECT_EQ(hits("lim", 3, 111 * s), "AA."); // a new window
    EXPECT_EQ(hits("thr", 7, 200 * s), "..A..A.");
    EXPECT_EQ(hits("both", 6, 300 * s), "..A...");
    // A thresholded drop rule still drops; only its alert is limited.
    Spec sp;
    sp.payload = "drp";
    auto p = make_packet(sp);
    auto v1 = run(*e, *p, {}, 400 * s);
    auto v2 = run(*e, *p, {}, 400 * s + 1);
    EXPECT_EQ(v1.action, Action::Drop);
    EXPECT_EQ(sids(v1), (Sids { 4 }));
    EXPECT_EQ(v2.action, Action::Drop);
    EXPECT_TRUE(v2.alerts.empty());
    EXPECT_GE(e->stats().thresholded, 1u);
    EXPECT_GT(e->threshold_entries(), 0u);
}

TEST(IdsEngine, DirectionAndGroups)
{
    auto e = engine_for("alert tcp 10.0.0.1 any <> 10.0.0.2 80 (content:\"x\"; sid:1;)\n"
                        "alert tcp 10.0.0.1 any -> 10.0.0.2 80 (content:\"x\"; sid:2;)\n"
                        "alert tcp $EXTERNAL_NET any -> $HOME_NET ![22,3389] (content:\"x\"; sid:3;)\n"
                        "alert tcp [10.0.0.0/8,!10.0.0.0/24] any -> any any (content:\"x\"; sid:4;)\n"
                        "alert tcp fd00::/8 any -> any 1024: (content:\"x\"; sid:5;)\n");
    ASSERT_TRUE(e);
    Spec s;
    s.payload = "x";
    EXPECT_EQ(sids(run(*e, *make_packet(s))), (Sids { 1, 2 }));
    s.src = "10.0.0.2";
    s.dst = "10.0.0.1";
    s.sport = 80;
    s.dport = 40000;
    EXPECT_EQ(sids(run(*e, *make_packet(s))), (Sids { 1 })); // only <> matches the reply
    s = Spec {};
    s.payload = "x";
    s.src = "8.8.8.8";
    EXPECT_EQ(sids(run(*e, *make_packet(s))), (Sids { 3 }));
    s.dport = 22;
    EXPECT_EQ(sids(run(*e, *make_packet(s))), (Sids {}));
    s = Spec {};
    s.payload = "x";
    s.src = "10.9.0.1";
    EXPECT_EQ(sids(run(*e, *make_packet(s))), (Sids { 4 }));
    s.src = "fd00::5";
    s.dst = "fd00::6";
    s.dport = 2000;
    EXPECT_EQ(sids(run(*e, *make_packet(s))), (Sids { 5 }));
}

TEST(IdsEngine, ProtocolGroups)
{
    auto e = engine_for("alert udp any any -> any any (content:\"x\"; sid:1;)\n"
                        "alert ip any any -> any any (content:\"x\"; sid:2;)\n"
                        "alert icmp any any -> any any (content:\"x\"; sid:3;)\n"
                        "alert tcp any any -> any any (content:\"x\"; sid:4;)\n");
    ASSERT_TRUE(e);
    Spec s;
    s.payload = "x";
    EXPECT_EQ(sids(run(*e, *make_packet(s))), (Sids { 2, 4 }));
    s.proto = net::ipproto::udp;
    EXPECT_EQ(sids(run(*e, *make_packet(s))), (Sids { 1, 2 }));
    s.proto = net::ipproto::icmp;
    EXPECT_EQ(sids(run(*e, *make_packet(s))), (Sids { 2, 3 }));
    s.src = "fd00::1";
    s.dst = "fd00::2";
    EXPECT_EQ(sids(run(*e, *make_packet(s))), (Sids { 2, 3 })); // icmp covers ICMPv6
    // Non-IP frames are not inspected.
    auto arp = make_packet(Spec {});
    arp->packet.l3 = net::L3::Arp;
    EXPECT_EQ(run(*e, *arp).action, Action::None);
}

TEST(IdsEngine, ActionPrecedence)
{
    auto e = engine_for("alert tcp any any -> any any (content:\"a\"; sid:1;)\n"
                        "drop tcp any any -> any any (content:\"d\"; sid:2;)\n"
                        "reject tcp any any -> any any (content:\"r\"; sid:3;)\n"
                        "pass tcp any any -> any any (content:\"p\"; sid:4;)\n");
    ASSERT_TRUE(e);
    auto v = run(*e, *tcp("a d"));
    EXPECT_EQ(v.action, Action::Drop);
    EXPECT_EQ(sids(v), (Sids { 2, 1 })); // strongest action first
    v = run(*e, *tcp("a r"));
    EXPECT_EQ(v.action, Action::Reject);
    EXPECT_EQ(sids(v), (Sids { 3, 1 }));
    v = run(*e, *tcp("r d"));
    EXPECT_EQ(v.action, Action::Drop);
    v = run(*e, *tcp("a d r p"));
    EXPECT_EQ(v.action, Action::Pass);
    EXPECT_TRUE(v.alerts.empty());
    v = run(*e, *tcp("a"));
    EXPECT_EQ(v.action, Action::Alert);
}

TEST(IdsEngine, StreamMatchingAcrossSegments)
{
    auto e = engine_for("alert tcp any any -> any any (content:\"password\"; sid:1;)\n"
                        "alert tcp any any -> any any (content:\"BEGIN\"; content:\"END\"; distance:0; sid:2;)\n"
                        "alert tcp any any -> any any (content:\"bob\"; sid:3;)\n");
    ASSERT_TRUE(e);
    std::string first = "user=bob&pass";
    std::string second = "word=1";
    std::string stream = first + second;
    auto bytes
        = [](const std::string& s) { return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()); };
    auto inspect = [&](const TestPacket& tp, const std::string& buf, size_t new_offset) {
        InspectInput in { .packet = tp.packet,
            .has_flow = true,
            .to_server = true,
            .established = true,
            .flow_id = 7,
            .stream = bytes(buf),
            .stream_new_offset = new_offset };
        return sids(e->inspect(in));
    };
    auto p1 = tcp(first);
    auto p2 = tcp(second);
    EXPECT_EQ(inspect(*p1, first, 0), (Sids { 3 }));
    EXPECT_EQ(sids(run(*e, *p2)), (Sids {})); // the second segment alone does not match
    EXPECT_EQ(inspect(*p2, stream, first.size()), (Sids { 1 }));
    // More data later: the old "password" and "bob" are not reported again.
    std::string third = "&x=1";
    auto p3 = tcp(third);
    EXPECT_EQ(inspect(*p3, stream + third, stream.size()), (Sids {}));
    // A new "bob" in new data alerts again even though an old one exists.
    std::string fourth = "bob";
    auto p4 = tcp(fourth);
    EXPECT_EQ(inspect(*p4, stream + third + fourth, stream.size() + third.size()), (Sids { 3 }));
    // A relative match whose first part is old and second part is new counts.
    std::string a = "xx BEGIN yy";
    std::string b = " END";
    auto pb = tcp(b);
    EXPECT_EQ(inspect(*pb, a + b, a.size()), (Sids { 2 }));
    // dsize still judges the packet's own payload.
    auto e2 = engine_for("alert tcp any any -> any any (content:\"password\"; dsize:6; sid:9;)\n");
    ASSERT_TRUE(e2);
    InspectInput in { .packet = p2->packet, .has_flow = true, .stream = bytes(stream), .stream_new_offset = first.size() };
    EXPECT_EQ(sids(e2->inspect(in)), (Sids { 9 }));
}

// 10,000 generated rules against a naive matcher written separately from the engine.
TEST(IdsEngine, TenThousandGeneratedRulesMatchNaiveCheck)
{
    std::mt19937 rng(20261125);
    auto word = [&](size_t min, size_t max) {
        std::string w(min + rng() % (max - min + 1), 'a');
        for (auto& c : w)
            c = static_cast<char>('a' + rng() % 26);
        return w;
    };
    struct Gen {
        uint32_t sid;
        bool udp;
        int port; // -1 any
        std::string c1;
        bool nocase;
        std::string c2; // "" none
        bool c2_relative;
        std::string neg; // "" none
    };
    const int ports[] = { 80, 443, 53, 8080 };
    std::vector<Gen> gens;
    std::string file;
    for (uint32_t i = 0; i < 10000; ++i) {
        Gen g { i + 1, rng() % 3 == 0, rng() % 2 ? -1 : ports[rng() % 4], word(5, 9), rng() % 4 == 0, "", false, "" };
        if (rng() % 3 == 0) {
            g.c2 = word(3, 5);
            g.c2_relative = rng() % 2;
        }
        if (rng() % 8 == 0)
            g.neg = word(3, 3);
        gens.push_back(g);
        file += std::string("alert ") + (g.udp ? "udp" : "tcp") + " any any -> any "
            + (g.port < 0 ? std::string("any") : std::to_string(g.port)) + " (content:\"" + g.c1 + "\"; "
            + (g.nocase ? "nocase; " : "");
        if (!g.c2.empty())
            file += "content:\"" + g.c2 + "\"; " + (g.c2_relative ? "distance:0; " : "");
        if (!g.neg.empty())
            file += "content:!\"" + g.neg + "\"; ";
        file += "sid:" + std::to_string(g.sid) + ";)\n";
    }
    auto e = engine_for(file);
    ASSERT_TRUE(e);
    ASSERT_EQ(e->rules().size(), 10000u);

    auto lower = [](std::string s) {
        for (auto& c : s)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    auto naive = [&](const Gen& g, bool udp, int port, const std::string& payload) {
        if (g.udp != udp || (g.port >= 0 && g.port != port))
            return false;
        std::string hay = g.nocase ? lower(payload) : payload;
        size_t p1 = hay.find(g.c1);
        if (p1 == std::string::npos)
            return false;
        if (!g.c2.empty()) {
            size_t from = g.c2_relative ? p1 + g.c1.size() : 0;
            if (payload.find(g.c2, from) == std::string::npos)
                return false;
        }
        if (!g.neg.empty() && payload.find(g.neg) != std::string::npos)
            return false;
        return true;
    };
    size_t total_matches = 0;
    for (int n = 0; n < 300; ++n) {
        std::string payload = word(50, 200);
        for (int k = 0; k < 3; ++k) {
            const Gen& g = gens[rng() % gens.size()];
            std::string c1 = g.c1;
            if (g.nocase && rng() % 2)
                std::transform(c1.begin(), c1.end(), c1.begin(), ::toupper);
            size_t at = rng() % (payload.size() + 1);
            payload.insert(at, c1 + (g.c2.empty() ? "" : word(0, 3) + g.c2));
        }
        bool udp = rng() % 3 == 0;
        int port = rng() % 5 == 0 ? 9999 : ports[rng() % 4];
        Spec s;
        s.proto = udp ? net::ipproto::udp : net::ipproto::tcp;
        s.dport = static_cast<uint16_t>(port);
        s.payload = payload;
        auto v = run(*e, *make_packet(s));
        Sids expected;
        for (const auto& g : gens) {
            if (naive(g, udp, port, payload))
                expected.push_back(g.sid);
        }
        total_matches += expected.size();
        if (expected.size() > k_max_alerts_per_packet)
            expected.resize(k_max_alerts_per_packet);
        ASSERT_EQ(sids(v), expected) << "packet " << n << " payload " << payload;
    }
    EXPECT_GT(total_matches, 200u); // the planted contents made most packets match
    EXPECT_LT(e->stats().candidates, 300u * 100u); // and the prefilter kept the checks few
}

TEST(IdsEngine, CloneSharesRulesNotState)
{
    auto e = engine_for(
        "alert tcp any any -> any any (content:\"x\"; threshold:type limit, track by_src, count 1, seconds 60; sid:1;)\n");
    ASSERT_TRUE(e);
    auto c = e->clone();
    ASSERT_TRUE(c.is_ok());
    auto p = tcp("x");
    EXPECT_EQ(sids(run(*e, *p)), (Sids { 1 }));
    EXPECT_EQ(sids(run(*e, *p)), (Sids {}));
    EXPECT_EQ(sids(run(*c.value(), *p)), (Sids { 1 }));
    EXPECT_EQ(&e->rules(), &c.value()->rules());
}

// --- reject frames: parsed back independently, checksums verified ---

struct Parsed {
    size_t l3 = 0;
    size_t l4 = 0;
    bool v6 = false;
    uint8_t proto = 0;
};

Parsed parse_reply(const std::vector<uint8_t>& f, const TestPacket& orig)
{
    Parsed r;
    EXPECT_GE(f.size(), 14u + 20u + 8u);
    // Back to the sender, from the destination.
    EXPECT_TRUE(std::equal(f.begin(), f.begin() + 6, orig.packet.src.bytes.begin()));
    EXPECT_TRUE(std::equal(f.begin() + 6, f.begin() + 12, orig.packet.dst.bytes.begin()));
    size_t eth = 14;
    uint16_t type = static_cast<uint16_t>(f[12] << 8 | f[13]);
    if (type == net::ethertype::vlan) {
        EXPECT_EQ(static_cast<uint16_t>(f[14] << 8 | f[15]), *orig.packet.vlan);
        type = static_cast<uint16_t>(f[16] << 8 | f[17]);
        eth = 18;
    }
    r.l3 = eth;
    r.v6 = type == net::ethertype::ipv6;
    if (r.v6) {
        EXPECT_EQ(f[eth] >> 4, 6);
        EXPECT_EQ(size_t(f[eth + 4] << 8 | f[eth + 5]), f.size() - eth - 40);
        r.proto = f[eth + 6];
        EXPECT_TRUE(std::equal(f.begin() + eth + 8, f.begin() + eth + 24, orig.packet.ip_dst.bytes.begin()));
        EXPECT_TRUE(std::equal(f.begin() + eth + 24, f.begin() + eth + 40, orig.packet.ip_src.bytes.begin()));
        r.l4 = eth + 40;
    } else {
        EXPECT_EQ(type, net::ethertype::ipv4);
        EXPECT_EQ(f[eth], 0x45);
        EXPECT_EQ(checksum(&f[eth], 20), 0) << "IPv4 header checksum";
        EXPECT_EQ(size_t(f[eth + 2] << 8 | f[eth + 3]), f.size() - eth);
        r.proto = f[eth + 9];
        EXPECT_TRUE(std::equal(f.begin() + eth + 12, f.begin() + eth + 16, orig.packet.ip_dst.bytes.begin()));
        EXPECT_TRUE(std::equal(f.begin() + eth + 16, f.begin() + eth + 20, orig.packet.ip_src.bytes.begin()));
        r.l4 = eth + 20;
    }
    size_t l4_len = f.size() - r.l4;
    uint32_t ps = (r.proto == net::ipproto::icmp) ? 0 : pseudo(orig.packet.ip_dst, orig.packet.ip_src, r.proto, l4_len);
    EXPECT_EQ(checksum(&f[r.l4], l4_len, ps), 0) << "L4 checksum";
    return r;
}

uint32_t read32(const std::vector<uint8_t>& f, size_t at)
{
    return uint32_t(f[at]) << 24 | uint32_t(f[at + 1]) << 16 | uint32_t(f[at + 2]) << 8 | f[at + 3];
}

TEST(IdsEngine, RejectFrames)
{
    {
        SCOPED_TRACE("TcpWithAck");
        Spec s;
        s.payload = "attack";
        s.seq = 5000;
        s.ack_no = 9000;
        auto p = make_packet(s);
        auto f = build_reject_frame(p->packet);
        auto r = parse_reply(f, *p);
        EXPECT_EQ(r.proto, net::ipproto::tcp);
        EXPECT_EQ(f.size(), r.l4 + 20);
        EXPECT_EQ(size_t(f[r.l4] << 8 | f[r.l4 + 1]), 80u);
        EXPECT_EQ(size_t(f[r.l4 + 2] << 8 | f[r.l4 + 3]), 40000u);
        EXPECT_EQ(read32(f, r.l4 + 4), 9000u); // seq = their ack
        EXPECT_EQ(f[r.l4 + 13], rst);
    }
    {
        SCOPED_TRACE("TcpSynWithoutAckOverIpv6AndVlan");
        Spec s;
        s.src = "fd00::1";
        s.dst = "fd00::2";
        s.flags = syn;
        s.seq = 0xfffffffe;
        s.vlan = 42;
        auto p = make_packet(s);
        auto f = build_reject_frame(p->packet);
        auto r = parse_reply(f, *p);
        EXPECT_TRUE(r.v6);
        EXPECT_EQ(r.proto, net::ipproto::tcp);
        EXPECT_EQ(read32(f, r.l4 + 4), 0u);
        EXPECT_EQ(read32(f, r.l4 + 8), 0xffffffffu); // their seq + SYN
        EXPECT_EQ(f[r.l4 + 13], rst | ack);
    }
    {
        SCOPED_TRACE("UdpIpv4PortUnreachable");
        Spec s;
        s.proto = net::ipproto::udp;
        s.dport = 53;
        s.payload = std::string(1000, 'q');
        auto p = make_packet(s);
        auto f = build_reject_frame(p->packet);
        auto r = parse_reply(f, *p);
        EXPECT_EQ(r.proto, net::ipproto::icmp);
        EXPECT_EQ(f[r.l4], 3);
        EXPECT_EQ(f[r.l4 + 1], 3);
        EXPECT_EQ(f.size() - r.l3, 576u); // capped at the IPv4 minimum MTU
        // The quote starts with the offending IP header.
        EXPECT_TRUE(
            std::equal(p->packet.ip_header.begin(), p->packet.ip_header.end(), f.begin() + static_cast<ptrdiff_t>(r.l4 + 8)));
    }
    {
        SCOPED_TRACE("UdpIpv6PortUnreachable");
        Spec s;
        s.proto = net::ipproto::udp;
        s.src = "fd00::1";
        s.dst = "fd00::2";
        s.payload = "hello";
        auto p = make_packet(s);
        auto f = build_reject_frame(p->packet);
        auto r = parse_reply(f, *p);
        EXPECT_EQ(r.proto, net::ipproto::icmpv6);
        EXPECT_EQ(f[r.l4], 1);
        EXPECT_EQ(f[r.l4 + 1], 4);
        EXPECT_EQ(f.size() - r.l4, 8u + 40u + 8u + 5u);
    }
    {
        SCOPED_TRACE("IcmpEchoGetsUnreachable");
        Spec s;
        s.proto = net::ipproto::icmp;
        auto p = make_packet(s);
        auto r = parse_reply(build_reject_frame(p->packet), *p);
        EXPECT_EQ(r.proto, net::ipproto::icmp);
    }
    {
        SCOPED_TRACE("NothingSent");
        Spec s;
        s.proto = net::ipproto::icmp;
        s.icmp_type = 3; // an ICMP error
        EXPECT_TRUE(build_reject_frame(make_packet(s)->packet).empty());
        Spec r;
        r.flags = rst;
        EXPECT_TRUE(build_reject_frame(make_packet(r)->packet).empty());
        Spec b;
        b.proto = net::ipproto::udp;
        b.dst = "255.255.255.255";
        EXPECT_TRUE(build_reject_frame(make_packet(b)->packet).empty());
        Spec m;
        m.proto = net::ipproto::udp;
        m.dst_mac = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        EXPECT_TRUE(build_reject_frame(make_packet(m)->packet).empty());
        auto arp = make_packet(Spec {});
        arp->packet.l3 = net::L3::Arp;
        EXPECT_TRUE(build_reject_frame(arp->packet).empty());
    }
}

} // namespace
} // namespace bulwark::ids
