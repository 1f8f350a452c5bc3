// The switch engine (src/net/switch.h) driven directly with generated frames: anti-spoofing,
// DHCP and ARP answers, segmentation with flow state, policy changes, quarantine, rate limits,
// the IDS (drop, reject, split content, fragments) and the policy file's errors.
#include <gtest/gtest.h>
#include <map>

#include "ids/engine.h"
#include "ids/rule_parser.h"
#include "net/dhcp.h"
#include "net/frame_builder.h"
#include "net/network.h"
#include "net/switch.h"

using namespace bulwark;
using namespace bulwark::net;

namespace {

constexpr uint64_t k_ms = 1000000;

struct Sink : FrameSink {
    std::map<uint32_t, std::vector<std::vector<uint8_t>>> got;
    void deliver(uint32_t port, std::span<const uint8_t> frame) override { got[port].emplace_back(frame.begin(), frame.end()); }
    std::size_t count(uint32_t port) { return got[port].size(); }
    void clear() { got.clear(); }
};

MacAddr mac(uint8_t last)
{
    return MacAddr { { 0x52, 0x54, 0x00, 0x00, 0x00, last } };
}
IpAddr ip(const char* text)
{
    return *IpAddr::parse(text);
}

const MacAddr k_server_mac { { 0x02, 0, 0, 0, 0, 1 } };

class SwitchTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        add_segment("lab", "10.77.1.0/24");
        add_segment("other", "10.77.2.0/24");
        add_port(1, "web1", "lab", { { "tier", "web" } }, web);
        add_port(2, "db1", "lab", { { "tier", "db" } }, db);
        add_port(3, "tool1", "lab", { { "role", "forensics" } }, tool);
        add_port(4, "far1", "other", { { "tier", "db" } }, far);
    }

    void add_segment(const std::string& name, const char* subnet)
    {
        SegmentConfig seg;
        seg.name = name;
        seg.subnet = *Cidr::parse(subnet);
        seg.addressing.server_ip = IpAddr::v4(seg.subnet.base.v4_host_order() + 1);
        seg.addressing.server_mac = k_server_mac;
        seg.addressing.prefix = seg.subnet.prefix;
        ASSERT_TRUE(sw.add_segment(seg).is_ok());
    }

    void add_port(uint32_t id, const std::string& name, const std::string& segment, Labels labels, const Endpoint& ep)
    {
        PortConfig p;
        p.id = id;
        p.name = name;
        p.segment = segment;
        p.labels = std::move(labels);
        p.mac = ep.mac;
        p.ip4 = ep.ip;
        p.max_frames_per_second = 0;
        p.max_bytes_per_second = 0;
        auto r = sw.add_port(p);
        ASSERT_TRUE(r.is_ok()) << r.error().message();
    }

    void policy(const std::string& toml)
    {
        auto p = parse_segment_policy(toml, "test.toml");
        ASSERT_TRUE(p.is_ok()) << p.error().message();
        sw.set_policy(p.release_value());
    }

    void rules(const std::string& text)
    {
        auto set = ids::load_rules(text, ids::default_rule_vars());
        ASSERT_TRUE(set.errors.empty()) << set.errors[0].message;
        auto engine = ids::Engine::create(std::move(set.rules));
        ASSERT_TRUE(engine.is_ok()) << engine.error().message();
        sw.set_ids(std::shared_ptr<ids::Engine>(engine.release_value()));
    }

    void send(uint32_t port, const std::vector<uint8_t>& frame) { sw.receive(port, frame, now += k_ms); }
    const PortCounters& counters(uint32_t port) { return *sw.counters(port); }

    bool ping(uint32_t from_port, const Endpoint& from, uint32_t to_port, const Endpoint& to, uint16_t seq = 1)
    {
        sink.clear();
        send(from_port, icmp_echo_frame(from, to, false, 7, seq));
        return sink.count(to_port) == 1;
    }

    Endpoint web { mac(1), ip("10.77.1.10") };
    Endpoint db { mac(2), ip("10.77.1.11") };
    Endpoint tool { mac(3), ip("10.77.1.12") };
    Endpoint far { mac(4), ip("10.77.2.10") };
    Sink sink;
    Switch sw { sink };
    uint64_t now = 1000 * k_ms;
};

