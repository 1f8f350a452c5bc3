#include "ids/rule.h"

#include <iterator>

namespace bulwark::ids {

const char* action_name(Action action)
{
    switch (action) {
    case Action::None:
        return "none";
    case Action::Alert:
        return "alert";
    case Action::Pass:
        return "pass";
    case Action::Drop:
        return "drop";
    case Action::Reject:
        return "reject";
    }
    return "none";
}

const char* proto_name(Proto proto)
{
    switch (proto) {
    case Proto::Ip:
        return "ip";
    case Proto::Tcp:
        return "tcp";
    case Proto::Udp:
        return "udp";
    case Proto::Icmp:
        return "icmp";
    }
    return "ip";
}

bool IpBlock::contains(const net::IpAddr& addr) const
{
    if (addr.v6 != v6)
        return false;
    size_t full = prefix / 8;
    for (size_t i = 0; i < full; ++i) {
        if (addr.bytes[i] != base[i])
            return false;
    }
    unsigned rest = prefix % 8;
    if (rest == 0)
        return true;
    auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (addr.bytes[full] & mask) == base[full];
}

namespace {

// A group matches when no negated item excludes the value and, if it has positive items, one
// of them includes it (Suricata's [a,b,!c]): the same rule for addresses and ports.
template <typename Node, typename Value> bool group_matches(const std::vector<Node>& items, const Value& value)
{
    bool has_positive = false;
    bool positive_hit = false;
    for (const auto& item : items) {
        if (item.negated) {
            // A negated item is an exclusion: the value must not be in what it negates.
            if (!item.matches(value))
                return false;
        } else {
            has_positive = true;
            positive_hit = positive_hit || item.matches(value);
        }
    }
    return !has_positive || positive_hit;
}

} // namespace

bool AddrNode::matches(const net::IpAddr& addr) const
{
    bool inner = false;
    switch (kind) {
    case Kind::Any:
        inner = true;
        break;
    case Kind::Block:
        inner = block.contains(addr);
        break;
    case Kind::Group:
        inner = group_matches(items, addr);
        break;
    }
    return negated ? !inner : inner;
}

bool PortNode::matches(uint16_t port) const
{
    bool inner = false;
    switch (kind) {
    case Kind::Any:
        inner = true;
        break;
    case Kind::Range:
        inner = port >= low && port <= high;
        break;
    case Kind::Group:
        inner = group_matches(items, port);
        break;
    }
    return negated ? !inner : inner;
}

bool Dsize::matches(size_t size) const
{
    switch (op) {
    case Op::Eq:
        return size == a;
    case Op::Ne:
        return size != a;
    case Op::Lt:
        return size < a;
    case Op::Gt:
        return size > a;
    case Op::Between:
        return size > a && size < b;
    }
    return false;
}

bool TcpFlags::matches(uint8_t packet_flags) const
{
    auto masked = static_cast<uint8_t>(packet_flags & ~ignore);
    switch (mode) {
    case Mode::Exact:
        return masked == flags;
    case Mode::All:
        return (masked & flags) == flags;
    case Mode::Any:
        return (masked & flags) != 0;
    case Mode::Not:
        return (masked & flags) == 0;
    }
    return false;
}

// The classtypes most rule sets use, with the description EVE reports as the alert's category
// and the default priority (1 is the most severe). Descriptions are the ones Suricata's
// classification.config gives, since dashboards group alerts by those exact strings.
static constexpr Classification k_classifications[] = {
    { "not-suspicious", "Not Suspicious Traffic", 3 },
    { "unknown", "Unknown Traffic", 3 },
    { "bad-unknown", "Potentially Bad Traffic", 2 },
    { "attempted-recon", "Attempted Information Leak", 2 },
    { "successful-recon-limited", "Information Leak", 2 },
    { "successful-recon-largescale", "Large Scale Information Source Leak", 2 },
    { "attempted-dos", "Attempted Denial of Service", 2 },
    { "successful-dos", "Denial of Service", 2 },
    { "attempted-user", "Attempted User Privilege Gain", 1 },
    { "unsuccessful-user", "Unsuccessful User Privilege Gain", 1 },
    { "successful-user", "Successful User Privilege Gain", 1 },
    { "attempted-admin", "Attempted Administrator Privilege Gain", 1 },
    { "successful-admin", "Successful Administrator Privilege Gain", 1 },
    { "rpc-portmap-decode", "Decode of an RPC Query", 2 },
    { "shellcode-detect", "Executable code was detected", 1 },
    { "string-detect", "A suspicious string was detected", 3 },
    { "suspicious-filename-detect", "A suspicious filename was detected", 2 },
    { "suspicious-login", "An attempted login using a suspicious username was detected", 2 },
    { "system-call-detect", "A system call was detected", 2 },
    { "tcp-connection", "A TCP connection was detected", 4 },
    { "trojan-activity", "A Network Trojan was detected", 1 },
    { "unusual-client-port-connection", "A client was using an unusual port", 2 },
    { "network-scan", "Detection of a Network Scan", 3 },
    { "denial-of-service", "Detection of a Denial of Service Attack", 2 },
    { "non-standard-protocol", "Detection of a non-standard protocol or event", 2 },
    { "protocol-command-decode", "Generic Protocol Command Decode", 3 },
    { "web-application-activity", "access to a potentially vulnerable web application", 2 },
    { "web-application-attack", "Web Application Attack", 1 },
    { "misc-activity", "Misc activity", 3 },
    { "misc-attack", "Misc Attack", 2 },
    { "icmp-event", "Generic ICMP event", 3 },
    { "inappropriate-content", "Inappropriate Content was Detected", 1 },
    { "policy-violation", "Potential Corporate Privacy Violation", 1 },
    { "default-login-attempt", "Attempt to login by a default username and password", 2 },
    { "targeted-activity", "Targeted Malicious Activity was Detected", 1 },
    { "exploit-kit", "Exploit Kit Activity Detected", 1 },
    { "external-ip-check", "Device Retrieving External IP Address Detected", 2 },
    { "domain-c2", "Domain Observed Used for C2 Detected", 1 },
    { "pup-activity", "Possibly Unwanted Program Detected", 2 },
    { "credential-theft", "Successful Credential Theft Detected", 1 },
    { "social-engineering", "Possible Social Engineering Attempted", 2 },
    { "coin-mining", "Crypto Currency Mining Activity Detected", 2 },
    { "command-and-control", "Malware Command and Control Activity Detected", 1 },
};

const Classification* find_classification(std::string_view name)
{
    for (const auto& c : k_classifications) {
        if (name == c.name)
            return &c;
    }
    return nullptr;
}

} // namespace bulwark::ids
