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

std::string json_dump(const Json& j, int indent)
{
    return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

bool is_valid_utf8(std::string_view s)
{
    size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        if (len == 0 || i + len > s.size())
            return false;
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
        for (size_t k = 1; k < len; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
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
