#include "ids/rule_parser.h"
#include "base/hash.h"

#include <arpa/inet.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <algorithm>
#include <charconv>
#include <cstring>
#include <pcre2.h>
#include <set>

namespace bulwark::ids {

namespace {

constexpr size_t k_max_group_depth = 32; // brackets inside brackets, variables included
constexpr int64_t k_max_modifier = 1 << 20;

// A rule-level failure: the keyword (or header field) at fault and a sentence about it.
struct Failure {
    std::string keyword;
    std::string message;
};

template <typename T> using Parsed = std::variant<T, Failure>;

Failure fail(std::string keyword, std::string message)
{
    return Failure { std::move(keyword), std::move(message) };
}

std::string_view trim(std::string_view s)
{
    size_t b = 0;
    while (b < s.size() && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n'))
        ++b;
    size_t e = s.size();
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n'))
        --e;
    return s.substr(b, e - b);
}

// Untrusted text quoted in an error message: bounded and without control characters.
std::string quote(std::string_view s)
{
    std::string out;
    for (unsigned char c : s.substr(0, 64))
        out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
    if (s.size() > 64)
        out += "...";
    return out;
}

std::optional<int64_t> parse_int(std::string_view s)
{
    s = trim(s);
    if (s.empty() || s.size() > 18)
        return std::nullopt;
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size())
        return std::nullopt;
    return v;
}

std::optional<uint32_t> parse_u32(std::string_view s)
{
    auto v = parse_int(s);
    if (!v || *v < 0 || *v > UINT32_MAX)
        return std::nullopt;
    return static_cast<uint32_t>(*v);
}

// Splits a group's inside on the commas that are not inside nested brackets.
std::optional<std::vector<std::string_view>> split_group(std::string_view s)
{
    std::vector<std::string_view> parts;
    int depth = 0;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '[') {
            ++depth;
        } else if (s[i] == ']') {
            if (--depth < 0)
                return std::nullopt;
        } else if (s[i] == ',' && depth == 0) {
            parts.push_back(trim(s.substr(start, i - start)));
            start = i + 1;
        }
    }
    if (depth != 0)
        return std::nullopt;
    parts.push_back(trim(s.substr(start)));
    return parts;
}

// Wraps a node in a negated group when it is negated already ("!$EXTERNAL_NET" where
// EXTERNAL_NET is "!$HOME_NET"): a group of one positive item matches what the item matches.
template <typename Node> Node negate(Node node)
{
    if (!node.negated) {
        node.negated = true;
        return node;
    }
    Node wrapper;
    wrapper.kind = Node::Kind::Group;
    wrapper.negated = true;
    wrapper.items.push_back(std::move(node));
    return wrapper;
}

class GroupParser {
public:
    GroupParser(const RuleVars& vars, std::string field)
        : m_vars(vars)
        , m_field(std::move(field))
    {
    }

    Parsed<AddrNode> address(std::string_view text, size_t depth) { return parse<AddrNode>(text, depth); }
    Parsed<PortNode> port(std::string_view text, size_t depth) { return parse<PortNode>(text, depth); }

private:
    template <typename Node> Parsed<Node> parse(std::string_view text, size_t depth)
    {
        text = trim(text);
        if (depth > k_max_group_depth)
            return fail(m_field, m_field + " nests groups or variables too deeply");
        if (++m_items > k_max_group_items)
            return fail(m_field, m_field + " has more than " + std::to_string(k_max_group_items) + " items");
        if (text.empty())
            return fail(m_field, m_field + " has an empty item");
        if (text[0] == '!') {
            auto inner = parse<Node>(text.substr(1), depth + 1);
            if (auto* f = std::get_if<Failure>(&inner))
                return *f;
            auto node = std::get<Node>(std::move(inner));
            if (node.kind == Node::Kind::Any && !node.negated)
                return fail(m_field, m_field + " negates 'any', which matches nothing");
            return negate(std::move(node));
        }
        if (text[0] == '[') {
            if (text.back() != ']')
                return fail(m_field, m_field + " has an unbalanced '[' in '" + quote(text) + "'");
            auto parts = split_group(text.substr(1, text.size() - 2));
            if (!parts)
                return fail(m_field, m_field + " has unbalanced brackets in '" + quote(text) + "'");
            Node group;
            group.kind = Node::Kind::Group;
            for (auto part : *parts) {
                auto item = parse<Node>(part, depth + 1);
                if (auto* f = std::get_if<Failure>(&item))
                    return *f;
                group.items.push_back(std::get<Node>(std::move(item)));
            }
            return group;
        }
        if (text[0] == '$') {
            auto name = text.substr(1);
            auto it = m_vars.find(name);
            if (it == m_vars.end())
                return fail(m_field, m_field + " uses the undefined variable '$" + quote(name) + "'");
            if (depth >= k_max_var_depth + k_max_group_depth / 2)
                return fail(m_field, "variable '$" + quote(name) + "' refers to itself or nests too deeply");
            return parse<Node>(it->second, depth + 1);
        }
        if (text == "any")
            return Node {};
        if constexpr (std::is_same_v<Node, AddrNode>)
            return address_leaf(text);
        else
            return port_leaf(text);
    }

