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

// libyara keeps process-wide state; the worker is single-threaded and initialises it once.
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

Result<std::vector<std::string>> YaraRules::match(std::string_view bytes) const
{
    MatchState state;
    // 10 s per file: a rule set that takes longer on one file is a denial of service.
    int rc = yr_rules_scan_mem(static_cast<YR_RULES*>(m_rules), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
        SCAN_FLAGS_FAST_MODE, on_scan, &state, 10);
    if (rc != ERROR_SUCCESS && rc != ERROR_CALLBACK_ERROR)
        return Error(rc == ERROR_SCAN_TIMEOUT ? ErrorKind::Timeout : ErrorKind::Internal,
            "YARA scan failed (libyara error " + std::to_string(rc) + ")");
    return state.names;
}

}  // namespace bulwark::scan
