// Fuzzes a guest port and its uplink (src/net/switch.h, "Uplinks") as a compromised guest and a
// hostile outside (or a misbehaving passt) would attack them. One guest with an uplink on a
// segment, a neighbour without one, `outside` rules for some TCP, UDP and ICMP, and an IDS rule
// set with drop, reject and alert rules. After every frame:
//   - every frame that reaches the uplink is IPv4 from the guest's MAC and address, to an
//     address a rule may open (never loopback, 0/8, multicast, reserved, link-local, or any
//     segment's subnet, except DNS to the gateway's own address), at most the frame size a
//     guest can send;
//   - every frame the uplink's traffic gives the guest is readdressed from the gateway's MAC to
//     the guest's, IPv4 to the guest's address from an outside address, and fits the guest's
//     link (larger datagrams are fragmented); from the gateway's address only DNS answers;
//   - the neighbour never receives anything from the uplink, and the uplink nothing from the
//     neighbour;
//   - while the guest is quarantined nothing crosses the uplink either way;
//   - a twin switch with the same ports but no `outside` rule (and no [uplink] dns) never lets
//     anything cross.
//
// Input layout: chunks of [selector: u8][length: u16 big-endian][length bytes of frame]. Bit 0
// of the selector picks the sender (0: the guest, 1: the uplink), bit 1 the neighbour instead;
// bit 6 fixes the addresses (the guest's source MAC and IP and the gateway's MAC as the
// destination; for the uplink, the guest's address as the destination and an outside source
// picked by bits 2-3), so mutated frames get past the first checks; bit 5 toggles the
// guest's quarantine first; bit 7 advances the clock by 2 s (flow and fragment timeouts).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <source_location>
#include <span>
#include <string>
#include <vector>

#include "ids/engine.h"
#include "ids/rule_parser.h"
#include "net/packet.h"
#include "net/switch.h"

using namespace bulwark;
using namespace bulwark::net;

