// A feed of OSV advisories: loaded from what osv.dev publishes (a directory of *.json files,
// one record per file or a JSON array of records, or one such file), and saved in a compact
// form for the daemon (JSON lines: one OSV record per line, holding only the fields
// osv_to_json writes).
//
// A bad record is reported (file, record id when known, what is wrong) and skipped; the good
// records still load. The load as a whole fails only when the path cannot be read or a
// feed-wide limit is exceeded.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "vuln/osv.h"

namespace bulwark::vuln {

struct FeedLimits {
    size_t max_record_bytes = 1 << 20; // a file holding one record, or one JSON line
    size_t max_file_bytes = 64 << 20; // a file holding an array, or a JSON lines file
    size_t max_files = 200000; // *.json files in a feed directory
    size_t max_records = 500000; // records in the whole feed
    uint64_t max_total_bytes = 2ULL << 30; // bytes read for the whole feed
    size_t max_problems = 1000; // errors (and warnings) kept; the rest are counted
    OsvLimits record;
};

struct FeedProblem {
    std::string origin; // the file (and ":LINE" for JSON lines), or the caller's label
    std::string record_id; // "" when the record has no usable id
    std::string message;
    std::string describe() const; // "origin: record 'id': message"
};

struct Feed {
    std::vector<Advisory> advisories; // sorted by id, ids unique
};

struct FeedLoad {
    Feed feed;
    std::vector<FeedProblem> errors; // records (or files) that were skipped
    std::vector<FeedProblem> warnings; // records kept with a field dropped
    size_t errors_dropped = 0; // errors beyond max_problems, counted only
    size_t warnings_dropped = 0;
    size_t files = 0; // files read
    size_t records = 0; // records seen, good or bad
    size_t ignored = 0; // good records that name no Debian package
};

// Loads a directory of *.json files (not recursive; symlinks and other non-regular files are
// skipped with an error, names are read in sorted order) or a single file. When two records
// share an id, the one with the later "modified" stays (the first read on a tie) and a
// warning names the other.
Result<FeedLoad> load_feed(const std::string& path, const FeedLimits& limits = {});

// One document: a record or an array of records. origin labels the problems.
Result<FeedLoad> load_feed_text(const std::string& text, const std::string& origin, const FeedLimits& limits = {});

// The compact form: one osv_to_json record per line, in id order.
std::string serialize_feed(const Feed& feed);
Result<FeedLoad> parse_feed_lines(const std::string& text, const std::string& origin, const FeedLimits& limits = {});

} // namespace bulwark::vuln
