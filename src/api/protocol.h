// The control socket protocol between `bulwark` and `bulwarkd`.
//
// One request per connection: the client sends one line of JSON
//   {"method": "vm.start", "params": {...}}
// optionally with file descriptors attached (SCM_RIGHTS; image import sends the files it
// imports, so the daemon only ever reads what the caller could open). The daemon answers
// with one line:
//   {"ok": true, "result": ...}  or  {"ok": false, "error": {"kind": "not_found", "message": "..."}}
// A request may add "progress": true. Methods that report progress (image.scan, image.import)
// then send interim lines before the answer, at most k_progress_lines_per_second of them:
//   {"progress": {"files": N, "files_total": N, "bytes": N}}
// Interim lines never carry "ok", so a reader tells them from the answer. Without the field,
// or for other methods, the answer is the only line.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "base/json.h"
#include "base/result.h"

namespace bulwark {

inline constexpr size_t k_max_request_bytes = 1 << 20;
inline constexpr size_t k_max_response_bytes = 96 << 20;
inline constexpr size_t k_max_request_fds = 16;  // disk, kernel, initrd, YARA rule files

inline constexpr int k_progress_lines_per_second = 10;

struct Request {
    std::string method;
    Json params = Json::object();
    bool progress = false;  // the caller reads interim progress lines
};

// How far a long operation has got. The totals grow as the scan finds more to do (each
// filesystem's files are counted when its walk ends); no field ever goes down.
struct Progress {
    uint64_t files = 0;        // files whose content was scanned
    uint64_t files_total = 0;  // regular files found so far
    uint64_t bytes = 0;        // bytes of file content scanned
    Json to_json() const { return Json {{"files", files}, {"files_total", files_total}, {"bytes", bytes}}; }
    // Reads {files, files_total, bytes}; anything else (a missing field, a negative or
    // non-integer number, files past files_total) is nullopt.
    static std::optional<Progress> from_json(const Json& doc);
};

// Where a handler reports progress; empty when the caller did not ask for it.
using ProgressSink = std::function<void(const Progress&)>;

Result<Request> parse_request(const std::string& line);
std::string encode_request(const Request& request);
std::string encode_response(const Result<Json>& result);
std::string encode_progress(const Progress& progress);

// One line from bulwarkd: an interim progress line, or the answer.
struct ResponseLine {
    bool interim = false;              // a progress line: more lines follow
    std::optional<Progress> progress;  // an interim line's progress, if it reads as one
    Result<Json> result = Json();      // the answer (when not interim)
};
ResponseLine decode_response_line(const std::string& line);
// Turns a response line back into the result or the daemon's error.
Result<Json> decode_response(const std::string& line);

}  // namespace bulwark
