// OSV record parsing: the fields Bulwark reads, severity normalisation, other ecosystems,
// limits, and a clear error for each kind of bad record.
#include <functional>
#include <gtest/gtest.h>

#include "test_util.h"
#include "vuln/osv.h"

namespace bulwark::vuln {
namespace {

using test::fails_with;
using test::is_ok;

// A Debian record in osv.dev's shape, with fields the tests then edit.
Json debian_record()
{
    return Json::parse(R"({
      "id": "DSA-9999-1",
      "modified": "2024-01-02T03:04:05Z",
      "published": "2024-01-01T00:00:00Z",
      "aliases": ["CVE-2024-0001"],
      "upstream": ["CVE-2024-0002"],
      "related": ["CVE-2024-0003"],
      "summary": "example - security update",
      "details": "A test advisory.",
      "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
      "affected": [{
        "package": {"ecosystem": "Debian:12", "name": "example", "purl": "pkg:deb/debian/example?arch=source"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "1.2-3+deb12u1"}, {"introduced": "0"}]}],
        "versions": ["1.2-3", "1.1-1"],
        "ecosystem_specific": {"urgency": "high"},
        "database_specific": {"source": "https://example.invalid/DSA-9999-1.json"}
      }],
      "schema_version": "1.6.0"
    })");
}

Advisory parse_ok(const Json& j)
{
    auto r = parse_osv_record(j);
    EXPECT_TRUE(is_ok(r));
    if (r.is_error() || !r.value().advisory)
        return Advisory {};
    return *r.value().advisory;
}

TEST(OsvRecord, ReadsTheFieldsBulwarkUses)
{
    auto r = parse_osv_record(debian_record());
    ASSERT_TRUE(is_ok(r));
    EXPECT_TRUE(r.value().warnings.empty()) << r.value().warnings.front();
    ASSERT_TRUE(r.value().advisory);
    const Advisory& a = *r.value().advisory;
    EXPECT_EQ(a.id, "DSA-9999-1");
    EXPECT_EQ(a.modified, "2024-01-02T03:04:05Z");
    EXPECT_EQ(a.published, "2024-01-01T00:00:00Z");
    EXPECT_EQ(a.aliases, std::vector<std::string> { "CVE-2024-0001" });
    EXPECT_EQ(a.upstream, std::vector<std::string> { "CVE-2024-0002" });
    EXPECT_EQ(a.related, std::vector<std::string> { "CVE-2024-0003" });
    EXPECT_EQ(a.summary, "example - security update");
    ASSERT_EQ(a.affected.size(), 1u);
    const OsvAffected& e = a.affected[0];
    EXPECT_EQ(e.ecosystem, "Debian:12");
    EXPECT_EQ(e.release, "12");
    EXPECT_EQ(e.name, "example");
    EXPECT_EQ(e.purl, "pkg:deb/debian/example?arch=source");
    ASSERT_EQ(e.ranges.size(), 1u);
    // Events are put in version order, introduced "0" first.
    ASSERT_EQ(e.ranges[0].events.size(), 2u);
    EXPECT_EQ(e.ranges[0].events[0].kind, EventKind::Introduced);
    EXPECT_FALSE(e.ranges[0].events[0].dpkg.has_value());
    EXPECT_EQ(e.ranges[0].events[1].kind, EventKind::Fixed);
    EXPECT_EQ(e.ranges[0].events[1].version, "1.2-3+deb12u1");
    ASSERT_EQ(e.versions.size(), 2u);
    EXPECT_EQ(e.urgency, "high");
    EXPECT_EQ(e.level, Severity::Critical);
    ASSERT_TRUE(e.score.has_value());
    EXPECT_DOUBLE_EQ(*e.score, 9.8);
}