    Parsed<AddrNode> address_leaf(std::string_view text)
    {
        std::string addr(text);
        std::optional<int64_t> prefix;
        if (auto slash = addr.find('/'); slash != std::string::npos) {
            std::string mask = addr.substr(slash + 1);
            addr.resize(slash);
            in_addr mask4 {};
            if (mask.find('.') != std::string::npos && ::inet_pton(AF_INET, mask.c_str(), &mask4) == 1) {
                // A dotted netmask: only contiguous masks make a block.
                uint32_t m = ntohl(mask4.s_addr);
                int bits = 0;
                while (bits < 32 && (m & (0x80000000u >> bits)))
                    ++bits;
                if (bits < 32 && (m << bits) != 0)
                    return fail(m_field, m_field + " has a non-contiguous netmask in '" + quote(text) + "'");
                prefix = bits;
            } else {
                prefix = parse_int(mask);
                if (!prefix)
                    return fail(m_field, m_field + " has a bad prefix length in '" + quote(text) + "'");
            }
        }
        AddrNode node;
        node.kind = AddrNode::Kind::Block;
        in_addr a4 {};
        in6_addr a6 {};
        if (::inet_pton(AF_INET, addr.c_str(), &a4) == 1) {
            std::memcpy(node.block.base.data(), &a4, 4);
            node.block.prefix = static_cast<uint8_t>(prefix.value_or(32));
            if (prefix && (*prefix < 0 || *prefix > 32))
                return fail(m_field, m_field + " has a bad prefix length in '" + quote(text) + "'");
        } else if (::inet_pton(AF_INET6, addr.c_str(), &a6) == 1) {
            node.block.v6 = true;
            std::memcpy(node.block.base.data(), &a6, 16);
            if (prefix && (*prefix < 0 || *prefix > 128))
                return fail(m_field, m_field + " has a bad prefix length in '" + quote(text) + "'");
            node.block.prefix = static_cast<uint8_t>(prefix.value_or(128));
        } else {
            return fail(m_field, m_field + " has an address that does not parse: '" + quote(text) + "'");
        }
        // Clear the host bits so that matching compares whole bytes.
        for (size_t bit = node.block.prefix; bit < 128; ++bit)
            node.block.base[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
        return node;
    }

    Parsed<PortNode> port_leaf(std::string_view text)
    {
        PortNode node;
        node.kind = PortNode::Kind::Range;
        auto colon = text.find(':');
        auto bad = [&] { return fail(m_field, m_field + " has a port that does not parse: '" + quote(text) + "'"); };
        auto port = [](std::string_view s) -> std::optional<uint16_t> {
            auto v = parse_int(s);
            if (!v || *v < 0 || *v > 65535)
                return std::nullopt;
            return static_cast<uint16_t>(*v);
        };
        if (colon == std::string_view::npos) {
            auto p = port(text);
            if (!p)
                return bad();
            node.low = node.high = *p;
            return node;
        }
        auto lo = trim(text.substr(0, colon));
        auto hi = trim(text.substr(colon + 1));
        if (lo.empty() && hi.empty())
            return bad();
        if (!lo.empty()) {
            auto p = port(lo);
            if (!p)
                return bad();
            node.low = *p;
        }
        if (!hi.empty()) {
            auto p = port(hi);
            if (!p)
                return bad();
            node.high = *p;
        }
        if (node.low > node.high)
            return fail(m_field, m_field + " has a reversed port range '" + quote(text) + "'");
        return node;
    }

    const RuleVars& m_vars;
    std::string m_field;
    size_t m_items = 0;
};

// Splits the header on whitespace outside brackets ("[1.2.3.4, 5.6.7.8]" is one field).
std::vector<std::string_view> split_header(std::string_view s)
{
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
            ++i;
        if (i >= s.size())
            break;
        size_t start = i;
        int depth = 0;
        while (i < s.size() && (depth > 0 || (s[i] != ' ' && s[i] != '\t'))) {
            if (s[i] == '[')
                ++depth;
            else if (s[i] == ']' && depth > 0)
                --depth;
            ++i;
        }
        out.push_back(s.substr(start, i - start));
    }
    return out;
}

struct Option {
    std::string_view name;
    std::string_view value;
    bool has_value = false;
};

