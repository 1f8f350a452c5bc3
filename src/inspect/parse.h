// Primitives shared by the inspection parsers: parse warnings, the limits every parser
// applies to attacker-controlled text, a bounded line reader and small text helpers.
//
// Every parser in src/inspect takes bytes that came out of an untrusted disk image. None of
// them fails on bad input: a malformed line is skipped and reported as a ParseWarning, and a
// limit that stops parsing early sets Diagnostics::truncated, so the caller knows the result
// covers only part of the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bulwark::inspect {

struct ParseWarning {
    std::string path; // the file, when the parser was told its name
    size_t line = 0; // 1-based; 0 for the whole file
    std::string message; // says what was wrong; quotes no more than a short, escaped excerpt
};

inline constexpr size_t k_max_warnings = 256;

struct Diagnostics {
    std::vector<ParseWarning> warnings; // at most k_max_warnings
    size_t dropped_warnings = 0; // warnings past the cap, counted only
    bool truncated = false; // a limit stopped parsing before the end of the input

    void warn(std::string_view path, size_t line, std::string message);
    // Marks the result as partial and says why (once per reason is enough for the caller).
    void truncate(std::string_view path, size_t line, std::string message);
};

// One input file: its path in the image (for messages and findings) and its bytes.
struct ConfigSource {
    std::string path;
    std::string_view text;
};

struct LineLimits {
    size_t max_bytes; // bytes past this are not read
    size_t max_lines; // lines past this are not read
    size_t max_line_bytes; // a longer line is skipped with a warning
};

// Splits text into lines ("\n" separated, a trailing "\r" removed) within limits. Lines over
// max_line_bytes are skipped with a warning; hitting max_bytes or max_lines truncates.
class LineReader {
public:
    LineReader(std::string_view text, const LineLimits& limits, Diagnostics& diagnostics, std::string_view path = {});

    // The next line; false at the end of the input or at a limit.
    bool next(std::string_view& line);
    // The 1-based number of the line last returned by next().
    size_t line_number() const { return m_line; }

private:
    std::string_view m_text;
    LineLimits m_limits;
    Diagnostics& m_diagnostics;
    std::string_view m_path;
    size_t m_pos = 0;
    size_t m_line = 0;
};

// Text helpers. "Blank" is space or tab; "space" adds \r, \n, \v, \f.
bool is_blank(char c);
bool is_space(char c);
std::string_view trim(std::string_view s);
std::string_view trim_left(std::string_view s);
std::string_view trim_right(std::string_view s);
char ascii_lower(char c);
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);
// Position of needle in haystack ignoring ASCII case, or npos. needle must be lowercase.
size_t ifind(std::string_view haystack, std::string_view lowercase_needle, size_t from = 0);
// Splits on sep into at most max_fields pieces; nullopt when there are more.
std::optional<std::vector<std::string_view>> split_fields(std::string_view s, char sep, size_t max_fields);
// Decimal digits only (no sign, no spaces), within the type's range.
std::optional<uint32_t> parse_u32(std::string_view s);
std::optional<uint64_t> parse_u64(std::string_view s);

} // namespace bulwark::inspect
