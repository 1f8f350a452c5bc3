#include "report/reading.h"

#include "base/printable.h"

namespace bulwark::report {

const Json& field(const Json& obj, const char* key)
{
    static const Json null_value;
    if (!obj.is_object())
        return null_value;
    auto it = obj.find(key);
    return it == obj.end() ? null_value : *it;
}

const Json& list(const Json& obj, const char* key)
{
    static const Json empty_array = Json::array();
    const Json& value = field(obj, key);
    return value.is_array() ? value : empty_array;
}

std::string text(const Json& obj, const char* key)
{
    const Json& value = field(obj, key);
    return value.is_string() ? value.get<std::string>() : std::string();
}

std::optional<double> number(const Json& obj, const char* key)
{
    const Json& value = field(obj, key);
    if (!value.is_number())
        return std::nullopt;
    return value.get<double>();
}

std::optional<int64_t> integer(const Json& obj, const char* key)
{
    const Json& value = field(obj, key);
    if (value.is_number_integer() && !value.is_number_unsigned())
        return value.get<int64_t>();
    if (value.is_number_unsigned() && value.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX))
        return static_cast<int64_t>(value.get<uint64_t>());
    return std::nullopt;
}

std::string safe_text(std::string_view s, size_t max_bytes)
{
    // Kept backslashes make it idempotent on the producer's escapes (display_text's).
    return printable_text(s, max_bytes, Backslash::Keep);
}

int severity_rank(std::string_view severity)
{
    if (severity == "critical")
        return 4;
    if (severity == "high")
        return 3;
    if (severity == "medium")
        return 2;
    if (severity == "low")
        return 1;
    if (severity == "info")
        return 0;
    return -1;
}

int outcome_rank(std::string_view outcome)
{
    if (outcome == "refuse")
        return 0;
    if (outcome == "warn")
        return 1;
    if (outcome == "info")
        return 2;
    if (outcome == "excepted")
        return 3;
    if (outcome == "ignored")
        return 4;
    return 5;
}

Decision decide(const Json& report)
{
    Decision d;
    for (const char* key : { "findings", "vulnerabilities" }) {
        for (const Json& item : list(report, key)) {
            switch (outcome_rank(text(item, "outcome"))) {
            case 0:
                ++d.refused;
                break;
            case 1:
                ++d.warned;
                break;
            case 2:
                ++d.info;
                break;
            case 3:
                ++d.excepted;
                break;
            case 4:
                ++d.ignored;
                break;
            default:
                break;
            }
        }
    }
    const Json& admitted = field(field(report, "policy"), "admitted");
    d.recorded = admitted.is_boolean();
    d.admitted = d.recorded && admitted.get<bool>() && d.refused == 0;
    return d;
}

std::string percent_encode(std::string_view s, std::string_view keep)
{
    static const char* digits = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
            || c == '_' || c == '~';
        if (unreserved || (c != 0 && keep.find(ch) != std::string_view::npos)) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(digits[c >> 4]);
            out.push_back(digits[c & 15]);
        }
    }
    return out;
}

bool is_cve_id(std::string_view id)
{
    // CVE-YYYY-NNNN with at least four digits in the sequence number.
    if (id.size() < 13 || id.substr(0, 4) != "CVE-" || id[8] != '-')
        return false;
    for (size_t i = 4; i < id.size(); ++i) {
        if (i == 8)
            continue;
        if (id[i] < '0' || id[i] > '9')
            return false;
    }
    return id.size() <= 32;
}

bool is_utc_timestamp(std::string_view s)
{
    // 2026-11-25T12:00:00Z or 2026-11-25T12:00:00.123Z
    static constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd";
    if (s.size() < shape.size() + 1 || s.size() > 40 || s.back() != 'Z')
        return false;
    for (size_t i = 0; i < shape.size(); ++i) {
        bool ok = shape[i] == 'd' ? (s[i] >= '0' && s[i] <= '9') : s[i] == shape[i];
        if (!ok)
            return false;
    }
    std::string_view rest = s.substr(shape.size(), s.size() - shape.size() - 1);
    if (!rest.empty()) {
        if (rest.size() < 2 || rest[0] != '.')
            return false;
        for (char c : rest.substr(1)) {
            if (c < '0' || c > '9')
                return false;
        }
    }
    auto two = [&](size_t at) { return (s[at] - '0') * 10 + (s[at + 1] - '0'); };
    int month = two(5), day = two(8), hour = two(11), minute = two(14), second = two(17);
    return month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 60;
}

bool is_debian_advisory(std::string_view advisory)
{
    return advisory.starts_with("DSA-") || advisory.starts_with("DLA-") || advisory.starts_with("DTSA-")
        || advisory.starts_with("DEBIAN-") || is_cve_id(advisory);
}

std::string advisory_url(std::string_view advisory, const Json& aliases)
{
    static const std::string tracker = "https://security-tracker.debian.org/tracker/";
    if (advisory.starts_with("DEBIAN-") && is_cve_id(advisory.substr(7)))
        return tracker + std::string(advisory.substr(7));
    if (is_debian_advisory(advisory) && !advisory.starts_with("DEBIAN-"))
        return tracker + percent_encode(advisory);
    if (aliases.is_array()) {
        for (const Json& alias : aliases) {
            if (alias.is_string() && is_cve_id(alias.get<std::string>()))
                return tracker + alias.get<std::string>();
        }
    }
    return "https://osv.dev/vulnerability/" + percent_encode(advisory);
}

} // namespace bulwark::report
