#include "vuln/severity.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "vuln/text.h"

namespace bulwark::vuln {

const char* severity_name(Severity severity)
{
    switch (severity) {
    case Severity::None:
        return "none";
    case Severity::Low:
        return "low";
    case Severity::Medium:
        return "medium";
    case Severity::High:
        return "high";
    case Severity::Critical:
        return "critical";
    case Severity::Unknown:
        break;
    }
    return "unknown";
}

std::optional<Severity> severity_from_name(std::string_view name)
{
    for (Severity s :
        { Severity::Unknown, Severity::None, Severity::Low, Severity::Medium, Severity::High, Severity::Critical }) {
        if (name == severity_name(s))
            return s;
    }
    return std::nullopt;
}

Severity severity_from_score(double score)
{
    if (score >= 9.0)
        return Severity::Critical;
    if (score >= 7.0)
        return Severity::High;
    if (score >= 4.0)
        return Severity::Medium;
    if (score > 0.0)
        return Severity::Low;
    return Severity::None;
}

static std::string lower_ascii(std::string_view s)
{
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

std::optional<Severity> severity_from_label(std::string_view label)
{
    std::string l = lower_ascii(label);
    if (l == "critical")
        return Severity::Critical;
    if (l == "high" || l == "important")
        return Severity::High;
    if (l == "moderate" || l == "medium")
        return Severity::Medium;
    if (l == "low")
        return Severity::Low;
    if (l == "none" || l == "negligible")
        return Severity::None;
    return std::nullopt;
}

std::optional<Severity> severity_from_urgency(std::string_view urgency)
{
    while (!urgency.empty() && urgency.back() == '*')
        urgency.remove_suffix(1);
    std::string u = lower_ascii(urgency);
    if (u == "high")
        return Severity::High;
    if (u == "medium")
        return Severity::Medium;
    if (u == "low" || u == "unimportant")
        return Severity::Low;
    return std::nullopt;
}

namespace {

struct Metric {
    const char* name;
    const char* values; // the allowed single-letter values
};

// Base metrics first (their order is the index into Cvss3Base::value), then temporal and
// environmental ones, which are validated but do not change the base score.
constexpr std::array<Metric, 22> k_metrics { {
    { "AV", "NALP" },
    { "AC", "LH" },
    { "PR", "NLH" },
    { "UI", "NR" },
    { "S", "UC" },
    { "C", "HLN" },
    { "I", "HLN" },
    { "A", "HLN" },
    { "E", "XUPFH" },
    { "RL", "XOTWU" },
    { "RC", "XURC" },
    { "CR", "XLMH" },
    { "IR", "XLMH" },
    { "AR", "XLMH" },
    { "MAV", "XNALP" },
    { "MAC", "XLH" },
    { "MPR", "XNLH" },
    { "MUI", "XNR" },
    { "MS", "XUC" },
    { "MC", "XNLH" },
    { "MI", "XNLH" },
    { "MA", "XNLH" },
} };
constexpr size_t k_base_metrics = 8;

double cia_weight(char v)
{
    return v == 'H' ? 0.56 : v == 'L' ? 0.22 : 0.0;
}

// CVSS v3.1 Roundup, in tenths: the smallest number of tenths >= x, computed on an integer
// so that 4.000000000001 (floating-point noise) does not become 4.1.
int roundup_tenths(double x)
{
    auto scaled = static_cast<long long>(std::llround(x * 100000.0));
    if (scaled % 10000 == 0)
        return static_cast<int>(scaled / 10000);
    return static_cast<int>(scaled / 10000 + 1);
}

} // namespace

Result<int> cvss3_base_score_tenths(std::string_view vector)
{
    auto bad = [&](const std::string& why) {
        return Error(ErrorKind::InvalidArgument, "CVSS vector " + quote_text(vector) + " " + why);
    };
    if (vector.size() > k_max_cvss_vector_length)
        return bad("is longer than " + std::to_string(k_max_cvss_vector_length) + " bytes");
    std::string_view rest;
    if (vector.substr(0, 9) == "CVSS:3.0/" || vector.substr(0, 9) == "CVSS:3.1/")
        rest = vector.substr(9);
    else
        return bad("does not start with CVSS:3.0/ or CVSS:3.1/");

    std::array<char, k_metrics.size()> seen {};
    while (!rest.empty()) {
        size_t slash = rest.find('/');
        std::string_view part = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
        if (slash != std::string_view::npos && rest.empty())
            return bad("ends with '/'");
        size_t colon = part.find(':');
        if (colon == std::string_view::npos)
            return bad("has a part " + quote_text(part) + " that is not METRIC:VALUE");
        std::string_view name = part.substr(0, colon);
        std::string_view value = part.substr(colon + 1);
        size_t index = k_metrics.size();
        for (size_t k = 0; k < k_metrics.size(); ++k) {
            if (name == k_metrics[k].name)
                index = k;
        }
        if (index == k_metrics.size())
            return bad("has an unknown metric " + quote_text(name));
        if (seen[index])
            return bad("gives the metric " + std::string(k_metrics[index].name) + " twice");
        if (value.size() != 1 || std::string_view(k_metrics[index].values).find(value[0]) == std::string_view::npos)
            return bad("gives the metric " + std::string(k_metrics[index].name) + " the invalid value " + quote_text(value));
        seen[index] = value[0];
    }
    for (size_t k = 0; k < k_base_metrics; ++k) {
        if (!seen[k])
            return bad("lacks the base metric " + std::string(k_metrics[k].name));
    }

    char av = seen[0], ac = seen[1], pr = seen[2], ui = seen[3];
    bool changed = seen[4] == 'C';
    double w_av = av == 'N' ? 0.85 : av == 'A' ? 0.62 : av == 'L' ? 0.55 : 0.2;
    double w_ac = ac == 'L' ? 0.77 : 0.44;
    double w_pr = pr == 'N' ? 0.85 : pr == 'L' ? (changed ? 0.68 : 0.62) : (changed ? 0.5 : 0.27);
    double w_ui = ui == 'N' ? 0.85 : 0.62;

    double iss = 1.0 - ((1.0 - cia_weight(seen[5])) * (1.0 - cia_weight(seen[6])) * (1.0 - cia_weight(seen[7])));
    double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * std::pow(iss - 0.02, 15) : 6.42 * iss;
    double exploitability = 8.22 * w_av * w_ac * w_pr * w_ui;
    if (impact <= 0.0)
        return 0;
    double raw = changed ? std::min(1.08 * (impact + exploitability), 10.0) : std::min(impact + exploitability, 10.0);
    return roundup_tenths(raw);
}

} // namespace bulwark::vuln
