// Parsing Suricata rules (the subset in docs/ids-rules.md).
//
// Rule files come from the administrator, but they are also shared, downloaded and edited by
// hand, so the parser treats them as untrusted text: every length and count is capped, a rule
// it does not fully understand is rejected (never half-applied: a rule missing a keyword it
// relies on would match far more than its author meant), and one bad rule does not stop the
// others from loading.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "ids/rule.h"

namespace bulwark::ids {

inline constexpr size_t k_max_line_bytes = 64 * 1024; // a rule after joining continuations
inline constexpr size_t k_max_rules = 100000;
inline constexpr size_t k_max_file_bytes = 256 * 1024 * 1024;
inline constexpr size_t k_max_payload_matches = 32; // content + pcre per rule
inline constexpr size_t k_max_pattern_bytes = 4096; // one content, or one regex
inline constexpr size_t k_max_group_items = 1024; // items of one address or port group, expanded
inline constexpr size_t k_max_var_depth = 16; // variables referring to variables
inline constexpr size_t k_max_options = 256; // options of one rule

// Rule variables: "HOME_NET" -> "[10.0.0.0/8,...]". Names are without the '$'.
using RuleVars = std::map<std::string, std::string, std::less<>>;

// HOME_NET, EXTERNAL_NET, HTTP_PORTS and the other usual ones, overlaid with the caller's.
RuleVars default_rule_vars(const RuleVars& overrides = {});

struct RuleError {
    size_t line = 0; // 1-based line where the rule starts
    std::string keyword; // the offending keyword or header field, "" if none applies
    std::string message; // a sentence, e.g. "line 12: unsupported keyword 'http.uri'"
};

struct RuleSet {
    std::vector<Rule> rules;
    std::vector<RuleError> errors;
};

// Parses one rule (no comment, no continuation). The Error's message names the keyword.
Result<Rule> parse_rule(std::string_view text, const RuleVars& vars);
// Parses a rule file: '#' comments, blank lines, lines ending in '\' continue on the next.
// Bad rules become errors with their line; duplicate sids (same gid) are errors for the later
// rule. Never fails as a whole except past k_max_file_bytes (then errors holds one entry).
RuleSet load_rules(std::string_view text, const RuleVars& vars);

} // namespace bulwark::ids
