// The audit log: a hash chain in which every entry commits together with a checkpoint (the
// host key's signature over the new head). These tests tamper with the database directly (as
// someone with write access to it but not the key would) and check what audit_log.cpp
// guarantees verify() reports:
//   - a modified entry (its hash no longer matches);
//   - a removed, inserted or reordered entry (seq gap or broken prev link);
//   - an entry without its own valid checkpoint (forged, or its checkpoint removed), also
//     once later genuine entries have been appended after it;
//   - a checkpoint with a bad signature, or naming an entry that is gone or differs;
// that close_interrupted() closes only intents a valid checkpoint covers; and, as a limit:
// removing the newest entries together with their checkpoints leaves a consistent shorter
// log, visible only as a lower last_signed_seq.
#include <gtest/gtest.h>

#include <set>

#include "audit/audit_log.h"
#include "base/hash.h"
#include "crypto/signing_key.h"
#include "store/db.h"
#include "test_util.h"

namespace bulwark {
namespace {

using test::is_ok;
using test::TempDir;

class Audit : public ::testing::Test {
protected:
    void SetUp() override { fresh(); }

    // Starts over with an empty log in a new database.
    void fresh()
    {
        m_log.reset();
        m_db.reset();
        auto db = Db::open(m_dir.file("audit" + std::to_string(++m_generation) + ".db"));
        ASSERT_TRUE(is_ok(db));
        m_db = db.release_value();
        // Durability is not under test here, and an fsync per entry makes these slow.
        ASSERT_TRUE(is_ok(m_db->exec("PRAGMA synchronous=OFF")));
        m_log = std::make_unique<AuditLog>(*m_db, m_key);
    }

    // Three complete operations and one in flight: seq 1..7 (intents 1,3,5,7; results 2,4,6).
    void record_history()
    {
        for (int i = 0; i < 3; ++i) {
            auto seq = m_log->record_intent("uid=1000(alice) pid=42", "vm.start", "vm:web" + std::to_string(i),
                Json {{"name", "web" + std::to_string(i)}});
            ASSERT_TRUE(is_ok(seq));
            ASSERT_TRUE(is_ok(m_log->record_result(seq.value(), i == 1 ? "error" : "ok",
                i == 1 ? Json {{"error", "no such image"}} : Json::object())));
        }
        auto pending = m_log->record_intent("uid=0(root) pid=1", "vm.rm", "vm:db", Json {{"name", "db"}});
        ASSERT_TRUE(is_ok(pending));
        ASSERT_EQ(pending.value(), 7);
    }

    AuditReport verify()
    {
        auto r = m_log->verify(m_key.public_key());
        EXPECT_TRUE(is_ok(r));
        return r.is_ok() ? r.release_value() : AuditReport {};
    }

    static std::string problems(const AuditReport& r)
    {
        std::string s;
        for (const auto& p : r.problems)
            s += "  " + p + "\n";
        return s;
    }

    static bool mentions(const AuditReport& r, const std::string& needle)
    {
        for (const auto& p : r.problems) {
            if (p.find(needle) != std::string::npos)
                return true;
        }
        return false;
    }

    void exec(const std::string& sql, const std::vector<SqlValue>& params = {})
    {
        ASSERT_TRUE(is_ok(m_db->exec(sql, params))) << sql;
    }

    std::vector<AuditEntry> entries()
    {
        auto t = m_log->tail(1000);
        EXPECT_TRUE(is_ok(t));
        return t.is_ok() ? t.release_value() : std::vector<AuditEntry> {};
    }

