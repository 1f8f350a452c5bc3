// Fuzzes parse_json, which every untrusted JSON document goes through (requests, QMP and
// guest agent replies), with the default limits and with tight ones.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/json.h"

using namespace bulwark;

static void check(bool condition)
{
    if (!condition)
        std::abort();
}

static size_t depth_of(const Json& j)
{
    if (!j.is_structured() || j.empty())
        return j.is_structured() ? 1 : 0;
    size_t deepest = 0;
    for (const auto& child : j)
        deepest = std::max(deepest, depth_of(child));
    return deepest + 1;
}

static void exercise(const std::string& text, const JsonLimits& limits)
{
    auto r = parse_json(text, limits);
    if (r.is_error()) {
        check(r.error().kind() == ErrorKind::InvalidArgument || r.error().kind() == ErrorKind::Corrupt);
        return;
    }
    const Json& doc = r.value();
    check(text.size() <= limits.max_bytes);
    check(depth_of(doc) <= limits.max_depth);
    // A parsed document is valid UTF-8, so it serialises without throwing and parses back
    // to the same value.
    std::string again = json_dump(doc);
    check(again == doc.dump());
    Json back = Json::parse(again, nullptr, false);
    check(!back.is_discarded());
    check(back == doc);
    // The typed accessors never throw, whatever the shape.
    (void)json_string(doc, "method");
    (void)json_int(doc, "pid");
    (void)json_string_or(doc, "desc", "");
    (void)json_int_or(doc, "exitcode", -1);
    (void)json_bool_or(doc, "exited", false);
}

// is_valid_utf8 against nlohmann's own UTF-8 check: for bytes that need no escaping inside a
// JSON string, the two must agree.
static void compare_utf8(const std::string& text)
{
    for (unsigned char c : text) {
        if (c < 0x20 || c == '"' || c == '\\')
            return;
    }
    bool parsed = parse_json("\"" + text + "\"").is_ok();
    check(parsed == is_valid_utf8(text));
    // And json_dump makes any bytes into valid UTF-8 without throwing.
    check(is_valid_utf8(Json::parse(json_dump(Json(text)), nullptr, false).get<std::string>()));
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string text(reinterpret_cast<const char*>(data), size);
    exercise(text, JsonLimits {});
    exercise(text, JsonLimits {4096, 4});
    compare_utf8(text);
    return 0;
}
