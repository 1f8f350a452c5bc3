#include "cli/output.h"

#include <algorithm>
#include <cstdio>

namespace bulwark::cli {

std::string Table::render() const
{
    std::vector<size_t> widths(m_headers.size());
    for (size_t i = 0; i < m_headers.size(); ++i)
        widths[i] = m_headers[i].size();
    for (const auto& row : m_rows) {
        for (size_t i = 0; i < row.size() && i < widths.size(); ++i)
            widths[i] = std::max(widths[i], row[i].size());
    }
    auto line = [&](const std::vector<std::string>& cells) {
        std::string out;
        for (size_t i = 0; i < widths.size(); ++i) {
            std::string cell = i < cells.size() ? cells[i] : "";
            out += cell;
            if (i + 1 < widths.size())
                out += std::string(widths[i] - cell.size() + 2, ' ');
        }
        while (!out.empty() && out.back() == ' ')
            out.pop_back();
        return out + "\n";
    };
    std::string out = line(m_headers);
    for (const auto& row : m_rows)
        out += line(row);
    return out;
}

std::string human_size(int64_t bytes)
{
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

int64_t parse_memory_mib(const std::string& text)
{
    if (text.empty())
        return -1;
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
        ++digits;
    if (digits == 0 || digits > 9)
        return -1;
    int64_t n = std::stoll(text.substr(0, digits));
    std::string suffix = text.substr(digits);
    if (suffix.empty() || suffix == "M" || suffix == "MiB" || suffix == "m")
        return n;
    if (suffix == "G" || suffix == "GiB" || suffix == "g")
        return n * 1024;
    return -1;
}

}  // namespace bulwark::cli
