#include "vuln/matcher.h"

#include <algorithm>
#include <cstdint>

#include "vuln/text.h"

namespace bulwark::vuln {

// One ECOSYSTEM range, events already in version order (see OsvRange): OSV's evaluation.
static bool range_includes(const OsvRange& range, const DpkgVersion& v, const std::string** fixed)
{
    bool affected = false;
    for (const auto& e : range.events) {
        switch (e.kind) {
        case EventKind::Introduced:
            if (!e.dpkg || compare(v, *e.dpkg) >= 0)
                affected = true;
            break;
        case EventKind::Fixed:
            if (compare(v, *e.dpkg) >= 0)
                affected = false;
            break;
        case EventKind::LastAffected:
            if (compare(v, *e.dpkg) > 0)
                affected = false;
            break;
        case EventKind::Limit:
            // Everything at or above a limit is outside the range.
            if (compare(v, *e.dpkg) >= 0)
                return false;
            break;
        }
    }
    if (affected) {
        // The fixed version to report: the first one above v.
        for (const auto& e : range.events) {
            if (e.kind == EventKind::Fixed && compare(v, *e.dpkg) < 0) {
                *fixed = &e.version;
                break;
            }
        }
    }
    return affected;
}

static bool includes(const OsvAffected& affected, const DpkgVersion& v, const std::string** fixed)
{
    for (const auto& range : affected.ranges) {
        if (range.type == RangeType::Ecosystem && range_includes(range, v, fixed))
            return true;
    }
    return std::any_of(
        affected.versions.begin(), affected.versions.end(), [&](const DpkgVersion& listed) { return compare(listed, v) == 0; });
}

bool affected_includes(const OsvAffected& affected, const DpkgVersion& v, std::optional<std::string>* fixed)
{
    const std::string* found = nullptr;
    if (!includes(affected, v, &found))
        return false;
    if (fixed && found)
        *fixed = *found;
    return true;
}

AdvisoryIndex::AdvisoryIndex(Feed feed)
    : m_feed(std::move(feed))
{
    // Advisories in id order: findings are then ordered by id by comparing indices.
    auto by_id = [](const Advisory& x, const Advisory& y) { return x.id < y.id; };
    if (!std::is_sorted(m_feed.advisories.begin(), m_feed.advisories.end(), by_id))
        std::stable_sort(m_feed.advisories.begin(), m_feed.advisories.end(), by_id);
    for (size_t a = 0; a < m_feed.advisories.size(); ++a) {
        const auto& adv = m_feed.advisories[a];
        if (!adv.withdrawn.empty())
            continue;
        for (const auto& affected : adv.affected) {
            uint32_t release = 0;
            if (!affected.release.empty()) {
                auto it = std::find(m_releases.begin(), m_releases.end(), affected.release);
                if (it == m_releases.end())
                    it = m_releases.insert(m_releases.end(), affected.release);
                release = static_cast<uint32_t>(it - m_releases.begin()) + 1;
            }
            m_by_name[affected.name].push_back(Entry { &affected, static_cast<uint32_t>(a), release });
        }
    }
}

Result<std::vector<Finding>> AdvisoryIndex::match(const OsIdentity& os, const std::vector<InstalledPackage>& packages) const
{
    if (os.id != "debian")
        return Error(ErrorKind::InvalidArgument,
            "the image's OS is " + quote_text(os.id) + ": only Debian images can be checked for advisories");

    // First collect small records of what matched; Findings (a dozen strings each) are built
    // once, in their final order.
    struct Hit {
        Severity severity;
        double score;
        const OsvAffected* affected;
        uint32_t advisory;
        uint32_t package;
        bool by_source;
        const std::string* fixed; // points into the feed; null when unknown
    };
    // The interned id of the image's release; an unknown release (or none) matches only the
    // entries for every release.
    uint32_t os_release = 0;
    if (!os.version_id.empty()) {
        auto it = std::find(m_releases.begin(), m_releases.end(), os.version_id);
        os_release = it == m_releases.end() ? UINT32_MAX : static_cast<uint32_t>(it - m_releases.begin()) + 1;
    }
    std::vector<Hit> hits;
    std::vector<uint32_t> seen; // advisories already reported for the current package
    for (size_t p = 0; p < packages.size(); ++p) {
        const InstalledPackage& pkg = packages[p];
        if (!is_valid_debian_name(pkg.name, 256))
            return Error(ErrorKind::InvalidArgument, "the installed package name " + quote_text(pkg.name) + " is invalid");
        const std::string& source_name = pkg.source_name.empty() ? pkg.name : pkg.source_name;
        auto version = DpkgVersion::parse(pkg.version);
        if (version.is_error())
            return version.release_error().with_context("installed package " + quote_text(pkg.name));
        auto source_version = DpkgVersion::parse(pkg.source_version.empty() ? pkg.version : pkg.source_version);
        if (source_version.is_error())
            return source_version.release_error().with_context("installed package " + quote_text(pkg.name) + ", source version");

        seen.clear();
        // The source name first (Debian's advisories are keyed by it), then the binary name.
        for (int by_source = 1; by_source >= 0; --by_source) {
            if (!by_source && source_name == pkg.name)
                break;
            const DpkgVersion& v = by_source ? source_version.value() : version.value();
            auto it = m_by_name.find(by_source ? source_name : pkg.name);
            if (it == m_by_name.end())
                continue;
            for (const Entry& entry : it->second) {
                if (entry.release != 0 && entry.release != os_release)
                    continue;
                if (std::find(seen.begin(), seen.end(), entry.advisory) != seen.end())
                    continue;
                const std::string* fixed = nullptr;
                if (!includes(*entry.affected, v, &fixed))
                    continue;
                seen.push_back(entry.advisory);
                hits.push_back(Hit { entry.affected->level, entry.affected->score.value_or(-1.0), entry.affected, entry.advisory,
                    static_cast<uint32_t>(p), by_source == 1, fixed });
            }
        }
    }

    // Most severe first, then by score, advisory id (the feed is in id order), package name and
    // architecture.
    std::sort(hits.begin(), hits.end(), [&](const Hit& a, const Hit& b) {
        if (a.severity != b.severity)
            return a.severity > b.severity;
        if (a.score != b.score)
            return a.score > b.score;
        if (a.advisory != b.advisory)
            return a.advisory < b.advisory;
        const InstalledPackage& pa = packages[a.package];
        const InstalledPackage& pb = packages[b.package];
        if (pa.name != pb.name)
            return pa.name < pb.name;
        if (pa.architecture != pb.architecture)
            return pa.architecture < pb.architecture;
        return a.package < b.package;
    });

    std::vector<Finding> findings;
    findings.reserve(hits.size());
    for (const Hit& h : hits) {
        const Advisory& adv = m_feed.advisories[h.advisory];
        const OsvAffected& affected = *h.affected;
        const InstalledPackage& pkg = packages[h.package];
        Finding f;
        f.advisory_id = adv.id;
        f.aliases.reserve(adv.aliases.size() + adv.upstream.size());
        f.aliases.insert(f.aliases.end(), adv.aliases.begin(), adv.aliases.end());
        f.aliases.insert(f.aliases.end(), adv.upstream.begin(), adv.upstream.end());
        f.related = adv.related;
        f.summary = adv.summary;
        f.package = pkg.name;
        f.architecture = pkg.architecture;
        f.version = pkg.version;
        f.source_package = pkg.source_name.empty() ? pkg.name : pkg.source_name;
        f.source_version = pkg.source_version.empty() ? pkg.version : pkg.source_version;
        f.matched_name = affected.name;
        f.matched_version = h.by_source ? f.source_version : f.version;
        if (h.fixed)
            f.fixed_version = *h.fixed;
        f.severity = affected.level;
        f.score = affected.score;
        findings.push_back(std::move(f));
    }
    return findings;
}

} // namespace bulwark::vuln
