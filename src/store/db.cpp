#include "store/db.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "base/system.h"

namespace bulwark {

int64_t Row::integer(size_t i) const
{
    const auto& v = m_values.at(i);
    if (auto p = std::get_if<int64_t>(&v))
        return *p;
    if (auto s = std::get_if<std::string>(&v)) {
        try {
            return std::stoll(*s);
        } catch (...) {
            return 0;
        }
    }
    return 0;
}

std::string Row::text(size_t i) const
{
    const auto& v = m_values.at(i);
    if (auto p = std::get_if<std::string>(&v))
        return *p;
    if (auto n = std::get_if<int64_t>(&v))
        return std::to_string(*n);
    return {};
}

// Each entry upgrades the schema by one version. Never edit an entry once released: add one.
static const char* const k_migrations[] = {
    // 1: the foundation.
    R"sql(
    CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        digest TEXT NOT NULL,
        manifest TEXT NOT NULL,
        signature TEXT NOT NULL,
        created TEXT NOT NULL,
        UNIQUE(name, version)
    );
    CREATE TABLE vms (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        image_id INTEGER NOT NULL REFERENCES images(id),
        cpus INTEGER NOT NULL,
        memory_mib INTEGER NOT NULL,
        ephemeral INTEGER NOT NULL,
        state TEXT NOT NULL,
        pid INTEGER,
        pid_start_time INTEGER,
        accel TEXT,
        created TEXT NOT NULL,
        started TEXT,
        stopped TEXT
    );
    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY,
        vm_id INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        created TEXT NOT NULL,
        has_memory INTEGER NOT NULL,
        vm_state_size INTEGER NOT NULL,
        disk_size INTEGER NOT NULL,
        UNIQUE(vm_id, name)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        vm TEXT NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        phase TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE audit_checkpoints (
        seq INTEGER PRIMARY KEY,
        hash TEXT NOT NULL,
        time TEXT NOT NULL,
        signature TEXT NOT NULL
    );
    )sql",
    // 2: the jail. The uid a guest's QEMU ran as (NULL: it ran unjailed).
    R"sql(
    ALTER TABLE vms ADD COLUMN jail_uid INTEGER;
    )sql",
    // 3: golden-image admission. The scan report and SBOM of every admitted image, the
    // identities it carries (to find clones), and the advisory feed.
    R"sql(
    CREATE TABLE image_reports (
        image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        created TEXT NOT NULL,
        report TEXT NOT NULL,
        sbom TEXT NOT NULL
    );
    CREATE TABLE image_identities (
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        value TEXT NOT NULL
    );
    CREATE INDEX image_identities_value ON image_identities(kind, value);
    CREATE TABLE advisories (
        id TEXT PRIMARY KEY,
        modified TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE TABLE vuln_updates (
        id INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        source TEXT NOT NULL,
        records INTEGER NOT NULL,
        errors INTEGER NOT NULL
    );
    )sql",
    // 4: the virtual network. Segments (one subnet each), every guest NIC with the MAC and
    // address bulwarkd assigned and the labels the policy matches, the applied policy and
    // IDS rules, and each guest's quarantine flag (which survives restarts).
    R"sql(
    CREATE TABLE net_segments (
        name TEXT PRIMARY KEY,
        subnet TEXT NOT NULL UNIQUE,
        server_mac TEXT NOT NULL
    );
    CREATE TABLE vm_nics (
        vm_id INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        segment TEXT NOT NULL REFERENCES net_segments(name),
        mac TEXT NOT NULL UNIQUE,
        ip TEXT NOT NULL,
        labels TEXT NOT NULL,
        PRIMARY KEY (vm_id, idx),
        UNIQUE (segment, ip)
    );
    CREATE TABLE net_config (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    ALTER TABLE vms ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;
    )sql",
    // 5: per-NIC rate limits (NULL: the switch's defaults).
    R"sql(
    ALTER TABLE vm_nics ADD COLUMN max_fps INTEGER;
    ALTER TABLE vm_nics ADD COLUMN max_bps INTEGER;
    )sql",
};

Result<std::unique_ptr<Db>> Db::open(const std::string& path)
{
    // Create the file ourselves so that it never exists with a wider mode.
    {
        auto fd = TRY(sys::open(path, O_RDWR | O_CREAT, 0600));
        (void)fd;
    }
    sqlite3* handle = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
        sqlite3_close(handle);
        return Error(ErrorKind::Io, "cannot open database " + path + ": " + msg);
    }
    std::unique_ptr<Db> db(new Db(handle));
    sqlite3_busy_timeout(handle, 5000);
    TRY(db->exec("PRAGMA journal_mode=WAL"));
    TRY(db->exec("PRAGMA synchronous=FULL"));
    TRY(db->exec("PRAGMA foreign_keys=ON"));
    TRY(db->migrate());
    return db;
}

