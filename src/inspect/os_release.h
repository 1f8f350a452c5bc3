// os-release (/etc/os-release, /usr/lib/os-release): which distribution and release an
// image claims to be.
//
// Format (os-release(5)): newline-separated KEY=VALUE assignments in a shell-compatible
// subset. Lines starting with '#' and blank lines are ignored. A value may be unquoted (no
// whitespace or shell specials; backslash escapes the next character), 'single quoted'
// (literal) or "double quoted" (backslash escapes only $ " \ ` and newline), and quoted and
// unquoted parts may be concatenated, as in the shell. Multi-line values are not allowed.
// When a key repeats, the last assignment wins (the file is meant to be sourced by a shell).
//
// Limits: 64 KiB of input, 1024 lines, 4096 bytes a line, 256 distinct keys; values are kept
// as the file gives them (not trusted: display them through display_text()).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "inspect/parse.h"

namespace bulwark::inspect {

inline constexpr LineLimits k_os_release_limits { 64 * 1024, 1024, 4096 };
inline constexpr size_t k_os_release_max_keys = 256;
inline constexpr size_t k_os_release_max_id_like = 32;

struct OsRelease {
    std::string id; // ID, "linux" when absent (os-release(5) default)
    std::string version_id; // VERSION_ID
    std::string version_codename; // VERSION_CODENAME
    std::string pretty_name; // PRETTY_NAME, "Linux" when absent
    std::string name; // NAME
    std::vector<std::string> id_like; // ID_LIKE, split on spaces
    std::map<std::string, std::string> fields; // every assignment (last wins)
    Diagnostics diagnostics;
};

OsRelease parse_os_release(std::string_view text);

} // namespace bulwark::inspect
