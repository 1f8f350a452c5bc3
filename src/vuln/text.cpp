#include "vuln/text.h"

namespace bulwark::vuln {

std::string quote_text(std::string_view s, size_t max)
{
    static const char* hex = "0123456789abcdef";
    std::string out = "'";
    size_t n = s.size() < max ? s.size() : max;
    for (size_t i = 0; i < n; ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out.push_back(static_cast<char>(c));
        } else {
            out += "\\x";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    if (n < s.size())
        out += "...";
    out += "'";
    return out;
}

std::string strip_controls(std::string_view s, bool keep_newlines)
{
    std::string out(s);
    for (char& c : out) {
        auto u = static_cast<unsigned char>(c);
        if (keep_newlines && (c == '\n' || c == '\t'))
            continue;
        if (u < 0x20 || u == 0x7f)
            c = ' ';
    }
    return out;
}

std::string truncate_utf8(std::string_view s, size_t max)
{
    if (s.size() <= max)
        return std::string(s);
    static constexpr std::string_view marker = "...";
    if (max < marker.size())
        return std::string(marker.substr(0, max));
    size_t cut = max - marker.size();
    // Back off over continuation bytes (10xxxxxx) so that no character is split.
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80)
        --cut;
    std::string out(s.substr(0, cut));
    out += marker;
    return out;
}

bool is_valid_debian_name(std::string_view name, size_t max)
{
    if (name.size() < 2 || name.size() > max)
        return false;
    auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || is_ascii_digit(c); };
    if (!lower_or_digit(name[0]))
        return false;
    for (char c : name.substr(1)) {
        if (!lower_or_digit(c) && c != '+' && c != '.' && c != '-')
            return false;
    }
    return true;
}

} // namespace bulwark::vuln