Parsed<std::vector<Option>> split_options(std::string_view s)
{
    std::vector<Option> out;
    size_t i = 0;
    while (true) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
            ++i;
        if (i >= s.size())
            break;
        size_t start = i;
        bool in_quotes = false;
        while (i < s.size()) {
            char c = s[i];
            if (c == '\\' && i + 1 < s.size()) {
                i += 2;
                continue;
            }
            if (c == '"')
                in_quotes = !in_quotes;
            else if (c == ';' && !in_quotes)
                break;
            ++i;
        }
        std::string_view opt = s.substr(start, std::min(i, s.size()) - start);
        if (i >= s.size()) {
            if (in_quotes)
                return fail("", "an option has an unterminated quoted string");
            std::string name = quote(trim(opt.substr(0, opt.find(':'))));
            return fail(name, "the last option '" + name + "' does not end with ';'");
        }
        ++i;
        if (out.size() >= k_max_options)
            return fail("", "the rule has more than " + std::to_string(k_max_options) + " options");
        Option o;
        auto colon = opt.find(':');
        o.name = trim(opt.substr(0, colon));
        if (colon != std::string_view::npos) {
            o.value = trim(opt.substr(colon + 1));
            o.has_value = true;
        }
        out.push_back(o);
    }
    return out;
}

// The inside of a quoted option value, with an optional leading '!'.
struct Quoted {
    bool negated = false;
    std::string_view inner;
};

std::optional<Quoted> unquote(std::string_view value, bool allow_negation)
{
    Quoted q;
    value = trim(value);
    if (allow_negation && !value.empty() && value[0] == '!') {
        q.negated = true;
        value = trim(value.substr(1));
    }
    if (value.size() < 2 || value.front() != '"' || value.back() != '"')
        return std::nullopt;
    q.inner = value.substr(1, value.size() - 2);
    return q;
}

// Text escapes (msg, reference): a backslash takes the next character literally.
std::string unescape_text(std::string_view s)
{
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size())
            ++i;
        out.push_back(s[i]);
    }
    return out;
}


// content's string: text, |hex bytes| sections, and \" \; \\ \: \| escapes.
Parsed<std::string> decode_content(std::string_view s)
{
    std::string out;
    bool in_hex = false;
    int nibble = -1;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (in_hex) {
            if (c == '|') {
                if (nibble >= 0)
                    return fail("content", "content has an odd number of hex digits");
                in_hex = false;
            } else if (c == ' ' || c == '\t') {
                continue;
            } else {
                int v = hex_digit_value(c);
                if (v < 0)
                    return fail("content", "content has a bad hex digit '" + quote(std::string_view(&s[i], 1)) + "'");
                if (nibble < 0) {
                    nibble = v;
                } else {
                    out.push_back(static_cast<char>(nibble * 16 + v));
                    nibble = -1;
                }
            }
            continue;
        }
        if (c == '|') {
            in_hex = true;
        } else if (c == '\\') {
            if (i + 1 >= s.size())
                return fail("content", "content ends with a lone backslash");
            char e = s[++i];
            if (e != '"' && e != ';' && e != '\\' && e != ':' && e != '|')
                return fail("content", "content has an unknown escape '\\" + quote(std::string_view(&e, 1)) + "'");
            out.push_back(e);
        } else if (c == '"' || c == ';') {
            return fail("content", "content has an unescaped '" + std::string(1, c) + "'");
        } else {
            out.push_back(c);
        }
    }
    if (in_hex)
        return fail("content", "content has an unterminated |hex| section");
    return out;
}

Parsed<PcreMatch> parse_pcre(std::string_view value)
{
    auto q = unquote(value, true);
    if (!q)
        return fail("pcre", "pcre needs a quoted \"/regex/flags\"");
    // Undo the rule-level escapes of '"' and ';'; other backslashes belong to the regex.
    std::string s;
    for (size_t i = 0; i < q->inner.size(); ++i) {
        if (q->inner[i] == '\\' && i + 1 < q->inner.size() && (q->inner[i + 1] == '"' || q->inner[i + 1] == ';')) {
            s.push_back(q->inner[++i]);
            continue;
        }
        s.push_back(q->inner[i]);
    }
    auto last = s.rfind('/');
    if (s.empty() || s[0] != '/' || last == 0 || last == std::string::npos)
        return fail("pcre", "pcre needs the form \"/regex/flags\"");
    PcreMatch m;
    m.negated = q->negated;
    m.regex = s.substr(1, last - 1);
    if (m.regex.size() > k_max_pattern_bytes)
        return fail("pcre", "pcre's regex is longer than " + std::to_string(k_max_pattern_bytes) + " bytes");
    for (char f : std::string_view(s).substr(last + 1)) {
        switch (f) {
        case 'i':
            m.compile_options |= PCRE2_CASELESS;
            break;
        case 's':
            m.compile_options |= PCRE2_DOTALL;
            break;
        case 'm':
            m.compile_options |= PCRE2_MULTILINE;
            break;
        case 'x':
            m.compile_options |= PCRE2_EXTENDED;
            break;
        case 'R':
            m.relative = true;
            break;
        default:
            return fail("pcre", "pcre flag '" + quote(std::string_view(&f, 1)) + "' is not supported (only i, s, m, x and R)");
        }
    }
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    pcre2_code* code = pcre2_compile(
        reinterpret_cast<PCRE2_SPTR>(m.regex.data()), m.regex.size(), m.compile_options, &err, &err_offset, nullptr);
    if (!code) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(err, buf, sizeof buf);
        return fail(
            "pcre", "pcre does not compile at offset " + std::to_string(err_offset) + ": " + reinterpret_cast<const char*>(buf));
    }
    pcre2_code_free(code);
    return m;
}

