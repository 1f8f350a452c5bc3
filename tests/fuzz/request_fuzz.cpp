// Fuzzes the control-socket protocol: parse_request (bulwarkd reads it from any local
// client) and decode_response (the CLI reads it from the daemon). Round trips must hold.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "api/protocol.h"

using namespace bulwark;

static void check(bool condition)
{
    if (!condition)
        std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string line(reinterpret_cast<const char*>(data), size);

    auto req = parse_request(line);
    if (req.is_ok()) {
        const Request& r = req.value();
        check(!r.method.empty() && r.method.size() <= 64);
        check(r.params.is_object());
        std::string encoded = encode_request(r);
        check(!encoded.empty() && encoded.back() == '\n');
        check(encoded.find('\n') == encoded.size() - 1);
        auto back = parse_request(encoded.substr(0, encoded.size() - 1));
        check(back.is_ok());
        check(back.value().method == r.method && back.value().params == r.params);
    } else {
        check(req.error().kind() == ErrorKind::InvalidArgument || req.error().kind() == ErrorKind::Corrupt);
    }

    auto resp = decode_response(line);
    // Whatever came back encodes as one line and decodes to the same thing.
    std::string encoded = encode_response(resp);
    check(!encoded.empty() && encoded.back() == '\n');
    check(encoded.find('\n') == encoded.size() - 1);
    auto back = decode_response(encoded);
    check(back.is_ok() == resp.is_ok());
    if (resp.is_ok()) {
        check(back.value() == resp.value());
    } else {
        check(back.error().kind() == resp.error().kind());
    }

    // The response path also carries arbitrary bytes (guest output, error text): it must
    // never throw on invalid UTF-8.
    std::string raw = line.substr(0, 256);
    std::string as_result = encode_response(Result<Json>(Json {{"out", raw}}));
    check(decode_response(as_result).is_ok());
    std::string as_error = encode_response(Result<Json>(Error(ErrorKind::Conflict, raw)));
    check(decode_response(as_error).is_error());
    return 0;
}
