// assess(): a worker's report, the real Debian feed in tests/data/osv and a policy make a
// scan report with the right vulnerabilities, outcomes and decision.
#include <gtest/gtest.h>

#include "base/system.h"
#include "scan/assess.h"
#include "vuln/feed.h"

namespace bulwark::scan {
namespace {

Json worker_report()
{
    return Json {{"os", {{"id", "debian"}, {"version_id", "12"}, {"pretty_name", "Debian GNU/Linux 12 (bookworm)"}}},
        {"filesystems", Json::array()},
        {"packages",
            {// zlib before the fix of CVE-2022-37434 (CVSS 9.8): critical.
                {{"name", "zlib1g"}, {"version", "1:1.2.13.dfsg-1"}, {"architecture", "amd64"}, {"source_name", "zlib"},
                    {"source_version", "1:1.2.11.dfsg-4"}},
                // openssl at a version that has every fix of the feed.
                {{"name", "libssl3"}, {"version", "3.0.17-1~deb12u2"}, {"architecture", "amd64"}, {"source_name", "openssl"},
                    {"source_version", "3.0.17-1~deb12u2"}}}},
        {"identity", {{"machine_id", nullptr}, {"ssh_host_keys", Json::array()}}},
        {"findings",
            {{{"id", "sudo.nopasswd:deploy"}, {"kind", "sudo.nopasswd"}, {"severity", "high"}, {"path", "/etc/sudoers.d/deploy"},
                 {"line", 1}, {"message", "m"}, {"excerpt", ""}},
                {{"id", "secret.pem-private-key:/opt/app/server.key"}, {"kind", "secret.pem-private-key"}, {"severity", "high"},
                    {"path", "/opt/app/server.key"}, {"line", 1}, {"message", "m"}, {"excerpt", "-----BEGIN ****"}}}},
        {"stats", {{"files", 2}}}};
}

struct ScanAssess : ::testing::Test {
    std::unique_ptr<vuln::AdvisoryIndex> index;
    void SetUp() override
    {
        auto feed = vuln::load_feed(sys::dirname(__FILE__) + "/../data/osv");
        ASSERT_TRUE(feed.is_ok());
        index = std::make_unique<vuln::AdvisoryIndex>(std::move(feed.value().feed));
    }
    Result<Json> run(const Json& worker, const policy::AdmissionPolicy& p, const vuln::AdvisoryIndex* idx)
    {
        AssessInput in;
        in.advisories = idx;
        in.policy = &p;
        in.today = "2026-11-25";
        in.now = "2026-11-25T12:00:00Z";
        in.image = Json {{"name", "web"}, {"version", "1"}};
        return assess(worker, in);
    }
};

TEST_F(ScanAssess, VulnerabilitiesAndFindingsGetOutcomes)
{
    auto r = run(worker_report(), policy::default_policy(), index.get());
    ASSERT_TRUE(r.is_ok()) << r.error().message();
    const Json& report = r.value();
    EXPECT_EQ(report["schema"], "bulwark.scan.v1");
    ASSERT_EQ(report["vulnerabilities"].size(), 1u) << report["vulnerabilities"].dump(2);
    const Json& v = report["vulnerabilities"][0];
    EXPECT_EQ(v["advisory"], "DEBIAN-CVE-2022-37434");
    EXPECT_EQ(v["package"], "zlib1g");
    EXPECT_EQ(v["severity"], "critical");
    EXPECT_EQ(v["fixed_version"], "1:1.2.11.dfsg-4.1");
    EXPECT_EQ(v["outcome"], "refuse");
    // The secret refuses, the NOPASSWD rule warns (default policy); same severity: by id.
    ASSERT_EQ(report["findings"].size(), 2u);
    EXPECT_EQ(report["findings"][0]["id"], "secret.pem-private-key:/opt/app/server.key");
    EXPECT_EQ(report["findings"][0]["outcome"], "refuse");
    EXPECT_EQ(report["findings"][1]["outcome"], "warn");
    EXPECT_FALSE(report["policy"]["admitted"]);
    EXPECT_EQ(report["policy"]["counts"]["refuse"], 2);
    EXPECT_EQ(report["policy"]["counts"]["warn"], 1);
}

TEST_F(ScanAssess, ExceptionsAdmitAndUnassessableImagesAreNotClean)
{
    auto p = policy::parse_policy(R"(
[[exception]]
id = "vuln:DEBIAN-CVE-2022-37434:zlib1g"
expires = 2027-01-01
reason = "rebuilt with the fix, package pending"
[[exception]]
id = "secret.pem-private-key:/opt/app/server.key"
expires = 2026-12-01
reason = "test key"
)",
        "p.toml");
    ASSERT_TRUE(p.is_ok()) << p.error().message();
    auto r = run(worker_report(), p.value(), index.get());
    ASSERT_TRUE(r.is_ok());
    EXPECT_TRUE(r.value()["policy"]["admitted"]) << r.value()["policy"].dump();
    EXPECT_EQ(r.value()["policy"]["counts"]["excepted"], 2);

    // A package version dpkg would not accept: the image cannot be assessed, which refuses
    // it at high severity rather than calling it clean.
    Json bad = worker_report();
    bad["packages"][0]["source_version"] = "not a version!";
    auto strict = policy::parse_policy("[findings]\nrefuse_at = \"high\"\n", "strict");
    ASSERT_TRUE(strict.is_ok());
    auto r2 = run(bad, strict.value(), index.get());
    ASSERT_TRUE(r2.is_ok());
    bool unassessable = false;
    for (const auto& f : r2.value()["findings"])
        unassessable |= f["id"] == "vuln.unassessable" && f["outcome"] == "refuse";
    EXPECT_TRUE(unassessable) << r2.value()["findings"].dump(2);

    // Without a feed, packages are reported as not assessed.
    auto r3 = run(worker_report(), policy::default_policy(), nullptr);
    ASSERT_TRUE(r3.is_ok());
    EXPECT_EQ(r3.value()["vulnerabilities"].size(), 0u);
    bool no_feed = false;
    for (const auto& f : r3.value()["findings"])
        no_feed |= f["id"] == "vuln.no-feed";
    EXPECT_TRUE(no_feed);
}

TEST_F(ScanAssess, MalformedWorkerReportIsRefused)
{
    Json bad = worker_report();
    bad["findings"][0]["severity"] = "apocalyptic";
    auto r = run(bad, policy::default_policy(), index.get());
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error().kind(), ErrorKind::Corrupt);
    EXPECT_TRUE(run(Json::array(), policy::default_policy(), index.get()).is_error());
}

}  // namespace
}  // namespace bulwark::scan
