// Golden-image admission, checked against the real thing: a Debian 12 minbase system built
// with debootstrap (tests/data/make-debian-image.sh), clean and with known problems planted.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "base/json.h"
#include "base/system.h"
#include "harness/harness.h"

namespace bulwark::test {
namespace {

std::string image(const std::string& name) { return std::string(BULWARK_DEBIAN_IMAGE_DIR) + "/" + name; }
std::string osv_feed() { return std::string(BULWARK_SOURCE_DIR) + "/tests/data/osv"; }

Json parse_or_fail(const std::string& text)
{
    auto j = parse_json(text, {512 << 20, 64});
    EXPECT_TRUE(j.is_ok()) << text.substr(0, 2000);
    return j.is_ok() ? j.value() : Json();
}

std::set<std::string> ids(const Json& report)
{
    std::set<std::string> out;
    for (const char* list : {"findings", "vulnerabilities"}) {
        for (const auto& f : report[list])
            out.insert(f["id"].get<std::string>());
    }
    return out;
}

class Admission : public ::testing::Test {
protected:
    Harness h;
    void SetUp() override
    {
        ASSERT_TRUE(sys::exists(image("clean.qcow2"))) << "run tests/data/make-debian-image.sh (ctest fixture debian_image)";
        h.start_daemon();
        auto r = h.cli({"vuln", "update", osv_feed()});
        ASSERT_EQ(r.code, 0) << r.output;
    }
    Json scan(const std::string& file, int expect_code, const std::vector<std::string>& extra = {})
    {
        std::vector<std::string> args {"image", "scan", file, "--format", "json"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto r = h.cli(args);
        EXPECT_EQ(r.code, expect_code) << r.output.substr(0, 3000);
        return parse_or_fail(r.output);
    }
};

TEST_F(Admission, InventoryEqualsDpkgQueryPackageByPackage)
{
    Json report = scan(image("clean.qcow2"), 0);
    ASSERT_TRUE(report["os"].is_object());
    EXPECT_EQ(report["os"]["id"], "debian");
    EXPECT_EQ(report["os"]["version_id"], "12");
    std::map<std::string, std::string> scanned;
    for (const auto& p : report["packages"]) {
        std::string line = p["version"].get<std::string>() + "\t" + p["architecture"].get<std::string>() + "\t"
            + p["source_name"].get<std::string>() + "\t" + p["source_version"].get<std::string>();
        EXPECT_TRUE(scanned.emplace(p["name"].get<std::string>(), line).second) << "listed twice: " << p.dump();
    }
    // inventory.txt: dpkg-query -W inside the debootstrapped root, "name\tversion\tarch\tsource\tsource version".
    std::ifstream in(image("inventory.txt"));
    std::string line;
    size_t expected = 0;
    while (std::getline(in, line)) {
        if (line.empty())
            continue;
        ++expected;
        auto tab = line.find('\t');
        std::string name = line.substr(0, tab);
        auto it = scanned.find(name);
        ASSERT_NE(it, scanned.end()) << "package " << name << " is installed but was not found";
        EXPECT_EQ(it->second, line.substr(tab + 1)) << name;
    }
    EXPECT_GT(expected, 50u);
    EXPECT_EQ(scanned.size(), expected);
    EXPECT_GT(report["stats"]["bytes_read"].get<uint64_t>(), 0u);
}

TEST_F(Admission, CleanImageIsAdmittedWithItsReportAndSbom)
{
    Json report = scan(image("clean.qcow2"), 0);
    // Nothing to worry about: no refused or warned finding, no vulnerability of the feed.
    for (const auto& f : report["findings"]) {
        std::string outcome = f["outcome"];
        EXPECT_TRUE(outcome == "info" || outcome == "ignored") << f.dump();
    }
    EXPECT_EQ(report["vulnerabilities"].size(), 0u) << report["vulnerabilities"].dump(2);
    EXPECT_TRUE(report["policy"]["admitted"]);

    auto r = h.cli({"image", "import", image("clean.qcow2"), "--name", "debian"});
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("admitted by built-in default"), std::string::npos) << r.output;
    Json stored = h.cli_json({"image", "report", "debian"});
    EXPECT_EQ(stored["schema"], "bulwark.scan.v1");
    EXPECT_EQ(stored["image"]["name"], "debian");
    EXPECT_EQ(stored["packages"].size(), report["packages"].size());

