// EVE JSON output (src/ids/eve): Suricata's field names and formats, one line per event.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "base/json.h"
#include "ids/eve.h"
#include "ids/rule_parser.h"

namespace bulwark::ids {
namespace {

net::IpAddr ip(const char* text)
{
    net::IpAddr a;
    if (::inet_pton(AF_INET, text, a.bytes.data()) == 1)
        return a;
    a.v6 = true;
    EXPECT_EQ(::inet_pton(AF_INET6, text, a.bytes.data()), 1) << text;
    return a;
}

Json parse_line(const std::string& line)
{
    EXPECT_EQ(line.find('\n'), std::string::npos) << "an event is one line";
    auto j = parse_json(line);
    EXPECT_TRUE(j.is_ok()) << line;
    return j.is_ok() ? j.release_value() : Json();
}

Rule rule(const std::string& text)
{
    auto r = parse_rule(text, default_rule_vars());
    EXPECT_TRUE(r.is_ok()) << (r.is_error() ? r.error().message() : "");
    return r.is_ok() ? r.release_value() : Rule {};
}

net::Packet tcp_packet(std::span<const uint8_t> payload)
{
    net::Packet p;
    p.l3 = net::L3::Ipv4;
    p.l4 = net::L4::Tcp;
    p.ip_proto = net::ipproto::tcp;
    p.ip_src = ip("10.0.0.1");
    p.ip_dst = ip("10.0.0.2");
    p.src_port = 40000;
    p.dst_port = 80;
    p.ttl = 63;
    p.ip_id = 77;
    p.tcp_seq = 11;
    p.tcp_ack = 22;
    p.tcp_window = 512;
    p.tcp_flags = net::tcpflag::syn | net::tcpflag::ack;
    p.payload = payload;
    return p;
}

TEST(IdsEve, Timestamp)
{
    EXPECT_EQ(eve_timestamp(0), "1970-01-01T00:00:00.000000+0000");
    // 2026-11-25T14:03:12.123456 UTC
    EXPECT_EQ(eve_timestamp(1795615392123456LL), "2026-11-25T14:03:12.123456+0000");
    EXPECT_EQ(eve_timestamp(-1), "1969-12-31T23:59:59.999999+0000");
}

TEST(IdsEve, ProtoNames)
{
    EXPECT_EQ(eve_proto(6), "TCP");
    EXPECT_EQ(eve_proto(17), "UDP");
    EXPECT_EQ(eve_proto(1), "ICMP");
    EXPECT_EQ(eve_proto(58), "IPv6-ICMP");
    EXPECT_EQ(eve_proto(47), "47");
    EXPECT_EQ(eve_ip(ip("fd00::1")), "fd00::1");
    EXPECT_EQ(eve_ip(ip("192.0.2.1")), "192.0.2.1");
}

TEST(IdsEve, Alert)
{
    std::string payload = "GET /\x01\xff";
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
    net::Packet p = tcp_packet(bytes);
    Rule r = rule("alert tcp any any -> any any (msg:\"ET TROJAN test\"; classtype:trojan-activity; "
                  "metadata:former_category MALWARE, tag Foo; sid:2000001; rev:4;)");
    Json j = parse_line(eve_alert(p, r, 1234567890123ULL, 1795615392123456LL, { "vm-web1", false }));
    EXPECT_EQ(j["timestamp"], "2026-11-25T14:03:12.123456+0000");
    EXPECT_EQ(j["flow_id"], 1234567890123ULL);
    EXPECT_EQ(j["in_iface"], "vm-web1");
    EXPECT_EQ(j["event_type"], "alert");
    EXPECT_EQ(j["src_ip"], "10.0.0.1");
    EXPECT_EQ(j["src_port"], 40000);
    EXPECT_EQ(j["dest_ip"], "10.0.0.2");
    EXPECT_EQ(j["dest_port"], 80);
    EXPECT_EQ(j["proto"], "TCP");
    const Json& a = j["alert"];
    EXPECT_EQ(a["action"], "allowed");
    EXPECT_EQ(a["gid"], 1);
    EXPECT_EQ(a["signature_id"], 2000001);
    EXPECT_EQ(a["rev"], 4);
    EXPECT_EQ(a["signature"], "ET TROJAN test");
    EXPECT_EQ(a["category"], "A Network Trojan was detected");
    EXPECT_EQ(a["severity"], 1);
    EXPECT_EQ(a["metadata"]["former_category"][0], "MALWARE");
    EXPECT_FALSE(j.contains("payload_printable"));

    Json with_payload = parse_line(eve_alert(p, r, 0, 0, { "", true }));
    EXPECT_EQ(with_payload["payload_printable"], "GET /..");
    EXPECT_FALSE(with_payload.contains("flow_id"));
    EXPECT_FALSE(with_payload.contains("in_iface"));

    Rule d = rule("drop tcp any any -> any any (msg:\"x\"; sid:5;)");
    EXPECT_EQ(parse_line(eve_alert(p, d, 1, 0))["alert"]["action"], "blocked");
    Rule rj = rule("reject tcp any any -> any any (msg:\"x\"; sid:6;)");
    EXPECT_EQ(parse_line(eve_alert(p, rj, 1, 0))["alert"]["action"], "blocked");
}

TEST(IdsEve, HostileTextStaysOneLine)
{
    net::Packet p = tcp_packet({});
    Rule r = rule("alert tcp any any -> any any (msg:\"line\nbreak \\\" \xff\xfe end\"; sid:1;)");
    std::string line = eve_alert(p, r, 1, 0);
    Json j = parse_line(line);
    EXPECT_NE(j["alert"]["signature"].get<std::string>().find("end"), std::string::npos);
}

TEST(IdsEve, IcmpAndIpv6)
{
    net::Packet p;
    p.l3 = net::L3::Ipv6;
    p.l4 = net::L4::Icmpv6;
    p.ip_proto = net::ipproto::icmpv6;
    p.ip_src = ip("fd00::1");
    p.ip_dst = ip("fd00::2");
    p.icmp_type = 128;
    Rule r = rule("alert icmp any any -> any any (msg:\"ping\"; sid:9;)");
    Json j = parse_line(eve_alert(p, r, 5, 0));
    EXPECT_EQ(j["proto"], "IPv6-ICMP");
    EXPECT_EQ(j["src_ip"], "fd00::1");
    EXPECT_EQ(j["icmp_type"], 128);
    EXPECT_EQ(j["icmp_code"], 0);
    EXPECT_FALSE(j.contains("src_port"));
    EXPECT_EQ(j["alert"]["category"], "");
    EXPECT_EQ(j["alert"]["severity"], 3);
}

TEST(IdsEve, Drop)
{
    std::vector<uint8_t> ip_header(20, 0);
    ip_header[0] = 0x45;
    ip_header[1] = 0x10; // tos
    std::vector<uint8_t> ip_payload(30, 0);
    net::Packet p = tcp_packet(std::span<const uint8_t>(ip_payload).subspan(20));
    p.ip_header = ip_header;
    p.ip_payload = ip_payload;
    Rule r = rule("drop tcp any any -> any any (msg:\"blocked it\"; sid:77;)");
    Json j = parse_line(eve_drop(p, &r, 42, 0, { "vm-a", false }));
    EXPECT_EQ(j["event_type"], "drop");
    EXPECT_EQ(j["flow_id"], 42);
    const Json& d = j["drop"];
    EXPECT_EQ(d["len"], 50);
    EXPECT_EQ(d["tos"], 0x10);
    EXPECT_EQ(d["ttl"], 63);
    EXPECT_EQ(d["ipid"], 77);
    EXPECT_EQ(d["tcpseq"], 11);
    EXPECT_EQ(d["tcpack"], 22);
    EXPECT_EQ(d["tcpwin"], 512);
    EXPECT_EQ(d["syn"], true);
    EXPECT_EQ(d["ack"], true);
    EXPECT_EQ(d["fin"], false);
    EXPECT_EQ(d["rst"], false);
    EXPECT_EQ(j["alert"]["signature_id"], 77);
    EXPECT_EQ(j["alert"]["action"], "blocked");
    EXPECT_FALSE(parse_line(eve_drop(p, nullptr, 42, 0)).contains("alert"));

    net::Packet u = tcp_packet(std::span<const uint8_t>(ip_payload).subspan(8));
    u.l4 = net::L4::Udp;
    u.ip_proto = net::ipproto::udp;
    Json ju = parse_line(eve_drop(u, nullptr, 0, 0));
    EXPECT_EQ(ju["proto"], "UDP");
    EXPECT_EQ(ju["drop"]["udplen"], 30);
}

TEST(IdsEve, Flow)
{
    FlowRecord f;
    f.flow_id = 99;
    f.src_ip = ip("10.0.0.1");
    f.src_port = 5555;
    f.dest_ip = ip("10.0.0.2");
    f.dest_port = 443;
    f.ip_proto = net::ipproto::tcp;
    f.pkts_toserver = 10;
    f.pkts_toclient = 8;
    f.bytes_toserver = 1000;
    f.bytes_toclient = 64000;
    f.start_us = 1795615392000000LL;
    f.end_us = 1795615392000000LL + 75500000LL;
    f.state = FlowState::Closed;
    f.reason = FlowEndReason::Timeout;
    f.alerted = true;
    Json j = parse_line(eve_flow(f, f.end_us, { "vm-b", false }));
    EXPECT_EQ(j["event_type"], "flow");
    EXPECT_EQ(j["flow_id"], 99);
    EXPECT_EQ(j["in_iface"], "vm-b");
    EXPECT_EQ(j["src_port"], 5555);
    EXPECT_EQ(j["dest_port"], 443);
    EXPECT_EQ(j["proto"], "TCP");
    const Json& fl = j["flow"];
    EXPECT_EQ(fl["pkts_toserver"], 10);
    EXPECT_EQ(fl["pkts_toclient"], 8);
    EXPECT_EQ(fl["bytes_toserver"], 1000);
    EXPECT_EQ(fl["bytes_toclient"], 64000);
    EXPECT_EQ(fl["start"], "2026-11-25T14:03:12.000000+0000");
    EXPECT_EQ(fl["end"], "2026-11-25T14:04:27.500000+0000");
    EXPECT_EQ(fl["age"], 75);
    EXPECT_EQ(fl["state"], "closed");
    EXPECT_EQ(fl["reason"], "timeout");
    EXPECT_EQ(fl["alerted"], true);

    f.state = FlowState::Established;
    f.reason = FlowEndReason::Shutdown;
    f.ip_proto = net::ipproto::icmp;
    Json k = parse_line(eve_flow(f, 0));
    EXPECT_EQ(k["flow"]["state"], "established");
    EXPECT_EQ(k["flow"]["reason"], "shutdown");
    EXPECT_EQ(k["proto"], "ICMP");
    EXPECT_FALSE(k.contains("src_port"));
    f.state = FlowState::New;
    f.reason = FlowEndReason::Forced;
    Json n = parse_line(eve_flow(f, 0));
    EXPECT_EQ(n["flow"]["state"], "new");
    EXPECT_EQ(n["flow"]["reason"], "forced");
}

} // namespace
} // namespace bulwark::ids
