#include "net/segment_policy.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <toml++/toml.h>

#include "net/packet.h"

namespace bulwark::net {

namespace {

Error policy_error(const std::string& source, const std::string& what, const toml::source_region* where = nullptr)
{
    std::string at = source;
    if (where && where->begin.line)
        at += ":" + std::to_string(where->begin.line);
    return Error(ErrorKind::InvalidArgument, "network policy " + at + ": " + what);
}

bool label_text_ok(std::string_view s)
{
    if (s.empty() || s.size() > k_max_label_length)
        return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    });
}

Result<Proto> proto_from_name(std::string_view name)
{
    if (name == "any")
        return Proto::Any;
    if (name == "tcp")
        return Proto::Tcp;
    if (name == "udp")
        return Proto::Udp;
    if (name == "icmp")
        return Proto::Icmp;
    return Error(ErrorKind::InvalidArgument, "unknown protocol '" + std::string(name) + "' (tcp, udp, icmp or any)");
}

std::optional<uint16_t> port_number(std::string_view s)
{
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty() || v > 65535)
        return std::nullopt;
    return static_cast<uint16_t>(v);
}

// "8000-8080" or "443".
std::optional<PortRange> port_range(std::string_view s)
{
    auto dash = s.find('-');
    if (dash == std::string_view::npos) {
        auto p = port_number(s);
        if (!p)
            return std::nullopt;
        return PortRange { *p, *p };
    }
    auto lo = port_number(s.substr(0, dash));
    auto hi = port_number(s.substr(dash + 1));
    if (!lo || !hi || *lo > *hi)
        return std::nullopt;
    return PortRange { *lo, *hi };
}

Result<Selector> selector_at(const toml::table& rule, const char* key, const std::string& source)
{
    Selector sel;
    const toml::node* node = rule.get(key);
    if (!node)
        return policy_error(source, std::string("an [[allow]] rule needs '") + key + "' (use {} for any guest)", &rule.source());
    const toml::table* t = node->as_table();
    if (!t)
        return policy_error(
            source, std::string("'") + key + "' must be a table of labels, e.g. { tier = \"web\" }", &node->source());
    for (const auto& [k, v] : *t) {
        auto value = v.value<std::string>();
        if (!value)
            return policy_error(source, "label '" + std::string(k.str()) + "' must be a string", &v.source());
        sel.labels[std::string(k.str())] = *value;
    }
    if (auto ok = validate_labels(sel.labels); ok.is_error())
        return policy_error(source, ok.error().message(), &node->source());
    return sel;
}

VoidResult only_keys(
    const toml::table& table, std::set<std::string_view> known, const std::string& where, const std::string& source)
{
    for (const auto& [key, node] : table) {
        if (!known.count(key.str()))
            return policy_error(source, "unknown key '" + std::string(key.str()) + "' in " + where, &node.source());
    }
    return {};
}

Json labels_json(const Labels& labels)
{
    Json j = Json::object();
    for (const auto& [k, v] : labels)
        j[k] = v;
    return j;
}

Result<Labels> labels_from_json(const Json& j)
{
    if (!j.is_object())
        return Error(ErrorKind::InvalidArgument, "labels must be an object");
    Labels labels;
    for (const auto& [k, v] : j.items()) {
        if (!v.is_string())
            return Error(ErrorKind::InvalidArgument, "label '" + k + "' must be a string");
        labels[k] = v.get<std::string>();
    }
    TRY(validate_labels(labels));
    return labels;
}