    // Appends an entry with a correct chain link and hash, as a forger without the key could.
    AuditEntry forge_append(const std::string& phase, const std::string& outcome)
    {
        auto all = entries();
        AuditEntry e;
        e.seq = all.empty() ? 1 : all.back().seq + 1;
        e.prev_hash = all.empty() ? std::string(64, '0') : all.back().hash;
        e.time = "2030-01-01T00:00:00.000Z";
        e.actor = "uid=1000(alice) pid=42";
        e.action = "vm.rm";
        e.target = "vm:web0";
        e.phase = phase;
        e.outcome = outcome;
        e.detail = Json {{"intent", 7}}.dump();
        e.hash = e.compute_hash();
        exec("INSERT INTO audit (seq, time, actor, action, target, phase, outcome, detail, prev_hash, hash) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {e.seq, e.time, e.actor, e.action, e.target, e.phase, e.outcome, e.detail, e.prev_hash, e.hash});
        return e;
    }

    TempDir m_dir;
    int m_generation = 0;
    SigningKey m_key = SigningKey::generate();
    std::unique_ptr<Db> m_db;
    std::unique_ptr<AuditLog> m_log;
};

TEST_F(Audit, HonestLogVerifies)
{
    {
        SCOPED_TRACE("HonestLogVerifies");
        fresh();
        record_history();
        auto r = verify();
        EXPECT_TRUE(r.ok) << problems(r);
        EXPECT_EQ(r.entries, 7);
        EXPECT_EQ(r.checkpoints, 7);  // one per entry
        EXPECT_EQ(r.last_signed_seq, 7);

        auto all = entries();
        ASSERT_EQ(all.size(), 7u);
        EXPECT_EQ(all[0].prev_hash, std::string(64, '0'));
        for (size_t i = 0; i < all.size(); ++i) {
            EXPECT_EQ(all[i].seq, static_cast<int64_t>(i + 1));
            EXPECT_EQ(all[i].hash, all[i].compute_hash());
            if (i > 0) {
                EXPECT_EQ(all[i].prev_hash, all[i - 1].hash);
            }
        }
        // A result repeats its intent's actor, action and target and points back at it.
        EXPECT_EQ(all[1].phase, "result");
        EXPECT_EQ(all[1].target, "vm:web0");
        EXPECT_EQ(Json::parse(all[1].detail)["intent"], 1);
        EXPECT_EQ(all[3].outcome, "error");
    }
    {
        SCOPED_TRACE("EmptyLogVerifies");
        fresh();
        auto r = verify();
        EXPECT_TRUE(r.ok) << problems(r);
        EXPECT_EQ(r.entries, 0);
    }
    {
        SCOPED_TRACE("TailReturnsNewestInOrder");
        fresh();
        record_history();
        auto t = m_log->tail(3);
        ASSERT_TRUE(is_ok(t));
        ASSERT_EQ(t.value().size(), 3u);
        EXPECT_EQ(t.value()[0].seq, 5);
        EXPECT_EQ(t.value()[2].seq, 7);
    }
    {
        SCOPED_TRACE("ResultForMissingIntentRefused");
        fresh();
        record_history();
        EXPECT_TRUE(m_log->record_result(999, "ok", Json::object()).is_error());
        EXPECT_TRUE(m_log->record_result(2, "ok", Json::object()).is_error());  // 2 is a result, not an intent
    }
}

TEST_F(Audit, ModifiedEntriesDetected)
{
    {
        SCOPED_TRACE("ModifiedDetailDetected");
        fresh();
        record_history();
        exec("UPDATE audit SET detail = ? WHERE seq = 3", {Json {{"name", "evil"}}.dump()});
        auto r = verify();
        EXPECT_FALSE(r.ok);
        EXPECT_TRUE(mentions(r, "entry 3 was modified")) << problems(r);
    }
    {
        SCOPED_TRACE("ModifiedFieldsEachDetected");
        fresh();
        record_history();
        for (const char* column : {"time", "actor", "action", "target", "phase", "outcome", "prev_hash", "hash"}) {
            std::string col = column;
            auto original = m_db->query_one("SELECT " + col + " FROM audit WHERE seq = 4");
            ASSERT_TRUE(is_ok(original));
            exec("UPDATE audit SET " + col + " = 'x' WHERE seq = 4");
            auto r = verify();
            EXPECT_FALSE(r.ok) << column;
            EXPECT_TRUE(mentions(r, "entry 4") || mentions(r, "entry 5")) << column << "\n" << problems(r);
            exec("UPDATE audit SET " + col + " = ? WHERE seq = 4", {original.value()->text(0)});
            auto restored = verify();
            EXPECT_TRUE(restored.ok) << column << "\n" << problems(restored);
        }
    }
    {
        SCOPED_TRACE("ModifiedLatestIntentDetected");
        fresh();
        // The newest entry is an unsigned intent: its own hash still protects it.
        record_history();
        exec("UPDATE audit SET target = 'vm:other' WHERE seq = 7");
        auto r = verify();
        EXPECT_FALSE(r.ok);
        EXPECT_TRUE(mentions(r, "entry 7 was modified")) << problems(r);
    }
}

TEST_F(Audit, RehashedChainCaughtByCheckpoint)
{
    // Modify entry 3 and recompute every hash after it: the chain is consistent again, but
    // the signed checkpoints from 3 on no longer match.
    record_history();
    auto all = entries();
    all[2].detail = Json {{"name", "rewritten"}}.dump();
    std::string prev = all[1].hash;
    for (size_t i = 2; i < all.size(); ++i) {
        all[i].prev_hash = prev;
        all[i].hash = all[i].compute_hash();
        prev = all[i].hash;
        exec("UPDATE audit SET detail = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            {all[i].detail, all[i].prev_hash, all[i].hash, all[i].seq});
    }
    auto r = verify();
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(mentions(r, "differs from the one its signed checkpoint covers")) << problems(r);
    EXPECT_TRUE(mentions(r, "entry 3 is not covered by")) << problems(r);
    EXPECT_EQ(r.last_signed_seq, 2);
}

TEST_F(Audit, RemovedReorderedOrInsertedEntriesDetected)
{
    {
        SCOPED_TRACE("DeletedMiddleEntryDetected");
        fresh();
        record_history();
        exec("DELETE FROM audit WHERE seq = 3");
        auto r = verify();
        EXPECT_FALSE(r.ok);
        EXPECT_TRUE(mentions(r, "missing")) << problems(r);
        EXPECT_TRUE(mentions(r, "entry 4 does not link")) << problems(r);
    }
    {
        SCOPED_TRACE("DeletedMiddleEntryWithRenumberingDetected");
        fresh();
        // Close the seq gap by renumbering: the prev links still break.
        record_history();
        exec("DELETE FROM audit WHERE seq = 3");
        for (int s = 4; s <= 7; ++s)
            exec("UPDATE audit SET seq = ? WHERE seq = ?", {int64_t(s - 1), int64_t(s)});
        auto r = verify();
        EXPECT_FALSE(r.ok) << problems(r);
        EXPECT_FALSE(mentions(r, "missing")) << problems(r);
        EXPECT_TRUE(mentions(r, "does not link")) << problems(r);
    }
    {
        SCOPED_TRACE("SwappedEntriesDetected");
        fresh();
        // Swap the contents of entries 3 and 5, keeping their seq numbers.
        record_history();
        auto all = entries();
        const AuditEntry a = all[2];
        const AuditEntry b = all[4];
        auto write = [&](int64_t seq, const AuditEntry& e) {
            exec("UPDATE audit SET time = ?, actor = ?, action = ?, target = ?, phase = ?, outcome = ?, detail = ?, "
                 "prev_hash = ?, hash = ? WHERE seq = ?",
                {e.time, e.actor, e.action, e.target, e.phase, e.outcome, e.detail, e.prev_hash, e.hash, seq});
        };
        write(3, b);
        write(5, a);
        auto r = verify();
        EXPECT_FALSE(r.ok);
        EXPECT_TRUE(mentions(r, "entry 3")) << problems(r);
        EXPECT_TRUE(mentions(r, "entry 5")) << problems(r);
    }
    {
        SCOPED_TRACE("SwappedSeqNumbersDetected");
        fresh();
        // Reorder by swapping the seq numbers of two rows (contents move with them).
        record_history();
        exec("UPDATE audit SET seq = -1 WHERE seq = 3");
        exec("UPDATE audit SET seq = 3 WHERE seq = 5");
        exec("UPDATE audit SET seq = 5 WHERE seq = -1");
        auto r = verify();
        EXPECT_FALSE(r.ok);
        EXPECT_TRUE(mentions(r, "entry 3")) << problems(r);
    }
    {
        SCOPED_TRACE("InsertedEntryDetected");
        fresh();
        // Make room at seq 4 and insert a forged entry with a correct hash linking to 3.
        record_history();
        for (int s = 7; s >= 4; --s)
            exec("UPDATE audit SET seq = ? WHERE seq = ?", {int64_t(s + 1), int64_t(s)});
        auto all = entries();
        AuditEntry e;
        e.seq = 4;
        e.prev_hash = all[2].hash;
        e.time = all[2].time;
        e.actor = "mallory";
        e.action = "vm.start";
        e.target = "vm:x";
        e.phase = "intent";
        e.outcome = "pending";
        e.detail = "{}";
        e.hash = e.compute_hash();
        exec("INSERT INTO audit (seq, time, actor, action, target, phase, outcome, detail, prev_hash, hash) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {e.seq, e.time, e.actor, e.action, e.target, e.phase, e.outcome, e.detail, e.prev_hash, e.hash});
        auto r = verify();
        EXPECT_FALSE(r.ok) << problems(r);
    }
}

TEST_F(Audit, RemovedHeadOrCheckpointDetected)
{
    {
        SCOPED_TRACE("DeletedLastResultKeepingCheckpointDetected");
        fresh();
        record_history();
        exec("DELETE FROM audit WHERE seq >= 6");
        auto r = verify();
        EXPECT_FALSE(r.ok);
        EXPECT_TRUE(mentions(r, "checkpoint at entry 6 names an entry that is no longer in the log")) << problems(r);
    }
    {
        SCOPED_TRACE("DeletedLastCheckpointOnlyDetected");
        fresh();
        record_history();
        exec("DELETE FROM audit_checkpoints WHERE seq = 7");
        auto r = verify();
        EXPECT_FALSE(r.ok);
        EXPECT_TRUE(mentions(r, "entry 7 is not covered by")) << problems(r);
    }
    {
        SCOPED_TRACE("DeletedMiddleCheckpointDetected");
        fresh();
        // Every entry commits with its own checkpoint, so a missing one in the middle is a
        // problem even though a later checkpoint covers the chain.
        record_history();
        exec("DELETE FROM audit_checkpoints WHERE seq = 4");
        auto r = verify();
        EXPECT_FALSE(r.ok);
        EXPECT_TRUE(mentions(r, "entry 4 is not covered by")) << problems(r);
        EXPECT_EQ(r.last_signed_seq, 7);
    }
}

TEST_F(Audit, DeletedTailWithCheckpointsLowersSignedHead)
{
    // What the implementation guarantees here is limited: with the newest entries and their
    // checkpoints all removed, the rest is a consistent shorter log (the intent at 5 looks in
    // flight). The removal shows only as a lower last_signed_seq, which an observer who
    // remembered the previous value (audit.verify output) can compare.
    record_history();
    auto before = verify();
    ASSERT_EQ(before.last_signed_seq, 7);
    exec("DELETE FROM audit WHERE seq >= 6");
    exec("DELETE FROM audit_checkpoints WHERE seq >= 6");
    auto r = verify();
    EXPECT_EQ(r.last_signed_seq, 5);
    EXPECT_EQ(r.checkpoints, 5);
    // The orphaned (but genuine, signed) intent is closed as interrupted at the next start.
    auto closed = m_log->close_interrupted();
    ASSERT_TRUE(is_ok(closed));
    EXPECT_EQ(closed.value(), 1);
    auto after = verify();
    EXPECT_TRUE(after.ok) << problems(after);
    EXPECT_EQ(entries().back().outcome, "interrupted");
}

TEST_F(Audit, ForgedEntriesDetected)
{
    {
        SCOPED_TRACE("ForgedResultWithoutCheckpointDetected");
        fresh();
        record_history();
        AuditEntry forged = forge_append("result", "ok");
        auto r = verify();
        EXPECT_FALSE(r.ok);
        EXPECT_TRUE(mentions(r, "entry " + std::to_string(forged.seq) + " is not covered by"))
            << problems(r);
    }
    {
        SCOPED_TRACE("ForgedIntentWithoutCheckpointDetected");
        fresh();
        record_history();
        AuditEntry forged = forge_append("intent", "pending");
        auto r = verify();
        EXPECT_FALSE(r.ok);
        EXPECT_TRUE(mentions(r, "entry " + std::to_string(forged.seq) + " is not covered by"))
            << problems(r);
    }
}

TEST_F(Audit, CloseInterruptedClosesOnlySignedIntents)
{
    {
        SCOPED_TRACE("CloseInterruptedClosesOpenIntents");
        fresh();
        auto a = m_log->record_intent("me", "vm.start", "vm:a", Json::object());
        auto b = m_log->record_intent("me", "vm.start", "vm:b", Json::object());
        ASSERT_TRUE(is_ok(a));
        ASSERT_TRUE(is_ok(b));
        ASSERT_TRUE(is_ok(m_log->record_result(a.value(), "ok", Json::object())));
        auto c = m_log->record_intent("me", "vm.stop", "vm:c", Json::object());
        ASSERT_TRUE(is_ok(c));

        auto closed = m_log->close_interrupted();
        ASSERT_TRUE(is_ok(closed));
        EXPECT_EQ(closed.value(), 2);

        auto all = entries();
        ASSERT_EQ(all.size(), 6u);
        std::set<int64_t> closed_intents;
        for (const auto& e : all) {
            if (e.outcome == "interrupted") {
                EXPECT_EQ(e.phase, "result");
                closed_intents.insert(Json::parse(e.detail)["intent"].get<int64_t>());
            }
        }
        EXPECT_EQ(closed_intents, (std::set<int64_t> {b.value(), c.value()}));
        auto r = verify();
        EXPECT_TRUE(r.ok) << problems(r);
        EXPECT_EQ(r.last_signed_seq, 6);
        EXPECT_EQ(r.checkpoints, 6);

        auto again = m_log->close_interrupted();
        ASSERT_TRUE(is_ok(again));
        EXPECT_EQ(again.value(), 0);
    }
    {
        SCOPED_TRACE("CloseInterruptedDoesNotSignForgedIntent");
        fresh();
        // A forged open intent at the head: close_interrupted must neither close it nor extend
        // the chain over it.
        record_history();
        auto closed_genuine = m_log->close_interrupted();  // closes the genuine intent 7
        ASSERT_TRUE(is_ok(closed_genuine));
        ASSERT_EQ(closed_genuine.value(), 1);
        AuditEntry forged = forge_append("intent", "pending");
        auto closed = m_log->close_interrupted();
        ASSERT_TRUE(is_ok(closed));
        EXPECT_EQ(closed.value(), 0);
        EXPECT_EQ(entries().back().seq, forged.seq);
        auto r = verify();
        EXPECT_FALSE(r.ok);
    }
}

// A new entry links to whatever row is last in the table, and its checkpoint signs that head:
// a forged entry must stay visible after the daemon appends genuine entries over it.
TEST_F(Audit, ForgedEntryNotLaunderedByNextAppend)
{
    record_history();
    forge_append("result", "ok");
    ASSERT_FALSE(verify().ok);
    auto next = m_log->record_intent("uid=0(root) pid=1", "vm.start", "vm:web0", Json::object());
    if (next.is_ok()) {  // refusing to extend an unsigned head would be fine too
        ASSERT_TRUE(is_ok(m_log->record_result(next.value(), "ok", Json::object())));
        auto r = verify();
        EXPECT_FALSE(r.ok);
        EXPECT_TRUE(mentions(r, "entry 8 is not covered by")) << problems(r);
        EXPECT_FALSE(mentions(r, "entry 9")) << problems(r);
        EXPECT_FALSE(mentions(r, "entry 10")) << problems(r);
    }
}

TEST_F(Audit, BadCheckpointSignaturesDetected)
{
    {
        SCOPED_TRACE("ForgedResultWithForeignKeyCheckpointDetected");
        fresh();
        record_history();
        AuditEntry forged = forge_append("result", "ok");
        auto other = SigningKey::generate();
        std::string msg = "bulwark-audit-checkpoint:" + std::to_string(forged.seq) + ":" + forged.hash;
        exec("INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES (?, ?, ?, ?)",
            {forged.seq, forged.hash, std::string("2030-01-01T00:00:00.000Z"), to_hex(other.sign(msg))});
        auto r = verify();
        EXPECT_FALSE(r.ok);
        EXPECT_TRUE(mentions(r, "checkpoint at entry " + std::to_string(forged.seq) + " has an invalid signature"))
            << problems(r);
        EXPECT_TRUE(mentions(r, "not covered by")) << problems(r);
        EXPECT_EQ(r.last_signed_seq, 7);
    }
    {
        SCOPED_TRACE("ReplayedCheckpointSignatureDetected");
        fresh();
        // Reuse the valid signature of checkpoint 7 for a forged entry 8.
        record_history();
        AuditEntry forged = forge_append("result", "ok");
        auto sig = m_db->query_one("SELECT signature FROM audit_checkpoints WHERE seq = 7");
        ASSERT_TRUE(is_ok(sig));
        exec("INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES (?, ?, ?, ?)",
            {forged.seq, forged.hash, std::string("t"), sig.value()->text(0)});
        auto r = verify();
        EXPECT_FALSE(r.ok);
        EXPECT_TRUE(mentions(r, "invalid signature")) << problems(r);
    }
    {
        SCOPED_TRACE("GarbageCheckpointSignatureDetected");
        fresh();
        record_history();
        exec("UPDATE audit_checkpoints SET signature = 'not hex' WHERE seq = 6");
        auto r = verify();
        EXPECT_FALSE(r.ok);
        EXPECT_TRUE(mentions(r, "checkpoint at entry 6 has an invalid signature")) << problems(r);
        EXPECT_TRUE(mentions(r, "entry 6 is not covered by")) << problems(r);
        EXPECT_EQ(r.last_signed_seq, 7);
        exec("UPDATE audit_checkpoints SET signature = 'not hex' WHERE seq = 7");
        auto r2 = verify();
        EXPECT_TRUE(mentions(r2, "entry 7 is not covered by")) << problems(r2);
    }
    {
        SCOPED_TRACE("VerifyWithWrongPublicKeyFails");
        fresh();
        record_history();
        auto other = SigningKey::generate();
        auto r = m_log->verify(other.public_key());
        ASSERT_TRUE(is_ok(r));
        EXPECT_FALSE(r.value().ok);
        EXPECT_EQ(r.value().last_signed_seq, 0);
    }
}

TEST_F(Audit, HostileStringsAreRecordedVerbatim)
{
    std::string actor = "x'); DROP TABLE audit;--";
    auto seq = m_log->record_intent(actor, "vm.exec", "vm:\"quoted\"\n", Json {{"argv", {"sh", "-c", "echo '\\\"'"}}});
    ASSERT_TRUE(is_ok(seq));
    ASSERT_TRUE(is_ok(m_log->record_result(seq.value(), "error", Json {{"error", std::string(5000, 'e')}})));
    auto r = verify();
    EXPECT_TRUE(r.ok) << problems(r);
    EXPECT_EQ(entries().front().actor, actor);
}

// Error messages are cut with substr (names.cpp, guest_agent.cpp, handlers.cpp), which can
// split a UTF-8 sequence, and ApiHandlers::handle records the message as the result detail:
// the audit log must store and hash such bytes without throwing.
TEST_F(Audit, ResultDetailWithInvalidUtf8DoesNotThrow)
{
    auto seq = m_log->record_intent("me", "vm.exec", "vm:a", Json::object());
    ASSERT_TRUE(is_ok(seq));
    std::string cut = std::string("the guest agent refused guest-exec: ") + std::string(500, '\xc3');
    EXPECT_NO_THROW({
        auto r = m_log->record_result(seq.value(), "error", Json {{"error", cut}});
        EXPECT_TRUE(is_ok(r));
    });
    auto r = verify();
    EXPECT_TRUE(r.ok) << problems(r);
}

}  // namespace
}  // namespace bulwark
