#include "inspect/parse.h"

#include <cstring>

namespace bulwark::inspect {

void Diagnostics::warn(std::string_view path, size_t line, std::string message)
{
    if (warnings.size() >= k_max_warnings) {
        ++dropped_warnings;
        return;
    }
    warnings.push_back(ParseWarning { std::string(path), line, std::move(message) });
}

void Diagnostics::truncate(std::string_view path, size_t line, std::string message)
{
    if (!truncated)
        warn(path, line, std::move(message));
    truncated = true;
}

LineReader::LineReader(std::string_view text, const LineLimits& limits, Diagnostics& diagnostics, std::string_view path)
    : m_text(text)
    , m_limits(limits)
    , m_diagnostics(diagnostics)
    , m_path(path)
{
    if (m_text.size() > m_limits.max_bytes) {
        m_diagnostics.truncate(
            m_path, 0, "the file is larger than " + std::to_string(m_limits.max_bytes) + " bytes; only its start was read");
        m_text = m_text.substr(0, m_limits.max_bytes);
    }
}

bool LineReader::next(std::string_view& line)
{
    while (m_pos < m_text.size()) {
        if (m_line >= m_limits.max_lines) {
            m_diagnostics.truncate(
                m_path, m_line, "the file has more than " + std::to_string(m_limits.max_lines) + " lines; the rest was not read");
            m_pos = m_text.size();
            return false;
        }
        const char* start = m_text.data() + m_pos;
        size_t left = m_text.size() - m_pos;
        const void* nl = std::memchr(start, '\n', left);
        size_t len = nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) : left;
        m_pos += nl ? len + 1 : len;
        ++m_line;
        if (len > m_limits.max_line_bytes) {
            m_diagnostics.warn(
                m_path, m_line, "line is longer than " + std::to_string(m_limits.max_line_bytes) + " bytes; skipped");
            continue;
        }
        line = std::string_view(start, len);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        return true;
    }
    return false;
}

bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view trim_left(std::string_view s)
{
    size_t i = 0;
    while (i < s.size() && is_space(s[i]))
        ++i;
    return s.substr(i);
}

std::string_view trim_right(std::string_view s)
{
    size_t n = s.size();
    while (n > 0 && is_space(s[n - 1]))
        --n;
    return s.substr(0, n);
}

std::string_view trim(std::string_view s)
{
    return trim_right(trim_left(s));
}

char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view s)
{
    std::string out(s);
    for (auto& c : out)
        c = ascii_lower(c);
    return out;
}

bool iequals(std::string_view a, std::string_view b)
{
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    }
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix)
{
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

size_t ifind(std::string_view haystack, std::string_view needle, size_t from)
{
    if (needle.empty())
        return from <= haystack.size() ? from : std::string_view::npos;
    if (haystack.size() < needle.size())
        return std::string_view::npos;
    for (size_t i = from; i + needle.size() <= haystack.size(); ++i) {
        if (ascii_lower(haystack[i]) != needle[0])
            continue;
        size_t j = 1;
        while (j < needle.size() && ascii_lower(haystack[i + j]) == needle[j])
            ++j;
        if (j == needle.size())
            return i;
    }
    return std::string_view::npos;
}

std::optional<std::vector<std::string_view>> split_fields(std::string_view s, char sep, size_t max_fields)
{
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;) {
        if (out.size() == max_fields)
            return std::nullopt;
        size_t end = s.find(sep, start);
        if (end == std::string_view::npos) {
            out.push_back(s.substr(start));
            return out;
        }
        out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
}

std::optional<uint64_t> parse_u64(std::string_view s)
{
    if (s.empty() || s.size() > 20)
        return std::nullopt;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return std::nullopt;
        uint64_t d = static_cast<uint64_t>(c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return std::nullopt;
        v = v * 10 + d;
    }
    return v;
}

std::optional<uint32_t> parse_u32(std::string_view s)
{
    auto v = parse_u64(s);
    if (!v || *v > UINT32_MAX)
        return std::nullopt;
    return static_cast<uint32_t>(*v);
}

} // namespace bulwark::inspect
