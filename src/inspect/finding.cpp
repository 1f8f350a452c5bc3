#include "inspect/finding.h"

#include "base/printable.h"

namespace bulwark::inspect {

const char* severity_name(Severity severity)
{
    switch (severity) {
    case Severity::Info:
        return "info";
    case Severity::Low:
        return "low";
    case Severity::Medium:
        return "medium";
    case Severity::High:
        return "high";
    case Severity::Critical:
        return "critical";
    }
    return "info";
}

std::optional<Severity> severity_from_name(std::string_view name)
{
    for (Severity s : { Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical }) {
        if (name == severity_name(s))
            return s;
    }
    return std::nullopt;
}

std::string display_text(std::string_view bytes, size_t max_bytes)
{
    return printable_text(bytes, max_bytes);
}

Finding make_finding(std::string_view kind, std::string_view subject, Severity severity, std::string path, std::string message)
{
    Finding f;
    f.kind = std::string(kind);
    f.id = f.kind;
    if (!subject.empty())
        f.id += ":" + display_text(subject, k_max_subject);
    f.severity = severity;
    f.path = std::move(path);
    f.message = std::move(message);
    return f;
}

} // namespace bulwark::inspect
