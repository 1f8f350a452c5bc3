// Renderings of a scan report (docs/scan-report.md, "bulwark.scan.v1"): SARIF 2.1.0 for code
// scanning dashboards, a CycloneDX 1.5 SBOM with the vulnerabilities found, and a table for a
// terminal. docs/reports.md gives the field-by-field mappings and why they were chosen.
//
// All three are pure functions of the report. None throws or fails: a field that is missing
// or has the wrong type renders as absent, so a damaged report still renders as far as it can.
// Every string from the report is treated as attacker-influenced (it describes the content of
// an image): control characters and non-ASCII bytes are escaped as \xNN again here, whatever
// the producer did. Each rendering is linear in the size of the report.
#pragma once

#include <cstddef>
#include <string>

#include "base/json.h"

namespace bulwark::report {

struct SarifOptions {
    // tool.driver.informationUri; omitted when empty (Bulwark has no public home page yet, and
    // a made-up one would be worse than none).
    std::string information_uri;
};

// SARIF 2.1.0: one run; one rule per finding kind and one per advisory; one result per
// finding and per vulnerable package.
Json to_sarif(const Json& report, const SarifOptions& options = {});

// CycloneDX 1.5 JSON: the image (metadata.component), its operating system and its Debian
// packages (components), and the vulnerabilities found (vulnerabilities). The serial number is
// derived from the image digest and the scan time, so one report always gives the same BOM.
Json to_cyclonedx(const Json& report);

inline constexpr size_t k_table_width = 120;

// The report for a person at a terminal: a header, the admission decision, then the findings
// and the vulnerabilities, refused first and most severe first, each line at most
// k_table_width columns. ANSI colours only when color is true.
std::string to_table(const Json& report, bool color);

} // namespace bulwark::report
