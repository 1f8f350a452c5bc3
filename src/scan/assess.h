// Completes a worker's report into a scan report (docs/scan-report.md): the vulnerabilities
// of its packages from the advisory feed, and the admission policy's outcome for every
// finding. Runs in bulwarkd, on the worker's JSON (parsed with limits, still the image's
// bytes in its strings, so every field is checked for type before use).
#pragma once

#include <string>

#include "base/json.h"
#include "base/result.h"
#include "policy/admission.h"
#include "vuln/matcher.h"

namespace bulwark::scan {

struct AssessInput {
    const vuln::AdvisoryIndex* advisories = nullptr;  // none: no vulnerability matching
    Json feed_info;                                    // {advisories, updated} for the report
    const policy::AdmissionPolicy* policy = nullptr;
    std::string today;                                 // YYYY-MM-DD
    std::string now;                                   // RFC 3339
    Json image;                                        // {name, version, digest, format, ...}
};

// The finished report; report["policy"]["admitted"] is the decision.
Result<Json> assess(Json worker_report, const AssessInput& input);

// A vulnerability's severity on the policy's scale: an advisory without one counts as
// medium.
inspect::Severity policy_severity(vuln::Severity severity);

}  // namespace bulwark::scan
