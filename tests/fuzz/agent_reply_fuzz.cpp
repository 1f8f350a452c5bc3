// Fuzzes what GuestAgent does with the bytes a guest sends (qemu/guest_agent.cpp): lines
// parsed with parse_json({48 MiB, 16}), replies type-checked field by field, guest-exec
// output base64-decoded. GuestAgent itself needs a socket, so this target repeats its
// parsing steps on each line of the input, plus base64_decode on the raw input.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "api/protocol.h"
#include "base/base64.h"
#include "base/json.h"

using namespace bulwark;

static void check(bool condition)
{
    if (!condition)
        std::abort();
}

static void reply(const std::string& line)
{
    auto doc = parse_json(line, {48 << 20, 16});
    if (doc.is_error() || !doc.value().is_object())
        return;
    Json& d = doc.value();
    if (d.contains("error")) {
        std::string desc = d["error"].is_object() ? json_string_or(d["error"], "desc", "unknown error") : "unknown error";
        // The message GuestAgent makes of it reaches the CLI through encode_response.
        std::string message = "the guest agent refused guest-exec: " + desc.substr(0, 500);
        std::string encoded = encode_response(Result<Json>(Error(ErrorKind::Conflict, message)));
        check(decode_response(encoded).is_error());
        return;
    }
    if (!d.contains("return"))
        return;
    Json& ret = d["return"];
    // guest-sync-delimited
    (void)(ret == Json(12345));
    // guest-exec
    if (ret.is_object() && ret.contains("pid") && ret["pid"].is_number_integer())
        (void)ret["pid"].get<int64_t>();
    // guest-exec-status
    if (!ret.is_object() || !ret.contains("exited") || !ret["exited"].is_boolean())
        return;
    (void)static_cast<int>(json_int_or(ret, "exitcode", -1));
    (void)static_cast<int>(json_int_or(ret, "signal", 0));
    (void)json_bool_or(ret, "out-truncated", false);
    for (const char* key : {"out-data", "err-data"}) {
        if (!ret.contains(key) || !ret[key].is_string())
            continue;
        auto decoded = base64_decode(ret[key].get<std::string>());
        if (!decoded)
            continue;
        // The output goes back to the CLI as a JSON string: arbitrary bytes must not throw.
        std::string encoded = encode_response(Result<Json>(Json {{"out", *decoded}}));
        check(decode_response(encoded).is_ok());
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string input(reinterpret_cast<const char*>(data), size);

    // The sync marker: GuestAgent skips everything up to the first 0xFF.
    size_t start = 0;
    if (auto ff = input.find('\xff'); ff != std::string::npos)
        start = ff + 1;
    // The first few lines are replies (a sync loop reads more, but each the same way).
    for (int lines = 0; lines < 8 && start <= input.size(); ++lines) {
        size_t end = input.find('\n', start);
        if (end == std::string::npos)
            end = input.size();
        reply(input.substr(start, end - start));
        start = end + 1;
    }

    // base64 on its own: whatever decodes, re-encodes and decodes to the same bytes.
    auto decoded = base64_decode(input);
    if (decoded) {
        check(decoded->size() <= input.size());
        auto again = base64_decode(base64_encode(*decoded));
        check(again && *again == *decoded);
    }
    std::string encoded = base64_encode(input);
    check(encoded.size() % 4 == 0);
    auto round = base64_decode(encoded);
    check(round && *round == input);
    return 0;
}