TEST(OsvRecord, SeverityFallsBackFromCvssToLabelToUrgency)
{
    {
        SCOPED_TRACE("the entry's own vector wins over the record's");
        Json j = debian_record();
        j["affected"][0]["severity"]
            = Json::parse(R"([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}])");
        Advisory a = parse_ok(j);
        ASSERT_EQ(a.affected.size(), 1u);
        EXPECT_EQ(a.affected[0].level, Severity::High);
        EXPECT_DOUBLE_EQ(a.affected[0].score.value_or(0), 7.8);
    }
    {
        SCOPED_TRACE("CVSS v4 only: not scored, the label decides");
        Json j = debian_record();
        j["severity"]
            = Json::parse(R"([{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}])");
        j["database_specific"] = Json { { "severity", "CRITICAL" } };
        Advisory a = parse_ok(j);
        ASSERT_EQ(a.affected.size(), 1u);
        EXPECT_EQ(a.affected[0].level, Severity::Critical);
        EXPECT_FALSE(a.affected[0].score.has_value());
        EXPECT_EQ(a.severity.size(), 1u) << "the v4 vector is kept";
    }
    {
        SCOPED_TRACE("an entry's database_specific severity");
        Json j = debian_record();
        j.erase("severity");
        j["affected"][0]["database_specific"]["severity"] = "MODERATE";
        Advisory a = parse_ok(j);
        EXPECT_EQ(a.affected[0].level, Severity::Medium);
    }
    {
        SCOPED_TRACE("Debian urgency");
        Json j = debian_record();
        j.erase("severity");
        j["affected"][0]["ecosystem_specific"]["urgency"] = "low**";
        Advisory a = parse_ok(j);
        EXPECT_EQ(a.affected[0].level, Severity::Low);
        EXPECT_FALSE(a.affected[0].score.has_value());
    }
    {
        SCOPED_TRACE("nothing usable: unknown");
        Json j = debian_record();
        j.erase("severity");
        j["affected"][0]["ecosystem_specific"]["urgency"] = "not yet assigned";
        Advisory a = parse_ok(j);
        EXPECT_EQ(a.affected[0].level, Severity::Unknown);
    }
    {
        SCOPED_TRACE("a bad vector is a warning, and the next source is used");
        Json j = debian_record();
        j["severity"] = Json::parse(R"([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L"}])");
        j["affected"][0]["database_specific"]["severity"] = "shrug";
        auto r = parse_osv_record(j);
        ASSERT_TRUE(is_ok(r));
        ASSERT_TRUE(r.value().advisory);
        EXPECT_EQ(r.value().advisory->affected[0].level, Severity::High) << "from the urgency";
        ASSERT_EQ(r.value().warnings.size(), 2u);
        EXPECT_NE(r.value().warnings[0].find("lacks the base metric"), std::string::npos) << r.value().warnings[0];
        EXPECT_NE(r.value().warnings[1].find("unknown label 'shrug'"), std::string::npos) << r.value().warnings[1];
    }
}

TEST(OsvRecord, OtherEcosystemsAreIgnoredCleanly)
{
    Json pypi = Json::parse(R"({"id": "PYSEC-2024-1", "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "Not A Debian Name!"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "not-a-dpkg-version!"}]}]},
                     {"ranges": [{"type": "GIT", "repo": "https://example.invalid/x.git", "events": [{"introduced": "abc123"}]}]}]})");
    auto r = parse_osv_record(pypi);
    ASSERT_TRUE(is_ok(r));
    EXPECT_FALSE(r.value().advisory.has_value());
    EXPECT_TRUE(r.value().warnings.empty());

    // A record naming Debian and other ecosystems keeps only the Debian entries.
    Json mixed = debian_record();
    mixed["affected"].push_back(pypi["affected"][0]);
    mixed["affected"].push_back(Json::parse(R"({"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "example"}})"));
    mixed["affected"].push_back(Json::parse(R"({"package": {"ecosystem": "Debian", "name": "example-doc"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"last_affected": "1.5"}]}]})"));
    Advisory a = parse_ok(mixed);
    ASSERT_EQ(a.affected.size(), 2u);
    EXPECT_EQ(a.affected[1].ecosystem, "Debian");
    EXPECT_EQ(a.affected[1].release, "");
    EXPECT_EQ(a.affected[1].name, "example-doc");
}

