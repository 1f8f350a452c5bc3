// The switch's fast path (src/net/fast_path.h): a long mixed sequence of frames, policy
// changes, quarantines, expiries and port removals through one switch with the fast path and
// one without, which must agree on every delivery, counter, EVE line and flow; targeted tests
// that the fast path is taken and that each invalidation sends the next frame to the slow
// path; the fast path's structural checks against decode_frame; the flow table's removal
// epoch and accounting.
#include <gtest/gtest.h>
#include <random>

#include "ids/engine.h"
#include "ids/eve.h"
#include "ids/rule_parser.h"
#include "net/fast_path.h"
#include "net/flow.h"
#include "net/frame_builder.h"
#include "net/switch.h"
#include "net/traffic_gen.h"

using namespace bulwark;
using namespace bulwark::net;

namespace {

constexpr uint64_t k_ms = 1000000;
constexpr uint64_t k_sec = 1000 * k_ms;

MacAddr mac(uint8_t last)
{
    return MacAddr { { 0x52, 0x54, 0x00, 0x00, 0x00, last } };
}

IpAddr ip(const char* text)
{
    return *IpAddr::parse(text);
}

const MacAddr k_server_mac { { 0x02, 0, 0, 0, 0, 1 } };

const Endpoint k_web { mac(1), ip("10.77.1.10") };
const Endpoint k_db { mac(2), ip("10.77.1.11") };
const Endpoint k_tool { mac(3), ip("10.77.1.12") };
const Endpoint k_far { mac(4), ip("10.77.2.10") };
const Endpoint k_web2 { mac(5), ip("10.77.1.13") };

const char* k_policy = R"(
[[allow]]
from = { tier = "web" }
to = { tier = "db" }
proto = "tcp"
ports = [5432, "8000-8080"]

[[allow]]
from = { tier = "web" }
to = { tier = "db" }
proto = "udp"

[[allow]]
from = { tier = "web" }
to = { tier = "db" }
proto = "icmp"

[quarantine]
analysis = { role = "forensics" }
)";

// The same, without TCP 8000-8080: cuts the flows to 8080.
const char* k_narrower_policy = R"(
[[allow]]
from = { tier = "web" }
to = { tier = "db" }
proto = "tcp"
ports = [5432]

[[allow]]
from = { tier = "web" }
to = { tier = "db" }
proto = "udp"

[quarantine]
analysis = { role = "forensics" }
)";

SegmentPolicy parse_policy(const char* toml)
{
    auto p = parse_segment_policy(toml, "test.toml");
    EXPECT_TRUE(p.is_ok()) << p.error().message();
    return p.release_value();
}

std::shared_ptr<ids::Engine> alert_engine(const std::string& rules)
{
    auto set = ids::load_rules(rules, ids::default_rule_vars());
    EXPECT_TRUE(set.errors.empty());
    auto engine = ids::Engine::create(std::move(set.rules));
    EXPECT_TRUE(engine.is_ok());
    return std::shared_ptr<ids::Engine>(engine.release_value());
}

struct Recorder : FrameSink {
    std::vector<std::pair<uint32_t, std::vector<uint8_t>>> got;
    void deliver(uint32_t port, std::span<const uint8_t> frame) override
    {
        got.emplace_back(port, std::vector<uint8_t>(frame.begin(), frame.end()));
    }
    std::size_t count(uint32_t port) const
    {
        std::size_t n = 0;
        for (const auto& [p, f] : got)
            n += p == port;
        return n;
    }
};