namespace {

void check(bool condition, std::source_location where = std::source_location::current())
{
    if (!condition) {
        std::fprintf(stderr, "uplink_fuzz: invariant at line %u failed\n", unsigned(where.line()));
        std::abort();
    }
}

constexpr uint32_t k_guest = 1, k_neighbour = 2, k_uplink = 9;
const MacAddr k_gateway_mac { { 0x02, 0, 0, 0, 0, 1 } };
const MacAddr k_guest_mac { { 0x52, 0x54, 0, 0, 0, 1 } };
const MacAddr k_neighbour_mac { { 0x52, 0x54, 0, 0, 0, 2 } };
const IpAddr k_guest_ip = IpAddr::v4(0x0a4d010a); // 10.77.1.10
const IpAddr k_neighbour_ip = IpAddr::v4(0x0a4d010b); // 10.77.1.11
const IpAddr k_gateway_ip = IpAddr::v4(0x0a4d0101); // 10.77.1.1
const Cidr k_segments[] = { { IpAddr::v4(0x0a4d0100), 24 }, { IpAddr::v4(0x0a4d0200), 24 } };
// Outside sources for bit 6: an allowed server, another, the metadata address, the gateway.
const uint32_t k_outside[] = { 0xc6336407, 0xcb007105, 0xa9fea9fe, 0x0a4d0101 };

struct Sink : FrameSink {
    std::vector<std::pair<uint32_t, std::vector<uint8_t>>> got;
    void deliver(uint32_t port, std::span<const uint8_t> frame) override
    {
        got.emplace_back(port, std::vector<uint8_t>(frame.begin(), frame.end()));
    }
};

std::shared_ptr<ids::Engine> engine()
{
    static auto shared = [] {
        auto loaded = ids::load_rules("drop tcp any any -> any 443 (msg:\"d\"; content:\"DROP\"; sid:1;)\n"
                                      "reject tcp any 443 -> any any (msg:\"r\"; content:\"REJECT\"; sid:2;)\n"
                                      "alert udp any any -> any any (msg:\"a\"; content:\"x\"; sid:3;)\n"
                                      "reject icmp any any -> any any (msg:\"i\"; itype:8; content:\"REJ\"; sid:4;)\n",
            ids::default_rule_vars());
        auto e = ids::Engine::create(std::move(loaded.rules));
        check(e.is_ok());
        return std::shared_ptr<ids::Engine>(e.release_value());
    }();
    return shared;
}

void setup(Switch& sw, bool outside_rules)
{
    for (const Cidr& subnet : k_segments) {
        SegmentConfig seg;
        seg.name = subnet.base.bytes[2] == 1 ? "lab" : "other";
        seg.subnet = subnet;
        seg.addressing.server_ip = IpAddr::v4(subnet.base.v4_host_order() + 1);
        seg.addressing.server_mac = k_gateway_mac;
        seg.addressing.prefix = 24;
        check(sw.add_segment(seg).is_ok());
    }
    SegmentPolicy policy;
    policy.uplink_segments = { "lab" };
    policy.uplink_dns = outside_rules; // DNS to the gateway's own address: the one exception below
    AllowRule any;
    policy.allow.push_back(any); // guests may talk to each other
    if (outside_rules) {
        AllowRule https;
        https.outside = { { IpAddr::v4(0), 0 } };
        https.proto = Proto::Tcp;
        https.ports = { { 443, 443 } };
        policy.allow.push_back(https);
        AllowRule udp;
        udp.outside = { { IpAddr::v4(0xc6336400), 24 } };
        udp.proto = Proto::Udp;
        policy.allow.push_back(udp);
        AllowRule icmp;
        icmp.outside = { { IpAddr::v4(0xc6336400), 24 }, { IpAddr::v4(0xa9fe0000), 16 } };
        icmp.proto = Proto::Icmp;
        policy.allow.push_back(icmp);
    }
    sw.set_policy(policy);
    for (auto [id, mac, ip] :
        { std::tuple { k_guest, k_guest_mac, k_guest_ip }, std::tuple { k_neighbour, k_neighbour_mac, k_neighbour_ip } }) {
        PortConfig p;
        p.id = id;
        p.name = "g" + std::to_string(id);
        p.segment = "lab";
        p.mac = mac;
        p.ip4 = ip;
        p.max_frames_per_second = 0;
        p.max_bytes_per_second = 0;
        check(sw.add_port(p).is_ok());
    }
    check(sw.add_uplink(k_uplink, k_guest, "g1/uplink").is_ok());
    sw.set_ids(engine());
}

bool in_a_segment(const IpAddr& ip)
{
    for (const Cidr& c : k_segments) {
        if (c.contains(ip))
            return true;
    }
    return false;
}

void fix_addresses(std::vector<uint8_t>& frame, bool from_uplink, uint8_t selector)
{
    if (frame.size() < 14)
        return;
    if (from_uplink) {
        std::memcpy(frame.data(), k_guest_mac.bytes.data(), 6);
        if (frame.size() >= 34 && frame[12] == 0x08 && frame[13] == 0x00) {
            IpAddr src = IpAddr::v4(k_outside[(selector >> 2) & 3]);
            std::memcpy(frame.data() + 26, src.bytes.data(), 4);
            std::memcpy(frame.data() + 30, k_guest_ip.bytes.data(), 4);
        }
        return;
    }
    std::memcpy(frame.data(), k_gateway_mac.bytes.data(), 6);
    std::memcpy(frame.data() + 6, k_guest_mac.bytes.data(), 6);
    if (frame.size() >= 34 && frame[12] == 0x08 && frame[13] == 0x00)
        std::memcpy(frame.data() + 26, k_guest_ip.bytes.data(), 4);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    Sink sink, closed_sink;
    Switch sw(sink, SwitchOptions { .ids_enabled = true, .interface_name = "fuzz0", .wall_offset_ns = 1 });
    Switch closed(closed_sink, SwitchOptions { .ids_enabled = true, .interface_name = "fuzz0", .wall_offset_ns = 1 });
    setup(sw, true);
    setup(closed, false);
    uint64_t now = 1000000000ull;
    bool quarantined = false;
    size_t pos = 0;
    while (pos + 3 <= size) {
        uint8_t selector = data[pos];
        size_t length = size_t(data[pos + 1]) << 8 | data[pos + 2];
        pos += 3;
        length = std::min(length, size - pos);
        std::vector<uint8_t> frame(data + pos, data + pos + length);
        pos += length;

        if (selector & 0x80) {
            now += 2000000000ull;
            sw.tick(now);
            closed.tick(now);
        } else {
            now += 1000;
        }
        if (selector & 0x20) {
            quarantined = !quarantined;
            check(sw.set_quarantine(k_guest, quarantined).is_ok());
            check(closed.set_quarantine(k_guest, quarantined).is_ok());
        }
        bool from_uplink = selector & 1;
        uint32_t port = (selector & 2) ? k_neighbour : (from_uplink ? k_uplink : k_guest);
        if (selector & 0x40)
            fix_addresses(frame, from_uplink, selector);

        size_t before = sink.got.size();
        size_t closed_before = closed_sink.got.size();
        sw.receive(port, frame, now);
        closed.receive(port, frame, now);

        for (size_t i = closed_before; i < closed_sink.got.size(); ++i) {
            check(closed_sink.got[i].first != k_uplink);
            check(port != k_uplink || closed_sink.got[i].first != k_guest); // nothing opened, nothing back
        }
        for (size_t i = before; i < sink.got.size(); ++i) {
            const auto& [to, out] = sink.got[i];
            auto d = decode_frame(out);
            if (to == k_uplink) {
                check(!quarantined);
                check(port != k_neighbour);
                check(d.packet && d.packet->l3 == L3::Ipv4);
                check(d.packet->src == k_guest_mac && d.packet->ip_src == k_guest_ip);
                bool dns = d.packet->ip_dst == k_gateway_ip && d.packet->dst_port == 53;
                check(dns || (!in_a_segment(d.packet->ip_dst) && outside_address_is_reachable(d.packet->ip_dst)));
                check(out.size() <= k_max_frame || port == k_uplink);
            } else if (port == k_uplink) {
                check(!quarantined);
                check(to == k_guest);
                check(out.size() <= k_max_frame);
                check(d.packet && d.packet->l3 == L3::Ipv4);
                check(d.packet->dst == k_guest_mac && d.packet->src == k_gateway_mac);
                check(d.packet->ip_dst == k_guest_ip);
                bool dns = d.packet->ip_src == k_gateway_ip && (d.packet->src_port == 53 || d.packet->is_fragment);
                check(dns || (!in_a_segment(d.packet->ip_src) && outside_address_is_reachable(d.packet->ip_src)));
            }
        }
    }
    return 0;
}
