#include "qemu/guest_agent.h"

#include <random>
#include <thread>

#include "base/base64.h"

namespace bulwark {

static constexpr size_t k_max_reply = 48 << 20;  // guest-exec output is base64 in the reply

Result<GuestAgent> GuestAgent::connect(const std::string& socket_path, std::chrono::milliseconds timeout)
{
    auto fd = TRY(unix_connect(socket_path));
    GuestAgent agent {LineChannel(std::move(fd))};
    TRY(agent.sync(timeout));
    return agent;
}

VoidResult GuestAgent::sync(std::chrono::milliseconds timeout)
{
    static thread_local std::mt19937 rng {std::random_device {}()};
    int64_t id = static_cast<int64_t>(rng() & 0x7fffffff);
    // A leading 0xFF resets the agent's parser if a previous client left half a request.
    TRY(m_channel.write(std::string("\xff") + json_dump(Json {{"execute", "guest-sync-delimited"}, {"arguments", {{"id", id}}}}) + "\n"));
    auto deadline = deadline_in(timeout);
    for (;;) {
        TRY_CTX(m_channel.skip_until('\xff', k_max_reply, deadline), "guest agent");
        std::string line = TRY_CTX(m_channel.read_line(k_max_reply, deadline), "guest agent");
        auto doc = parse_json(line, {k_max_reply, 16});
        if (doc.is_ok() && doc.value().is_object() && doc.value().contains("return") && doc.value()["return"] == id)
            return {};
        // A stale reply from an earlier client: keep looking for ours.
    }
}

Result<Json> GuestAgent::execute(const std::string& command, const Json& arguments, std::chrono::milliseconds timeout)
{
    Json request {{"execute", command}};
    if (!arguments.empty())
        request["arguments"] = arguments;
    TRY(m_channel.write(json_dump(request) + "\n"));
    auto deadline = deadline_in(timeout);
    std::string line = TRY_CTX(m_channel.read_line(k_max_reply, deadline), "guest agent " + command);
    auto doc = TRY_CTX(parse_json(line, {k_max_reply, 16}), "guest agent " + command);
    if (!doc.is_object())
        return Error(ErrorKind::Corrupt, "guest agent " + command + ": the reply is not a JSON object");
    if (doc.contains("error")) {
        std::string desc = doc["error"].is_object() ? json_string_or(doc["error"], "desc", "unknown error") : "unknown error";
        return Error(ErrorKind::Conflict, "the guest agent refused " + command + ": " + desc.substr(0, 500));
    }
    if (!doc.contains("return"))
        return Error(ErrorKind::Corrupt, "guest agent " + command + ": the reply has no result");
    return doc["return"];
}

VoidResult GuestAgent::send(const std::string& command, const Json& arguments)
{
    Json request {{"execute", command}};
    if (!arguments.empty())
        request["arguments"] = arguments;
    return m_channel.write(json_dump(request) + "\n");
}

Result<GuestExecResult> GuestAgent::exec(const std::vector<std::string>& argv, std::chrono::milliseconds timeout)
{
    if (argv.empty())
        return Error(ErrorKind::InvalidArgument, "no command given");
    Json args {{"path", argv[0]}, {"arg", std::vector<std::string>(argv.begin() + 1, argv.end())}, {"capture-output", true}};
    Json started = TRY(execute("guest-exec", args));
    if (!started.is_object() || !started.contains("pid") || !started["pid"].is_number_integer())
        return Error(ErrorKind::Corrupt, "guest agent guest-exec: the reply has no pid");
    int64_t pid = started["pid"].get<int64_t>();
    auto deadline = deadline_in(timeout);
    auto delay = std::chrono::milliseconds(5);
    for (;;) {
        Json status = TRY(execute("guest-exec-status", Json {{"pid", pid}}));
        if (!status.is_object() || !status.contains("exited") || !status["exited"].is_boolean())
            return Error(ErrorKind::Corrupt, "guest agent guest-exec-status: malformed reply");
        if (status["exited"].get<bool>()) {
            GuestExecResult result;
            result.exit_code = static_cast<int>(json_int_or(status, "exitcode", -1));
            result.signal = static_cast<int>(json_int_or(status, "signal", 0));
            for (auto [key, target, truncated] : {std::tuple {"out-data", &result.out, &result.out_truncated},
                     std::tuple {"err-data", &result.err, &result.err_truncated}}) {
                if (status.contains(key)) {
                    if (!status[key].is_string())
                        return Error(ErrorKind::Corrupt, "guest agent: output is not a string");
                    auto decoded = base64_decode(status[key].get<std::string>());
                    if (!decoded)
                        return Error(ErrorKind::Corrupt, "guest agent: output is not valid base64");
                    *target = std::move(*decoded);
                }
            }
            result.out_truncated = json_bool_or(status, "out-truncated", false);
            result.err_truncated = json_bool_or(status, "err-truncated", false);
            return result;
        }
        if (std::chrono::steady_clock::now() > deadline)
            return Error(ErrorKind::Timeout, "the command did not finish in the guest in time (it may still be running there)");
        std::this_thread::sleep_for(delay);
        delay = std::min(delay * 2, std::chrono::milliseconds(200));
    }
}

}  // namespace bulwark