Parsed<FlowOption> parse_flow(std::string_view value)
{
    FlowOption flow;
    auto parts = split_group(value);
    if (!parts || value.empty())
        return fail("flow", "flow needs a value such as 'established,to_server'");
    for (auto part : *parts) {
        std::optional<bool> dir;
        std::optional<bool> est;
        if (part == "to_server" || part == "from_client")
            dir = true;
        else if (part == "to_client" || part == "from_server")
            dir = false;
        else if (part == "established")
            est = true;
        else if (part == "not_established")
            est = false;
        else if (part == "stateless")
            flow.stateless = true;
        else
            return fail("flow", "flow option '" + quote(part) + "' is not supported");
        if (dir) {
            if (flow.to_server && *flow.to_server != *dir)
                return fail("flow", "flow names both directions");
            flow.to_server = dir;
        }
        if (est) {
            if (flow.established && *flow.established != *est)
                return fail("flow", "flow has both established and not_established");
            flow.established = est;
        }
    }
    return flow;
}

Parsed<Dsize> parse_dsize(std::string_view value)
{
    Dsize d;
    auto bad = [&] { return fail("dsize", "dsize '" + quote(value) + "' does not parse (N, <N, >N, N<>M or !N)"); };
    auto num = [](std::string_view s) -> std::optional<uint32_t> {
        auto v = parse_u32(s);
        if (!v || *v > 65535)
            return std::nullopt;
        return v;
    };
    value = trim(value);
    if (value.empty())
        return bad();
    std::optional<uint32_t> a;
    if (auto r = value.find("<>"); r != std::string_view::npos) {
        d.op = Dsize::Op::Between;
        a = num(value.substr(0, r));
        auto b = num(value.substr(r + 2));
        if (!a || !b || *a >= *b)
            return bad();
        d.b = *b;
    } else if (value[0] == '<') {
        d.op = Dsize::Op::Lt;
        a = num(value.substr(1));
    } else if (value[0] == '>') {
        d.op = Dsize::Op::Gt;
        a = num(value.substr(1));
    } else if (value[0] == '!') {
        d.op = Dsize::Op::Ne;
        a = num(value.substr(1));
    } else {
        a = num(value);
    }
    if (!a)
        return bad();
    d.a = *a;
    return d;
}

std::optional<uint8_t> flag_bit(char c)
{
    switch (c) {
    case 'F':
        return net::tcpflag::fin;
    case 'S':
        return net::tcpflag::syn;
    case 'R':
        return net::tcpflag::rst;
    case 'P':
        return net::tcpflag::psh;
    case 'A':
        return net::tcpflag::ack;
    case 'U':
        return net::tcpflag::urg;
    case 'C':
    case '1':
        return net::tcpflag::cwr;
    case 'E':
    case '2':
        return net::tcpflag::ece;
    default:
        return std::nullopt;
    }
}

