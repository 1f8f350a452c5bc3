// Uplinks (src/net/switch.h, "Uplinks"): the policy's `outside` rules and [uplink] table, and the
// switch carrying a guest's flows to and from its uplink port, driven with generated frames.
// What is tried: traffic beyond the segment without an uplink or a rule, addresses no rule can
// open (loopback, other segments, multicast, link-local by way of 0.0.0.0/0), flows opened from
// outside, an uplink posing as a guest or sending to another guest, quarantine both ways, a
// policy change cutting an established flow, the IDS both ways, and oversized frames from passt.
#include <gtest/gtest.h>
#include <map>

#include "ids/engine.h"
#include "ids/rule_parser.h"
#include "net/frame_builder.h"
#include "net/switch.h"

using namespace bulwark;
using namespace bulwark::net;

namespace {

constexpr uint64_t k_ms = 1000000;
constexpr uint8_t k_syn = 0x02, k_ack = 0x10, k_psh = 0x08;

struct Sink : FrameSink {
    std::map<uint32_t, std::vector<std::vector<uint8_t>>> got;
    void deliver(uint32_t port, std::span<const uint8_t> frame) override { got[port].emplace_back(frame.begin(), frame.end()); }
    std::size_t count(uint32_t port) { return got[port].size(); }
    void clear() { got.clear(); }
};

IpAddr ip(const char* text)
{
    return *IpAddr::parse(text);
}

std::vector<uint8_t> bytes(const std::string& s)
{
    return { s.begin(), s.end() };
}

const MacAddr k_gateway_mac { { 0x02, 0, 0, 0, 0, 1 } };
// What passt writes as its source MAC is whatever bulwarkd told it; the switch readdresses
// every frame from an uplink anyway.
const MacAddr k_passt_mac { { 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55 } };

const char* k_policy = R"(
[uplink]
segments = ["lab"]

[[allow]]
name = "web to https"
from = { tier = "web" }
outside = ["0.0.0.0/0"]
proto = "tcp"
ports = [443]

[[allow]]
name = "web to dns"
from = { tier = "web" }
outside = ["198.51.100.53/32"]
proto = "udp"
ports = [53]

[[allow]]
name = "web pings"
from = { tier = "web" }
outside = ["198.51.100.0/24"]
proto = "icmp"

[quarantine]
analysis = { role = "forensics" }
)";

class UplinkTest : public ::testing::Test {
protected:
    static constexpr uint32_t web_port = 1, db_port = 2, web_uplink = 9;

    void SetUp() override
    {
        for (auto [name, subnet] : { std::pair { "lab", "10.77.1.0/24" }, std::pair { "other", "10.77.2.0/24" } }) {
            SegmentConfig seg;
            seg.name = name;
            seg.subnet = *Cidr::parse(subnet);
            seg.addressing.server_ip = IpAddr::v4(seg.subnet.base.v4_host_order() + 1);
            seg.addressing.server_mac = k_gateway_mac;
            seg.addressing.prefix = 24;
            ASSERT_TRUE(sw.add_segment(seg).is_ok());
        }
        add_port(web_port, "web1", { { "tier", "web" } }, web);
        add_port(db_port, "db1", { { "tier", "db" } }, db);
        policy(k_policy);
        auto up = sw.add_uplink(web_uplink, web_port, "web1/uplink");
        ASSERT_TRUE(up.is_ok()) << up.error().message();
    }

