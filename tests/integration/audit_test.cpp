// The audit trail: every state change is recorded before it takes effect, hash-chained and
// signed; `audit verify` finds an edited, removed or reordered entry.
#include <sqlite3.h>

#include "audit/audit_log.h"
#include "harness/harness.h"

using namespace bulwark;
using namespace bulwark::test;

namespace {

class Audit : public ::testing::Test {
protected:
    void SetUp() override
    {
        h.start_daemon();
        std::string img = h.dir() + "/raw.img";
        ASSERT_EQ(run({"truncate", "-s", "1M", img}).code, 0);
        ASSERT_EQ(h.cli({"image", "import", img, "--name", "tiny"}).code, 0);
        ASSERT_EQ(h.cli({"vm", "create", "g1", "--image", "tiny"}).code, 0);
        ASSERT_NE(h.cli({"vm", "create", "g1", "--image", "tiny"}).code, 0);  // a failed one is audited too
        ASSERT_EQ(h.cli({"vm", "rm", "g1"}).code, 0);
    }

    // Tampering happens with the daemon down, as an attacker with the disk would do it.
    void tamper_and_expect_caught(const std::string& statement, const std::string& expect)
    {
        ASSERT_EQ(h.cli({"audit", "verify"}).code, 0);
        h.stop_daemon();
        exec_sql(h.home() + "/bulwark.db", statement);
        h.start_daemon();
        auto r = h.cli({"audit", "verify"});
        EXPECT_EQ(r.code, 5) << r.output;
        EXPECT_NE(r.output.find(expect), std::string::npos) << r.output;
    }
    Harness h;
};

}  // namespace

TEST_F(Audit, RecordsIntentAndOutcomeOfEveryChange)
{
    auto entries = h.cli_json({"audit", "tail", "-n", "100"});
    // import, create, failed create, rm: each an intent and a result.
    ASSERT_EQ(entries.size(), 8u) << entries.dump(2);
    std::vector<std::string> seen;
    for (const auto& e : entries)
        seen.push_back(e["action"].get<std::string>() + "/" + e["phase"].get<std::string>() + "/" + e["outcome"].get<std::string>());
    std::vector<std::string> expected {"image.import/intent/pending", "image.import/result/ok", "vm.create/intent/pending",
        "vm.create/result/ok", "vm.create/intent/pending", "vm.create/result/error", "vm.rm/intent/pending", "vm.rm/result/ok"};
    EXPECT_EQ(seen, expected);
    EXPECT_NE(entries[0]["actor"].get<std::string>().find("uid=" + std::to_string(::getuid())), std::string::npos);
    EXPECT_EQ(entries[2]["target"], "vm:g1");
    // Reads are not state changes and are not logged.
    (void)h.cli({"vm", "list"});
    EXPECT_EQ(h.cli_json({"audit", "tail", "-n", "100"}).size(), 8u);
    auto r = h.cli({"audit", "verify"});
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("8 entries"), std::string::npos) << r.output;
}

TEST_F(Audit, EditedEntryIsCaught)
{
    tamper_and_expect_caught("UPDATE audit SET actor = 'uid=1000(mallory)' WHERE seq = 3", "entry 3 was modified");
}

TEST_F(Audit, EditedEntryWithRecomputedHashIsCaught)
{
    // An attacker who also recomputes the entry's own hash still breaks the link to the next.
    tamper_and_expect_caught("UPDATE audit SET outcome = 'ok', hash = 'f00d' || substr(hash, 5) WHERE seq = 6",
        "entry 7 does not link");
}

TEST_F(Audit, RemovedEntryIsCaught) { tamper_and_expect_caught("DELETE FROM audit WHERE seq = 4", "missing"); }

TEST_F(Audit, ReorderedEntriesAreCaught)
{
    tamper_and_expect_caught("UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 5;"
                             "UPDATE audit SET seq = 5 WHERE seq = -1",
        "does not link");
}

TEST_F(Audit, TruncatedTailIsCaught)
{
    tamper_and_expect_caught("DELETE FROM audit WHERE seq >= 7", "no longer in the log");
}

TEST_F(Audit, ForgedCheckpointIsCaught)
{
    tamper_and_expect_caught("UPDATE audit_checkpoints SET signature = (CASE WHEN substr(signature, 1, 1) = '0' THEN '1' ELSE '0' END) || substr(signature, 2)",
        "invalid signature");
}

TEST_F(Audit, ForgedEntryWithAValidChainIsCaughtAndNotLaundered)
{
    // Someone with the disk appends an intent whose hash chain is perfect; only the key is
    // missing. A restart must neither accept it nor sign over it as "interrupted".
    h.stop_daemon();
    std::string db = h.home() + "/bulwark.db";
    sqlite3* handle = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(handle, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    AuditEntry e;
    e.seq = sqlite3_column_int64(st, 0) + 1;
    e.prev_hash = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    sqlite3_close(handle);
    e.time = "2026-01-01T00:00:00.000Z";
    e.actor = "uid=0(root) pid=1";
    e.action = "vm.create";
    e.target = "vm:backdoor";
    e.phase = "intent";
    e.outcome = "pending";
    e.detail = "{}";
    e.hash = e.compute_hash();
    exec_sql(db, "INSERT INTO audit (seq, time, actor, action, target, phase, outcome, detail, prev_hash, hash) VALUES ("
            + std::to_string(e.seq) + ", '" + e.time + "', '" + e.actor + "', '" + e.action + "', '" + e.target
            + "', 'intent', 'pending', '{}', '" + e.prev_hash + "', '" + e.hash + "')");
    h.start_daemon();
    auto r = h.cli({"audit", "verify"});
    EXPECT_EQ(r.code, 5) << r.output;
    EXPECT_NE(r.output.find("entry " + std::to_string(e.seq) + " is not covered by a signed checkpoint"), std::string::npos) << r.output;
    auto entries = h.cli_json({"audit", "tail", "-n", "1"});
    EXPECT_EQ(entries[0]["seq"], e.seq) << "no result may have been signed over the forged intent";
    // Genuine entries appended after it, and another restart, must not hide it either.
    ASSERT_EQ(h.cli({"vm", "create", "g2", "--image", "tiny"}).code, 0);
    h.stop_daemon();
    h.start_daemon();
    r = h.cli({"audit", "verify"});
    EXPECT_EQ(r.code, 5) << r.output;
    EXPECT_NE(r.output.find("entry " + std::to_string(e.seq) + " is not covered by a signed checkpoint"), std::string::npos) << r.output;
    for (const auto& entry : h.cli_json({"audit", "tail", "-n", "100"})) {
        EXPECT_FALSE(entry["outcome"] == "interrupted" && entry["detail"].value("intent", 0) == e.seq)
            << "the forged intent was laundered: " << entry.dump();
    }
}