Result<std::vector<Cidr>> networks_at(const toml::node& node, const std::string& source)
{
    const toml::array* a = node.as_array();
    if (!a || a->empty())
        return policy_error(source, "'outside' must be a non-empty array of IPv4 networks, e.g. [\"0.0.0.0/0\"]", &node.source());
    if (a->size() > k_max_outside_networks)
        return policy_error(
            source, "more than " + std::to_string(k_max_outside_networks) + " networks in 'outside'", &node.source());
    std::vector<Cidr> out;
    for (const toml::node& item : *a) {
        auto text = item.value<std::string>();
        auto cidr = text ? Cidr::parse(*text) : std::nullopt;
        if (!cidr && text) {
            // "10.0.0.1/8": a network with host bits set names no network; say which was meant.
            auto slash = text->find('/');
            auto addr = IpAddr::parse(text->substr(0, slash));
            auto prefix = slash == std::string::npos ? std::nullopt : port_number(text->substr(slash + 1));
            if (addr && !addr->v6 && prefix && *prefix <= 32) {
                uint32_t mask = *prefix == 0 ? 0 : ~uint32_t(0) << (32 - *prefix);
                std::string meant = IpAddr::v4(addr->v4_host_order() & mask).to_string() + "/" + std::to_string(*prefix);
                return policy_error(source, "'" + *text + "' has host bits set (did you mean " + meant + "?)", &item.source());
            }
        }
        if (!cidr || cidr->base.v6)
            return policy_error(source, "'" + text.value_or("?") + "' is not an IPv4 network (a.b.c.d/n)", &item.source());
        out.push_back(*cidr);
    }
    return out;
}

// Does an entry for (proto, ports) let a flow of ip_proto to dst_port open? Ports count for TCP
// and UDP only.
bool opens(Proto proto, PortRange ports, uint8_t ip_proto, uint16_t dst_port);

// "tcp/5432", "udp/8000-8080", "icmp".
std::string describe(Proto proto, PortRange ports)
{
    std::string what = proto_name(proto);
    if (proto == Proto::Tcp || proto == Proto::Udp) {
        what += "/" + std::to_string(ports.lo);
        if (ports.hi != ports.lo)
            what += "-" + std::to_string(ports.hi);
    }
    return what;
}

bool proto_matches(Proto proto, uint8_t ip_proto)
{
    switch (proto) {
    case Proto::Any:
        return true;
    case Proto::Tcp:
        return ip_proto == ipproto::tcp;
    case Proto::Udp:
        return ip_proto == ipproto::udp;
    case Proto::Icmp:
        return ip_proto == ipproto::icmp || ip_proto == ipproto::icmpv6;
    }
    return false;
}

bool opens(Proto proto, PortRange ports, uint8_t ip_proto, uint16_t dst_port)
{
    bool has_ports = ip_proto == ipproto::tcp || ip_proto == ipproto::udp;
    return proto_matches(proto, ip_proto) && (!has_ports || (dst_port >= ports.lo && dst_port <= ports.hi));
}

} // namespace

const char* proto_name(Proto proto)
{
    switch (proto) {
    case Proto::Any:
        return "any";
    case Proto::Tcp:
        return "tcp";
    case Proto::Udp:
        return "udp";
    case Proto::Icmp:
        return "icmp";
    }
    return "any";
}

bool Selector::matches(const Labels& guest) const
{
    for (const auto& [k, v] : labels) {
        auto it = guest.find(k);
        if (it == guest.end() || it->second != v)
            return false;
    }
    return true;
}

VoidResult validate_labels(const Labels& labels)
{
    if (labels.size() > k_max_labels)
        return Error(ErrorKind::InvalidArgument, "more than " + std::to_string(k_max_labels) + " labels");
    for (const auto& [k, v] : labels) {
        if (!label_text_ok(k) || !label_text_ok(v))
            return Error(ErrorKind::InvalidArgument,
                "label '" + k + "=" + v + "' is not valid: keys and values are 1-63 characters of A-Z a-z 0-9 . _ -");
    }
    return {};
}

Result<Labels> parse_label(const std::string& text, Labels into)
{
    auto eq = text.find('=');
    if (eq == std::string::npos)
        return Error(ErrorKind::InvalidArgument, "label '" + text + "' must be KEY=VALUE");
    into[text.substr(0, eq)] = text.substr(eq + 1);
    TRY(validate_labels(into));
    return into;
}

