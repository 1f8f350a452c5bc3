// bulwark: the command-line client. It parses arguments, sends one request to bulwarkd and
// prints the answer; it holds no state of its own.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>

#include "base/base64.h"
#include "base/paths.h"
#include "base/system.h"
#include "cli/client.h"
#include "cli/net_commands.h"
#include "cli/output.h"
#include "report/render.h"

using namespace bulwark;
using namespace bulwark::cli;

namespace {

constexpr const char* k_exit_codes = R"(Exit codes:
  0  success                       5  verification failed (tampering)
  1  other failure                 6  unavailable (bulwarkd not running, QEMU missing)
  2  usage or invalid argument     7  timed out
  3  not found                     8  corrupt or unsupported input
  4  conflict (exists, in use,     9  denied
     wrong state)
  vm exec exits with the guest command's own exit code (128+N if killed by signal N).)";

int exit_code_for(ErrorKind kind)
{
    switch (kind) {
    case ErrorKind::InvalidArgument: return 2;
    case ErrorKind::NotFound: return 3;
    case ErrorKind::Conflict: return 4;
    case ErrorKind::VerifyFailed: return 5;
    case ErrorKind::Unavailable: return 6;
    case ErrorKind::Timeout: return 7;
    case ErrorKind::Corrupt: return 8;
    case ErrorKind::Denied: return 9;
    default: return 1;
    }
}

std::string str(const Json& j, const char* key)
{
    if (!j.is_object() || !j.contains(key) || j[key].is_null())
        return "-";
    if (j[key].is_string())
        return j[key].get<std::string>();
    return json_dump(j[key]);
}

struct Context {
    std::string home;
    bool json = false;
};

int fail(const Error& e)
{
    std::fprintf(stderr, "bulwark: %s\n", e.message().c_str());
    return exit_code_for(e.kind());
}

void print_json(const Json& j) { std::cout << json_dump(j, 2) << "\n"; }

// A qcow2's backing chain, opened here with the caller's rights: each image names its backing
// file in its header (relative names are relative to that image's directory). Only the name
// and the file go to bulwarkd; the inspector reads them.
VoidResult add_backing_chain(const std::string& image, Json& params, std::vector<Fd>& files, std::vector<int>& raw)
{
    Json names = Json::array();
    std::string current = image;
    for (int depth = 0; depth < 15; ++depth) {
        auto fd = TRY(sys::open(current, O_RDONLY));
        char header[20] {};
        if (::pread(fd.get(), header, sizeof header, 0) != static_cast<ssize_t>(sizeof header) || std::memcmp(header, "QFI\xfb", 4) != 0)
            break;
        auto be = [&](int off, int n) {
            uint64_t v = 0;
            for (int i = 0; i < n; ++i)
                v = (v << 8) | static_cast<uint8_t>(header[off + i]);
            return v;
        };
        uint64_t offset = be(8, 8);
        uint64_t size = be(16, 4);
        if (offset == 0 || size == 0)
            break;
        if (size > 1023 || offset > (1 << 20))
            return Error(ErrorKind::Corrupt, current + ": its backing file name is not a sane one");
        std::string name(size, '\0');
        if (::pread(fd.get(), name.data(), size, static_cast<off_t>(offset)) != static_cast<ssize_t>(size))
            return Error(ErrorKind::Corrupt, current + ": its backing file name lies past the end of the file");
        if (name.find('\0') != std::string::npos)
            return Error(ErrorKind::Corrupt, current + ": its backing file name holds a NUL byte");
        for (const auto& n : names) {
            if (n == name)
                return Error(ErrorKind::Corrupt, current + ": the backing chain names '" + name + "' twice");
        }
        std::string path = name[0] == '/' ? name : sys::dirname(current) + "/" + name;
        auto backing = TRY_CTX(sys::open(path, O_RDONLY), current + " is backed by " + name);
        raw.push_back(backing.get());
        files.push_back(std::move(backing));
        names.push_back(name);
        current = path;
    }
    if (!names.empty())
        params["backing"] = names;
    return {};
}

// An image scan or import, with a progress bar on stderr when a person is watching: human
// output (not --json, not SARIF) and both stdout and stderr on a terminal. Piped, nothing is
// drawn and the request does not ask for progress lines.
Result<Json> call_with_progress(Client& client, const std::string& method, const Json& params, const std::vector<int>& fds,
    bool human, const std::string& label)
{
    if (!human || !::isatty(STDERR_FILENO) || !::isatty(STDOUT_FILENO))
        return client.call(method, params, fds);
    ProgressBar bar(STDERR_FILENO, label);
    auto r = client.call(method, params, fds, [&bar](const Progress& p) { bar.update(p.files, p.files_total, p.bytes); });
    bar.clear();
    return r;
}

// The admission policy (read here, sent as text) and YARA rule files (opened here, passed as
// fds after the others) of an import or a scan.
VoidResult add_vetting_inputs(Json& params, std::vector<Fd>& files, std::vector<int>& raw, const std::string& policy_file,
    const std::vector<std::string>& yara_files)
{
    if (!policy_file.empty()) {
        params["policy"] = TRY_CTX(sys::read_file(policy_file, 1 << 20), "admission policy " + policy_file);
        params["policy_name"] = policy_file;
    }
    Json names = Json::array();
    for (const auto& y : yara_files) {
        auto fd = TRY_CTX(sys::open(y, O_RDONLY), "YARA rules");
        raw.push_back(fd.get());
        files.push_back(std::move(fd));
        names.push_back(sys::basename(y));
    }
    if (!names.empty())
        params["yara"] = names;
    return {};
}

std::string image_row_size(const Json& manifest, const char* key)
{
    if (!manifest.contains("disk") || !manifest["disk"].contains(key) || !manifest["disk"][key].is_number())
        return "-";
    return human_size(manifest["disk"][key].get<int64_t>());
}

}  // namespace

