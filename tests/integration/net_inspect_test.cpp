// The offline mode, `bulwark net inspect`, over captures written here with the frame builders
// and the pcap writer (no Python, no network): reassembly (TCP segments split, out of order,
// retransmitted; IPv4 fragments, overlapping ones), flow direction, thresholds, action order,
// rule errors, --var, the EVE lines Suricata's tooling reads, and bad capture files.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "base/json.h"
#include "base/system.h"
#include "harness/harness.h"
#include "net/frame_builder.h"
#include "net/pcap.h"

using namespace bulwark;
using namespace bulwark::test;
using bulwark::net::Endpoint;

namespace {

// 2023-11-14T22:13:20Z: a fixed capture time, so EVE timestamps can be checked exactly.
constexpr uint64_t k_t0 = 1700000000ULL * 1000000000ULL;
constexpr uint64_t k_ms = 1000000ULL;
constexpr uint64_t k_s = 1000000000ULL;

std::vector<uint8_t> bytes_of(const std::string& s)
{
    return { s.begin(), s.end() };
}

Endpoint host(const char* mac, const char* ip)
{
    return Endpoint { *net::MacAddr::parse(mac), *net::IpAddr::parse(ip) };
}

const Endpoint k_client = host("02:00:00:00:00:01", "10.0.0.1");
const Endpoint k_server = host("02:00:00:00:00:02", "10.0.0.2");
const Endpoint k_other = host("02:00:00:00:00:03", "10.0.0.3");

// Frames and their capture times, written out as a classic pcap by net::PcapWriter.
struct Capture {
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> frames;
    uint64_t now = k_t0;

    void add(std::vector<uint8_t> frame, uint64_t gap = k_ms)
    {
        now += gap;
        frames.emplace_back(now, std::move(frame));
    }

    void write(const std::string& path) const
    {
        auto fd = sys::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ASSERT_TRUE(fd.is_ok()) << fd.error().message();
        auto writer = net::PcapWriter::open(fd.value().get());
        ASSERT_TRUE(writer.is_ok()) << writer.error().message();
        for (const auto& [ts, frame] : frames)
            ASSERT_TRUE(writer.value().write(ts, frame).is_ok());
    }
};

// One TCP connection: the handshake, then data from either side with the sequence numbers
// advanced as a real stack would (segments may also be built and added out of order).
struct TcpConn {
    Endpoint client, server;
    uint16_t cport, sport;
    uint32_t cseq = 1000, sseq = 50000; // next sequence number of each side

    TcpConn(Endpoint c, Endpoint s, uint16_t cp, uint16_t sp)
        : client(c)
        , server(s)
        , cport(cp)
        , sport(sp)
    {
    }

    void handshake(Capture& cap)
    {
        cap.add(net::tcp_frame(client, server, cport, sport, cseq++, 0, net::tcpflag::syn, {}));
        cap.add(net::tcp_frame(server, client, sport, cport, sseq++, cseq, net::tcpflag::syn | net::tcpflag::ack, {}));
        cap.add(net::tcp_frame(client, server, cport, sport, cseq, sseq, net::tcpflag::ack, {}));
    }
    // A client segment at sequence number seq (not advancing cseq).
    std::vector<uint8_t> client_segment(uint32_t seq, const std::string& data) const
    {
        return net::tcp_frame(client, server, cport, sport, seq, sseq, net::tcpflag::ack | net::tcpflag::psh, bytes_of(data));
    }
    void client_sends(Capture& cap, const std::string& data)
    {
        cap.add(client_segment(cseq, data));
        cseq += static_cast<uint32_t>(data.size());
    }
    void server_sends(Capture& cap, const std::string& data)
    {
        cap.add(net::tcp_frame(server, client, sport, cport, sseq, cseq, net::tcpflag::ack | net::tcpflag::psh, bytes_of(data)));
        sseq += static_cast<uint32_t>(data.size());
    }
    void close(Capture& cap)
    {
        cap.add(net::tcp_frame(client, server, cport, sport, cseq++, sseq, net::tcpflag::fin | net::tcpflag::ack, {}));
        cap.add(net::tcp_frame(server, client, sport, cport, sseq++, cseq, net::tcpflag::fin | net::tcpflag::ack, {}));
        cap.add(net::tcp_frame(client, server, cport, sport, cseq, sseq, net::tcpflag::ack, {}));
    }
};

// An IPv4 fragment of a UDP datagram whose whole L4 bytes (header + payload) are `l4`.
std::vector<uint8_t> udp_fragment(
    const Endpoint& from, const Endpoint& to, std::span<const uint8_t> l4_part, uint16_t offset, bool more, uint16_t id)
{
    auto ip = net::ipv4_packet(
        from.ip, to.ip, net::ipproto::udp, l4_part, net::Ipv4Fields { .id = id, .more_fragments = more, .frag_offset = offset });
    return net::ethernet_frame(from.mac, to.mac, net::ethertype::ipv4, ip);
}

struct InspectResult {
    int code = -1;
    std::string output; // the CLI's stdout and stderr
    std::vector<Json> eve; // the EVE file's lines, parsed
    std::vector<std::string> eve_lines;
    Json stats; // the --json summary (null if it did not parse)

