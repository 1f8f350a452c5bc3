// The real bulwark-switch worker, driven through the traffic generator (src/net/traffic_gen.h)
// as bulwarkd and QEMU drive it: the control protocol, guest ports as stream sockets, frames
// forwarded between two guests, a spoofed frame dropped, and a framing error that closes that
// one port's connection while the others carry on.
#include <cstring>
#include <gtest/gtest.h>

#include "net/traffic_gen.h"

using namespace bulwark;
using namespace bulwark::net;

namespace {

const MacAddr k_server_mac { { 0x02, 0, 0, 0, 0, 1 } };

GuestSpec guest(uint32_t id, const char* name, const char* role)
{
    GuestSpec g;
    g.id = id;
    g.name = name;
    g.segment = "lab";
    g.mac = MacAddr { { 0x52, 0x54, 0x00, 0x00, 0x00, static_cast<uint8_t>(id) } };
    g.ip = IpAddr::v4(0x0a4d0100u + 10 + id); // 10.77.1.(10 + id)
    g.labels = { { "role", role } };
    return g;
}

std::vector<uint8_t> bytes_of(const char* text)
{
    return std::vector<uint8_t>(text, text + std::strlen(text));
}

class SwitchProcessTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        auto sw = SwitchProcess::spawn({ BULWARK_SWITCH_BIN });
        ASSERT_TRUE(sw.is_ok()) << sw.error().message();
        m_switch = sw.release_value();
        auto seg = m_switch->add_segment("lab", *Cidr::parse("10.77.1.0/24"), *IpAddr::parse("10.77.1.1"), k_server_mac);
        ASSERT_TRUE(seg.is_ok()) << seg.error().message();
        // Clients (a and c) may open TCP connections to the server (b) on port 80.
        SegmentPolicy policy;
        AllowRule rule;
        rule.name = "clients to server";
        rule.from.labels = { { "role", "client" } };
        rule.to.labels = { { "role", "server" } };
        rule.proto = Proto::Tcp;
        rule.ports = { { 80, 80 } };
        policy.allow.push_back(rule);
        auto set = m_switch->set_policy(policy);
        ASSERT_TRUE(set.is_ok()) << set.error().message();
        for (auto* g : { &a, &b, &c }) {
            auto link = m_switch->add_port(*g);
            ASSERT_TRUE(link.is_ok()) << link.error().message();
            m_links.push_back(std::make_unique<GuestLink>(link.release_value()));
        }
    }

    GuestLink& link(const GuestSpec& g) { return *m_links[g.id - 1]; }

    // The next frame the guest gets, or an empty vector when none comes within 2 s.
    std::vector<uint8_t> next_frame(const GuestSpec& g)
    {
        auto got = link(g).receive(deadline_in(std::chrono::seconds(2)));
        EXPECT_TRUE(got.is_ok()) << got.error().message();
        return got.is_ok() && got.value() ? *got.value() : std::vector<uint8_t> {};
    }

    Json port_status(const GuestSpec& g)
    {
        auto s = m_switch->status();
        EXPECT_TRUE(s.is_ok()) << s.error().message();
        return s.is_ok() ? s.value()["ports"][std::to_string(g.id)] : Json();
    }

    GuestSpec a = guest(1, "a", "client");
    GuestSpec b = guest(2, "b", "server");
    GuestSpec c = guest(3, "c", "client");
    std::unique_ptr<SwitchProcess> m_switch;
    std::vector<std::unique_ptr<GuestLink>> m_links;
};

