#include "inspect/finding.h"

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
    static const char* digits = "0123456789abcdef";
    auto plain = [](unsigned char c) { return c >= 0x20 && c < 0x7f && c != '\\'; };
    size_t full = 0;
    for (unsigned char c : bytes)
        full += plain(c) ? 1 : 4;
    // When everything does not fit, leave room for "..." and never cut an escape in half.
    size_t budget = full <= max_bytes ? full : (max_bytes >= 3 ? max_bytes - 3 : 0);
    std::string out;
    out.reserve(budget + 3);
    for (unsigned char c : bytes) {
        size_t need = plain(c) ? 1 : 4;
        if (out.size() + need > budget)
            break;
        if (need == 1) {
            out.push_back(static_cast<char>(c));
        } else {
            char escaped[4] = { '\\', 'x', digits[c >> 4], digits[c & 15] };
            out.append(escaped, 4);
        }
    }
    if (full > max_bytes && max_bytes >= 3)
        out += "...";
    return out;
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
