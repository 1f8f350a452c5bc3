#include "audit/audit_log.h"

#include <algorithm>
#include <map>
#include <set>

#include "base/hash.h"
#include "base/log.h"
#include "base/time.h"
#include "crypto/signing_key.h"
#include "store/db.h"

namespace bulwark {

static const std::string k_genesis(64, '0');

Json AuditEntry::to_json() const
{
    Json detail_json = Json::parse(detail, nullptr, false);
    return Json{{"seq", seq}, {"time", time}, {"actor", actor}, {"action", action}, {"target", target},
        {"phase", phase}, {"outcome", outcome}, {"detail", detail_json.is_discarded() ? Json(detail) : detail_json},
        {"prev_hash", prev_hash}, {"hash", hash}};
}

std::string AuditEntry::compute_hash() const
{
    Json canonical{{"action", action}, {"actor", actor}, {"detail", detail}, {"outcome", outcome},
        {"phase", phase}, {"prev", prev_hash}, {"seq", seq}, {"target", target}, {"time", time}};
    return to_hex(Sha256::of(json_dump(canonical)));
}

static std::string checkpoint_message(int64_t seq, const std::string& hash)
{
    return "bulwark-audit-checkpoint:" + std::to_string(seq) + ":" + hash;
}

static AuditEntry entry_from_row(const Row& r)
{
    AuditEntry e;
    e.seq = r.integer(0);
    e.time = r.text(1);
    e.actor = r.text(2);
    e.action = r.text(3);
    e.target = r.text(4);
    e.phase = r.text(5);
    e.outcome = r.text(6);
    e.detail = r.text(7);
    e.prev_hash = r.text(8);
    e.hash = r.text(9);
    return e;
}

static const char* k_columns = "seq, time, actor, action, target, phase, outcome, detail, prev_hash, hash";

Result<AuditEntry> AuditLog::append(const std::string& actor, const std::string& action, const std::string& target,
    const std::string& phase, const std::string& outcome, const Json& detail)
{
    // Called inside a transaction (see record_intent / record_result).
    {
        auto last = TRY(m_db.query_one("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"));
        AuditEntry e;
        e.seq = last ? last->integer(0) + 1 : 1;
        e.prev_hash = last ? last->text(1) : k_genesis;
        e.time = now_rfc3339();
        e.actor = actor;
        e.action = action;
        e.target = target;
        e.phase = phase;
        e.outcome = outcome;
        e.detail = json_dump(detail);
        e.hash = e.compute_hash();
        TRY(m_db.exec("INSERT INTO audit (seq, time, actor, action, target, phase, outcome, detail, prev_hash, hash) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {e.seq, e.time, e.actor, e.action, e.target, e.phase, e.outcome, e.detail, e.prev_hash, e.hash}));
        return e;
    }
}

VoidResult AuditLog::checkpoint(const AuditEntry& head)
{
    std::string sig = m_key.sign(checkpoint_message(head.seq, head.hash));
    return m_db.exec("INSERT OR REPLACE INTO audit_checkpoints (seq, hash, time, signature) VALUES (?, ?, ?, ?)",
        {head.seq, head.hash, now_rfc3339(), to_hex(sig)});
}

Result<int64_t> AuditLog::record_intent(const std::string& actor, const std::string& action,
    const std::string& target, const Json& detail)
{
    std::lock_guard lock(m_mutex);
    // Every entry commits together with a signed checkpoint over it: there is no moment at
    // which a genuine entry exists unsigned, so an unsigned entry can only be a forgery.
    return m_db.transaction([&]() -> Result<int64_t> {
        auto e = TRY(append(actor, action, target, "intent", "pending", detail));
        TRY(checkpoint(e));
        return e.seq;
    });
}

VoidResult AuditLog::record_result(int64_t intent_seq, const std::string& outcome, const Json& detail)
{
    std::lock_guard lock(m_mutex);
    auto intent = TRY(m_db.query_one("SELECT actor, action, target FROM audit WHERE seq = ? AND phase = 'intent'", {intent_seq}));
    if (!intent)
        return Error(ErrorKind::Internal, "audit intent " + std::to_string(intent_seq) + " does not exist");
    Json d = detail;
    d["intent"] = intent_seq;
    return m_db.transaction([&]() -> VoidResult {
        auto e = TRY(append(intent->text(0), intent->text(1), intent->text(2), "result", outcome, d));
        return checkpoint(e);
    });
}

Result<int> AuditLog::close_interrupted()
{
    // Only an intent with its own valid checkpoint is genuine; closing (and so signing over)
    // a forged one would launder it.
    std::string columns;
    for (const char* c : {"seq", "time", "actor", "action", "target", "phase", "outcome", "detail", "prev_hash", "hash"})
        columns += std::string(columns.empty() ? "" : ", ") + "i." + c;
    auto open_intents = TRY(m_db.query("SELECT " + columns + ", c.hash, c.signature FROM audit i "
                                       "JOIN audit_checkpoints c ON c.seq = i.seq WHERE i.phase = 'intent' AND NOT EXISTS ("
                                       "SELECT 1 FROM audit r WHERE r.phase = 'result' AND json_extract(r.detail, '$.intent') = i.seq) "
                                       "ORDER BY i.seq"));
    std::vector<int64_t> rows;
    for (const auto& r : open_intents) {
        AuditEntry e = entry_from_row(r);
        auto sig = from_hex(r.text(11));
        if (sig && e.hash == r.text(10) && e.compute_hash() == e.hash
            && verify_signature(m_key.public_key(), checkpoint_message(e.seq, e.hash), *sig))
            rows.push_back(e.seq);
        else
            log::warn("audit entry " + std::to_string(e.seq) + " looks forged; it is left for audit verify to report");
    }
    for (int64_t seq : rows)
        TRY(record_result(seq, "interrupted",
            Json{{"message", "bulwarkd stopped before the operation finished; see the guest's events for what it left"}}));
    return static_cast<int>(rows.size());
}

Result<std::vector<AuditEntry>> AuditLog::tail(int64_t count)
{
    auto rows = TRY(m_db.query(std::string("SELECT ") + k_columns + " FROM (SELECT " + k_columns
            + " FROM audit ORDER BY seq DESC LIMIT ?) ORDER BY seq",
        {count}));
    std::vector<AuditEntry> out;
    for (const auto& r : rows)
        out.push_back(entry_from_row(r));
    return out;
}

Json AuditReport::to_json() const
{
    return Json{{"ok", ok}, {"entries", entries}, {"checkpoints", checkpoints}, {"last_signed_seq", last_signed_seq},
        {"problems", problems}};
}

Result<AuditReport> AuditLog::verify(const std::string& public_key)
{
    std::lock_guard lock(m_mutex);
    AuditReport report;
    auto rows = TRY(m_db.query(std::string("SELECT ") + k_columns + " FROM audit ORDER BY seq"));
    std::string prev = k_genesis;
    int64_t expected_seq = 1;
    std::map<int64_t, std::string> hashes;
    for (const auto& r : rows) {
        AuditEntry e = entry_from_row(r);
        ++report.entries;
        if (e.seq != expected_seq) {
            report.problems.push_back("entries " + std::to_string(expected_seq) + " to " + std::to_string(e.seq - 1)
                + " are missing");
        }
        if (e.prev_hash != prev)
            report.problems.push_back("entry " + std::to_string(e.seq)
                + " does not link to the entry before it (removed, inserted or reordered entries)");
        if (e.compute_hash() != e.hash)
            report.problems.push_back("entry " + std::to_string(e.seq) + " was modified after it was written (its hash does not match)");
        hashes[e.seq] = e.hash;
        prev = e.hash;
        expected_seq = e.seq + 1;
    }

    // Every entry is committed together with a checkpoint over it, so every entry must have
    // its own valid checkpoint: one without was added by someone who lacks the key, however
    // well it links into the chain.
    auto cps = TRY(m_db.query("SELECT seq, hash, signature FROM audit_checkpoints ORDER BY seq"));
    std::set<int64_t> signed_entries;
    for (const auto& c : cps) {
        ++report.checkpoints;
        int64_t seq = c.integer(0);
        std::string hash = c.text(1);
        auto sig = from_hex(c.text(2));
        if (!sig || !verify_signature(public_key, checkpoint_message(seq, hash), *sig)) {
            report.problems.push_back("checkpoint at entry " + std::to_string(seq) + " has an invalid signature");
            continue;
        }
        auto it = hashes.find(seq);
        if (it == hashes.end()) {
            report.problems.push_back("signed checkpoint at entry " + std::to_string(seq)
                + " names an entry that is no longer in the log (entries were removed)");
        } else if (it->second != hash) {
            report.problems.push_back("entry " + std::to_string(seq) + " differs from the one its signed checkpoint covers");
        } else {
            signed_entries.insert(seq);
            report.last_signed_seq = std::max(report.last_signed_seq, seq);
        }
    }
    for (const auto& [seq, hash] : hashes) {
        if (!signed_entries.count(seq))
            report.problems.push_back("entry " + std::to_string(seq) + " is not covered by a signed checkpoint (forged, or its checkpoint removed)");
    }
    report.ok = report.problems.empty();
    return report;
}

}  // namespace bulwark
