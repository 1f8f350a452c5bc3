// Feed loading: the real Debian feed in tests/data/osv, directories mixing good and bad
// records, duplicates, limits, and the JSON lines form the daemon persists.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <gtest/gtest.h>

#include "base/system.h"
#include "test_util.h"
#include "vuln/feed.h"

namespace bulwark::vuln {
namespace {

using test::fails_with;
using test::is_ok;
using test::TempDir;

std::string data_dir()
{
    return sys::dirname(__FILE__) + "/../data/osv";
}

std::string record(const std::string& id, const std::string& package, const std::string& fixed,
    const std::string& modified = "2024-01-01T00:00:00Z")
{
    Json j = { { "id", id }, { "modified", modified },
        { "affected",
            Json::array({ Json { { "package", { { "ecosystem", "Debian:12" }, { "name", package } } },
                { "ranges",
                    Json::array({ Json { { "type", "ECOSYSTEM" },
                        { "events",
                            Json::array({ Json { { "introduced", "0" } }, Json { { "fixed", fixed } } }) } } }) } } }) } };
    return j.dump();
}

bool has_problem(const std::vector<FeedProblem>& list, const std::string& fragment)
{
    return std::any_of(
        list.begin(), list.end(), [&](const FeedProblem& p) { return p.describe().find(fragment) != std::string::npos; });
}

std::string describe_all(const std::vector<FeedProblem>& list)
{
    std::string out;
    for (const auto& p : list)
        out += p.describe() + "\n";
    return out;
}

TEST(VulnFeed, LoadsTheRealDebianFeed)
{
    auto r = load_feed(data_dir());
    ASSERT_TRUE(is_ok(r));
    const FeedLoad& load = r.value();
    EXPECT_TRUE(load.errors.empty()) << describe_all(load.errors);
    EXPECT_TRUE(load.warnings.empty()) << describe_all(load.warnings);
    EXPECT_EQ(load.files, 19u);
    EXPECT_EQ(load.records, 21u);
    EXPECT_EQ(load.ignored, 0u);
    ASSERT_EQ(load.feed.advisories.size(), 21u);
    EXPECT_TRUE(std::is_sorted(load.feed.advisories.begin(), load.feed.advisories.end(),
        [](const Advisory& a, const Advisory& b) { return a.id < b.id; }));
    for (const auto& a : load.feed.advisories) {
        SCOPED_TRACE(a.id);
        ASSERT_EQ(a.affected.size(), 1u);
        EXPECT_EQ(a.affected[0].release, "12");
        ASSERT_EQ(a.upstream.size(), 1u);
        EXPECT_EQ("DEBIAN-" + a.upstream[0], a.id);
        EXPECT_NE(a.affected[0].level, Severity::Unknown);
    }
    auto find = [&](const std::string& id) -> const Advisory& {
        return *std::find_if(
            load.feed.advisories.begin(), load.feed.advisories.end(), [&](const Advisory& a) { return a.id == id; });
    };
    EXPECT_EQ(find("DEBIAN-CVE-2023-38545").affected[0].level, Severity::Critical);
    EXPECT_DOUBLE_EQ(find("DEBIAN-CVE-2023-38545").affected[0].score.value_or(0), 9.8);
    EXPECT_DOUBLE_EQ(find("DEBIAN-CVE-2023-4911").affected[0].score.value_or(0), 7.8);
    EXPECT_DOUBLE_EQ(find("DEBIAN-CVE-2023-48795").affected[0].score.value_or(0), 5.9);
    EXPECT_EQ(find("DEBIAN-CVE-2023-48795").affected[0].level, Severity::Medium);
    EXPECT_EQ(find("DEBIAN-CVE-2024-34397").affected[0].level, Severity::High) << "from the urgency";
    EXPECT_EQ(find("DEBIAN-CVE-2023-5363").affected[0].name, "openssl");

    // A single file of the feed loads too (here the JSON array one).
    auto one = load_feed(data_dir() + "/openssh-bookworm.json");
    ASSERT_TRUE(is_ok(one));
    EXPECT_EQ(one.value().feed.advisories.size(), 3u);
    EXPECT_EQ(one.value().files, 1u);
}

TEST(VulnFeed, BadRecordsAreReportedAndGoodOnesStillLoad)
{
    TempDir dir;
    test::write_all(dir.file("a-good.json"), record("DSA-1-1", "curl", "7.88.1-10+deb12u4"));
    test::write_all(dir.file("b-malformed.json"), "{\"id\": \"DSA-2-1\", ");
    test::write_all(dir.file("c-bad-version.json"), record("DSA-3-1", "openssl", "3.0.11 -1"));
    test::write_all(dir.file("d-array.json"),
        "[" + record("DSA-4-1", "glibc", "2.36-9+deb12u3") + ", {\"summary\": \"no id\"}, " + record("DSA-5-1", "Bad_Name", "1.0")
            + "]");
    test::write_all(dir.file("e-other-ecosystem.json"),
        R"({"id": "GHSA-aaaa-bbbb-cccc", "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"}}]})");
    test::write_all(dir.file("f-scalar.json"), "42");
    test::write_all(dir.file("notes.txt"), "not a record");
    test::write_all(dir.file(".hidden.json"), "garbage");
    ASSERT_EQ(::symlink("/etc/passwd", dir.file("g-link.json").c_str()), 0);
    ASSERT_EQ(::mkfifo(dir.file("h-fifo.json").c_str(), 0600), 0);
    ASSERT_EQ(::mkdir(dir.file("i-dir.json").c_str(), 0700), 0);
    test::write_all(dir.file("j-warning.json"), R"({"id": "DSA-6-1", "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:Q"}],
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "tar"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.34+dfsg-1.2+deb12u1"}]}]}]})");

    auto r = load_feed(dir.path());
    ASSERT_TRUE(is_ok(r));
    const FeedLoad& load = r.value();
    std::vector<std::string> ids;
    for (const auto& a : load.feed.advisories)
        ids.push_back(a.id);
    EXPECT_EQ(ids, (std::vector<std::string> { "DSA-1-1", "DSA-4-1", "DSA-6-1" }));
    EXPECT_EQ(load.ignored, 1u);
    std::string all = describe_all(load.errors);
    EXPECT_TRUE(has_problem(load.errors, dir.file("b-malformed.json") + ": malformed JSON")) << all;
    EXPECT_TRUE(has_problem(load.errors,
        dir.file("c-bad-version.json") + ": record 'DSA-3-1': affected[0]: ranges[0]: events[1]: invalid version '3.0.11 -1'"))
        << all;
    EXPECT_TRUE(has_problem(load.errors, dir.file("d-array.json") + "[1]: the record has no string 'id'")) << all;
    EXPECT_TRUE(
        has_problem(load.errors, dir.file("d-array.json") + "[2]: record 'DSA-5-1': affected[0]: the package name 'Bad_Name'"))
        << all;
    EXPECT_TRUE(has_problem(load.errors, dir.file("f-scalar.json") + ": the record is not a JSON object")) << all;
    EXPECT_TRUE(has_problem(load.errors, dir.file("g-link.json") + ": cannot open")) << all;
    EXPECT_TRUE(has_problem(load.errors, dir.file("h-fifo.json") + ": not a regular file")) << all;
    EXPECT_TRUE(has_problem(load.errors, dir.file("i-dir.json") + ": not a regular file")) << all;
    EXPECT_EQ(load.errors.size(), 8u) << all;
    EXPECT_FALSE(has_problem(load.errors, "notes.txt"));
    EXPECT_FALSE(has_problem(load.errors, ".hidden.json"));
    EXPECT_TRUE(has_problem(load.warnings, dir.file("j-warning.json") + ": record 'DSA-6-1': severity[0]: CVSS vector"))
        << describe_all(load.warnings);
    EXPECT_EQ(load.records, 8u);
}

TEST(VulnFeed, DuplicateIdsKeepTheLatestModified)
{
    TempDir dir;
    test::write_all(dir.file("1.json"), record("DSA-7-1", "curl", "7.88.1-10+deb12u1", "2023-01-01T00:00:00Z"));
    test::write_all(dir.file("2.json"), record("DSA-7-1", "curl", "7.88.1-10+deb12u5", "2024-01-01T00:00:00Z"));
    test::write_all(dir.file("3.json"), record("DSA-7-1", "curl", "7.88.1-10+deb12u2", "2023-06-01T00:00:00Z"));
    auto r = load_feed(dir.path());
    ASSERT_TRUE(is_ok(r));
    ASSERT_EQ(r.value().feed.advisories.size(), 1u);
    EXPECT_EQ(r.value().feed.advisories[0].affected[0].ranges[0].events[1].version, "7.88.1-10+deb12u5");
    EXPECT_EQ(r.value().warnings.size(), 2u);
    EXPECT_TRUE(has_problem(r.value().warnings, "replaces it"));
    EXPECT_TRUE(has_problem(r.value().warnings, "is skipped"));
}

TEST(VulnFeed, FeedWideLimits)
{
    TempDir dir;
    for (int i = 0; i < 5; ++i)
        test::write_all(dir.file("r" + std::to_string(i) + ".json"), record("DSA-" + std::to_string(i) + "-1", "curl", "1.0"));
    FeedLimits limits;
    limits.max_records = 4;
    EXPECT_TRUE(fails_with(load_feed(dir.path(), limits), ErrorKind::InvalidArgument));
    limits = FeedLimits {};
    limits.max_files = 4;
    EXPECT_TRUE(fails_with(load_feed(dir.path(), limits), ErrorKind::InvalidArgument));
    limits = FeedLimits {};
    limits.max_total_bytes = 600;
    EXPECT_TRUE(fails_with(load_feed(dir.path(), limits), ErrorKind::InvalidArgument));

    // A record over the per-record limit is skipped with an error; the others load.
    limits = FeedLimits {};
    limits.max_record_bytes = 250;
    std::string big = record("DSA-9-1", "curl", "1.0");
    Json j = Json::parse(big);
    j["details"] = std::string(300, 'x');
    test::write_all(dir.file("r9.json"), j.dump());
    auto r = load_feed(dir.path(), limits);
    ASSERT_TRUE(is_ok(r));
    EXPECT_EQ(r.value().feed.advisories.size(), 5u);
    EXPECT_TRUE(has_problem(r.value().errors, "r9.json: record 'DSA-9-1': the record is larger than the limit of 250 bytes"))
        << describe_all(r.value().errors);

    // Problems beyond max_problems are only counted.
    limits = FeedLimits {};
    limits.max_problems = 2;
    std::string many = "[";
    for (int i = 0; i < 10; ++i)
        many += std::string(i ? "," : "") + "{}";
    auto m = load_feed_text(many + "]", "many", limits);
    ASSERT_TRUE(is_ok(m));
    EXPECT_EQ(m.value().errors.size(), 2u);
    EXPECT_EQ(m.value().errors_dropped, 8u);

    EXPECT_TRUE(fails_with(load_feed(dir.file("missing")), ErrorKind::NotFound));
}

TEST(VulnFeed, JsonLinesRoundTrip)
{
    auto r = load_feed(data_dir());
    ASSERT_TRUE(is_ok(r));
    std::string lines = serialize_feed(r.value().feed);
    EXPECT_EQ(static_cast<size_t>(std::count(lines.begin(), lines.end(), '\n')), r.value().feed.advisories.size());
    auto back = parse_feed_lines(lines, "feed.jsonl");
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(back.value().errors.empty()) << describe_all(back.value().errors);
    EXPECT_TRUE(back.value().warnings.empty());
    EXPECT_EQ(serialize_feed(back.value().feed), lines);
    ASSERT_EQ(back.value().feed.advisories.size(), r.value().feed.advisories.size());
    for (size_t i = 0; i < back.value().feed.advisories.size(); ++i) {
        const auto& a = r.value().feed.advisories[i];
        const auto& b = back.value().feed.advisories[i];
        EXPECT_EQ(a.id, b.id);
        EXPECT_EQ(a.affected[0].level, b.affected[0].level);
        EXPECT_EQ(a.affected[0].score, b.affected[0].score);
        EXPECT_EQ(a.summary, b.summary);
    }

    // A damaged line is reported with its line number; the other lines load.
    std::string damaged = lines;
    size_t second = damaged.find('\n') + 1;
    damaged.insert(second, "{not json}\n");
    auto d = parse_feed_lines(damaged, "feed.jsonl");
    ASSERT_TRUE(is_ok(d));
    EXPECT_EQ(d.value().feed.advisories.size(), r.value().feed.advisories.size());
    ASSERT_EQ(d.value().errors.size(), 1u);
    EXPECT_EQ(d.value().errors[0].describe(), "feed.jsonl:2: malformed JSON");
}

} // namespace
} // namespace bulwark::vuln
