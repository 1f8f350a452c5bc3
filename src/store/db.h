// SQLite, wrapped: one connection per process, WAL, full sync, every statement prepared with
// bound parameters (no SQL is ever built from values).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/result.h"

namespace bulwark {

using SqlValue = std::variant<std::nullptr_t, int64_t, std::string>;

class Row {
public:
    explicit Row(std::vector<SqlValue> values) : m_values(std::move(values)) {}
    int64_t integer(size_t i) const;
    std::string text(size_t i) const;
    bool is_null(size_t i) const { return std::holds_alternative<std::nullptr_t>(m_values.at(i)); }
    size_t size() const { return m_values.size(); }

private:
    std::vector<SqlValue> m_values;
};

class Db {
public:
    // Opens (creating with mode 0600) the database and brings its schema up to date.
    static Result<std::unique_ptr<Db>> open(const std::string& path);
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    // Runs one statement with bound parameters; returns all result rows.
    Result<std::vector<Row>> query(const std::string& sql, const std::vector<SqlValue>& params = {});
    Result<std::optional<Row>> query_one(const std::string& sql, const std::vector<SqlValue>& params = {});
    VoidResult exec(const std::string& sql, const std::vector<SqlValue>& params = {});
    int64_t last_insert_rowid();

    // Runs fn inside BEGIN IMMEDIATE ... COMMIT; rolls back when fn returns an error.
    template<typename Fn>
    auto transaction(Fn&& fn) -> decltype(fn())
    {
        std::lock_guard lock(m_mutex);
        auto begun = exec("BEGIN IMMEDIATE");
        if (begun.is_error())
            return begun.release_error();
        auto result = fn();
        if (result.is_error()) {
            (void)exec("ROLLBACK");
            return result;
        }
        auto committed = exec("COMMIT");
        if (committed.is_error()) {
            (void)exec("ROLLBACK");
            return committed.release_error();
        }
        return result;
    }

    // Schema version after migrations (for tests and `bulwarkd --version`).
    int schema_version();

private:
    explicit Db(sqlite3* handle) : m_handle(handle) {}
    VoidResult migrate();

    sqlite3* m_handle;
    // One statement or transaction at a time on the shared connection: a transaction holds
    // it from BEGIN to COMMIT, so no other thread's statement lands inside it.
    std::recursive_mutex m_mutex;
};

}  // namespace bulwark