const char* k_web_to_db_icmp_tcp = R"(
[[allow]]
name = "web pings db"
from = { tier = "web" }
to = { tier = "db" }
proto = "icmp"

[[allow]]
name = "web to db sql"
from = { tier = "web" }
to = { tier = "db" }
proto = "tcp"
ports = [5432, "8000-8080"]

[quarantine]
analysis = { role = "forensics" }
)";

std::vector<uint8_t> dhcp_discover(const MacAddr& client, const MacAddr& chaddr)
{
    std::vector<uint8_t> b(240, 0);
    b[0] = 1;
    b[1] = 1;
    b[2] = 6;
    b[4] = 0x12;
    b[7] = 0x34;
    std::copy(chaddr.bytes.begin(), chaddr.bytes.end(), b.begin() + 28);
    b[236] = 99, b[237] = 130, b[238] = 83, b[239] = 99;
    b.insert(b.end(), { 53, 1, 1, 255 });
    return udp_frame(
        { client, IpAddr::v4(0) }, { MacAddr { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } }, IpAddr::v4(0xffffffff) }, 68, 67, b);
}

} // namespace

TEST_F(SwitchTest, DhcpOffersThePortsOwnAddressOnly)
{
    send(1, dhcp_discover(web.mac, web.mac));
    ASSERT_EQ(sink.count(1), 1u);
    auto offer = decode_frame(sink.got[1][0]);
    ASSERT_TRUE(offer.packet);
    EXPECT_EQ(offer.packet->dst, web.mac);
    EXPECT_EQ(offer.packet->dst_port, 68);
    // yiaddr (offset 16 of the BOOTP message) is the assigned address.
    IpAddr yiaddr;
    std::copy_n(offer.packet->payload.begin() + 16, 4, yiaddr.bytes.begin());
    EXPECT_EQ(yiaddr, web.ip);
    EXPECT_EQ(sink.count(2), 0u) << "DHCP is never forwarded to other guests";
    // Asking for another guest's hardware address gets nothing.
    sink.clear();
    send(1, dhcp_discover(web.mac, db.mac));
    EXPECT_EQ(sink.count(1), 0u);
    EXPECT_EQ(counters(1).dhcp_answers, 1u);
}

