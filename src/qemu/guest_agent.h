// A client for qemu-guest-agent over its virtio-serial socket.
//
// Everything the agent says comes from inside the guest and is hostile: replies are bounded
// in size, parsed with depth limits, and every field is type-checked.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/socket.h"

namespace bulwark {

struct GuestExecResult {
    int exit_code = -1;
    int signal = 0;
    std::string out;
    std::string err;
    bool out_truncated = false;
    bool err_truncated = false;
};

class GuestAgent {
public:
    // Connects and synchronises (guest-sync-delimited), which also flushes stale replies.
    static Result<GuestAgent> connect(const std::string& socket_path, std::chrono::milliseconds timeout);

    Result<Json> execute(const std::string& command, const Json& arguments = Json::object(),
        std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Sends a command that has no reply (guest-shutdown).
    VoidResult send(const std::string& command, const Json& arguments = Json::object());

    Result<GuestExecResult> exec(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

private:
    explicit GuestAgent(LineChannel channel) : m_channel(std::move(channel)) {}
    VoidResult sync(std::chrono::milliseconds timeout);
    LineChannel m_channel;
};

}  // namespace bulwark