TEST(OsvRecord, NameFromPurlAndOtherRangeTypes)
{
    Json j = debian_record();
    j["affected"][0]["package"].erase("name");
    j["affected"][0]["package"]["purl"] = "pkg:deb/debian/openssl@3.0.11-1?arch=source";
    j["affected"][0]["ranges"].push_back(Json::parse(R"({"type": "GIT", "repo": "https://example.invalid/r.git",
        "events": [{"introduced": "0"}, {"fixed": "0123abcd"}]})"));
    j["affected"][0]["ranges"].push_back(
        Json::parse(R"({"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"limit": "2.0.0"}]})"));
    Advisory a = parse_ok(j);
    ASSERT_EQ(a.affected.size(), 1u);
    EXPECT_EQ(a.affected[0].name, "openssl");
    ASSERT_EQ(a.affected[0].ranges.size(), 3u);
    EXPECT_EQ(a.affected[0].ranges[1].type, RangeType::Git);
    EXPECT_EQ(a.affected[0].ranges[2].type, RangeType::Semver);
    EXPECT_EQ(a.affected[0].ranges[2].events[1].kind, EventKind::Limit);
}

TEST(OsvRecord, TextIsTruncatedAndCleaned)
{
    Json j = debian_record();
    j["summary"] = "evil\x1b[2J summary\nwith a newline";
    std::string details = "line one\n\tline two\x07\n";
    while (details.size() < 10000)
        details += "\xc3\xa9"; // é: a two-byte character, so the cut must respect it
    j["details"] = details;
    Advisory a = parse_ok(j);
    EXPECT_EQ(a.summary, "evil [2J summary with a newline");
    OsvLimits limits;
    EXPECT_LE(a.details.size(), limits.max_details_bytes);
    EXPECT_EQ(a.details.substr(0, 20), "line one\n\tline two \n");
    EXPECT_EQ(a.details.substr(a.details.size() - 3), "...");
    EXPECT_TRUE(is_valid_utf8(a.details));
}

TEST(OsvRecord, RoundTripsThroughItsJson)
{
    Json j = debian_record();
    j["withdrawn"] = "2024-02-01T00:00:00Z";
    j["affected"][0]["ranges"].push_back(
        Json::parse(R"({"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"last_affected": "2.5"}, {"limit": "3"}]})"));
    Advisory a = parse_ok(j);
    Json once = osv_to_json(a);
    Advisory b = parse_ok(once);
    EXPECT_EQ(json_dump(osv_to_json(b)), json_dump(once));
    EXPECT_EQ(b.withdrawn, "2024-02-01T00:00:00Z");
    EXPECT_EQ(b.affected[0].level, a.affected[0].level);
    EXPECT_EQ(b.affected[0].ranges.size(), 2u);
}

