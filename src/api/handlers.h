// Maps each API method to the subsystem that serves it. Every state-changing method is
// audited: its intent is appended to the audit log before it runs, its outcome after.
#pragma once

#include <string>
#include <vector>

#include "api/protocol.h"
#include "base/fd.h"
#include "base/socket.h"

namespace bulwark {

class AuditLog;
class ImageStore;
class SigningKey;
class VmManager;
namespace scan {
class Vetting;
}
namespace vuln {
class FeedStore;
}

struct Caller {
    PeerCred cred;
    std::string actor;  // "uid=0(root) pid=123"
};

class ApiHandlers {
public:
    ApiHandlers(VmManager& vms, ImageStore& images, AuditLog& audit, const SigningKey& key, scan::Vetting& vetting,
        vuln::FeedStore& feed, std::string home)
        : m_vms(vms), m_images(images), m_audit(audit), m_key(key), m_vetting(vetting), m_feed(feed), m_home(std::move(home))
    {
    }

    // progress, when set, receives how far image.scan and image.import have got; other
    // methods do not report progress.
    Result<Json> handle(const Request& request, const Caller& caller, std::vector<Fd>& fds, const ProgressSink& progress = {});

private:
    Result<Json> dispatch(const Request& request, std::vector<Fd>& fds, const ProgressSink& progress);
    Result<Json> dispatch_vetting(const Request& request, std::vector<Fd>& fds, const ProgressSink& progress);
    // net.* and vm.quarantine (api/net_handlers.cpp).
    Result<Json> dispatch_network(const Request& request, std::vector<Fd>& fds);

    VmManager& m_vms;
    ImageStore& m_images;
    AuditLog& m_audit;
    const SigningKey& m_key;
    scan::Vetting& m_vetting;
    vuln::FeedStore& m_feed;
    std::string m_home;
};

// The actor string recorded in the audit log for a peer.
std::string describe_caller(const PeerCred& cred);

}  // namespace bulwark
