// The offline inspection of one disk image: partitions, filesystems, OS identity, packages,
// accounts, SSH, cron, services, file modes, secrets and YARA over every regular file.
// No boot, no mount, no root: every byte is read through src/disk/ with limits.
//
// It runs in the inspector worker (bulwark-inspect), in a jail, because every byte of the
// image is the attacker's. Its output is the worker's half of a scan report
// (docs/scan-report.md): everything except vulnerabilities and policy outcomes, which
// bulwarkd adds from its advisory feed and the admission policy.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "disk/block_device.h"
#include "scan/yara_rules.h"

namespace bulwark::scan {

struct ScanProgress {
    uint64_t files = 0;           // regular files whose content was scanned
    uint64_t files_total = 0;     // regular files found (known once the walk is done)
    uint64_t bytes_scanned = 0;
};

// Threads that read and scan file contents (the calling thread is one). The inspector's jail
// counts each against its process limit and gives the worker one CPU per thread.
inline constexpr unsigned k_max_scan_threads = 4;

struct ScanOptions {
    const YaraRules* yara = nullptr;                   // none: no YARA
    std::vector<std::string> yara_names;               // for the report
    bool content = true;                               // false: inventory only (no secrets, no YARA)
    uint64_t max_content_bytes = 64ULL << 20;          // larger files are not content-scanned
    uint64_t max_entries = 4'000'000;                  // filesystem entries visited, in all
    size_t max_findings = 100'000;                     // findings kept; the rest are counted
    int64_t today_days = 0;                            // for account expiry (days since 1970)
    std::function<void(const ScanProgress&)> progress;  // called every few MB
    unsigned threads = 2;                              // content-scanning threads, 1 to k_max_scan_threads
};

// Scans the disk (its partitions, or the disk itself when it has no partition table). An
// image with nothing to inspect is not an error: it is reported as findings. Errors are
// reserved for a device that cannot be read at all.
Result<Json> scan_disk(std::shared_ptr<disk::BlockDevice> disk, const ScanOptions& options);

}  // namespace bulwark::scan
