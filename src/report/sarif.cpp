// The SARIF 2.1.0 rendering of a scan report. docs/reports.md explains each mapping; the
// GitHub code scanning notes there say which properties GitHub reads.
#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "report/reading.h"
#include "report/render.h"

namespace bulwark::report {
namespace {

constexpr const char* k_schema = "https://json.schemastore.org/sarif-2.1.0.json";
constexpr const char* k_uri_base = "IMAGEROOT";
constexpr const char* k_fingerprint = "bulwarkFindingId/v1";
constexpr const char* k_dpkg_status = "var/lib/dpkg/status";
// GitHub shows at most 1024 characters of a rule description and 255 of a rule name.
constexpr size_t k_max_description = 1000;
constexpr size_t k_max_rule_name = 250;
constexpr size_t k_max_aliases_in_message = 20;

const char* level_for(std::string_view outcome)
{
    switch (outcome_rank(outcome)) {
    case 0:
        return "error";
    case 1:
        return "warning";
    case 2:
    case 3:
    case 4:
        return "note";
    default:
        // An outcome this version does not know: better seen than hidden.
        return "warning";
    }
}

const char* default_level_for(int severity)
{
    if (severity >= 3)
        return "error";
    if (severity == 2)
        return "warning";
    return "note";
}

// GitHub ranks security alerts by a rule's "security-severity", a CVSS-like score: over 9.0
// critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low. A value inside each band.
const char* security_severity_for(int severity)
{
    switch (severity) {
    case 4:
        return "9.5";
    case 3:
        return "8.0";
    case 2:
        return "5.5";
    case 1:
        return "2.0";
    default:
        return nullptr;
    }
}

struct Area {
    std::string_view prefix;
    const char* title;
    const char* description;
};

// What each family of finding kinds is about, for the rule descriptions. A kind outside these
// families still gets a rule, with the generic description.
constexpr Area k_areas[] = {
    { "account", "Local accounts",
        "Local accounts, their password hashes and group memberships (/etc/passwd, /etc/shadow, /etc/group)." },
    { "sudo", "sudo", "Rules in /etc/sudoers and /etc/sudoers.d that let users or groups run commands as root." },
    { "ssh", "SSH", "The OpenSSH server configuration, authorized keys and host keys of the image." },
    { "secret", "Secrets",
        "A secret (a private key, a token or a password) stored in the image. Excerpts are redacted: the secret itself "
        "is never reported." },
    { "file", "File permissions",
        "Files whose mode lets an unprivileged user gain privileges or tamper with the system (setuid, setgid, "
        "world-writable)." },
    { "cron", "Scheduled jobs", "Jobs that cron runs in every guest started from the image." },
    { "systemd", "Services", "systemd units that every guest started from the image runs at boot." },
};
constexpr Area k_generic_area
    = { "", "Image inspection", "A check of the golden image's content by Bulwark's offline inspection." };

const Area& area_of(std::string_view kind)
{
    std::string_view family = kind.substr(0, kind.find('.'));
    for (const Area& area : k_areas) {
        if (area.prefix == family)
            return area;
    }
    return k_generic_area;
}

// "account.empty-password" -> "Local accounts: empty password".
std::string kind_title(std::string_view kind)
{
    const Area& area = area_of(kind);
    size_t dot = kind.find('.');
    if (area.prefix.empty() || dot == std::string_view::npos || dot + 1 == kind.size())
        return std::string(kind);
    std::string check(kind.substr(dot + 1));
    std::replace(check.begin(), check.end(), '-', ' ');
    std::replace(check.begin(), check.end(), '.', ' ');
    return std::string(area.title) + ": " + check;
}

// A path inside the image as a relative URI reference against IMAGEROOT: no leading slash,
// and every byte outside [A-Za-z0-9-._~/] percent-encoded (so ':' cannot make the first
// segment look like a scheme, and '?', '#', '%' and spaces cannot change the meaning).
std::string image_uri(std::string_view path)
{
    while (!path.empty() && path.front() == '/')
        path.remove_prefix(1);
    if (path.empty())
        return "./";
    return percent_encode(path, "/");
}

// CommonMark: a backslash before an ASCII punctuation character makes it literal. The ones
// that can start or end markup (emphasis, links, code, HTML, entities) are escaped.
std::string markdown_escape(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (std::string_view("\\`*_{}[]<>()#+!|~&").find(c) != std::string_view::npos)
            out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

Json message(const std::string& text)
{
    return Json { { "text", text } };
}

Json location_at(const std::string& path, int64_t line)
{
    Json physical = { { "artifactLocation", { { "uri", image_uri(path) }, { "uriBaseId", k_uri_base } } } };
    if (line > 0)
        physical["region"] = { { "startLine", line } };
    return Json { { "physicalLocation", std::move(physical) } };
}

struct RuleState {
    Json rule;
    int max_severity = -1;
    std::optional<double> max_score;
};

class RuleTable {
public:
    size_t kind_rule(const std::string& kind)
    {
        auto it = m_kinds.find(kind);
        if (it != m_kinds.end())
            return it->second;
        const Area& area = area_of(kind);
        std::string title = kind_title(kind);
        std::string full = std::string(area.description) + " Finding kind: " + kind + ".";
        Json rule = {
            { "id", kind },
            { "name", safe_text(kind, k_max_rule_name) },
            { "shortDescription", message(safe_text(title, k_max_description)) },
            { "fullDescription", message(safe_text(full, k_max_description)) },
            { "help",
                message(full
                    + " Each result names the file and line and says what was found. The admission policy decides what "
                      "a finding of this kind means for the image: refuse, warn, info, or an exception by finding id.") },
            { "properties",
                { { "tags", Json::array({ "security", std::string(area.prefix.empty() ? "image" : area.prefix) }) },
                    { "precision", area.prefix == "secret" ? "medium" : "high" } } },
        };
        return add(m_kinds, kind, std::move(rule));
    }

    size_t advisory_rule(const std::string& advisory, const Json& vuln)
    {
        auto it = m_advisories.find(advisory);
        if (it != m_advisories.end())
            return it->second;
        // Rule ids share one namespace: an advisory named like a finding kind gets a prefix.
        std::string id = m_kinds.count(advisory) ? "vuln:" + advisory : advisory;
        std::string summary = safe_text(text(vuln, "summary"));
        std::string package = safe_text(text(vuln, "source_name"));
        if (package.empty())
            package = safe_text(text(vuln, "package"));
        std::string aliases = alias_list(vuln, SIZE_MAX);
        std::string short_text = summary.empty() ? advisory + " in " + package : summary;
        std::string full_text = advisory + ": " + (summary.empty() ? "a vulnerability in " + package : summary);
        if (full_text.back() != '.')
            full_text += ".";
        if (!aliases.empty())
            full_text += " Aliases: " + aliases + ".";
        std::string url = advisory_url(advisory, field(vuln, "aliases"));
        std::string help_text
            = full_text + " Upgrade the package to the fixed version named in the result, or later. " + "Details: " + url;
        // The summary is advisory prose: it stays out of the Markdown, where it could add links.
        std::string help_markdown = "**[" + markdown_escape(advisory) + "](" + url + ")**";
        for (const Json& alias : list(vuln, "aliases")) {
            if (alias.is_string() && is_cve_id(alias.get<std::string>())) {
                const std::string& cve = alias.get_ref<const std::string&>();
                help_markdown += "\n- [" + cve + "](https://security-tracker.debian.org/tracker/" + cve + ")";
            }
        }
        help_markdown += "\n\nUpgrade the package to the fixed version named in the result, or later.";
        Json rule = {
            { "id", id },
            { "name", safe_text(advisory, k_max_rule_name) },
            { "shortDescription", message(safe_text(short_text, k_max_description)) },
            { "fullDescription", message(safe_text(full_text, k_max_description)) },
            { "helpUri", url },
            { "help", { { "text", help_text }, { "markdown", help_markdown } } },
            { "properties", { { "tags", Json::array({ "security", "vulnerability", "debian" }) }, { "precision", "high" } } },
        };
        return add(m_advisories, advisory, std::move(rule));
    }

    void saw(size_t index, int severity, std::optional<double> score)
    {
        RuleState& state = m_rules[index];
        state.max_severity = std::max(state.max_severity, severity);
        if (score && (!state.max_score || *score > *state.max_score))
            state.max_score = score;
    }

    const std::string& id(size_t index) const { return m_rules[index].rule["id"].get_ref<const std::string&>(); }

    Json finish()
    {
        Json rules = Json::array();
        for (RuleState& state : m_rules) {
            Json& rule = state.rule;
            rule["defaultConfiguration"] = { { "level", default_level_for(state.max_severity) } };
            if (state.max_score && *state.max_score > 0 && *state.max_score <= 10) {
                char buf[16];
                std::snprintf(buf, sizeof buf, "%.1f", *state.max_score);
                rule["properties"]["security-severity"] = buf;
            } else if (const char* s = security_severity_for(state.max_severity)) {
                rule["properties"]["security-severity"] = s;
            }
            rules.push_back(std::move(rule));
        }
        return rules;
    }

    static std::string alias_list(const Json& vuln, size_t max_count)
    {
        std::string out;
        size_t count = 0;
        size_t total = 0;
        for (const Json& alias : list(vuln, "aliases")) {
            if (!alias.is_string())
                continue;
            ++total;
            if (count == max_count)
                continue;
            if (!out.empty())
                out += ", ";
            out += safe_text(alias.get<std::string>(), 128);
            ++count;
        }
        if (total > count)
            out += ", and " + std::to_string(total - count) + " more";
        return out;
    }

private:
    size_t add(std::unordered_map<std::string, size_t>& index, const std::string& key, Json rule)
    {
        size_t at = m_rules.size();
        index.emplace(key, at);
        m_rules.push_back(RuleState { std::move(rule), -1, std::nullopt });
        return at;
    }

    std::unordered_map<std::string, size_t> m_kinds;
    std::unordered_map<std::string, size_t> m_advisories;
    std::vector<RuleState> m_rules;
};

// Excepted and ignored results are reported, but as suppressed: the policy accepted them.
void add_suppression(Json& result, std::string_view outcome, const std::string& rule)
{
    int rank = outcome_rank(outcome);
    if (rank != 3 && rank != 4)
        return;
    std::string justification
        = rule.empty() ? (rank == 3 ? "excepted by the admission policy" : "ignored by the admission policy") : rule;
    result["suppressions"]
        = Json::array({ { { "kind", "external" }, { "status", "accepted" }, { "justification", std::move(justification) } } });
}

Json finding_result(const Json& finding, RuleTable& rules)
{
    std::string id = safe_text(text(finding, "id"));
    std::string kind = safe_text(text(finding, "kind"), 256);
    if (kind.empty())
        kind = id.substr(0, id.find(':'));
    if (kind.empty())
        kind = "unknown";
    std::string severity = safe_text(text(finding, "severity"), 32);
    std::string outcome = safe_text(text(finding, "outcome"), 32);
    std::string rule_text = safe_text(text(finding, "rule"));
    size_t rule = rules.kind_rule(kind);
    rules.saw(rule, severity_rank(severity), std::nullopt);

    std::string msg = safe_text(text(finding, "message"));
    if (msg.empty())
        msg = "Finding " + (id.empty() ? kind : id) + ".";
    Json result = {
        { "ruleId", rules.id(rule) },
        { "ruleIndex", rule },
        { "level", level_for(outcome) },
        { "message", message(msg) },
    };
    std::string path = text(finding, "path");
    if (!path.empty())
        result["locations"] = Json::array({ location_at(path, integer(finding, "line").value_or(0)) });
    else
        result["locations"] = Json::array();
    if (!id.empty())
        result["partialFingerprints"] = { { k_fingerprint, id } };
    Json properties = { { "severity", severity }, { "outcome", outcome } };
    std::string excerpt = safe_text(text(finding, "excerpt"));
    if (!excerpt.empty())
        properties["excerpt"] = excerpt;
    if (!rule_text.empty())
        properties["policyRule"] = rule_text;
    result["properties"] = std::move(properties);
    add_suppression(result, outcome, rule_text);
    return result;
}

Json vulnerability_result(const Json& vuln, RuleTable& rules)
{
    std::string id = safe_text(text(vuln, "id"));
    std::string advisory = safe_text(text(vuln, "advisory"), 256);
    if (advisory.empty())
        advisory = id.empty() ? "vuln" : id;
    std::string severity = safe_text(text(vuln, "severity"), 32);
    std::string outcome = safe_text(text(vuln, "outcome"), 32);
    std::string rule_text = safe_text(text(vuln, "rule"));
    std::optional<double> score = number(vuln, "score");
    size_t rule = rules.advisory_rule(advisory, vuln);
    rules.saw(rule, severity_rank(severity), score);

    std::string package = safe_text(text(vuln, "package"));
    std::string version = safe_text(text(vuln, "version"));
    std::string fixed = safe_text(text(vuln, "fixed_version"));
    std::string summary = safe_text(text(vuln, "summary"));
    std::string aliases = RuleTable::alias_list(vuln, k_max_aliases_in_message);
    // The first sentence is what GitHub shows as the alert's title.
    std::string msg = (package.empty() ? "A package" : package) + (version.empty() ? "" : " " + version) + " is affected by "
        + advisory + (aliases.empty() ? "" : " (" + aliases + ")") + ".";
    if (!summary.empty())
        msg += " " + summary + (summary.back() == '.' ? "" : ".");
    msg += fixed.empty() ? " No fixed version is available yet." : " Fixed in " + fixed + ".";

    Json result = {
        { "ruleId", rules.id(rule) },
        { "ruleIndex", rule },
        { "level", level_for(outcome) },
        { "message", message(msg) },
        { "locations", Json::array({ location_at(k_dpkg_status, 0) }) },
    };
    if (!id.empty())
        result["partialFingerprints"] = { { k_fingerprint, id } };
    Json alias_array = Json::array();
    for (const Json& alias : list(vuln, "aliases")) {
        if (alias.is_string())
            alias_array.push_back(safe_text(alias.get<std::string>(), 128));
    }
    Json properties = {
        { "severity", severity },
        { "outcome", outcome },
        { "package", package },
        { "installedVersion", version },
        { "fixedVersion", fixed.empty() ? Json(nullptr) : Json(fixed) },
        { "sourceName", safe_text(text(vuln, "source_name")) },
        { "aliases", std::move(alias_array) },
        { "score", score ? Json(*score) : Json(nullptr) },
    };
    if (!rule_text.empty())
        properties["policyRule"] = rule_text;
    result["properties"] = std::move(properties);
    add_suppression(result, outcome, rule_text);
    return result;
}

Json run_properties(const Json& report, const Decision& decision)
{
    const Json& image = field(report, "image");
    const Json& os = field(report, "os");
    const Json& policy = field(report, "policy");
    Json props = {
        { "image",
            { { "name", safe_text(text(image, "name")) }, { "version", safe_text(text(image, "version")) },
                { "digest", safe_text(text(image, "digest")) }, { "format", safe_text(text(image, "format")) } } },
        { "os", os.is_object() ? Json(safe_text(text(os, "pretty_name"))) : Json(nullptr) },
        { "scannedAt", safe_text(text(report, "scanned_at"), 64) },
        { "decision", decision.admitted ? "admitted" : "refused" },
        { "admitted", decision.admitted },
        { "policy",
            { { "source", safe_text(text(policy, "source")) },
                { "counts",
                    { { "refuse", decision.refused }, { "warn", decision.warned }, { "info", decision.info },
                        { "excepted", decision.excepted }, { "ignored", decision.ignored } } } } },
    };
    return props;
}

} // namespace

Json to_sarif(const Json& report, const SarifOptions& options)
{
    RuleTable rules;
    Json results = Json::array();
    for (const Json& finding : list(report, "findings")) {
        if (finding.is_object())
            results.push_back(finding_result(finding, rules));
    }
    for (const Json& vuln : list(report, "vulnerabilities")) {
        if (vuln.is_object())
            results.push_back(vulnerability_result(vuln, rules));
    }

    const Json& image = field(report, "image");
    std::string image_name = safe_text(text(image, "name"), 128);
    std::string image_version = safe_text(text(image, "version"), 128);
    std::string digest = safe_text(text(image, "digest"), 128);
    std::string scanned_at = text(report, "scanned_at");

    Json driver = { { "name", "Bulwark" }, { "fullName", "Bulwark golden-image scanner" } };
    std::string version = safe_text(text(field(report, "scanner"), "version"), 64);
    if (!version.empty())
        driver["semanticVersion"] = version;
    if (!options.information_uri.empty())
        driver["informationUri"] = options.information_uri;
    driver["rules"] = rules.finish();

    std::string root_text = "The root directory of the image";
    if (!image_name.empty())
        root_text += " " + image_name + (image_version.empty() ? "" : " " + image_version);
    if (!digest.empty())
        root_text += " (" + digest + ")";
    root_text += ".";

    Decision decision = decide(report);
    Json run = {
        { "tool", { { "driver", std::move(driver) } } },
        { "originalUriBaseIds", { { k_uri_base, { { "uri", "file:///" }, { "description", message(root_text) } } } } },
    };
    // GitHub keeps one analysis per category: one category per image name, so the scans of
    // two images of one repository do not replace each other, and a new version of an image
    // replaces the analysis of the previous one.
    if (!image_name.empty())
        run["automationDetails"] = { { "id", "bulwark/" + image_name + "/" + safe_text(scanned_at, 64) } };
    if (is_utc_timestamp(scanned_at))
        run["invocations"] = Json::array({ { { "executionSuccessful", true }, { "endTimeUtc", scanned_at } } });
    run["results"] = std::move(results);
    run["properties"] = run_properties(report, decision);

    return Json {
        { "$schema", k_schema },
        { "version", "2.1.0" },
        { "runs", Json::array({ std::move(run) }) },
    };
}

} // namespace bulwark::report
