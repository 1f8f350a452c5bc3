#include "base/json.h"

namespace bulwark {

Result<Json> parse_json(const std::string& text, const JsonLimits& limits)
{
    if (text.size() > limits.max_bytes)
        return Error(ErrorKind::InvalidArgument, "JSON document of " + std::to_string(text.size())
                + " bytes is over the limit of " + std::to_string(limits.max_bytes));
    // Depth check before parsing: count bracket nesting outside strings.
    size_t depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limits.max_depth)
                return Error(ErrorKind::InvalidArgument, "JSON document nests deeper than " + std::to_string(limits.max_depth) + " levels");
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    Json doc = Json::parse(text, nullptr, false);
    if (doc.is_discarded())
        return Error(ErrorKind::Corrupt, "malformed JSON");
    return doc;
}

Result<std::string> json_string(const Json& obj, const char* key)
{
    if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string())
        return Error(ErrorKind::InvalidArgument, std::string("field '") + key + "' must be a string");
    return obj[key].get<std::string>();
}

Result<int64_t> json_int(const Json& obj, const char* key)
{
    if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number_integer())
        return Error(ErrorKind::InvalidArgument, std::string("field '") + key + "' must be an integer");
    return obj[key].get<int64_t>();
}

std::string json_string_or(const Json& obj, const char* key, const std::string& fallback)
{
    if (obj.is_object() && obj.contains(key) && obj[key].is_string())
        return obj[key].get<std::string>();
    return fallback;
}

int64_t json_int_or(const Json& obj, const char* key, int64_t fallback)
{
    if (obj.is_object() && obj.contains(key) && obj[key].is_number_integer())
        return obj[key].get<int64_t>();
    return fallback;
}

bool json_bool_or(const Json& obj, const char* key, bool fallback)
{
    if (obj.is_object() && obj.contains(key) && obj[key].is_boolean())
        return obj[key].get<bool>();
    return fallback;
}

}  // namespace bulwark
