#include "scan/vetting.h"

#include "base/time.h"
#include "scan/assess.h"

namespace bulwark::scan {

Result<policy::AdmissionPolicy> Vetting::policy_of(const VetRequest& request)
{
    if (request.policy_text.empty())
        return policy::default_policy();
    return policy::parse_policy(request.policy_text, request.policy_name.empty() ? "the given policy" : request.policy_name);
}

Result<Json> Vetting::vet(const VetRequest& request)
{
    auto policy = TRY(policy_of(request));
    InspectorInput input;
    input.image_fd = request.image_fd;
    input.yara = request.yara;
    input.backing = request.backing;
    input.content = request.content;
    input.progress = request.progress;
    Json worker = TRY(run_inspector(m_config, input));
    auto index = TRY(m_feed.index());
    AssessInput a;
    a.advisories = index.get();
    a.feed_info = TRY(m_feed.status());
    a.policy = &policy;
    std::string now = now_rfc3339();
    a.now = now;
    a.today = now.substr(0, 10);
    a.image = request.image;
    return assess(std::move(worker), a);
}

std::string refusal_summary(const Json& report, size_t max)
{
    std::string out;
    size_t shown = 0, total = 0;
    for (const char* list : {"findings", "vulnerabilities"}) {
        if (!report.contains(list) || !report[list].is_array())
            continue;
        for (const auto& f : report[list]) {
            if (json_string_or(f, "outcome", "") != "refuse")
                continue;
            ++total;
            if (shown++ < max) {
                std::string path = json_string_or(f, "path", "");
                out += "\n  " + json_string_or(f, "severity", "?") + "  " + json_string_or(f, "id", "?")
                    + (path.empty() ? "" : "  (" + path + ")");
            }
        }
    }
    if (total > max)
        out += "\n  ... and " + std::to_string(total - max) + " more";
    return out;
}

}  // namespace bulwark::scan
