// The switch's own address on each segment: a DHCP responder that hands every guest the one
// address bulwarkd assigned to its port, and an ARP responder for the switch's address (so
// DHCP renewals, which are unicast to the server, reach it).
//
// DHCP (RFC 2131) rides on BOOTP: a 236-byte fixed header (op, htype, hlen, hops, xid, secs,
// flags, ciaddr, yiaddr, siaddr, giaddr, chaddr[16], sname[64], file[128]), the magic cookie
// 99.130.83.99, then options as type/length/value bytes (0 is padding, 255 ends them). Only
// the options read here matter: 53 message type, 50 requested address, 54 server identifier.
// Everything else in a request is ignored. The request comes from a guest, so every length is
// checked against the bytes present, and a request whose client hardware address is not the
// port's own MAC gets no answer: a guest cannot obtain (or exhaust) addresses for others.
//
// There is no pool and no lease state: the address of a port never changes while it exists,
// so answering is a pure function of the request and the port.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "net/packet.h"

namespace bulwark::net {

struct SegmentAddressing {
    IpAddr server_ip; // the switch's own address on the segment (the subnet's .1)
    MacAddr server_mac; // the switch's MAC on the segment
    uint8_t prefix = 24;
    std::optional<IpAddr> router; // only when the segment has an uplink
    std::vector<IpAddr> dns;
    uint32_t lease_seconds = 86400;
};

namespace dhcp {
inline constexpr uint8_t discover = 1;
inline constexpr uint8_t offer = 2;
inline constexpr uint8_t request = 3;
inline constexpr uint8_t decline = 4;
inline constexpr uint8_t ack = 5;
inline constexpr uint8_t nak = 6;
inline constexpr uint8_t release = 7;
inline constexpr uint8_t inform = 8;
} // namespace dhcp

struct DhcpRequest {
    uint8_t type = 0;
    uint32_t xid = 0;
    uint16_t flags = 0;
    MacAddr client_mac;
    IpAddr ciaddr;
    std::optional<IpAddr> requested;
    std::optional<IpAddr> server_id;
};

// A UDP datagram from port 68 to port 67 over IPv4.
bool is_dhcp_client_packet(const Packet& packet);

// Parses a DHCP client message from the UDP payload; nullopt for anything malformed.
std::optional<DhcpRequest> parse_dhcp_request(std::span<const uint8_t> udp_payload);

// The answer to a guest's DHCP message, as a whole Ethernet frame, or nullopt when none is
// due (another server was chosen, a release, a decline, a spoofed client address).
std::optional<std::vector<uint8_t>> dhcp_answer(
    const DhcpRequest& request, const SegmentAddressing& segment, const MacAddr& port_mac, const IpAddr& port_ip);

// The ARP reply for a request that asks for the switch's own address; nullopt otherwise.
std::optional<std::vector<uint8_t>> arp_answer(const Packet& packet, const SegmentAddressing& segment);

} // namespace bulwark::net
