// Severity of an advisory, normalised from what OSV records carry: a CVSS v3.x vector (whose
// base score we compute ourselves), a database_specific severity label, or Debian's urgency.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace bulwark::vuln {

// Ordered: a larger value is more severe. Unknown sorts lowest but must not be read as "safe".
enum class Severity { Unknown, None, Low, Medium, High, Critical };

const char* severity_name(Severity severity); // "unknown", "none", "low", ...
std::optional<Severity> severity_from_name(std::string_view name);

// The CVSS v3.x qualitative scale: 0.0 none, 0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high,
// 9.0-10.0 critical.
Severity severity_from_score(double score);

// A database_specific "severity" label, case-insensitive: CRITICAL, HIGH, MODERATE or MEDIUM,
// LOW, NONE or NEGLIGIBLE. nullopt for anything else.
std::optional<Severity> severity_from_label(std::string_view label);

// A Debian security tracker urgency: "high", "medium", "low", "unimportant" (as low); the
// tracker's trailing '*' marks are ignored. nullopt for "not yet assigned", "end-of-life" and
// anything else.
std::optional<Severity> severity_from_urgency(std::string_view urgency);

inline constexpr size_t k_max_cvss_vector_length = 256;

// The CVSS v3.0/v3.1 base score of a vector such as
// "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" (9.8), by the formula in section 7.1 of the
// CVSS v3.1 specification, with its Roundup (also used for 3.0 vectors: it only removes
// floating-point artefacts). All eight base metrics are required, each once; temporal and
// environmental metrics are validated and do not change the base score. Returns the score
// in tenths (98 for 9.8) so that it is exact.
Result<int> cvss3_base_score_tenths(std::string_view vector);

} // namespace bulwark::vuln