// A switch with the test's segments, ports and policy, its deliveries and its EVE lines.
struct Rig {
    explicit Rig(bool fast_path, bool ids_enabled = true)
        : sw(sink,
            SwitchOptions { .ids_enabled = ids_enabled, .interface_name = "t0", .wall_offset_ns = 1, .fast_path = fast_path })
    {
        sw.set_eve_sink([this](const std::string& line) { eve.push_back(line); });
        add_segment("lab", "10.77.1.0/24");
        add_segment("other", "10.77.2.0/24");
        add_port(1, "web1", "lab", { { "tier", "web" } }, k_web);
        add_port(2, "db1", "lab", { { "tier", "db" } }, k_db);
        add_port(3, "tool1", "lab", { { "role", "forensics" } }, k_tool);
        add_port(4, "far1", "other", { { "tier", "db" } }, k_far);
        // A rate-limited guest: bursts of 21 frames, 200 a second.
        add_port(5, "web2", "lab", { { "tier", "web" } }, k_web2, 200);
        sw.set_policy(parse_policy(k_policy));
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

    void add_port(
        uint32_t id, const std::string& name, const std::string& segment, Labels labels, const Endpoint& ep, uint64_t max_fps = 0)
    {
        PortConfig p;
        p.id = id;
        p.name = name;
        p.segment = segment;
        p.labels = std::move(labels);
        p.mac = ep.mac;
        p.ip4 = ep.ip;
        p.max_frames_per_second = max_fps;
        p.max_bytes_per_second = 0;
        auto r = sw.add_port(p);
        ASSERT_TRUE(r.is_ok()) << r.error().message();
    }

    uint64_t hits() const
    {
        Json s = sw.status();
        return s["fast_path"].value("hits", uint64_t(0));
    }

    Recorder sink;
    std::vector<std::string> eve;
    Switch sw;
};

// Everything two switches given the same input must agree on, the fast path's own counters
// aside: every delivery (port and bytes, in order), EVE line, counter and flow. Deliveries and
// EVE lines before `seen` were compared already.
void expect_same(const Rig& a, const Rig& b, const std::string& where, std::pair<std::size_t, std::size_t>& seen)
{
    ASSERT_EQ(a.sink.got.size(), b.sink.got.size()) << where;
    for (std::size_t i = seen.first; i < a.sink.got.size(); ++i) {
        ASSERT_EQ(a.sink.got[i].first, b.sink.got[i].first) << where << ": delivery " << i;
        ASSERT_EQ(a.sink.got[i].second, b.sink.got[i].second) << where << ": delivery " << i;
    }
    ASSERT_EQ(a.eve.size(), b.eve.size()) << where;
    for (std::size_t i = seen.second; i < a.eve.size(); ++i)
        ASSERT_EQ(a.eve[i], b.eve[i]) << where;
    seen = { a.sink.got.size(), a.eve.size() };
    Json sa = a.sw.status(), sb = b.sw.status();
    sa.erase("fast_path");
    sb.erase("fast_path");
    ASSERT_EQ(sa, sb) << where;
    ASSERT_EQ(a.sw.flow_count(), b.sw.flow_count()) << where;
}

// Variations of a frame the fast path may have cached, each differing from it in one field that
// decoding, anti-spoofing or connection tracking reads (or in one that none reads).
std::vector<uint8_t> mutate(std::vector<uint8_t> f, std::mt19937& rng)
{
    auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
    if (f.size() < 54) { // garbage or cut short already: a random bit
        if (!f.empty())
            f[pick(static_cast<uint32_t>(f.size()))] ^= static_cast<uint8_t>(1 << pick(8));
        return f;
    }
    switch (pick(18)) {
    case 0: // cut short
        f.resize(14 + pick(static_cast<uint32_t>(f.size() - 14)));
        break;
    case 1: // padding after the datagram, sometimes past the largest frame
        f.resize(f.size() + 1 + pick(pick(2) ? 40 : 1600), static_cast<uint8_t>(rng()));
        break;
    case 2: { // the IPv4 total length
        uint16_t total = static_cast<uint16_t>(pick(2) ? pick(static_cast<uint32_t>(f.size() + 10)) : f.size() - 14 - pick(3));
        f[16] = static_cast<uint8_t>(total >> 8);
        f[17] = static_cast<uint8_t>(total);
        break;
    }
    case 3: // more fragments
        f[20] |= 0x20;
        break;
    case 4: // a fragment offset
        f[21] = static_cast<uint8_t>(1 + pick(255));
        break;
    case 5: // don't fragment, or the reserved bit: neither is looked at
        f[20] |= pick(2) ? 0x40 : 0x80;
        break;
    case 6: // the TCP data offset (or, for UDP, a byte of the payload)
        f[46] = static_cast<uint8_t>(pick(16) << 4);
        break;
    case 7: { // TCP flags
        static const uint8_t k_flags[] = { tcpflag::ack, tcpflag::ack | tcpflag::psh, tcpflag::syn, tcpflag::fin | tcpflag::ack,
            tcpflag::rst, tcpflag::rst | tcpflag::ack, tcpflag::ack | tcpflag::urg, tcpflag::ack | tcpflag::ece, 0,
            tcpflag::syn | tcpflag::ack, tcpflag::ack | tcpflag::psh | tcpflag::cwr };
        if (f.size() > 47)
            f[47] = k_flags[pick(std::size(k_flags))];
        break;
    }
    case 8: { // the UDP length (or, for TCP, the acknowledgement number)
        uint16_t length = static_cast<uint16_t>(pick(2) ? pick(64) : f.size() - 34 - pick(4));
        f[38] = static_cast<uint8_t>(length >> 8);
        f[39] = static_cast<uint8_t>(length);
        break;
    }
    case 9: // version and IHL
        f[14] = std::array<uint8_t, 5> { 0x46, 0x44, 0x4f, 0x65, 0x55 }[pick(5)];
        break;
    case 10: { // an 802.1Q tag
        std::array<uint8_t, 4> tag { 0x81, 0x00, 0x00, static_cast<uint8_t>(pick(4)) };
        f.insert(f.begin() + 12, tag.begin(), tag.end());
        break;
    }
    case 11: // another protocol
        f[23] = std::array<uint8_t, 4> { ipproto::icmp, ipproto::udp, ipproto::tcp, 132 }[pick(4)];
        break;
    case 12: // TOS and TTL: not looked at
        f[15 + 7 * pick(2)] = static_cast<uint8_t>(rng());
        break;
    case 13: // other ports: another flow
        f[34 + pick(4)] ^= static_cast<uint8_t>(1 + pick(255));
        break;
    case 14: // another source address, or another source MAC
        if (pick(2))
            f[29] ^= static_cast<uint8_t>(1 + pick(3));
        else
            f[11] ^= static_cast<uint8_t>(1 + pick(7));
        break;
    case 15: // another destination address or MAC: a neighbour, the gateway, broadcast
        if (pick(2))
            f[33] = std::array<uint8_t, 5> { 10, 11, 12, 255, 1 }[pick(5)];
        else
            std::memcpy(f.data(),
                std::array<MacAddr, 4> {
                    mac(1), mac(3), k_server_mac, MacAddr { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } } }[pick(4)]
                    .bytes.data(),
                6);
        break;
    case 16: // a random bit of the headers
        f[pick(static_cast<uint32_t>(std::min<std::size_t>(f.size(), 60)))] ^= static_cast<uint8_t>(1 << pick(8));
        break;
    default: // ethertype
        f[12] = 0x86;
        f[13] = pick(2) ? 0xdd : 0x00;
        break;
    }
    return f;
}

