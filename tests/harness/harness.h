// The integration-test harness: a private bulwarkd (its own data directory) driven through
// the real `bulwark` CLI, booting the real demo guest under QEMU.
//
// Layered like Firecracker's fixtures: Harness (a daemon) -> with_demo_image() (a golden
// image imported) -> boot_guest() (a guest booted to its ready marker).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "base/json.h"

namespace bulwark::test {

struct CliResult {
    int code = -1;
    std::string output;  // stdout and stderr together
};

class Harness {
public:
    Harness();
    ~Harness();
    Harness(const Harness&) = delete;
    Harness& operator=(const Harness&) = delete;

    const std::string& home() const { return m_home; }
    const std::string& dir() const { return m_dir; }

    // bulwarkd --home HOME --detach, with extra environment variables.
    void start_daemon(const std::map<std::string, std::string>& env = {});
    void stop_daemon();   // SIGTERM, wait for exit
    void crash_daemon();  // SIGKILL: no chance to clean up
    int daemon_pid();
    std::string daemon_log();  // bulwarkd.log so far

    CliResult cli(const std::vector<std::string>& args, std::chrono::seconds timeout = std::chrono::seconds(300));
    // Runs a CLI command with --json and parses its output; fails the test on error.
    Json cli_json(const std::vector<std::string>& args);

    // Imports the demo guest (kernel + initrd + root disk) as NAME.
    void import_demo(const std::string& name = "demo");
    // vm create + start, then waits for the guest's ready marker on its console.
    void boot_guest(const std::string& vm, const std::vector<std::string>& create_args = {});
    bool wait_console(const std::string& vm, const std::string& marker, std::chrono::seconds timeout = std::chrono::seconds(90));
    std::string console(const std::string& vm);
    // Runs a command in the guest; returns {exit code, output}.
    CliResult guest_sh(const std::string& vm, const std::string& script);
    std::string vm_state(const std::string& vm);
    int64_t vm_pid(const std::string& vm);
    // How many QEMU processes of this harness's daemon run guest vm (other tests may run
    // guests with the same name at the same time).
    int qemu_count(const std::string& vm);

    static std::string guest_dir();

private:
    std::string m_dir;
    std::string m_home;
    std::map<std::string, std::string> m_env;
};

// Runs one SQL script directly on a database file (as an attacker with the disk would);
// fails the test if SQLite refuses it.
void exec_sql(const std::string& db_path, const std::string& statements);

// Runs argv and returns its exit code and output.
CliResult run(const std::vector<std::string>& argv, std::chrono::seconds timeout = std::chrono::seconds(120),
    const std::map<std::string, std::string>& env = {});

}  // namespace bulwark::test