TEST_F(SwitchProcessTest, FramesFlowBetweenTwoGuestsThroughTheWorker)
{
    TcpConnection conn(a.endpoint(), b.endpoint(), 40000, 80);
    auto syn = conn.syn();
    ASSERT_TRUE(link(a).send(syn).is_ok());
    EXPECT_EQ(next_frame(b), syn);
    auto syn_ack = conn.syn_ack();
    ASSERT_TRUE(link(b).send(syn_ack).is_ok());
    EXPECT_EQ(next_frame(a), syn_ack);
    ASSERT_TRUE(link(a).send(conn.ack()).is_ok());
    EXPECT_FALSE(next_frame(b).empty());

    // A batch of data segments sent as one write arrives whole and in order, lap after lap.
    uint32_t expected_seq = conn.client_seq();
    TcpBatch batch;
    for (int i = 0; i < 16; ++i)
        batch.add(conn, bytes_of("GET /index.html HTTP/1.1\r\nHost: b\r\n\r\n"));
    for (int lap = 0; lap < 3; ++lap) {
        ASSERT_TRUE(link(a).send_raw(batch.bytes()).is_ok());
        for (std::size_t i = 0; i < batch.frames(); ++i) {
            auto frame = next_frame(b);
            ASSERT_FALSE(frame.empty()) << "lap " << lap << " frame " << i;
            // Each lap is new data: sequence numbers move on and the checksum still holds.
            auto p = decode_frame(frame);
            ASSERT_TRUE(p.packet.has_value());
            EXPECT_EQ(p.packet->tcp_seq, expected_seq) << "lap " << lap << " frame " << i;
            expected_seq += static_cast<uint32_t>(p.packet->payload.size());
            auto tcp = p.packet->ip_payload;
            EXPECT_EQ(internet_checksum(tcp, pseudo_header_sum(a.ip, b.ip, ipproto::tcp, tcp.size())), 0);
        }
        batch.advance();
    }
    Json sa = port_status(a);
    EXPECT_EQ(sa["rx_frames"], 2 + 3 * 16);
    EXPECT_EQ(sa["drop_policy"], 0);
    EXPECT_EQ(port_status(b)["tx_frames"], 2 + 3 * 16);
}

TEST_F(SwitchProcessTest, SpoofedFrameIsDropped)
{
    // c claims b's address; the frame must not reach anyone. A genuine frame sent after it
    // is the next one b sees, which shows the spoofed one was dropped, not delayed.
    Endpoint forged { c.mac, a.ip };
    TcpConnection spoofed(forged, b.endpoint(), 40001, 80);
    ASSERT_TRUE(link(c).send(spoofed.syn()).is_ok());
    TcpConnection genuine(c.endpoint(), b.endpoint(), 40002, 80);
    auto syn = genuine.syn();
    ASSERT_TRUE(link(c).send(syn).is_ok());
    EXPECT_EQ(next_frame(b), syn);
    EXPECT_EQ(port_status(c)["drop_spoofed"], 1);
    // The other way round is not allowed by the policy (b may not open to c).
    TcpConnection reverse(b.endpoint(), c.endpoint(), 80, 40003);
    ASSERT_TRUE(link(b).send(reverse.syn()).is_ok());
    ASSERT_TRUE(link(a).send(TcpConnection(a.endpoint(), b.endpoint(), 40004, 80).syn()).is_ok());
    EXPECT_FALSE(next_frame(b).empty());
    EXPECT_EQ(port_status(b)["drop_policy"], 1);
}

TEST_F(SwitchProcessTest, FramingErrorClosesOnlyThatPort)
{
    // A length of 0 cannot be a frame: the stream is lost, so the switch closes a's connection.
    const uint8_t zero_length[] = { 0, 0, 0, 0 };
    ASSERT_TRUE(link(a).send_raw(zero_length).is_ok());
    EXPECT_TRUE(link(a).wait_closed(deadline_in(std::chrono::seconds(3))));
    // c and b are untouched.
    TcpConnection conn(c.endpoint(), b.endpoint(), 40005, 80);
    auto syn = conn.syn();
    ASSERT_TRUE(link(c).send(syn).is_ok());
    EXPECT_EQ(next_frame(b), syn);
    Json sa = port_status(a);
    EXPECT_EQ(sa["connected"], false);
    EXPECT_EQ(sa["framing_errors"], 1);
    EXPECT_EQ(port_status(c)["connected"], true);
}

} // namespace