// Sends the same frame, tick or change to both rigs, and checks after each that they agree.
class Differential {
public:
    Rig fast { true };
    Rig slow { false };
    uint64_t now = 1000 * k_sec;

    void send(uint32_t port, const std::vector<uint8_t>& frame)
    {
        fast.sw.receive(port, frame, now);
        slow.sw.receive(port, frame, now);
        ++m_step;
        if (m_step % 64 == 0 || ::testing::Test::HasFailure())
            check("frame");
    }
    void tick()
    {
        fast.sw.tick(now);
        slow.sw.tick(now);
        check("tick");
    }
    template <typename F> void both(F&& change, const char* what)
    {
        change(fast.sw);
        change(slow.sw);
        check(what);
    }
    void check(const std::string& what) { expect_same(fast, slow, what + " at step " + std::to_string(m_step), m_seen); }

private:
    uint64_t m_step = 0;
    std::pair<std::size_t, std::size_t> m_seen;
};

struct Conn {
    uint32_t client_port;
    uint32_t server_port;
    std::unique_ptr<TcpConnection> tcp;
    std::vector<uint8_t> last_client, last_server;
};

} // namespace

TEST(FastPath, AgreesWithTheSlowPathOverALongMixedSequence)
{
    Differential d;
    std::mt19937 rng(20261125);
    auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
    auto payload = [&](std::size_t max) {
        std::vector<uint8_t> p(pick(static_cast<uint32_t>(max + 1)));
        for (auto& b : p)
            b = static_cast<uint8_t>('a' + pick(26));
        return p;
    };
    struct Guest {
        uint32_t port;
        Endpoint ep;
    };
    const Guest guests[] = { { 1, k_web }, { 2, k_db }, { 3, k_tool }, { 5, k_web2 }, { 4, k_far } };
    std::vector<Conn> conns;
    std::vector<std::pair<uint32_t, std::vector<uint8_t>>> recent; // frames sent, for mutation
    auto send = [&](uint32_t port, std::vector<uint8_t> frame) {
        d.send(port, frame);
        recent.emplace_back(port, std::move(frame));
        if (recent.size() > 64)
            recent.erase(recent.begin());
    };
    static const uint16_t k_server_ports[] = { 5432, 8080, 8000, 22, 5432, 8080 };
    uint16_t next_client_port = 30000;

    const int k_steps = 30000;
    for (int step = 0; step < k_steps; ++step) {
        d.now += pick(3) * k_ms / 2 + 1000;
        // The scripted events, at fixed points of the stream.
        if (step == 8000)
            d.both([](Switch& sw) { sw.set_policy(parse_policy(k_narrower_policy)); }, "narrower policy");
        if (step == 11000)
            d.both([](Switch& sw) { ASSERT_TRUE(sw.set_quarantine(2, true).is_ok()); }, "quarantine db1");
        if (step == 12000)
            d.both([](Switch& sw) { ASSERT_TRUE(sw.set_quarantine(2, false).is_ok()); }, "release db1");
        if (step == 14000) {
            d.now += 61 * k_sec; // UDP flows time out, TCP ones do not
            d.tick();
        }
        if (step == 16000)
            d.both([](Switch& sw) { sw.set_policy(parse_policy(k_policy)); }, "wider policy");
        if (step == 19000) {
            auto engine = alert_engine("alert tcp any any -> any any (msg:\"m\"; content:\"q\"; sid:1;)\n");
            d.both([&](Switch& sw) { sw.set_ids(engine); }, "IDS on");
        }
        if (step == 20000)
            d.both([](Switch& sw) { sw.set_ids(nullptr); }, "IDS off");
        if (step == 22000) {
            d.now += 3601 * k_sec; // every flow times out
            d.tick();
        }
        if (step == 25000)
            d.both([](Switch& sw) { sw.remove_port(5); }, "remove web2");
        if (step == 27000)
            d.both([](Switch& sw) { sw.remove_port(2); }, "remove db1");
        if (step % 997 == 0)
            d.tick();

        uint32_t action = pick(100);
        if (action < 45 && !conns.empty()) {
            // Data or a bare ACK on a connection, either way.
            Conn& c = conns[pick(static_cast<uint32_t>(conns.size()))];
            bool from_client = pick(3) != 0;
            std::vector<uint8_t> f;
            if (pick(5) == 0)
                f = from_client ? c.tcp->ack()
                                : tcp_frame(c.tcp->server(), c.tcp->client(), c.tcp->server_port(), c.tcp->client_port(), 1,
                                    c.tcp->client_seq(), tcpflag::ack, {});
            else
                f = from_client ? c.tcp->client_data(payload(60)) : c.tcp->server_data(payload(60));
            send(from_client ? c.client_port : c.server_port, f);
        } else if (action < 52) {
            // A new connection: web or web2 to db on allowed and denied ports, db to web
            // (denied), tool to db (no rule), and one across segments.
            static const std::pair<int, int> k_pairs[] = { { 0, 1 }, { 0, 1 }, { 3, 1 }, { 1, 0 }, { 2, 1 }, { 0, 4 } };
            auto [ci, si] = k_pairs[pick(std::size(k_pairs))];
            Conn c { guests[ci].port, guests[si].port,
                std::make_unique<TcpConnection>(guests[ci].ep, guests[si].ep, next_client_port++,
                    k_server_ports[pick(std::size(k_server_ports))], static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())),
                {}, {} };
            send(c.client_port, c.tcp->syn());
            send(c.server_port, c.tcp->syn_ack());
            send(c.client_port, c.tcp->ack());
            conns.push_back(std::move(c));
            if (conns.size() > 24)
                conns.erase(conns.begin());
        } else if (action < 55 && !conns.empty()) {
            // The end of a connection: FINs both ways, or a RST from either side.
            std::size_t i = pick(static_cast<uint32_t>(conns.size()));
            Conn& c = conns[i];
            if (pick(2)) {
                send(c.client_port, c.tcp->client_fin());
                send(c.server_port, c.tcp->server_fin());
                send(c.client_port, c.tcp->ack());
            } else if (pick(2)) {
                send(c.client_port,
                    tcp_frame(c.tcp->client(), c.tcp->server(), c.tcp->client_port(), c.tcp->server_port(), c.tcp->client_seq(),
                        0, tcpflag::rst, {}));
            } else {
                send(c.server_port,
                    tcp_frame(c.tcp->server(), c.tcp->client(), c.tcp->server_port(), c.tcp->client_port(), 7,
                        c.tcp->client_seq(), tcpflag::rst | tcpflag::ack, {}));
            }
            // Sometimes the connection goes on regardless (data after the end).
            if (pick(3))
                conns.erase(conns.begin() + static_cast<std::ptrdiff_t>(i));
        } else if (action < 67) {
            // UDP over a few port pairs, so flows recur: requests (allowed or not) and replies.
            const Guest& a = guests[pick(2) ? 0 : pick(5)];
            const Guest& b = guests[pick(2) ? 1 : pick(5)];
            uint16_t sport = static_cast<uint16_t>(40000 + pick(6));
            uint16_t dport = static_cast<uint16_t>(53 + pick(3));
            if (pick(3) == 0)
                send(b.port, udp_frame(b.ep, a.ep, dport, sport, payload(40)));
            else
                send(a.port, udp_frame(a.ep, b.ep, sport, dport, payload(40)));
        } else if (action < 85 && !recent.empty()) {
            // A frame like a recent one but for one field.
            auto& [port, frame] = recent[pick(static_cast<uint32_t>(recent.size()))];
            send(port, mutate(frame, rng));
        } else if (action < 88) {
            // Garbage, short and long.
            std::vector<uint8_t> g(pick(2) ? pick(80) : 1500 + pick(100));
            for (auto& b : g)
                b = static_cast<uint8_t>(rng());
            send(guests[pick(5)].port, g);
        } else if (action < 91) {
            // A spoofed copy of a recent frame: sent from another guest's port.
            if (!recent.empty()) {
                auto& [port, frame] = recent[pick(static_cast<uint32_t>(recent.size()))];
                send(guests[pick(5)].port, frame);
            }
        } else if (action < 94) {
            // A ping and its reply.
            uint16_t id = static_cast<uint16_t>(pick(4));
            send(1, icmp_echo_frame(k_web, k_db, false, id, static_cast<uint16_t>(step)));
            send(2, icmp_echo_frame(k_db, k_web, true, id, static_cast<uint16_t>(step)));
        } else if (action < 96) {
            // Fragments of a UDP datagram (whole, or only its first part).
            std::vector<uint8_t> data = payload(300);
            data.resize(std::max<std::size_t>(data.size(), 40));
            auto udp = udp_segment(k_web.ip, k_db.ip, 40001, 53, data);
            std::span<const uint8_t> all(udp);
            uint16_t id = static_cast<uint16_t>(rng());
            send(1,
                ethernet_frame(k_web.mac, k_db.mac, ethertype::ipv4,
                    ipv4_packet(
                        k_web.ip, k_db.ip, ipproto::udp, all.first(24), Ipv4Fields { .id = id, .more_fragments = true })));
            if (pick(2))
                send(1,
                    ethernet_frame(k_web.mac, k_db.mac, ethertype::ipv4,
                        ipv4_packet(
                            k_web.ip, k_db.ip, ipproto::udp, all.subspan(24), Ipv4Fields { .id = id, .frag_offset = 24 })));
        } else {
            // A burst on one connection within one millisecond: the rate limit, and the same
            // timestamp for many packets of a flow.
            if (!conns.empty()) {
                Conn& c = conns[pick(static_cast<uint32_t>(conns.size()))];
                for (int i = 0; i < 30; ++i)
                    send(c.client_port, c.tcp->client_data(payload(20)));
            }
        }
        if (HasFailure())
            return;
    }
    d.now += 7200 * k_sec;
    d.tick();
    d.check("the end");
    // The fast path did the bulk of the work it could, and the comparison was not vacuous.
    uint64_t hits = d.fast.hits();
    EXPECT_GT(hits, 5000u);
    EXPECT_EQ(d.slow.hits(), 0u);
    EXPECT_FALSE(d.slow.sw.status()["fast_path"]["enabled"].get<bool>());
    uint64_t dropped = 0;
    for (uint32_t port : { 1u, 3u, 4u }) { // 2 and 5 were removed
        const PortCounters* c = d.slow.sw.counters(port);
        ASSERT_NE(c, nullptr);
        dropped += c->drop_malformed + c->drop_spoofed + c->drop_policy + c->drop_quarantine + c->drop_unknown_dest;
    }
    EXPECT_GT(d.slow.sink.got.size(), 10000u);
    EXPECT_GT(dropped, 2000u);
    EXPECT_GT(d.slow.eve.size(), 100u);
    RecordProperty("fast_path_hits", std::to_string(hits));
    RecordProperty("deliveries", std::to_string(d.slow.sink.got.size()));
    RecordProperty("drops", std::to_string(dropped));
    RecordProperty("eve_lines", std::to_string(d.slow.eve.size()));
}