Db::~Db() { sqlite3_close(m_handle); }

int Db::schema_version()
{
    auto row = query_one("PRAGMA user_version");
    if (row.is_error() || !row.value())
        return -1;
    return static_cast<int>(row.value()->integer(0));
}

VoidResult Db::migrate()
{
    int version = schema_version();
    int target = static_cast<int>(std::size(k_migrations));
    if (version > target)
        return Error(ErrorKind::Conflict, "the database schema (version " + std::to_string(version)
                + ") is newer than this bulwarkd understands (" + std::to_string(target) + ")");
    for (int v = version; v < target; ++v) {
        TRY(transaction([&]() -> VoidResult {
            char* err = nullptr;
            std::lock_guard lock(m_mutex);
            if (sqlite3_exec(m_handle, k_migrations[v], nullptr, nullptr, &err) != SQLITE_OK) {
                std::string msg = err ? err : "unknown error";
                sqlite3_free(err);
                return Error(ErrorKind::Internal, "schema migration " + std::to_string(v + 1) + " failed: " + msg);
            }
            // PRAGMA takes no bound parameters; the value is our own integer.
            std::string pragma = "PRAGMA user_version=" + std::to_string(v + 1);
            if (sqlite3_exec(m_handle, pragma.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
                return Error(ErrorKind::Internal, "cannot record schema version");
            return {};
        }));
    }
    return {};
}

Result<std::vector<Row>> Db::query(const std::string& sql, const std::vector<SqlValue>& params)
{
    std::lock_guard lock(m_mutex);
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(m_handle, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK)
        return Error(ErrorKind::Internal, std::string("SQL prepare failed: ") + sqlite3_errmsg(m_handle));
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw, &sqlite3_finalize);
    for (size_t i = 0; i < params.size(); ++i) {
        int idx = static_cast<int>(i + 1);
        const auto& p = params[i];
        int rc;
        if (std::holds_alternative<std::nullptr_t>(p))
            rc = sqlite3_bind_null(raw, idx);
        else if (auto n = std::get_if<int64_t>(&p))
            rc = sqlite3_bind_int64(raw, idx, *n);
        else {
            const auto& s = std::get<std::string>(p);
            rc = sqlite3_bind_text(raw, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
        }
        if (rc != SQLITE_OK)
            return Error(ErrorKind::Internal, std::string("SQL bind failed: ") + sqlite3_errmsg(m_handle));
    }
    std::vector<Row> rows;
    for (;;) {
        int rc = sqlite3_step(raw);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            ErrorKind kind = rc == SQLITE_CONSTRAINT ? ErrorKind::Conflict
                : (rc == SQLITE_FULL || rc == SQLITE_IOERR) ? ErrorKind::Io
                                                              : ErrorKind::Internal;
            return Error(kind, std::string("database: ") + sqlite3_errmsg(m_handle));
        }
        int n = sqlite3_column_count(raw);
        std::vector<SqlValue> values;
        values.reserve(static_cast<size_t>(n));
        for (int c = 0; c < n; ++c) {
            switch (sqlite3_column_type(raw, c)) {
            case SQLITE_NULL:
                values.emplace_back(nullptr);
                break;
            case SQLITE_INTEGER:
                values.emplace_back(static_cast<int64_t>(sqlite3_column_int64(raw, c)));
                break;
            default: {
                const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, c));
                values.emplace_back(std::string(text ? text : "", static_cast<size_t>(sqlite3_column_bytes(raw, c))));
            }
            }
        }
        rows.emplace_back(std::move(values));
    }
    return rows;
}

Result<std::optional<Row>> Db::query_one(const std::string& sql, const std::vector<SqlValue>& params)
{
    auto rows = TRY(query(sql, params));
    if (rows.empty())
        return std::optional<Row>();
    return std::optional<Row>(std::move(rows.front()));
}

VoidResult Db::exec(const std::string& sql, const std::vector<SqlValue>& params)
{
    TRY(query(sql, params));
    return {};
}

int64_t Db::last_insert_rowid()
{
    std::lock_guard lock(m_mutex);
    return sqlite3_last_insert_rowid(m_handle);
}

}  // namespace bulwark
