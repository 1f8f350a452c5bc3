// Fuzzes the switch engine (src/net/switch.h) as guests would attack it: five ports on two
// segments (one quarantined, one an analysis port, one rate-limited), a label policy and a
// small IDS rule set with drop, reject and alert rules, fed a sequence of frames. It checks
// the switch's invariants after every frame:
//   - every frame a port sends is counted (rx) and is delivered somewhere, dropped with a
//     counted reason, or is one the switch keeps by design (a fragment held for reassembly, a
//     DHCP message or a frame for the switch's own MAC, a broadcast nobody else may receive);
//   - frames reach only ports of the sender's segment, carry the sender's MAC (no spoofing
//     gets through), and reach a quarantined sender's peers only when they are analysis ports;
//   - nothing comes back to the port it came from except the switch's own answers (DHCP, ARP)
//     and IDS rejects, and never the frame itself;
//   - each port's tx counter equals the frames delivered to it.
// Beside it run two more switches without the IDS rules (so that the fast path, which stands
// aside while rules are loaded, is used), one with the fast path (net/fast_path.h) and one
// without: after every frame and tick they must have delivered the same frames to the same
// ports, and agree on every counter, flow and EVE line.
// Every chunk is also parsed as a DHCP message (net/dhcp.h) and answered, and the answer must
// decode as a DHCP server message.
//
// Input layout: chunks of [selector: u8][length: u16 big-endian][length bytes of frame]. The
// selector's low 3 bits pick the port (0 and 6-7: a port that does not exist); bit 6 rewrites
// the frame's source MAC and IPv4 source address to the port's own, so that mutated frames get
// past anti-spoofing and reach the deeper stages; bit 7 advances the clock by 2 s first (flow
// and fragment timeouts, token buckets).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ids/engine.h"
#include "ids/rule_parser.h"
#include "net/dhcp.h"
#include "net/packet.h"
#include "net/switch.h"

using namespace bulwark;
using namespace bulwark::net;

