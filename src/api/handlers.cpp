#include "api/handlers.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <functional>
#include <map>

#include "audit/audit_log.h"
#include "base/base64.h"
#include "base/hash.h"
#include "base/system.h"
#include "crypto/signing_key.h"
#include "image/image_store.h"
#include "report/render.h"
#include "scan/vetting.h"
#include "store/db.h"
#include "vm/vm_manager.h"
#include "vuln/feed_store.h"

namespace bulwark {

using namespace std::chrono_literals;

std::string describe_caller(const PeerCred& cred)
{
    std::string name = "?";
    struct passwd pw {};
    struct passwd* found = nullptr;
    char buf[1024];
    if (::getpwuid_r(cred.uid, &pw, buf, sizeof buf, &found) == 0 && found)
        name = found->pw_name;
    return "uid=" + std::to_string(cred.uid) + "(" + name + ") pid=" + std::to_string(cred.pid);
}

namespace {

struct Method {
    bool mutating;
    // What the audit entry names as the target, and the parameters it records.
    std::function<std::string(const Json&)> target;
};

std::string param(const Json& p, const char* key) { return json_string_or(p, key, ""); }

const std::map<std::string, Method>& methods()
{
    static const std::map<std::string, Method> table {
        {"ping", {false, nullptr}},
        {"image.import", {true, [](const Json& p) { return "image:" + param(p, "name"); }}},
        {"image.list", {false, nullptr}},
        {"image.show", {false, nullptr}},
        {"image.verify", {false, nullptr}},
        {"image.rm", {true, [](const Json& p) { return "image:" + param(p, "ref"); }}},
        {"image.scan", {false, nullptr}},
        {"image.report", {false, nullptr}},
        {"image.sbom", {false, nullptr}},
        {"vuln.update", {true, [](const Json&) { return std::string("vuln:feed"); }}},
        {"vuln.status", {false, nullptr}},
        {"vm.create", {true, [](const Json& p) { return "vm:" + param(p, "name"); }}},
        {"vm.start", {true, [](const Json& p) { return "vm:" + param(p, "name"); }}},
        {"vm.stop", {true, [](const Json& p) { return "vm:" + param(p, "name"); }}},
        {"vm.kill", {true, [](const Json& p) { return "vm:" + param(p, "name"); }}},
        {"vm.rm", {true, [](const Json& p) { return "vm:" + param(p, "name"); }}},
        {"vm.exec", {true, [](const Json& p) { return "vm:" + param(p, "name"); }}},
        {"vm.list", {false, nullptr}},
        {"vm.show", {false, nullptr}},
        {"vm.console", {false, nullptr}},
        {"vm.events", {false, nullptr}},
        {"snapshot.create", {true, [](const Json& p) { return "vm:" + param(p, "vm") + "/snapshot:" + param(p, "name"); }}},
        {"snapshot.revert", {true, [](const Json& p) { return "vm:" + param(p, "vm") + "/snapshot:" + param(p, "name"); }}},
        {"snapshot.rm", {true, [](const Json& p) { return "vm:" + param(p, "vm") + "/snapshot:" + param(p, "name"); }}},
        {"snapshot.list", {false, nullptr}},
        {"audit.tail", {false, nullptr}},
        {"audit.verify", {false, nullptr}},
        {"vm.quarantine", {true, [](const Json& p) { return "vm:" + param(p, "name"); }}},
        {"net.policy.apply", {true, [](const Json& p) { return "net:policy:" + param(p, "source"); }}},
        {"net.policy.show", {false, nullptr}},
        {"net.rules.apply", {true, [](const Json& p) { return "net:rules:" + param(p, "source"); }}},
        {"net.status", {false, nullptr}},
        {"net.capture", {true, [](const Json& p) { return "vm:" + param(p, "name") + "/capture"; }}},
    };
    return table;
}

// The parameters recorded in the audit log. A command run in a guest may carry secrets on
// its command line, so only the program and a digest of the full argv are kept.
Json audit_detail(const Request& req)
{
    Json d = req.params;
    // A policy or rule file is recorded by its digest: the audit log stays small, and the file
    // that was applied can still be proven.
    if ((req.method == "net.policy.apply" || req.method == "net.rules.apply") && d.contains("text") && d["text"].is_string()) {
        std::string text = d["text"].get<std::string>();
        d.erase("text");
        d["text_sha256"] = to_hex(Sha256::of(text));
        d["text_bytes"] = text.size();
    }
    if (req.method == "vm.exec" && d.contains("argv") && d["argv"].is_array()) {
        std::string joined;
        for (const auto& a : d["argv"])
            joined += (a.is_string() ? a.get<std::string>() : std::string("?")) + '\0';
        Json argv = d["argv"];
        d.erase("argv");
        d["program"] = argv.empty() || !argv[0].is_string() ? "" : argv[0].get<std::string>();
        d["argv_sha256"] = to_hex(Sha256::of(joined));
        d["argc"] = argv.size();
    }
    return d;
}

Result<int64_t> int_param(const Json& p, const char* key, int64_t fallback)
{
    if (!p.contains(key))
        return fallback;
    if (!p[key].is_number_integer())
        return Error(ErrorKind::InvalidArgument, std::string(key) + " must be an integer");
    return p[key].get<int64_t>();
}

}  // namespace

Result<Json> ApiHandlers::handle(const Request& request, const Caller& caller, std::vector<Fd>& fds, const ProgressSink& progress)
{
    auto it = methods().find(request.method);
    if (it == methods().end())
        return Error(ErrorKind::InvalidArgument, "unknown method '" + request.method.substr(0, 64) + "'");
    // Only the daemon's own user (and root) may use it; the socket's mode says the same,
    // this is the second lock on the door.
    if (caller.cred.uid != 0 && caller.cred.uid != ::getuid())
        return Error(ErrorKind::Denied, "uid " + std::to_string(caller.cred.uid) + " may not use this bulwarkd");
    if (!it->second.mutating)
        return dispatch(request, fds, progress);

    std::string target = it->second.target(request.params);
    // Written, and durable, before the operation takes effect; no audit, no operation.
    int64_t seq = TRY_CTX(m_audit.record_intent(caller.actor, request.method, target, audit_detail(request)),
        "cannot write the audit log, so the operation was not attempted");
    auto result = dispatch(request, fds, progress);
    Json outcome_detail = result.is_ok() ? Json::object()
                                         : Json {{"error", result.error().message().substr(0, 2000)}, {"kind", error_kind_name(result.error().kind())}};
    auto recorded = m_audit.record_result(seq, result.is_ok() ? "ok" : "error", outcome_detail);
    if (recorded.is_error())
        return recorded.release_error().with_context("the operation ran but its outcome could not be audited");
    return result;
}

Result<Json> ApiHandlers::dispatch(const Request& req, std::vector<Fd>& fds, const ProgressSink& progress)
{
    const Json& p = req.params;
    const std::string& m = req.method;
    if (m == "ping")
        return Json {{"version", "0.1.0"}, {"pid", ::getpid()}, {"home", m_home}, {"accel", m_vms.accel_name()},
            {"public_key", m_key.public_key_hex()}};

    if (m.rfind("image.", 0) == 0 && (m == "image.import" || m == "image.scan" || m == "image.report" || m == "image.sbom"))
        return dispatch_vetting(req, fds, progress);
    if (m.rfind("net.", 0) == 0 || m == "vm.quarantine")
        return dispatch_network(req, fds);
    if (m == "vuln.update") {
        if (fds.size() != 1)
            return Error(ErrorKind::InvalidArgument, "vuln.update expects the feed (a file or a directory) as one file descriptor");
        std::string source = param(p, "source");
        auto update = TRY(m_feed.update("/proc/self/fd/" + std::to_string(fds[0].get()), source.empty() ? "?" : source.substr(0, 512)));
        Json out = update.to_json();
        out["status"] = TRY(m_feed.status());
        return out;
    }
    if (m == "vuln.status")
        return m_feed.status();
    if (m == "image.list") {
        Json out = Json::array();
        for (const auto& r : TRY(m_images.list()))
            out.push_back(r.to_json());
        return out;
    }
    if (m == "image.show")
        return TRY(m_images.find(TRY(json_string(p, "ref")))).to_json();
    if (m == "image.verify") {
        std::vector<ImageRecord> targets;
        if (p.contains("ref"))
            targets.push_back(TRY(m_images.find(TRY(json_string(p, "ref")))));
        else
            targets = TRY(m_images.list());
        Json out = Json::array();
        bool all_ok = true;
        for (const auto& r : targets) {
            auto v = m_images.verify(r, VerifyDepth::Full);
            out.push_back(Json {{"image", r.ref()}, {"ok", v.is_ok()}, {"problem", v.is_ok() ? "" : v.error().message()}});
            all_ok = all_ok && v.is_ok();
        }
        if (!all_ok) {
            std::string msg;
            for (const auto& o : out) {
                if (!o["ok"].get<bool>())
                    msg += (msg.empty() ? "" : "\n") + o["problem"].get<std::string>();
            }
            return Error(ErrorKind::VerifyFailed, msg);
        }
        return out;
    }
    if (m == "image.rm") {
        TRY(m_images.remove(TRY(json_string(p, "ref"))));
        return Json::object();
    }

    if (m == "vm.create") {
        CreateVmRequest cr;
        cr.name = TRY(json_string(p, "name"));
        cr.image = TRY(json_string(p, "image"));
        cr.cpus = TRY(int_param(p, "cpus", 1));
        cr.memory_mib = TRY(int_param(p, "memory_mib", 256));
        cr.ephemeral = json_bool_or(p, "ephemeral", false);
        if (p.contains("nets")) {
            if (!p["nets"].is_array() || p["nets"].size() > size_t(net::k_max_nics))
                return Error(ErrorKind::InvalidArgument, "'nets' must be a list of at most " + std::to_string(net::k_max_nics) + " NICs");
            for (const auto& n : p["nets"]) {
                if (!n.is_string())
                    return Error(ErrorKind::InvalidArgument, "each of 'nets' is a string: SEGMENT[,label=KEY=VALUE]...");
                cr.nics.push_back(TRY(net::parse_nic_request(n.get<std::string>())));
            }
        }
        return m_vms.create_vm(cr);
    }
    if (m == "vm.start")
        return m_vms.start(TRY(json_string(p, "name")));
    if (m == "vm.stop") {
        int64_t timeout = TRY(int_param(p, "timeout", 30));
        if (timeout < 0 || timeout > 3600)
            return Error(ErrorKind::InvalidArgument, "timeout must be between 0 and 3600 seconds");
        return m_vms.stop(TRY(json_string(p, "name")), std::chrono::seconds(timeout));
    }
    if (m == "vm.kill")
        return m_vms.kill(TRY(json_string(p, "name")));
    if (m == "vm.rm") {
        TRY(m_vms.remove(TRY(json_string(p, "name"))));
        return Json::object();
    }
    if (m == "vm.list")
        return m_vms.list();
    if (m == "vm.show")
        return m_vms.show(TRY(json_string(p, "name")));
    if (m == "vm.events")
        return m_vms.events(param(p, "name"), std::clamp<int64_t>(TRY(int_param(p, "count", 50)), 1, 10000));
    if (m == "vm.console")
        return m_vms.console(TRY(json_string(p, "name")), TRY(int_param(p, "offset", 0)), TRY(int_param(p, "max", 1 << 20)));
    if (m == "vm.exec") {
        if (!p.contains("argv") || !p["argv"].is_array() || p["argv"].empty() || p["argv"].size() > 4096)
            return Error(ErrorKind::InvalidArgument, "argv must be a non-empty list of strings");
        std::vector<std::string> argv;
        for (const auto& a : p["argv"]) {
            if (!a.is_string())
                return Error(ErrorKind::InvalidArgument, "argv must be a non-empty list of strings");
            argv.push_back(a.get<std::string>());
        }
        int64_t timeout = TRY(int_param(p, "timeout", 60));
        if (timeout < 1 || timeout > 86400)
            return Error(ErrorKind::InvalidArgument, "timeout must be between 1 and 86400 seconds");
        auto r = TRY(m_vms.exec(TRY(json_string(p, "name")), argv, std::chrono::seconds(timeout)));
        return Json {{"exit_code", r.exit_code}, {"signal", r.signal}, {"stdout_b64", base64_encode(r.out)},
            {"stderr_b64", base64_encode(r.err)}, {"stdout_truncated", r.out_truncated}, {"stderr_truncated", r.err_truncated}};
    }

    if (m == "snapshot.create")
        return TRY(m_vms.snapshot_create(TRY(json_string(p, "vm")), TRY(json_string(p, "name")))).to_json();
    if (m == "snapshot.list") {
        Json out = Json::array();
        for (const auto& s : TRY(m_vms.snapshot_list(TRY(json_string(p, "vm")))))
            out.push_back(s.to_json());
        return out;
    }
    if (m == "snapshot.revert")
        return m_vms.snapshot_revert(TRY(json_string(p, "vm")), TRY(json_string(p, "name")));
    if (m == "snapshot.rm") {
        TRY(m_vms.snapshot_remove(TRY(json_string(p, "vm")), TRY(json_string(p, "name"))));
        return Json::object();
    }

    if (m == "audit.tail") {
        Json out = Json::array();
        for (const auto& e : TRY(m_audit.tail(std::clamp<int64_t>(TRY(int_param(p, "count", 20)), 1, 100000))))
            out.push_back(e.to_json());
        return out;
    }
    if (m == "audit.verify") {
        auto report = TRY(m_audit.verify(m_key.public_key()));
        if (!report.ok) {
            std::string msg = "the audit log has been tampered with:";
            for (const auto& problem : report.problems)
                msg += "\n  " + problem;
            return Error(ErrorKind::VerifyFailed, msg);
        }
        return report.to_json();
    }
    return Error(ErrorKind::Internal, "method '" + m + "' has no handler");
}

namespace {

// The YARA rule files that follow the other fds of a request: "yara": ["name", ...].
Result<std::vector<std::pair<std::string, int>>> yara_fds(const Json& p, std::vector<Fd>& fds, size_t first)
{
    std::vector<std::pair<std::string, int>> out;
    if (!p.contains("yara"))
        return out;
    if (!p["yara"].is_array())
        return Error(ErrorKind::InvalidArgument, "yara must be a list of rule file names");
    for (size_t i = 0; i < p["yara"].size(); ++i) {
        const auto& n = p["yara"][i];
        if (!n.is_string() || n.get<std::string>().empty() || n.get<std::string>().size() > 255
            || n.get<std::string>().find_first_of("=/\n") != std::string::npos)
            return Error(ErrorKind::InvalidArgument, "a YARA rule file name must be a plain file name");
        if (first + i >= fds.size())
            return Error(ErrorKind::InvalidArgument, "a YARA rule file was named but not passed");
        out.emplace_back(n.get<std::string>(), fds[first + i].get());
    }
    return out;
}

// The worker's progress, as the control protocol reports it.
std::function<void(const scan::ScanProgress&)> relay(const ProgressSink& progress)
{
    if (!progress)
        return {};
    return [&progress](const scan::ScanProgress& p) { progress(Progress {p.files, p.files_total, p.bytes_scanned}); };
}

std::vector<std::pair<std::string, std::string>> identities_of(const Json& report)
{
    std::vector<std::pair<std::string, std::string>> out;
    if (!report.contains("identity") || !report["identity"].is_object())
        return out;
    const Json& id = report["identity"];
    if (id.contains("machine_id") && id["machine_id"].is_string())
        out.emplace_back("machine-id", id["machine_id"].get<std::string>());
    if (id.contains("ssh_host_keys") && id["ssh_host_keys"].is_array()) {
        for (const auto& k : id["ssh_host_keys"])
            out.emplace_back("ssh-host-key", json_string_or(k, "fingerprint", "?"));
    }
    return out;
}

}  // namespace

Result<Json> ApiHandlers::dispatch_vetting(const Request& req, std::vector<Fd>& fds, const ProgressSink& progress)
{
    const Json& p = req.params;
    const std::string& m = req.method;
    if (m == "image.import") {
        ImportRequest ir;
        ir.name = TRY(json_string(p, "name"));
        ir.version = param(p, "version");
        ir.cmdline = param(p, "cmdline");
        bool has_kernel = json_bool_or(p, "kernel", false);
        bool has_initrd = json_bool_or(p, "initrd", false);
        size_t first_yara = 1 + (has_kernel ? 1 : 0) + (has_initrd ? 1 : 0);
        size_t yara_count = p.contains("yara") && p["yara"].is_array() ? p["yara"].size() : 0;
        if (fds.size() != first_yara + yara_count)
            return Error(ErrorKind::InvalidArgument, "image.import expects " + std::to_string(first_yara + yara_count)
                    + " file descriptors, got " + std::to_string(fds.size()));
        ir.disk_fd = fds[0].get();
        if (has_kernel)
            ir.kernel_fd = fds[1].get();
        if (has_initrd)
            ir.initrd_fd = fds[has_kernel ? 2 : 1].get();
        scan::VetRequest vr;
        vr.yara = TRY(yara_fds(p, fds, first_yara));
        vr.policy_text = param(p, "policy");
        vr.policy_name = param(p, "policy_name");
        vr.progress = relay(progress);
        TRY(scan::Vetting::policy_of(vr));  // a bad policy is refused before any work
        Json summary;
        ir.vet = [&](int disk_fd, const Json& image) -> Result<ImportVetting> {
            vr.image_fd = disk_fd;
            vr.image = image;
            vr.image["source"] = "import";
            Json report = TRY(m_vetting.vet(vr));
            summary = report["policy"];
            if (!json_bool_or(report["policy"], "admitted", false))
                return Error(ErrorKind::Denied, "image '" + ir.name + ":" + image["version"].get<std::string>()
                        + "' was refused by the admission policy (" + json_string_or(report["policy"], "source", "?")
                        + "); nothing was stored. Refused:" + scan::refusal_summary(report)
                        + "\nSee everything with: bulwark image scan FILE");
            ImportVetting v;
            v.sbom = json_dump(report::to_cyclonedx(report));
            v.identities = identities_of(report);
            v.report = std::move(report);
            return v;
        };
        Json out = TRY(m_images.import(ir)).to_json();
        out["admission"] = summary;
        return out;
    }
    if (m == "image.scan") {
        scan::VetRequest vr;
        vr.policy_text = param(p, "policy");
        vr.policy_name = param(p, "policy_name");
        Fd blob;
        size_t first_yara = 0;
        if (p.contains("ref")) {
            auto rec = TRY(m_images.find(TRY(json_string(p, "ref"))));
            auto verified = TRY(m_images.verify(rec, VerifyDepth::Cached));
            blob = TRY(sys::open(verified.disk_path, O_RDONLY | O_CLOEXEC));
            vr.image_fd = blob.get();
            vr.image = Json {{"name", rec.name}, {"version", rec.version}, {"digest", rec.manifest["disk"]["digest"]},
                {"format", "qcow2"}, {"source", "library"}};
        } else {
            if (fds.empty())
                return Error(ErrorKind::InvalidArgument, "image.scan needs an image: a ref or a file descriptor");
            vr.image_fd = fds[0].get();
            first_yara = 1;
            vr.image = Json {{"name", param(p, "file")}, {"version", nullptr}, {"digest", nullptr}, {"source", "file"}};
            // Backing files of a qcow2 chain, opened by the CLI: the names the images give
            // them, then the fds, right after the image's.
            if (p.contains("backing")) {
                if (!p["backing"].is_array() || p["backing"].size() > 15)
                    return Error(ErrorKind::InvalidArgument, "backing must be a list of at most 15 names");
                for (const auto& n : p["backing"]) {
                    if (!n.is_string() || n.get<std::string>().empty() || n.get<std::string>().size() > 1023
                        || n.get<std::string>().find('\0') != std::string::npos || first_yara >= fds.size())
                        return Error(ErrorKind::InvalidArgument, "a backing file name is invalid or its file was not passed");
                    vr.backing.emplace_back(n.get<std::string>(), fds[first_yara++].get());
                }
            }
        }
        vr.yara = TRY(yara_fds(p, fds, first_yara));
        vr.content = !json_bool_or(p, "inventory_only", false);
        vr.progress = relay(progress);
        if (fds.size() != first_yara + vr.yara.size())
            return Error(ErrorKind::InvalidArgument, "image.scan got more file descriptors than it uses");
        return m_vetting.vet(vr);
    }
    auto rec = TRY(m_images.find(TRY(json_string(p, "ref"))));
    auto row = TRY(m_images.db().query_one("SELECT report, sbom FROM image_reports WHERE image_id = ?", {rec.id}));
    if (!row)
        return Error(ErrorKind::NotFound, "image '" + rec.ref() + "' has no stored scan report (it was imported before vetting existed)");
    auto parsed = TRY(parse_json(row->text(m == "image.sbom" ? 1 : 0), {k_max_response_bytes, 64}));
    if (m == "image.sbom")
        return parsed;
    // Other images that carry one of this image's identities: clones, or copies of one.
    Json clones = Json::array();
    for (const auto& r : TRY(m_images.db().query(
             "SELECT DISTINCT i.name, i.version, o.kind, o.value FROM image_identities o JOIN image_identities mine "
             "ON mine.kind = o.kind AND mine.value = o.value JOIN images i ON i.id = o.image_id "
             "WHERE mine.image_id = ? AND o.image_id != ? ORDER BY i.name, i.version",
             {rec.id, rec.id})))
        clones.push_back(Json {{"image", r.text(0) + ":" + r.text(1)}, {"kind", r.text(2)}, {"value", r.text(3)}});
    parsed["shared_identities"] = clones;
    return parsed;
}

}  // namespace bulwark
