// Vetting: what `bulwark image scan` and every `bulwark image import` run. The inspector
// worker reads the image in its jail; bulwarkd matches the packages against its advisory feed
// and applies the admission policy. The result is a scan report (docs/scan-report.md).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "policy/admission.h"
#include "scan/inspector.h"
#include "vuln/feed_store.h"

namespace bulwark::scan {

struct VetRequest {
    int image_fd = -1;
    Json image;                                     // {name, version, digest, format, ...}
    std::vector<std::pair<std::string, int>> yara;  // rule file name -> fd
    std::vector<std::pair<std::string, int>> backing;  // qcow2 backing file name (as the image gives it) -> fd
    std::string policy_text;                        // TOML; empty: the built-in default
    std::string policy_name;                        // for the report ("ops.toml")
    bool content = true;                            // false: inventory, configuration and vulnerabilities only
    std::function<void(const ScanProgress&)> progress;  // how far the worker has got (optional)
};

class Vetting {
public:
    Vetting(InspectorConfig config, vuln::FeedStore& feed) : m_config(std::move(config)), m_feed(feed) {}

    // The finished report. Errors: a policy that does not parse (invalid_argument), an image
    // the inspector cannot read at all, or an inspector that failed.
    Result<Json> vet(const VetRequest& request);

    // The parsed policy of a request (checked before the image is read).
    static Result<policy::AdmissionPolicy> policy_of(const VetRequest& request);

private:
    InspectorConfig m_config;
    vuln::FeedStore& m_feed;
};

// The refused findings of a report, as lines for an error message (at most max).
std::string refusal_summary(const Json& report, size_t max = 20);

}  // namespace bulwark::scan
