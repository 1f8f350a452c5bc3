// CVSS v3.x base scores against scores NVD publishes for well-known vectors, vector
// validation, and the mapping of scores, labels and Debian urgencies to a severity.
#include <gtest/gtest.h>

#include "test_util.h"
#include "vuln/severity.h"

namespace bulwark::vuln {
namespace {

using test::fails_with;
using test::is_ok;

TEST(Cvss, KnownVectorsScoreAsPublished)
{
    struct Case {
        const char* vector;
        int tenths;
        const char* example;
    };
    const Case cases[] = {
        { "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 98, "curl SOCKS5 heap overflow CVE-2023-38545" },
        { "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 100, "log4shell CVE-2021-44228" },
        { "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 78, "glibc Looney Tunables CVE-2023-4911" },
        { "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 59, "AC:H confidentiality only" },
        { "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 81, "openssh regreSSHion CVE-2024-6387" },
        { "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 88, "libwebp CVE-2023-4863" },
        { "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 75, "HTTP/2 rapid reset CVE-2023-44487" },
        { "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 75, "heartbleed CVE-2014-0160" },
        { "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:N", 59, "Terrapin CVE-2023-48795" },
        { "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 61, "reflected XSS" },
        { "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:C/C:H/I:N/A:N", 56, "Spectre v1 CVE-2017-5753" },
        { "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 99, "scope change, low privileges" },
        { "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H", 96, "scope change, user interaction" },
        { "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", 53, "information disclosure" },
        { "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:N/I:L/A:N", 43, "low integrity" },
        { "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 65, "authenticated read" },
        { "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H", 55, "local denial of service" },
        { "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 78, "malicious file" },
        { "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:L/A:N", 37, "curl cookie injection class" },
        { "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:N/I:N/A:H", 47, "local race, denial of service" },
        { "CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 68, "physical access" },
        { "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0, "no impact" },
        { "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:N/A:N", 0, "no impact, scope changed" },
        { "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 98, "a 3.0 vector" },
        { "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C", 98, "temporal metrics do not change the base" },
        { "CVSS:3.1/A:H/I:H/C:H/S:U/UI:N/PR:N/AC:L/AV:N", 98, "metric order does not matter" },
        { "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/CR:H/MAV:L/MS:C/MC:N", 98, "environmental metrics" },
    };
    for (const auto& c : cases) {
        auto r = cvss3_base_score_tenths(c.vector);
        ASSERT_TRUE(is_ok(r)) << c.vector;
        EXPECT_EQ(r.value(), c.tenths) << c.example << ": " << c.vector;
    }
}

TEST(Cvss, RejectsMalformedVectors)
{
    const char* bad[] = {
        "",
        "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:2.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        "CVSS:3.1/",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/",
        "CVSS:3.1//AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:NN/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/XX:Y",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E",
        "cvss:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    };
    for (const char* v : bad)
        EXPECT_TRUE(fails_with(cvss3_base_score_tenths(v), ErrorKind::InvalidArgument)) << v;
    std::string longer = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
    while (longer.size() <= k_max_cvss_vector_length)
        longer += "/E:X";
    EXPECT_TRUE(fails_with(cvss3_base_score_tenths(longer), ErrorKind::InvalidArgument));
    auto r = cvss3_base_score_tenths("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H");
    ASSERT_TRUE(r.is_error());
    EXPECT_NE(r.error().message().find("lacks the base metric A"), std::string::npos) << r.error().message();
}

TEST(Cvss, SeverityScaleAndLabels)
{
    EXPECT_EQ(severity_from_score(0.0), Severity::None);
    EXPECT_EQ(severity_from_score(0.1), Severity::Low);
    EXPECT_EQ(severity_from_score(3.9), Severity::Low);
    EXPECT_EQ(severity_from_score(4.0), Severity::Medium);
    EXPECT_EQ(severity_from_score(6.9), Severity::Medium);
    EXPECT_EQ(severity_from_score(7.0), Severity::High);
    EXPECT_EQ(severity_from_score(8.9), Severity::High);
    EXPECT_EQ(severity_from_score(9.0), Severity::Critical);
    EXPECT_EQ(severity_from_score(10.0), Severity::Critical);

    EXPECT_EQ(severity_from_label("CRITICAL"), Severity::Critical);
    EXPECT_EQ(severity_from_label("High"), Severity::High);
    EXPECT_EQ(severity_from_label("MODERATE"), Severity::Medium);
    EXPECT_EQ(severity_from_label("medium"), Severity::Medium);
    EXPECT_EQ(severity_from_label("LOW"), Severity::Low);
    EXPECT_EQ(severity_from_label("NEGLIGIBLE"), Severity::None);
    EXPECT_EQ(severity_from_label("urgent!"), std::nullopt);
    EXPECT_EQ(severity_from_label(""), std::nullopt);

    EXPECT_EQ(severity_from_urgency("high"), Severity::High);
    EXPECT_EQ(severity_from_urgency("medium**"), Severity::Medium);
    EXPECT_EQ(severity_from_urgency("low*"), Severity::Low);
    EXPECT_EQ(severity_from_urgency("unimportant"), Severity::Low);
    EXPECT_EQ(severity_from_urgency("not yet assigned"), std::nullopt);
    EXPECT_EQ(severity_from_urgency("end-of-life"), std::nullopt);

    for (Severity s : { Severity::Unknown, Severity::None, Severity::Low, Severity::Medium, Severity::High, Severity::Critical })
        EXPECT_EQ(severity_from_name(severity_name(s)), s);
    EXPECT_EQ(severity_from_name("severe"), std::nullopt);
    EXPECT_LT(Severity::Unknown, Severity::None);
    EXPECT_LT(Severity::High, Severity::Critical);
}

} // namespace
} // namespace bulwark::vuln