TEST_F(SwitchTest, ArpForTheSwitchIsAnsweredAndSpoofedArpIsDropped)
{
    MacAddr bcast { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
    send(1, arp_frame(1, web.mac, web.ip, MacAddr {}, ip("10.77.1.1"), bcast));
    ASSERT_EQ(sink.count(1), 1u);
    auto reply = decode_frame(sink.got[1][0]);
    ASSERT_TRUE(reply.packet);
    EXPECT_EQ(reply.packet->arp.op, 2);
    EXPECT_EQ(reply.packet->arp.sender_mac, k_server_mac);
    // A normal request for a neighbour is flooded within the segment only.
    sink.clear();
    send(1, arp_frame(1, web.mac, web.ip, MacAddr {}, db.ip, bcast));
    EXPECT_EQ(sink.count(2), 1u);
    EXPECT_EQ(sink.count(3), 1u);
    EXPECT_EQ(sink.count(4), 0u) << "another segment saw the broadcast";
    // Claiming db's address (ARP poisoning) is dropped.
    sink.clear();
    send(1, arp_frame(2, web.mac, db.ip, tool.mac, tool.ip, tool.mac));
    EXPECT_EQ(sink.count(3), 0u);
    EXPECT_EQ(counters(1).drop_spoofed, 1u);
}

TEST_F(SwitchTest, SpoofedSourcesAreDropped)
{
    policy(k_web_to_db_icmp_tcp);
    ASSERT_TRUE(ping(1, web, 2, db));
    // Another guest's IP from web's MAC.
    Endpoint forged_ip { web.mac, tool.ip };
    EXPECT_FALSE(ping(1, forged_ip, 2, db));
    // Another MAC.
    Endpoint forged_mac { mac(9), web.ip };
    EXPECT_FALSE(ping(1, forged_mac, 2, db));
    EXPECT_EQ(counters(1).drop_spoofed, 2u);
    // An 802.1Q tag (VLAN hopping) and an unknown ethertype.
    auto frame = icmp_echo_frame(web, db, false, 1, 1);
    std::vector<uint8_t> tagged(frame.begin(), frame.begin() + 12);
    tagged.insert(tagged.end(), { 0x81, 0x00, 0x00, 0x05 });
    tagged.insert(tagged.end(), frame.begin() + 12, frame.end());
    sink.clear();
    send(1, tagged);
    EXPECT_EQ(sink.count(2), 0u);
    send(1, ethernet_frame(web.mac, db.mac, 0x88b5, std::vector<uint8_t>(46, 0)));
    EXPECT_EQ(sink.count(2), 0u);
    EXPECT_EQ(counters(1).drop_not_ip, 1u);
    // Garbage is counted and dropped.
    send(1, std::vector<uint8_t>(5, 0xff));
    EXPECT_EQ(counters(1).drop_malformed, 1u);
}

TEST_F(SwitchTest, DefaultDenyAndRepliesOfAllowedFlows)
{
    EXPECT_FALSE(ping(1, web, 2, db));
    EXPECT_EQ(counters(1).drop_policy, 1u);
    policy(k_web_to_db_icmp_tcp);
    EXPECT_TRUE(ping(1, web, 2, db, 2));
    // The reply of web's ping passes; db opening its own does not.
    sink.clear();
    send(2, icmp_echo_frame(db, web, true, 7, 2));
    EXPECT_EQ(sink.count(1), 1u);
    EXPECT_FALSE(ping(2, db, 1, web, 3));
    // TCP: only the allowed ports.
    sink.clear();
    send(1, tcp_frame(web, db, 40000, 5432, 100, 0, tcpflag::syn, {}));
    send(1, tcp_frame(web, db, 40001, 8080, 100, 0, tcpflag::syn, {}));
    send(1, tcp_frame(web, db, 40002, 22, 100, 0, tcpflag::syn, {}));
    EXPECT_EQ(sink.count(2), 2u);
    // A guest cannot reach a third one by sending to an allowed neighbour's MAC.
    sink.clear();
    send(1, icmp_echo_frame(web, Endpoint { db.mac, tool.ip }, false, 8, 1));
    EXPECT_EQ(sink.count(2), 0u);
    EXPECT_EQ(sink.count(3), 0u);
    // Different segments never meet, whatever the labels.
    EXPECT_FALSE(ping(1, web, 4, Endpoint { far.mac, far.ip }));
}

TEST_F(SwitchTest, PolicyChangeKeepsFlowsItStillAllowsAndCutsTheOthers)
{
    policy(k_web_to_db_icmp_tcp);
    sink.clear();
    send(1, tcp_frame(web, db, 40000, 5432, 100, 0, tcpflag::syn, {}));
    send(2, tcp_frame(db, web, 5432, 40000, 900, 101, tcpflag::syn | tcpflag::ack, {}));
    send(1, tcp_frame(web, db, 40000, 5432, 101, 901, tcpflag::ack, {}));
    send(1, tcp_frame(web, db, 40001, 8080, 100, 0, tcpflag::syn, {}));
    ASSERT_EQ(sink.count(2), 3u);
    uint64_t generation = sw.policy_generation();
    // The new policy still allows 5432 but no longer 8080.
    policy(R"(
[[allow]]
from = { tier = "web" }
to = { tier = "db" }
proto = "tcp"
ports = [5432]
)");
    EXPECT_GT(sw.policy_generation(), generation);
    sink.clear();
    std::vector<uint8_t> data { 'q', 'u', 'e', 'r', 'y' };
    send(1, tcp_frame(web, db, 40000, 5432, 101, 901, tcpflag::ack | tcpflag::psh, data));
    send(2, tcp_frame(db, web, 5432, 40000, 901, 106, tcpflag::ack, {}));
    send(1, tcp_frame(web, db, 40001, 8080, 101, 0, tcpflag::ack, data));
    EXPECT_EQ(sink.count(2), 1u) << "the 5432 flow must go on, the 8080 one must stop";
    EXPECT_EQ(sink.count(1), 1u);
}

TEST_F(SwitchTest, QuarantineLeavesOnlyAnalysisPorts)
{
    policy(k_web_to_db_icmp_tcp);
    ASSERT_TRUE(ping(1, web, 2, db));
    ASSERT_TRUE(sw.set_quarantine(2, true).is_ok());
    EXPECT_FALSE(ping(1, web, 2, db, 2));
    EXPECT_GT(counters(1).drop_quarantine, 0u);
    // The analysis port may reach it (ARP included), even without a policy rule for it.
    MacAddr bcast { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
    sink.clear();
    send(3, arp_frame(1, tool.mac, tool.ip, MacAddr {}, db.ip, bcast));
    EXPECT_EQ(sink.count(2), 1u);
    EXPECT_EQ(sink.count(1), 1u);
    sink.clear();
    send(1, arp_frame(1, web.mac, web.ip, MacAddr {}, db.ip, bcast));
    EXPECT_EQ(sink.count(2), 0u) << "a quarantined guest got a broadcast from a non-analysis guest";
    ASSERT_TRUE(sw.set_quarantine(2, false).is_ok());
    EXPECT_TRUE(ping(1, web, 2, db, 3));
    EXPECT_FALSE(sw.set_quarantine(99, true).is_ok());
}

TEST_F(SwitchTest, RateLimitStopsAFloodingGuest)
{
    PortConfig p;
    p.id = 5;
    p.name = "noisy";
    p.segment = "lab";
    p.mac = mac(5);
    p.ip4 = ip("10.77.1.13");
    p.max_frames_per_second = 1000;
    p.max_bytes_per_second = 0;
    ASSERT_TRUE(sw.add_port(p).is_ok());
    MacAddr bcast { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
    auto frame = arp_frame(1, p.mac, p.ip4, MacAddr {}, db.ip, bcast);
    // 1000 frames in 1 ms: the burst (1/10 s of the rate, 100 frames) passes, the rest does not.
    for (int i = 0; i < 1000; ++i)
        sw.receive(5, frame, now + 1000 * uint64_t(i));
    EXPECT_GT(counters(5).drop_rate, 850u);
    EXPECT_LT(counters(5).drop_rate, 920u);
    EXPECT_EQ(counters(2).tx_frames, 1000 - counters(5).drop_rate);
    // A second later the port may send again.
    uint64_t dropped = counters(5).drop_rate;
    sw.receive(5, frame, now + 2000 * k_ms);
    EXPECT_EQ(counters(5).drop_rate, dropped);
}

TEST_F(SwitchTest, IdsDropRejectAndContentSplitAcrossSegments)
{
    policy(k_web_to_db_icmp_tcp);
    rules("drop tcp any any -> any 5432 (msg:\"split marker\"; flow:to_server,established; content:\"EVIL-MARKER\"; sid:1; "
          "rev:1;)\n"
          "reject tcp any any -> any 8080 (msg:\"rejected\"; content:\"NOPE\"; sid:2; rev:1;)\n");
    std::vector<std::string> eve;
    sw.set_eve_sink([&](const std::string& line) { eve.push_back(line); });
    sink.clear();
    send(1, tcp_frame(web, db, 40000, 5432, 100, 0, tcpflag::syn, {}));
    send(2, tcp_frame(db, web, 5432, 40000, 900, 101, tcpflag::syn | tcpflag::ack, {}));
    send(1, tcp_frame(web, db, 40000, 5432, 101, 901, tcpflag::ack, {}));
    std::string a = "hello EVIL-", b = "MARKER tail";
    send(1, tcp_frame(web, db, 40000, 5432, 101, 901, tcpflag::ack | tcpflag::psh, std::vector<uint8_t>(a.begin(), a.end())));
    EXPECT_EQ(sink.count(2), 3u) << "the first half alone matches nothing";
    send(1,
        tcp_frame(web, db, 40000, 5432, 101 + uint32_t(a.size()), 901, tcpflag::ack | tcpflag::psh,
            std::vector<uint8_t>(b.begin(), b.end())));
    EXPECT_EQ(sink.count(2), 3u) << "the segment completing the marker was delivered";
    EXPECT_EQ(counters(1).drop_ids, 1u);
    ASSERT_GE(eve.size(), 2u);
    EXPECT_NE(eve[0].find("\"event_type\":\"alert\""), std::string::npos) << eve[0];
    EXPECT_NE(eve[0].find("\"action\":\"blocked\""), std::string::npos) << eve[0];
    EXPECT_NE(eve[0].find("\"in_iface\":\"web1\""), std::string::npos) << eve[0];
    // reject: the sender gets a RST, the receiver nothing.
    sink.clear();
    std::string nope = "NOPE";
    send(1, tcp_frame(web, db, 40005, 8080, 100, 0, tcpflag::syn, {}));
    send(1, tcp_frame(web, db, 40005, 8080, 101, 0, tcpflag::ack | tcpflag::psh, std::vector<uint8_t>(nope.begin(), nope.end())));
    EXPECT_EQ(sink.count(2), 1u);
    ASSERT_EQ(sink.count(1), 1u);
    auto rst = decode_frame(sink.got[1][0]);
    ASSERT_TRUE(rst.packet);
    EXPECT_TRUE(rst.packet->tcp_flags & tcpflag::rst);
    EXPECT_EQ(rst.packet->dst_port, 40005);
}

TEST_F(SwitchTest, FragmentedPayloadIsInspectedWhole)
{
    policy(R"(
[[allow]]
from = { tier = "web" }
to = { tier = "db" }
proto = "udp"
)");
    rules("drop udp any any -> any 9999 (msg:\"frag marker\"; content:\"EVIL-MARKER\"; sid:3; rev:1;)\n");
    std::string text = std::string(100, 'a') + "EVIL-MARKER" + std::string(100, 'b');
    auto udp = udp_segment(web.ip, db.ip, 5000, 9999, std::vector<uint8_t>(text.begin(), text.end()));
    // Two fragments, the marker split between them (fragment data is a multiple of 8 bytes).
    std::span<const uint8_t> all(udp);
    auto first = ipv4_packet(web.ip, db.ip, ipproto::udp, all.first(104), Ipv4Fields { .id = 77, .more_fragments = true });
    auto second = ipv4_packet(web.ip, db.ip, ipproto::udp, all.subspan(104), Ipv4Fields { .id = 77, .frag_offset = 104 });
    sink.clear();
    send(1, ethernet_frame(web.mac, db.mac, ethertype::ipv4, first));
    send(1, ethernet_frame(web.mac, db.mac, ethertype::ipv4, second));
    EXPECT_EQ(sink.count(2), 0u);
    EXPECT_EQ(counters(1).drop_ids, 1u);
    // Without the marker, the datagram arrives.
    std::string clean = std::string(211, 'c');
    auto ok = udp_segment(web.ip, db.ip, 5000, 9999, std::vector<uint8_t>(clean.begin(), clean.end()));
    std::span<const uint8_t> okspan(ok);
    send(1,
        ethernet_frame(web.mac, db.mac, ethertype::ipv4,
            ipv4_packet(web.ip, db.ip, ipproto::udp, okspan.first(104), Ipv4Fields { .id = 78, .more_fragments = true })));
    send(1,
        ethernet_frame(web.mac, db.mac, ethertype::ipv4,
            ipv4_packet(web.ip, db.ip, ipproto::udp, okspan.subspan(104), Ipv4Fields { .id = 78, .frag_offset = 104 })));
    EXPECT_EQ(sink.count(2), 1u);
}

TEST_F(SwitchTest, ReassembledDatagramLargerThanTheLinkLeavesAsFragments)
{
    policy(R"(
[[allow]]
from = { tier = "web" }
to = { tier = "db" }
proto = "udp"
)");
    std::vector<uint8_t> data(3000);
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<uint8_t>(i * 7);
    auto udp = udp_segment(web.ip, db.ip, 5000, 9999, data);
    std::span<const uint8_t> all(udp);
    sink.clear();
    for (std::size_t off = 0; off < all.size(); off += 1480) {
        std::size_t n = std::min<std::size_t>(1480, all.size() - off);
        send(1,
            ethernet_frame(web.mac, db.mac, ethertype::ipv4,
                ipv4_packet(web.ip, db.ip, ipproto::udp, all.subspan(off, n),
                    Ipv4Fields { .id = 99, .more_fragments = off + n < all.size(), .frag_offset = uint16_t(off) })));
    }
    ASSERT_EQ(sink.count(2), 3u);
    // Every fragment fits the link, and together they carry the datagram unchanged.
    std::vector<uint8_t> joined;
    for (const auto& f : sink.got[2]) {
        EXPECT_LE(f.size(), k_max_frame);
        auto p = decode_frame(f);
        ASSERT_TRUE(p.packet);
        EXPECT_EQ(p.packet->frag_offset, joined.size());
        joined.insert(joined.end(), p.packet->ip_payload.begin(), p.packet->ip_payload.end());
    }
    EXPECT_EQ(joined, udp);
}

TEST(SegmentPolicy, ErrorsNameTheFileAndLine)
{
    auto expect_error = [](const std::string& text, const std::string& needle) {
        auto r = parse_segment_policy(text, "p.toml");
        ASSERT_TRUE(r.is_error()) << text;
        EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
    };
    expect_error("[[allow]]\nfrom = {}\nto = {}\nproto = \"sctp\"\n", "p.toml:4");
    expect_error("[[allow]]\nfrom = {}\nto = {}\nproto = \"icmp\"\nports = [1]\n", "needs proto");
    expect_error("[[allow]]\nfrom = {}\n", "needs 'to'");
    expect_error("[[allow]]\nfrom = {}\nto = {}\nproto = \"tcp\"\nports = [70000]\n", "0-65535");
    expect_error("[[allow]]\nfrom = { \"bad label\" = \"x\" }\nto = {}\n", "not valid");
    expect_error("[[allow]]\nfrom = {}\nto = {}\ncolour = \"red\"\n", "unknown key 'colour'");
    expect_error("[quarantine]\nanalysis = {}\n", "every guest");
    expect_error("allow = 3\n", "array of tables");
    expect_error("[[allow]\n", "p.toml:1");
    auto ok = parse_segment_policy(k_web_to_db_icmp_tcp, "p.toml");
    ASSERT_TRUE(ok.is_ok());
    // The canonical JSON form round-trips.
    auto back = SegmentPolicy::from_json(ok.value().to_json());
    ASSERT_TRUE(back.is_ok());
    EXPECT_EQ(back.value().to_json(), ok.value().to_json());
}

TEST(NicRequest, ParsesSegmentAndLabels)
{
    auto r = parse_label("tier=web", {});
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().at("tier"), "web");
    EXPECT_TRUE(parse_label("tier", {}).is_error());
    EXPECT_TRUE(parse_label("t=a b", {}).is_error());
}

TEST(NicRequest, ParsesRateLimitsAndRefusesBadOnes)
{
    auto r = net::parse_nic_request("lab,label=tier=web,fps=5000,mbit=100");
    ASSERT_TRUE(r.is_ok()) << r.error().message();
    EXPECT_EQ(r.value().segment, "lab");
    EXPECT_EQ(r.value().labels.at("tier"), "web");
    EXPECT_EQ(r.value().max_fps, std::optional<int64_t>(5000));
    EXPECT_EQ(r.value().max_bps, std::optional<int64_t>(100 * 125000));
    auto plain = net::parse_nic_request("lab");
    ASSERT_TRUE(plain.is_ok());
    EXPECT_FALSE(plain.value().max_fps);
    EXPECT_FALSE(plain.value().max_bps);
    auto off = net::parse_nic_request("lab,fps=0");
    ASSERT_TRUE(off.is_ok());
    EXPECT_EQ(off.value().max_fps, std::optional<int64_t>(0)) << "0 turns the limit off";
    for (const char* bad : { "lab,fps=", "lab,fps=-1", "lab,fps=1e6", "lab,fps=10000001", "lab,mbit=100001",
             "lab,mbit=99999999999999", "lab,rate=5", "lab,fps=5 " }) {
        auto e = net::parse_nic_request(bad);
        EXPECT_TRUE(e.is_error()) << bad;
    }
    EXPECT_NE(net::parse_nic_request("lab,fps=x").error().message().find("frames per second"), std::string::npos);
}