class FastPathTest : public ::testing::Test {
public: // for the invalidation causes below
    void send(uint32_t port, const std::vector<uint8_t>& frame) { rig.sw.receive(port, frame, now += k_ms); }

    // web1 → db1 on 5432, established.
    TcpConnection open()
    {
        TcpConnection c(k_web, k_db, 40000 + m_next++, 5432, 1000, 900000);
        send(1, c.syn());
        send(2, c.syn_ack());
        send(1, c.ack());
        return c;
    }
    std::vector<uint8_t> data(const char* text = "select 1") { return std::vector<uint8_t>(text, text + std::strlen(text)); }

    Rig rig { true };
    uint64_t now = 1000 * k_sec;

private:
    uint16_t m_next = 0;
};

TEST_F(FastPathTest, EstablishedTcpTakesItAndIsCountedAsByTheSlowPath)
{
    auto c = open();
    EXPECT_EQ(rig.hits(), 0u) << "the handshake takes the slow path";
    for (int i = 0; i < 10; ++i)
        send(1, c.client_data(data()));
    EXPECT_EQ(rig.hits(), 10u) << "the handshake's last ACK taught the fast path the client's direction";
    send(2, c.server_data(data("row")));
    send(2, c.server_data(data("row")));
    EXPECT_EQ(rig.hits(), 11u) << "the server's first segment takes the slow path, its second the fast one";
    EXPECT_EQ(rig.sink.count(2), 12u);
    EXPECT_EQ(rig.sink.count(1), 3u);
    EXPECT_EQ(rig.sw.counters(1)->rx_frames, 12u);
    EXPECT_EQ(rig.sw.counters(2)->tx_frames, 12u);
    EXPECT_EQ(rig.sw.counters(2)->tx_bytes, rig.sw.counters(1)->rx_bytes);
    // The flow record counts every packet, whichever path carried it, and ends when the last
    // packet (a fast one) was seen.
    uint64_t last = now;
    now += 7200 * k_sec;
    rig.sw.tick(now);
    ASSERT_EQ(rig.eve.size(), 1u);
    Json record = parse_json(rig.eve[0]).release_value();
    EXPECT_EQ(record["flow"]["pkts_toserver"], 12);
    EXPECT_EQ(record["flow"]["pkts_toclient"], 3);
    EXPECT_EQ(record["flow"]["end"], Json(ids::eve_timestamp(int64_t((last + 1) / 1000)))) << rig.eve[0];
}