    // CycloneDX 1.5: one component per package, each with its purl.
    auto sbom_r = h.cli({"image", "sbom", "debian"});
    ASSERT_EQ(sbom_r.code, 0) << sbom_r.output;
    Json sbom = parse_or_fail(sbom_r.output);
    EXPECT_EQ(sbom["bomFormat"], "CycloneDX");
    EXPECT_EQ(sbom["specVersion"], "1.5");
    size_t debs = 0;
    bool libc = false;
    for (const auto& c : sbom["components"]) {
        std::string purl = c.value("purl", "");
        debs += purl.rfind("pkg:deb/debian/", 0) == 0;
        libc |= purl.rfind("pkg:deb/debian/libc6@", 0) == 0;
    }
    EXPECT_EQ(debs, report["packages"].size());
    EXPECT_TRUE(libc);
    // SARIF 2.1.0 of the stored report.
    auto sarif_r = h.cli({"image", "report", "debian", "--format", "sarif"});
    ASSERT_EQ(sarif_r.code, 0);
    Json sarif = parse_or_fail(sarif_r.output);
    EXPECT_EQ(sarif["version"], "2.1.0");
    EXPECT_EQ(sarif["runs"][0]["tool"]["driver"]["name"], "Bulwark");
}

TEST_F(Admission, PlantedProblemsAreEachFoundAndTheImageIsRefused)
{
    Json report = scan(image("planted.qcow2"), 9);
    auto found = ids(report);
    auto planted = parse_or_fail(sys::read_file(image("planted.json"), 1 << 20).value());
    for (const auto& p : planted["planted"]) {
        if (p.contains("id"))
            EXPECT_TRUE(found.count(p["id"].get<std::string>())) << "not found: " << p.dump();
        for (const auto& a : p.value("advisories", Json::array()))
            EXPECT_TRUE(found.count(a["id"].get<std::string>())) << "vulnerability not found: " << a.dump();
    }
    EXPECT_FALSE(report["policy"]["admitted"]);
    // The shared host key and machine id are in the report's identity section.
    EXPECT_EQ(report["identity"]["machine_id"], planted["identity"]["machine_id"]);
    ASSERT_EQ(report["identity"]["ssh_host_keys"].size(), 1u);
    EXPECT_EQ(report["identity"]["ssh_host_keys"][0]["fingerprint"], planted["identity"]["ssh_host_keys"][0]["fingerprint"]);
    // No secret appears in any field of the report.
    std::string text = json_dump(report);
    EXPECT_EQ(text.find("S3cr3tPassw0rd"), std::string::npos);
    EXPECT_EQ(text.find("PRIVATE KEY-----\nb3Bl"), std::string::npos);

    // Import: refused, exit code 9, the refused findings named, and nothing stored.
    auto r = h.cli({"image", "import", image("planted.qcow2"), "--name", "legacy"});
    EXPECT_EQ(r.code, 9) << r.output;
    EXPECT_NE(r.output.find("refused by the admission policy"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("account.empty-password:legacy"), std::string::npos) << r.output;
    EXPECT_EQ(h.cli_json({"image", "list"}).size(), 0u);
    EXPECT_TRUE(sys::list_dir(h.home() + "/images/blobs").empty());
    EXPECT_TRUE(sys::list_dir(h.home() + "/images/staging").empty());
}

TEST_F(Admission, ExceptionsAndClonesThatShareIdentities)
{
    // An audit-only policy: nothing refuses by severity, so both planted images go in.
    std::string policy = h.dir() + "/audit.toml";
    {
        std::ofstream f(policy);
        f << "[vulnerabilities]\nrefuse_at = \"never\"\n[findings]\nrefuse_at = \"never\"\nrefuse = []\n";
    }
    auto r = h.cli({"image", "import", image("planted.qcow2"), "--name", "legacy", "--policy", policy});
    ASSERT_EQ(r.code, 0) << r.output;
    r = h.cli({"image", "import", image("planted-clone.qcow2"), "--name", "legacy-copy", "--policy", policy});
    ASSERT_EQ(r.code, 0) << r.output;
    Json report = h.cli_json({"image", "report", "legacy-copy"});
    std::set<std::string> kinds;
    for (const auto& s : report["shared_identities"]) {
        EXPECT_EQ(s["image"], "legacy:1");
        kinds.insert(s["kind"].get<std::string>());
    }
    EXPECT_TRUE(kinds.count("ssh-host-key")) << report["shared_identities"].dump();
    EXPECT_TRUE(kinds.count("machine-id")) << report["shared_identities"].dump();

    // An exception by finding id, with a date and a reason, turns one refusal into "excepted";
    // an expired one does not.
    std::string partial = h.dir() + "/partial.toml";
    {
        std::ofstream f(partial);
        f << "[[exception]]\nid = \"sudo.nopasswd:deploy\"\nexpires = 2999-01-01\nreason = \"deploy pipeline\"\n"
             "[[exception]]\nid = \"account.empty-password:legacy\"\nexpires = 2001-01-01\nreason = \"long gone\"\n";
    }
    Json scanned = scan(image("planted.qcow2"), 9, {"--policy", partial});
    for (const auto& f : scanned["findings"]) {
        if (f["id"] == "sudo.nopasswd:deploy")
            EXPECT_EQ(f["outcome"], "excepted") << f.dump();
        if (f["id"] == "account.empty-password:legacy") {
            EXPECT_EQ(f["outcome"], "refuse");
            EXPECT_NE(f["rule"].get<std::string>().find("expired on 2001-01-01"), std::string::npos) << f.dump();
        }
    }
}

TEST_F(Admission, ScansThroughAQcow2BackingChain)
{
    // overlay.qcow2 -> base.qcow2 (a relative name, resolved next to the overlay) -> the
    // clean image; the overlay adds nothing, so the chain reads as the clean system.
    ASSERT_EQ(::symlink(image("clean.qcow2").c_str(), (h.dir() + "/base.qcow2").c_str()), 0);
    auto made = run({"qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", h.dir() + "/overlay.qcow2"});
    ASSERT_EQ(made.code, 0) << made.output;
    Json report = scan(h.dir() + "/overlay.qcow2", 0);
    EXPECT_EQ(report["os"]["id"], "debian");
    EXPECT_GT(report["packages"].size(), 50u);
    // A chain that points at a missing file is refused by the CLI before anything is sent.
    made = run({"qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "gone.qcow2", "-F", "qcow2", "-o", "size=1G", h.dir() + "/orphan.qcow2"});
    ASSERT_EQ(made.code, 0) << made.output;
    auto r = h.cli({"image", "scan", h.dir() + "/orphan.qcow2"});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.output.find("is backed by gone.qcow2"), std::string::npos) << r.output;
}

TEST_F(Admission, YaraRulesRunOverEveryFile)
{
    std::string rules = h.dir() + "/debian.yar";
    {
        std::ofstream f(rules);
        f << "rule debian_release { strings: $a = \"Debian GNU/Linux 12 (bookworm)\" condition: $a }\n";
    }
    Json report = scan(image("clean.qcow2"), 0, {"--yara", rules});
    bool matched = false;
    for (const auto& f : report["findings"])
        matched |= f["kind"] == "yara.match" && f["path"] == "/usr/lib/os-release";
    EXPECT_TRUE(matched) << report["findings"].dump(2);
    // A rule file that does not compile is refused with its line.
    {
        std::ofstream f(rules);
        f << "rule ok { condition: true }\nrule broken { strings: $a = \"x\" condition: $b }\n";
    }
    auto r = h.cli({"image", "scan", image("clean.qcow2"), "--yara", rules});
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("line 2"), std::string::npos) << r.output;
}

TEST_F(Admission, BadPoliciesAndFeedsAreRefusedClearly)
{
    std::string policy = h.dir() + "/bad.toml";
    {
        std::ofstream f(policy);
        f << "[findings]\nrefuse_at = \"severe\"\n";
    }
    auto r = h.cli({"image", "scan", image("clean.qcow2"), "--policy", policy});
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("line 2"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("unknown severity 'severe'"), std::string::npos) << r.output;

    // A feed file with one good and one bad record: the good one loads, the bad one is named.
    std::string feed = h.dir() + "/feed";
    ASSERT_TRUE(sys::mkdirs(feed, 0700).is_ok());
    ASSERT_TRUE(run({"cp", osv_feed() + "/DEBIAN-CVE-2023-4911.json", feed + "/good.json"}).code == 0);
    {
        std::ofstream f(feed + "/bad.json");
        f << "{\"id\": \"X-1\", \"modified\": \"2024-01-01T00:00:00Z\", \"affected\": \"zlib\"}";
    }
    r = h.cli({"vuln", "update", feed});
    EXPECT_EQ(r.code, 8) << r.output;
    EXPECT_NE(r.output.find("X-1"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("1 unchanged"), std::string::npos) << r.output;  // the good one was loaded in SetUp
}

}  // namespace
}  // namespace bulwark::test
