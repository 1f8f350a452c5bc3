// OSV advisory records (https://ossf.github.io/osv-schema/), as osv.dev publishes them for
// Debian ("DSA-5523-1", "DEBIAN-CVE-2023-38545", ...). Records are untrusted input: every
// string and array has a limit, every field is type-checked, and nothing throws.
//
// Fields read (everything else is ignored):
//   id (required), modified, published, withdrawn, aliases[], upstream[], related[],
//   summary, details (both truncated, control characters removed), severity[] {type, score},
//   database_specific {severity, urgency},
//   affected[] {package {ecosystem, name, purl}, ranges[] {type, events[]}, versions[],
//               severity[], ecosystem_specific {urgency, severity},
//               database_specific {urgency, severity}}.
//
// Only affected[] entries whose ecosystem is "Debian" (any release) or "Debian:<release>"
// ("Debian:12") are kept; a record without any is "ignored", not an error. For those
// entries, ECOSYSTEM range events and versions[] must be valid dpkg versions (introduced
// "0" means "from the beginning"); SEMVER and GIT ranges are kept but never evaluated.
//
// A record that breaks these rules is rejected with an error naming what is wrong. Problems
// that do not change what the record matches (an unparseable CVSS vector, an overlong date)
// are warnings: the field is dropped and the record kept.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "vuln/dpkg_version.h"
#include "vuln/severity.h"

namespace bulwark::vuln {

struct OsvLimits {
    size_t max_id_length = 128; // id, aliases, upstream, related
    size_t max_ids = 512; // aliases + upstream + related, each
    size_t max_name_length = 256; // package name, ecosystem, purl
    size_t max_summary_bytes = 512; // longer summaries are truncated
    size_t max_details_bytes = 4096; // longer details are truncated
    size_t max_affected = 1024; // affected[] entries per record
    size_t max_ranges = 64; // ranges per affected entry
    size_t max_events = 256; // events per range
    size_t max_versions = 20000; // versions[] per affected entry
    size_t max_severity = 16; // severity[] entries
    size_t max_label_length = 64; // urgency, severity labels, dates, range types
};

enum class RangeType { Ecosystem, Semver, Git };
const char* range_type_name(RangeType type);

enum class EventKind { Introduced, Fixed, LastAffected, Limit };
const char* event_kind_name(EventKind kind); // the OSV key: "introduced", "fixed", ...

struct OsvEvent {
    EventKind kind = EventKind::Introduced;
    std::string version;
    // Set for ECOSYSTEM ranges, except for introduced "0" (which sorts before everything).
    std::optional<DpkgVersion> dpkg;
};

struct OsvRange {
    RangeType type = RangeType::Ecosystem;
    // ECOSYSTEM ranges: sorted by dpkg version, introduced "0" first, in the order the
    // evaluation needs. Other ranges: as in the record.
    std::vector<OsvEvent> events;
};

struct OsvSeverity {
    std::string type; // "CVSS_V3", "CVSS_V4", ...
    std::string score; // the vector string
};

struct OsvAffected {
    std::string ecosystem; // "Debian" or "Debian:12"
    std::string release; // "" for "Debian" (every release), else what follows "Debian:"
    std::string name; // the Debian package; osv.dev uses the SOURCE package name
    std::string purl;
    std::vector<OsvRange> ranges;
    std::vector<DpkgVersion> versions;
    std::vector<OsvSeverity> severity;
    std::string urgency; // ecosystem_specific (or database_specific) "urgency"
    std::string database_severity; // database_specific (or ecosystem_specific) "severity"

    // Normalised when the record is parsed (see normalise order in docs/vulnerabilities.md).
    Severity level = Severity::Unknown;
    std::optional<double> score; // the CVSS v3 base score, when a vector was given
};

struct Advisory {
    std::string id;
    std::string modified;
    std::string published;
    std::string withdrawn; // non-empty: withdrawn, never matched
    std::vector<std::string> aliases;
    std::vector<std::string> upstream;
    std::vector<std::string> related;
    std::string summary;
    std::string details;
    std::vector<OsvSeverity> severity;
    std::string database_severity;
    std::string urgency;
    std::vector<OsvAffected> affected; // Debian entries only, never empty
};

struct ParsedRecord {
    std::optional<Advisory> advisory; // nullopt: the record names no Debian package
    std::vector<std::string> warnings;
};

// Parses one OSV record (a JSON object). Errors are Corrupt and read as sentences.
Result<ParsedRecord> parse_osv_record(const Json& record, const OsvLimits& limits = {});

// Parses one record from text (parse_json with max_bytes and a depth limit of 32).
Result<ParsedRecord> parse_osv_text(const std::string& text, size_t max_bytes = 1 << 20, const OsvLimits& limits = {});

// The record as OSV JSON holding only the fields above; parse_osv_record reads it back to an
// equal Advisory.
Json osv_to_json(const Advisory& advisory);

} // namespace bulwark::vuln
