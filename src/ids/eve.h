// Suricata's EVE JSON output for the IDS: alert, drop and flow events, one JSON object per
// line, with Suricata's field names so that existing tooling (jq scripts, Filebeat's Suricata
// module, ELK dashboards) reads Bulwark's log unchanged. docs/ids-rules.md lists the fields.
//
// Every function returns one line without its trailing newline; the writer adds '\n'. Text
// from rules and packets is escaped by the JSON encoder, and bytes that are not UTF-8 become
// U+FFFD, so a hostile payload or msg cannot break the line structure.
#pragma once

#include <cstdint>
#include <string>

#include "ids/rule.h"
#include "net/packet.h"

namespace bulwark::ids {

struct EveOptions {
    std::string in_iface; // the switch port, e.g. "vm-web1"; omitted when empty
    bool payload_printable = false; // add the payload with non-printable bytes as '.'
};

// "2026-11-25T14:03:12.123456+0000" (UTC) from wall-clock microseconds since the epoch.
std::string eve_timestamp(int64_t unix_us);
// "TCP", "UDP", "ICMP", "IPv6-ICMP", else the protocol number.
std::string eve_proto(uint8_t ip_proto);
std::string eve_ip(const net::IpAddr& addr);

// event_type "alert". flow_id 0 means no flow (the field is omitted).
std::string eve_alert(
    const net::Packet& packet, const Rule& rule, uint64_t flow_id, int64_t unix_us, const EveOptions& options = {});

// event_type "drop": the dropped packet's header fields and, when a rule caused it, its alert.
std::string eve_drop(
    const net::Packet& packet, const Rule* rule, uint64_t flow_id, int64_t unix_us, const EveOptions& options = {});

enum class FlowState : uint8_t { New, Established, Closed };
enum class FlowEndReason : uint8_t { Timeout, Forced, Shutdown };

// What the switch's flow table knows when a flow ends; the client is the initiator.
struct FlowRecord {
    uint64_t flow_id = 0;
    net::IpAddr src_ip; // client
    uint16_t src_port = 0;
    net::IpAddr dest_ip; // server
    uint16_t dest_port = 0;
    uint8_t ip_proto = 0;
    uint64_t pkts_toserver = 0;
    uint64_t pkts_toclient = 0;
    uint64_t bytes_toserver = 0;
    uint64_t bytes_toclient = 0;
    int64_t start_us = 0; // wall clock, microseconds since the epoch
    int64_t end_us = 0; // last packet seen
    FlowState state = FlowState::New;
    FlowEndReason reason = FlowEndReason::Timeout;
    bool alerted = false;
};

// event_type "flow", stamped unix_us (normally when the record is written).
std::string eve_flow(const FlowRecord& flow, int64_t unix_us, const EveOptions& options = {});

} // namespace bulwark::ids
