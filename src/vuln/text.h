// Small helpers for untrusted text inside the vuln library: quoting for error messages and
// making advisory prose safe to store and print. Internal to src/vuln.
#pragma once

#include <string>
#include <string_view>

namespace bulwark::vuln {

// s in single quotes for an error message, at most max bytes of it; bytes outside printable
// ASCII become \xNN so a hostile value cannot inject terminal escapes or fake lines.
std::string quote_text(std::string_view s, size_t max = 80);

// Replaces control characters (C0 and DEL) with spaces; keeps '\n' and '\t' when asked.
std::string strip_controls(std::string_view s, bool keep_newlines);

// Cuts valid UTF-8 text to at most max bytes (ending "..." when cut) on a character boundary.
// Idempotent: text already within max bytes is returned unchanged.
std::string truncate_utf8(std::string_view s, size_t max);

// Debian policy 5.6.1 (source) and 5.6.7 (binary package names): [a-z0-9][a-z0-9+.-]+, at
// least two characters, here at most max.
bool is_valid_debian_name(std::string_view name, size_t max);

inline bool is_ascii_digit(char c)
{
    return c >= '0' && c <= '9';
}
inline bool is_ascii_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline bool is_ascii_alnum(char c)
{
    return is_ascii_digit(c) || is_ascii_alpha(c);
}

} // namespace bulwark::vuln
