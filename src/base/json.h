// JSON (nlohmann) with the parse limits Bulwark applies to every untrusted document.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/result.h"

namespace bulwark {

using Json = nlohmann::json;

struct JsonLimits {
    size_t max_bytes = 1 << 20;
    size_t max_depth = 32;
};

// Parses text, refusing documents over the size or nesting limits, with a clear error.
Result<Json> parse_json(const std::string& text, const JsonLimits& limits = {});

// Typed field access that turns a missing or mistyped field into an InvalidArgument error.
Result<std::string> json_string(const Json& obj, const char* key);
Result<int64_t> json_int(const Json& obj, const char* key);
std::string json_string_or(const Json& obj, const char* key, const std::string& fallback);
int64_t json_int_or(const Json& obj, const char* key, int64_t fallback);
bool json_bool_or(const Json& obj, const char* key, bool fallback);

}  // namespace bulwark
