// The SQLite wrapper: file mode, migrations, bound parameters, transactions.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "store/db.h"
#include "test_util.h"

namespace bulwark {
namespace {

using test::fails_with;
using test::is_ok;
using test::TempDir;

std::unique_ptr<Db> open_db(const TempDir& dir)
{
    auto db = Db::open(dir.file("bulwark.db"));
    EXPECT_TRUE(is_ok(db));
    return db.is_ok() ? db.release_value() : nullptr;
}

Result<int64_t> insert_image(Db& db, const std::string& name)
{
    TRY(db.exec("INSERT INTO images (name, version, digest, manifest, signature, created) VALUES (?, ?, ?, ?, ?, ?)",
        {name, std::string("1"), std::string("d"), std::string("{}"), std::string("s"), std::string("now")}));
    return db.last_insert_rowid();
}

TEST(Db, CreatedWithMode0600)
{
    TempDir dir;
    mode_t old = ::umask(0);
    auto db = open_db(dir);
    ::umask(old);
    ASSERT_TRUE(db);
    EXPECT_EQ(test::file_mode(dir.file("bulwark.db")), 0600u);
    ASSERT_TRUE(is_ok(insert_image(*db, "x")));
    // SQLite gives the WAL the database file's mode.
    if (sys::exists(dir.file("bulwark.db-wal"))) {
        EXPECT_EQ(test::file_mode(dir.file("bulwark.db-wal")) & 077, 0u);
    }
}

TEST(Db, MigrationsAndSchemaVersion)
{
    {
        SCOPED_TRACE("MigrationsReachVersionOneAndAreIdempotent");
        TempDir dir;
        {
            auto db = open_db(dir);
            ASSERT_TRUE(db);
            EXPECT_EQ(db->schema_version(), 5);
            ASSERT_TRUE(is_ok(insert_image(*db, "kept")));
        }
        auto db = open_db(dir);  // reopen: no migration runs twice, data survives
        ASSERT_TRUE(db);
        EXPECT_EQ(db->schema_version(), 5);
        auto row = db->query_one("SELECT name FROM images");
        ASSERT_TRUE(is_ok(row));
        ASSERT_TRUE(row.value().has_value());
        EXPECT_EQ(row.value()->text(0), "kept");
        for (const char* table : {"images", "vms", "snapshots", "events", "audit", "audit_checkpoints"}) {
            auto t = db->query_one("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", {std::string(table)});
            ASSERT_TRUE(is_ok(t));
            EXPECT_TRUE(t.value().has_value()) << table;
        }
    }
    {
        SCOPED_TRACE("NewerSchemaRefused");
        TempDir dir;
        {
            auto db = open_db(dir);
            ASSERT_TRUE(db);
            ASSERT_TRUE(is_ok(db->exec("PRAGMA user_version=99")));
        }
        auto db = Db::open(dir.file("bulwark.db"));
        EXPECT_TRUE(fails_with(db, ErrorKind::Conflict));
    }
}

TEST(Db, ValuesAreBoundNeverSpliced)
{
    {
        SCOPED_TRACE("SqlInValuesIsJustData");
        TempDir dir;
        auto db = open_db(dir);
        ASSERT_TRUE(db);
        const std::string hostile[] = {
            "x'); DROP TABLE vms;--",
            "x\"); DROP TABLE images;--",
            "'; DELETE FROM images; --",
            "x' OR '1'='1",
            std::string("nul\0byte", 8),
            "\xff\xfe not utf-8",
        };
        for (const auto& name : hostile)
            ASSERT_TRUE(is_ok(insert_image(*db, name)));
        auto rows = db->query("SELECT name FROM images ORDER BY id");
        ASSERT_TRUE(is_ok(rows));
        ASSERT_EQ(rows.value().size(), std::size(hostile));
        for (size_t i = 0; i < std::size(hostile); ++i)
            EXPECT_EQ(rows.value()[i].text(0), hostile[i]) << i;
        // Lookup by the hostile value finds exactly that row.
        auto one = db->query("SELECT id FROM images WHERE name = ?", {std::string("x' OR '1'='1")});
        ASSERT_TRUE(is_ok(one));
        EXPECT_EQ(one.value().size(), 1u);
        // The tables are all still there.
        auto vms = db->query("SELECT count(*) FROM vms");
        ASSERT_TRUE(is_ok(vms));
        EXPECT_EQ(vms.value().at(0).integer(0), 0);
    }
    {
        SCOPED_TRACE("ValueTypesRoundTrip");
        TempDir dir;
        auto db = open_db(dir);
        ASSERT_TRUE(db);
        ASSERT_TRUE(is_ok(db->exec("INSERT INTO events (time, vm, kind, message) VALUES (?, ?, ?, ?)",
            {std::string("t"), std::string("v"), std::string("k"), std::string(100000, 'm')})));
        auto r = db->query_one("SELECT ?, ?, ?, message FROM events", {int64_t(-9223372036854775807LL - 1), nullptr,
                                                                          std::string("s")});
        ASSERT_TRUE(is_ok(r));
        ASSERT_TRUE(r.value().has_value());
        EXPECT_EQ(r.value()->integer(0), INT64_MIN);
        EXPECT_TRUE(r.value()->is_null(1));
        EXPECT_EQ(r.value()->text(2), "s");
        EXPECT_EQ(r.value()->text(3).size(), 100000u);
    }
}

TEST(Db, ErrorsMapToKinds)
{
    {
        SCOPED_TRACE("ConstraintViolationIsConflict");
        TempDir dir;
        auto db = open_db(dir);
        ASSERT_TRUE(db);
        ASSERT_TRUE(is_ok(insert_image(*db, "dup")));
        EXPECT_TRUE(fails_with(insert_image(*db, "dup"), ErrorKind::Conflict));
        // Foreign keys are enforced: a vm must name an existing image.
        auto bad = db->exec("INSERT INTO vms (name, image_id, cpus, memory_mib, ephemeral, state, created) "
                            "VALUES ('g', 12345, 1, 256, 0, 'stopped', 'now')");
        EXPECT_TRUE(fails_with(bad, ErrorKind::Conflict));
    }
    {
        SCOPED_TRACE("BadSqlIsAnError");
        TempDir dir;
        auto db = open_db(dir);
        ASSERT_TRUE(db);
        EXPECT_TRUE(db->exec("SELEC nonsense").is_error());
        EXPECT_TRUE(db->query("SELECT * FROM no_such_table").is_error());
    }
    {
        SCOPED_TRACE("OpenInMissingDirectoryFails");
        auto db = Db::open("/nonexistent-dir-bulwark/x.db");
        EXPECT_TRUE(db.is_error());
    }
}

TEST(Db, TransactionRollsBackOnError)
{
    {
        SCOPED_TRACE("TransactionRollsBackOnError");
        TempDir dir;
        auto db = open_db(dir);
        ASSERT_TRUE(db);
        auto r = db->transaction([&]() -> VoidResult {
            TRY(insert_image(*db, "a"));
            TRY(insert_image(*db, "b"));
            return Error(ErrorKind::Conflict, "changed my mind");
        });
        EXPECT_TRUE(fails_with(r, ErrorKind::Conflict));
        auto count = db->query_one("SELECT count(*) FROM images");
        ASSERT_TRUE(is_ok(count));
        EXPECT_EQ(count.value()->integer(0), 0);

        // A failing statement inside the transaction also rolls back what came before it.
        auto r2 = db->transaction([&]() -> VoidResult {
            TRY(insert_image(*db, "c"));
            TRY(insert_image(*db, "c"));  // UNIQUE(name, version)
            return {};
        });
        EXPECT_TRUE(fails_with(r2, ErrorKind::Conflict));
        count = db->query_one("SELECT count(*) FROM images");
        ASSERT_TRUE(is_ok(count));
        EXPECT_EQ(count.value()->integer(0), 0);

        // And a successful one commits, and the connection is usable afterwards.
        auto r3 = db->transaction([&]() -> Result<int64_t> { return insert_image(*db, "d"); });
        ASSERT_TRUE(is_ok(r3));
        count = db->query_one("SELECT count(*) FROM images");
        ASSERT_TRUE(is_ok(count));
        EXPECT_EQ(count.value()->integer(0), 1);
    }
    {
        SCOPED_TRACE("RolledBackDataInvisibleAfterReopen");
        TempDir dir;
        {
            auto db = open_db(dir);
            ASSERT_TRUE(db);
            ASSERT_TRUE(is_ok(insert_image(*db, "committed")));
            auto r = db->transaction([&]() -> VoidResult {
                TRY(insert_image(*db, "rolled-back"));
                return Error(ErrorKind::Internal, "abort");
            });
            EXPECT_TRUE(r.is_error());
        }
        auto db = open_db(dir);
        ASSERT_TRUE(db);
        auto rows = db->query("SELECT name FROM images");
        ASSERT_TRUE(is_ok(rows));
        ASSERT_EQ(rows.value().size(), 1u);
        EXPECT_EQ(rows.value()[0].text(0), "committed");
    }
}

}  // namespace
}  // namespace bulwark
