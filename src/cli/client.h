// The CLI's side of the control socket.
#pragma once

#include <string>
#include <vector>

#include "api/protocol.h"
#include "base/json.h"
#include "base/result.h"

namespace bulwark::cli {

class Client {
public:
    explicit Client(std::string home) : m_home(std::move(home)) {}
    // Sends one request (with fds attached, if any) and returns the daemon's result. With a
    // progress callback the request asks for interim progress lines (image.scan,
    // image.import), and each is handed to it before the result arrives.
    Result<Json> call(const std::string& method, const Json& params = Json::object(), const std::vector<int>& fds = {},
        const ProgressSink& progress = {});
    const std::string& home() const { return m_home; }

private:
    std::string m_home;
};

}  // namespace bulwark::cli
