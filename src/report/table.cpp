// The terminal rendering of a scan report: a header, the decision, and two tables.
//
// Every cell goes through safe_text() (no control character, no byte outside printable ASCII
// reaches the terminal from the report), then is cut to its column with "…". The only
// non-ASCII characters in the output are the "…" and "→" this file writes, and the only
// escape sequences are the colours it adds when asked.
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "report/reading.h"
#include "report/render.h"

namespace bulwark::report {
namespace {

constexpr std::string_view k_ellipsis = "\xe2\x80\xa6"; // U+2026
constexpr std::string_view k_arrow = "\xe2\x86\x92"; // U+2192
constexpr std::string_view k_red = "\x1b[1;31m";
constexpr std::string_view k_yellow = "\x1b[33m";
constexpr std::string_view k_green = "\x1b[1;32m";
constexpr std::string_view k_bold = "\x1b[1m";
constexpr std::string_view k_reset = "\x1b[0m";
constexpr size_t k_gap = 2; // spaces between columns
constexpr size_t k_max_cell = 512; // bytes of a cell kept before it is cut to its column

// Columns on a terminal: every byte that does not continue a UTF-8 sequence.
size_t columns(std::string_view s)
{
    size_t n = 0;
    for (unsigned char c : s)
        n += (c & 0xc0) != 0x80;
    return n;
}

// s cut to at most width columns, ending in "…" when cut.
std::string fit(std::string_view s, size_t width)
{
    if (columns(s) <= width)
        return std::string(s);
    if (width == 0)
        return {};
    std::string out;
    size_t taken = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if ((c & 0xc0) != 0x80) {
            if (taken == width - 1)
                break;
            ++taken;
        }
        out.push_back(s[i]);
    }
    out += k_ellipsis;
    return out;
}

std::string_view outcome_colour(std::string_view outcome)
{
    switch (outcome_rank(outcome)) {
    case 0:
        return k_red;
    case 1:
        return k_yellow;
    default:
        return {};
    }
}

struct Column {
    const char* header;
    size_t cap; // widest the column gets (the last column takes what is left of the line)
    size_t floor = 0; // narrowest it may be squeezed to, to leave the last column its minimum
};

struct Table {
    std::vector<Column> columns;
    size_t min_last = 16; // columns the last column keeps when the others are squeezed
    std::vector<std::vector<std::string>> rows; // cells already safe, first cell the outcome
};

void append_padded(std::string& out, std::string_view cell, size_t width, std::string_view colour)
{
    if (!colour.empty()) {
        out += colour;
        out += cell;
        out += k_reset;
    } else {
        out += cell;
    }
    size_t used = columns(cell);
    if (used < width)
        out.append(width - used, ' ');
}

void render(std::string& out, const Table& table, bool color)
{
    size_t n = table.columns.size();
    std::vector<size_t> width(n);
    for (size_t i = 0; i < n; ++i)
        width[i] = columns(table.columns[i].header);
    for (const auto& row : table.rows) {
        for (size_t i = 0; i < n; ++i)
            width[i] = std::max(width[i], columns(row[i]));
    }
    size_t used = 0;
    for (size_t i = 0; i + 1 < n; ++i) {
        width[i] = std::min(width[i], table.columns[i].cap);
        used += width[i] + k_gap;
    }
    // Squeeze the widest squeezable column one step at a time until the last one has its
    // minimum. At most k_table_width steps.
    size_t want_last = std::min(width[n - 1], table.min_last);
    while (used + want_last > k_table_width) {
        size_t widest = n;
        for (size_t i = 0; i + 1 < n; ++i) {
            if (width[i] > table.columns[i].floor && table.columns[i].floor > 0 && (widest == n || width[i] > width[widest]))
                widest = i;
        }
        if (widest == n)
            break;
        --width[widest];
        --used;
    }
    size_t room = used < k_table_width ? k_table_width - used : 0;
    width[n - 1] = std::min(width[n - 1], std::max(room, table.min_last));

    auto line = [&](const std::vector<std::string>& cells, bool header) {
        for (size_t i = 0; i < n; ++i) {
            std::string cell = fit(cells[i], width[i]);
            std::string_view colour;
            if (color && header)
                colour = k_bold;
            else if (color && i == 0)
                colour = outcome_colour(cells[0]);
            if (i + 1 < n) {
                append_padded(out, cell, width[i] + k_gap, colour);
            } else {
                append_padded(out, cell, 0, colour);
            }
        }
        while (!out.empty() && out.back() == ' ')
            out.pop_back();
        out += '\n';
    };
    std::vector<std::string> headers;
    for (const Column& c : table.columns)
        headers.emplace_back(c.header);
    line(headers, true);
    for (const auto& row : table.rows)
        line(row, false);
}

// Scores in tenths, 0..100, then "no score": the third sort key.
constexpr size_t k_score_ranks = 102;

// Refused first, then warn, info, excepted, ignored; within each, most severe first (by
// severity, then by score); within that, the report's order (which is by id). A stable bucket
// sort: linear in the count.
std::vector<const Json*> ordered(const Json& items)
{
    std::vector<std::vector<const Json*>> buckets(k_outcome_ranks * k_severity_ranks * k_score_ranks);
    for (const Json& item : items) {
        if (!item.is_object())
            continue;
        size_t outcome = static_cast<size_t>(outcome_rank(text(item, "outcome")));
        size_t severity = static_cast<size_t>(4 - severity_rank(text(item, "severity"))); // 0 critical .. 5 unknown
        size_t score = k_score_ranks - 1;
        if (auto s = number(item, "score"); s && *s >= 0 && *s <= 10)
            score = 100 - static_cast<size_t>(*s * 10 + 0.5);
        buckets[(outcome * k_severity_ranks + severity) * k_score_ranks + score].push_back(&item);
    }
    std::vector<const Json*> out;
    out.reserve(items.size());
    for (const auto& bucket : buckets)
        out.insert(out.end(), bucket.begin(), bucket.end());
    return out;
}

std::string cell(const Json& obj, const char* key)
{
    std::string s = safe_text(text(obj, key), k_max_cell);
    return s.empty() ? "-" : s;
}

std::string human_bytes(int64_t bytes)
{
    static const char* units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
    if (bytes < 1024)
        return std::to_string(bytes) + " B";
    double value = static_cast<double>(bytes);
    size_t unit = 0;
    value /= 1024;
    while (value >= 1024 && unit + 1 < std::size(units)) {
        value /= 1024;
        ++unit;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", value, units[unit]);
    return buf;
}

std::string plural(size_t n, const char* one, const char* many)
{
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

void header_line(std::string& out, const char* label, const std::string& value)
{
    std::string line = std::string(label);
    line.append(line.size() < 12 ? 12 - line.size() : 1, ' ');
    line += value;
    out += fit(line, k_table_width);
    out += '\n';
}

void render_header(std::string& out, const Json& report)
{
    const Json& image = field(report, "image");
    const Json& os = field(report, "os");
    const Json& scanner = field(report, "scanner");
    const Json& feed = field(scanner, "feed");
    const Json& stats = field(report, "stats");
    const Json& policy = field(report, "policy");

    std::string name = safe_text(text(image, "name"), 256);
    std::string version = safe_text(text(image, "version"), 256);
    std::string image_text = name.empty() ? "(unnamed)" : name;
    if (!version.empty())
        image_text += " " + version;
    for (const char* key : { "format", "digest" }) {
        std::string value = safe_text(text(image, key), 256);
        if (!value.empty())
            image_text += ", " + value;
    }
    header_line(out, "Image", image_text);

    std::string os_text = os.is_object() ? safe_text(text(os, "pretty_name"), 256) : "";
    if (os_text.empty() && os.is_object() && !text(os, "id").empty())
        os_text = safe_text(text(os, "id") + " " + text(os, "version_id"), 256);
    header_line(out, "OS", os_text.empty() ? "unknown (no root file system with /etc/os-release)" : os_text);

    std::string scanned = safe_text(text(report, "scanned_at"), 64);
    std::string scanner_version = safe_text(text(scanner, "version"), 64);
    std::string scan_text = scanned.empty() ? "-" : scanned;
    if (!scanner_version.empty())
        scan_text += " by Bulwark " + scanner_version;
    if (auto advisories = integer(feed, "advisories")) {
        scan_text += ", " + plural(static_cast<size_t>(std::max<int64_t>(*advisories, 0)), "advisory", "advisories");
        std::string updated = safe_text(text(feed, "updated"), 64);
        if (!updated.empty())
            scan_text += " (feed of " + updated + ")";
    }
    header_line(out, "Scanned", scan_text);

    std::string contents = plural(list(report, "packages").size(), "package", "packages");
    if (auto files = integer(stats, "files"))
        contents += ", " + plural(static_cast<size_t>(std::max<int64_t>(*files, 0)), "file", "files");
    if (auto bytes = integer(stats, "bytes_read"))
        contents += ", " + human_bytes(std::max<int64_t>(*bytes, 0)) + " read";
    if (auto seconds = number(stats, "seconds"); seconds && *seconds >= 0 && *seconds < 1e9) {
        char buf[32];
        std::snprintf(buf, sizeof buf, " in %.2f s", *seconds);
        contents += buf;
    }
    header_line(out, "Contents", contents);

    std::string source = safe_text(text(policy, "source"), 256);
    header_line(out, "Policy", source.empty() ? "-" : source);
}

void render_decision(std::string& out, const Json& report, bool color)
{
    Decision d = decide(report);
    std::string line;
    if (d.admitted)
        line = "ADMITTED";
    else if (d.refused > 0)
        line = "REFUSED: " + plural(d.refused, "finding", "findings") + " refused";
    else if (d.recorded)
        line = "REFUSED by the admission policy";
    else
        line = "NOT ADMITTED: the report records no admission decision";
    if (color) {
        out += d.admitted ? k_green : k_red;
        out += line;
        out += k_reset;
    } else {
        out += line;
    }
    out += '\n';
    out += std::to_string(d.refused) + " refuse, " + std::to_string(d.warned) + " warn, " + std::to_string(d.info) + " info, "
        + std::to_string(d.excepted) + " excepted, " + std::to_string(d.ignored) + " ignored\n";
}

void render_findings(std::string& out, const Json& report, bool color)
{
    const Json& findings = list(report, "findings");
    std::vector<const Json*> rows = ordered(findings);
    out += "\nFindings (" + std::to_string(rows.size()) + ")\n";
    if (rows.empty()) {
        out += "No findings.\n";
        return;
    }
    Table table;
    table.columns = { { "OUTCOME", 8 }, { "SEVERITY", 8 }, { "ID", 44, 34 }, { "LOCATION", 36, 18 }, { "MESSAGE", 0 } };
    table.min_last = 36; // the message is what a reader needs most
    table.rows.reserve(rows.size());
    for (const Json* f : rows) {
        std::string location = safe_text(text(*f, "path"), k_max_cell);
        if (auto line = integer(*f, "line"); line && *line > 0 && !location.empty())
            location += ":" + std::to_string(*line);
        table.rows.push_back({ cell(*f, "outcome"), cell(*f, "severity"), cell(*f, "id"), location.empty() ? "-" : location,
            cell(*f, "message") });
    }
    render(out, table, color);
}

void render_vulnerabilities(std::string& out, const Json& report, bool color)
{
    const Json& vulnerabilities = list(report, "vulnerabilities");
    std::vector<const Json*> rows = ordered(vulnerabilities);
    out += "\nVulnerabilities (" + std::to_string(rows.size()) + ")\n";
    if (rows.empty()) {
        out += "No known vulnerabilities.\n";
        return;
    }
    Table table;
    table.columns = { { "OUTCOME", 8 }, { "SEVERITY", 13 }, { "ADVISORY", 22, 14 }, { "PACKAGE", 28, 12 },
        { "INSTALLED \xe2\x86\x92 FIXED", 44, 20 }, { "CVE", 0 } };
    table.rows.reserve(rows.size());
    for (const Json* v : rows) {
        std::string severity = cell(*v, "severity");
        if (auto score = number(*v, "score"); score && *score >= 0 && *score <= 10) {
            char buf[16];
            std::snprintf(buf, sizeof buf, " %.1f", *score);
            severity += buf;
        }
        std::string fixed = safe_text(text(*v, "fixed_version"), k_max_cell);
        std::string versions = cell(*v, "version") + " " + std::string(k_arrow) + " " + (fixed.empty() ? "(no fix)" : fixed);
        std::string cves;
        size_t other = 0;
        for (const Json& alias : list(*v, "aliases")) {
            if (!alias.is_string())
                continue;
            const std::string& a = alias.get_ref<const std::string&>();
            if (!is_cve_id(a)) {
                ++other;
                continue;
            }
            if (cves.size() < k_max_cell)
                cves += (cves.empty() ? "" : ", ") + a;
        }
        if (cves.empty())
            cves = other ? "(none; " + plural(other, "other alias", "other aliases") + ")" : "-";
        table.rows.push_back({ cell(*v, "outcome"), severity, cell(*v, "advisory"), cell(*v, "package"), versions, cves });
    }
    render(out, table, color);
}

} // namespace

std::string to_table(const Json& report, bool color)
{
    std::string out;
    render_header(out, report);
    out += '\n';
    render_decision(out, report, color);
    render_findings(out, report, color);
    render_vulnerabilities(out, report, color);
    return out;
}

} // namespace bulwark::report
