#include "scan/yara_rules.h"

#include <yara.h>

namespace bulwark::scan {

namespace {

struct CompileErrors {
    std::string first;
    int count = 0;
};

void on_compile_message(int level, const char* file, int line, const YR_RULE* rule, const char* message, void* user)
{
    auto* errors = static_cast<CompileErrors*>(user);
    if (level != YARA_ERROR_LEVEL_ERROR)
        return;
    if (errors->count++ == 0)
        errors->first = "line " + std::to_string(line) + ": " + (message ? message : "error");
}

struct MatchState {
    std::vector<std::string> names;
};

int on_scan(YR_SCAN_CONTEXT* context, int message, void* data, void* user)
{
    if (message != CALLBACK_MSG_RULE_MATCHING)
        return CALLBACK_CONTINUE;
    auto* state = static_cast<MatchState*>(user);
    auto* rule = static_cast<YR_RULE*>(data);
    std::string ns = rule->ns && rule->ns->name ? rule->ns->name : "default";
    state->names.push_back(ns + ":" + (rule->identifier ? rule->identifier : "?"));
    return state->names.size() >= k_max_yara_matches_per_file ? CALLBACK_ABORT : CALLBACK_CONTINUE;
}

// libyara keeps process-wide state, initialised once (a function-local static is
// thread-safe), before the worker starts its scanning threads.
bool yara_ready()
{
    static bool ok = yr_initialize() == ERROR_SUCCESS;
    return ok;
}

}  // namespace

Result<std::unique_ptr<YaraRules>> YaraRules::compile(const std::vector<YaraSource>& sources)
{
    if (!yara_ready())
        return Error(ErrorKind::Internal, "libyara did not initialise");
    YR_COMPILER* compiler = nullptr;
    if (yr_compiler_create(&compiler) != ERROR_SUCCESS)
        return Error(ErrorKind::Internal, "cannot create a YARA compiler");
    struct Guard {
        YR_COMPILER* c;
        ~Guard() { yr_compiler_destroy(c); }
    } guard {compiler};
    for (const auto& source : sources) {
        if (source.text.size() > k_max_yara_source_bytes)
            return Error(ErrorKind::InvalidArgument, "YARA rules " + source.name + " are larger than 16 MiB");
        CompileErrors errors;
        yr_compiler_set_callback(compiler, on_compile_message, &errors);
        // Each file is its own namespace, so two files may use the same rule names.
        std::string ns = source.name.empty() ? "rules" : source.name;
        int failed = yr_compiler_add_string(compiler, source.text.c_str(), ns.c_str());
        if (failed > 0 || errors.count > 0)
            return Error(ErrorKind::InvalidArgument,
                "YARA rules " + source.name + ", " + errors.first + (errors.count > 1 ? " (and " + std::to_string(errors.count - 1) + " more)" : ""));
    }
    YR_RULES* rules = nullptr;
    if (yr_compiler_get_rules(compiler, &rules) != ERROR_SUCCESS)
        return Error(ErrorKind::Internal, "cannot build the YARA rules");
    std::unique_ptr<YaraRules> out(new YaraRules());
    out->m_rules = rules;
    YR_RULE* rule = nullptr;
    yr_rules_foreach(rules, rule) { ++out->m_count; }
    return out;
}

YaraRules::~YaraRules()
{
    if (m_rules)
        yr_rules_destroy(static_cast<YR_RULES*>(m_rules));
}

namespace {

// 10 s per file: a rule set that takes longer on one file is a denial of service.
constexpr int k_timeout_seconds = 10;

// libyara's try/catch guards scans of memory-mapped files against SIGBUS (a file truncated
// under the scan) by installing signal handlers around every scan: 15 system calls a file,
// a tenth of the worker's time on many small files. The bytes scanned here are the worker's
// own heap copies, never a mapping; a fault in libyara itself kills the jailed worker, and
// bulwarkd reports that the inspector died.
constexpr int k_scan_flags = SCAN_FLAGS_FAST_MODE | SCAN_FLAGS_NO_TRYCATCH;

Result<std::vector<std::string>> outcome(int rc, MatchState& state)
{
    if (rc != ERROR_SUCCESS && rc != ERROR_CALLBACK_ERROR)
        return Error(rc == ERROR_SCAN_TIMEOUT ? ErrorKind::Timeout : ErrorKind::Internal,
            "YARA scan failed (libyara error " + std::to_string(rc) + ")");
    return std::move(state.names);
}

}  // namespace

Result<std::vector<std::string>> YaraRules::match(std::string_view bytes) const
{
    MatchState state;
    int rc = yr_rules_scan_mem(static_cast<YR_RULES*>(m_rules), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
        k_scan_flags, on_scan, &state, k_timeout_seconds);
    return outcome(rc, state);
}

Result<std::unique_ptr<YaraScanner>> YaraScanner::create(const YaraRules& rules)
{
    YR_SCANNER* scanner = nullptr;
    if (yr_scanner_create(static_cast<YR_RULES*>(rules.m_rules), &scanner) != ERROR_SUCCESS)
        return Error(ErrorKind::Internal, "cannot create a YARA scanner");
    std::unique_ptr<YaraScanner> out(new YaraScanner());
    out->m_scanner = scanner;
    yr_scanner_set_flags(scanner, k_scan_flags);
    yr_scanner_set_timeout(scanner, k_timeout_seconds);
    return out;
}

YaraScanner::~YaraScanner()
{
    if (m_scanner)
        yr_scanner_destroy(static_cast<YR_SCANNER*>(m_scanner));
}

Result<std::vector<std::string>> YaraScanner::match(std::string_view bytes)
{
    MatchState state;
    auto* scanner = static_cast<YR_SCANNER*>(m_scanner);
    // The callback's state is this call's; set for each scan, as the scanner is reused.
    yr_scanner_set_callback(scanner, on_scan, &state);
    int rc = yr_scanner_scan_mem(scanner, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    return outcome(rc, state);
}

}  // namespace bulwark::scan
