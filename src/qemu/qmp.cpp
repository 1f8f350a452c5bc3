#include "qemu/qmp.h"

#include <thread>

namespace bulwark {

static constexpr size_t k_max_reply = 16 << 20;

Result<QmpClient> QmpClient::connect(const std::string& socket_path, std::chrono::milliseconds timeout)
{
    auto fd = TRY(unix_connect(socket_path));
    QmpClient client {LineChannel(std::move(fd))};
    auto deadline = deadline_in(timeout);
    std::string greeting = TRY_CTX(client.m_channel.read_line(k_max_reply, deadline), "QMP greeting");
    auto doc = TRY_CTX(parse_json(greeting, {k_max_reply, 64}), "QMP greeting");
    if (!doc.is_object() || !doc.contains("QMP"))
        return Error(ErrorKind::Corrupt, "the QMP socket did not greet like QEMU");
    TRY(client.execute("qmp_capabilities", Json::object(), timeout));
    return client;
}

Result<Json> QmpClient::execute(const std::string& command, const Json& arguments, std::chrono::milliseconds timeout)
{
    int64_t id = m_next_id++;
    Json request {{"execute", command}, {"id", id}};
    if (!arguments.empty())
        request["arguments"] = arguments;
    TRY(m_channel.write(json_dump(request) + "\n"));
    auto deadline = deadline_in(timeout);
    for (;;) {
        std::string line = TRY_CTX(m_channel.read_line(k_max_reply, deadline), "QMP " + command);
        auto doc = TRY_CTX(parse_json(line, {k_max_reply, 64}), "QMP " + command);
        if (!doc.is_object())
            return Error(ErrorKind::Corrupt, "QMP " + command + ": reply is not an object");
        if (doc.contains("event")) {
            if (m_events.size() < 1024)
                m_events.push_back(doc);
            continue;
        }
        if (!doc.contains("id") || doc["id"] != id)
            continue;
        if (doc.contains("error")) {
            std::string desc = doc["error"].is_object() ? json_string_or(doc["error"], "desc", "unknown error") : "unknown error";
            return Error(ErrorKind::Conflict, "QEMU refused " + command + ": " + desc);
        }
        return doc.contains("return") ? doc["return"] : Json::object();
    }
}

VoidResult QmpClient::run_job(const std::string& command, Json arguments, const std::string& job_id, std::chrono::milliseconds timeout)
{
    arguments["job-id"] = job_id;
    TRY(execute(command, arguments));
    auto deadline = deadline_in(timeout);
    for (;;) {
        Json jobs = TRY(execute("query-jobs"));
        for (const auto& job : jobs) {
            if (json_string_or(job, "id", "") != job_id)
                continue;
            std::string status = json_string_or(job, "status", "");
            if (status == "concluded") {
                std::string error = json_string_or(job, "error", "");
                (void)execute("job-dismiss", Json {{"id", job_id}});
                if (!error.empty())
                    return Error(ErrorKind::Conflict, command + " failed: " + error);
                return {};
            }
        }
        if (std::chrono::steady_clock::now() > deadline) {
            (void)execute("job-cancel", Json {{"id", job_id}});
            return Error(ErrorKind::Timeout, command + " did not finish in time");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace bulwark
