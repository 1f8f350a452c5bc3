#include "vuln/feed_store.h"

#include "base/time.h"
#include "store/db.h"

namespace bulwark::vuln {

Json FeedUpdate::to_json() const
{
    Json errors = Json::array();
    for (const auto& e : load.errors)
        errors.push_back(e.describe());
    Json warnings = Json::array();
    for (const auto& w : load.warnings)
        warnings.push_back(w.describe());
    return Json {{"added", added}, {"replaced", replaced}, {"unchanged", unchanged}, {"older", older}, {"files", load.files},
        {"records", load.records}, {"ignored", load.ignored}, {"errors", errors}, {"errors_dropped", load.errors_dropped},
        {"warnings", warnings}, {"warnings_dropped", load.warnings_dropped}};
}

Result<FeedUpdate> FeedStore::update(const std::string& path, const std::string& source_label)
{
    FeedUpdate u;
    u.load = TRY(load_feed(path));
    TRY(m_db.transaction([&]() -> VoidResult {
        for (const auto& a : u.load.feed.advisories) {
            std::string record = json_dump(osv_to_json(a));
            auto row = TRY(m_db.query_one("SELECT modified, record FROM advisories WHERE id = ?", {a.id}));
            if (!row) {
                TRY(m_db.exec("INSERT INTO advisories (id, modified, record) VALUES (?, ?, ?)", {a.id, a.modified, record}));
                ++u.added;
            } else if (row->text(1) == record) {
                ++u.unchanged;
            } else if (a.modified >= row->text(0)) {
                // RFC 3339 times in UTC compare as strings.
                TRY(m_db.exec("UPDATE advisories SET modified = ?, record = ? WHERE id = ?", {a.modified, record, a.id}));
                ++u.replaced;
            } else {
                ++u.older;
            }
        }
        TRY(m_db.exec("INSERT INTO vuln_updates (time, source, records, errors) VALUES (?, ?, ?, ?)",
            {now_rfc3339(), source_label, static_cast<int64_t>(u.load.records),
                static_cast<int64_t>(u.load.errors.size() + u.load.errors_dropped)}));
        return {};
    }));
    std::lock_guard lock(m_mutex);
    m_loaded = false;
    m_index.reset();
    return u;
}

Result<Json> FeedStore::status()
{
    auto count = TRY(m_db.query_one("SELECT COUNT(*) FROM advisories"));
    auto last = TRY(m_db.query_one("SELECT time, source FROM vuln_updates ORDER BY id DESC LIMIT 1"));
    return Json {{"advisories", count ? count->integer(0) : 0}, {"updated", last ? Json(last->text(0)) : Json(nullptr)},
        {"source", last ? Json(last->text(1)) : Json(nullptr)}};
}

Result<std::shared_ptr<const AdvisoryIndex>> FeedStore::index()
{
    std::lock_guard lock(m_mutex);
    if (m_loaded)
        return m_index;
    std::string lines;
    for (const auto& row : TRY(m_db.query("SELECT record FROM advisories ORDER BY id"))) {
        lines += row.text(0);
        lines += '\n';
    }
    if (lines.empty()) {
        m_index.reset();
    } else {
        // The records were written by update() from parsed advisories; a failure here is a
        // damaged database, not a bad feed.
        FeedLimits limits;
        limits.max_file_bytes = std::max(limits.max_file_bytes, lines.size() + 1);
        auto feed = TRY_CTX(parse_feed_lines(lines, "the advisory store", limits), "the advisory store");
        if (!feed.errors.empty())
            return Error(ErrorKind::Corrupt, "the advisory store holds unreadable records: " + feed.errors.front().describe());
        m_index = std::make_shared<const AdvisoryIndex>(std::move(feed.feed));
    }
    m_loaded = true;
    return m_index;
}

}  // namespace bulwark::vuln
