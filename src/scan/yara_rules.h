// YARA over image files (libyara): user-supplied rules, compiled once, matched against each
// regular file's bytes. Used only inside the inspector worker.
//
// Threads: the compiled rules are shared and read-only; each thread that matches makes its
// own YaraScanner (libyara allows up to 32 at once over one set of rules).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace bulwark::scan {

struct YaraSource {
    std::string name;  // shown in errors and in the report ("malware.yar")
    std::string text;
};

inline constexpr size_t k_max_yara_source_bytes = 16 << 20;
inline constexpr size_t k_max_yara_matches_per_file = 32;

class YaraRules {
public:
    // Compiles every source; a syntax error names the source and line. No include
    // directives are followed (rules come as text, not paths).
    static Result<std::unique_ptr<YaraRules>> compile(const std::vector<YaraSource>& sources);
    ~YaraRules();
    YaraRules(const YaraRules&) = delete;
    YaraRules& operator=(const YaraRules&) = delete;

    // Names ("namespace:rule") of the rules that match bytes, at most
    // k_max_yara_matches_per_file; a rule that times out or errors is an Error.
    Result<std::vector<std::string>> match(std::string_view bytes) const;
    size_t rule_count() const { return m_count; }

private:
    friend class YaraScanner;
    YaraRules() = default;
    void* m_rules = nullptr;  // YR_RULES*
    size_t m_count = 0;
};

// One thread's scanner over shared rules: match() as YaraRules::match(), without building
// and tearing down libyara's scan state for every file. Not for use by two threads at once.
class YaraScanner {
public:
    static Result<std::unique_ptr<YaraScanner>> create(const YaraRules& rules);
    ~YaraScanner();
    YaraScanner(const YaraScanner&) = delete;
    YaraScanner& operator=(const YaraScanner&) = delete;

    Result<std::vector<std::string>> match(std::string_view bytes);

private:
    YaraScanner() = default;
    void* m_scanner = nullptr;  // YR_SCANNER*
};

}  // namespace bulwark::scan
