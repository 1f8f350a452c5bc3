#include <gtest/gtest.h>

#include "policy/admission.h"

namespace bulwark::policy {
namespace {

Subject finding(std::string id, std::string kind, Severity s) { return Subject {std::move(id), std::move(kind), s}; }

TEST(AdmissionPolicy, DefaultRefusesSecretsKeysEmptyPasswordsAndCriticalVulns)
{
    const auto& p = default_policy();
    const std::string today = "2026-11-25";
    EXPECT_EQ(decide(p, finding("secret.pem-private-key:/root/.ssh/id_rsa", "secret.pem-private-key", Severity::High), today).outcome, Outcome::Refuse);
    EXPECT_EQ(decide(p, finding("ssh.host-private-key:/etc/ssh/ssh_host_ed25519_key", "ssh.host-private-key", Severity::High), today).outcome,
        Outcome::Refuse);
    EXPECT_EQ(decide(p, finding("account.empty-password:bob", "account.empty-password", Severity::Critical), today).outcome, Outcome::Refuse);
    EXPECT_EQ(decide(p, finding("vuln:DSA-1:openssl", "vuln", Severity::Critical), today).outcome, Outcome::Refuse);
    // The rest warns or informs.
    EXPECT_EQ(decide(p, finding("vuln:DSA-2:zlib", "vuln", Severity::High), today).outcome, Outcome::Warn);
    EXPECT_EQ(decide(p, finding("sudo.nopasswd:%admin", "sudo.nopasswd", Severity::High), today).outcome, Outcome::Warn);
    EXPECT_EQ(decide(p, finding("file.setuid:/usr/bin/passwd", "file.setuid", Severity::Info), today).outcome, Outcome::Info);
}

TEST(AdmissionPolicy, ExceptionsHoldUntilTheirDateAndNoLonger)
{
    auto p = parse_policy(R"(
[findings]
refuse = ["sudo.nopasswd"]
[[exception]]
id = "sudo.nopasswd:%admin"
expires = 2026-12-31
reason = "build pipeline, OPS-12"
)",
        "test.toml");
    ASSERT_TRUE(p.is_ok()) << p.error().message();
    auto s = finding("sudo.nopasswd:%admin", "sudo.nopasswd", Severity::High);
    auto v = decide(p.value(), s, "2026-12-31");
    EXPECT_EQ(v.outcome, Outcome::Excepted);
    EXPECT_NE(v.rule.find("OPS-12"), std::string::npos);
    v = decide(p.value(), s, "2027-01-01");
    EXPECT_EQ(v.outcome, Outcome::Refuse);
    EXPECT_NE(v.rule.find("expired on 2026-12-31"), std::string::npos) << v.rule;
    // Another id of the same kind is not excepted.
    EXPECT_EQ(decide(p.value(), finding("sudo.nopasswd:eve", "sudo.nopasswd", Severity::High), "2026-12-01").outcome, Outcome::Refuse);
}

TEST(AdmissionPolicy, BadPoliciesAreRefusedWithWhere)
{
    auto bad = [](const char* text, const char* expect) {
        auto p = parse_policy(text, "p.toml");
        ASSERT_TRUE(p.is_error()) << text;
        EXPECT_EQ(p.error().kind(), ErrorKind::InvalidArgument);
        EXPECT_NE(p.error().message().find(expect), std::string::npos) << p.error().message();
    };
    bad("[findings]\nrefuse_at = \"severe\"\n", "unknown severity 'severe'");
    bad("[findings]\nrefuse_at = \"severe\"\n", "line 2");
    bad("[vulnerabilities]\nrefuse = 3\n", "unknown key 'refuse'");
    bad("[[exception]]\nid = \"x\"\nreason = \"r\"\n", "needs an expiry date");
    bad("[[exception]]\nid = \"x\"\nexpires = 2027-01-01\n", "needs a reason");
    bad("[[exception]]\nid = \"x\"\nexpires = \"soon\"\nreason = \"r\"\n", "must be a date");
    bad("[findings\n", "p.toml");
    bad("[findings]\nrefuse_at = \"low\"\nwarn_at = \"high\"\n", "warn_at must not be above refuse_at");
    bad("colour = 1\n", "unknown key 'colour'");
}

TEST(AdmissionPolicy, AuditOnlyPolicyNeverRefusesBySeverity)
{
    auto p = parse_policy("[vulnerabilities]\nrefuse_at = \"never\"\n[findings]\nrefuse_at = \"never\"\nrefuse = [\"secret.*\"]\n", "audit");
    ASSERT_TRUE(p.is_ok()) << p.error().message();
    EXPECT_EQ(decide(p.value(), finding("vuln:X:zlib1g", "vuln", Severity::Critical), "2026-01-01").outcome, Outcome::Warn);
    EXPECT_EQ(decide(p.value(), finding("account.empty-password:x", "account.empty-password", Severity::Critical), "2026-01-01").outcome,
        Outcome::Warn);
    EXPECT_EQ(decide(p.value(), finding("secret.x:/a", "secret.x", Severity::High), "2026-01-01").outcome, Outcome::Refuse);
}

TEST(AdmissionPolicy, KindPatterns)
{
    EXPECT_TRUE(kind_matches("secret.*", "secret.aws-access-key"));
    EXPECT_TRUE(kind_matches("secret.*", "secret"));
    EXPECT_FALSE(kind_matches("secret.*", "secretive"));
    EXPECT_FALSE(kind_matches("secret.*", "ssh.secret"));
    EXPECT_TRUE(kind_matches("sudo.nopasswd", "sudo.nopasswd"));
    EXPECT_FALSE(kind_matches("sudo.nopasswd", "sudo.nopasswd.x"));
}

TEST(AdmissionPolicy, IgnoredKindsAndDefaultTextParses)
{
    auto p = parse_policy("[findings]\nignore = [\"file.*\"]\n", "x");
    ASSERT_TRUE(p.is_ok());
    EXPECT_EQ(decide(p.value(), finding("file.world-writable:/etc/x", "file.world-writable", Severity::High), "2026-01-01").outcome,
        Outcome::Ignored);
    auto d = parse_policy(default_policy_text(), "default");
    ASSERT_TRUE(d.is_ok()) << d.error().message();
    EXPECT_EQ(d.value().refuse_kinds.size(), 5u);
}

}  // namespace
}  // namespace bulwark::policy
