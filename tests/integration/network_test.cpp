// Two real guests on Bulwark's switch (issue 5): DHCP gives each its assigned address; they
// ping only when the policy allows it; a spoofed source is dropped; a crafted payload raises an
// IDS alert and, under a drop rule, never arrives; quarantine cuts a guest off and release
// restores it; the quarantine survives a switch crash and a daemon restart.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "base/system.h"
#include "harness/harness.h"

using namespace bulwark;
using namespace bulwark::test;
using namespace std::chrono_literals;

namespace {

class Network : public ::testing::Test {
protected:
    void SetUp() override
    {
        h.start_daemon();
        h.import_demo();
        boot("web1", "tier=web");
        boot("db1", "tier=db");
        web_ip = ip_of("web1");
        db_ip = ip_of("db1");
    }

    void boot(const std::string& vm, const std::string& label)
    {
        h.boot_guest(vm, { "--net", "lab,label=" + label });
        ASSERT_TRUE(h.wait_console(vm, "bulwark-net: eth0", 60s)) << "no DHCP answer for " << vm << ":\n" << h.console(vm);
    }

    std::string ip_of(const std::string& vm)
    {
        Json show = h.cli_json({ "vm", "show", vm });
        EXPECT_EQ(show["nics"].size(), 1u) << show.dump();
        return show["nics"][0]["ip"].get<std::string>();
    }

    bool ping(const std::string& from, const std::string& to, const std::string& extra = "")
    {
        return h.guest_sh(from, "ping -c 1 -W 2 " + extra + " " + to + " >/dev/null 2>&1").code == 0;
    }

    void apply_policy(const std::string& toml)
    {
        std::string path = h.dir() + "/policy.toml";
        ASSERT_TRUE(sys::write_file_atomic(path, toml, 0600).is_ok());
        auto r = h.cli({ "net", "policy", "apply", path });
        ASSERT_EQ(r.code, 0) << r.output;
    }

    void apply_rules(const std::string& rules)
    {
        std::string path = h.dir() + "/rules";
        ASSERT_TRUE(sys::write_file_atomic(path, rules, 0600).is_ok());
        auto r = h.cli({ "net", "rules", "apply", path });
        ASSERT_EQ(r.code, 0) << r.output;
    }

    Json port_counters(const std::string& vm)
    {
        Json status = h.cli_json({ "net", "status" });
        for (const auto& [id, p] : status["ports"].items()) {
            if (json_string_or(p, "name", "") == vm)
                return p;
        }
        ADD_FAILURE() << "no port for " << vm << " in " << status.dump();
        return Json::object();
    }

    // Waits (up to 5 s) for text to appear in eve.json.
    bool eve_has(const std::string& text)
    {
        for (int i = 0; i < 50; ++i) {
            if (eve().find(text) != std::string::npos)
                return true;
            std::this_thread::sleep_for(100ms);
        }
        return false;
    }

    std::string eve()
    {
        std::ifstream in(h.home() + "/net/eve.json");
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }

    Harness h;
    std::string web_ip, db_ip;
};

const char* k_icmp_web_to_db = R"(
[[allow]]
name = "web pings db"
from = { tier = "web" }
to = { tier = "db" }
proto = "icmp"
)";

} // namespace

TEST_F(Network, DhcpAssignsTheAddressesBulwarkdChose)
{
    auto r = h.guest_sh("web1", "ip -4 -o addr show dev eth0");
    EXPECT_NE(r.output.find(web_ip + "/24"), std::string::npos) << r.output;
    r = h.guest_sh("db1", "ip -4 -o addr show dev eth0");
    EXPECT_NE(r.output.find(db_ip + "/24"), std::string::npos) << r.output;
    EXPECT_NE(web_ip, db_ip);
}

TEST_F(Network, PolicyDecidesWhoMayPingWhomAndSpoofingIsDropped)
{
    // Default deny between guests.
    EXPECT_FALSE(ping("web1", db_ip));
    EXPECT_GT(port_counters("web1").value("drop_policy", 0), 0);

    apply_policy(k_icmp_web_to_db);
    EXPECT_TRUE(ping("web1", db_ip));
    // Directional: db may answer web's pings, not open its own.
    EXPECT_FALSE(ping("db1", web_ip));

    // A capture of web1's traffic while it pings db1: a real pcap, as tcpdump reads it.
    std::string pcap = h.dir() + "/web1.pcap";
    CliResult captured;
    std::thread capture([&] { captured = h.cli({ "net", "capture", "web1", "--pcap", pcap, "--seconds", "4" }); });
    std::this_thread::sleep_for(1s);
    EXPECT_TRUE(ping("web1", db_ip));
    capture.join();
    ASSERT_EQ(captured.code, 0) << captured.output;
    auto dump = run({ "tcpdump", "-n", "-r", pcap, "icmp" });
    EXPECT_EQ(dump.code, 0) << dump.output;
    EXPECT_NE(dump.output.find(web_ip + " > " + db_ip + ": ICMP echo request"), std::string::npos) << dump.output;
    EXPECT_NE(dump.output.find(db_ip + " > " + web_ip + ": ICMP echo reply"), std::string::npos) << dump.output;
    auto st = sys::stat(pcap);
    ASSERT_TRUE(st.is_ok());
    EXPECT_EQ(st.value().st_mode & 0777, 0600u);

    Json shown = h.cli_json({ "net", "policy", "show" });
    ASSERT_EQ(shown["pairs"].size(), 1u) << shown.dump();
    EXPECT_EQ(shown["pairs"][0]["from"], "web1");
    EXPECT_EQ(shown["pairs"][0]["to"], "db1");

    // A second address the switch did not assign: its packets are dropped as spoofed.
    std::string prefix = web_ip.substr(0, web_ip.rfind('.') + 1);
    std::string fake = prefix + "250";
    auto added = h.guest_sh("web1", "ip addr add " + fake + "/24 dev eth0");
    ASSERT_EQ(added.code, 0) << added.output;
    int64_t spoofed_before = port_counters("web1").value("drop_spoofed", 0);
    EXPECT_FALSE(ping("web1", db_ip, "-I " + fake));
    EXPECT_GT(port_counters("web1").value("drop_spoofed", 0), spoofed_before);
    // And a forged MAC gets nothing through either.
    h.guest_sh("web1", "ip addr del " + fake + "/24 dev eth0");
    EXPECT_TRUE(ping("web1", db_ip));
    auto mac = h.guest_sh("web1", "ip link set eth0 address 52:54:00:de:ad:01 && ip neigh flush all");
    ASSERT_EQ(mac.code, 0) << mac.output;
    EXPECT_FALSE(ping("web1", db_ip));
}

