// A parsed Suricata rule (the subset docs/ids-rules.md describes): header, detection options
// and the informational options the EVE output reports.
//
// A Rule is plain data: it owns no compiled state (pcre, Hyperscan), so rule sets can be
// copied, inspected in tests and handed to the engine, which compiles them once.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "net/packet.h"

namespace bulwark::ids {

// The action of a rule, and of a verdict. None is only a verdict (no rule applied).
enum class Action : uint8_t { None, Alert, Pass, Drop, Reject };
const char* action_name(Action action);

// The rule header's protocol. Icmp covers ICMPv4 and ICMPv6; Ip covers every IP packet.
enum class Proto : uint8_t { Ip, Tcp, Udp, Icmp };
const char* proto_name(Proto proto);

// An address block with the host bits cleared. An IPv4 block never contains an IPv6 address
// and the reverse.
struct IpBlock {
    bool v6 = false;
    std::array<uint8_t, 16> base {};
    uint8_t prefix = 0;

    bool contains(const net::IpAddr& addr) const;
};

// An address group after variable expansion: a tree, because groups nest ("[$HOME_NET,
// !10.1.0.0/16]" where HOME_NET is itself a group). Within a group, positive items are
// alternatives and negated items exclusions: the group matches an address that matches some
// positive item (or any address when there is none) and no negated one.
struct AddrNode {
    enum class Kind : uint8_t { Any, Block, Group };
    Kind kind = Kind::Any;
    bool negated = false;
    IpBlock block; // Kind::Block
    std::vector<AddrNode> items; // Kind::Group

    bool matches(const net::IpAddr& addr) const;
};

// A port group, with the same tree semantics as AddrNode. Ranges are inclusive.
struct PortNode {
    enum class Kind : uint8_t { Any, Range, Group };
    Kind kind = Kind::Any;
    bool negated = false;
    uint16_t low = 0;
    uint16_t high = 65535;
    std::vector<PortNode> items;

    bool matches(uint16_t port) const;
    bool is_any() const { return kind == Kind::Any && !negated; }
};

struct Content {
    std::string bytes; // raw bytes after |hex| and escape decoding
    bool negated = false;
    bool nocase = false;
    bool fast_pattern = false;
    std::optional<uint32_t> offset;
    std::optional<uint32_t> depth;
    std::optional<int32_t> distance;
    std::optional<uint32_t> within;

    bool relative() const { return distance.has_value() || within.has_value(); }
};

// pcre:"/<regex>/<flags>". The engine compiles it; the parser has already checked that it
// compiles, so a rule set that loaded always compiles.
struct PcreMatch {
    std::string regex;
    uint32_t compile_options = 0; // PCRE2_CASELESS etc.
    bool relative = false; // the R flag
    bool negated = false;
};

// Payload matches in rule order: relative modifiers and pcre's R refer to the previous one.
using PayloadMatch = std::variant<Content, PcreMatch>;

struct FlowOption {
    std::optional<bool> to_server; // to_server/from_client: true; to_client/from_server: false
    std::optional<bool> established; // established: true; not_established: false
    bool stateless = false;
};

struct Dsize {
    enum class Op : uint8_t { Eq, Ne, Lt, Gt, Between };
    Op op = Op::Eq;
    uint32_t a = 0;
    uint32_t b = 0; // Between: a < size < b (exclusive, as in Suricata)

    bool matches(size_t size) const;
};

struct TcpFlags {
    enum class Mode : uint8_t { Exact, All, Any, Not }; // none, '+', '*', '!'
    Mode mode = Mode::Exact;
    uint8_t flags = 0;
    uint8_t ignore = 0; // bits masked off the packet's flags before comparing

    bool matches(uint8_t packet_flags) const;
};

struct Threshold {
    enum class Type : uint8_t { Limit, Threshold, Both };
    enum class Track : uint8_t { BySrc, ByDst };
    Type type = Type::Limit;
    Track track = Track::BySrc;
    uint32_t count = 1;
    uint32_t seconds = 60;
};

struct Reference {
    std::string system;
    std::string id;
};

struct Rule {
    Action action = Action::Alert;
    Proto proto = Proto::Ip;
    AddrNode src;
    PortNode src_ports;
    bool bidirectional = false; // "<>"
    AddrNode dst;
    PortNode dst_ports;

    // Informational.
    std::string msg;
    uint32_t sid = 0;
    uint32_t rev = 0;
    uint32_t gid = 1;
    std::string classtype;
    std::string category; // the classtype's description, "" without one
    uint8_t priority = 3; // explicit priority, else the classtype's, else 3
    std::vector<std::string> metadata;
    std::vector<Reference> references;

    // Detection.
    std::vector<PayloadMatch> payload;
    std::optional<FlowOption> flow;
    std::optional<Dsize> dsize;
    std::optional<TcpFlags> flags;
    std::optional<Threshold> threshold;

    size_t line = 0; // first line of the rule in its file (1-based)
    std::string text; // the rule as written, continuation lines joined
};

// A classtype from the built-in classification table.
struct Classification {
    const char* name;
    const char* description;
    uint8_t priority;
};
const Classification* find_classification(std::string_view name);

} // namespace bulwark::ids