TEST_F(FastPathTest, SynFinAndRstAlwaysTakeTheSlowPath)
{
    auto c = open();
    send(1, c.client_data(data()));
    ASSERT_EQ(rig.hits(), 1u);
    send(1, c.client_fin());
    EXPECT_EQ(rig.hits(), 1u);
    // The flow is closing now: its ACKs go on through the slow path, which keeps its state.
    send(2, c.server_data(data("bye")));
    send(1, c.ack());
    EXPECT_EQ(rig.hits(), 1u);
    EXPECT_EQ(rig.sink.count(2), 5u);

    auto d = open();
    send(1, d.client_data(data()));
    ASSERT_EQ(rig.hits(), 2u);
    send(1, tcp_frame(k_web, k_db, d.client_port(), 5432, d.client_seq(), 0, tcpflag::rst | tcpflag::ack, {}));
    send(1, d.client_data(data()));
    EXPECT_EQ(rig.hits(), 2u) << "after a RST the flow is closed: no fast path";
    // A SYN on the ports of a live flow, and URG or no flags at all: the slow path.
    send(1, tcp_frame(k_web, k_db, d.client_port(), 5432, 1, 0, tcpflag::syn, {}));
    auto e = open();
    send(1, tcp_frame(k_web, k_db, e.client_port(), 5432, e.client_seq(), 1, tcpflag::ack | tcpflag::urg, data()));
    send(1, tcp_frame(k_web, k_db, e.client_port(), 5432, e.client_seq(), 1, 0, data()));
    EXPECT_EQ(rig.hits(), 2u);
}

