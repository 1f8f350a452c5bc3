// JSON (nlohmann) with the parse limits Bulwark applies to every untrusted document.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/result.h"

namespace bulwark {

using Json = nlohmann::json;

struct JsonLimits {
    size_t max_bytes = 1 << 20;
    size_t max_depth = 32;
};

// Parses text, refusing documents over the size or nesting limits, with a clear error.
Result<Json> parse_json(const std::string& text, const JsonLimits& limits = {});

// Serialises j; bytes that are not valid UTF-8 (which may reach a document from a guest or a
// tampered database) become U+FFFD instead of throwing.
std::string json_dump(const Json& j, int indent = -1);
bool is_valid_utf8(std::string_view s);

// Typed field access that turns a missing or mistyped field into an InvalidArgument error.
Result<std::string> json_string(const Json& obj, const char* key);
Result<int64_t> json_int(const Json& obj, const char* key);
std::string json_string_or(const Json& obj, const char* key, const std::string& fallback);
int64_t json_int_or(const Json& obj, const char* key, int64_t fallback);
bool json_bool_or(const Json& obj, const char* key, bool fallback);

}  // namespace bulwark
