// A QMP client: one connection per operation (QEMU serves one QMP client at a time, and
// operations on one guest are serialised above this layer).
//
// QEMU is trusted less than bulwarkd (it runs guest-controlled code paths), so replies are
// read with a size limit and a deadline.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/socket.h"

namespace bulwark {

class QmpClient {
public:
    // Connects, reads the greeting and negotiates capabilities.
    static Result<QmpClient> connect(const std::string& socket_path, std::chrono::milliseconds timeout);

    // Runs a command; returns its "return" value or the QMP error as an Error.
    Result<Json> execute(const std::string& command, const Json& arguments = Json::object(),
        std::chrono::milliseconds timeout = std::chrono::seconds(10));

    // Events received while waiting for replies, oldest first.
    const std::vector<Json>& events() const { return m_events; }

    // Runs a job-based command (snapshot-save, snapshot-load, snapshot-delete) and waits for
    // it to conclude; returns the job's error, if any, as an Error.
    VoidResult run_job(const std::string& command, Json arguments, const std::string& job_id, std::chrono::milliseconds timeout);

private:
    explicit QmpClient(LineChannel channel) : m_channel(std::move(channel)) {}
    LineChannel m_channel;
    std::vector<Json> m_events;
    int64_t m_next_id = 1;
};

}  // namespace bulwark