TEST_F(FastPathTest, UdpTakesItOnceTheFlowCannotChange)
{
    auto request = [&] { send(1, udp_frame(k_web, k_db, 5000, 53, data("q"))); };
    auto reply = [&] { send(2, udp_frame(k_db, k_web, 53, 5000, data("a"))); };
    request();
    request();
    EXPECT_EQ(rig.hits(), 1u);
    reply(); // makes the flow established: the slow path
    EXPECT_EQ(rig.hits(), 1u);
    reply();
    request();
    EXPECT_EQ(rig.hits(), 3u);
    EXPECT_EQ(rig.sink.count(2), 3u);
    EXPECT_EQ(rig.sink.count(1), 2u);
    // A denied flow is never learnt.
    send(2, udp_frame(k_db, k_web, 6000, 53, data("q")));
    send(2, udp_frame(k_db, k_web, 6000, 53, data("q")));
    EXPECT_EQ(rig.hits(), 3u);
    EXPECT_EQ(rig.sw.counters(2)->drop_policy, 2u);
}

// Each change the fast path's decision depends on: the first frame after it takes the slow
// path, which re-learns the flow (when it still forwards it) for the next.
TEST_F(FastPathTest, EachInvalidationSendsTheNextFrameToTheSlowPath)
{
    struct Cause {
        const char* name;
        std::function<void(FastPathTest&)> apply;
    };
    const Cause causes[] = {
        { "the same policy again", [](FastPathTest& t) { t.rig.sw.set_policy(parse_policy(k_policy)); } },
        { "an unrelated guest quarantined", [](FastPathTest& t) { ASSERT_TRUE(t.rig.sw.set_quarantine(3, true).is_ok()); } },
        { "an unrelated guest released", [](FastPathTest& t) { ASSERT_TRUE(t.rig.sw.set_quarantine(3, false).is_ok()); } },
        { "a port added",
            [](FastPathTest& t) {
                t.rig.add_port(9, "new1", "lab", {}, Endpoint { mac(9), ip("10.77.1.99") });
            } },
        { "a port removed", [](FastPathTest& t) { t.rig.sw.remove_port(9); } },
        { "another flow expired",
            [](FastPathTest& t) {
                t.send(1, udp_frame(k_web, k_db, 7000, 53, t.data("q")));
                t.now += 61 * k_sec;
                std::size_t flows = t.rig.sw.flow_count();
                t.rig.sw.tick(t.now);
                ASSERT_EQ(t.rig.sw.flow_count(), flows - 1);
            } },
        { "IDS rules loaded and removed",
            [](FastPathTest& t) {
                t.rig.sw.set_ids(alert_engine("alert udp any any -> any any (msg:\"x\"; content:\"zz\"; sid:9;)\n"));
                t.rig.sw.set_ids(nullptr);
            } },
        { "a segment's addressing", [](FastPathTest& t) { t.rig.add_segment("lab", "10.77.1.0/24"); } },
    };
    auto c = open();
    send(1, c.client_data(data()));
    ASSERT_EQ(rig.hits(), 1u);
    for (const auto& cause : causes) {
        SCOPED_TRACE(cause.name);
        uint64_t hits = rig.hits();
        send(1, c.client_data(data()));
        ASSERT_EQ(rig.hits(), hits + 1) << "the flow was not in the fast path before";
        cause.apply(*this);
        std::size_t delivered = rig.sink.count(2);
        send(1, c.client_data(data()));
        EXPECT_EQ(rig.hits(), hits + 1) << "the frame after the change took the fast path";
        send(1, c.client_data(data()));
        EXPECT_EQ(rig.hits(), hits + 2) << "the slow path did not teach the fast path again";
        EXPECT_EQ(rig.sink.count(2), delivered + 2);
    }
}