Parsed<TcpFlags> parse_flags(std::string_view value)
{
    TcpFlags f;
    auto bad = [&](const std::string& why) { return fail("flags", "flags '" + quote(value) + "': " + why); };
    auto comma = value.find(',');
    auto test = trim(value.substr(0, comma));
    if (comma != std::string_view::npos) {
        auto ignore = trim(value.substr(comma + 1));
        if (ignore.empty())
            return bad("the ignore mask after ',' is empty");
        for (char c : ignore) {
            auto bit = flag_bit(c);
            if (!bit)
                return bad("unknown flag '" + quote(std::string_view(&c, 1)) + "' in the ignore mask");
            f.ignore |= *bit;
        }
    }
    if (test.empty())
        return bad("no flags to test");
    // The modifier may come first (Suricata's form) or last (Snort's "SA+").
    auto modifier = [&](char c) -> std::optional<TcpFlags::Mode> {
        if (c == '+')
            return TcpFlags::Mode::All;
        if (c == '*')
            return TcpFlags::Mode::Any;
        if (c == '!')
            return TcpFlags::Mode::Not;
        return std::nullopt;
    };
    if (auto m = modifier(test.front())) {
        f.mode = *m;
        test.remove_prefix(1);
    } else if (auto m2 = modifier(test.back())) {
        f.mode = *m2;
        test.remove_suffix(1);
    }
    if (test.empty())
        return bad("no flags to test");
    if (test == "0") {
        if (f.mode != TcpFlags::Mode::Exact)
            return bad("'0' (no flags set) takes no modifier");
        return f;
    }
    for (char c : test) {
        auto bit = flag_bit(c);
        if (!bit)
            return bad("unknown flag '" + quote(std::string_view(&c, 1)) + "'");
        f.flags |= *bit;
    }
    return f;
}

Parsed<Threshold> parse_threshold(std::string_view value)
{
    Threshold t;
    bool have_type = false, have_track = false, have_count = false, have_seconds = false;
    auto parts = split_group(value);
    if (!parts)
        return fail("threshold", "threshold does not parse");
    for (auto part : *parts) {
        auto space = part.find_first_of(" \t");
        auto key = trim(part.substr(0, space));
        auto val = space == std::string_view::npos ? std::string_view {} : trim(part.substr(space));
        if (key == "type") {
            if (val == "limit")
                t.type = Threshold::Type::Limit;
            else if (val == "threshold")
                t.type = Threshold::Type::Threshold;
            else if (val == "both")
                t.type = Threshold::Type::Both;
            else
                return fail("threshold", "threshold type '" + quote(val) + "' is not limit, threshold or both");
            have_type = true;
        } else if (key == "track") {
            if (val == "by_src")
                t.track = Threshold::Track::BySrc;
            else if (val == "by_dst")
                t.track = Threshold::Track::ByDst;
            else
                return fail("threshold", "threshold track '" + quote(val) + "' is not by_src or by_dst");
            have_track = true;
        } else if (key == "count") {
            auto v = parse_u32(val);
            if (!v || *v == 0 || *v > 1000000)
                return fail("threshold", "threshold count must be between 1 and 1000000");
            t.count = *v;
            have_count = true;
        } else if (key == "seconds") {
            auto v = parse_u32(val);
            if (!v || *v == 0 || *v > 86400 * 30)
                return fail("threshold", "threshold seconds must be between 1 and 2592000");
            t.seconds = *v;
            have_seconds = true;
        } else {
            return fail("threshold", "threshold has an unknown part '" + quote(key) + "'");
        }
    }
    if (!have_type || !have_track || !have_count || !have_seconds)
        return fail("threshold", "threshold needs type, track, count and seconds");
    return t;
}

// The rule's last content, which nocase/offset/depth/distance/within/fast_pattern modify.
Content* last_content(Rule& rule, size_t* index = nullptr)
{
    for (size_t i = rule.payload.size(); i-- > 0;) {
        if (auto* c = std::get_if<Content>(&rule.payload[i])) {
            if (index)
                *index = i;
            return c;
        }
    }
    return nullptr;
}

std::optional<Failure> apply_modifier(Rule& rule, std::string_view name, const Option& opt)
{
    std::string kw(name);
    size_t index = 0;
    Content* c = last_content(rule, &index);
    if (!c)
        return fail(kw, kw + " needs a preceding content");
    bool takes_value = name != "nocase" && name != "fast_pattern";
    if (takes_value && !opt.has_value)
        return fail(kw, kw + " needs a value");
    if (!takes_value && opt.has_value)
        return fail(kw, kw + " with a value is not supported (only the plain form)");
    if (name == "nocase") {
        c->nocase = true;
        return std::nullopt;
    }
    if (name == "fast_pattern") {
        if (c->negated)
            return fail(kw, "fast_pattern cannot be set on a negated content");
        for (const auto& m : rule.payload) {
            if (auto* other = std::get_if<Content>(&m); other && other->fast_pattern)
                return fail(kw, "fast_pattern is set twice");
        }
        c->fast_pattern = true;
        return std::nullopt;
    }
    auto v = parse_int(opt.value);
    if (!v)
        return fail(kw, kw + " '" + quote(opt.value) + "' is not a number (variables are not supported)");
    bool relative = name == "distance" || name == "within";
    if (relative && index == 0)
        return fail(kw, kw + " needs a content or pcre before the content it modifies");
    if (relative && (c->offset || c->depth))
        return fail(kw, kw + " cannot be combined with offset or depth on the same content");
    if (!relative && c->relative())
        return fail(kw, kw + " cannot be combined with distance or within on the same content");
    if (name == "distance") {
        if (*v < -k_max_modifier || *v > k_max_modifier)
            return fail(kw, "distance is out of range");
        if (c->distance)
            return fail(kw, "distance is set twice");
        c->distance = static_cast<int32_t>(*v);
        return std::nullopt;
    }
    if (*v < 0 || *v > k_max_modifier)
        return fail(kw, kw + " is out of range");
    auto u = static_cast<uint32_t>(*v);
    if (name == "offset") {
        if (c->offset)
            return fail(kw, "offset is set twice");
        c->offset = u;
    } else if (name == "depth") {
        if (c->depth)
            return fail(kw, "depth is set twice");
        if (u < c->bytes.size())
            return fail(kw, "depth is smaller than the content it limits");
        c->depth = u;
    } else {
        if (c->within)
            return fail(kw, "within is set twice");
        if (u < c->bytes.size())
            return fail(kw, "within is smaller than the content it limits");
        c->within = u;
    }
    return std::nullopt;
}