    std::vector<Json> events(const std::string& type) const
    {
        std::vector<Json> out;
        for (const auto& e : eve)
            if (e.value("event_type", "") == type)
                out.push_back(e);
        return out;
    }
    std::multiset<int64_t> alert_sids() const
    {
        std::multiset<int64_t> sids;
        for (const auto& a : events("alert"))
            sids.insert(a["alert"]["signature_id"].get<int64_t>());
        return sids;
    }
};

class NetInspect : public ::testing::Test {
protected:
    Harness h;
    int n = 0;

    std::string path(const std::string& name) const { return h.dir() + "/" + name; }

    std::string write_rules(const std::string& text)
    {
        std::string p = path("rules-" + std::to_string(++n) + ".rules");
        std::ofstream(p) << text;
        return p;
    }

    std::string write_capture(const Capture& cap)
    {
        std::string p = path("cap-" + std::to_string(++n) + ".pcap");
        cap.write(p);
        return p;
    }

    // Runs `bulwark --json net inspect` writing EVE to a fresh file, and parses what it wrote.
    InspectResult inspect(const std::string& rules, const std::string& pcap, const std::vector<std::string>& extra = {})
    {
        std::string eve = path("eve-" + std::to_string(++n) + ".json");
        std::vector<std::string> argv { std::string(BULWARK_BIN_DIR) + "/bulwark", "--home", h.home(), "--json", "net", "inspect",
            "--rules", rules, "--pcap", pcap, "--eve", eve };
        argv.insert(argv.end(), extra.begin(), extra.end());
        auto r = run(argv);
        InspectResult out;
        out.code = r.code;
        out.output = r.output;
        // With --eve, the output is the summary (JSON, on stderr) after any rule errors.
        if (auto brace = r.output.find("{\n"); brace != std::string::npos) {
            auto j = parse_json(r.output.substr(brace));
            if (j.is_ok())
                out.stats = j.value();
        }
        auto text = sys::read_file(eve, 64 << 20);
        if (text.is_ok()) {
            std::istringstream lines(text.value());
            for (std::string line; std::getline(lines, line);) {
                out.eve_lines.push_back(line);
                auto j = parse_json(line);
                EXPECT_TRUE(j.is_ok()) << "not JSON: " << line;
                if (j.is_ok())
                    out.eve.push_back(j.value());
            }
        }
        return out;
    }
};

} // namespace

