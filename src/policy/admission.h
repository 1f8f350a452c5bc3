// The admission policy: what a finding of the image inspection means for the image. Each
// finding (an inspection finding, or a vulnerability) gets one outcome: refuse, warn, info,
// excepted (an unexpired exception names its id) or ignored. An image with any `refuse`
// outcome is not admitted.
//
// Policies are TOML (docs/admission.md); the default one is compiled in
// (policy/default.toml in the source tree).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "inspect/finding.h"

namespace bulwark::policy {

using inspect::Severity;

enum class Outcome { Refuse, Warn, Info, Excepted, Ignored };
const char* outcome_name(Outcome outcome);

struct Exception {
    std::string id;       // a finding id, exactly
    std::string expires;  // YYYY-MM-DD: the exception holds up to and including this day
    std::string reason;
};

struct AdmissionPolicy {
    std::string source;  // "built-in default" or the file it came from
    // Vulnerabilities (kind "vuln"): refuse at or above refuse_at, warn at or above warn_at.
    Severity vuln_refuse_at = Severity::Critical;
    Severity vuln_warn_at = Severity::Low;
    // Other findings: these kinds always refuse ("secret.*" matches every secret kind);
    // otherwise the severity decides.
    std::vector<std::string> refuse_kinds;
    std::vector<std::string> ignore_kinds;
    Severity refuse_at = Severity::Critical;
    Severity warn_at = Severity::Medium;
    // refuse_at = "never" in either table: severity alone never refuses (an audit-only
    // policy); refused kinds still do.
    bool vuln_refuse_never = false;
    bool refuse_never = false;
    std::vector<Exception> exceptions;
};

// What the policy is asked about: one finding.
struct Subject {
    std::string id;
    std::string kind;  // "vuln" for vulnerabilities
    Severity severity = Severity::Info;
};

struct Verdict {
    Outcome outcome = Outcome::Info;
    std::string rule;  // why: "refuse kind secret.*", "exception until 2027-01-31: <reason>", ...
};

inline constexpr size_t k_max_policy_bytes = 1 << 20;

// Parses and checks a policy (unknown keys, bad severities and bad dates are errors, with the
// line where TOML can tell it). A policy file changes only the keys it sets: the others keep
// the built-in default's values (so a file of exceptions alone still refuses what the default
// refuses); its exceptions are its own.
Result<AdmissionPolicy> parse_policy(std::string_view toml, const std::string& source);
const AdmissionPolicy& default_policy();
std::string_view default_policy_text();

// today: YYYY-MM-DD (UTC). An exception whose date has passed no longer applies.
Verdict decide(const AdmissionPolicy& policy, const Subject& subject, std::string_view today);

// Does kind match the pattern ("secret.*" matches "secret" and "secret.<anything>")?
bool kind_matches(std::string_view pattern, std::string_view kind);

}  // namespace bulwark::policy