Parsed<Rule> parse(std::string_view text, const RuleVars& vars)
{
    Rule rule;
    text = trim(text);
    rule.text = std::string(text);
    auto open = text.find('(');
    auto close = text.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open)
        return fail("", "the rule has no '(options)' part");
    if (!trim(text.substr(close + 1)).empty())
        return fail("", "the rule has text after its closing ')'");
    auto header = split_header(text.substr(0, open));
    if (header.size() != 7)
        return fail("",
            "the rule header needs 7 fields (action proto src_addr src_port direction dst_addr dst_port), found "
                + std::to_string(header.size()));

    auto action = header[0];
    if (action == "alert")
        rule.action = Action::Alert;
    else if (action == "drop")
        rule.action = Action::Drop;
    else if (action == "pass")
        rule.action = Action::Pass;
    else if (action == "reject")
        rule.action = Action::Reject;
    else
        return fail(std::string(quote(action)), "action '" + quote(action) + "' is not supported (alert, drop, pass, reject)");

    auto proto = header[1];
    if (proto == "ip" || proto == "pkthdr")
        rule.proto = Proto::Ip;
    else if (proto == "tcp")
        rule.proto = Proto::Tcp;
    else if (proto == "udp")
        rule.proto = Proto::Udp;
    else if (proto == "icmp")
        rule.proto = Proto::Icmp;
    else
        return fail(quote(proto), "protocol '" + quote(proto) + "' is not supported (ip, tcp, udp, icmp)");

    auto src = GroupParser(vars, "source address").address(header[2], 0);
    if (auto* f = std::get_if<Failure>(&src))
        return *f;
    rule.src = std::get<AddrNode>(std::move(src));
    auto sport = GroupParser(vars, "source port").port(header[3], 0);
    if (auto* f = std::get_if<Failure>(&sport))
        return *f;
    rule.src_ports = std::get<PortNode>(std::move(sport));
    if (header[4] == "<>")
        rule.bidirectional = true;
    else if (header[4] != "->")
        return fail("", "direction '" + quote(header[4]) + "' is not '->' or '<>'");
    auto dst = GroupParser(vars, "destination address").address(header[5], 0);
    if (auto* f = std::get_if<Failure>(&dst))
        return *f;
    rule.dst = std::get<AddrNode>(std::move(dst));
    auto dport = GroupParser(vars, "destination port").port(header[6], 0);
    if (auto* f = std::get_if<Failure>(&dport))
        return *f;
    rule.dst_ports = std::get<PortNode>(std::move(dport));
    bool has_ports = rule.proto == Proto::Tcp || rule.proto == Proto::Udp;
    if (!has_ports && (!rule.src_ports.is_any() || !rule.dst_ports.is_any()))
        return fail("", std::string("ports need a tcp or udp rule, not ") + proto_name(rule.proto));

    auto options = split_options(text.substr(open + 1, close - open - 1));
    if (auto* f = std::get_if<Failure>(&options))
        return *f;
    bool have_sid = false, have_priority = false;
    for (const auto& opt : std::get<std::vector<Option>>(options)) {
        std::string kw(quote(opt.name));
        auto name = opt.name;
        auto need_value = [&]() -> std::optional<Failure> {
            if (!opt.has_value || opt.value.empty())
                return fail(kw, kw + " needs a value");
            return std::nullopt;
        };
        if (name == "msg") {
            auto q = unquote(opt.value, false);
            if (!q)
                return fail(kw, "msg needs a quoted string");
            rule.msg = unescape_text(q->inner);
        } else if (name == "sid" || name == "rev" || name == "gid" || name == "priority") {
            if (auto f = need_value())
                return *f;
            auto v = parse_u32(opt.value);
            if (!v)
                return fail(kw, kw + " '" + quote(opt.value) + "' is not a number");
            if (name == "sid") {
                if (*v == 0)
                    return fail(kw, "sid must not be 0");
                rule.sid = *v;
                have_sid = true;
            } else if (name == "rev") {
                rule.rev = *v;
            } else if (name == "gid") {
                rule.gid = *v;
            } else {
                if (*v < 1 || *v > 255)
                    return fail(kw, "priority must be between 1 and 255");
                rule.priority = static_cast<uint8_t>(*v);
                have_priority = true;
            }
        } else if (name == "classtype") {
            if (auto f = need_value())
                return *f;
            const Classification* c = find_classification(opt.value);
            if (!c)
                return fail(kw, "classtype '" + quote(opt.value) + "' is not in the classification table");
            rule.classtype = c->name;
            rule.category = c->description;
            if (!have_priority)
                rule.priority = c->priority;
        } else if (name == "metadata") {
            if (auto f = need_value())
                return *f;
            auto parts = split_group(opt.value);
            for (auto p : parts.value_or(std::vector<std::string_view> { opt.value }))
                rule.metadata.emplace_back(p);
        } else if (name == "reference") {
            if (auto f = need_value())
                return *f;
            auto comma = opt.value.find(',');
            if (comma == std::string_view::npos)
                return fail(kw, "reference needs 'system,id'");
            rule.references.push_back(
                Reference { std::string(trim(opt.value.substr(0, comma))), unescape_text(trim(opt.value.substr(comma + 1))) });
        } else if (name == "content") {
            auto q = unquote(opt.value, true);
            if (!q)
                return fail(kw, "content needs a quoted string");
            auto bytes = decode_content(q->inner);
            if (auto* f = std::get_if<Failure>(&bytes))
                return *f;
            Content c;
            c.bytes = std::get<std::string>(std::move(bytes));
            c.negated = q->negated;
            if (c.bytes.empty())
                return fail(kw, "content is empty");
            if (c.bytes.size() > k_max_pattern_bytes)
                return fail(kw, "content is longer than " + std::to_string(k_max_pattern_bytes) + " bytes");
            if (rule.payload.size() >= k_max_payload_matches)
                return fail(kw, "the rule has more than " + std::to_string(k_max_payload_matches) + " content and pcre options");
            rule.payload.emplace_back(std::move(c));
        } else if (name == "nocase" || name == "offset" || name == "depth" || name == "distance" || name == "within"
            || name == "fast_pattern") {
            if (auto f = apply_modifier(rule, name, opt))
                return *f;
        } else if (name == "pcre") {
            auto p = parse_pcre(opt.value);
            if (auto* f = std::get_if<Failure>(&p))
                return *f;
            if (std::get<PcreMatch>(p).relative && rule.payload.empty())
                return fail(kw, "pcre's R flag needs a content or pcre before it");
            if (rule.payload.size() >= k_max_payload_matches)
                return fail(kw, "the rule has more than " + std::to_string(k_max_payload_matches) + " content and pcre options");
            rule.payload.emplace_back(std::get<PcreMatch>(std::move(p)));
        } else if (name == "flow") {
            if (rule.flow)
                return fail(kw, "flow is given twice");
            auto f = parse_flow(opt.value);
            if (auto* e = std::get_if<Failure>(&f))
                return *e;
            rule.flow = std::get<FlowOption>(f);
        } else if (name == "dsize") {
            if (rule.dsize)
                return fail(kw, "dsize is given twice");
            auto d = parse_dsize(opt.value);
            if (auto* e = std::get_if<Failure>(&d))
                return *e;
            rule.dsize = std::get<Dsize>(d);
        } else if (name == "flags") {
            if (rule.flags)
                return fail(kw, "flags is given twice");
            if (rule.proto != Proto::Tcp && rule.proto != Proto::Ip)
                return fail(kw, "flags needs a tcp or ip rule");
            auto f = parse_flags(opt.value);
            if (auto* e = std::get_if<Failure>(&f))
                return *e;
            rule.flags = std::get<TcpFlags>(f);
        } else if (name == "threshold") {
            if (rule.threshold)
                return fail(kw, "threshold is given twice");
            auto t = parse_threshold(opt.value);
            if (auto* e = std::get_if<Failure>(&t))
                return *e;
            rule.threshold = std::get<Threshold>(t);
        } else if (name.empty()) {
            return fail("", "the rule has an empty option");
        } else {
            return fail(kw, "unsupported keyword '" + kw + "'");
        }
    }
    if (!have_sid)
        return fail("sid", "the rule has no sid");
    return rule;
}

} // namespace