Result<SegmentPolicy> parse_segment_policy(const std::string& text, const std::string& source)
{
    if (text.size() > k_max_policy_bytes)
        return policy_error(source, "larger than 4 MiB");
    toml::table root;
    try {
        root = toml::parse(text, source);
    } catch (const toml::parse_error& e) {
        return policy_error(source, std::string(e.description()), &e.source());
    }
    TRY(only_keys(root, { "allow", "quarantine", "uplink" }, "the policy", source));
    SegmentPolicy policy;
    if (const toml::node* node = root.get("allow")) {
        const toml::array* list = node->as_array();
        if (!list)
            return policy_error(source, "'allow' must be an array of tables ([[allow]])", &node->source());
        if (list->size() > k_max_policy_rules)
            return policy_error(source, "more than " + std::to_string(k_max_policy_rules) + " rules");
        for (const toml::node& item : *list) {
            const toml::table* t = item.as_table();
            if (!t)
                return policy_error(source, "each [[allow]] entry must be a table", &item.source());
            TRY(only_keys(*t, { "name", "segment", "from", "to", "outside", "proto", "ports" }, "[[allow]]", source));
            AllowRule rule;
            rule.name = t->get("name") ? t->get("name")->value_or(std::string()) : std::string();
            if (rule.name.size() > 200)
                return policy_error(source, "a rule name is longer than 200 characters", &t->source());
            if (rule.name.empty())
                rule.name = "allow#" + std::to_string(policy.allow.size() + 1);
            if (const toml::node* seg = t->get("segment")) {
                auto s = seg->value<std::string>();
                if (!s || !label_text_ok(*s))
                    return policy_error(source, "'segment' must be a segment name", &seg->source());
                rule.segment = *s;
            }
            rule.from = TRY(selector_at(*t, "from", source));
            if (const toml::node* outside = t->get("outside")) {
                if (t->get("to"))
                    return policy_error(
                        source, "an [[allow]] rule has either 'to' (guests) or 'outside' (networks), not both", &t->source());
                rule.outside = TRY(networks_at(*outside, source));
            } else {
                rule.to = TRY(selector_at(*t, "to", source));
            }
            if (const toml::node* p = t->get("proto")) {
                auto name = p->value<std::string>();
                if (!name)
                    return policy_error(source, "'proto' must be a string", &p->source());
                auto proto = proto_from_name(*name);
                if (proto.is_error())
                    return policy_error(source, proto.error().message(), &p->source());
                rule.proto = proto.value();
            }
            if (const toml::node* ports = t->get("ports")) {
                if (rule.proto != Proto::Tcp && rule.proto != Proto::Udp)
                    return policy_error(source, "'ports' needs proto = \"tcp\" or \"udp\"", &ports->source());
                const toml::array* a = ports->as_array();
                if (!a || a->empty())
                    return policy_error(source, "'ports' must be a non-empty array", &ports->source());
                for (const toml::node& port : *a) {
                    std::optional<PortRange> range;
                    if (auto n = port.value<int64_t>(); n && *n >= 0 && *n <= 65535)
                        range = PortRange { static_cast<uint16_t>(*n), static_cast<uint16_t>(*n) };
                    else if (auto s = port.value<std::string>())
                        range = port_range(*s);
                    if (!range)
                        return policy_error(source, "a port must be 0-65535 or \"LO-HI\"", &port.source());
                    rule.ports.push_back(*range);
                }
            }
            policy.allow.push_back(std::move(rule));
        }
    }
    if (const toml::node* node = root.get("quarantine")) {
        const toml::table* t = node->as_table();
        if (!t)
            return policy_error(source, "[quarantine] must be a table", &node->source());
        TRY(only_keys(*t, { "analysis" }, "[quarantine]", source));
        if (t->get("analysis")) {
            policy.analysis = TRY(selector_at(*t, "analysis", source));
            if (policy.analysis.labels.empty())
                return policy_error(
                    source, "[quarantine] analysis = {} would let every guest reach a quarantined one", &t->source());
            policy.has_analysis = true;
        }
    }
    if (const toml::node* node = root.get("uplink")) {
        const toml::table* t = node->as_table();
        if (!t)
            return policy_error(source, "[uplink] must be a table", &node->source());
        TRY(only_keys(*t, { "segments", "dns" }, "[uplink]", source));
        if (const toml::node* dns = t->get("dns")) {
            auto on = dns->value<bool>();
            if (!on)
                return policy_error(source, "[uplink] dns must be true or false", &dns->source());
            policy.uplink_dns = *on;
        }
        if (const toml::node* segs = t->get("segments")) {
            const toml::array* a = segs->as_array();
            if (!a)
                return policy_error(source, "[uplink] segments must be an array of segment names", &segs->source());
            for (const toml::node& item : *a) {
                auto name = item.value<std::string>();
                if (!name || !label_text_ok(*name))
                    return policy_error(source, "[uplink] segments must be segment names", &item.source());
                policy.uplink_segments.push_back(*name);
            }
        }
    }
    std::sort(policy.uplink_segments.begin(), policy.uplink_segments.end());
    policy.uplink_segments.erase(
        std::unique(policy.uplink_segments.begin(), policy.uplink_segments.end()), policy.uplink_segments.end());
    return policy;
}

