// Connection tracking (src/net/flow.h): keys normalised across directions, the TCP state
// machine, UDP and ICMP replies, per-state timeouts through expire(), eviction when full,
// port reuse after close, and what is not tracked.
#include <gtest/gtest.h>
#include <set>

#include "net/flow.h"
#include "net_frames.h"

namespace bulwark::net {
namespace {

using namespace test;

constexpr uint64_t k_sec = 1000ULL * 1000 * 1000;

const Endpoint& k_client = k_host_a;
const Endpoint& k_server = k_host_b;

struct Frames {
    std::vector<Bytes> keep; // the packets borrow these bytes
    Packet tcp(bool from_client, uint8_t flags, uint16_t client_port = 40000, const Bytes& payload = {})
    {
        auto frame = from_client ? tcp_frame(k_client, k_server, client_port, 80, 1, 0, flags, payload)
                                 : tcp_frame(k_server, k_client, 80, client_port, 1, 0, flags, payload);
        keep.push_back(frame);
        return decode_ok(keep.back());
    }
    Packet frame(const Bytes& bytes)
    {
        keep.push_back(bytes);
        return decode_ok(keep.back());
    }
};

std::vector<std::pair<uint64_t, FlowEnd>> expire_all(FlowTable& table, uint64_t now)
{
    std::vector<std::pair<uint64_t, FlowEnd>> ended;
    table.expire(now, [&](Flow& f, FlowEnd why) { ended.emplace_back(f.id, why); });
    return ended;
}

TEST(NetFlow, KeyIsTheSameBothWays)
{
    Frames f;
    auto a = FlowKey::from_packet(f.tcp(true, tcpflag::syn));
    auto b = FlowKey::from_packet(f.tcp(false, tcpflag::syn | tcpflag::ack));
    EXPECT_EQ(a, b);
    EXPECT_EQ(a.lo_ip, ip("10.0.0.1"));
    EXPECT_EQ(a.proto, ipproto::tcp);
    EXPECT_FALSE(a == FlowKey::from_packet(f.tcp(true, tcpflag::syn, 40001)));
}

TEST(NetFlow, TcpHandshakeAndClose)
{
    FlowTable table;
    Frames f;
    auto t1 = table.track(f.tcp(true, tcpflag::syn), 1 * k_sec);
    ASSERT_TRUE(t1.flow);
    EXPECT_TRUE(t1.is_new);
    EXPECT_TRUE(t1.to_server);
    Flow* flow = t1.flow;
    EXPECT_NE(flow->id, 0u);
    EXPECT_EQ(flow->state, FlowState::SynSent);
    EXPECT_EQ(flow->client_ip, ip("10.0.0.1"));
    EXPECT_EQ(flow->client_port, 40000);
    EXPECT_EQ(flow->server_port, 80);
    EXPECT_EQ(flow->verdict, 0);
    EXPECT_EQ(flow->tag, 0u);

    auto t2 = table.track(f.tcp(false, tcpflag::syn | tcpflag::ack), 2 * k_sec);
    EXPECT_EQ(t2.flow, flow);
    EXPECT_FALSE(t2.is_new);
    EXPECT_FALSE(t2.to_server);
    EXPECT_EQ(flow->state, FlowState::SynRecv);
    table.track(f.tcp(true, tcpflag::ack), 3 * k_sec);
    EXPECT_EQ(flow->state, FlowState::Established);
    table.track(f.tcp(true, tcpflag::ack | tcpflag::psh, 40000, bytes_of("GET /")), 4 * k_sec);
    table.track(f.tcp(true, tcpflag::fin | tcpflag::ack), 5 * k_sec);
    EXPECT_EQ(flow->state, FlowState::Closing);
    table.track(f.tcp(false, tcpflag::fin | tcpflag::ack), 6 * k_sec);
    EXPECT_EQ(flow->state, FlowState::Closed);

    EXPECT_EQ(flow->packets_to_server, 4u);
    EXPECT_EQ(flow->packets_to_client, 2u);
    EXPECT_EQ(flow->bytes_to_server, 4 * 54u + 5);
    EXPECT_EQ(flow->first_ns, 1 * k_sec);
    EXPECT_EQ(flow->last_ns, 6 * k_sec);
    EXPECT_EQ(table.size(), 1u);
    EXPECT_EQ(table.counters().created, 1u);
}

TEST(NetFlow, RstClosesAndMidStreamPickup)
{
    FlowTable table;
    Frames f;
    auto t = table.track(f.tcp(false, tcpflag::ack | tcpflag::psh, 40000, bytes_of("data")), 0);
    ASSERT_TRUE(t.flow);
    EXPECT_EQ(t.flow->state, FlowState::Established);
    // Picked up mid-stream, the first packet's source counts as the client.
    EXPECT_EQ(t.flow->client_port, 80);
    table.track(f.tcp(true, tcpflag::rst), 1);
    EXPECT_EQ(t.flow->state, FlowState::Closed);
}

TEST(NetFlow, UdpAndIcmpBecomeEstablishedOnReply)
{
    FlowTable table;
    Frames f;
    auto q = table.track(f.frame(udp_frame(k_client, k_server, 5353, 53, bytes_of("q"))), 0);
    ASSERT_TRUE(q.flow);
    EXPECT_EQ(q.flow->state, FlowState::New);
    table.track(f.frame(udp_frame(k_client, k_server, 5353, 53, bytes_of("q"))), 1);
    EXPECT_EQ(q.flow->state, FlowState::New);
    auto r = table.track(f.frame(udp_frame(k_server, k_client, 53, 5353, bytes_of("r"))), 2);
    EXPECT_EQ(r.flow, q.flow);
    EXPECT_FALSE(r.to_server);
    EXPECT_EQ(q.flow->state, FlowState::Established);

    auto e1 = table.track(f.frame(icmp_echo_frame(k_client, k_server, false, 0x77, 1)), 3);
    auto e2 = table.track(f.frame(icmp_echo_frame(k_server, k_client, true, 0x77, 1)), 4);
    EXPECT_EQ(e1.flow, e2.flow);
    EXPECT_EQ(e1.flow->state, FlowState::Established);
    EXPECT_EQ(e1.flow->key.lo_port, 0x77);
    // Another identifier is another flow.
    auto e3 = table.track(f.frame(icmp_echo_frame(k_client, k_server, false, 0x78, 1)), 5);
    EXPECT_NE(e3.flow, e1.flow);
    // Other ICMP messages have ports 0.
    auto unreachable_msg = icmp_message(k_server.ip, k_client.ip, 3, 1, (0x77u << 16) | 1, {});
    auto unreachable = table.track(
        f.frame(ethernet_frame(k_server.mac, k_client.mac, ethertype::ipv4, ipv4_packet(k_server.ip, k_client.ip, ipproto::icmp, unreachable_msg))), 6);
    EXPECT_EQ(unreachable.flow->key.lo_port, 0);
    EXPECT_EQ(table.size(), 4u);

    std::set<uint64_t> ids;
    table.for_each([&](Flow& flow) { ids.insert(flow.id); });
    EXPECT_EQ(ids.size(), 4u);
}

TEST(NetFlow, NotTracked)
{
    FlowTable table;
    Frames f;
    EXPECT_FALSE(table.track(f.frame(cat({ eth(0x88b5), Bytes(10, 0) })), 0).flow);
    V4 later;
    later.frag_offset = 8;
    EXPECT_FALSE(table.track(f.frame(cat({ eth(ethertype::ipv4), ipv4(later, Bytes(8, 0)) })), 0).flow);
    EXPECT_EQ(table.size(), 0u);
    EXPECT_EQ(table.counters().untracked, 2u);
}

TEST(NetFlow, TimeoutsPerState)
{
    FlowTable table;
    Frames f;
    auto established = table.track(f.tcp(true, tcpflag::ack, 1000), 0).flow;
    auto handshake = table.track(f.tcp(true, tcpflag::syn, 1001), 0).flow;
    auto closed = table.track(f.tcp(true, tcpflag::rst, 1002), 0).flow;
    auto udp = table.track(f.frame(udp_frame(k_client, k_server, 1, 2, {})), 0).flow;
    auto icmp_flow = table.track(f.frame(icmp_echo_frame(k_client, k_server, false, 1, 1)), 0).flow;
    uint64_t ids[] = { established->id, handshake->id, closed->id, udp->id, icmp_flow->id };
    EXPECT_EQ(table.size(), 5u);

    EXPECT_TRUE(expire_all(table, 29 * k_sec).empty());
    auto at30 = expire_all(table, 30 * k_sec); // TCP closed and ICMP: 30 s
    ASSERT_EQ(at30.size(), 2u);
    std::set<uint64_t> ended { at30[0].first, at30[1].first };
    EXPECT_EQ(ended, (std::set<uint64_t> { ids[2], ids[4] }));
    EXPECT_EQ(at30[0].second, FlowEnd::Timeout);
    auto at60 = expire_all(table, 60 * k_sec); // handshake and UDP: 60 s
    EXPECT_EQ(at60.size(), 2u);
    EXPECT_EQ(table.size(), 1u);
    EXPECT_TRUE(expire_all(table, 3599 * k_sec).empty());
    auto at3600 = expire_all(table, 3600 * k_sec);
    ASSERT_EQ(at3600.size(), 1u);
    EXPECT_EQ(at3600[0].first, ids[0]);
    EXPECT_EQ(table.size(), 0u);
    EXPECT_EQ(table.counters().timed_out, 5u);
}

TEST(NetFlow, ActivityPostponesExpiry)
{
    FlowLimits limits;
    limits.timeouts.udp = 10 * k_sec;
    FlowTable table(limits);
    Frames f;
    auto flow = table.track(f.frame(udp_frame(k_client, k_server, 1, 2, {})), 0).flow;
    table.track(f.frame(udp_frame(k_server, k_client, 2, 1, {})), 8 * k_sec);
    EXPECT_TRUE(expire_all(table, 12 * k_sec).empty());
    EXPECT_EQ(table.find(flow->key), flow);
    EXPECT_EQ(expire_all(table, 18 * k_sec).size(), 1u);
    EXPECT_EQ(table.find(flow->key), nullptr);
}

TEST(NetFlow, FullTableEvictsNearestDeadline)
{
    FlowLimits limits;
    limits.max_flows = 3;
    FlowTable table(limits);
    Frames f;
    auto a = table.track(f.tcp(true, tcpflag::ack, 1000), 0).flow; // established: 3600 s
    auto b = table.track(f.tcp(true, tcpflag::syn, 1001), 1).flow; // half-open: 60 s
    table.track(f.tcp(true, tcpflag::ack, 1002), 2);
    uint64_t a_id = a->id;
    uint64_t b_id = b->id;
    auto d = table.track(f.tcp(true, tcpflag::ack, 1003), 3);
    ASSERT_TRUE(d.flow);
    EXPECT_TRUE(d.is_new);
    EXPECT_EQ(table.size(), 3u);
    EXPECT_EQ(table.counters().evicted, 1u);
    // The half-open flow went, although the established one is older.
    auto ended = expire_all(table, 4);
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].first, b_id);
    EXPECT_EQ(ended[0].second, FlowEnd::Evicted);
    EXPECT_NE(table.find(a->key), nullptr);
    EXPECT_EQ(table.find(a->key)->id, a_id);
}