RuleVars default_rule_vars(const RuleVars& overrides)
{
    RuleVars vars {
        { "HOME_NET", "[10.0.0.0/8,192.168.0.0/16,172.16.0.0/12]" },
        { "EXTERNAL_NET", "!$HOME_NET" },
        { "HTTP_SERVERS", "$HOME_NET" },
        { "SMTP_SERVERS", "$HOME_NET" },
        { "SQL_SERVERS", "$HOME_NET" },
        { "DNS_SERVERS", "$HOME_NET" },
        { "TELNET_SERVERS", "$HOME_NET" },
        { "AIM_SERVERS", "$EXTERNAL_NET" },
        { "DC_SERVERS", "$HOME_NET" },
        { "DNP3_SERVER", "$HOME_NET" },
        { "DNP3_CLIENT", "$HOME_NET" },
        { "MODBUS_CLIENT", "$HOME_NET" },
        { "MODBUS_SERVER", "$HOME_NET" },
        { "ENIP_CLIENT", "$HOME_NET" },
        { "ENIP_SERVER", "$HOME_NET" },
        { "HTTP_PORTS", "80" },
        { "SHELLCODE_PORTS", "!80" },
        { "ORACLE_PORTS", "1521" },
        { "SSH_PORTS", "22" },
        { "DNP3_PORTS", "20000" },
        { "MODBUS_PORTS", "502" },
        { "FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]" },
        { "FTP_PORTS", "21" },
        { "GENEVE_PORTS", "6081" },
        { "VXLAN_PORTS", "4789" },
        { "TEREDO_PORTS", "3544" },
    };
    for (const auto& [name, value] : overrides)
        vars[name] = value;
    return vars;
}