TEST_F(FastPathTest, ChangesThatStopAFlowStopItAtOnce)
{
    auto c = open();
    auto d = TcpConnection(k_web, k_db, 41000, 8080, 1, 2);
    send(1, d.syn());
    send(2, d.syn_ack());
    send(1, d.ack());
    send(1, c.client_data(data()));
    send(1, d.client_data(data()));
    ASSERT_EQ(rig.hits(), 2u);
    // The new policy no longer allows 8080.
    rig.sw.set_policy(parse_policy(k_narrower_policy));
    std::size_t delivered = rig.sink.count(2);
    send(1, d.client_data(data()));
    send(1, d.client_data(data()));
    send(1, c.client_data(data()));
    send(1, c.client_data(data()));
    EXPECT_EQ(rig.sink.count(2), delivered + 2);
    EXPECT_EQ(rig.sw.counters(1)->drop_policy, 2u);
    EXPECT_EQ(rig.hits(), 3u);
    // Quarantine: cut at once, both ways.
    ASSERT_TRUE(rig.sw.set_quarantine(2, true).is_ok());
    send(1, c.client_data(data()));
    send(2, c.server_data(data()));
    EXPECT_EQ(rig.sink.count(2), delivered + 2);
    EXPECT_EQ(rig.sw.counters(1)->drop_quarantine, 1u);
    EXPECT_EQ(rig.sw.counters(2)->drop_quarantine, 1u);
    ASSERT_TRUE(rig.sw.set_quarantine(2, false).is_ok());
    // The receiving guest goes away: its MAC is unknown from then on.
    send(1, c.client_data(data()));
    send(1, c.client_data(data()));
    rig.sw.remove_port(2);
    send(1, c.client_data(data()));
    EXPECT_EQ(rig.sw.counters(1)->drop_unknown_dest, 1u);
}

TEST_F(FastPathTest, TheIdsSeesEveryPacketWhileItHasRules)
{
    rig.sw.set_ids(alert_engine("alert tcp any any -> any 5432 (msg:\"marker\"; content:\"MARK\"; sid:7;)\n"));
    auto c = open();
    for (int i = 0; i < 5; ++i)
        send(1, c.client_data(data("MARK")));
    EXPECT_EQ(rig.hits(), 0u);
    EXPECT_EQ(rig.sw.status()["ids_alerts"], 5);
    rig.sw.set_ids(nullptr);
    send(1, c.client_data(data("MARK")));
    send(1, c.client_data(data("MARK")));
    EXPECT_EQ(rig.hits(), 1u);
    EXPECT_EQ(rig.sw.status()["ids_alerts"], 5);
}

TEST(FastPath, WithTheIdsDisabledRulesDoNotStopIt)
{
    Rig rig(true, false);
    rig.sw.set_ids(alert_engine("alert tcp any any -> any 5432 (msg:\"marker\"; content:\"MARK\"; sid:7;)\n"));
    uint64_t now = 1000 * k_sec;
    TcpConnection c(k_web, k_db, 40000, 5432);
    rig.sw.receive(1, c.syn(), now += k_ms);
    rig.sw.receive(2, c.syn_ack(), now += k_ms);
    rig.sw.receive(1, c.ack(), now += k_ms);
    std::vector<uint8_t> mark { 'M', 'A', 'R', 'K' };
    rig.sw.receive(1, c.client_data(mark), now += k_ms);
    EXPECT_EQ(rig.hits(), 1u);
    EXPECT_EQ(rig.sw.status()["ids_alerts"], 0);
}

TEST(FastPath, TheRateLimitStillApplies)
{
    Rig fast(true), slow(false);
    uint64_t now = 1000 * k_sec;
    TcpConnection a(k_web2, k_db, 40000, 5432), b(k_web2, k_db, 40000, 5432);
    for (auto* pair : { &a, &b }) {
        Rig& rig = pair == &a ? fast : slow;
        uint64_t t = now;
        rig.sw.receive(5, pair->syn(), t += k_ms);
        rig.sw.receive(2, pair->syn_ack(), t += k_ms);
        rig.sw.receive(5, pair->ack(), t += k_ms);
        // 200 frames within 2 ms: the burst (21 frames, 3 of them the handshake's) passes.
        for (int i = 0; i < 200; ++i)
            rig.sw.receive(5, pair->client_data(std::vector<uint8_t>(10, 'x')), t + uint64_t(i) * 10000);
    }
    EXPECT_GT(fast.hits(), 10u);
    EXPECT_EQ(fast.sw.counters(5)->drop_rate, slow.sw.counters(5)->drop_rate);
    EXPECT_GT(fast.sw.counters(5)->drop_rate, 150u);
    EXPECT_EQ(fast.sw.counters(2)->tx_frames, slow.sw.counters(2)->tx_frames);
}

