// The control API of the virtual network: net.* and vm.quarantine (docs/api.md).
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include "api/handlers.h"
#include "base/system.h"
#include "net/network.h"
#include "vm/vm_manager.h"

namespace bulwark {

namespace {

constexpr std::size_t k_max_text = 32u << 20;
constexpr int64_t k_max_capture_seconds = 3600;

Result<std::string> text_param(const Json& p)
{
    auto text = TRY(json_string(p, "text"));
    if (text.size() > k_max_text)
        return Error(ErrorKind::InvalidArgument, "the file is larger than 32 MiB");
    return text;
}

} // namespace

Result<Json> ApiHandlers::dispatch_network(const Request& req, std::vector<Fd>& fds)
{
    const Json& p = req.params;
    const std::string& m = req.method;
    net::Network* network = m_vms.network();
    if (!network)
        return Error(ErrorKind::Unavailable, "this daemon has no network");
    if (m == "vm.quarantine")
        return m_vms.quarantine(TRY(json_string(p, "name")), !json_bool_or(p, "release", false));
    if (m == "net.policy.apply")
        return network->apply_policy(TRY(text_param(p)), json_string_or(p, "source", "policy").substr(0, 256));
    if (m == "net.policy.show")
        return network->show_policy();
    if (m == "net.rules.apply")
        return network->apply_rules(TRY(text_param(p)));
    if (m == "net.status")
        return network->status();
    if (m == "net.capture") {
        // The CLI creates the capture file (its own, mode 0600) and passes it; bulwarkd never
        // opens a path given by a client.
        if (fds.size() != 1)
            return Error(ErrorKind::InvalidArgument, "net.capture carries the output file as one fd");
        struct stat st { };
        if (::fstat(fds[0].get(), &st) < 0 || !S_ISREG(st.st_mode))
            return Error(ErrorKind::InvalidArgument, "the capture output must be a regular file");
        int64_t seconds = p.contains("seconds") && p["seconds"].is_number_integer() ? p["seconds"].get<int64_t>() : 10;
        if (seconds < 1 || seconds > k_max_capture_seconds)
            return Error(ErrorKind::InvalidArgument, "seconds must be between 1 and 3600");
        int64_t nic = p.contains("nic") && p["nic"].is_number_integer() ? p["nic"].get<int64_t>() : 0;
        bool uplink = json_bool_or(p, "uplink", false);
        int64_t id = TRY(m_vms.id_of(TRY(json_string(p, "name"))));
        TRY(network->capture_start(id, nic, uplink, std::move(fds[0])));
        std::this_thread::sleep_for(std::chrono::seconds(seconds));
        return network->capture_stop(id, nic, uplink);
    }
    return Error(ErrorKind::InvalidArgument, "unknown method '" + m.substr(0, 64) + "'");
}

} // namespace bulwark
