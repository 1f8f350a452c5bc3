// The advisory feed bulwarkd keeps: OSV records in SQLite (table advisories), loaded from
// local files with `bulwark vuln update`, and an in-memory index for matching.
#pragma once

#include <memory>
#include <mutex>

#include "base/json.h"
#include "base/result.h"
#include "vuln/feed.h"
#include "vuln/matcher.h"

namespace bulwark {
class Db;
}

namespace bulwark::vuln {

struct FeedUpdate {
    size_t added = 0;      // advisories not known before
    size_t replaced = 0;   // known ones whose record changed (same or newer `modified`)
    size_t unchanged = 0;
    size_t older = 0;      // records older than the stored one: kept the stored one
    FeedLoad load;         // what was read: errors and warnings per record
    Json to_json() const;
};

class FeedStore {
public:
    explicit FeedStore(Db& db) : m_db(db) {}

    // Loads path (a directory of *.json files or one file) and merges it into the store, in
    // one transaction. Bad records are skipped and reported; the good ones are stored.
    Result<FeedUpdate> update(const std::string& path, const std::string& source_label);

    // {advisories, updated, source} ("updated" null when never updated).
    Result<Json> status();

    // The index of every stored advisory, built on first use and after each update. Null when
    // the store is empty.
    Result<std::shared_ptr<const AdvisoryIndex>> index();

private:
    Db& m_db;
    std::mutex m_mutex;
    std::shared_ptr<const AdvisoryIndex> m_index;
    bool m_loaded = false;
};

}  // namespace bulwark::vuln