// (a) A content split across two segments alerts once, and the retransmission of both
// segments does not alert again.
TEST_F(NetInspect, ContentSplitAcrossSegmentsAlertsOnce)
{
    auto rules = write_rules("alert tcp any any -> any 80 (msg:\"split\"; content:\"EVILPAYLOAD\"; sid:1001;)\n");
    Capture cap;
    TcpConn c(k_client, k_server, 40000, 80);
    c.handshake(cap);
    uint32_t first = c.cseq;
    c.client_sends(cap, "GET /EVIL");
    uint32_t second = c.cseq;
    c.client_sends(cap, "PAYLOAD HTTP/1.0\r\n\r\n");
    // Retransmissions of both segments, as after a lost ACK.
    cap.add(c.client_segment(first, "GET /EVIL"), 200 * k_ms);
    cap.add(c.client_segment(second, "PAYLOAD HTTP/1.0\r\n\r\n"));
    c.server_sends(cap, "HTTP/1.0 200 OK\r\n\r\n");
    c.close(cap);
    auto r = inspect(rules, write_capture(cap));
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.alert_sids(), (std::multiset<int64_t> { 1001 })) << r.output;
    EXPECT_EQ(r.stats.value("alerts", -1), 1) << r.output;
    EXPECT_EQ(r.stats.value("records", -1), static_cast<int64_t>(cap.frames.size())) << r.output;
    // The alert is on the packet that completed the pattern, at its capture time.
    auto alerts = r.events("alert");
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(alerts[0]["timestamp"], "2023-11-14T22:13:20.005000+0000");
}

// (b) Segments captured out of order are put back in order before matching.
TEST_F(NetInspect, OutOfOrderSegments)
{
    auto rules = write_rules("alert tcp any any -> any 80 (msg:\"ooo\"; content:\"EVILPAYLOAD\"; sid:1002;)\n");
    Capture cap;
    TcpConn c(k_client, k_server, 40001, 80);
    c.handshake(cap);
    uint32_t seq = c.cseq;
    std::string a = "xxxxEVI", b = "LPAY", d = "LOADyyyy";
    cap.add(c.client_segment(seq + static_cast<uint32_t>(a.size() + b.size()), d));
    cap.add(c.client_segment(seq + static_cast<uint32_t>(a.size()), b));
    // Nothing is contiguous yet, so nothing may alert before the first segment arrives.
    cap.add(c.client_segment(seq, a));
    c.cseq += static_cast<uint32_t>(a.size() + b.size() + d.size());
    c.close(cap);
    auto r = inspect(rules, write_capture(cap));
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.alert_sids(), (std::multiset<int64_t> { 1002 })) << r.output;
    auto alerts = r.events("alert");
    ASSERT_EQ(alerts.size(), 1u);
    // The alert comes with the segment that filled the hole (the 6th frame).
    EXPECT_EQ(alerts[0]["timestamp"], "2023-11-14T22:13:20.006000+0000");
}

// (c) A UDP payload split across IPv4 fragments is reassembled and matched.
TEST_F(NetInspect, PayloadSplitAcrossIpv4Fragments)
{
    auto rules = write_rules("alert udp any any -> any 53 (msg:\"frag\"; content:\"FRAGSECRET\"; sid:1003;)\n");
    auto l4 = net::udp_segment(k_client.ip, k_server.ip, 5353, 53, bytes_of("AAAAAFRAGSECRETBBBBBBBBBBBB"));
    // UDP header + "AAAAAFRA" in the first fragment, "GSECRET..." in the second.
    Capture cap;
    cap.add(udp_fragment(k_client, k_server, std::span(l4).first(16), 0, true, 77));
    cap.add(udp_fragment(k_client, k_server, std::span(l4).subspan(16), 16, false, 77));
    // Neither fragment alone holds the pattern: fed unreassembled, nothing would match.
    auto r = inspect(rules, write_capture(cap));
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.alert_sids(), (std::multiset<int64_t> { 1003 })) << r.output;
    auto alerts = r.events("alert");
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(alerts[0]["proto"], "UDP");
    EXPECT_EQ(alerts[0]["src_port"], 5353);
    EXPECT_EQ(alerts[0]["dest_port"], 53);
    EXPECT_EQ(r.stats.value("fragments_held", -1), 1) << r.output;
}

