// Builds well-formed Ethernet frames (ARP, IPv4, IPv6, TCP, UDP, ICMP, with correct lengths
// and checksums): the frames the switch writes itself (DHCP answers, ARP replies, IDS rejects)
// and the traffic generator's frames for tests and benchmarks.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "net/packet.h"

namespace bulwark::net {

// Internet checksum (RFC 1071) over bytes, starting from a partial sum.
uint16_t internet_checksum(std::span<const uint8_t> bytes, uint32_t initial = 0);

// The sum of the TCP/UDP/ICMPv6 pseudo-header (addresses, protocol, length), to start a checksum.
uint32_t pseudo_header_sum(const IpAddr& src, const IpAddr& dst, uint8_t proto, std::size_t l4_length);

std::vector<uint8_t> ethernet_frame(const MacAddr& src, const MacAddr& dst, uint16_t ethertype, std::span<const uint8_t> payload);

// An IPv4 header (no options) followed by payload. frag_offset is in bytes (a multiple of 8).
struct Ipv4Fields {
    uint8_t ttl = 64;
    uint16_t id = 0;
    bool dont_fragment = false;
    bool more_fragments = false;
    uint16_t frag_offset = 0;
    uint8_t tos = 0;
};
std::vector<uint8_t> ipv4_packet(
    const IpAddr& src, const IpAddr& dst, uint8_t proto, std::span<const uint8_t> payload, const Ipv4Fields& fields = {});
// An IPv6 header followed by payload (no extension headers).
std::vector<uint8_t> ipv6_packet(
    const IpAddr& src, const IpAddr& dst, uint8_t next_header, std::span<const uint8_t> payload, uint8_t hop_limit = 64);

// L4 segments with their checksum computed over the pseudo-header of src/dst.
std::vector<uint8_t> udp_segment(
    const IpAddr& src, const IpAddr& dst, uint16_t sport, uint16_t dport, std::span<const uint8_t> payload);
std::vector<uint8_t> tcp_segment(const IpAddr& src, const IpAddr& dst, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
    uint8_t flags, std::span<const uint8_t> payload, uint16_t window = 65535);
// ICMP (IPv4) or ICMPv6 (when the addresses are IPv6) message: type, code, 4 bytes of "rest
// of header" (echo: identifier and sequence), then data.
std::vector<uint8_t> icmp_message(
    const IpAddr& src, const IpAddr& dst, uint8_t type, uint8_t code, uint32_t rest, std::span<const uint8_t> data);

// An endpoint on a segment: builds whole frames from it to a peer.
struct Endpoint {
    MacAddr mac;
    IpAddr ip;
};

std::vector<uint8_t> udp_frame(
    const Endpoint& from, const Endpoint& to, uint16_t sport, uint16_t dport, std::span<const uint8_t> payload);
std::vector<uint8_t> tcp_frame(const Endpoint& from, const Endpoint& to, uint16_t sport, uint16_t dport, uint32_t seq,
    uint32_t ack, uint8_t flags, std::span<const uint8_t> payload);
std::vector<uint8_t> icmp_echo_frame(
    const Endpoint& from, const Endpoint& to, bool reply, uint16_t id, uint16_t seq, std::span<const uint8_t> data = {});
// ARP request (to broadcast) or reply (to target_mac) for IPv4.
std::vector<uint8_t> arp_frame(uint16_t op, const MacAddr& sender_mac, const IpAddr& sender_ip, const MacAddr& target_mac,
    const IpAddr& target_ip, const MacAddr& eth_dst);

// Splits an IPv4 frame that is too large for the link (a datagram reassembled by the switch)
// into fragments of at most mtu bytes of IP each. The fragments carry a plain 20-byte header
// (IP options are not repeated) with the original's id, TTL and TOS. Empty when the frame is
// not IPv4, says "don't fragment", or is malformed.
std::vector<std::vector<uint8_t>> fragment_ipv4_frame(std::span<const uint8_t> frame, std::size_t mtu = 1500);

} // namespace bulwark::net
