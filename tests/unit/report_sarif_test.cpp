// The SARIF 2.1.0 rendering: the properties SARIF requires, rule ids and indexes that agree,
// levels from the allowed set, suppressions for accepted findings, escaped relative URIs, and
// damaged reports that still render.
#include <gtest/gtest.h>
#include <regex>
#include <set>
#include <string>

#include "report/render.h"
#include "report_sample.h"

namespace bulwark::report {
namespace {

const Json& the_run(const Json& sarif)
{
    return sarif.at("runs").at(0);
}

// The result whose fingerprint is the finding id.
const Json* result_for(const Json& sarif, const std::string& id)
{
    for (const Json& r : the_run(sarif).at("results")) {
        if (r.contains("partialFingerprints") && r["partialFingerprints"].value("bulwarkFindingId/v1", "") == id)
            return &r;
    }
    return nullptr;
}

TEST(ReportSarif, HasTheRequiredTopLevelProperties)
{
    Json sarif = to_sarif(test::sample_report());
    EXPECT_EQ(sarif.at("version"), "2.1.0");
    EXPECT_EQ(sarif.at("$schema"), "https://json.schemastore.org/sarif-2.1.0.json");
    ASSERT_TRUE(sarif.at("runs").is_array());
    ASSERT_EQ(sarif["runs"].size(), 1u);
    const Json& driver = the_run(sarif).at("tool").at("driver");
    EXPECT_EQ(driver.at("name"), "Bulwark");
    EXPECT_EQ(driver.at("semanticVersion"), "0.1.0");
    EXPECT_FALSE(driver.contains("informationUri"));
    EXPECT_EQ(the_run(sarif).at("results").size(), 12u); // 7 findings, 5 vulnerabilities

    Json with_uri = to_sarif(test::sample_report(), SarifOptions { "https://bulwark.example/docs" });
    EXPECT_EQ(the_run(with_uri)["tool"]["driver"]["informationUri"], "https://bulwark.example/docs");
}

TEST(ReportSarif, RuleIdsAndIndexesAgree)
{
    Json sarif = to_sarif(test::sample_report());
    const Json& rules = the_run(sarif).at("tool").at("driver").at("rules");
    std::set<std::string> ids;
    for (const Json& rule : rules) {
        ASSERT_TRUE(rule.at("id").is_string());
        EXPECT_TRUE(ids.insert(rule["id"].get<std::string>()).second) << "duplicate rule " << rule["id"];
        // What GitHub code scanning requires of a rule.
        EXPECT_FALSE(rule.at("shortDescription").at("text").get<std::string>().empty());
        EXPECT_FALSE(rule.at("fullDescription").at("text").get<std::string>().empty());
        EXPECT_FALSE(rule.at("help").at("text").get<std::string>().empty());
        std::string level = rule.at("defaultConfiguration").at("level");
        EXPECT_TRUE(level == "note" || level == "warning" || level == "error") << level;
        if (rule["properties"].contains("security-severity")) {
            double s = std::stod(rule["properties"]["security-severity"].get<std::string>());
            EXPECT_GT(s, 0.0);
            EXPECT_LE(s, 10.0);
        }
    }
    // One rule per finding kind (7 kinds) and one per advisory (5 advisories).
    EXPECT_EQ(rules.size(), 12u);
    EXPECT_TRUE(ids.count("account.empty-password"));
    EXPECT_TRUE(ids.count("secret.pem-private-key"));
    EXPECT_TRUE(ids.count("DSA-5532-1"));
    EXPECT_TRUE(ids.count("DEBIAN-CVE-2023-4039"));

    for (const Json& result : the_run(sarif).at("results")) {
        ASSERT_TRUE(result.at("ruleIndex").is_number_unsigned());
        size_t index = result["ruleIndex"].get<size_t>();
        ASSERT_LT(index, rules.size());
        EXPECT_EQ(rules[index]["id"], result.at("ruleId"));
        EXPECT_FALSE(result.at("message").at("text").get<std::string>().empty());
    }
}

TEST(ReportSarif, AdvisoryRulesLinkToTheirTrackerPages)
{
    Json sarif = to_sarif(test::sample_report());
    std::map<std::string, Json> by_id;
    for (const Json& rule : the_run(sarif)["tool"]["driver"]["rules"])
        by_id[rule["id"]] = rule;
    EXPECT_EQ(by_id["DSA-5532-1"]["helpUri"], "https://security-tracker.debian.org/tracker/DSA-5532-1");
    EXPECT_EQ(by_id["DEBIAN-CVE-2023-4039"]["helpUri"], "https://security-tracker.debian.org/tracker/CVE-2023-4039");
    EXPECT_EQ(by_id["OSV-2024-1234"]["helpUri"], "https://osv.dev/vulnerability/OSV-2024-1234");
    // A given score is the security-severity GitHub ranks by; without one, the severity's band.
    EXPECT_EQ(by_id["DSA-5532-1"]["properties"]["security-severity"], "7.5");
    EXPECT_EQ(by_id["DEBIAN-CVE-2023-4039"]["properties"]["security-severity"], "5.5");
    EXPECT_EQ(by_id["account.empty-password"]["properties"]["security-severity"], "9.5");
    EXPECT_EQ(by_id["systemd.enabled"]["properties"].count("security-severity"), 0u);
    EXPECT_NE(by_id["DSA-5611-1"]["help"]["markdown"].get<std::string>().find(
                  "[CVE-2023-6779](https://security-tracker.debian.org/tracker/CVE-2023-6779)"),
        std::string::npos);
}

TEST(ReportSarif, LevelsFollowTheOutcome)
{
    Json sarif = to_sarif(test::sample_report());
    const std::set<std::string> allowed = { "none", "note", "warning", "error" };
    for (const Json& result : the_run(sarif)["results"])
        EXPECT_TRUE(allowed.count(result.at("level").get<std::string>())) << result["level"];

    EXPECT_EQ(result_for(sarif, "account.empty-password:bob")->at("level"), "error");
    EXPECT_EQ(result_for(sarif, "ssh.permit-root-login")->at("level"), "warning");
    EXPECT_EQ(result_for(sarif, "account.login-shell:alice")->at("level"), "note");
    EXPECT_EQ(result_for(sarif, "vuln:DSA-5678-1:openssh-server")->at("level"), "error");
    EXPECT_EQ(result_for(sarif, "vuln:DSA-5532-1:libssl3")->at("level"), "warning");

    const Json* excepted = result_for(sarif, "sudo.nopasswd:%admin");
    ASSERT_NE(excepted, nullptr);
    EXPECT_EQ(excepted->at("level"), "note");
    ASSERT_EQ(excepted->at("suppressions").size(), 1u);
    EXPECT_EQ(excepted->at("suppressions")[0]["kind"], "external");
    EXPECT_EQ(excepted->at("suppressions")[0]["status"], "accepted");
    EXPECT_EQ(excepted->at("suppressions")[0]["justification"], "exception until 2027-01-31: the build pipeline needs it");

    const Json* ignored = result_for(sarif, "systemd.enabled:ssh.service");
    ASSERT_NE(ignored, nullptr);
    EXPECT_EQ(ignored->at("level"), "note");
    EXPECT_EQ(ignored->at("suppressions")[0]["justification"], "ignored kind systemd.enabled");

    EXPECT_FALSE(result_for(sarif, "ssh.permit-root-login")->contains("suppressions"));
    EXPECT_TRUE(result_for(sarif, "vuln:OSV-2024-1234:libssl3")->contains("suppressions"));
}

TEST(ReportSarif, LocationsAreEscapedRelativeUrisInTheImage)
{
    Json sarif = to_sarif(test::sample_report());
    EXPECT_EQ(the_run(sarif)["originalUriBaseIds"]["IMAGEROOT"]["uri"], "file:///");

    const Json& shadow = result_for(sarif, "account.empty-password:bob")->at("locations")[0]["physicalLocation"];
    EXPECT_EQ(shadow["artifactLocation"]["uri"], "etc/shadow");
    EXPECT_EQ(shadow["artifactLocation"]["uriBaseId"], "IMAGEROOT");
    EXPECT_EQ(shadow["region"]["startLine"], 12);

    const Json& odd = result_for(sarif, "file.world-writable:/opt/app data/run:x?#%")->at("locations")[0]["physicalLocation"];
    EXPECT_EQ(odd["artifactLocation"]["uri"], "opt/app%20data/run%3Ax%3F%23%25");
    EXPECT_FALSE(odd.contains("region")); // line 0: the finding is about the whole file

    const Json& dpkg = result_for(sarif, "vuln:DSA-5532-1:libssl3")->at("locations")[0]["physicalLocation"];
    EXPECT_EQ(dpkg["artifactLocation"]["uri"], "var/lib/dpkg/status");

    // Every URI is a relative reference of unreserved characters, '/' and escapes only.
    const std::regex relative("^[A-Za-z0-9._~/-]*(%[0-9A-F]{2}[A-Za-z0-9._~/-]*)*$");
    for (const Json& result : the_run(sarif)["results"]) {
        for (const Json& location : result["locations"]) {
            std::string uri = location["physicalLocation"]["artifactLocation"]["uri"];
            EXPECT_TRUE(std::regex_match(uri, relative)) << uri;
            EXPECT_NE(uri.front(), '/') << uri;
        }
    }
}

TEST(ReportSarif, ResultsCarryFingerprintsAndProperties)
{
    Json sarif = to_sarif(test::sample_report());
    for (const Json& result : the_run(sarif)["results"])
        EXPECT_TRUE(result.at("partialFingerprints").at("bulwarkFindingId/v1").is_string());

    const Json& secret = result_for(sarif, "secret.pem-private-key:/root/.ssh/id_rsa")->at("properties");
    EXPECT_EQ(secret["severity"], "high");
    EXPECT_EQ(secret["outcome"], "refuse");
    EXPECT_EQ(secret["excerpt"], "-----BEGIN RSA PRIVATE KEY----- [redacted]");

    const Json* ssl = result_for(sarif, "vuln:DSA-5532-1:libssl3");
    std::string text = ssl->at("message").at("text");
    EXPECT_EQ(text.rfind("libssl3 3.0.9-1 is affected by DSA-5532-1 (CVE-2023-5363).", 0), 0u) << text;
    EXPECT_NE(text.find("Fixed in 3.0.11-1~deb12u2."), std::string::npos) << text;
    EXPECT_EQ(ssl->at("properties")["score"], 7.5);
    EXPECT_EQ(ssl->at("properties")["fixedVersion"], "3.0.11-1~deb12u2");

    const Json* gcc = result_for(sarif, "vuln:DEBIAN-CVE-2023-4039:libstdc++6");
    EXPECT_NE(gcc->at("message")["text"].get<std::string>().find("No fixed version is available yet."), std::string::npos);
    EXPECT_TRUE(gcc->at("properties")["score"].is_null());
    EXPECT_TRUE(gcc->at("properties")["fixedVersion"].is_null());

    const Json& props = the_run(sarif).at("properties");
    EXPECT_EQ(props["image"]["digest"], test::k_sample_digest);
    EXPECT_EQ(props["image"]["name"], "web");
    EXPECT_EQ(props["decision"], "refused");
    EXPECT_EQ(props["admitted"], false);
    EXPECT_EQ(props["policy"]["counts"]["refuse"], 3);
    EXPECT_EQ(the_run(sarif)["automationDetails"]["id"], "bulwark/web/2026-11-25T12:00:00Z");
    EXPECT_EQ(the_run(sarif)["invocations"][0]["endTimeUtc"], test::k_sample_scanned_at);

    Json admitted = to_sarif(test::admitted_sample_report());
    EXPECT_EQ(the_run(admitted)["properties"]["decision"], "admitted");
}

TEST(ReportSarif, AnAdvisoryNamedLikeAFindingKindGetsItsOwnRule)
{
    Json report = test::sample_report();
    report["vulnerabilities"][2]["advisory"] = "ssh.permit-root-login";
    ASSERT_EQ(report["vulnerabilities"][2]["package"], "openssh-server");
    Json sarif = to_sarif(report);
    const Json* r = result_for(sarif, "vuln:DSA-5678-1:openssh-server");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->at("ruleId"), "vuln:ssh.permit-root-login");
    const Json& rules = the_run(sarif)["tool"]["driver"]["rules"];
    EXPECT_EQ(rules[r->at("ruleIndex").get<size_t>()]["id"], "vuln:ssh.permit-root-login");
}

TEST(ReportSarif, ControlCharactersNeverReachTheOutput)
{
    Json report = test::sample_report();
    report["findings"][0]["message"] = "evil \x1b[31mred\r\x07 \xc2\x9b text";
    report["findings"][0]["excerpt"] = "\x1b]0;title\x07";
    Json sarif = to_sarif(report);
    const Json* r = result_for(sarif, "account.empty-password:bob");
    EXPECT_EQ(r->at("message")["text"], "evil \\x1b[31mred\\x0d\\x07 \\xc2\\x9b text");
    EXPECT_EQ(r->at("properties")["excerpt"], "\\x1b]0;title\\x07");
}

TEST(ReportSarif, DamagedReportsStillRender)
{
    for (const Json& report : { Json(), Json::object(), Json::array({ 1, 2 }), Json("text"),
             Json { { "findings", "not a list" }, { "vulnerabilities", 3 }, { "image", Json::array() } },
             Json { { "findings", { 1, nullptr, { { "id", 5 }, { "line", "twelve" }, { "path", Json::object() } } } },
                 { "vulnerabilities", { { { "aliases", "CVE-1" }, { "score", "high" } } } } } }) {
        Json sarif = to_sarif(report);
        EXPECT_EQ(sarif["version"], "2.1.0");
        EXPECT_EQ(the_run(sarif)["tool"]["driver"]["name"], "Bulwark");
        for (const Json& result : the_run(sarif)["results"]) {
            EXPECT_FALSE(result["message"]["text"].get<std::string>().empty());
            EXPECT_EQ(the_run(sarif)["tool"]["driver"]["rules"][result["ruleIndex"].get<size_t>()]["id"], result["ruleId"]);
        }
        EXPECT_EQ(the_run(sarif)["properties"]["decision"], "refused");
        (void)json_dump(sarif);
    }
}

} // namespace
} // namespace bulwark::report