Result<Rule> parse_rule(std::string_view text, const RuleVars& vars)
{
    if (text.size() > k_max_line_bytes)
        return Error(ErrorKind::InvalidArgument, "the rule is longer than " + std::to_string(k_max_line_bytes) + " bytes");
    auto parsed = parse(text, vars);
    if (auto* f = std::get_if<Failure>(&parsed))
        return Error(ErrorKind::InvalidArgument, f->message);
    return std::get<Rule>(std::move(parsed));
}

RuleSet load_rules(std::string_view text, const RuleVars& vars)
{
    RuleSet set;
    if (text.size() > k_max_file_bytes) {
        set.errors.push_back(RuleError { 0, "", "the rule file is larger than " + std::to_string(k_max_file_bytes) + " bytes" });
        return set;
    }
    std::set<std::pair<uint32_t, uint32_t>> seen; // (gid, sid)
    std::string joined;
    size_t start_line = 0;
    bool too_long = false;
    size_t line_no = 0;
    size_t pos = 0;
    auto add_error = [&](size_t line, std::string keyword, const std::string& message) {
        set.errors.push_back(RuleError { line, std::move(keyword), "line " + std::to_string(line) + ": " + message });
    };
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        auto line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        bool continuing = !joined.empty() || too_long;
        if (!continuing) {
            auto t = trim(line);
            if (t.empty() || t[0] == '#')
                continue;
            start_line = line_no;
        }
        // Trailing whitespace after the backslash is forgiven: it is invisible in an editor.
        auto body = line;
        while (!body.empty() && (body.back() == ' ' || body.back() == '\t'))
            body.remove_suffix(1);
        bool more = !body.empty() && body.back() == '\\';
        if (more)
            body.remove_suffix(1);
        if (!too_long) {
            if (joined.size() + body.size() > k_max_line_bytes) {
                too_long = true;
                joined.clear();
            } else {
                joined.append(body);
            }
        }
        if (more && pos < text.size())
            continue;
        if (set.rules.size() >= k_max_rules) {
            add_error(start_line, "", "more than " + std::to_string(k_max_rules) + " rules; the rest of the file is ignored");
            break;
        }
        if (too_long) {
            add_error(start_line, "", "the rule is longer than " + std::to_string(k_max_line_bytes) + " bytes");
        } else {
            auto parsed = parse(joined, vars);
            if (auto* f = std::get_if<Failure>(&parsed)) {
                add_error(start_line, f->keyword, f->message);
            } else {
                auto& rule = std::get<Rule>(parsed);
                rule.line = start_line;
                if (!seen.insert({ rule.gid, rule.sid }).second) {
                    add_error(start_line, "sid", "duplicate sid " + std::to_string(rule.sid) + "; the earlier rule is kept");
                } else {
                    set.rules.push_back(std::move(rule));
                }
            }
        }
        joined.clear();
        too_long = false;
    }
    return set;
}

} // namespace bulwark::ids
