// Reading a scan report (docs/scan-report.md) defensively, for the renderings in this folder.
//
// A report reaches a rendering from bulwarkd, from a stored record or from a file a user
// hands over, so none of its fields is trusted to exist or to have the documented type: every
// access here checks, and a missing or mistyped field reads as empty. Strings that came from
// the image are printable ASCII when the producer did its job; safe_text() enforces that
// again before anything is printed or embedded. Internal to src/report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/json.h"

namespace bulwark::report {

// obj[key] when obj is an object holding key, else a null value.
const Json& field(const Json& obj, const char* key);
// obj[key] when it is an array, else an empty array.
const Json& list(const Json& obj, const char* key);
// obj[key] when it is a string, else "".
std::string text(const Json& obj, const char* key);
// obj[key] when it is a number (integer or floating point).
std::optional<double> number(const Json& obj, const char* key);
// obj[key] when it is an integer that fits int64_t.
std::optional<int64_t> integer(const Json& obj, const char* key);

// printable_text() (base/printable.h) keeping backslashes: printable ASCII (0x20-0x7e) is
// kept; every other byte (C0 controls, DEL, and all of 0x80-0xff, which may hold C1 controls
// such as CSI in UTF-8) becomes the four characters \xNN. Idempotent on what the producer
// emits (it already escapes that way, backslashes included), so a valid report passes
// unchanged. At most max_bytes are kept; a cut text ends with "...".
std::string safe_text(std::string_view s, size_t max_bytes = 4096);

// Severity and outcome as ranks: a larger severity is more severe (critical 4 ... info 0;
// anything else -1), a smaller outcome comes first (refuse 0, warn 1, info 2, excepted 3,
// ignored 4; anything else 5).
int severity_rank(std::string_view severity);
int outcome_rank(std::string_view outcome);
inline constexpr int k_outcome_ranks = 6;
inline constexpr int k_severity_ranks = 6; // -1..4 shifted by one

// The admission decision as every rendering states it: admitted only when the policy says so
// and no finding or vulnerability has the outcome "refuse" (a report that claims both is
// inconsistent, and the safe reading is "refused").
struct Decision {
    bool admitted = false;
    bool recorded = false; // policy.admitted is present (a boolean)
    size_t refused = 0; // findings and vulnerabilities with the outcome "refuse"
    size_t warned = 0;
    size_t info = 0;
    size_t excepted = 0;
    size_t ignored = 0;
};
Decision decide(const Json& report);

// RFC 3986 percent-encoding of every byte outside the unreserved set [A-Za-z0-9-._~], except
// the bytes listed in keep.
std::string percent_encode(std::string_view s, std::string_view keep = "");

// CVE-YYYY-NNNN... (the form MITRE assigns).
bool is_cve_id(std::string_view id);

// YYYY-MM-DDTHH:MM:SS, optional fraction, then Z: the form scanned_at has, and a valid
// RFC 3339 date-time that SARIF and CycloneDX accept.
bool is_utc_timestamp(std::string_view s);

// The page of an advisory: Debian's security tracker for the ids it knows (DSA, DLA, DTSA,
// CVE, and OSV's DEBIAN-CVE-...), else the tracker page of the first CVE alias, else osv.dev.
std::string advisory_url(std::string_view advisory, const Json& aliases);
// Whether the advisory id is one Debian issues or tracks (DSA, DLA, DTSA, CVE, DEBIAN-).
bool is_debian_advisory(std::string_view advisory);

} // namespace bulwark::report
