#include "harness/harness.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "base/process.h"
#include "base/system.h"
#include "jail/cgroup.h"
#include "jail/guest_jail.h"

namespace bulwark::test {

using namespace std::chrono_literals;

CliResult run(const std::vector<std::string>& argv, std::chrono::seconds timeout, const std::map<std::string, std::string>& env)
{
    auto full_env = minimal_env();
    for (const auto& [k, v] : env)
        full_env[k] = v;
    auto r = run_command(argv, timeout, 64 << 20, {}, full_env);
    if (r.is_error())
        return CliResult {-1, r.error().message()};
    const auto& out = r.value();
    return CliResult {out.status.exited ? out.status.code : 128 + out.status.signal, out.output};
}

std::string Harness::guest_dir()
{
    if (const char* d = std::getenv("BULWARK_GUEST_DIR"); d && *d)
        return d;
    return BULWARK_GUEST_DIR;
}

Harness::Harness()
{
    char tmpl[] = "/tmp/bwt-XXXXXX";
    char* made = ::mkdtemp(tmpl);
    if (!made)
        throw std::runtime_error("mkdtemp failed");
    m_dir = made;
    m_home = m_dir + "/h";
}

Harness::~Harness()
{
    // Stop the daemon, then every QEMU that belongs to this home.
    run({"pkill", "-KILL", "-f", "bulwarkd --home " + m_home}, 10s);
    run({"pkill", "-KILL", "-f", m_home + "/run/"}, 10s);
    for (int i = 0; i < 50; ++i) {
        auto left = run({"pgrep", "-f", m_home + "/run/"}, 10s);
        if (left.code != 0)
            break;
        std::this_thread::sleep_for(100ms);
    }
    // Jailed QEMUs die with their supervisors; their cgroups are this home's to remove.
    if (auto layout = jail::detect_cgroups(); layout.is_ok()) {
        std::string parent = jail::cgroup_parent(m_home);
        for (const auto& h : layout.value().hierarchies) {
            for (const auto& vm : sys::list_dir(h + "/" + parent))
                (void)jail::cgroup_destroy(layout.value(), parent + "/" + vm);
            (void)::rmdir((h + "/" + parent).c_str());
        }
    }
    if (!std::getenv("BULWARK_KEEP_TEST_DIRS"))
        (void)sys::remove_tree(m_dir);
}

void Harness::start_daemon(const std::map<std::string, std::string>& env)
{
    m_env = env;
    auto r = run({std::string(BULWARK_BIN_DIR) + "/bulwarkd", "--home", m_home, "--detach"}, 60s, env);
    ASSERT_EQ(r.code, 0) << r.output;
}

std::string Harness::daemon_log()
{
    auto text = sys::read_file(m_home + "/bulwarkd.log", 64 << 20);
    return text.is_ok() ? text.value() : std::string();
}

int Harness::daemon_pid()
{
    auto r = cli({"--json", "status"});
    if (r.code != 0)
        return -1;
    auto j = parse_json(r.output);
    if (j.is_error())
        return -1;
    return static_cast<int>(json_int_or(j.value(), "pid", -1));
}

void Harness::stop_daemon()
{
    int pid = daemon_pid();
    ASSERT_GT(pid, 0);
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 300 && ::kill(pid, 0) == 0; ++i)
        std::this_thread::sleep_for(50ms);
    ASSERT_NE(::kill(pid, 0), 0) << "bulwarkd did not exit on SIGTERM";
}

void Harness::crash_daemon()
{
    int pid = daemon_pid();
    ASSERT_GT(pid, 0);
    ::kill(pid, SIGKILL);
    for (int i = 0; i < 300 && ::kill(pid, 0) == 0; ++i)
        std::this_thread::sleep_for(50ms);
}

CliResult Harness::cli(const std::vector<std::string>& args, std::chrono::seconds timeout)
{
    std::vector<std::string> argv {std::string(BULWARK_BIN_DIR) + "/bulwark", "--home", m_home};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, timeout);
}

Json Harness::cli_json(const std::vector<std::string>& args)
{
    std::vector<std::string> full {"--json"};
    full.insert(full.end(), args.begin(), args.end());
    auto r = cli(full);
    EXPECT_EQ(r.code, 0) << r.output;
    auto j = parse_json(r.output, {64 << 20, 64});
    EXPECT_TRUE(j.is_ok()) << r.output;
    return j.is_ok() ? j.value() : Json();
}

void Harness::import_demo(const std::string& name)
{
    std::string g = guest_dir();
    auto cmdline = sys::read_file(g + "/cmdline", 4096);
    ASSERT_TRUE(cmdline.is_ok()) << "the demo guest is not built in " << g << " (run guest/build.sh)";
    std::string c = cmdline.value();
    while (!c.empty() && (c.back() == '\n' || c.back() == ' '))
        c.pop_back();
    auto r = cli({"image", "import", g + "/root.qcow2", "--name", name, "--kernel", g + "/vmlinux", "--initrd",
        g + "/initrd.img", "--cmdline", c});
    ASSERT_EQ(r.code, 0) << r.output;
}

std::string Harness::console(const std::string& vm)
{
    auto r = sys::read_file(m_home + "/vms/" + vm + "/console.log", 64 << 20);
    return r.is_ok() ? r.value() : "";
}

bool Harness::wait_console(const std::string& vm, const std::string& marker, std::chrono::seconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (console(vm).find(marker) != std::string::npos)
            return true;
        std::this_thread::sleep_for(100ms);
    }
    return false;
}

void Harness::boot_guest(const std::string& vm, const std::vector<std::string>& create_args)
{
    std::vector<std::string> create {"vm", "create", vm, "--image", "demo", "--memory", "256"};
    create.insert(create.end(), create_args.begin(), create_args.end());
    auto r = cli(create);
    ASSERT_EQ(r.code, 0) << r.output;
    r = cli({"vm", "start", vm});
    ASSERT_EQ(r.code, 0) << r.output;
    ASSERT_TRUE(wait_console(vm, "BULWARK-GUEST-READY")) << "guest " << vm << " did not become ready:\n" << console(vm);
}

CliResult Harness::guest_sh(const std::string& vm, const std::string& script)
{
    return cli({"vm", "exec", vm, "--timeout", "60", "--", "/bin/sh", "-c", script});
}

std::string Harness::vm_state(const std::string& vm)
{
    auto r = cli({"--json", "vm", "show", vm});
    auto j = parse_json(r.output, {64 << 20, 64});
    return j.is_ok() ? json_string_or(j.value(), "state", "?") : "?";
}

int64_t Harness::vm_pid(const std::string& vm)
{
    auto r = cli({"--json", "vm", "show", vm});
    auto j = parse_json(r.output, {64 << 20, 64});
    return j.is_ok() ? json_int_or(j.value(), "pid", -1) : -1;
}

}  // namespace bulwark::test

namespace bulwark::test {

int Harness::qemu_count(const std::string& vm)
{
    // A jailed QEMU's own command line names only jail paths: count the jailers (each
    // supervises exactly one QEMU, which dies with it) and any unjailed QEMU of this home.
    auto r = run({"pgrep", "-c", "-f", "(" + m_home + "/jail/.*guest=" + vm + ",)|(guest=" + vm + ",.*" + m_home + "/run/)"}, 10s);
    try {
        return std::stoi(r.output);
    } catch (...) {
        return -1;
    }
}

}  // namespace bulwark::test

namespace bulwark::test {

void exec_sql(const std::string& db_path, const std::string& statements)
{
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, statements.c_str(), nullptr, nullptr, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << msg;
}

}  // namespace bulwark::test
