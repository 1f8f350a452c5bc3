// bulwarkd's side of the image inspector: runs bulwark-inspect in a jail of its own (no
// network, no files but its binary and libraries, its own uid, cgroup limits, seccomp, a
// deadline) on an image handed over as an open fd, and reads back its report.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "scan/image_scan.h"

namespace bulwark::scan {

struct InspectorConfig {
    std::string home;            // bulwarkd's data directory (jail roots live in home/jail)
    std::string jailer;          // bulwark-jailer
    std::string worker;          // bulwark-inspect
    uid_t uid = 0;               // the inspector's own unprivileged uid and gid
    bool jailed = true;          // false only with BULWARK_JAIL=off: a plain child with RLIMIT_AS
    uint64_t memory_bytes = 1ULL << 30;
    std::chrono::seconds timeout {1800};
    uint64_t max_file_mib = 64;  // files larger than this are not content-scanned
    // Threads that read and scan file contents (1 to k_max_scan_threads); the jail gives the
    // worker one CPU for each, and its process limit counts them.
    unsigned threads = 2;
    size_t max_report_bytes = 256 << 20;
};

struct InspectorInput {
    int image_fd = -1;
    std::vector<std::pair<std::string, int>> backing;  // name in the image -> fd
    std::vector<std::pair<std::string, int>> yara;     // rule file name -> fd
    // The worker's progress lines, checked: well-formed, files within files_total, and no
    // count going down; any other line is ignored. Called on the caller's thread.
    std::function<void(const ScanProgress&)> progress;
    bool content = true;                               // false: inventory only
};

// The worker's report (docs/scan-report.md, without vulnerabilities and policy). A worker
// that fails, dies (memory limit) or runs past the deadline is an error naming what
// happened; nothing of it is left behind (cgroup, jail directory, process).
Result<Json> run_inspector(const InspectorConfig& config, const InspectorInput& input);

// One line of the worker's progress pipe, {"files": N, "files_total": N, "bytes": N}. The
// worker reads hostile bytes, so a line is taken only if it parses (4 KiB, depth 4), every
// count is a non-negative integer, files is within files_total, and no count is below the
// last line taken; otherwise nullopt, and the line is ignored.
std::optional<ScanProgress> parse_worker_progress(const std::string& line, const ScanProgress& last);

}  // namespace bulwark::scan