bool SegmentPolicy::has_uplink(const std::string& segment) const
{
    return std::binary_search(uplink_segments.begin(), uplink_segments.end(), segment);
}

Json SegmentPolicy::to_json() const
{
    Json rules = Json::array();
    for (const auto& r : allow) {
        Json ports = Json::array();
        for (const auto& p : r.ports)
            ports.push_back(Json::array({ p.lo, p.hi }));
        Json rule { { "name", r.name }, { "segment", r.segment }, { "from", labels_json(r.from.labels) },
            { "proto", proto_name(r.proto) }, { "ports", ports } };
        if (r.to_outside()) {
            Json networks = Json::array();
            for (const auto& n : r.outside)
                networks.push_back(n.to_string());
            rule["outside"] = networks;
        } else {
            rule["to"] = labels_json(r.to.labels);
        }
        rules.push_back(std::move(rule));
    }
    Json j = { { "allow", rules } };
    if (has_analysis)
        j["analysis"] = labels_json(analysis.labels);
    if (!uplink_segments.empty())
        j["uplink_segments"] = uplink_segments;
    if (uplink_dns)
        j["uplink_dns"] = true;
    return j;
}

Result<SegmentPolicy> SegmentPolicy::from_json(const Json& j)
{
    if (!j.is_object() || !j.contains("allow") || !j["allow"].is_array())
        return Error(ErrorKind::InvalidArgument, "a network policy needs an 'allow' array");
    if (j["allow"].size() > k_max_policy_rules)
        return Error(ErrorKind::InvalidArgument, "too many network policy rules");
    SegmentPolicy p;
    for (const auto& r : j["allow"]) {
        if (!r.is_object())
            return Error(ErrorKind::InvalidArgument, "a network policy rule must be an object");
        AllowRule rule;
        rule.name = json_string_or(r, "name", "");
        rule.segment = json_string_or(r, "segment", "");
        rule.from.labels = TRY(labels_from_json(r.value("from", Json::object())));
        rule.to.labels = TRY(labels_from_json(r.value("to", Json::object())));
        if (r.contains("outside")) {
            const Json& networks = r["outside"];
            if (!networks.is_array() || networks.empty() || networks.size() > k_max_outside_networks)
                return Error(ErrorKind::InvalidArgument, "'outside' must be a non-empty array of networks");
            for (const auto& n : networks) {
                auto cidr = n.is_string() ? Cidr::parse(n.get<std::string>()) : std::nullopt;
                if (!cidr || cidr->base.v6)
                    return Error(ErrorKind::InvalidArgument, "'outside' holds something that is not an IPv4 network");
                rule.outside.push_back(*cidr);
            }
        }
        rule.proto = TRY(proto_from_name(json_string_or(r, "proto", "any")));
        const Json ports = r.value("ports", Json::array());
        if (!ports.is_array())
            return Error(ErrorKind::InvalidArgument, "'ports' must be an array");
        for (const auto& p : ports) {
            if (!p.is_array() || p.size() != 2 || !p[0].is_number_unsigned() || !p[1].is_number_unsigned())
                return Error(ErrorKind::InvalidArgument, "a port range must be [lo, hi]");
            auto lo = p[0].get<uint64_t>(), hi = p[1].get<uint64_t>();
            if (lo > hi || hi > 65535)
                return Error(ErrorKind::InvalidArgument, "a port range must be [lo, hi] within 0-65535");
            rule.ports.push_back({ static_cast<uint16_t>(lo), static_cast<uint16_t>(hi) });
        }
        p.allow.push_back(std::move(rule));
    }
    if (j.contains("analysis")) {
        p.analysis.labels = TRY(labels_from_json(j["analysis"]));
        p.has_analysis = !p.analysis.labels.empty();
    }
    if (j.contains("uplink_segments")) {
        const Json& segs = j["uplink_segments"];
        if (!segs.is_array())
            return Error(ErrorKind::InvalidArgument, "'uplink_segments' must be an array");
        for (const auto& s : segs) {
            if (!s.is_string() || !label_text_ok(s.get<std::string>()))
                return Error(ErrorKind::InvalidArgument, "'uplink_segments' must hold segment names");
            p.uplink_segments.push_back(s.get<std::string>());
        }
        std::sort(p.uplink_segments.begin(), p.uplink_segments.end());
        p.uplink_segments.erase(std::unique(p.uplink_segments.begin(), p.uplink_segments.end()), p.uplink_segments.end());
    }
    p.uplink_dns = json_bool_or(j, "uplink_dns", false);
    return p;
}

