// Fuzzes OSV record parsing and what follows it: the parsed record must serialise and parse
// back to the same JSON, a feed of it must survive the JSON lines round trip, and matching
// packages at the versions the record names must agree with evaluating its entries directly.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "vuln/feed.h"
#include "vuln/matcher.h"

using namespace bulwark;
using namespace bulwark::vuln;

static void check(bool condition)
{
    if (!condition)
        std::abort();
}

static void exercise_matcher(const Advisory& adv)
{
    std::vector<InstalledPackage> packages;
    std::vector<std::string> probe_versions = { "0~", "0", "1.0", "1:0", "99:99" };
    for (const auto& a : adv.affected) {
        for (const auto& r : a.ranges) {
            for (const auto& e : r.events) {
                if (e.dpkg) {
                    probe_versions.push_back(e.version);
                    probe_versions.push_back(e.version + "~");
                    probe_versions.push_back(e.version + "+1");
                }
            }
        }
        for (const auto& v : a.versions)
            probe_versions.push_back(v.str());
    }
    if (probe_versions.size() > 64)
        probe_versions.resize(64);
    for (const auto& a : adv.affected) {
        for (const auto& v : probe_versions) {
            if (DpkgVersion::parse(v).is_ok())
                packages.push_back({ a.name, v, "amd64", a.name, v });
        }
        if (packages.size() > 256)
            break;
    }
    Feed feed;
    feed.advisories.push_back(adv);
    AdvisoryIndex index(std::move(feed));
    for (const char* release : { "12", "11", "" }) {
        auto r = index.match({ "debian", release }, packages);
        check(r.is_ok());
        // A finding exists exactly when some applicable entry includes the version.
        size_t expected = 0;
        if (adv.withdrawn.empty()) {
            for (const auto& p : packages) {
                auto v = DpkgVersion::parse(p.version).release_value();
                bool hit = false;
                for (const auto& a : adv.affected) {
                    if (a.name == p.name && (a.release.empty() || a.release == release) && affected_includes(a, v))
                        hit = true;
                }
                expected += hit;
            }
        }
        check(r.value().size() == expected);
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string text(reinterpret_cast<const char*>(data), size);

    auto parsed = parse_osv_text(text);
    if (parsed.is_error()) {
        check(parsed.error().kind() == ErrorKind::Corrupt);
    } else if (parsed.value().advisory) {
        const Advisory& adv = *parsed.value().advisory;
        check(!adv.affected.empty());
        Json once = osv_to_json(adv);
        auto again = parse_osv_record(once);
        check(again.is_ok() && again.value().advisory.has_value());
        // Dropped fields are not written back, so the second parse warns no more than the first.
        check(again.value().warnings.size() <= parsed.value().warnings.size());
        check(json_dump(osv_to_json(*again.value().advisory)) == json_dump(once));
        for (size_t i = 0; i < adv.affected.size(); ++i) {
            check(again.value().advisory->affected[i].level == adv.affected[i].level);
            check(again.value().advisory->affected[i].score == adv.affected[i].score);
        }
        exercise_matcher(adv);
    }

    // Tight limits: refusals, never crashes.
    OsvLimits tight;
    tight.max_affected = 2;
    tight.max_ranges = 2;
    tight.max_events = 3;
    tight.max_versions = 2;
    tight.max_ids = 1;
    tight.max_details_bytes = 8;
    (void)parse_osv_text(text, 4096, tight);

    // The same bytes as a feed document (a record or an array), then the JSON lines form.
    FeedLimits limits;
    limits.max_problems = 16;
    auto load = load_feed_text(text, "fuzz", limits);
    if (load.is_ok()) {
        std::string lines = serialize_feed(load.value().feed);
        auto back = parse_feed_lines(lines, "lines", limits);
        check(back.is_ok());
        check(back.value().errors.empty());
        check(back.value().feed.advisories.size() == load.value().feed.advisories.size());
        check(serialize_feed(back.value().feed) == lines);
    }

    // The bytes as a CVSS vector.
    if (size <= k_max_cvss_vector_length) {
        auto score = cvss3_base_score_tenths(text);
        check(score.is_error() || (score.value() >= 0 && score.value() <= 100));
    }
    return 0;
}