TEST(NetFlow, SynAfterCloseStartsANewFlow)
{
    FlowTable table;
    Frames f;
    auto first = table.track(f.tcp(true, tcpflag::syn), 0).flow;
    uint64_t first_id = first->id;
    table.track(f.tcp(false, tcpflag::rst | tcpflag::ack), 1);
    auto second = table.track(f.tcp(true, tcpflag::syn), 2);
    ASSERT_TRUE(second.flow);
    EXPECT_TRUE(second.is_new);
    EXPECT_NE(second.flow->id, first_id);
    EXPECT_EQ(second.flow->state, FlowState::SynSent);
    EXPECT_EQ(second.flow->packets_to_server, 1u);
    auto ended = expire_all(table, 3);
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].first, first_id);
    EXPECT_EQ(ended[0].second, FlowEnd::Reused);
    EXPECT_EQ(table.counters().reused, 1u);
}

TEST(NetFlow, RemoveAndCallerFields)
{
    FlowTable table;
    Frames f;
    auto flow = table.track(f.tcp(true, tcpflag::syn), 0).flow;
    flow->verdict = 2;
    flow->policy_generation = 7;
    flow->tag = 99;
    EXPECT_EQ(table.track(f.tcp(false, tcpflag::syn | tcpflag::ack), 1).flow->tag, 99u);
    table.remove(flow);
    EXPECT_EQ(table.size(), 0u);
    EXPECT_TRUE(expire_all(table, 1000 * k_sec).empty()); // removed flows are not reported
    auto again = table.track(f.tcp(true, tcpflag::syn), 2).flow;
    EXPECT_EQ(again->verdict, 0);
    EXPECT_EQ(again->tag, 0u);
}