namespace {

// The failed invariant's line goes to stderr, so that a crash file explains itself.
void check(bool condition, std::source_location where = std::source_location::current())
{
    if (!condition) {
        std::fprintf(stderr, "switch_fuzz: invariant at line %u failed\n", unsigned(where.line()));
        std::abort();
    }
}

const MacAddr k_server_mac { { 0x02, 0, 0, 0, 0, 1 } };

struct Delivery {
    uint32_t port;
    std::vector<uint8_t> frame;
};

struct Sink : FrameSink {
    std::vector<Delivery> got;
    std::map<uint32_t, uint64_t> per_port;
    void deliver(uint32_t port, std::span<const uint8_t> frame) override
    {
        got.push_back({ port, std::vector<uint8_t>(frame.begin(), frame.end()) });
        ++per_port[port];
    }
};

struct PortInfo {
    const char* segment;
    MacAddr mac;
    IpAddr ip;
    bool quarantined;
    bool analysis;
};

const std::map<uint32_t, PortInfo>& ports()
{
    static const std::map<uint32_t, PortInfo> k_ports = {
        { 1, { "a", { { 0x52, 0x54, 0, 0, 0, 1 } }, IpAddr::v4(0x0a010002), false, false } },
        { 2, { "a", { { 0x52, 0x54, 0, 0, 0, 2 } }, IpAddr::v4(0x0a010003), false, false } },
        { 3, { "a", { { 0x52, 0x54, 0, 0, 0, 3 } }, IpAddr::v4(0x0a010004), true, false } },
        { 4, { "a", { { 0x52, 0x54, 0, 0, 0, 4 } }, IpAddr::v4(0x0a010005), false, true } },
        { 5, { "b", { { 0x52, 0x54, 0, 0, 0, 5 } }, IpAddr::v4(0x0a020002), false, false } },
    };
    return k_ports;
}

std::shared_ptr<ids::Engine> engine()
{
    static std::shared_ptr<ids::Engine> shared = [] {
        const char* rules = "drop tcp any any -> any 80 (msg:\"drop\"; flow:established,to_server; content:\"evil\"; sid:1;)\n"
                            "reject tcp any any -> any 443 (msg:\"reject\"; content:\"bad\"; sid:2;)\n"
                            "reject udp any any -> any 53 (msg:\"reject udp\"; content:\"zz\"; sid:3;)\n"
                            "alert udp any any -> any any (msg:\"alert\"; content:\"x\"; sid:4;)\n"
                            "drop icmp any any -> any any (msg:\"icmp\"; itype:8; sid:5;)\n";
        auto loaded = ids::load_rules(rules, ids::default_rule_vars());
        auto e = ids::Engine::create(std::move(loaded.rules));
        check(e.is_ok());
        return std::shared_ptr<ids::Engine>(e.release_value());
    }();
    return shared;
}

void setup(Switch& sw, bool ids = true)
{
    for (const char* name : { "a", "b" }) {
        SegmentConfig seg;
        seg.name = name;
        seg.subnet = *Cidr::parse(name[0] == 'a' ? "10.1.0.0/24" : "10.2.0.0/24");
        seg.addressing.server_ip = IpAddr::v4(seg.subnet.base.v4_host_order() + 1);
        seg.addressing.server_mac = k_server_mac;
        seg.addressing.prefix = 24;
        check(sw.add_segment(seg).is_ok());
    }
    SegmentPolicy policy;
    AllowRule web;
    web.from.labels = { { "tier", "web" } };
    web.to.labels = { { "tier", "db" } };
    web.proto = Proto::Tcp;
    web.ports = { { 80, 80 }, { 443, 443 } };
    policy.allow.push_back(web);
    AllowRule any_udp;
    any_udp.proto = Proto::Udp;
    policy.allow.push_back(any_udp);
    AllowRule icmp;
    icmp.segment = "b";
    icmp.proto = Proto::Icmp;
    policy.allow.push_back(icmp);
    policy.analysis.labels = { { "role", "forensics" } };
    policy.has_analysis = true;
    sw.set_policy(policy);
    for (const auto& [id, info] : ports()) {
        PortConfig p;
        p.id = id;
        p.name = "g" + std::to_string(id);
        p.segment = info.segment;
        p.mac = info.mac;
        p.ip4 = info.ip;
        p.quarantined = info.quarantined;
        p.labels = { { "tier", id % 2 ? "web" : "db" } };
        if (info.analysis)
            p.labels["role"] = "forensics";
        // Port 2 is rate-limited, so that the buckets run dry under a burst.
        p.max_frames_per_second = id == 2 ? 20 : 0;
        p.max_bytes_per_second = id == 2 ? 20000 : 0;
        check(sw.add_port(p).is_ok());
    }
    if (ids)
        sw.set_ids(engine());
}

// A switch without the IDS, its deliveries and its EVE lines.
struct Twin {
    explicit Twin(bool fast_path)
        : sw(sink, SwitchOptions { .ids_enabled = true, .interface_name = "fuzz0", .wall_offset_ns = 1, .fast_path = fast_path })
    {
        setup(sw, false);
        sw.set_eve_sink([this](const std::string& line) { eve.push_back(line); });
    }
    Sink sink;
    std::vector<std::string> eve;
    Switch sw;
};

// Compares what the twins did since the last call (`seen`: deliveries and EVE lines compared).
void check_same(const Twin& a, const Twin& b, std::pair<size_t, size_t>& seen)
{
    check(a.sink.got.size() == b.sink.got.size() && a.eve.size() == b.eve.size());
    for (size_t i = seen.first; i < a.sink.got.size(); ++i)
        check(a.sink.got[i].port == b.sink.got[i].port && a.sink.got[i].frame == b.sink.got[i].frame);
    for (size_t i = seen.second; i < a.eve.size(); ++i)
        check(a.eve[i] == b.eve[i]);
    seen = { a.sink.got.size(), a.eve.size() };
    for (const auto& [id, info] : ports()) {
        const PortCounters& ca = *a.sw.counters(id);
        const PortCounters& cb = *b.sw.counters(id);
        check(std::memcmp(&ca, &cb, sizeof ca) == 0);
    }
    check(a.sw.flow_count() == b.sw.flow_count());
}

uint64_t drops(const PortCounters& c)
{
    return c.drop_rate + c.drop_malformed + c.drop_spoofed + c.drop_unknown_dest + c.drop_policy + c.drop_quarantine + c.drop_ids
        + c.drop_not_ip;
}

bool is_broadcast_ip(const Packet& p)
{
    if (p.l3 == L3::Ipv6)
        return p.ip_dst.bytes[0] == 0xff;
    if (p.l3 != L3::Ipv4)
        return false;
    uint32_t dst = p.ip_dst.v4_host_order();
    return (dst >> 28) == 0xe || (dst & 0xff) == 0xff;
}

// Frames the switch may keep without delivering or counting a drop: see the list at the top.
bool may_vanish(std::span<const uint8_t> frame)
{
    auto d = decode_frame(frame);
    if (!d.packet)
        return false;
    const Packet& p = *d.packet;
    return p.is_fragment || is_dhcp_client_packet(p) || p.dst == k_server_mac || p.dst.is_multicast() || is_broadcast_ip(p);
}

void rewrite_source(std::vector<uint8_t>& frame, const PortInfo& info)
{
    if (frame.size() >= 12)
        std::memcpy(frame.data() + 6, info.mac.bytes.data(), 6);
    if (frame.size() >= 34 && frame[12] == 0x08 && frame[13] == 0x00)
        std::memcpy(frame.data() + 26, info.ip.bytes.data(), 4);
    if (frame.size() >= 42 && frame[12] == 0x08 && frame[13] == 0x06) {
        std::memcpy(frame.data() + 22, info.mac.bytes.data(), 6);
        std::memcpy(frame.data() + 28, info.ip.bytes.data(), 4);
    }
}

void check_dhcp(std::span<const uint8_t> bytes)
{
    auto request = parse_dhcp_request(bytes);
    if (!request)
        return;
    SegmentAddressing seg;
    seg.server_ip = IpAddr::v4(0x0a010001);
    seg.server_mac = k_server_mac;
    seg.dns = { IpAddr::v4(0x0a010001) };
    auto answer = dhcp_answer(*request, seg, request->client_mac, IpAddr::v4(0x0a010002));
    if (!answer)
        return;
    auto d = decode_frame(*answer);
    check(d.packet.has_value());
    check(d.packet->l4 == L4::Udp && d.packet->src_port == 67 && d.packet->dst_port == 68);
    check(d.packet->src == k_server_mac);
}

// The reject the IDS sends back to the sender: a TCP RST or an ICMP unreachable, to the
// sender's MAC, from the MAC of the guest it tried to reach (another port of its segment). It
// answers the packet the IDS saw, which for fragments is the reassembled datagram, not the
// frame just received.
bool is_reject_to(const std::vector<uint8_t>& reply, uint32_t sender)
{
    auto r = decode_frame(reply);
    if (!r.packet)
        return false;
    const Packet& p = *r.packet;
    const PortInfo& from = ports().at(sender);
    bool peer = false;
    for (const auto& [id, info] : ports())
        peer |= id != sender && info.mac == p.src && std::strcmp(info.segment, from.segment) == 0;
    bool kind = (p.l4 == L4::Tcp && (p.tcp_flags & tcpflag::rst)) || (p.l4 == L4::Icmp && p.icmp_type == 3)
        || (p.l4 == L4::Icmpv6 && p.icmp_type == 1);
    return peer && p.dst == from.mac && kind;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    Sink sink;
    Switch sw(sink, SwitchOptions { .ids_enabled = true, .interface_name = "fuzz0", .wall_offset_ns = 1 });
    setup(sw);
    uint64_t now = 1000000000ull;
    std::map<uint32_t, uint64_t> received;
    Twin fast(true), slow(false);
    std::pair<size_t, size_t> seen;

    size_t pos = 0;
    while (pos + 3 <= size) {
        uint8_t selector = data[pos];
        size_t length = size_t(data[pos + 1]) << 8 | data[pos + 2];
        pos += 3;
        length = std::min(length, size - pos);
        std::vector<uint8_t> frame(data + pos, data + pos + length);
        pos += length;

        check_dhcp(frame);
        if (frame.size() > 42)
            check_dhcp(std::span<const uint8_t>(frame).subspan(42));

        if (selector & 0x80) {
            now += 2000000000ull;
            sw.tick(now);
            fast.sw.tick(now);
            slow.sw.tick(now);
        } else {
            now += 1000;
        }
        uint32_t id = selector & 7;
        auto info = ports().find(id);
        if (info != ports().end() && (selector & 0x40))
            rewrite_source(frame, info->second);

        PortCounters before;
        if (const PortCounters* c = sw.counters(id))
            before = *c;
        size_t delivered_before = sink.got.size();
        sw.receive(id, frame, now);
        fast.sw.receive(id, frame, now);
        slow.sw.receive(id, frame, now);
        check_same(fast, slow, seen);

        if (info == ports().end()) {
            check(sink.got.size() == delivered_before); // an unknown port's frame goes nowhere
            continue;
        }
        ++received[id];
        const PortCounters& after = *sw.counters(id);
        check(after.rx_frames == received[id]);
        bool dropped = drops(after) > drops(before);
        bool delivered = sink.got.size() > delivered_before;
        check(delivered || dropped || may_vanish(frame));

        for (size_t i = delivered_before; i < sink.got.size(); ++i) {
            const Delivery& d = sink.got[i];
            check(!d.frame.empty());
            auto to = ports().find(d.port);
            check(to != ports().end());
            check(std::strcmp(to->second.segment, info->second.segment) == 0);
            if (d.port == id) {
                // Back to the sender: only the switch's answers and rejects, never the frame.
                check(d.frame != frame);
                bool from_switch = std::memcmp(d.frame.data() + 6, k_server_mac.bytes.data(), 6) == 0;
                check(from_switch || is_reject_to(d.frame, id));
                continue;
            }
            // Forwarded: the sender's own MAC, and quarantine respected.
            check(d.frame.size() >= 14 && std::memcmp(d.frame.data() + 6, info->second.mac.bytes.data(), 6) == 0);
            if (info->second.quarantined)
                check(to->second.analysis);
            if (to->second.quarantined)
                check(info->second.analysis);
        }
    }
    for (const auto& [id, info] : ports())
        check(sw.counters(id)->tx_frames == sink.per_port[id]);
    sw.tick(now + 7200 * 1000000000ull);
    fast.sw.tick(now + 7200 * 1000000000ull);
    slow.sw.tick(now + 7200 * 1000000000ull);
    check_same(fast, slow, seen);
    return 0;
}