// (c) Overlapping fragments whose bytes differ could be reassembled differently by the
// inspector and the receiver (the classic evasion). The datagram is dropped (the switch does
// not forward it) and counted; the offline mode says so rather than passing it clean.
TEST_F(NetInspect, OverlappingFragmentsWithDifferentBytesAreDroppedAndCounted)
{
    auto rules = write_rules("alert udp any any -> any 53 (msg:\"frag\"; content:\"FRAGSECRET\"; sid:1003;)\n");
    auto l4 = net::udp_segment(k_client.ip, k_server.ip, 5353, 53, bytes_of("AAAAAFRAGSECRETBBBBBBBBBBBB"));
    // The second fragment starts at 16 but the first one already covers 16..24 with other bytes:
    // first-wins gives "FRAGSECRET", last-wins gives "FRAharmless".
    std::vector<uint8_t> first(l4.begin(), l4.begin() + 24);
    std::vector<uint8_t> second(l4.begin() + 16, l4.end());
    std::copy_n("harmless", 8, second.begin());
    Capture cap;
    cap.add(udp_fragment(k_client, k_server, first, 0, true, 78));
    cap.add(udp_fragment(k_client, k_server, second, 16, false, 78));
    // A well-formed datagram after it is still inspected.
    cap.add(net::udp_frame(k_client, k_server, 5353, 53, bytes_of("..FRAGSECRET..")));
    auto r = inspect(rules, write_capture(cap));
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.alert_sids(), (std::multiset<int64_t> { 1003 })) << r.output;
    EXPECT_EQ(r.stats.value("fragment_overlaps", -1), 1) << r.output;
    EXPECT_EQ(r.stats.value("datagrams_dropped", -1), 1) << r.output;

    // The human summary names it too.
    std::string eve = path("eve-human.json");
    auto human = run({ std::string(BULWARK_BIN_DIR) + "/bulwark", "--home", h.home(), "net", "inspect", "--rules", rules,
        "--pcap", path("cap-" + std::to_string(n - 1) + ".pcap"), "--eve", eve });
    EXPECT_EQ(human.code, 0) << human.output;
    EXPECT_NE(human.output.find("1 fragmented datagram(s) dropped"), std::string::npos) << human.output;
    EXPECT_NE(human.output.find("overlapping fragments with different bytes"), std::string::npos) << human.output;
}

// (d) flow:to_server matches what the client sends, flow:to_client what the server sends.
TEST_F(NetInspect, FlowDirection)
{
    auto rules = write_rules(
        "alert tcp any any -> any any (msg:\"ping to server\"; flow:to_server,established; content:\"PING\"; sid:1004;)\n"
        "alert tcp any any -> any any (msg:\"pong to client\"; flow:to_client,established; content:\"PONG\"; sid:1005;)\n"
        "alert tcp any any -> any any (msg:\"ping to client\"; flow:to_client; content:\"PING\"; sid:1006;)\n"
        "alert tcp any any -> any any (msg:\"pong to server\"; flow:from_client; content:\"PONG\"; sid:1007;)\n");
    Capture cap;
    TcpConn c(k_client, k_server, 40002, 7000);
    c.handshake(cap);
    c.client_sends(cap, "PING\n");
    c.server_sends(cap, "PONG\n");
    c.close(cap);
    auto r = inspect(rules, write_capture(cap));
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.alert_sids(), (std::multiset<int64_t> { 1004, 1005 })) << r.output;
    for (const auto& a : r.events("alert")) {
        bool from_client = a["alert"]["signature_id"] == 1004;
        EXPECT_EQ(a["src_ip"], from_client ? "10.0.0.1" : "10.0.0.2") << json_dump(a);
        EXPECT_EQ(a["dest_port"], from_client ? 7000 : 40002) << json_dump(a);
    }
    // The flow record names the client as the source.
    auto flows = r.events("flow");
    ASSERT_EQ(flows.size(), 1u);
    EXPECT_EQ(flows[0]["src_ip"], "10.0.0.1");
    EXPECT_EQ(flows[0]["dest_port"], 7000);
}

