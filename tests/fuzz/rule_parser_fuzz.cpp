// Fuzzes the IDS rule parser and engine (src/ids): parse a rule file, compile what loaded,
// then match one fixed TCP packet (as a packet and as a stream split across two segments).
//
// Input layout: a rule file. Checks: every error names a line inside the input, loaded rules
// have a sid and their limits, the engine compiles every rule set the parser accepts, and a
// verdict never carries more alerts than the cap or alerts under a pass.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ids/engine.h"

using namespace bulwark;
using namespace bulwark::ids;

static void check(bool condition)
{
    if (!condition)
        std::abort();
}

static const uint8_t k_payload[] = "GET /index.html?user=admin&pass=hunter2 HTTP/1.1\r\nHost: example\r\n\r\n\x00\xff\x90\x90";

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string_view text(reinterpret_cast<const char*>(data), size);
    RuleVars vars = default_rule_vars({ { "LOOP", "[$LOOP2]" }, { "LOOP2", "$LOOP" }, { "NETS", "[$HOME_NET,fd00::/8]" } });
    RuleSet set = load_rules(text, vars);
    size_t lines = 1;
    for (char c : text)
        lines += c == '\n';
    for (const auto& e : set.errors) {
        check(e.line >= 1 && e.line <= lines);
        check(!e.message.empty());
    }
    check(set.rules.size() <= k_max_rules);
    for (const auto& r : set.rules) {
        check(r.sid != 0);
        check(r.payload.size() <= k_max_payload_matches);
        check(r.line >= 1 && r.line <= lines);
    }
    auto engine = Engine::create(std::move(set.rules));
    check(engine.is_ok());
    Engine& e = *engine.value();

    net::Packet p;
    p.l3 = net::L3::Ipv4;
    p.l4 = net::L4::Tcp;
    p.ip_proto = net::ipproto::tcp;
    p.ip_src.bytes = { 10, 0, 0, 1 };
    p.ip_dst.bytes = { 8, 8, 8, 8 };
    p.src_port = 40000;
    p.dst_port = 80;
    p.tcp_flags = net::tcpflag::ack | net::tcpflag::psh;
    std::span<const uint8_t> payload(k_payload, sizeof k_payload - 1);
    p.payload = payload.subspan(20);
    for (int round = 0; round < 2; ++round) {
        InspectInput in { .packet = p,
            .has_flow = true,
            .to_server = round == 0,
            .established = true,
            .flow_id = 1,
            .stream = round == 0 ? std::span<const uint8_t> {} : payload,
            .stream_new_offset = 20,
            .now_ns = 1000 };
        Verdict v = e.inspect(in);
        check(v.alerts.size() <= k_max_alerts_per_packet);
        if (v.action == Action::Pass)
            check(v.alerts.empty());
        for (const Rule* r : v.alerts)
            check(r->action != Action::Pass);
    }
    return 0;
}
