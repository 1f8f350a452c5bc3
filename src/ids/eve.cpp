#include "ids/eve.h"

#include <time.h>

#include <arpa/inet.h>
#include <cinttypes>
#include <cstdio>

#include "base/json.h"

namespace bulwark::ids {

std::string eve_timestamp(int64_t unix_us)
{
    int64_t secs = unix_us / 1000000;
    int64_t frac = unix_us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        --secs;
    }
    time_t t = static_cast<time_t>(secs);
    struct tm tm { };
    if (!gmtime_r(&t, &tm))
        return "1970-01-01T00:00:00.000000+0000";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06" PRId64 "+0000", tm.tm_year + 1900, tm.tm_mon + 1,
        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}

std::string eve_proto(uint8_t ip_proto)
{
    switch (ip_proto) {
    case net::ipproto::tcp:
        return "TCP";
    case net::ipproto::udp:
        return "UDP";
    case net::ipproto::icmp:
        return "ICMP";
    case net::ipproto::icmpv6:
        return "IPv6-ICMP";
    default:
        return std::to_string(ip_proto);
    }
}

std::string eve_ip(const net::IpAddr& addr)
{
    char buf[INET6_ADDRSTRLEN] = {};
    if (!::inet_ntop(addr.v6 ? AF_INET6 : AF_INET, addr.bytes.data(), buf, sizeof buf))
        return "";
    return buf;
}

namespace {

bool has_ports(uint8_t proto)
{
    return proto == net::ipproto::tcp || proto == net::ipproto::udp;
}

bool is_icmp(uint8_t proto)
{
    return proto == net::ipproto::icmp || proto == net::ipproto::icmpv6;
}

// timestamp, flow_id, in_iface, event_type and the 5-tuple (nlohmann sorts keys; readers do not care).
Json common(const net::Packet& p, const char* event_type, uint64_t flow_id, int64_t unix_us, const EveOptions& options)
{
    Json j = Json::object();
    j["timestamp"] = eve_timestamp(unix_us);
    if (flow_id)
        j["flow_id"] = flow_id;
    if (!options.in_iface.empty())
        j["in_iface"] = options.in_iface;
    j["event_type"] = event_type;
    j["src_ip"] = eve_ip(p.ip_src);
    if (has_ports(p.ip_proto) && (p.l4 == net::L4::Tcp || p.l4 == net::L4::Udp))
        j["src_port"] = p.src_port;
    j["dest_ip"] = eve_ip(p.ip_dst);
    if (has_ports(p.ip_proto) && (p.l4 == net::L4::Tcp || p.l4 == net::L4::Udp))
        j["dest_port"] = p.dst_port;
    j["proto"] = eve_proto(p.ip_proto);
    if (is_icmp(p.ip_proto) && (p.l4 == net::L4::Icmp || p.l4 == net::L4::Icmpv6)) {
        j["icmp_type"] = p.icmp_type;
        j["icmp_code"] = p.icmp_code;
    }
    return j;
}

Json alert_object(const Rule& rule)
{
    Json a = Json::object();
    a["action"] = rule.action == Action::Drop || rule.action == Action::Reject ? "blocked" : "allowed";
    a["gid"] = rule.gid;
    a["signature_id"] = rule.sid;
    a["rev"] = rule.rev;
    a["signature"] = rule.msg;
    a["category"] = rule.category;
    a["severity"] = rule.priority;
    // metadata "key value, key value" becomes {"key": ["value", ...]}, as Suricata logs it.
    if (!rule.metadata.empty()) {
        Json md = Json::object();
        for (const auto& entry : rule.metadata) {
            auto space = entry.find(' ');
            std::string key = entry.substr(0, space);
            std::string value = space == std::string::npos ? "" : entry.substr(space + 1);
            while (!value.empty() && value.front() == ' ')
                value.erase(0, 1);
            if (key.empty())
                continue;
            md[key].push_back(value);
        }
        if (!md.empty())
            a["metadata"] = md;
    }
    return a;
}

std::string payload_printable(std::span<const uint8_t> payload)
{
    std::string out;
    out.reserve(payload.size());
    for (uint8_t c : payload)
        out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '.');
    return out;
}

} // namespace

std::string eve_alert(const net::Packet& packet, const Rule& rule, uint64_t flow_id, int64_t unix_us, const EveOptions& options)
{
    Json j = common(packet, "alert", flow_id, unix_us, options);
    j["alert"] = alert_object(rule);
    if (options.payload_printable)
        j["payload_printable"] = payload_printable(packet.payload);
    return json_dump(j);
}