CompiledPolicy CompiledPolicy::compile(const SegmentPolicy& policy, const std::vector<PolicyPort>& ports)
{
    CompiledPolicy c;
    c.m_rule_names.reserve(policy.allow.size());
    for (const auto& rule : policy.allow) {
        auto index = static_cast<uint32_t>(c.m_rule_names.size());
        c.m_rule_names.push_back(rule.name);
        if (rule.to_outside()) {
            for (const auto& p : ports) {
                if ((!rule.segment.empty() && p.segment != rule.segment) || !policy.has_uplink(p.segment)
                    || !rule.from.matches(p.labels))
                    continue;
                auto& entries = c.m_outside[p.id];
                for (const auto& network : rule.outside) {
                    if (rule.ports.empty())
                        entries.push_back({ rule.proto, PortRange {}, network, index });
                    for (const auto& range : rule.ports)
                        entries.push_back({ rule.proto, range, network, index });
                }
            }
            continue;
        }
        std::vector<const PolicyPort*> sources, targets;
        for (const auto& p : ports) {
            if (!rule.segment.empty() && p.segment != rule.segment)
                continue;
            if (rule.from.matches(p.labels))
                sources.push_back(&p);
            if (rule.to.matches(p.labels))
                targets.push_back(&p);
        }
        for (const auto* s : sources) {
            for (const auto* t : targets) {
                if (s->id == t->id || s->segment != t->segment)
                    continue;
                auto& entries = c.m_pairs[key(s->id, t->id)];
                if (rule.ports.empty())
                    entries.push_back({ rule.proto, PortRange {}, index });
                for (const auto& range : rule.ports)
                    entries.push_back({ rule.proto, range, index });
            }
        }
    }
    if (policy.has_analysis) {
        for (const auto& p : ports) {
            if (policy.analysis.matches(p.labels))
                c.m_analysis.push_back(p.id);
        }
    }
    return c;
}

