// The audit log: every state-changing request is appended here before it takes effect
// (phase "intent"), and its outcome after (phase "result"). Entries are hash-chained, and each
// entry is committed in one transaction with a checkpoint: the host key's signature over the
// new head of the chain.
//
// Entry hash = SHA-256 over the canonical JSON (sorted keys, no whitespace) of
//   {"action","actor","detail","outcome","phase","prev","seq","target","time"}
// where prev is the hash of the entry before (64 zeros for the first). A checkpoint signs the
// bytes "bulwark-audit-checkpoint:" + seq + ":" + hash with Ed25519.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"

namespace bulwark {

class Db;
class SigningKey;

struct AuditEntry {
    int64_t seq = 0;
    std::string time;
    std::string actor;
    std::string action;
    std::string target;
    std::string phase;    // "intent" or "result"
    std::string outcome;  // "pending" for intents; "ok", "error" or "interrupted" for results
    std::string detail;   // canonical JSON: the request's parameters, or the error message
    std::string prev_hash;
    std::string hash;

    Json to_json() const;
    std::string compute_hash() const;
};

struct AuditReport {
    bool ok = true;
    int64_t entries = 0;
    int64_t checkpoints = 0;
    int64_t last_signed_seq = 0;
    std::vector<std::string> problems;  // each a sentence naming the entry
    Json to_json() const;
};

class AuditLog {
public:
    AuditLog(Db& db, const SigningKey& key) : m_db(db), m_key(key) {}

    // Appends the intent of an operation; returns its sequence number.
    Result<int64_t> record_intent(const std::string& actor, const std::string& action,
        const std::string& target, const Json& detail);
    // Appends the outcome of the operation begun at intent_seq and signs a checkpoint.
    VoidResult record_result(int64_t intent_seq, const std::string& outcome, const Json& detail);

    Result<std::vector<AuditEntry>> tail(int64_t count);
    Result<AuditReport> verify(const std::string& public_key);

    // At start-up: every intent without a result (the daemon died mid-operation) gets an
    // "interrupted" result, so the log says what happened.
    Result<int> close_interrupted();

private:
    Result<AuditEntry> append(const std::string& actor, const std::string& action, const std::string& target,
        const std::string& phase, const std::string& outcome, const Json& detail);
    VoidResult checkpoint(const AuditEntry& head);

    Db& m_db;
    const SigningKey& m_key;
    std::mutex m_mutex;
};

}  // namespace bulwark