TEST_F(Network, IdsAlertsOnAPayloadAndADropRuleStopsIt)
{
    apply_policy(R"(
[[allow]]
from = { tier = "web" }
to = { tier = "db" }
proto = "tcp"
ports = [8080]
)");
    auto listen = [&](const std::string& file) {
        auto r = h.guest_sh("db1", "rm -f " + file + "; (nc -l -p 8080 >" + file + " 2>/dev/null </dev/null &) ; sleep 0.5");
        ASSERT_EQ(r.code, 0) << r.output;
    };
    auto send = [&](const std::string& text) {
        h.guest_sh("web1", "printf '" + text + "' | nc -w 2 " + db_ip + " 8080");
        std::this_thread::sleep_for(500ms);
    };

    apply_rules("alert tcp any any -> any 8080 (msg:\"evil marker seen\"; flow:to_server,established; content:\"EVIL-MARKER\"; "
                "sid:9000001; rev:1;)\n");
    listen("/tmp/a");
    send("hello EVIL-MARKER 1\\n");
    EXPECT_NE(h.guest_sh("db1", "cat /tmp/a").output.find("EVIL-MARKER 1"), std::string::npos)
        << "an alert rule must not stop the traffic";
    EXPECT_TRUE(eve_has("\"signature_id\":9000001")) << eve();
    EXPECT_TRUE(eve_has("\"action\":\"allowed\"")) << eve();

    apply_rules("drop tcp any any -> any 8080 (msg:\"evil marker dropped\"; content:\"EVIL-MARKER\"; sid:9000002; rev:1;)\n");
    listen("/tmp/b");
    send("hello EVIL-MARKER 2\\n");
    EXPECT_EQ(h.guest_sh("db1", "cat /tmp/b").output.find("EVIL-MARKER"), std::string::npos) << "the dropped payload arrived";
    EXPECT_TRUE(eve_has("\"signature_id\":9000002")) << eve();
    EXPECT_TRUE(eve_has("\"action\":\"blocked\"")) << eve();
    EXPECT_GT(port_counters("web1").value("drop_ids", 0), 0);

    // A file of which no rule loads is refused with its line and keyword named, and the
    // running drop rule stays in force.
    std::string bad = h.dir() + "/bad.rules";
    ASSERT_TRUE(
        sys::write_file_atomic(bad, "drop tcp any any -> any 8080 (msg:\"x\"; http.uri; content:\"a\"; sid:5;)\n", 0600).is_ok());
    auto refused = h.cli({ "net", "rules", "apply", bad });
    EXPECT_EQ(refused.code, 2) << refused.output;
    EXPECT_NE(refused.output.find("line 1"), std::string::npos) << refused.output;
    EXPECT_NE(refused.output.find("http.uri"), std::string::npos) << refused.output;
    listen("/tmp/c");
    send("hello EVIL-MARKER 3\\n");
    EXPECT_EQ(h.guest_sh("db1", "cat /tmp/c").output.find("EVIL-MARKER"), std::string::npos) << "the old rules were replaced";
    h.guest_sh("db1", "pkill nc");
}

TEST_F(Network, QuarantineCutsOffAndSurvivesSwitchAndDaemonRestarts)
{
    apply_policy(k_icmp_web_to_db);
    ASSERT_TRUE(ping("web1", db_ip));

    auto r = h.cli({ "vm", "quarantine", "db1" });
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_FALSE(ping("web1", db_ip));
    EXPECT_TRUE(h.cli_json({ "vm", "show", "db1" }).value("quarantined", false));

    // The switch worker dies: it is restarted, every port reconnected, the quarantine kept.
    Json status = h.cli_json({ "net", "status" });
    int pid = status["worker"]["pid"].get<int>();
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    bool restarted = false;
    for (int i = 0; i < 100 && !restarted; ++i) {
        std::this_thread::sleep_for(100ms);
        auto s = h.cli({ "--json", "net", "status" });
        restarted = s.code == 0 && s.output.find("\"restarts\": 1") != std::string::npos;
    }
    ASSERT_TRUE(restarted) << h.daemon_log();
    EXPECT_FALSE(ping("web1", db_ip));

    // The daemon restarts: still quarantined.
    h.stop_daemon();
    h.start_daemon();
    EXPECT_FALSE(ping("web1", db_ip));

    r = h.cli({ "vm", "quarantine", "db1", "--release" });
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_TRUE(ping("web1", db_ip));

    // Both were audited.
    auto audit = h.cli({ "audit", "tail", "-n", "50" });
    EXPECT_NE(audit.output.find("vm.quarantine"), std::string::npos) << audit.output;
}
