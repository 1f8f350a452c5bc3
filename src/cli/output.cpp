#include "cli/output.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "base/printable.h"

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

std::string progress_line(const std::string& label, uint64_t files, uint64_t files_total, uint64_t bytes, size_t width)
{
    using ull = unsigned long long;
    char counts[96];
    std::string out = label;
    if (files_total > 0) {
        // The bar comes first and keeps its width, so it does not jump about as the counts
        // grow; the counts get 36 columns after it (" 100%  100000/100000 files  2845 MB").
        size_t room = width > out.size() + 36 ? width - out.size() - 36 : 0;
        if (room >= 14) {
            size_t cells = std::min<size_t>(30, room - 4);
            size_t done = static_cast<size_t>(std::min(files, files_total) * cells / files_total);
            out += "  [" + std::string(done, '#') + std::string(cells - done, '-') + "]";
        }
        std::snprintf(counts, sizeof counts, " %3llu%%  %llu/%llu files  %llu MB", static_cast<ull>(std::min<uint64_t>(100, files * 100 / files_total)),
            static_cast<ull>(files), static_cast<ull>(files_total), static_cast<ull>(bytes / 1000000));
    } else {
        std::snprintf(counts, sizeof counts, "  %llu files  %llu MB", static_cast<ull>(files), static_cast<ull>(bytes / 1000000));
    }
    out += counts;
    if (out.size() > width)
        out.resize(width);
    return out;
}

namespace {

// The columns a line may use: one short of the edge, because a line that fills it wraps on
// some terminals, and a carriage return then no longer reaches its start.
size_t usable_width(int fd)
{
    struct winsize ws {};
    size_t columns = ::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col : 80;
    return columns - 1;
}

}  // namespace

ProgressBar::ProgressBar(int fd, std::string label)
    : m_fd(fd)
    , m_label(printable_text(label, 200))
{
    draw((m_label + " ...").substr(0, usable_width(m_fd)));
}

void ProgressBar::update(uint64_t files, uint64_t files_total, uint64_t bytes)
{
    draw(progress_line(m_label, files, files_total, bytes, usable_width(m_fd)));
}

void ProgressBar::clear()
{
    if (!m_shown)
        return;
    draw("");
    m_shown = false;
}

void ProgressBar::draw(const std::string& line)
{
    std::string out = "\r" + line + "\033[K";
    (void)!::write(m_fd, out.data(), out.size());
    m_shown = !line.empty();
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