TEST(NetFlow, StreamsShareTheTableBudget)
{
    FlowLimits limits;
    limits.tcp_budget_bytes = 4;
    FlowTable table(limits);
    Frames f;
    auto flow = table.track(f.tcp(true, tcpflag::syn), 0).flow;
    flow->to_server.add(100, tcpflag::syn, {});
    flow->to_server.add(110, tcpflag::ack, bytes_of("abc"));
    EXPECT_EQ(table.tcp_budget().used, 3u);
    table.remove(flow);
    EXPECT_EQ(table.tcp_budget().used, 0u);
}

TEST(NetFlow, Ipv6Flows)
{
    FlowTable table;
    Frames f;
    Endpoint client { k_mac_a, ip("fd00::1") };
    Endpoint server { k_mac_b, ip("fd00::2") };
    auto a = table.track(f.frame(tcp_frame(client, server, 1234, 22, 1, 0, tcpflag::syn, {})), 0);
    auto b = table.track(f.frame(tcp_frame(server, client, 22, 1234, 1, 0, tcpflag::syn | tcpflag::ack, {})), 1);
    ASSERT_TRUE(a.flow);
    EXPECT_EQ(a.flow, b.flow);
    EXPECT_EQ(a.flow->state, FlowState::SynRecv);
    EXPECT_EQ(a.flow->client_ip, ip("fd00::1"));
}

TEST(NetFlow, StateNames)
{
    EXPECT_STREQ(flow_state_name(FlowState::SynSent), "syn_sent");
    EXPECT_STREQ(flow_state_name(FlowState::Established), "established");
    EXPECT_STREQ(flow_end_name(FlowEnd::Evicted), "evicted");
}

} // namespace
} // namespace bulwark::net
