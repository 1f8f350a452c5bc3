// The defensive reading of a report that all renderings share: typed access that never throws,
// the re-escaping of untrusted text, percent-encoding, and the decision.
#include <gtest/gtest.h>
#include <string>

#include "report/reading.h"
#include "report_sample.h"

namespace bulwark::report {
namespace {

TEST(ReportReading, FieldsOfTheWrongTypeReadAsAbsent)
{
    Json obj = { { "s", "text" }, { "n", 7 }, { "f", 2.5 }, { "a", { 1, 2 } }, { "big", UINT64_MAX }, { "neg", -3 } };
    EXPECT_EQ(text(obj, "s"), "text");
    EXPECT_EQ(text(obj, "n"), "");
    EXPECT_EQ(text(obj, "missing"), "");
    EXPECT_EQ(text(Json::array(), "s"), "");
    EXPECT_EQ(integer(obj, "n"), 7);
    EXPECT_EQ(integer(obj, "neg"), -3);
    EXPECT_EQ(integer(obj, "f"), std::nullopt);
    EXPECT_EQ(integer(obj, "big"), std::nullopt);
    EXPECT_EQ(number(obj, "f"), 2.5);
    EXPECT_EQ(number(obj, "n"), 7.0);
    EXPECT_EQ(number(obj, "s"), std::nullopt);
    EXPECT_EQ(list(obj, "a").size(), 2u);
    EXPECT_TRUE(list(obj, "s").is_array());
    EXPECT_TRUE(list(Json(), "a").empty());
    EXPECT_TRUE(field(Json(5), "x").is_null());
}

TEST(ReportReading, SafeTextEscapesEverythingButPrintableAscii)
{
    EXPECT_EQ(safe_text("plain text, with \\ and ~"), "plain text, with \\ and ~");
    EXPECT_EQ(safe_text("a\x1b[31mb\r\n\t\x7f"), "a\\x1b[31mb\\x0d\\x0a\\x09\\x7f");
    EXPECT_EQ(safe_text("\xc2\x9b"
                        "2J \xe2\x80\xa6"),
        "\\xc2\\x9b2J \\xe2\\x80\\xa6");
    // Idempotent on what the producer emits.
    std::string once = safe_text("x\x1b y");
    EXPECT_EQ(safe_text(once), once);
    // Cut to the limit with "...", never inside an escape.
    EXPECT_EQ(safe_text("abcdefghij", 10), "abcdefghij");
    EXPECT_EQ(safe_text("abcdefghijk", 10), "abcdefg...");
    EXPECT_EQ(safe_text("abcde\x01xyz", 10), "abcde...");
    EXPECT_EQ(safe_text(std::string(10000, 'x')).size(), 4096u);
}

TEST(ReportReading, PercentEncodingKeepsOnlyUnreservedAndWhatIsAsked)
{
    EXPECT_EQ(percent_encode("AZaz09-._~"), "AZaz09-._~");
    EXPECT_EQ(percent_encode("a b+c:d/e%f?g#h@i"), "a%20b%2Bc%3Ad%2Fe%25f%3Fg%23h%40i");
    EXPECT_EQ(percent_encode("1:2.3-1+b1", ":"), "1:2.3-1%2Bb1");
    EXPECT_EQ(percent_encode(std::string("a\0b", 3), std::string_view("\0", 1)), "a%00b");
    EXPECT_EQ(percent_encode("\xff"), "%FF");
}

TEST(ReportReading, RecognisesIdsAndTimestamps)
{
    EXPECT_TRUE(is_cve_id("CVE-2023-5363"));
    EXPECT_TRUE(is_cve_id("CVE-2024-1234567"));
    EXPECT_FALSE(is_cve_id("CVE-2023-12"));
    EXPECT_FALSE(is_cve_id("CVE-20X3-5363"));
    EXPECT_FALSE(is_cve_id("DSA-5532-1"));
    EXPECT_TRUE(is_debian_advisory("DSA-5532-1"));
    EXPECT_TRUE(is_debian_advisory("DLA-3650-1"));
    EXPECT_TRUE(is_debian_advisory("DEBIAN-CVE-2023-4039"));
    EXPECT_FALSE(is_debian_advisory("GHSA-xxxx-yyyy-zzzz"));
    EXPECT_EQ(advisory_url("DSA-5532-1", Json()), "https://security-tracker.debian.org/tracker/DSA-5532-1");
    EXPECT_EQ(
        advisory_url("OSV-1", Json { "GHSA-1", "CVE-2024-0001" }), "https://security-tracker.debian.org/tracker/CVE-2024-0001");
    EXPECT_EQ(advisory_url("PYSEC-2024-1/x y", Json()), "https://osv.dev/vulnerability/PYSEC-2024-1%2Fx%20y");

    EXPECT_TRUE(is_utc_timestamp("2026-11-25T12:00:00Z"));
    EXPECT_TRUE(is_utc_timestamp("2026-11-25T12:00:00.123Z"));
    EXPECT_FALSE(is_utc_timestamp("2026-11-25T12:00:00"));
    EXPECT_FALSE(is_utc_timestamp("2026-11-25T12:00:00+01:00"));
    EXPECT_FALSE(is_utc_timestamp("2026-13-25T12:00:00Z"));
    EXPECT_FALSE(is_utc_timestamp("2026-11-25T12:00:00.Z"));
    EXPECT_FALSE(is_utc_timestamp("yesterday"));
}

TEST(ReportReading, TheDecisionIsConservative)
{
    Decision d = decide(test::sample_report());
    EXPECT_FALSE(d.admitted);
    EXPECT_TRUE(d.recorded);
    EXPECT_EQ(d.refused, 3u);
    EXPECT_EQ(d.warned, 5u);
    EXPECT_EQ(d.info, 1u);
    EXPECT_EQ(d.excepted, 2u);
    EXPECT_EQ(d.ignored, 1u);

    EXPECT_TRUE(decide(test::admitted_sample_report()).admitted);
    Json claims = test::sample_report();
    claims["policy"]["admitted"] = true;
    EXPECT_FALSE(decide(claims).admitted); // a refused finding outweighs the claim
    Json silent = test::admitted_sample_report();
    silent["policy"].erase("admitted");
    EXPECT_FALSE(decide(silent).admitted);
    EXPECT_FALSE(decide(silent).recorded);
}

} // namespace
} // namespace bulwark::report