    void add_port(uint32_t id, const std::string& name, Labels labels, const Endpoint& ep)
    {
        PortConfig p;
        p.id = id;
        p.name = name;
        p.segment = "lab";
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

    void send(uint32_t port, const std::vector<uint8_t>& frame) { sw.receive(port, frame, now += k_ms); }
    const PortCounters& counters(uint32_t port) { return *sw.counters(port); }

    // A TCP segment from the web guest to `dst` through the gateway; true when it reached the
    // uplink unchanged.
    bool out(const IpAddr& dst, uint16_t dport, uint8_t flags, const std::string& payload = {}, uint16_t sport = 40000)
    {
        sink.clear();
        auto frame = tcp_frame(web, Endpoint { k_gateway_mac, dst }, sport, dport, 1000, 0, flags, bytes(payload));
        send(web_port, frame);
        return sink.count(web_uplink) == 1 && sink.got[web_uplink][0] == frame;
    }
    // A TCP segment from `src` outside, as passt writes it, to `to`; true when the web guest
    // got it (readdressed from the gateway).
    bool in(const IpAddr& src, uint16_t sport, uint8_t flags, const std::string& payload = {}, const IpAddr* to = nullptr,
        uint16_t dport = 40000)
    {
        sink.clear();
        Endpoint dst { web.mac, to ? *to : web.ip };
        send(web_uplink, tcp_frame(Endpoint { k_passt_mac, src }, dst, sport, dport, 5000, 1001, flags, bytes(payload)));
        if (sink.count(web_port) != 1)
            return false;
        auto got = decode_frame(sink.got[web_port][0]);
        EXPECT_TRUE(got.packet);
        EXPECT_EQ(got.packet->dst, web.mac);
        EXPECT_EQ(got.packet->src, k_gateway_mac);
        return true;
    }

    Endpoint web { MacAddr { { 0x52, 0x54, 0, 0, 0, 1 } }, ip("10.77.1.10") };
    Endpoint db { MacAddr { { 0x52, 0x54, 0, 0, 0, 2 } }, ip("10.77.1.11") };
    IpAddr server = ip("198.51.100.7");
    Sink sink;
    Switch sw { sink };
    uint64_t now = 1000 * k_ms;
};

} // namespace

TEST(UplinkPolicy, ParsesOutsideRulesAndUplinkSegments)
{
    auto p = parse_segment_policy(k_policy, "p.toml");
    ASSERT_TRUE(p.is_ok()) << p.error().message();
    ASSERT_EQ(p.value().allow.size(), 3u);
    EXPECT_TRUE(p.value().allow[0].to_outside());
    EXPECT_EQ(p.value().allow[1].outside[0].to_string(), "198.51.100.53/32");
    EXPECT_TRUE(p.value().has_uplink("lab"));
    EXPECT_FALSE(p.value().has_uplink("other"));
    // The canonical JSON form bulwarkd stores and hands the worker keeps all of it.
    auto back = SegmentPolicy::from_json(p.value().to_json());
    ASSERT_TRUE(back.is_ok()) << back.error().message();
    EXPECT_EQ(back.value().to_json(), p.value().to_json());
    EXPECT_TRUE(back.value().has_uplink("lab"));
}

TEST(UplinkPolicy, BadOutsideRulesAreRefusedWithTheLine)
{
    struct Case {
        const char* toml;
        const char* expect;
    };
    for (const Case& c : {
             Case { "[[allow]]\nfrom = {}\nto = {}\noutside = [\"0.0.0.0/0\"]\n", "not both" },
             Case { "[[allow]]\nfrom = {}\noutside = []\n", "non-empty" },
             Case { "[[allow]]\nfrom = {}\noutside = [\"10.0.0.1/8\"]\n", "host bits" },
             Case { "[[allow]]\nfrom = {}\noutside = [\"2001:db8::/32\"]\n", "not an IPv4 network" },
             Case { "[[allow]]\nfrom = {}\noutside = [\"example.com\"]\n", "not an IPv4 network" },
             Case { "[uplink]\nsegments = \"lab\"\n", "array" },
             Case { "[uplink]\nsegments = [\"bad name!\"]\n", "segment names" },
             Case { "[uplink]\nrouting = true\n", "unknown key 'routing'" },
         }) {
        auto p = parse_segment_policy(c.toml, "bad.toml");
        ASSERT_TRUE(p.is_error()) << c.toml;
        EXPECT_NE(p.error().message().find(c.expect), std::string::npos) << p.error().message();
        EXPECT_NE(p.error().message().find("bad.toml:"), std::string::npos) << p.error().message();
    }
}