// (e) threshold type limit: at most `count` alerts per `seconds` per source.
TEST_F(NetInspect, ThresholdLimitsAlerts)
{
    auto rules = write_rules("alert udp any any -> any 9999 (msg:\"beep\"; content:\"BEEP\"; "
                             "threshold:type limit, track by_src, count 2, seconds 60; sid:1008;)\n");
    Capture cap;
    for (int i = 0; i < 10; ++i)
        cap.add(net::udp_frame(k_client, k_server, 30000, 9999, bytes_of("BEEP")), 500 * k_ms);
    // Another source has its own count.
    cap.add(net::udp_frame(k_other, k_server, 30000, 9999, bytes_of("BEEP")));
    // A new period (of the capture's clock, not the wall clock) alerts again.
    cap.add(net::udp_frame(k_client, k_server, 30000, 9999, bytes_of("BEEP")), 120 * k_s);
    auto r = inspect(rules, write_capture(cap));
    ASSERT_EQ(r.code, 0) << r.output;
    auto alerts = r.events("alert");
    ASSERT_EQ(alerts.size(), 4u) << r.output;
    EXPECT_EQ(alerts[0]["src_ip"], "10.0.0.1");
    EXPECT_EQ(alerts[1]["src_ip"], "10.0.0.1");
    EXPECT_EQ(alerts[2]["src_ip"], "10.0.0.3");
    EXPECT_EQ(alerts[3]["src_ip"], "10.0.0.1");
    EXPECT_EQ(alerts[3]["timestamp"], "2023-11-14T22:15:25.001000+0000");
}

// (f) A matching pass rule wins over a drop rule: no alert, nothing dropped; without the pass
// rule's match the drop applies and is reported.
TEST_F(NetInspect, PassBeatsDrop)
{
    auto rules = write_rules("drop tcp any any -> any 80 (msg:\"admin\"; content:\"ADMIN\"; sid:1009;)\n"
                             "pass tcp 10.0.0.1 any -> any 80 (msg:\"trusted admin\"; content:\"ADMIN\"; sid:1010;)\n");
    Capture cap;
    TcpConn trusted(k_client, k_server, 40003, 80);
    trusted.handshake(cap);
    trusted.client_sends(cap, "ADMIN login\n");
    trusted.close(cap);
    TcpConn other(k_other, k_server, 40004, 80);
    other.handshake(cap);
    other.client_sends(cap, "ADMIN login\n");
    auto r = inspect(rules, write_capture(cap));
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.alert_sids(), (std::multiset<int64_t> { 1009 })) << r.output;
    auto alerts = r.events("alert");
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(alerts[0]["src_ip"], "10.0.0.3");
    EXPECT_EQ(alerts[0]["alert"]["action"], "blocked");
    auto drops = r.events("drop");
    ASSERT_EQ(drops.size(), 1u) << r.output;
    EXPECT_EQ(drops[0]["src_ip"], "10.0.0.3");
    EXPECT_EQ(r.stats.value("drops", -1), 1) << r.output;
    EXPECT_EQ(r.stats.value("alerts", -1), 1) << r.output;
}