std::string eve_drop(const net::Packet& p, const Rule* rule, uint64_t flow_id, int64_t unix_us, const EveOptions& options)
{
    Json j = common(p, "drop", flow_id, unix_us, options);
    Json d = Json::object();
    size_t ip_len = p.ip_header.size() + p.ip_payload.size();
    if (p.l3 == net::L3::Ipv6) {
        d["len"] = p.ip_payload.size() + (p.ip_header.size() > 40 ? p.ip_header.size() - 40 : 0);
        d["hoplimit"] = p.ttl;
        if (p.ip_header.size() >= 4) {
            d["tc"] = ((p.ip_header[0] & 0x0f) << 4) | (p.ip_header[1] >> 4);
            d["flowlbl"] = ((p.ip_header[1] & 0x0f) << 16) | (p.ip_header[2] << 8) | p.ip_header[3];
        }
    } else {
        d["len"] = ip_len;
        if (p.ip_header.size() >= 2)
            d["tos"] = p.ip_header[1];
        d["ttl"] = p.ttl;
        d["ipid"] = p.ip_id;
    }
    if (p.l4 == net::L4::Tcp) {
        d["tcpseq"] = p.tcp_seq;
        d["tcpack"] = p.tcp_ack;
        d["tcpwin"] = p.tcp_window;
        d["syn"] = (p.tcp_flags & net::tcpflag::syn) != 0;
        d["ack"] = (p.tcp_flags & net::tcpflag::ack) != 0;
        d["psh"] = (p.tcp_flags & net::tcpflag::psh) != 0;
        d["rst"] = (p.tcp_flags & net::tcpflag::rst) != 0;
        d["urg"] = (p.tcp_flags & net::tcpflag::urg) != 0;
        d["fin"] = (p.tcp_flags & net::tcpflag::fin) != 0;
    } else if (p.l4 == net::L4::Udp) {
        d["udplen"] = p.payload.size() + 8;
    } else if (p.l4 == net::L4::Icmp || p.l4 == net::L4::Icmpv6) {
        d["icmp_type"] = p.icmp_type;
        d["icmp_code"] = p.icmp_code;
    }
    j["drop"] = d;
    if (rule)
        j["alert"] = alert_object(*rule);
    return json_dump(j);
}

std::string eve_flow(const FlowRecord& flow, int64_t unix_us, const EveOptions& options)
{
    Json j = Json::object();
    j["timestamp"] = eve_timestamp(unix_us);
    if (flow.flow_id)
        j["flow_id"] = flow.flow_id;
    if (!options.in_iface.empty())
        j["in_iface"] = options.in_iface;
    j["event_type"] = "flow";
    j["src_ip"] = eve_ip(flow.src_ip);
    if (has_ports(flow.ip_proto))
        j["src_port"] = flow.src_port;
    j["dest_ip"] = eve_ip(flow.dest_ip);
    if (has_ports(flow.ip_proto))
        j["dest_port"] = flow.dest_port;
    j["proto"] = eve_proto(flow.ip_proto);
    Json f = Json::object();
    f["pkts_toserver"] = flow.pkts_toserver;
    f["pkts_toclient"] = flow.pkts_toclient;
    f["bytes_toserver"] = flow.bytes_toserver;
    f["bytes_toclient"] = flow.bytes_toclient;
    f["start"] = eve_timestamp(flow.start_us);
    f["end"] = eve_timestamp(flow.end_us);
    f["age"] = flow.end_us > flow.start_us ? (flow.end_us - flow.start_us) / 1000000 : 0;
    switch (flow.state) {
    case FlowState::New:
        f["state"] = "new";
        break;
    case FlowState::Established:
        f["state"] = "established";
        break;
    case FlowState::Closed:
        f["state"] = "closed";
        break;
    }
    switch (flow.reason) {
    case FlowEndReason::Timeout:
        f["reason"] = "timeout";
        break;
    case FlowEndReason::Forced:
        f["reason"] = "forced";
        break;
    case FlowEndReason::Shutdown:
        f["reason"] = "shutdown";
        break;
    }
    f["alerted"] = flow.alerted;
    j["flow"] = f;
    return json_dump(j);
}

} // namespace bulwark::ids
