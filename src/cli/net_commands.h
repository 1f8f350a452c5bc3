// `bulwark net ...` and `bulwark vm quarantine`: the virtual network's commands.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "cli/client.h"

namespace bulwark::cli {

struct NetCommands {
    CLI::App* policy_apply = nullptr;
    CLI::App* policy_show = nullptr;
    CLI::App* rules_apply = nullptr;
    CLI::App* status = nullptr;
    CLI::App* capture = nullptr;
    CLI::App* inspect = nullptr;
    CLI::App* quarantine = nullptr;
    std::string file, vm, pcap, eve, rules;
    std::vector<std::string> vars;
    int64_t seconds = 10;
    int64_t nic = 0;
    bool uplink = false;
    bool release = false;
};

// Adds the `net` group to app, and `quarantine` to the `vm` group.
void add_net_commands(CLI::App& app, CLI::App& vm, NetCommands& net);

// Runs the parsed command, if it is one of these: its exit code.
std::optional<int> run_net_commands(NetCommands& net, Client& client, bool json, const std::function<int(const Error&)>& fail);

} // namespace bulwark::cli
