// The control socket protocol between `bulwark` and `bulwarkd`.
//
// One request per connection: the client sends one line of JSON
//   {"method": "vm.start", "params": {...}}
// optionally with file descriptors attached (SCM_RIGHTS; image import sends the files it
// imports, so the daemon only ever reads what the caller could open). The daemon answers
// with one line:
//   {"ok": true, "result": ...}  or  {"ok": false, "error": {"kind": "not_found", "message": "..."}}
#pragma once

#include <string>

#include "base/json.h"
#include "base/result.h"

namespace bulwark {

inline constexpr size_t k_max_request_bytes = 1 << 20;
inline constexpr size_t k_max_response_bytes = 96 << 20;
inline constexpr size_t k_max_request_fds = 16;  // disk, kernel, initrd, YARA rule files

struct Request {
    std::string method;
    Json params = Json::object();
};

Result<Request> parse_request(const std::string& line);
std::string encode_request(const Request& request);
std::string encode_response(const Result<Json>& result);
// Turns a response line back into the result or the daemon's error.
Result<Json> decode_response(const std::string& line);

}  // namespace bulwark