int main(int argc, char** argv)
{
    // A closed pipe (bulwark ... | head) or a daemon that hung up is an error, not a silent death.
    ::signal(SIGPIPE, SIG_IGN);
    CLI::App app {"bulwark: run guests from signed golden images, with clean rollback, snapshots and an audit trail.\n"
                  "Talks to bulwarkd over DATA_DIR/bulwarkd.sock.",
        "bulwark"};
    app.footer(k_exit_codes);
    app.require_subcommand(1);
    // --home and --json are accepted after the subcommand too (bulwark vm list --json).
    app.fallthrough();
    Context ctx;
    app.add_option("--home", ctx.home, "data directory of the bulwarkd to talk to (default: $BULWARK_HOME or ~/.local/share/bulwark)");
    app.add_flag("--json", ctx.json, "print machine-readable JSON");

    auto* status = app.add_subcommand("status", "show whether bulwarkd is running, and its settings");

    // image
    auto* image = app.add_subcommand("image", "golden images: import, list, show, verify, rm");
    image->require_subcommand(1);
    std::string img_file, img_name, img_version, img_kernel, img_initrd, img_cmdline, img_ref;
    auto* img_import = image->add_subcommand("import", "vet, sign and store a qcow2 or raw disk image");
    img_import->add_option("file", img_file, "qcow2 or raw disk image")->required();
    img_import->add_option("--name", img_name, "image name (a-z, 0-9, '.', '_', '-')")->required();
    img_import->add_option("--version", img_version, "version (default: the next integer)");
    img_import->add_option("--kernel", img_kernel, "kernel for direct boot, stored and signed with the image");
    img_import->add_option("--initrd", img_initrd, "initramfs for direct boot");
    img_import->add_option("--cmdline", img_cmdline, "kernel command line for direct boot");
    std::string policy_file, scan_format = "table", sbom_out;
    std::vector<std::string> yara_files;
    img_import->add_option("--policy", policy_file, "admission policy (TOML; default: the built-in one, see policy/default.toml)");
    img_import->add_option("--yara", yara_files, "YARA rule file to run over every file of the image (repeatable)");
    auto* img_scan = image->add_subcommand("scan", "vet a disk image file, or a stored image, without importing it");
    img_scan->add_option("image", img_ref, "a qcow2 or raw FILE, or NAME[:VERSION] of a stored image")->required();
    img_scan->add_option("--policy", policy_file, "admission policy (TOML)");
    img_scan->add_option("--yara", yara_files, "YARA rule file (repeatable)");
    img_scan->add_option("--format", scan_format, "table, json or sarif")->check(CLI::IsMember({"table", "json", "sarif"}));
    bool inventory_only = false;
    img_scan->add_flag("--inventory-only", inventory_only, "skip the content scan (secrets, YARA): packages, configuration and vulnerabilities only");
    auto* img_report = image->add_subcommand("report", "the scan report stored with an image at its import");
    img_report->add_option("image", img_ref, "NAME or NAME:VERSION")->required();
    img_report->add_option("--format", scan_format, "table, json or sarif")->check(CLI::IsMember({"table", "json", "sarif"}));
    auto* img_sbom = image->add_subcommand("sbom", "the image's software bill of materials (CycloneDX 1.5 JSON)");
    img_sbom->add_option("image", img_ref, "NAME or NAME:VERSION")->required();
    img_sbom->add_option("-o,--output", sbom_out, "write to this file instead of stdout");
    auto* img_list = image->add_subcommand("list", "list golden images");
    auto* img_show = image->add_subcommand("show", "show an image's signed manifest");
    img_show->add_option("image", img_ref, "NAME or NAME:VERSION")->required();
    auto* img_verify = image->add_subcommand("verify", "re-hash an image (or all) and check its signature");
    img_verify->add_option("image", img_ref, "NAME or NAME:VERSION (default: all)");
    auto* img_rm = image->add_subcommand("rm", "remove an image no guest uses");
    img_rm->add_option("image", img_ref, "NAME:VERSION (or NAME: the latest)")->required();

    // vuln
    auto* vuln = app.add_subcommand("vuln", "the vulnerability feed: update from OSV files, status");
    vuln->require_subcommand(1);
    std::string feed_path;
    auto* vuln_update = vuln->add_subcommand("update", "load OSV advisories from a directory of *.json files or one file");
    vuln_update->add_option("path", feed_path, "DIR or FILE")->required();
    auto* vuln_status = vuln->add_subcommand("status", "how many advisories are loaded, and when");

    // vm
    auto* vm = app.add_subcommand("vm", "guests: create, start, stop, kill, list, show, console, exec, rm");
    vm->require_subcommand(1);
    std::string vm_name, vm_image, vm_memory = "256";
    int64_t vm_cpus = 1, vm_timeout = 30, vm_exec_timeout = 60, vm_tail = 4096, ev_count = 20;
    bool vm_ephemeral = false, vm_follow = false;
    std::vector<std::string> vm_command;
    auto* vm_create = vm->add_subcommand("create", "define a guest: a private overlay on a golden image");
    vm_create->add_option("name", vm_name, "guest name")->required();
    vm_create->add_option("--image", vm_image, "NAME or NAME:VERSION")->required();
    vm_create->add_option("--cpus", vm_cpus, "virtual CPUs (1-64)");
    vm_create->add_option("--memory", vm_memory, "memory: MiB, or with M/G suffix (default 256)");
    vm_create->add_flag("--ephemeral", vm_ephemeral, "discard every change at each start (clean on every boot)");
    auto* vm_start = vm->add_subcommand("start", "verify the image, then boot the guest");
    vm_start->add_option("name", vm_name)->required();
    auto* vm_stop = vm->add_subcommand("stop", "shut down gracefully (ACPI), then kill after the timeout");
    vm_stop->add_option("name", vm_name)->required();
    vm_stop->add_option("--timeout", vm_timeout, "seconds to wait for a clean shutdown (default 30)");
    auto* vm_kill = vm->add_subcommand("kill", "stop the guest at once (SIGKILL)");
    vm_kill->add_option("name", vm_name)->required();
    auto* vm_rm = vm->add_subcommand("rm", "delete a stopped guest, its overlay and snapshots");
    vm_rm->add_option("name", vm_name)->required();
    auto* vm_list = vm->add_subcommand("list", "list guests");
    auto* vm_show = vm->add_subcommand("show", "show a guest, its snapshots and recent events");
    vm_show->add_option("name", vm_name)->required();
    auto* vm_console = vm->add_subcommand("console", "print the guest's serial console log");
    vm_console->add_option("name", vm_name)->required();
    vm_console->add_flag("-f,--follow", vm_follow, "keep printing new output (Ctrl-C to stop)");
    vm_console->add_option("--tail", vm_tail, "start this many bytes before the end (default 4096; 0: whole log)");
    auto* vm_exec = vm->add_subcommand("exec", "run a command in the guest via its agent: bulwark vm exec NAME -- CMD...");
    vm_exec->add_option("name", vm_name)->required();
    vm_exec->add_option("command", vm_command, "the command and its arguments")->required();
    vm_exec->add_option("--timeout", vm_exec_timeout, "seconds to wait for the command (default 60)");
    auto* vm_events = vm->add_subcommand("events", "recent guest events (started, stopped, crashed, ...)");
    vm_events->add_option("name", vm_name, "only this guest");
    vm_events->add_option("-n,--count", ev_count, "how many (default 20)");
    std::vector<std::string> vm_nets;
    vm_create->add_option("--net", vm_nets, "a NIC on segment SEGMENT, with labels for the policy and optional rate limits: SEGMENT[,label=KEY=VALUE]...[,fps=N][,mbit=N] (repeatable)");
    NetCommands net;
    add_net_commands(app, *vm, net);

    // snapshot
    auto* snap = app.add_subcommand("snapshot", "snapshots of a guest: create, list, revert, rm");
    snap->require_subcommand(1);
    std::string snap_vm, snap_name;
    auto* snap_create = snap->add_subcommand("create", "snapshot disk (and memory, if running)");
    snap_create->add_option("vm", snap_vm)->required();
    snap_create->add_option("name", snap_name)->required();
    auto* snap_list = snap->add_subcommand("list", "list a guest's snapshots");
    snap_list->add_option("vm", snap_vm)->required();
    auto* snap_revert = snap->add_subcommand("revert", "return the guest to a snapshot");
    snap_revert->add_option("vm", snap_vm)->required();
    snap_revert->add_option("name", snap_name)->required();
    auto* snap_rm = snap->add_subcommand("rm", "delete a snapshot");
    snap_rm->add_option("vm", snap_vm)->required();
    snap_rm->add_option("name", snap_name)->required();

    // audit
    auto* audit = app.add_subcommand("audit", "the hash-chained audit log: tail, verify");
    audit->require_subcommand(1);
    int64_t audit_count = 20;
    auto* audit_tail = audit->add_subcommand("tail", "show the newest audit entries");
    audit_tail->add_option("-n,--count", audit_count, "how many (default 20)");
    auto* audit_verify = audit->add_subcommand("verify", "check the hash chain and the signed checkpoints");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }
    if (ctx.home.empty())
        ctx.home = default_home();
    if (auto real = sys::realpath(ctx.home); real.is_ok())
        ctx.home = real.value();
    Client client(ctx.home);
    if (auto code = run_net_commands(net, client, ctx.json, [](const Error& e) { return fail(e); }))
        return *code;

    auto simple = [&](const std::string& method, const Json& params, auto&& human) -> int {
        auto r = client.call(method, params);
        if (r.is_error())
            return fail(r.error());
        if (ctx.json)
            print_json(r.value());
        else
            human(r.value());
        return 0;
    };

    if (status->parsed())
        return simple("ping", {}, [&](const Json& j) {
            std::printf("bulwarkd is running (pid %s)\nhome:        %s\naccelerator: %s\nhost key:    ed25519:%s\n",
                str(j, "pid").c_str(), str(j, "home").c_str(), str(j, "accel").c_str(), str(j, "public_key").c_str());
        });

    if (img_import->parsed()) {
        // The files are opened here, with the caller's own rights, and handed over as fds:
        // bulwarkd never opens a path on a caller's behalf.
        std::vector<Fd> files;
        for (const auto* path : {&img_file, &img_kernel, &img_initrd}) {
            if (path->empty())
                continue;
            auto fd = sys::open(*path, O_RDONLY);
            if (fd.is_error())
                return fail(fd.error());
            files.push_back(fd.release_value());
        }
        std::vector<int> raw;
        for (const auto& f : files)
            raw.push_back(f.get());
        Json params {{"name", img_name}, {"kernel", !img_kernel.empty()}, {"initrd", !img_initrd.empty()}};
        if (!img_version.empty())
            params["version"] = img_version;
        if (!img_cmdline.empty())
            params["cmdline"] = img_cmdline;
        if (auto r = add_vetting_inputs(params, files, raw, policy_file, yara_files); r.is_error())
            return fail(r.error());
        auto r = call_with_progress(client, "image.import", params, raw, !ctx.json, "importing " + sys::basename(img_file));
        if (r.is_error())
            return fail(r.error());
        if (ctx.json) {
            print_json(r.value());
        } else {
            const Json& counts = r.value().contains("admission") && r.value()["admission"].is_object() ? r.value()["admission"]["counts"] : Json::object();
            std::printf("imported %s:%s  %s\nadmitted by %s: %s warning(s), %s note(s)%s\n", str(r.value(), "name").c_str(),
                str(r.value(), "version").c_str(), str(r.value()["manifest"]["disk"], "digest").c_str(),
                str(r.value()["admission"], "source").c_str(), str(counts, "warn").c_str(), str(counts, "info").c_str(),
                str(counts, "excepted") == "0" ? "" : (", " + str(counts, "excepted") + " excepted").c_str());
            std::printf("report: bulwark image report %s:%s\n", str(r.value(), "name").c_str(), str(r.value(), "version").c_str());
        }
        return 0;
    }
    if (img_scan->parsed() || img_report->parsed()) {
        Json params = Json::object();
        std::vector<Fd> files;
        std::vector<int> raw;
        std::string method = img_scan->parsed() ? "image.scan" : "image.report";
        // A path that exists is a file to scan; anything else names a stored image.
        bool is_file = img_scan->parsed() && (img_ref.find('/') != std::string::npos || sys::exists(img_ref));
        if (is_file) {
            auto fd = sys::open(img_ref, O_RDONLY);
            if (fd.is_error())
                return fail(fd.error());
            raw.push_back(fd.value().get());
            files.push_back(fd.release_value());
            params["file"] = sys::basename(img_ref);
            if (auto r = add_backing_chain(img_ref, params, files, raw); r.is_error())
                return fail(r.error());
        } else {
            params["ref"] = img_ref;
        }
        if (img_scan->parsed()) {
            if (inventory_only)
                params["inventory_only"] = true;
            if (auto r = add_vetting_inputs(params, files, raw, policy_file, yara_files); r.is_error())
                return fail(r.error());
        }
        bool human = !ctx.json && scan_format == "table" && img_scan->parsed();
        auto r = call_with_progress(client, method, params, raw, human, "scanning " + (is_file ? sys::basename(img_ref) : img_ref));
        if (r.is_error())
            return fail(r.error());
        const Json& report = r.value();
        if (ctx.json || scan_format == "json")
            print_json(report);
        else if (scan_format == "sarif")
            print_json(report::to_sarif(report));
        else
            std::cout << report::to_table(report, ::isatty(STDOUT_FILENO));
        bool admitted = report.contains("policy") && report["policy"].is_object() && json_bool_or(report["policy"], "admitted", false);
        // A scan whose image the policy would refuse exits with "denied" (9).
        return admitted ? 0 : 9;
    }
    if (img_sbom->parsed()) {
        auto r = client.call("image.sbom", {{"ref", img_ref}});
        if (r.is_error())
            return fail(r.error());
        std::string text = json_dump(r.value(), 2) + "\n";
        if (sbom_out.empty()) {
            std::cout << text;
            return 0;
        }
        auto written = sys::write_file_atomic(sbom_out, text, 0644);
        if (written.is_error())
            return fail(written.error());
        return 0;
    }
    if (vuln_update->parsed()) {
        auto fd = sys::open(feed_path, O_RDONLY);
        if (fd.is_error())
            return fail(fd.error());
        auto r = client.call("vuln.update", {{"source", feed_path}}, {fd.value().get()});
        if (r.is_error())
            return fail(r.error());
        const Json& u = r.value();
        if (ctx.json) {
            print_json(u);
        } else {
            std::printf("read %s record(s) from %s file(s): %s added, %s replaced, %s unchanged, %s older than stored, %s not for Debian\n",
                str(u, "records").c_str(), str(u, "files").c_str(), str(u, "added").c_str(), str(u, "replaced").c_str(),
                str(u, "unchanged").c_str(), str(u, "older").c_str(), str(u, "ignored").c_str());
            for (const auto& e : u["errors"])
                std::printf("skipped: %s\n", e.get<std::string>().c_str());
            std::printf("the feed now holds %s advisories\n", str(u["status"], "advisories").c_str());
        }
        return u["errors"].empty() ? 0 : 8;
    }
    if (vuln_status->parsed())
        return simple("vuln.status", {}, [&](const Json& j) {
            std::printf("advisories: %s\nupdated:    %s\nfrom:       %s\n", str(j, "advisories").c_str(),
                j["updated"].is_null() ? "never (bulwark vuln update DIR|FILE)" : str(j, "updated").c_str(), str(j, "source").c_str());
        });
    if (img_list->parsed())
        return simple("image.list", {}, [&](const Json& j) {
            Table t({"NAME", "VERSION", "PARENT", "VIRTUAL", "STORED", "BOOT", "CREATED", "DIGEST"});
            for (const auto& r : j) {
                const Json& m = r["manifest"];
                std::string digest = m.contains("disk") ? str(m["disk"], "digest") : "-";
                t.add({str(r, "name"), str(r, "version"), str(m, "parent_version"), image_row_size(m, "virtual_size"),
                    image_row_size(m, "size"), m.contains("boot") ? "kernel" : "disk", str(m, "created"),
                    digest.substr(0, 19)});
            }
            std::cout << t.render();
        });
    if (img_show->parsed())
        return simple("image.show", {{"ref", img_ref}}, [&](const Json& j) {
            std::cout << json_dump(j["manifest"], 2) << "\nsignature: " << str(j, "signature") << "\n";
        });
    if (img_verify->parsed()) {
        Json params = Json::object();
        if (!img_ref.empty())
            params["ref"] = img_ref;
        return simple("image.verify", params, [&](const Json& j) {
            for (const auto& r : j)
                std::printf("%s: ok (digests and signature verified)\n", str(r, "image").c_str());
        });
    }
    if (img_rm->parsed())
        return simple("image.rm", {{"ref", img_ref}}, [&](const Json&) { std::printf("removed %s\n", img_ref.c_str()); });

    auto vm_summary = [&](const Json& j) {
        std::printf("%s: %s (image %s, %s cpus, %s MiB, %s%s)\n", str(j, "name").c_str(), str(j, "state").c_str(),
            str(j, "image").c_str(), str(j, "cpus").c_str(), str(j, "memory_mib").c_str(), str(j, "accel").c_str(),
            j.value("ephemeral", false) ? ", ephemeral" : "");
    };
    if (vm_create->parsed()) {
        int64_t memory = parse_memory_mib(vm_memory);
        if (memory < 0)
            return fail(Error(ErrorKind::InvalidArgument, "--memory must be a size like 512, 512M or 2G"));
        Json params {{"name", vm_name}, {"image", vm_image}, {"cpus", vm_cpus}, {"memory_mib", memory}, {"ephemeral", vm_ephemeral}};
        if (!vm_nets.empty())
            params["nets"] = vm_nets;
        return simple("vm.create", params, vm_summary);
    }
    if (vm_start->parsed())
        return simple("vm.start", {{"name", vm_name}}, vm_summary);
    if (vm_stop->parsed())
        return simple("vm.stop", {{"name", vm_name}, {"timeout", vm_timeout}}, [&](const Json& j) {
            std::printf("%s: stopped (%s)\n", vm_name.c_str(), str(j, "how").c_str());
        });
    if (vm_kill->parsed())
        return simple("vm.kill", {{"name", vm_name}}, [&](const Json&) { std::printf("%s: killed\n", vm_name.c_str()); });
    if (vm_rm->parsed())
        return simple("vm.rm", {{"name", vm_name}}, [&](const Json&) { std::printf("removed %s\n", vm_name.c_str()); });
    if (vm_list->parsed())
        return simple("vm.list", {}, [&](const Json& j) {
            Table t({"NAME", "STATE", "IMAGE", "CPUS", "MEMORY", "ACCEL", "EPHEMERAL", "PID"});
            for (const auto& v : j)
                t.add({str(v, "name"), str(v, "state"), str(v, "image"), str(v, "cpus"), str(v, "memory_mib") + " MiB",
                    str(v, "accel"), v.value("ephemeral", false) ? "yes" : "no", str(v, "pid")});
            std::cout << t.render();
        });
    if (vm_show->parsed())
        return simple("vm.show", {{"name", vm_name}}, [&](const Json& j) {
            std::printf("name:        %s\nstate:       %s%s\nimage:       %s\ncpus:        %s\nmemory:      %s MiB\n"
                        "accelerator: %s\nephemeral:   %s\npid:         %s\ncreated:     %s\nstarted:     %s\nstopped:     %s\n"
                        "overlay:     %s\n",
                str(j, "name").c_str(), str(j, "state").c_str(),
                j.contains("qemu_status") ? (" (QEMU: " + str(j, "qemu_status") + ")").c_str() : "", str(j, "image").c_str(),
                str(j, "cpus").c_str(), str(j, "memory_mib").c_str(), str(j, "accel").c_str(),
                j.value("ephemeral", false) ? "yes" : "no", str(j, "pid").c_str(), str(j, "created").c_str(),
                str(j, "started").c_str(), str(j, "stopped").c_str(), str(j, "overlay").c_str());
            if (!j["snapshots"].empty()) {
                std::printf("snapshots:\n");
                for (const auto& s : j["snapshots"])
                    std::printf("  %s  %s  %s\n", str(s, "name").c_str(), str(s, "created").c_str(),
                        s.value("memory", false) ? "disk+memory" : "disk");
            }
            std::printf("recent events:\n");
            for (const auto& e : j["events"])
                std::printf("  %s  %-18s %s\n", str(e, "time").c_str(), str(e, "kind").c_str(), str(e, "message").c_str());
        });
    if (vm_events->parsed()) {
        Json params {{"count", ev_count}};
        if (!vm_name.empty())
            params["name"] = vm_name;
        return simple("vm.events", params, [&](const Json& j) {
            Table t({"TIME", "GUEST", "EVENT", "MESSAGE"});
            for (const auto& e : j)
                t.add({str(e, "time"), str(e, "vm"), str(e, "kind"), str(e, "message")});
            std::cout << t.render();
        });
    }
    if (vm_console->parsed()) {
        int64_t offset = vm_tail > 0 ? -vm_tail : 0;
        for (;;) {
            auto r = client.call("vm.console", {{"name", vm_name}, {"offset", offset}});
            if (r.is_error())
                return fail(r.error());
            const Json& j = r.value();
            auto data = base64_decode(json_string_or(j, "data_b64", ""));
            if (ctx.json && !vm_follow) {
                Json o {{"offset", j["offset"]}, {"size", j["size"]}, {"data", data.value_or("")}};
                std::cout << json_dump(o, 2) << "\n";
                return 0;
            }
            if (data)
                (void)sys::write_all(1, *data);
            int64_t next = json_int_or(j, "offset", 0);
            bool more = next < json_int_or(j, "size", 0);
            offset = next;
            if (!vm_follow && !more)
                return 0;
            if (!more)
                std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
    }
    if (vm_exec->parsed()) {
        for (const auto& a : vm_command) {
            if (!is_valid_utf8(a))
                return fail(Error(ErrorKind::InvalidArgument, "the command's arguments must be valid UTF-8 (the guest agent speaks JSON)"));
        }
        auto r = client.call("vm.exec", {{"name", vm_name}, {"argv", vm_command}, {"timeout", vm_exec_timeout}});
        if (r.is_error())
            return fail(r.error());
        const Json& j = r.value();
        std::string out = base64_decode(json_string_or(j, "stdout_b64", "")).value_or("");
        std::string err = base64_decode(json_string_or(j, "stderr_b64", "")).value_or("");
        int code = static_cast<int>(json_int_or(j, "exit_code", 1));
        int sig = static_cast<int>(json_int_or(j, "signal", 0));
        if (ctx.json) {
            Json o {{"exit_code", code}, {"signal", sig}, {"stdout", out}, {"stderr", err}};
            std::cout << json_dump(o, 2) << "\n";
        } else {
            (void)sys::write_all(1, out);
            (void)sys::write_all(2, err);
        }
        return sig > 0 ? 128 + sig : code;
    }

    if (snap_create->parsed())
        return simple("snapshot.create", {{"vm", snap_vm}, {"name", snap_name}}, [&](const Json& j) {
            std::printf("snapshot %s of %s created (%s)\n", snap_name.c_str(), snap_vm.c_str(),
                j.value("memory", false) ? "disk and memory" : "disk only");
        });
    if (snap_list->parsed())
        return simple("snapshot.list", {{"vm", snap_vm}}, [&](const Json& j) {
            Table t({"NAME", "CREATED", "MEMORY", "VM STATE", "DISK"});
            for (const auto& s : j)
                t.add({str(s, "name"), str(s, "created"), s.value("memory", false) ? "yes" : "no",
                    human_size(s.value("vm_state_size", int64_t {0})), human_size(s.value("disk_size", int64_t {0}))});
            std::cout << t.render();
        });
    if (snap_revert->parsed())
        return simple("snapshot.revert", {{"vm", snap_vm}, {"name", snap_name}}, [&](const Json& j) {
            std::printf("%s reverted to %s; now %s\n", snap_vm.c_str(), snap_name.c_str(), str(j, "state").c_str());
        });
    if (snap_rm->parsed())
        return simple("snapshot.rm", {{"vm", snap_vm}, {"name", snap_name}}, [&](const Json&) {
            std::printf("snapshot %s of %s removed\n", snap_name.c_str(), snap_vm.c_str());
        });

    if (audit_tail->parsed())
        return simple("audit.tail", {{"count", audit_count}}, [&](const Json& j) {
            Table t({"SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "PHASE", "OUTCOME"});
            for (const auto& e : j)
                t.add({str(e, "seq"), str(e, "time"), str(e, "actor"), str(e, "action"), str(e, "target"), str(e, "phase"), str(e, "outcome")});
            std::cout << t.render();
        });
    if (audit_verify->parsed())
        return simple("audit.verify", {}, [&](const Json& j) {
            std::printf("audit log intact: %s entries, hash chain unbroken, %s signed checkpoints (last at entry %s)\n",
                str(j, "entries").c_str(), str(j, "checkpoints").c_str(), str(j, "last_signed_seq").c_str());
        });
    std::cerr << app.help();
    return 2;
}
