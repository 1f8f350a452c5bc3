// The CycloneDX 1.5 rendering of a scan report. docs/reports.md explains each mapping.
#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/hash.h"
#include "report/reading.h"
#include "report/render.h"

namespace bulwark::report {
namespace {

// The RFC 4122 name-space of Bulwark scan reports (a random UUID, fixed once): serial numbers
// are version 5 UUIDs of a name in it.
constexpr std::array<uint8_t, 16> k_serial_namespace
    = { 0xb9, 0x00, 0x1d, 0xf1, 0x4c, 0x8b, 0x4c, 0xc4, 0x89, 0xa9, 0x88, 0x79, 0x70, 0xf4, 0x73, 0xb8 };

std::string format_uuid(const uint8_t* bytes)
{
    std::string hex = to_hex(bytes, 16);
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-"
        + hex.substr(20, 12);
}

// RFC 4122 section 4.3: SHA-1 of name-space and name, version 5, variant 10. SHA-1 is only an
// identifier here, not a security boundary. Where SHA-1 is unavailable (an OpenSSL that
// refuses it), the same construction with SHA-256 and version 8, as RFC 9562 B.2 shows it.
std::string name_based_uuid(const std::string& name)
{
    std::string input(reinterpret_cast<const char*>(k_serial_namespace.data()), k_serial_namespace.size());
    input += name;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    uint8_t version = 0x50;
    if (EVP_Digest(input.data(), input.size(), md, &md_len, EVP_sha1(), nullptr) != 1 || md_len < 16) {
        Digest digest = Sha256::of(input);
        std::copy(digest.begin(), digest.begin() + 16, md);
        version = 0x80;
    }
    md[6] = static_cast<unsigned char>((md[6] & 0x0f) | version);
    md[8] = static_cast<unsigned char>((md[8] & 0x3f) | 0x80);
    return format_uuid(md);
}

Json property(const char* name, const std::string& value)
{
    return Json { { "name", name }, { "value", value } };
}

void add_property(Json& properties, const char* name, const std::string& value)
{
    if (!value.empty())
        properties.push_back(property(name, value));
}

// Debian's name for a vendor, as purl namespace: os-release ID when it looks like one.
std::string purl_namespace(const Json& os)
{
    std::string id = text(os, "id");
    if (id.empty() || id.size() > 64)
        return "debian";
    for (char c : id) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
            return "debian";
    }
    return id;
}

// purl-spec: name and version percent-encoded except the alphanumerics, ".-_~" and ':' (which
// is never encoded), so "1:2.3-1" stays and "libstdc++6" becomes "libstdc%2B%2B6".
// Qualifiers in key order.
std::string deb_purl(const std::string& ns, const std::string& name, const std::string& version, const std::string& arch,
    const std::string& distro)
{
    std::string purl = "pkg:deb/" + percent_encode(ns, ":") + "/" + percent_encode(name, ":");
    if (!version.empty())
        purl += "@" + percent_encode(version, ":");
    std::string qualifiers;
    if (!arch.empty())
        qualifiers += "arch=" + percent_encode(arch, ":");
    if (!distro.empty())
        qualifiers += (qualifiers.empty() ? "" : "&") + std::string("distro=") + percent_encode(distro, ":");
    if (!qualifiers.empty())
        purl += "?" + qualifiers;
    return purl;
}

std::string cdx_severity(std::string_view severity)
{
    switch (severity_rank(severity)) {
    case 4:
        return "critical";
    case 3:
        return "high";
    case 2:
        return "medium";
    case 1:
        return "low";
    case 0:
        return "info";
    default:
        return "unknown";
    }
}

Json vulnerability_source(std::string_view id, const Json& aliases)
{
    if (is_cve_id(id))
        return { { "name", "NVD" }, { "url", "https://nvd.nist.gov/vuln/detail/" + std::string(id) } };
    if (id.starts_with("GHSA-"))
        return { { "name", "GitHub" }, { "url", "https://github.com/advisories/" + percent_encode(id) } };
    if (is_debian_advisory(id))
        return { { "name", "Debian" }, { "url", advisory_url(id, aliases) } };
    return { { "name", "OSV" }, { "url", "https://osv.dev/vulnerability/" + percent_encode(id) } };
}

class RefSet {
public:
    // ref itself when unused, else ref#2, ref#3, ...: bom-refs must be unique in a BOM.
    std::string claim(const std::string& ref)
    {
        if (m_used.insert(ref).second)
            return ref;
        for (size_t n = 2;; ++n) {
            std::string candidate = ref + "#" + std::to_string(n);
            if (m_used.insert(candidate).second)
                return candidate;
        }
    }
    bool contains(const std::string& ref) const { return m_used.count(ref) != 0; }

private:
    std::unordered_set<std::string> m_used;
};

Json image_component(const Json& report, RefSet& refs)
{
    const Json& image = field(report, "image");
    std::string name = safe_text(text(image, "name"), 256);
    std::string version = safe_text(text(image, "version"), 256);
    std::string format = safe_text(text(image, "format"), 32);
    Json component = {
        { "type", "file" },
        { "bom-ref",
            refs.claim("image:" + (name.empty() ? std::string("unnamed") : name) + (version.empty() ? "" : "@" + version)) },
        { "name", name.empty() ? std::string("unnamed image") : name },
    };
    if (!version.empty())
        component["version"] = version;
    component["description"] = (format.empty() ? std::string("Disk image") : format + " disk image") + " scanned by Bulwark";
    std::string digest = text(image, "digest");
    if (digest.starts_with("sha256:")) {
        std::string hex = digest.substr(7);
        bool valid = hex.size() == 64;
        for (char c : hex)
            valid = valid && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        if (valid)
            component["hashes"] = Json::array({ { { "alg", "SHA-256" }, { "content", hex } } });
    }
    return component;
}

Json metadata_properties(const Json& report, const Decision& decision)
{
    const Json& image = field(report, "image");
    const Json& scanner = field(report, "scanner");
    const Json& feed = field(scanner, "feed");
    Json properties = Json::array();
    add_property(properties, "bulwark:image:name", safe_text(text(image, "name")));
    add_property(properties, "bulwark:image:version", safe_text(text(image, "version")));
    add_property(properties, "bulwark:image:digest", safe_text(text(image, "digest")));
    add_property(properties, "bulwark:image:format", safe_text(text(image, "format")));
    add_property(properties, "bulwark:image:source", safe_text(text(image, "source")));
    if (auto size = integer(image, "virtual_size"))
        add_property(properties, "bulwark:image:virtual_size", std::to_string(*size));
    add_property(properties, "bulwark:scan:schema", safe_text(text(report, "schema"), 64));
    if (auto advisories = integer(feed, "advisories"))
        add_property(properties, "bulwark:feed:advisories", std::to_string(*advisories));
    add_property(properties, "bulwark:feed:updated", safe_text(text(feed, "updated"), 64));
    add_property(properties, "bulwark:policy:source", safe_text(text(field(report, "policy"), "source")));
    add_property(properties, "bulwark:policy:admitted", decision.admitted ? "true" : "false");
    add_property(properties, "bulwark:policy:refused", std::to_string(decision.refused));
    return properties;
}

struct PackageIndex {
    // "name\0version" -> the bom-refs of the installed packages (one per architecture).
    std::unordered_map<std::string, std::vector<std::string>> refs;
    static std::string key(const std::string& name, const std::string& version) { return name + '\0' + version; }
};

Json vulnerability(const Json& vuln, const PackageIndex& packages, RefSet& refs)
{
    std::string id = safe_text(text(vuln, "id"));
    std::string advisory = safe_text(text(vuln, "advisory"), 256);
    if (advisory.empty())
        advisory = id.empty() ? std::string("unknown") : id;
    const Json& aliases = field(vuln, "aliases");
    Json source = vulnerability_source(advisory, aliases);

    Json out = Json::object();
    out["bom-ref"] = refs.claim(id.empty() ? "vuln:" + advisory : id);
    out["id"] = advisory;
    out["source"] = source;

    Json references = Json::array();
    std::unordered_set<std::string> seen { advisory };
    for (const Json& alias : list(vuln, "aliases")) {
        if (!alias.is_string())
            continue;
        std::string a = safe_text(alias.get<std::string>(), 128);
        if (a.empty() || !seen.insert(a).second)
            continue;
        references.push_back({ { "id", a }, { "source", vulnerability_source(a, Json()) } });
    }
    if (!references.empty())
        out["references"] = std::move(references);

    Json rating = { { "source", source } };
    if (auto score = number(vuln, "score"); score && *score >= 0 && *score <= 10) {
        rating["score"] = *score;
        rating["severity"] = cdx_severity(text(vuln, "severity"));
        // Bulwark computes base scores of CVSS v3.0 and v3.1 vectors by the v3.1 formula.
        rating["method"] = "CVSSv31";
    } else {
        rating["severity"] = cdx_severity(text(vuln, "severity"));
    }
    out["ratings"] = Json::array({ std::move(rating) });

    std::string summary = safe_text(text(vuln, "summary"));
    if (!summary.empty())
        out["description"] = summary;
    std::string package = text(vuln, "package");
    std::string version = text(vuln, "version");
    std::string fixed = safe_text(text(vuln, "fixed_version"));
    std::string shown_package = safe_text(package);
    out["recommendation"] = fixed.empty() ? "No fixed version of " + shown_package + " is available yet."
                                          : "Upgrade " + shown_package + " to " + fixed + " or later.";

    auto it = packages.refs.find(PackageIndex::key(package, version));
    if (it != packages.refs.end()) {
        Json affects = Json::array();
        for (const std::string& ref : it->second) {
            Json affected = { { "ref", ref } };
            if (!version.empty())
                affected["versions"] = Json::array({ { { "version", safe_text(version, 1024) }, { "status", "affected" } } });
            affects.push_back(std::move(affected));
        }
        out["affects"] = std::move(affects);
    }

    Json properties = Json::array();
    add_property(properties, "bulwark:finding_id", id);
    add_property(properties, "bulwark:outcome", safe_text(text(vuln, "outcome"), 32));
    add_property(properties, "bulwark:policy_rule", safe_text(text(vuln, "rule")));
    add_property(properties, "bulwark:package", shown_package);
    add_property(properties, "bulwark:installed_version", safe_text(version));
    add_property(properties, "bulwark:fixed_version", fixed);
    add_property(properties, "bulwark:source_name", safe_text(text(vuln, "source_name")));
    add_property(properties, "bulwark:source_version", safe_text(text(vuln, "source_version")));
    out["properties"] = std::move(properties);
    return out;
}

} // namespace