// The structural checks are those of decode_frame for the fast path's shape: every frame they
// accept decodes, as IPv4 with a 20-byte header, unfragmented, untagged, TCP (ACK or PSH+ACK)
// or UDP; and every frame that decodes so passes them.
TEST(FastPath, ShapeChecksAreExactlyThoseOfDecoding)
{
    std::mt19937 rng(7);
    std::vector<std::vector<uint8_t>> bases = {
        tcp_frame(k_web, k_db, 40000, 5432, 1, 2, tcpflag::ack | tcpflag::psh, std::vector<uint8_t>(10, 'x')),
        tcp_frame(k_web, k_db, 40000, 5432, 1, 2, tcpflag::ack, {}),
        udp_frame(k_web, k_db, 5000, 53, std::vector<uint8_t>(20, 'y')),
        udp_frame(k_web, k_db, 5000, 53, {}),
        tcp_frame(k_web, k_db, 40000, 5432, 1, 2, tcpflag::ack, std::vector<uint8_t>(1460, 'z')),
    };
    int accepted = 0, rejected = 0;
    for (int i = 0; i < 200000; ++i) {
        std::vector<uint8_t> f = bases[rng() % bases.size()];
        for (uint32_t n = 1 + rng() % 3; n > 0; --n)
            f = mutate(f, rng);
        auto d = decode_frame(f);
        bool shape = d.packet && d.packet->l3 == L3::Ipv4 && !d.packet->vlan && !d.packet->is_fragment
            && d.packet->ip_header.size() == 20
            && ((d.packet->l4 == L4::Tcp
                    && (d.packet->tcp_flags == tcpflag::ack || d.packet->tcp_flags == (tcpflag::ack | tcpflag::psh)))
                || d.packet->l4 == L4::Udp);
        ASSERT_EQ(FastPath::frame_shape_ok(f), shape) << "mutation " << i;
        (shape ? accepted : rejected)++;
    }
    EXPECT_GT(accepted, 10000);
    EXPECT_GT(rejected, 10000);
}

TEST(FastPath, ExactlyTheFramesTheSlowPathWouldDecode)
{
    // A frame of the largest size decodes and is accepted; one byte more is too long.
    auto big = tcp_frame(k_web, k_db, 1, 2, 1, 2, tcpflag::ack, std::vector<uint8_t>(1464, 'x'));
    ASSERT_EQ(big.size(), k_max_frame);
    EXPECT_TRUE(FastPath::frame_shape_ok(big));
    big.push_back(0);
    EXPECT_FALSE(FastPath::frame_shape_ok(big));
    EXPECT_FALSE(decode_frame(big).packet);
}

TEST(FlowTableEpoch, EveryRemovalBumpsIt)
{
    FlowLimits limits;
    limits.max_flows = 2;
    FlowTable table(limits);
    uint64_t t = k_sec;
    auto udp = [&](uint16_t port) {
        auto f = udp_frame(k_web, k_db, port, 53, {});
        auto p = decode_frame(f);
        return table.track(*p.packet, t += k_ms).flow->id;
    };
    udp(1);
    udp(2);
    uint64_t e0 = table.removal_epoch();
    udp(3); // evicts
    EXPECT_GT(table.removal_epoch(), e0);
    uint64_t e1 = table.removal_epoch();
    // A SYN on a closed connection's ports replaces it.
    auto rst = tcp_frame(k_web, k_db, 9, 80, 1, 0, tcpflag::rst, {});
    auto syn = tcp_frame(k_web, k_db, 9, 80, 1, 0, tcpflag::syn, {});
    table.track(*decode_frame(rst).packet, t += k_ms);
    uint64_t e2 = table.removal_epoch();
    EXPECT_GT(e2, e1); // the RST's flow evicted another
    table.track(*decode_frame(syn).packet, t += k_ms);
    EXPECT_GT(table.removal_epoch(), e2);
    uint64_t e3 = table.removal_epoch();
    Flow* flow = table.find(FlowKey::from_packet(*decode_frame(syn).packet));
    ASSERT_NE(flow, nullptr);
    table.remove(flow);
    EXPECT_GT(table.removal_epoch(), e3);
    uint64_t e4 = table.removal_epoch();
    table.expire(t + 3600 * k_sec, [](Flow&, FlowEnd) {});
    EXPECT_GT(table.removal_epoch(), e4);
    EXPECT_EQ(table.size(), 0u);
}

TEST(FlowTableEpoch, AccountIsWhatTrackDoesForAStatelessPacket)
{
    FlowTable table;
    auto a = udp_frame(k_web, k_db, 1, 53, std::vector<uint8_t>(5, 'a'));
    auto b = udp_frame(k_web, k_db, 2, 53, {});
    auto pa = decode_frame(a), pb = decode_frame(b);
    Flow* fa = table.track(*pa.packet, 1 * k_sec).flow;
    table.track(*pb.packet, 1 * k_sec);
    FlowTable::Entry* entry = table.entry_of(*fa);
    ASSERT_NE(entry, nullptr);
    // Seen again later: a moves behind b in the expiry order, so b times out first.
    table.account(*entry, true, a.size(), 2 * k_sec);
    EXPECT_EQ(fa->packets_to_server, 2u);
    EXPECT_EQ(fa->bytes_to_server, 2 * a.size());
    EXPECT_EQ(fa->last_ns, 2 * k_sec);
    std::vector<uint16_t> ended;
    table.expire(61 * k_sec + k_sec / 2, [&](Flow& f, FlowEnd) { ended.push_back(f.client_port); });
    EXPECT_EQ(ended, std::vector<uint16_t> { 2 });
    table.expire(62 * k_sec, [&](Flow& f, FlowEnd) { ended.push_back(f.client_port); });
    EXPECT_EQ(ended, (std::vector<uint16_t> { 2, 1 }));
}
