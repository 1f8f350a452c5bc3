#include "scan/assess.h"

#include <algorithm>

namespace bulwark::scan {

inspect::Severity policy_severity(vuln::Severity severity)
{
    switch (severity) {
    case vuln::Severity::Critical:
        return inspect::Severity::Critical;
    case vuln::Severity::High:
        return inspect::Severity::High;
    case vuln::Severity::Medium:
    case vuln::Severity::Unknown:
        return inspect::Severity::Medium;
    case vuln::Severity::Low:
        return inspect::Severity::Low;
    case vuln::Severity::None:
        return inspect::Severity::Info;
    }
    return inspect::Severity::Medium;
}

static std::string str(const Json& j, const char* key)
{
    if (!j.is_object() || !j.contains(key) || !j[key].is_string())
        return {};
    return j[key].get<std::string>();
}

Result<Json> assess(Json report, const AssessInput& input)
{
    if (!report.is_object())
        return Error(ErrorKind::Corrupt, "the inspector's report is not an object");
    Json out {{"schema", "bulwark.scan.v1"}, {"image", input.image}, {"scanned_at", input.now}};
    out["scanner"] = Json {{"version", "0.1.0"}, {"feed", input.feed_info}, {"yara_rules", report.value("yara_rules", Json::array())}};
    for (const char* key : {"os", "filesystems", "packages", "identity", "stats"})
        out[key] = report.contains(key) ? report[key] : Json(nullptr);
    if (!out["packages"].is_array())
        out["packages"] = Json::array();
    if (!out["filesystems"].is_array())
        out["filesystems"] = Json::array();

    std::map<std::string, int> counts {{"refuse", 0}, {"warn", 0}, {"info", 0}, {"excepted", 0}, {"ignored", 0}};
    auto decide = [&](Json& item, const std::string& id, const std::string& kind, inspect::Severity severity) {
        auto verdict = policy::decide(*input.policy, {id, kind, severity}, input.today);
        item["outcome"] = policy::outcome_name(verdict.outcome);
        item["rule"] = verdict.rule;
        ++counts[policy::outcome_name(verdict.outcome)];
    };

    // Findings of the inspection.
    Json findings = Json::array();
    if (report.contains("findings") && report["findings"].is_array()) {
        for (const auto& f : report["findings"]) {
            std::string id = str(f, "id"), kind = str(f, "kind");
            auto severity = inspect::severity_from_name(str(f, "severity"));
            if (id.empty() || kind.empty() || !severity)
                return Error(ErrorKind::Corrupt, "the inspector's report holds a malformed finding");
            Json item {{"id", id}, {"kind", kind}, {"severity", inspect::severity_name(*severity)}, {"path", str(f, "path")},
                {"line", f.is_object() && f.contains("line") && f["line"].is_number_unsigned() ? f["line"].get<uint64_t>() : 0},
                {"message", str(f, "message")}, {"excerpt", str(f, "excerpt")}};
            decide(item, id, kind, *severity);
            findings.push_back(std::move(item));
        }
    }

    // Vulnerabilities of the installed packages.
    Json vulns = Json::array();
    const Json& os = out["os"];
    if (input.advisories && os.is_object() && str(os, "id") == "debian") {
        std::vector<vuln::InstalledPackage> packages;
        for (const auto& p : out["packages"]) {
            vuln::InstalledPackage ip;
            ip.name = str(p, "name");
            ip.version = str(p, "version");
            ip.architecture = str(p, "architecture");
            ip.source_name = str(p, "source_name");
            ip.source_version = str(p, "source_version");
            packages.push_back(std::move(ip));
        }
        auto matched = input.advisories->match({str(os, "id"), str(os, "version_id")}, packages);
        if (matched.is_error()) {
            // An image whose packages cannot be assessed is not assessed as clean.
            Json item {{"id", "vuln.unassessable"}, {"kind", "vuln.unassessable"}, {"severity", "high"}, {"path", "/var/lib/dpkg/status"},
                {"line", 0}, {"message", "vulnerabilities could not be assessed: " + matched.error().message()}, {"excerpt", ""}};
            decide(item, "vuln.unassessable", "vuln.unassessable", inspect::Severity::High);
            findings.push_back(std::move(item));
        } else {
            for (const auto& v : matched.value()) {
                auto severity = policy_severity(v.severity);
                std::string id = "vuln:" + v.advisory_id + ":" + v.package;
                Json item {{"id", id}, {"advisory", v.advisory_id}, {"aliases", v.aliases}, {"summary", v.summary},
                    {"package", v.package}, {"version", v.version}, {"source_name", v.source_package},
                    {"source_version", v.source_version}, {"fixed_version", v.fixed_version ? Json(*v.fixed_version) : Json(nullptr)},
                    {"severity", inspect::severity_name(severity)}, {"score", v.score ? Json(*v.score) : Json(nullptr)}};
                decide(item, id, "vuln", severity);
                vulns.push_back(std::move(item));
            }
        }
    } else if (!input.advisories && !out["packages"].empty()) {
        Json item {{"id", "vuln.no-feed"}, {"kind", "vuln.no-feed"}, {"severity", "medium"}, {"path", ""}, {"line", 0},
            {"message", "no advisory feed is loaded (bulwark vuln update): vulnerabilities were not assessed"}, {"excerpt", ""}};
        decide(item, "vuln.no-feed", "vuln.no-feed", inspect::Severity::Medium);
        findings.push_back(std::move(item));
    }

    auto rank = [](const Json& j) { return static_cast<int>(inspect::severity_from_name(j["severity"].get<std::string>()).value_or(inspect::Severity::Info)); };
    auto by_severity = [&](const Json& a, const Json& b) {
        int ra = rank(a), rb = rank(b);
        if (ra != rb)
            return ra > rb;
        return a["id"].get<std::string>() < b["id"].get<std::string>();
    };
    std::vector<Json> fs(findings.begin(), findings.end()), vs(vulns.begin(), vulns.end());
    std::stable_sort(fs.begin(), fs.end(), by_severity);
    std::stable_sort(vs.begin(), vs.end(), by_severity);
    out["findings"] = fs;
    out["vulnerabilities"] = vs;
    out["policy"] = Json {{"source", input.policy->source}, {"admitted", counts["refuse"] == 0}, {"counts", counts}};
    return out;
}

}  // namespace bulwark::scan
