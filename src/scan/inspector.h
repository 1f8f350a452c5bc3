// bulwarkd's side of the image inspector: runs bulwark-inspect in a jail of its own (no
// network, no files but its binary and libraries, its own uid, cgroup limits, seccomp, a
// deadline) on an image handed over as an open fd, and reads back its report.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"

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
    size_t max_report_bytes = 256 << 20;
};

struct InspectorInput {
    int image_fd = -1;
    std::vector<std::pair<std::string, int>> backing;  // name in the image -> fd
    std::vector<std::pair<std::string, int>> yara;     // rule file name -> fd
    std::function<void(const Json&)> progress;         // {files, files_total, bytes}
    bool content = true;                               // false: inventory only
};

// The worker's report (docs/scan-report.md, without vulnerabilities and policy). A worker
// that fails, dies (memory limit) or runs past the deadline is an error naming what
// happened; nothing of it is left behind (cgroup, jail directory, process).
Result<Json> run_inspector(const InspectorConfig& config, const InspectorInput& input);

}  // namespace bulwark::scan