bool CompiledPolicy::allows(uint32_t src, uint32_t dst, uint8_t ip_proto, uint16_t dst_port, std::string* rule) const
{
    auto it = m_pairs.find(key(src, dst));
    if (it == m_pairs.end())
        return false;
    for (const auto& e : it->second) {
        if (!opens(e.proto, e.ports, ip_proto, dst_port))
            continue;
        if (rule)
            *rule = m_rule_names[e.rule];
        return true;
    }
    return false;
}

bool outside_address_is_reachable(const IpAddr& dst)
{
    if (dst.v6)
        return false;
    uint32_t a = dst.v4_host_order();
    uint8_t first = static_cast<uint8_t>(a >> 24);
    // 0.0.0.0/8 "this network", 127.0.0.0/8 loopback, 224.0.0.0/4 multicast, 240.0.0.0/4
    // reserved and the limited broadcast: never a destination beyond the uplink.
    return first != 0 && first != 127 && first < 224;
}

bool CompiledPolicy::allows_outside(uint32_t src, const IpAddr& dst, uint8_t ip_proto, uint16_t dst_port, std::string* rule) const
{
    if (!outside_address_is_reachable(dst))
        return false;
    auto it = m_outside.find(src);
    if (it == m_outside.end())
        return false;
    // Link-local addresses (169.254.0.0/16, where cloud metadata services answer) only for a
    // rule that names a network inside that range, never by way of 0.0.0.0/0.
    bool link_local = (dst.v4_host_order() >> 16) == 0xa9fe;
    for (const auto& e : it->second) {
        if (!opens(e.proto, e.ports, ip_proto, dst_port) || !e.network.contains(dst) || (link_local && e.network.prefix < 16))
            continue;
        if (rule)
            *rule = m_rule_names[e.rule];
        return true;
    }
    return false;
}

bool CompiledPolicy::is_analysis(uint32_t port) const
{
    return std::find(m_analysis.begin(), m_analysis.end(), port) != m_analysis.end();
}

Json CompiledPolicy::to_json(const std::unordered_map<uint32_t, std::string>& port_names) const
{
    auto name_of = [&](uint32_t id) {
        auto it = port_names.find(id);
        return it == port_names.end() ? std::to_string(id) : it->second;
    };
    Json pairs = Json::array();
    std::vector<uint64_t> keys;
    keys.reserve(m_pairs.size());
    for (const auto& [k, v] : m_pairs)
        keys.push_back(k);
    std::sort(keys.begin(), keys.end());
    for (auto k : keys) {
        Json allowed = Json::array();
        for (const auto& e : m_pairs.at(k)) {
            allowed.push_back({ { "what", describe(e.proto, e.ports) }, { "rule", m_rule_names[e.rule] } });
        }
        pairs.push_back({ { "from", name_of(static_cast<uint32_t>(k >> 32)) }, { "to", name_of(static_cast<uint32_t>(k)) },
            { "allow", allowed } });
    }
    Json outside = Json::array();
    std::vector<uint32_t> sources;
    for (const auto& [id, entries] : m_outside)
        sources.push_back(id);
    std::sort(sources.begin(), sources.end());
    for (auto id : sources) {
        Json allowed = Json::array();
        for (const auto& e : m_outside.at(id)) {
            allowed.push_back(
                { { "what", describe(e.proto, e.ports) }, { "to", e.network.to_string() }, { "rule", m_rule_names[e.rule] } });
        }
        outside.push_back({ { "from", name_of(id) }, { "allow", allowed } });
    }
    Json analysis = Json::array();
    for (auto id : m_analysis)
        analysis.push_back(name_of(id));
    return { { "pairs", pairs }, { "outside", outside }, { "analysis", analysis } };
}

} // namespace bulwark::net