// (g) A rule with an unsupported keyword is named (line and keyword) and refused; the others
// load and alert; the exit code (8) tells a script that not every rule loaded.
TEST_F(NetInspect, UnsupportedKeywordIsNamedAndTheRestLoad)
{
    auto rules = write_rules("# web rules\n"
                             "alert tcp any any -> any 80 (msg:\"admin\"; content:\"/admin\"; sid:2001;)\n"
                             "alert tcp any any -> any 80 (msg:\"uri\"; http.uri; content:\"/admin\"; sid:2002;)\n"
                             "alert tcp any any -> any 80 (msg:\"get\"; content:\"GET \"; depth:4; sid:2003;)\n");
    Capture cap;
    TcpConn c(k_client, k_server, 40005, 80);
    c.handshake(cap);
    c.client_sends(cap, "GET /admin HTTP/1.0\r\n\r\n");
    c.close(cap);
    auto r = inspect(rules, write_capture(cap));
    EXPECT_EQ(r.code, 8) << r.output;
    EXPECT_NE(r.output.find("line 3"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("http.uri"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("line 2"), std::string::npos) << r.output;
    EXPECT_EQ(r.stats.value("rules", -1), 2) << r.output;
    EXPECT_EQ(r.stats.value("rule_errors", -1), 1) << r.output;
    EXPECT_EQ(r.alert_sids(), (std::multiset<int64_t> { 2001, 2003 })) << r.output;
}

// (h) Every EVE line is one JSON object with Suricata's field names and formats; an alert and
// its flow record share the flow_id; --eve creates the file 0600 and appends to it.
TEST_F(NetInspect, EveLinesAreSuricatas)
{
    auto rules = write_rules("alert tcp any any -> any 80 (msg:\"evil\"; content:\"EVIL\"; classtype:trojan-activity; "
                             "sid:3001; rev:4;)\n"
                             "alert udp any any -> any 53 (msg:\"dns\"; content:\"QUERY\"; sid:3002;)\n"
                             "alert icmp any any -> any any (msg:\"ping\"; content:\"PINGDATA\"; sid:3003;)\n");
    Capture cap;
    TcpConn c(k_client, k_server, 40006, 80);
    c.handshake(cap);
    c.client_sends(cap, "EVIL\n");
    c.server_sends(cap, "OK\n");
    c.close(cap);
    cap.add(net::udp_frame(k_other, k_server, 5300, 53, bytes_of("QUERY")));
    cap.add(net::icmp_echo_frame(k_client, k_other, false, 7, 1, bytes_of("PINGDATA")));
    std::string pcap = write_capture(cap);

    std::string eve = path("appended.json");
    auto once = [&] {
        return run({ std::string(BULWARK_BIN_DIR) + "/bulwark", "--home", h.home(), "net", "inspect", "--rules", rules, "--pcap",
            pcap, "--eve", eve });
    };
    auto first = once();
    ASSERT_EQ(first.code, 0) << first.output;
    struct stat st { };
    ASSERT_EQ(::stat(eve.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    std::string text1 = sys::read_file(eve, 1 << 20).value();
    auto second = once();
    ASSERT_EQ(second.code, 0) << second.output;
    std::string text2 = sys::read_file(eve, 1 << 20).value();
    EXPECT_EQ(text2, text1 + text1);
    EXPECT_EQ(::stat(eve.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);

    std::regex timestamp(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000$)");
    std::map<std::string, std::set<uint64_t>> flow_ids; // event_type -> flow ids
    uint64_t last_flow_record = 0; // flows still open at the end come in creation order
    std::istringstream lines(text1);
    int count = 0;
    for (std::string line; std::getline(lines, line); ++count) {
        auto parsed = parse_json(line);
        ASSERT_TRUE(parsed.is_ok()) << line;
        const Json& e = parsed.value();
        ASSERT_TRUE(e.is_object()) << line;
        std::string type = e.value("event_type", "");
        EXPECT_TRUE(type == "alert" || type == "flow") << line;
        EXPECT_TRUE(std::regex_match(e.value("timestamp", ""), timestamp)) << line;
        EXPECT_TRUE(e.contains("flow_id") && e["flow_id"].is_number_unsigned() && e["flow_id"].get<uint64_t>() != 0) << line;
        // Suricata's flow_id is a signed 64-bit number; larger ones break readers such as jq.
        EXPECT_LT(e["flow_id"].get<uint64_t>(), uint64_t(1) << 53) << line;
        flow_ids[type].insert(e["flow_id"].get<uint64_t>());
        EXPECT_EQ(e.value("in_iface", ""), "pcap") << line;
        for (const char* key : { "src_ip", "dest_ip", "proto" })
            EXPECT_TRUE(e.contains(key) && e[key].is_string()) << key << ": " << line;
        std::string proto = e.value("proto", "");
        EXPECT_TRUE(proto == "TCP" || proto == "UDP" || proto == "ICMP") << line;
        if (proto != "ICMP") {
            EXPECT_TRUE(e.contains("src_port") && e["src_port"].is_number_integer()) << line;
            EXPECT_TRUE(e.contains("dest_port") && e["dest_port"].is_number_integer()) << line;
        } else {
            EXPECT_FALSE(e.contains("src_port")) << line;
        }
        if (type == "alert") {
            const Json& a = e["alert"];
            for (const char* key : { "action", "gid", "signature_id", "rev", "signature", "category", "severity" })
                EXPECT_TRUE(a.contains(key)) << key << ": " << line;
            EXPECT_EQ(a.value("action", ""), "allowed") << line;
            if (a.value("signature_id", 0) == 3001) {
                EXPECT_EQ(a["rev"], 4);
                EXPECT_EQ(a["gid"], 1);
                EXPECT_EQ(a["signature"], "evil");
                EXPECT_EQ(a["category"], "A Network Trojan was detected");
                EXPECT_EQ(a["severity"], 1);
                EXPECT_EQ(e["src_ip"], "10.0.0.1");
                EXPECT_EQ(e["src_port"], 40006);
                EXPECT_EQ(e["dest_ip"], "10.0.0.2");
                EXPECT_EQ(e["dest_port"], 80);
                EXPECT_EQ(e["proto"], "TCP");
            }
            if (a.value("signature_id", 0) == 3003) {
                EXPECT_EQ(e["icmp_type"], 8) << line;
                EXPECT_EQ(e["icmp_code"], 0) << line;
            }
        } else {
            EXPECT_GT(e["flow_id"].get<uint64_t>(), last_flow_record) << line;
            last_flow_record = e["flow_id"].get<uint64_t>();
            const Json& f = e["flow"];
            for (const char* key : { "pkts_toserver", "pkts_toclient", "bytes_toserver", "bytes_toclient", "start", "end", "age",
                     "state", "reason", "alerted" })
                EXPECT_TRUE(f.contains(key)) << key << ": " << line;
            EXPECT_TRUE(std::regex_match(f.value("start", ""), timestamp)) << line;
            EXPECT_TRUE(std::regex_match(f.value("end", ""), timestamp)) << line;
            EXPECT_TRUE(f["alerted"].get<bool>()) << line; // every flow here alerted
            if (e["proto"] == "TCP") {
                EXPECT_EQ(f["pkts_toserver"], 5) << line; // SYN, ACK, data, FIN, ACK
                EXPECT_EQ(f["pkts_toclient"], 3) << line; // SYN+ACK, data, FIN
                EXPECT_EQ(f["state"], "closed") << line;
                EXPECT_EQ(f["start"], "2023-11-14T22:13:20.001000+0000") << line;
                EXPECT_EQ(f["end"], "2023-11-14T22:13:20.008000+0000") << line;
            }
        }
    }
    EXPECT_EQ(count, 6); // three alerts, three flows
    EXPECT_EQ(flow_ids["alert"].size(), 3u);
    EXPECT_EQ(flow_ids["alert"], flow_ids["flow"]);
}

// (i) A capture cut short inside a record, and a pcapng file, get an error that says what is
// wrong and a non-zero exit; the events before the cut are still written.
TEST_F(NetInspect, TruncatedPcapAndPcapngAreRefused)
{
    auto rules = write_rules("alert udp any any -> any 53 (msg:\"q\"; content:\"QUERY\"; sid:4001;)\n");
    Capture cap;
    cap.add(net::udp_frame(k_client, k_server, 5300, 53, bytes_of("QUERY one")));
    cap.add(net::udp_frame(k_client, k_server, 5300, 53, bytes_of("QUERY two")));
    std::string pcap = write_capture(cap);
    auto size = sys::read_file(pcap, 1 << 20).value().size();
    ASSERT_EQ(::truncate(pcap.c_str(), static_cast<off_t>(size - 5)), 0);
    auto r = inspect(rules, pcap);
    EXPECT_NE(r.code, 0) << r.output;
    EXPECT_NE(r.output.find(pcap), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("record 2"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
    EXPECT_EQ(r.alert_sids(), (std::multiset<int64_t> { 4001 })) << r.output;

    // A pcapng section header block (with an empty options list), as Wireshark writes.
    std::string ng(
        "\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x1c\x00\x00\x00", 28);
    std::string ng_path = path("capture.pcapng");
    std::ofstream(ng_path, std::ios::binary) << ng;
    r = inspect(rules, ng_path);
    EXPECT_NE(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("pcapng"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("tcpdump -r"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(ng_path), std::string::npos) << r.output;

    // Not a capture at all.
    std::string text_path = path("notes.txt");
    std::ofstream(text_path) << "these are not packets\n";
    r = inspect(rules, text_path);
    EXPECT_NE(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("not a pcap file"), std::string::npos) << r.output;
}

// (j) --var HOME_NET changes which addresses are home, so which rule matches (and
// EXTERNAL_NET, defined from it, follows).
TEST_F(NetInspect, VarHomeNetChangesWhichRuleMatches)
{
    auto rules = write_rules("alert udp $HOME_NET any -> any 5000 (msg:\"from home\"; content:\"HELLO\"; sid:5001;)\n"
                             "alert udp $EXTERNAL_NET any -> any 5000 (msg:\"from outside\"; content:\"HELLO\"; sid:5002;)\n");
    Capture cap;
    cap.add(net::udp_frame(k_client, k_server, 4000, 5000, bytes_of("HELLO")));
    std::string pcap = write_capture(cap);
    auto r = inspect(rules, pcap);
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.alert_sids(), (std::multiset<int64_t> { 5001 })) << r.output;
    r = inspect(rules, pcap, { "--var", "HOME_NET=[192.168.50.0/24,fd00::/64]" });
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.alert_sids(), (std::multiset<int64_t> { 5002 })) << r.output;
    r = inspect(rules, pcap, { "--var", "HOMENET" });
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("NAME=VALUE"), std::string::npos) << r.output;
}

// The captures written here are real ones: tcpdump reads them, counts the same packets, and
// finds every checksum correct.
TEST_F(NetInspect, TcpdumpReadsTheCaptures)
{
    Capture cap;
    TcpConn c(k_client, k_server, 40007, 80);
    c.handshake(cap);
    c.client_sends(cap, "GET / HTTP/1.0\r\n\r\n");
    c.server_sends(cap, "HTTP/1.0 200 OK\r\n\r\n");
    c.close(cap);
    cap.add(net::udp_frame(k_client, k_server, 5300, 53, bytes_of("QUERY")));
    cap.add(net::icmp_echo_frame(k_client, k_server, false, 7, 1, bytes_of("PINGDATA")));
    auto l4 = net::udp_segment(k_client.ip, k_server.ip, 5353, 53, bytes_of("AAAAAFRAGSECRETBBBBBBBBBBBB"));
    cap.add(udp_fragment(k_client, k_server, std::span(l4).first(16), 0, true, 79));
    cap.add(udp_fragment(k_client, k_server, std::span(l4).subspan(16), 16, false, 79));
    std::string pcap = write_capture(cap);
    // One line per packet, each starting with its timestamp (the header line starts "reading").
    auto r = run({ "/usr/bin/tcpdump", "-nn", "-r", pcap });
    ASSERT_EQ(r.code, 0) << r.output;
    std::istringstream lines(r.output);
    int packets = 0;
    for (std::string line; std::getline(lines, line);)
        packets += !line.empty() && std::isdigit(static_cast<unsigned char>(line[0])) ? 1 : 0;
    EXPECT_EQ(packets, static_cast<int>(cap.frames.size())) << r.output;
    // With -vv tcpdump checks every IP, TCP, UDP and ICMP checksum ("correct"/"incorrect").
    r = run({ "/usr/bin/tcpdump", "-nn", "-vv", "-r", pcap });
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output.find("incorrect"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("bad"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("cksum"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("Flags [S]"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("ICMP echo request"), std::string::npos) << r.output;
}