TEST(OsvRecord, BadRecordsFailWithAClearMessage)
{
    struct Case {
        const char* what;
        std::function<void(Json&)> edit;
        const char* message;
    };
    const std::vector<Case> cases = {
        { "not an object", [](Json& j) { j = Json::array(); }, "not a JSON object" },
        { "no id", [](Json& j) { j.erase("id"); }, "no string 'id'" },
        { "numeric id", [](Json& j) { j["id"] = 5; }, "no string 'id'" },
        { "id with spaces", [](Json& j) { j["id"] = "DSA 1"; }, "the id 'DSA 1'" },
        { "long id", [](Json& j) { j["id"] = std::string(200, 'A'); }, "longer than 128" },
        { "summary not a string", [](Json& j) { j["summary"] = Json::array(); }, "'summary' is not a string" },
        { "affected not an array", [](Json& j) { j["affected"] = "x"; }, "'affected' is not an array" },
        { "affected entry not an object", [](Json& j) { j["affected"][0] = 1; }, "affected[0]: is not an object" },
        { "package not an object", [](Json& j) { j["affected"][0]["package"] = "x"; }, "'package' is not an object" },
        { "bad Debian release", [](Json& j) { j["affected"][0]["package"]["ecosystem"] = "Debian:"; }, "invalid Debian release" },
        { "bad package name", [](Json& j) { j["affected"][0]["package"]["name"] = "Open SSL"; },
            "not a valid Debian package name" },
        { "missing package name",
            [](Json& j) {
                j["affected"][0]["package"].erase("name");
                j["affected"][0]["package"].erase("purl");
            },
            "not a valid Debian package name" },
        { "ranges not an array", [](Json& j) { j["affected"][0]["ranges"] = Json::object(); }, "'ranges' is not an array" },
        { "range without type", [](Json& j) { j["affected"][0]["ranges"][0].erase("type"); }, "'type' is missing" },
        { "range without events", [](Json& j) { j["affected"][0]["ranges"][0].erase("events"); }, "'events' is missing" },
        { "empty events", [](Json& j) { j["affected"][0]["ranges"][0]["events"] = Json::array(); }, "'events' is empty" },
        { "event with two keys",
            [](Json& j) {
                j["affected"][0]["ranges"][0]["events"][0] = Json { { "introduced", "0" }, { "fixed", "1" } };
            },
            "exactly one of" },
        { "unknown event",
            [](Json& j) {
                j["affected"][0]["ranges"][0]["events"][0] = Json { { "patched", "1" } };
            },
            "unknown event 'patched'" },
        { "event version not a string",
            [](Json& j) {
                j["affected"][0]["ranges"][0]["events"][0] = Json { { "fixed", 1 } };
            },
            "'fixed' version is not a string" },
        { "invalid fixed version",
            [](Json& j) {
                j["affected"][0]["ranges"][0]["events"][0] = Json { { "fixed", "1.0 beta" } };
            },
            "events[0]: invalid version '1.0 beta'" },
        { "no introduced", [](Json& j) { j["affected"][0]["ranges"][0]["events"] = Json::parse(R"([{"fixed": "1.0"}])"); },
            "no 'introduced' event" },
        { "invalid listed version", [](Json& j) { j["affected"][0]["versions"][1] = "1:"; },
            "versions[1]: invalid version '1:'" },
        { "versions not strings", [](Json& j) { j["affected"][0]["versions"][0] = Json::object(); },
            "versions[0]: is not a string" },
        { "severity not an array", [](Json& j) { j["severity"] = "HIGH"; }, "'severity' is not an array" },
        { "too many affected",
            [](Json& j) {
                for (int i = 0; i < 1100; ++i)
                    j["affected"].push_back(j["affected"][0]);
            },
            "more than 1024 entries" },
        { "too many events",
            [](Json& j) {
                for (int i = 0; i < 300; ++i)
                    j["affected"][0]["ranges"][0]["events"].push_back(Json { { "fixed", "1." + std::to_string(i) } });
            },
            "more than 256 events" },
    };
    for (const auto& c : cases) {
        Json j = debian_record();
        c.edit(j);
        auto r = parse_osv_record(j);
        ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt)) << c.what;
        EXPECT_NE(r.error().message().find(c.message), std::string::npos) << c.what << ": " << r.error().message();
    }
}

TEST(OsvRecord, ParsesTextWithLimits)
{
    std::string text = debian_record().dump();
    auto ok = parse_osv_text(text);
    ASSERT_TRUE(is_ok(ok));
    EXPECT_TRUE(ok.value().advisory.has_value());
    EXPECT_TRUE(fails_with(parse_osv_text(text, text.size() - 1), ErrorKind::Corrupt));
    EXPECT_TRUE(fails_with(parse_osv_text("{\"id\": "), ErrorKind::Corrupt));
    std::string deep = std::string(100, '[') + std::string(100, ']');
    EXPECT_TRUE(fails_with(parse_osv_text(deep), ErrorKind::Corrupt));
}

} // namespace
} // namespace bulwark::vuln
