#include "vuln/osv.h"

#include <algorithm>
#include <array>

#include "vuln/text.h"

namespace bulwark::vuln {

const char* range_type_name(RangeType type)
{
    switch (type) {
    case RangeType::Semver:
        return "SEMVER";
    case RangeType::Git:
        return "GIT";
    case RangeType::Ecosystem:
        break;
    }
    return "ECOSYSTEM";
}

const char* event_kind_name(EventKind kind)
{
    switch (kind) {
    case EventKind::Fixed:
        return "fixed";
    case EventKind::LastAffected:
        return "last_affected";
    case EventKind::Limit:
        return "limit";
    case EventKind::Introduced:
        break;
    }
    return "introduced";
}

namespace {

constexpr size_t k_max_raw_version = 256; // SEMVER and GIT event values

Error corrupt(const std::string& why)
{
    return Error(ErrorKind::Corrupt, why);
}

const Json* member(const Json& obj, const char* key)
{
    if (!obj.is_object())
        return nullptr;
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

// An identifier: "DSA-5523-1", "DEBIAN-CVE-2023-38545", "GHSA-...", "ALSA-2023:1234".
bool is_valid_id(std::string_view id, size_t max)
{
    if (id.empty() || id.size() > max)
        return false;
    return std::all_of(
        id.begin(), id.end(), [](char c) { return is_ascii_alnum(c) || c == '-' || c == '_' || c == '.' || c == ':'; });
}

// Printable ASCII, no spaces: dates, range types, labels.
bool is_printable_token(std::string_view s)
{
    return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

class Parser {
public:
    explicit Parser(const OsvLimits& limits)
        : m_limits(limits)
    {
    }

    Result<ParsedRecord> parse(const Json& record);

private:
    // An optional string field: "" when absent; an error when present but not a string.
    Result<std::string> string_field(const Json& obj, const char* key, const std::string& where);
    // An optional short metadata field (dates, labels): dropped with a warning when unusable.
    std::string label_field(const Json& obj, const char* key, const std::string& where);
    // A database_specific "severity" label: dropped with a warning unless severity_from_label
    // knows it.
    std::string severity_label_field(const Json& obj, const std::string& where);
    std::vector<std::string> id_list(const Json& record, const char* key);
    Result<std::vector<OsvSeverity>> severity_list(const Json& obj, const std::string& where);
    Result<std::optional<OsvAffected>> affected_entry(const Json& entry, const std::string& where);
    Result<std::optional<OsvRange>> range_entry(const Json& range, const std::string& where);
    static void normalise(OsvAffected& affected, const Advisory& advisory);

    const OsvLimits& m_limits;
    ParsedRecord m_out;
};

Result<std::string> Parser::string_field(const Json& obj, const char* key, const std::string& where)
{
    const Json* v = member(obj, key);
    if (!v || v->is_null())
        return std::string();
    if (!v->is_string())
        return corrupt(where + "'" + key + "' is not a string");
    return v->get<std::string>();
}

std::string Parser::label_field(const Json& obj, const char* key, const std::string& where)
{
    const Json* v = member(obj, key);
    if (!v || v->is_null())
        return {};
    if (!v->is_string()) {
        m_out.warnings.push_back(where + "'" + key + "' is not a string; ignored");
        return {};
    }
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > m_limits.max_label_length || !std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
        m_out.warnings.push_back(where + "'" + key + "' " + quote_text(s) + " is not a short printable label; ignored");
        return {};
    }
    return s;
}

std::string Parser::severity_label_field(const Json& obj, const std::string& where)
{
    std::string label = label_field(obj, "severity", where);
    if (!label.empty() && !severity_from_label(label)) {
        m_out.warnings.push_back(where + "'severity' has the unknown label " + quote_text(label) + "; ignored");
        return {};
    }
    return label;
}

std::vector<std::string> Parser::id_list(const Json& record, const char* key)
{
    std::vector<std::string> out;
    const Json* v = member(record, key);
    if (!v || v->is_null())
        return out;
    if (!v->is_array()) {
        m_out.warnings.push_back(std::string("'") + key + "' is not an array; ignored");
        return out;
    }
    if (v->size() > m_limits.max_ids) {
        m_out.warnings.push_back(
            std::string("'") + key + "' has more than " + std::to_string(m_limits.max_ids) + " entries; only the first are kept");
    }
    for (const auto& item : *v) {
        if (out.size() == m_limits.max_ids)
            break;
        if (!item.is_string() || !is_valid_id(item.get_ref<const std::string&>(), m_limits.max_id_length)) {
            m_out.warnings.push_back(std::string("'") + key + "' has an invalid identifier "
                + quote_text(item.is_string() ? item.get_ref<const std::string&>() : item.dump()) + "; ignored");
            continue;
        }
        const auto& s = item.get_ref<const std::string&>();
        if (std::find(out.begin(), out.end(), s) == out.end())
            out.push_back(s);
    }
    return out;
}

Result<std::vector<OsvSeverity>> Parser::severity_list(const Json& obj, const std::string& where)
{
    std::vector<OsvSeverity> out;
    const Json* v = member(obj, "severity");
    if (!v || v->is_null())
        return out;
    if (!v->is_array())
        return corrupt(where + "'severity' is not an array");
    if (v->size() > m_limits.max_severity)
        return corrupt(where + "'severity' has more than " + std::to_string(m_limits.max_severity) + " entries");
    for (size_t i = 0; i < v->size(); ++i) {
        std::string at = where + "severity[" + std::to_string(i) + "]: ";
        const Json& item = (*v)[i];
        if (!item.is_object())
            return corrupt(at + "is not an object");
        OsvSeverity s;
        s.type = label_field(item, "type", at);
        s.score = TRY(string_field(item, "score", at));
        if (s.type.empty() || s.score.empty()) {
            m_out.warnings.push_back(at + "needs both 'type' and 'score'; ignored");
            continue;
        }
        if (s.score.size() > k_max_cvss_vector_length) {
            m_out.warnings.push_back(
                at + "the score is longer than " + std::to_string(k_max_cvss_vector_length) + " bytes; ignored");
            continue;
        }
        if (s.type == "CVSS_V3") {
            auto score = cvss3_base_score_tenths(s.score);
            if (score.is_error()) {
                m_out.warnings.push_back(at + score.error().message() + "; ignored");
                continue;
            }
        }
        out.push_back(std::move(s));
    }
    return out;
}

Result<std::optional<OsvRange>> Parser::range_entry(const Json& range, const std::string& where)
{
    if (!range.is_object())
        return corrupt(where + "is not an object");
    const Json* type = member(range, "type");
    if (!type || !type->is_string())
        return corrupt(where + "'type' is missing or not a string");
    const auto& type_name = type->get_ref<const std::string&>();
    OsvRange out;
    if (type_name == "ECOSYSTEM") {
        out.type = RangeType::Ecosystem;
    } else if (type_name == "SEMVER") {
        out.type = RangeType::Semver;
    } else if (type_name == "GIT") {
        out.type = RangeType::Git;
    } else {
        m_out.warnings.push_back(where + "unknown range type " + quote_text(type_name) + "; range ignored");
        return std::optional<OsvRange>();
    }
    const Json* events = member(range, "events");
    if (!events || !events->is_array())
        return corrupt(where + "'events' is missing or not an array");
    if (events->empty())
        return corrupt(where + "'events' is empty");
    if (events->size() > m_limits.max_events)
        return corrupt(where + "has more than " + std::to_string(m_limits.max_events) + " events");
    bool has_introduced = false;
    for (size_t i = 0; i < events->size(); ++i) {
        // Built only for an error: this loop runs for every event of every record.
        auto at = [&] { return where + "events[" + std::to_string(i) + "]: "; };
        const Json& e = (*events)[i];
        if (!e.is_object() || e.size() != 1)
            return corrupt(at() + "must be an object with exactly one of introduced, fixed, last_affected, limit");
        const std::string& key = e.begin().key();
        const Json& value = e.begin().value();
        OsvEvent event;
        if (key == "introduced")
            event.kind = EventKind::Introduced;
        else if (key == "fixed")
            event.kind = EventKind::Fixed;
        else if (key == "last_affected")
            event.kind = EventKind::LastAffected;
        else if (key == "limit")
            event.kind = EventKind::Limit;
        else
            return corrupt(at() + "unknown event " + quote_text(key));
        if (!value.is_string())
            return corrupt(at() + "the '" + key + "' version is not a string");
        event.version = value.get<std::string>();
        has_introduced = has_introduced || event.kind == EventKind::Introduced;
        if (out.type == RangeType::Ecosystem) {
            if (!(event.kind == EventKind::Introduced && event.version == "0")) {
                auto v = DpkgVersion::parse(event.version);
                if (v.is_error())
                    return corrupt(at() + v.error().message());
                event.dpkg = v.release_value();
            }
        } else if (event.version.empty() || event.version.size() > k_max_raw_version || !is_printable_token(event.version)) {
            return corrupt(
                at() + "the '" + key + "' value " + quote_text(event.version) + " is empty, too long or not printable");
        }
        out.events.push_back(std::move(event));
    }
    if (!has_introduced)
        return corrupt(where + "has no 'introduced' event");
    if (out.type == RangeType::Ecosystem) {
        // The evaluation walks events in version order; at equal versions an introduction
        // comes first, so that {introduced X, fixed X} affects nothing.
        std::stable_sort(out.events.begin(), out.events.end(), [](const OsvEvent& a, const OsvEvent& b) {
            if (!a.dpkg || !b.dpkg)
                return !a.dpkg && b.dpkg.has_value();
            int c = compare(*a.dpkg, *b.dpkg);
            if (c != 0)
                return c < 0;
            return a.kind == EventKind::Introduced && b.kind != EventKind::Introduced;
        });
    }
    return std::optional<OsvRange>(std::move(out));
}

Result<std::optional<OsvAffected>> Parser::affected_entry(const Json& entry, const std::string& where)
{
    if (!entry.is_object())
        return corrupt(where + "is not an object");
    const Json* package = member(entry, "package");
    if (!package || package->is_null())
        return std::optional<OsvAffected>(); // e.g. a GIT-only entry: no Debian package
    if (!package->is_object())
        return corrupt(where + "'package' is not an object");
    const Json* ecosystem = member(*package, "ecosystem");
    if (!ecosystem || !ecosystem->is_string()) {
        m_out.warnings.push_back(where + "'package.ecosystem' is missing or not a string; entry ignored");
        return std::optional<OsvAffected>();
    }
    OsvAffected out;
    out.ecosystem = ecosystem->get<std::string>();
    if (out.ecosystem == "Debian") {
        out.release.clear();
    } else if (out.ecosystem.rfind("Debian:", 0) == 0) {
        out.release = out.ecosystem.substr(7);
        bool ok = !out.release.empty() && out.release.size() <= m_limits.max_label_length
            && std::all_of(out.release.begin(), out.release.end(), [](char c) { return is_ascii_alnum(c) || c == '.'; });
        if (!ok)
            return corrupt(where + "the ecosystem " + quote_text(out.ecosystem) + " names an invalid Debian release");
    } else {
        return std::optional<OsvAffected>(); // another ecosystem: not ours
    }

    out.purl = TRY(string_field(*package, "purl", where + "package."));
    if (out.purl.size() > m_limits.max_name_length || !is_printable_token(out.purl))
        return corrupt(where + "'package.purl' is too long or not printable");
    out.name = TRY(string_field(*package, "name", where + "package."));
    if (out.name.empty() && out.purl.rfind("pkg:deb/debian/", 0) == 0) {
        // The name may be given by the purl alone: pkg:deb/debian/NAME[@VERSION][?QUALIFIERS].
        std::string_view rest = std::string_view(out.purl).substr(15);
        out.name = std::string(rest.substr(0, rest.find_first_of("@?#")));
    }
    if (!is_valid_debian_name(out.name, m_limits.max_name_length))
        return corrupt(where + "the package name " + quote_text(out.name) + " is not a valid Debian package name");

    if (const Json* ranges = member(entry, "ranges"); ranges && !ranges->is_null()) {
        if (!ranges->is_array())
            return corrupt(where + "'ranges' is not an array");
        if (ranges->size() > m_limits.max_ranges)
            return corrupt(where + "has more than " + std::to_string(m_limits.max_ranges) + " ranges");
        for (size_t i = 0; i < ranges->size(); ++i) {
            auto range = TRY(range_entry((*ranges)[i], where + "ranges[" + std::to_string(i) + "]: "));
            if (range)
                out.ranges.push_back(std::move(*range));
        }
    }
    if (const Json* versions = member(entry, "versions"); versions && !versions->is_null()) {
        if (!versions->is_array())
            return corrupt(where + "'versions' is not an array");
        if (versions->size() > m_limits.max_versions)
            return corrupt(where + "has more than " + std::to_string(m_limits.max_versions) + " versions");
        out.versions.reserve(versions->size());
        for (size_t i = 0; i < versions->size(); ++i) {
            const Json& v = (*versions)[i];
            auto at = [&] { return where + "versions[" + std::to_string(i) + "]: "; };
            if (!v.is_string())
                return corrupt(at() + "is not a string");
            auto parsed = DpkgVersion::parse(v.get_ref<const std::string&>());
            if (parsed.is_error())
                return corrupt(at() + parsed.error().message());
            out.versions.push_back(parsed.release_value());
        }
    }
    bool evaluable = !out.versions.empty()
        || std::any_of(out.ranges.begin(), out.ranges.end(), [](const OsvRange& r) { return r.type == RangeType::Ecosystem; });
    if (!evaluable)
        m_out.warnings.push_back(where + "has no ECOSYSTEM range and no versions, so it matches no installed version");

    out.severity = TRY(severity_list(entry, where));
    for (const char* key : { "ecosystem_specific", "database_specific" }) {
        const Json* specific = member(entry, key);
        if (!specific || specific->is_null())
            continue;
        if (!specific->is_object()) {
            m_out.warnings.push_back(where + "'" + key + "' is not an object; ignored");
            continue;
        }
        std::string at = where + key + ".";
        if (std::string u = label_field(*specific, "urgency", at); out.urgency.empty())
            out.urgency = std::move(u);
        if (std::string s = severity_label_field(*specific, at); out.database_severity.empty())
            out.database_severity = std::move(s);
    }
    return std::optional<OsvAffected>(std::move(out));
}

std::optional<int> first_cvss3(const std::vector<OsvSeverity>& list)
{
    for (const auto& s : list) {
        if (s.type != "CVSS_V3")
            continue;
        auto tenths = cvss3_base_score_tenths(s.score);
        if (tenths.is_ok())
            return tenths.value();
    }
    return std::nullopt;
}

void Parser::normalise(OsvAffected& affected, const Advisory& advisory)
{
    // 1. A CVSS v3 vector, the entry's own first, then the record's.
    auto tenths = first_cvss3(affected.severity);
    if (!tenths)
        tenths = first_cvss3(advisory.severity);
    if (tenths) {
        affected.score = *tenths / 10.0;
        affected.level = severity_from_score(*affected.score);
        return;
    }
    // 2. A database_specific severity label, 3. a Debian urgency; entry before record.
    for (const std::string& label : std::array<std::string, 2> { affected.database_severity, advisory.database_severity }) {
        if (auto s = severity_from_label(label)) {
            affected.level = *s;
            return;
        }
    }
    for (const std::string& urgency : std::array<std::string, 2> { affected.urgency, advisory.urgency }) {
        if (auto s = severity_from_urgency(urgency)) {
            affected.level = *s;
            return;
        }
    }
    affected.level = Severity::Unknown;
}

Result<ParsedRecord> Parser::parse(const Json& record)
{
    if (!record.is_object())
        return corrupt("the record is not a JSON object");
    const Json* id = member(record, "id");
    if (!id || !id->is_string())
        return corrupt("the record has no string 'id'");
    Advisory adv;
    adv.id = id->get<std::string>();
    if (!is_valid_id(adv.id, m_limits.max_id_length))
        return corrupt("the id " + quote_text(adv.id) + " is empty, longer than " + std::to_string(m_limits.max_id_length)
            + " bytes or has characters outside [A-Za-z0-9._:-]");
    adv.modified = label_field(record, "modified", "");
    adv.published = label_field(record, "published", "");
    adv.withdrawn = label_field(record, "withdrawn", "");
    adv.aliases = id_list(record, "aliases");
    adv.upstream = id_list(record, "upstream");
    adv.related = id_list(record, "related");
    adv.summary = truncate_utf8(strip_controls(TRY(string_field(record, "summary", "")), false), m_limits.max_summary_bytes);
    adv.details = truncate_utf8(strip_controls(TRY(string_field(record, "details", "")), true), m_limits.max_details_bytes);
    adv.severity = TRY(severity_list(record, ""));
    if (const Json* specific = member(record, "database_specific"); specific && specific->is_object()) {
        adv.database_severity = severity_label_field(*specific, "database_specific.");
        adv.urgency = label_field(*specific, "urgency", "database_specific.");
    }

    const Json* affected = member(record, "affected");
    if (affected && !affected->is_null()) {
        if (!affected->is_array())
            return corrupt("'affected' is not an array");
        if (affected->size() > m_limits.max_affected)
            return corrupt("'affected' has more than " + std::to_string(m_limits.max_affected) + " entries");
        for (size_t i = 0; i < affected->size(); ++i) {
            auto entry = TRY(affected_entry((*affected)[i], "affected[" + std::to_string(i) + "]: "));
            if (entry)
                adv.affected.push_back(std::move(*entry));
        }
    }
    for (size_t i = 0; i < adv.affected.size(); ++i)
        normalise(adv.affected[i], adv);
    if (!adv.affected.empty())
        m_out.advisory = std::move(adv);
    return std::move(m_out);
}

Json severity_json(const std::vector<OsvSeverity>& list)
{
    Json out = Json::array();
    for (const auto& s : list)
        out.push_back(Json { { "type", s.type }, { "score", s.score } });
    return out;
}

} // namespace

Result<ParsedRecord> parse_osv_record(const Json& record, const OsvLimits& limits)
{
    Parser parser(limits);
    return parser.parse(record);
}

Result<ParsedRecord> parse_osv_text(const std::string& text, size_t max_bytes, const OsvLimits& limits)
{
    auto doc = parse_json(text, JsonLimits { max_bytes, 32 });
    if (doc.is_error())
        return Error(ErrorKind::Corrupt, doc.error().message());
    return parse_osv_record(doc.value(), limits);
}

Json osv_to_json(const Advisory& adv)
{
    Json out = Json::object();
    out["id"] = adv.id;
    auto put = [&out](const char* key, const std::string& value) {
        if (!value.empty())
            out[key] = value;
    };
    auto put_list = [&out](const char* key, const std::vector<std::string>& list) {
        if (!list.empty())
            out[key] = list;
    };
    put("modified", adv.modified);
    put("published", adv.published);
    put("withdrawn", adv.withdrawn);
    put_list("aliases", adv.aliases);
    put_list("upstream", adv.upstream);
    put_list("related", adv.related);
    put("summary", adv.summary);
    put("details", adv.details);
    if (!adv.severity.empty())
        out["severity"] = severity_json(adv.severity);
    Json specific = Json::object();
    if (!adv.database_severity.empty())
        specific["severity"] = adv.database_severity;
    if (!adv.urgency.empty())
        specific["urgency"] = adv.urgency;
    if (!specific.empty())
        out["database_specific"] = specific;

    Json affected = Json::array();
    for (const auto& a : adv.affected) {
        Json entry = Json::object();
        Json package = { { "ecosystem", a.ecosystem }, { "name", a.name } };
        if (!a.purl.empty())
            package["purl"] = a.purl;
        entry["package"] = package;
        if (!a.ranges.empty()) {
            Json ranges = Json::array();
            for (const auto& r : a.ranges) {
                Json events = Json::array();
                for (const auto& e : r.events)
                    events.push_back(Json { { event_kind_name(e.kind), e.version } });
                ranges.push_back(Json { { "type", range_type_name(r.type) }, { "events", events } });
            }
            entry["ranges"] = ranges;
        }
        if (!a.versions.empty()) {
            Json versions = Json::array();
            for (const auto& v : a.versions)
                versions.push_back(v.str());
            entry["versions"] = versions;
        }
        if (!a.severity.empty())
            entry["severity"] = severity_json(a.severity);
        if (!a.urgency.empty())
            entry["ecosystem_specific"] = Json { { "urgency", a.urgency } };
        if (!a.database_severity.empty())
            entry["database_specific"] = Json { { "severity", a.database_severity } };
        affected.push_back(entry);
    }
    out["affected"] = affected;
    return out;
}

} // namespace bulwark::vuln
