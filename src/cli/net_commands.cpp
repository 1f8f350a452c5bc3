#include "cli/net_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "base/system.h"
#include "cli/output.h"
#include "ids/engine.h"
#include "ids/rule_parser.h"
#include "net/offline.h"

namespace bulwark::cli {

namespace {

constexpr std::size_t k_max_file = 32u << 20;

std::string text_of(const Json& j, const char* key)
{
    if (!j.contains(key) || j[key].is_null())
        return "-";
    return j[key].is_string() ? j[key].get<std::string>() : json_dump(j[key]);
}

void print_rule_errors(const Json& errors)
{
    for (const auto& e : errors)
        std::fprintf(stderr, "rules: line %s: %s\n", text_of(e, "line").c_str(), text_of(e, "error").c_str());
}

int run_inspect(NetCommands& net, bool json, const std::function<int(const Error&)>& fail)
{
    auto text = sys::read_file(net.rules, 256u << 20);
    if (text.is_error())
        return fail(text.error());
    ids::RuleVars overrides;
    for (const auto& v : net.vars) {
        auto eq = v.find('=');
        if (eq == std::string::npos || eq == 0)
            return fail(Error(ErrorKind::InvalidArgument, "--var '" + v + "': expected NAME=VALUE, e.g. HOME_NET=[10.0.0.0/8]"));
        overrides[v.substr(0, eq)] = v.substr(eq + 1);
    }
    auto loaded = ids::load_rules(text.value(), ids::default_rule_vars(overrides));
    for (const auto& e : loaded.errors)
        std::fprintf(stderr, "%s: %s\n", net.rules.c_str(), e.message.c_str());
    std::size_t count = loaded.rules.size();
    auto engine = ids::Engine::create(std::move(loaded.rules));
    if (engine.is_error())
        return fail(engine.error());
    auto pcap = sys::open(net.pcap, O_RDONLY);
    if (pcap.is_error())
        return fail(pcap.error());
    // EVE goes to the file (created 0600, appended, as Suricata does) or to stdout.
    Fd out;
    if (!net.eve.empty()) {
        auto opened = sys::open(net.eve, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (opened.is_error())
            return fail(opened.error());
        out = std::move(opened.value());
    }
    std::string buffer;
    auto flush = [&] {
        int fd = out.valid() ? out.get() : STDOUT_FILENO;
        std::size_t done = 0;
        while (done < buffer.size()) {
            ssize_t n = ::write(fd, buffer.data() + done, buffer.size() - done);
            if (n <= 0)
                break;
            done += static_cast<std::size_t>(n);
        }
        buffer.clear();
    };
    auto stats = net::inspect_capture(
        pcap.value().get(), std::shared_ptr<ids::Engine>(std::move(engine.value())), [&](const std::string& line) {
            buffer += line;
            buffer += '\n';
            if (buffer.size() > (1u << 20))
                flush();
        });
    flush();
    if (stats.is_error())
        return fail(Error(stats.error().kind(), net.pcap + ": " + stats.error().message()));
    Json s = stats.value().to_json();
    s["rules"] = count;
    s["rule_errors"] = loaded.errors.size();
    if (json) {
        std::cerr << json_dump(s, 2) << "\n";
    } else {
        std::fprintf(stderr,
            "%s rule(s) loaded (%zu refused); %s packet(s), %s bytes in %.3f s (%.1f MB/s): %s alert(s), %s would be dropped, %s "
            "flow(s)\n",
            text_of(s, "rules").c_str(), loaded.errors.size(), text_of(s, "records").c_str(), text_of(s, "bytes").c_str(),
            stats.value().seconds, s["mb_per_second"].get<double>(), text_of(s, "alerts").c_str(), text_of(s, "drops").c_str(),
            text_of(s, "flows").c_str());
        // Not inspected, so not clean: say so (the switch drops these datagrams as well).
        if (stats.value().datagrams_dropped)
            std::fprintf(stderr,
                "warning: %llu fragmented datagram(s) dropped without inspection (%llu of them with overlapping fragments with "
                "different bytes, an evasion attempt; the switch drops these too)\n",
                static_cast<unsigned long long>(stats.value().datagrams_dropped),
                static_cast<unsigned long long>(stats.value().fragment_overlaps));
    }
    return loaded.errors.empty() ? 0 : 8;
}

} // namespace

void add_net_commands(CLI::App& app, CLI::App& vm, NetCommands& net)
{
    auto* group = app.add_subcommand("net", "the virtual network: segmentation policy, IDS rules, status, captures");
    group->require_subcommand(1);
    auto* policy = group->add_subcommand("policy", "the segmentation policy between guests");
    policy->require_subcommand(1);
    net.policy_apply = policy->add_subcommand("apply", "check and apply a policy file (TOML); allowed flows stay up");
    net.policy_apply->add_option("file", net.file, "policy file (docs/network.md)")->required();
    net.policy_show = policy->add_subcommand("show", "the applied policy, compiled: which guest may open what to which");
    auto* rules = group->add_subcommand("rules", "the switch's IDS/IPS rules (a Suricata subset, docs/ids-rules.md)");
    rules->require_subcommand(1);
    net.rules_apply = rules->add_subcommand("apply", "load a rules file into the switch; rules it cannot use are named");
    net.rules_apply->add_option("file", net.file, "rules file")->required();
    net.status = group->add_subcommand("status", "the switch: ports, counters, flows, IDS");
    net.capture = group->add_subcommand("capture", "write a pcap of a guest's traffic");
    net.capture->add_option("vm", net.vm, "guest")->required();
    net.capture->add_option("--pcap", net.pcap, "output file (created 0600)")->required();
    net.capture->add_option("--seconds", net.seconds, "how long to capture (default 10)");
    net.capture->add_option("--nic", net.nic, "which of the guest's NICs (0-7, default 0)");
    net.capture->add_flag("--uplink", net.uplink, "the NIC's uplink instead: its traffic to and from passt");
    net.inspect
        = group->add_subcommand("inspect", "offline mode: run rules over a capture and write EVE JSON (like suricata -r)");
    net.inspect->add_option("--rules", net.rules, "rules file")->required();
    net.inspect->add_option("--pcap", net.pcap, "capture (pcap)")->required();
    net.inspect->add_option("--eve", net.eve, "append EVE JSON here (default: stdout)");
    net.inspect->add_option("--var", net.vars, "a rule variable, NAME=VALUE (repeatable), e.g. HOME_NET=[10.77.0.0/16]");

    net.quarantine = vm.add_subcommand("quarantine", "cut a guest off: only analysis guests can reach it (--release undoes)");
    net.quarantine->add_option("name", net.vm, "guest")->required();
    net.quarantine->add_flag("--release", net.release, "end the quarantine");
}

std::optional<int> run_net_commands(NetCommands& net, Client& client, bool json, const std::function<int(const Error&)>& fail)
{
    auto simple = [&](const std::string& method, const Json& params, const std::function<void(const Json&)>& human,
                      const std::vector<int>& fds = {}) -> int {
        auto r = client.call(method, params, fds);
        if (r.is_error())
            return fail(r.error());
        if (json)
            std::cout << json_dump(r.value(), 2) << "\n";
        else
            human(r.value());
        return 0;
    };
    auto read = [&](const std::string& path) { return sys::read_file(path, k_max_file); };

    if (net.inspect && net.inspect->parsed())
        return run_inspect(net, json, fail);
    if (net.policy_apply && net.policy_apply->parsed()) {
        auto text = read(net.file);
        if (text.is_error())
            return fail(text.error());
        return simple("net.policy.apply", { { "text", text.value() }, { "source", net.file } }, [&](const Json& j) {
            std::printf("applied %s: %zu allowed pair(s) of guests (generation %s)\n", net.file.c_str(),
                j.contains("pairs") ? j["pairs"].size() : 0, text_of(j, "generation").c_str());
        });
    }
    if (net.policy_show && net.policy_show->parsed())
        return simple("net.policy.show", {}, [&](const Json& j) {
            Table t({ "FROM", "TO", "ALLOWED", "RULE" });
            for (const auto& pair : j["pairs"]) {
                for (const auto& a : pair["allow"])
                    t.add({ text_of(pair, "from"), text_of(pair, "to"), text_of(a, "what"), text_of(a, "rule") });
            }
            std::cout << t.render();
            std::printf("everything else between guests is denied; analysis guests: %s\n",
                j["analysis"].empty() ? "none" : json_dump(j["analysis"]).c_str());
        });
    if (net.rules_apply && net.rules_apply->parsed()) {
        auto text = read(net.file);
        if (text.is_error())
            return fail(text.error());
        auto r = client.call("net.rules.apply", { { "text", text.value() }, { "source", net.file } });
        if (r.is_error())
            return fail(r.error());
        if (json) {
            std::cout << json_dump(r.value(), 2) << "\n";
        } else {
            print_rule_errors(r.value().value("errors", Json::array()));
            std::printf("%s rule(s) loaded from %s\n", text_of(r.value(), "rules").c_str(), net.file.c_str());
        }
        return r.value().value("errors", Json::array()).empty() ? 0 : 8;
    }
    if (net.status && net.status->parsed())
        return simple("net.status", {}, [&](const Json& j) {
            Table t({ "PORT", "SEGMENT", "MAC", "IP", "RX", "TX", "SPOOFED", "POLICY", "IDS", "QUARANTINE", "RATE", "STATE" });
            for (const auto& [id, p] : j["ports"].items()) {
                t.add({ text_of(p, "name"), text_of(p, "segment"), text_of(p, "mac"), text_of(p, "ip"), text_of(p, "rx_frames"),
                    text_of(p, "tx_frames"), text_of(p, "drop_spoofed"), text_of(p, "drop_policy"), text_of(p, "drop_ids"),
                    text_of(p, "drop_quarantine"), text_of(p, "drop_rate"),
                    p.value("quarantined", false) ? "quarantined" : (p.value("connected", false) ? "up" : "down") });
            }
            std::cout << t.render();
            std::printf(
                "flows: %s; IDS rules: %s, alerts: %s; worker pid %s (%s restart(s)); uplinks: %zu running (%s restart(s)); "
                "EVE: %s\n",
                text_of(j, "flows").c_str(), text_of(j, "ids_rules").c_str(), text_of(j, "ids_alerts").c_str(),
                text_of(j["worker"], "pid").c_str(), text_of(j["worker"], "restarts").c_str(),
                j.contains("uplinks") ? j["uplinks"]["running"].size() : std::size_t(0),
                j.contains("uplinks") ? text_of(j["uplinks"], "restarts").c_str() : "0", text_of(j, "eve").c_str());
        });
    if (net.capture && net.capture->parsed()) {
        // Created here, with the caller's own rights, and handed over as an fd.
        auto fd = sys::open(net.pcap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd.is_error())
            return fail(fd.error());
        return simple("net.capture",
            { { "name", net.vm }, { "seconds", net.seconds }, { "nic", net.nic }, { "uplink", net.uplink } },
            [&](const Json& j) { std::printf("%s frame(s) written to %s\n", text_of(j, "frames").c_str(), net.pcap.c_str()); },
            { fd.value().get() });
    }
    if (net.quarantine && net.quarantine->parsed())
        return simple("vm.quarantine", { { "name", net.vm }, { "release", net.release } }, [&](const Json& j) {
            std::printf(
                "%s: %s\n", net.vm.c_str(), j.value("quarantined", false) ? "quarantined (analysis guests only)" : "released");
        });
    return std::nullopt;
}

} // namespace bulwark::cli
