// Matches installed Debian packages against a feed of OSV advisories.
//
// An advisory's affected[] entry applies to an image when its ecosystem is "Debian" or
// "Debian:<VERSION_ID>", and to an installed package when its name is the package's SOURCE
// name (osv.dev keys Debian by source package; the source version is compared) or its binary
// name (the binary version is compared). The version is affected when an ECOSYSTEM range
// includes it (OSV's evaluation: events in version order; introduced is inclusive, "0" is
// the beginning; fixed is exclusive; last_affected inclusive; a limit ends the range) or
// versions[] lists it (dpkg-equal). Withdrawn advisories never match.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "vuln/feed.h"
#include "vuln/installed.h"

namespace bulwark::vuln {

struct Finding {
    std::string advisory_id;
    std::vector<std::string> aliases; // the advisory's aliases, then its upstream ids
    std::vector<std::string> related;
    std::string summary;
    std::string package; // the installed binary package
    std::string architecture;
    std::string version; // its installed version
    std::string source_package;
    std::string source_version;
    std::string matched_name; // the advisory's package name: the source or the binary name
    std::string matched_version; // the installed version that was compared
    std::optional<std::string> fixed_version; // the first fixed version above it, if any
    Severity severity = Severity::Unknown;
    std::optional<double> score; // CVSS v3 base score, when known
};

// Whether one affected[] entry includes version v; if so and a fixed version above v is
// known, *fixed is set to it.
bool affected_includes(const OsvAffected& affected, const DpkgVersion& v, std::optional<std::string>* fixed = nullptr);

// The advisories of a feed, indexed by package name for matching.
class AdvisoryIndex {
public:
    explicit AdvisoryIndex(Feed feed);

    const Feed& feed() const { return m_feed; }

    // Findings sorted most severe first (then by score, advisory id, package, architecture);
    // one per advisory and installed package. Fails (InvalidArgument) when the OS is not
    // Debian, or when a package's name or version is invalid: an image that cannot be
    // assessed is not assessed as clean.
    Result<std::vector<Finding>> match(const OsIdentity& os, const std::vector<InstalledPackage>& packages) const;

private:
    // One affected[] entry under its package name. The release is interned (0: every
    // release) so that entries of other releases are skipped without touching the record.
    struct Entry {
        const OsvAffected* affected;
        uint32_t advisory;
        uint32_t release;
    };
    Feed m_feed;
    std::unordered_map<std::string, std::vector<Entry>> m_by_name;
    std::vector<std::string> m_releases; // m_releases[k - 1] is release k
};

} // namespace bulwark::vuln