TEST(UplinkPolicy, AddressesNoRuleCanOpen)
{
    auto p = parse_segment_policy("[uplink]\nsegments = [\"s\"]\n[[allow]]\nfrom = {}\noutside = [\"0.0.0.0/0\"]\n"
                                  "[[allow]]\nfrom = { role = \"cloud\" }\noutside = [\"169.254.169.254/32\"]\n",
        "p.toml");
    ASSERT_TRUE(p.is_ok()) << p.error().message();
    auto c = CompiledPolicy::compile(p.value(), { { 1, "s", {} }, { 2, "s", { { "role", "cloud" } } }, { 3, "elsewhere", {} } });
    EXPECT_TRUE(c.allows_outside(1, ip("198.51.100.7"), ipproto::tcp, 22));
    for (const char* never : { "127.0.0.1", "0.1.2.3", "224.0.0.251", "239.1.1.1", "255.255.255.255", "240.0.0.1" })
        EXPECT_FALSE(c.allows_outside(1, ip(never), ipproto::udp, 53)) << never;
    EXPECT_FALSE(c.allows_outside(1, ip("169.254.169.254"), ipproto::tcp, 80)) << "metadata by way of 0.0.0.0/0";
    EXPECT_TRUE(c.allows_outside(2, ip("169.254.169.254"), ipproto::tcp, 80)) << "named explicitly";
    EXPECT_FALSE(c.allows_outside(3, ip("198.51.100.7"), ipproto::tcp, 22)) << "a segment without an uplink";
    EXPECT_FALSE(c.allows_outside(1, ip("2001:db8::1"), ipproto::tcp, 22));
}

TEST_F(UplinkTest, AllowedFlowGoesOutAndItsRepliesComeBack)
{
    EXPECT_TRUE(out(server, 443, k_syn));
    EXPECT_TRUE(in(server, 443, k_syn | k_ack));
    EXPECT_TRUE(out(server, 443, k_ack | k_psh, "GET / HTTP/1.1\r\n\r\n"));
    EXPECT_TRUE(in(server, 443, k_ack | k_psh, "HTTP/1.1 200 OK\r\n\r\n"));
    EXPECT_EQ(counters(web_uplink).tx_frames, 2u);
    EXPECT_EQ(counters(web_port).tx_frames, 2u);
    // UDP to the one allowed resolver, and its answer.
    sink.clear();
    send(web_port, udp_frame(web, Endpoint { k_gateway_mac, ip("198.51.100.53") }, 5353, 53, bytes("q")));
    EXPECT_EQ(sink.count(web_uplink), 1u);
    sink.clear();
    send(web_uplink, udp_frame(Endpoint { k_passt_mac, ip("198.51.100.53") }, web, 53, 5353, bytes("a")));
    EXPECT_EQ(sink.count(web_port), 1u);
    // Ping out and the reply.
    sink.clear();
    send(web_port, icmp_echo_frame(web, Endpoint { k_gateway_mac, server }, false, 9, 1));
    EXPECT_EQ(sink.count(web_uplink), 1u);
    sink.clear();
    send(web_uplink, icmp_echo_frame(Endpoint { k_passt_mac, server }, web, true, 9, 1));
    EXPECT_EQ(sink.count(web_port), 1u);
}

TEST_F(UplinkTest, DeniedByDefaultAndNeverToForbiddenAddresses)
{
    EXPECT_FALSE(out(server, 80, k_syn)) << "no rule for port 80";
    EXPECT_FALSE(out(ip("198.51.100.54"), 53, k_syn)) << "tcp/53 is not udp/53";
    EXPECT_FALSE(out(ip("127.0.0.1"), 443, k_syn)) << "the host's loopback";
    EXPECT_FALSE(out(ip("10.77.2.10"), 443, k_syn)) << "another segment, through the gateway";
    EXPECT_FALSE(out(ip("10.77.1.11"), 443, k_syn)) << "a neighbour, through the gateway";
    EXPECT_FALSE(out(ip("169.254.169.254"), 443, k_syn)) << "link-local by way of 0.0.0.0/0";
    EXPECT_EQ(counters(web_port).drop_policy, 6u);
    // The gateway's own address answers ARP and DHCP only.
    EXPECT_FALSE(out(ip("10.77.1.1"), 443, k_syn));
    // A guest without an uplink reaches nothing beyond the segment, whatever the policy says.
    sink.clear();
    send(db_port, tcp_frame(db, Endpoint { k_gateway_mac, server }, 40000, 443, 1, 0, k_syn, {}));
    EXPECT_EQ(sink.count(web_uplink), 0u);
    EXPECT_EQ(counters(db_port).drop_unknown_dest, 1u);
    // IPv6 to the gateway's MAC does not go out either.
    IpAddr v6 = ip("2001:db8::7");
    Endpoint ll { web.mac, ip("fe80::5054:ff:fe00:1") };
    sink.clear();
    send(web_port, tcp_frame(ll, Endpoint { k_gateway_mac, v6 }, 40000, 443, 1, 0, k_syn, {}));
    EXPECT_EQ(sink.count(web_uplink), 0u);
}