Json to_cyclonedx(const Json& report)
{
    Decision decision = decide(report);
    RefSet refs;
    std::string scanned_at = text(report, "scanned_at");
    std::string digest = text(field(report, "image"), "digest");

    Json metadata = Json::object();
    if (is_utc_timestamp(scanned_at))
        metadata["timestamp"] = scanned_at;
    Json tool = { { "type", "application" }, { "name", "Bulwark" } };
    std::string tool_version = safe_text(text(field(report, "scanner"), "version"), 64);
    if (!tool_version.empty())
        tool["version"] = tool_version;
    metadata["tools"] = { { "components", Json::array({ std::move(tool) }) } };
    metadata["component"] = image_component(report, refs);
    metadata["properties"] = metadata_properties(report, decision);

    Json components = Json::array();
    const Json& os = field(report, "os");
    std::string distro;
    if (os.is_object()) {
        std::string os_id = safe_text(text(os, "id"), 64);
        std::string version_id = safe_text(text(os, "version_id"), 64);
        std::string codename = safe_text(text(os, "version_codename"), 64);
        Json component = {
            { "type", "operating-system" },
            { "bom-ref",
                refs.claim(
                    "os:" + (os_id.empty() ? std::string("unknown") : os_id) + (version_id.empty() ? "" : "@" + version_id)) },
            { "name", os_id.empty() ? std::string("unknown") : os_id },
        };
        if (!version_id.empty())
            component["version"] = version_id;
        std::string pretty = safe_text(text(os, "pretty_name"));
        if (!pretty.empty())
            component["description"] = pretty;
        Json properties = Json::array();
        add_property(properties, "bulwark:os:version_codename", codename);
        if (!properties.empty())
            component["properties"] = std::move(properties);
        components.push_back(std::move(component));
        std::string ns = purl_namespace(os);
        if (!version_id.empty())
            distro = ns + "-" + text(os, "version_id");
        else if (!codename.empty())
            distro = ns + "-" + text(os, "version_codename");
    }

    std::string ns = purl_namespace(os);
    PackageIndex index;
    for (const Json& package : list(report, "packages")) {
        std::string name = text(package, "name");
        if (name.empty())
            continue;
        std::string version = text(package, "version");
        std::string arch = text(package, "architecture");
        std::string purl = deb_purl(ns, name, version, arch, distro);
        // A package listed twice is one component.
        if (refs.contains(purl))
            continue;
        std::string ref = refs.claim(purl);
        Json component = { { "type", "application" }, { "bom-ref", ref }, { "name", safe_text(name, 256) } };
        if (!version.empty())
            component["version"] = safe_text(version, 1024);
        component["purl"] = purl;
        Json properties = Json::array();
        add_property(properties, "bulwark:source_name", safe_text(text(package, "source_name")));
        add_property(properties, "bulwark:source_version", safe_text(text(package, "source_version")));
        add_property(properties, "bulwark:architecture", safe_text(arch, 64));
        if (!properties.empty())
            component["properties"] = std::move(properties);
        components.push_back(std::move(component));
        index.refs[PackageIndex::key(name, version)].push_back(ref);
    }

    Json vulnerabilities = Json::array();
    for (const Json& vuln : list(report, "vulnerabilities")) {
        if (vuln.is_object())
            vulnerabilities.push_back(vulnerability(vuln, index, refs));
    }

    Json bom = {
        { "$schema", "http://cyclonedx.org/schema/bom-1.5.schema.json" },
        { "bomFormat", "CycloneDX" },
        { "specVersion", "1.5" },
        { "serialNumber", "urn:uuid:" + name_based_uuid("bulwark.scan.v1\n" + digest + "\n" + scanned_at) },
        { "version", 1 },
        { "metadata", std::move(metadata) },
        { "components", std::move(components) },
    };
    if (!vulnerabilities.empty())
        bom["vulnerabilities"] = std::move(vulnerabilities);
    return bom;
}

} // namespace bulwark::report
