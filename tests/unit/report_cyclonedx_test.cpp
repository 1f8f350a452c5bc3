// The CycloneDX 1.5 rendering: the BOM's identity (a deterministic RFC 4122 version 5 serial
// number), unique bom-refs that every vulnerability resolves, purls encoded as purl-spec says
// (epoch colons kept, '+' as %2B), and the mapping of the vulnerabilities.
#include <gtest/gtest.h>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "report/render.h"
#include "report_sample.h"

namespace bulwark::report {
namespace {

std::map<std::string, Json> components_by_name_arch(const Json& bom)
{
    std::map<std::string, Json> out;
    for (const Json& c : bom.at("components")) {
        std::string arch;
        for (const Json& p : c.value("properties", Json::array())) {
            if (p["name"] == "bulwark:architecture")
                arch = p["value"];
        }
        out[c["name"].get<std::string>() + (arch.empty() ? "" : ":" + arch)] = c;
    }
    return out;
}

std::string property(const Json& obj, const std::string& name)
{
    for (const Json& p : obj.value("properties", Json::array())) {
        if (p["name"] == name)
            return p["value"];
    }
    return "<absent>";
}

TEST(ReportCycloneDx, HasTheBomIdentity)
{
    Json bom = to_cyclonedx(test::sample_report());
    EXPECT_EQ(bom.at("bomFormat"), "CycloneDX");
    EXPECT_EQ(bom.at("specVersion"), "1.5");
    EXPECT_EQ(bom.at("version"), 1);
    std::string serial = bom.at("serialNumber");
    EXPECT_TRUE(std::regex_match(serial, std::regex("^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")))
        << serial;
    // RFC 4122 version 5 in the Bulwark name-space, of "bulwark.scan.v1\n<digest>\n<scanned_at>"
    // (the value Python's uuid.uuid5 gives for the same name-space and name).
    EXPECT_EQ(serial, "urn:uuid:7ecc11ea-0680-50cb-9a42-1a6ad7becd1f");

    const Json& metadata = bom.at("metadata");
    EXPECT_EQ(metadata.at("timestamp"), test::k_sample_scanned_at);
    const Json& tool = metadata.at("tools").at("components").at(0);
    EXPECT_EQ(tool["type"], "application");
    EXPECT_EQ(tool["name"], "Bulwark");
    EXPECT_EQ(tool["version"], "0.1.0");

    const Json& image = metadata.at("component");
    EXPECT_EQ(image["type"], "file");
    EXPECT_EQ(image["name"], "web");
    EXPECT_EQ(image["version"], "3");
    EXPECT_EQ(image["hashes"][0]["alg"], "SHA-256");
    EXPECT_EQ(image["hashes"][0]["content"], std::string(test::k_sample_digest).substr(7));
    EXPECT_EQ(property(metadata, "bulwark:image:digest"), test::k_sample_digest);
    EXPECT_EQ(property(metadata, "bulwark:image:name"), "web");
    EXPECT_EQ(property(metadata, "bulwark:policy:admitted"), "false");
}

TEST(ReportCycloneDx, IsDeterministic)
{
    Json report = test::sample_report();
    EXPECT_EQ(json_dump(to_cyclonedx(report)), json_dump(to_cyclonedx(report)));

    Json later = report;
    later["scanned_at"] = "2026-11-26T12:00:00Z";
    EXPECT_NE(to_cyclonedx(later)["serialNumber"], to_cyclonedx(report)["serialNumber"]);
    Json other_image = report;
    other_image["image"]["digest"] = "sha256:" + std::string(64, 'a');
    EXPECT_NE(to_cyclonedx(other_image)["serialNumber"], to_cyclonedx(report)["serialNumber"]);
}

TEST(ReportCycloneDx, ComponentsAreTheOsAndItsPackages)
{
    Json bom = to_cyclonedx(test::sample_report());
    auto by_name = components_by_name_arch(bom);
    ASSERT_EQ(bom["components"].size(), 7u); // the OS and six packages (libc6 twice: amd64, i386)

    const Json& os = by_name.at("debian");
    EXPECT_EQ(os["type"], "operating-system");
    EXPECT_EQ(os["version"], "12");
    EXPECT_EQ(os["description"], "Debian GNU/Linux 12 (bookworm)");

    const Json& libstdcxx = by_name.at("libstdc++6:amd64");
    EXPECT_EQ(libstdcxx["type"], "application");
    EXPECT_EQ(libstdcxx["purl"], "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12");
    EXPECT_EQ(libstdcxx["bom-ref"], libstdcxx["purl"]);
    EXPECT_EQ(property(libstdcxx, "bulwark:source_name"), "gcc-12");
    EXPECT_EQ(property(libstdcxx, "bulwark:source_version"), "12.2.0-14");

    // purl-spec: the colon of an epoch is never encoded, '+' is, '~' is not.
    EXPECT_EQ(by_name.at("openssh-server:amd64")["purl"],
        "pkg:deb/debian/openssh-server@1:9.2p1-2%2Bdeb12u2?arch=amd64&distro=debian-12");
    EXPECT_EQ(by_name.at("openssh-server:amd64")["version"], "1:9.2p1-2+deb12u2");
    EXPECT_EQ(by_name.at("tzdata:all")["purl"], "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12");
    EXPECT_EQ(by_name.at("libc6:i386")["purl"], "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=i386&distro=debian-12");
}

TEST(ReportCycloneDx, BomRefsAreUniqueAndEveryAffectsResolves)
{
    Json report = test::sample_report();
    report["packages"].push_back(report["packages"][0]); // a package listed twice is one component
    Json bom = to_cyclonedx(report);
    std::set<std::string> refs;
    std::set<std::string> component_refs;
    ASSERT_TRUE(refs.insert(bom["metadata"]["component"]["bom-ref"].get<std::string>()).second);
    for (const Json& c : bom["components"]) {
        std::string ref = c.at("bom-ref");
        EXPECT_FALSE(ref.empty());
        EXPECT_TRUE(refs.insert(ref).second) << "duplicate bom-ref " << ref;
        component_refs.insert(ref);
    }
    EXPECT_EQ(bom["components"].size(), 7u);
    ASSERT_EQ(bom.at("vulnerabilities").size(), 5u);
    for (const Json& v : bom["vulnerabilities"]) {
        EXPECT_TRUE(refs.insert(v.at("bom-ref").get<std::string>()).second) << "duplicate bom-ref " << v["bom-ref"];
        ASSERT_TRUE(v.contains("affects")) << v["id"];
        for (const Json& a : v["affects"])
            EXPECT_TRUE(component_refs.count(a.at("ref").get<std::string>())) << "dangling ref " << a["ref"];
    }
}

TEST(ReportCycloneDx, VulnerabilitiesCarryTheAdvisory)
{
    Json bom = to_cyclonedx(test::sample_report());
    std::map<std::string, Json> by_ref;
    for (const Json& v : bom["vulnerabilities"])
        by_ref[v["bom-ref"]] = v;

    const Json& ssl = by_ref.at("vuln:DSA-5532-1:libssl3");
    EXPECT_EQ(ssl["id"], "DSA-5532-1");
    EXPECT_EQ(ssl["source"]["name"], "Debian");
    EXPECT_EQ(ssl["source"]["url"], "https://security-tracker.debian.org/tracker/DSA-5532-1");
    EXPECT_EQ(ssl["references"][0]["id"], "CVE-2023-5363");
    EXPECT_EQ(ssl["references"][0]["source"]["name"], "NVD");
    EXPECT_EQ(ssl["ratings"][0]["score"], 7.5);
    EXPECT_EQ(ssl["ratings"][0]["severity"], "high");
    EXPECT_EQ(ssl["ratings"][0]["method"], "CVSSv31");
    EXPECT_EQ(ssl["description"], "openssl security update");
    EXPECT_EQ(ssl["recommendation"], "Upgrade libssl3 to 3.0.11-1~deb12u2 or later.");
    EXPECT_EQ(ssl["affects"][0]["ref"], "pkg:deb/debian/libssl3@3.0.9-1?arch=amd64&distro=debian-12");
    EXPECT_EQ(ssl["affects"][0]["versions"][0]["version"], "3.0.9-1");
    EXPECT_EQ(ssl["affects"][0]["versions"][0]["status"], "affected");
    EXPECT_EQ(property(ssl, "bulwark:outcome"), "warn");
    EXPECT_FALSE(ssl.contains("analysis"));

    const Json& gcc = by_ref.at("vuln:DEBIAN-CVE-2023-4039:libstdc++6");
    EXPECT_FALSE(gcc["ratings"][0].contains("score"));
    EXPECT_FALSE(gcc["ratings"][0].contains("method"));
    EXPECT_EQ(gcc["ratings"][0]["severity"], "medium");
    EXPECT_EQ(gcc["recommendation"], "No fixed version of libstdc++6 is available yet.");
    EXPECT_EQ(gcc["source"]["url"], "https://security-tracker.debian.org/tracker/CVE-2023-4039");
    EXPECT_EQ(property(gcc, "bulwark:fixed_version"), "<absent>");

    // The multi-arch package: the advisory affects both installed architectures.
    const Json& glibc = by_ref.at("vuln:DSA-5611-1:libc6");
    EXPECT_EQ(glibc["affects"].size(), 2u);
    EXPECT_EQ(glibc["references"].size(), 3u);

    // An exception is a risk acceptance, not a VEX statement: no analysis, the outcome as a property.
    const Json& excepted = by_ref.at("vuln:OSV-2024-1234:libssl3");
    EXPECT_EQ(excepted["source"]["name"], "OSV");
    EXPECT_FALSE(excepted.contains("analysis"));
    EXPECT_EQ(property(excepted, "bulwark:outcome"), "excepted");
    EXPECT_EQ(property(excepted, "bulwark:policy_rule"), "exception until 2027-03-01: not reachable in this image");
}

TEST(ReportCycloneDx, AnImageWithoutAnOsStillRenders)
{
    Json report = test::sample_report();
    report["os"] = nullptr;
    Json bom = to_cyclonedx(report);
    for (const Json& c : bom["components"]) {
        EXPECT_NE(c["type"], "operating-system");
        EXPECT_EQ(c["purl"].get<std::string>().find("distro="), std::string::npos) << c["purl"];
    }
    EXPECT_EQ(bom["metadata"]["component"]["type"], "file");
}

TEST(ReportCycloneDx, DamagedReportsStillRender)
{
    for (const Json& report : { Json(), Json::object(), Json::array({ 1 }),
             Json { { "packages", { 1, { { "name", 7 } }, { { "name", "x" }, { "version", Json::object() } } } },
                 { "vulnerabilities", { nullptr, { { "package", "x" }, { "aliases", { 1, "CVE-2024-0001" } } } } },
                 { "scanned_at", "yesterday" }, { "os", "debian" } } }) {
        Json bom = to_cyclonedx(report);
        EXPECT_EQ(bom["bomFormat"], "CycloneDX");
        EXPECT_TRUE(std::regex_match(bom["serialNumber"].get<std::string>(),
            std::regex("^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")));
        EXPECT_FALSE(bom["metadata"].contains("timestamp"));
        (void)json_dump(bom);
    }
}

} // namespace
} // namespace bulwark::report