TEST_F(UplinkTest, NothingIsOpenedFromOutside)
{
    EXPECT_FALSE(in(server, 5555, k_syn, {}, nullptr, 22)) << "a new flow from outside";
    EXPECT_FALSE(in(server, 443, k_ack | k_psh, "x")) << "data for a flow nobody opened";
    sink.clear();
    send(web_uplink, icmp_echo_frame(Endpoint { k_passt_mac, server }, web, false, 3, 1));
    EXPECT_EQ(sink.count(web_port), 0u) << "an echo request from outside";
    EXPECT_EQ(counters(web_uplink).drop_policy, 3u);
}

TEST_F(UplinkTest, AnUplinkCannotPoseAsAGuestOrReachAnother)
{
    ASSERT_TRUE(out(server, 443, k_syn));
    IpAddr neighbour = db.ip;
    EXPECT_FALSE(in(server, 443, k_syn | k_ack, {}, &neighbour)) << "to another guest";
    EXPECT_FALSE(in(db.ip, 443, k_syn | k_ack)) << "from a guest's address";
    EXPECT_FALSE(in(ip("10.77.2.10"), 443, k_syn | k_ack)) << "from another segment's address";
    EXPECT_FALSE(in(ip("127.0.0.1"), 443, k_syn | k_ack)) << "from loopback";
    EXPECT_EQ(counters(web_uplink).drop_spoofed, 4u);
    sink.clear();
    MacAddr bcast { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
    send(web_uplink, arp_frame(1, k_passt_mac, server, MacAddr {}, web.ip, bcast));
    EXPECT_EQ(sink.count(web_port) + sink.count(db_port), 0u);
    EXPECT_EQ(counters(web_uplink).drop_not_ip, 1u);
    // Garbage and a runt.
    send(web_uplink, std::vector<uint8_t>(10, 0xab));
    send(web_uplink, std::vector<uint8_t>(60, 0xff));
    EXPECT_EQ(sink.count(web_port), 0u);
    EXPECT_TRUE(in(server, 443, k_syn | k_ack)) << "the real reply still passes";
}

TEST_F(UplinkTest, QuarantineCutsBothDirectionsAtOnce)
{
    ASSERT_TRUE(out(server, 443, k_syn));
    ASSERT_TRUE(in(server, 443, k_syn | k_ack));
    ASSERT_TRUE(sw.set_quarantine(web_port, true).is_ok());
    EXPECT_FALSE(out(server, 443, k_ack));
    EXPECT_FALSE(in(server, 443, k_ack | k_psh, "more"));
    EXPECT_EQ(counters(web_port).drop_quarantine, 1u);
    EXPECT_EQ(counters(web_uplink).drop_quarantine, 1u);
    ASSERT_TRUE(sw.set_quarantine(web_port, false).is_ok());
    EXPECT_TRUE(out(server, 443, k_ack));
    EXPECT_TRUE(in(server, 443, k_ack | k_psh, "more"));
}

TEST_F(UplinkTest, PolicyChangeCutsAnEstablishedOutsideFlow)
{
    ASSERT_TRUE(out(server, 443, k_syn));
    ASSERT_TRUE(in(server, 443, k_syn | k_ack));
    // Only the resolver is left: the https flow stops with its next packet, either way.
    policy("[uplink]\nsegments = [\"lab\"]\n[[allow]]\nfrom = { tier = \"web\" }\noutside = [\"198.51.100.53/32\"]\n"
           "proto = \"udp\"\nports = [53]\n");
    EXPECT_FALSE(in(server, 443, k_ack | k_psh, "late"));
    EXPECT_FALSE(out(server, 443, k_ack));
    // The segment losing its uplink in the policy leaves the port in place but opens nothing.
    policy("[[allow]]\nfrom = { tier = \"web\" }\noutside = [\"0.0.0.0/0\"]\n");
    EXPECT_FALSE(out(server, 443, k_syn, {}, 40001));
}

TEST_F(UplinkTest, IdsInspectsBothDirections)
{
    auto set = ids::load_rules("drop tcp any any -> any 443 (msg:\"exfil\"; content:\"SECRET-DUMP\"; sid:1;)\n"
                               "alert tcp any 443 -> any any (msg:\"payload in\"; content:\"EVIL-PAYLOAD\"; sid:2;)\n",
        ids::default_rule_vars());
    ASSERT_TRUE(set.errors.empty());
    auto engine = ids::Engine::create(std::move(set.rules));
    ASSERT_TRUE(engine.is_ok());
    sw.set_ids(std::shared_ptr<ids::Engine>(engine.release_value()));
    std::vector<std::string> eve;
    sw.set_eve_sink([&](const std::string& line) { eve.push_back(line); });
    ASSERT_TRUE(out(server, 443, k_syn));
    ASSERT_TRUE(in(server, 443, k_syn | k_ack));
    EXPECT_FALSE(out(server, 443, k_ack | k_psh, "xx SECRET-DUMP xx")) << "dropped on its way out";
    EXPECT_EQ(counters(web_port).drop_ids, 1u);
    EXPECT_TRUE(in(server, 443, k_ack | k_psh, "here is EVIL-PAYLOAD")) << "alerted, still delivered";
    std::string all;
    for (const auto& l : eve)
        all += l;
    EXPECT_NE(all.find("\"exfil\""), std::string::npos);
    EXPECT_NE(all.find("\"payload in\""), std::string::npos);
    EXPECT_NE(all.find("web1/uplink"), std::string::npos) << "the inbound alert names the uplink: " << all;
}

TEST_F(UplinkTest, OversizedFramesFromPasstAreFragmentedTowardTheGuest)
{
    sink.clear();
    send(web_port, udp_frame(web, Endpoint { k_gateway_mac, ip("198.51.100.53") }, 5353, 53, bytes("q")));
    ASSERT_EQ(sink.count(web_uplink), 1u);
    std::vector<uint8_t> big(4000);
    for (std::size_t i = 0; i < big.size(); ++i)
        big[i] = static_cast<uint8_t>(i * 7);
    sink.clear();
    send(web_uplink, udp_frame(Endpoint { k_passt_mac, ip("198.51.100.53") }, web, 53, 5353, big));
    ASSERT_GE(sink.count(web_port), 3u);
    std::size_t payload = 0;
    for (const auto& f : sink.got[web_port]) {
        EXPECT_LE(f.size(), 1514u);
        auto d = decode_frame(f);
        ASSERT_TRUE(d.packet);
        EXPECT_TRUE(d.packet->is_fragment);
        EXPECT_EQ(d.packet->dst, web.mac);
        payload += f.size() - 14 - 20;
    }
    EXPECT_EQ(payload, 8 + big.size());
}

TEST_F(UplinkTest, RemovingEitherSideUnhooksTheOther)
{
    ASSERT_TRUE(out(server, 443, k_syn));
    sw.remove_port(web_uplink);
    EXPECT_FALSE(out(server, 443, k_ack));
    EXPECT_EQ(counters(web_port).drop_unknown_dest, 1u);
    ASSERT_TRUE(sw.add_uplink(web_uplink, web_port, "web1/uplink").is_ok());
    EXPECT_TRUE(sw.add_uplink(10, web_port, "again").is_error()) << "one uplink per guest port";
    EXPECT_TRUE(sw.add_uplink(11, web_uplink, "of an uplink").is_error());
    EXPECT_TRUE(out(server, 443, k_syn));
    sw.remove_port(web_port);
    sink.clear();
    send(web_uplink, tcp_frame(Endpoint { k_passt_mac, server }, web, 443, 40000, 1, 1, k_syn | k_ack, {}));
    EXPECT_TRUE(sink.got.empty()) << "an uplink whose guest is gone delivers nothing";
    auto status = sw.status();
    EXPECT_TRUE(status["ports"][std::to_string(web_uplink)]["uplink_of"].is_null());
}

TEST_F(UplinkTest, DnsToTheGatewayOnlyWithUplinkDns)
{
    IpAddr gateway = ip("10.77.1.1");
    auto query = [&](uint8_t proto_is_tcp) {
        sink.clear();
        if (proto_is_tcp)
            send(web_port, tcp_frame(web, Endpoint { k_gateway_mac, gateway }, 41000, 53, 1, 0, k_syn, {}));
        else
            send(web_port, udp_frame(web, Endpoint { k_gateway_mac, gateway }, 41000, 53, bytes("q")));
        return sink.count(web_uplink) == 1;
    };
    auto answer = [&](uint16_t sport) {
        sink.clear();
        send(web_uplink, udp_frame(Endpoint { k_passt_mac, gateway }, web, sport, 41000, bytes("a")));
        return sink.count(web_port) == 1;
    };
    // Off by default: the gateway answers ARP and DHCP only, and nothing from the gateway's
    // address comes in.
    EXPECT_FALSE(query(false));
    EXPECT_FALSE(answer(53));

    std::string with_dns = k_policy;
    with_dns.replace(with_dns.find("segments = [\"lab\"]"), 18, "segments = [\"lab\"]\ndns = true");
    policy(with_dns);
    EXPECT_TRUE(query(false));
    EXPECT_TRUE(answer(53)) << "the resolver's answer, forwarded by passt from the gateway's address";
    EXPECT_FALSE(answer(5353)) << "the gateway's address is an outside source for DNS answers only";
    EXPECT_TRUE(query(true)) << "DNS over TCP";
    sink.clear();
    send(web_port, udp_frame(web, Endpoint { k_gateway_mac, gateway }, 41000, 123, bytes("ntp")));
    EXPECT_EQ(sink.count(web_uplink), 0u) << "only port 53 of the gateway";
    sink.clear();
    send(db_port, udp_frame(db, Endpoint { k_gateway_mac, gateway }, 41000, 53, bytes("q")));
    EXPECT_TRUE(sink.got.empty()) << "a guest without an uplink has no resolver there";
    ASSERT_TRUE(sw.set_quarantine(web_port, true).is_ok());
    EXPECT_FALSE(query(false)) << "quarantine cuts DNS too";
    ASSERT_TRUE(sw.set_quarantine(web_port, false).is_ok());

    // DHCP names the gateway as the resolver only with dns = true.
    auto dns_option = [&]() -> std::optional<IpAddr> {
        std::vector<uint8_t> b(240, 0);
        b[0] = 1, b[1] = 1, b[2] = 6;
        std::copy(web.mac.bytes.begin(), web.mac.bytes.end(), b.begin() + 28);
        b[236] = 99, b[237] = 130, b[238] = 83, b[239] = 99;
        b.insert(b.end(), { 53, 1, 1, 255 });
        sink.clear();
        send(web_port,
            udp_frame(Endpoint { web.mac, ip("0.0.0.0") },
                Endpoint { MacAddr { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } }, ip("255.255.255.255") }, 68, 67, b));
        EXPECT_EQ(sink.count(web_port), 1u);
        auto offer = decode_frame(sink.got[web_port].at(0));
        std::span<const uint8_t> options = offer.packet->payload.subspan(240);
        for (std::size_t i = 0; i + 1 < options.size() && options[i] != 255;) {
            if (options[i] == 0) {
                ++i;
                continue;
            }
            if (options[i] == 6 && options[i + 1] >= 4) {
                IpAddr a;
                std::copy_n(options.begin() + static_cast<std::ptrdiff_t>(i) + 2, 4, a.bytes.begin());
                return a;
            }
            i += 2 + options[i + 1];
        }
        return std::nullopt;
    };
    EXPECT_EQ(dns_option(), std::optional<IpAddr>(gateway));
    policy(k_policy);
    EXPECT_EQ(dns_option(), std::nullopt);
}
