// The Suricata rule parser (src/ids/rule_parser): every supported keyword, every rejection,
// variables, groups and the file format.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "ids/rule_parser.h"

namespace bulwark::ids {
namespace {

net::IpAddr ip(const char* text)
{
    net::IpAddr a;
    if (::inet_pton(AF_INET, text, a.bytes.data()) == 1)
        return a;
    a.v6 = true;
    EXPECT_EQ(::inet_pton(AF_INET6, text, a.bytes.data()), 1) << text;
    return a;
}

Rule parse_ok(const std::string& text, const RuleVars& vars = default_rule_vars())
{
    auto r = parse_rule(text, vars);
    EXPECT_TRUE(r.is_ok()) << text << "\n" << (r.is_error() ? r.error().message() : "");
    return r.is_ok() ? r.release_value() : Rule {};
}

// Loads one rule as a file and returns its error (line and keyword included).
RuleError reject(const std::string& text, const RuleVars& vars = default_rule_vars())
{
    auto set = load_rules(text, vars);
    EXPECT_TRUE(set.rules.empty()) << text;
    EXPECT_EQ(set.errors.size(), 1u) << text;
    return set.errors.empty() ? RuleError {} : set.errors[0];
}

const Content& content(const Rule& r, size_t i)
{
    return std::get<Content>(r.payload.at(i));
}

TEST(IdsRuleParser, HeaderActionsAndProtocols)
{
    const std::pair<const char*, Action> actions[]
        = { { "alert", Action::Alert }, { "drop", Action::Drop }, { "pass", Action::Pass }, { "reject", Action::Reject } };
    for (const auto& [word, action] : actions)
        EXPECT_EQ(parse_ok(std::string(word) + " ip any any -> any any (sid:1;)").action, action);
    const std::pair<const char*, Proto> protos[]
        = { { "ip", Proto::Ip }, { "tcp", Proto::Tcp }, { "udp", Proto::Udp }, { "icmp", Proto::Icmp } };
    for (const auto& [word, proto] : protos)
        EXPECT_EQ(parse_ok(std::string("alert ") + word + " any any -> any any (sid:1;)").proto, proto);
    EXPECT_FALSE(parse_ok("alert tcp any any -> any any (sid:1;)").bidirectional);
    EXPECT_TRUE(parse_ok("alert tcp any any <> any any (sid:1;)").bidirectional);
}

TEST(IdsRuleParser, AddressGroups)
{
    {
        SCOPED_TRACE("CidrAndSingle");
        Rule r = parse_ok("alert ip [10.1.0.0/16,192.168.1.5] any -> any any (sid:1;)");
        EXPECT_TRUE(r.src.matches(ip("10.1.200.3")));
        EXPECT_TRUE(r.src.matches(ip("192.168.1.5")));
        EXPECT_FALSE(r.src.matches(ip("192.168.1.6")));
        EXPECT_FALSE(r.src.matches(ip("10.2.0.1")));
        EXPECT_FALSE(r.src.matches(ip("fd00::1")));
    }
    {
        SCOPED_TRACE("NegationInsideGroupExcludes");
        Rule r = parse_ok("alert ip [10.0.0.0/8,!10.1.0.0/16] any -> any any (sid:1;)");
        EXPECT_TRUE(r.src.matches(ip("10.2.0.1")));
        EXPECT_FALSE(r.src.matches(ip("10.1.0.1")));
        EXPECT_FALSE(r.src.matches(ip("11.0.0.1")));
    }
    {
        SCOPED_TRACE("NegatedGroup");
        Rule r = parse_ok("alert ip ![10.0.0.1,10.0.0.2] any -> any any (sid:1;)");
        EXPECT_FALSE(r.src.matches(ip("10.0.0.1")));
        EXPECT_FALSE(r.src.matches(ip("10.0.0.2")));
        EXPECT_TRUE(r.src.matches(ip("10.0.0.3")));
    }
    {
        SCOPED_TRACE("Ipv6");
        Rule r = parse_ok("alert ip [fd00::/64, 2001:db8::1] any -> ::1 any (sid:1;)");
        EXPECT_TRUE(r.src.matches(ip("fd00::abcd")));
        EXPECT_FALSE(r.src.matches(ip("fd00:0:0:1::1")));
        EXPECT_TRUE(r.src.matches(ip("2001:db8::1")));
        EXPECT_FALSE(r.src.matches(ip("10.0.0.1")));
        EXPECT_TRUE(r.dst.matches(ip("::1")));
    }
    {
        SCOPED_TRACE("DottedNetmaskAndHostBits");
        Rule r = parse_ok("alert ip 192.168.7.99/255.255.255.0 any -> 10.9.9.9/8 any (sid:1;)");
        EXPECT_TRUE(r.src.matches(ip("192.168.7.1")));
        EXPECT_FALSE(r.src.matches(ip("192.168.8.1")));
        EXPECT_TRUE(r.dst.matches(ip("10.200.0.1")));
    }
    {
        SCOPED_TRACE("NestedGroups");
        Rule r = parse_ok("alert ip [[10.0.0.0/8,!10.5.0.0/16],[172.16.0.1]] any -> any any (sid:1;)");
        EXPECT_TRUE(r.src.matches(ip("10.4.0.1")));
        EXPECT_FALSE(r.src.matches(ip("10.5.0.1")));
        EXPECT_TRUE(r.src.matches(ip("172.16.0.1")));
    }
}

TEST(IdsRuleParser, Variables)
{
    {
        SCOPED_TRACE("DefaultsHomeAndExternal");
        Rule r = parse_ok("alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (sid:1;)");
        EXPECT_TRUE(r.src.matches(ip("10.1.2.3")));
        EXPECT_TRUE(r.src.matches(ip("172.20.0.1")));
        EXPECT_TRUE(r.src.matches(ip("192.168.0.1")));
        EXPECT_FALSE(r.src.matches(ip("8.8.8.8")));
        EXPECT_TRUE(r.dst.matches(ip("8.8.8.8")));
        EXPECT_FALSE(r.dst.matches(ip("10.0.0.1")));
        EXPECT_TRUE(r.dst_ports.matches(80));
        EXPECT_FALSE(r.dst_ports.matches(81));
    }
    {
        SCOPED_TRACE("NestedAndOverridden");
        auto vars = default_rule_vars({ { "HOME_NET", "[$LAB,$DMZ]" }, { "LAB", "10.10.0.0/16" }, { "DMZ", "[192.0.2.0/24]" },
            { "WEB_PORTS", "[$HTTP_PORTS,443,8000:8100]" } });
        Rule r = parse_ok("alert tcp !$EXTERNAL_NET any -> $HOME_NET $WEB_PORTS (sid:1;)", vars);
        EXPECT_TRUE(r.src.matches(ip("10.10.1.1"))); // !!HOME_NET is HOME_NET
        EXPECT_FALSE(r.src.matches(ip("10.11.1.1")));
        EXPECT_TRUE(r.dst.matches(ip("192.0.2.77")));
        for (uint16_t p : { 80, 443, 8000, 8050, 8100 })
            EXPECT_TRUE(r.dst_ports.matches(p)) << p;
        for (uint16_t p : { 81, 7999, 8101 })
            EXPECT_FALSE(r.dst_ports.matches(p)) << p;
    }
    {
        SCOPED_TRACE("Undefined");
        auto e = reject("alert tcp $NOPE any -> any any (sid:1;)");
        EXPECT_NE(e.message.find("$NOPE"), std::string::npos) << e.message;
    }
    {
        SCOPED_TRACE("SelfReference");
        auto vars = default_rule_vars({ { "A", "[$B]" }, { "B", "$A" } });
        auto e = reject("alert tcp $A any -> any any (sid:1;)", vars);
        EXPECT_EQ(e.line, 1u);
    }
}

TEST(IdsRuleParser, PortGroups)
{
    Rule r = parse_ok("alert tcp any [1024:,!3306] -> any [:80,443,8000:8100] (sid:1;)");
    EXPECT_TRUE(r.src_ports.matches(1024));
    EXPECT_TRUE(r.src_ports.matches(65535));
    EXPECT_FALSE(r.src_ports.matches(3306));
    EXPECT_FALSE(r.src_ports.matches(1023));
    EXPECT_TRUE(r.dst_ports.matches(0));
    EXPECT_TRUE(r.dst_ports.matches(80));
    EXPECT_FALSE(r.dst_ports.matches(81));
    EXPECT_TRUE(r.dst_ports.matches(443));
    EXPECT_TRUE(r.dst_ports.matches(8100));
    Rule n = parse_ok("alert udp any ![53,123] -> any !1:1023 (sid:1;)");
    EXPECT_FALSE(n.src_ports.matches(53));
    EXPECT_TRUE(n.src_ports.matches(54));
    EXPECT_FALSE(n.dst_ports.matches(22));
    EXPECT_TRUE(n.dst_ports.matches(0));
    EXPECT_TRUE(n.dst_ports.matches(1024));
}

TEST(IdsRuleParser, InformationalOptions)
{
    Rule r = parse_ok(
        R"(alert tcp any any -> any any (msg:"ET \"quoted\" \; semi"; sid:2001; rev:7; gid:3; classtype:trojan-activity; )"
        R"(metadata:created_at 2024_01_01, signature_severity Major; reference:url,example.com/x; reference:cve,2021-44228;))");
    EXPECT_EQ(r.msg, "ET \"quoted\" ; semi");
    EXPECT_EQ(r.sid, 2001u);
    EXPECT_EQ(r.rev, 7u);
    EXPECT_EQ(r.gid, 3u);
    EXPECT_EQ(r.classtype, "trojan-activity");
    EXPECT_EQ(r.category, "A Network Trojan was detected");
    EXPECT_EQ(r.priority, 1);
    ASSERT_EQ(r.metadata.size(), 2u);
    EXPECT_EQ(r.metadata[1], "signature_severity Major");
    ASSERT_EQ(r.references.size(), 2u);
    EXPECT_EQ(r.references[0].system, "url");
    EXPECT_EQ(r.references[1].id, "2021-44228");

    EXPECT_EQ(parse_ok("alert ip any any -> any any (sid:1;)").priority, 3);
    EXPECT_EQ(parse_ok("alert ip any any -> any any (classtype:misc-activity; priority:1; sid:1;)").priority, 1);
    EXPECT_EQ(parse_ok("alert ip any any -> any any (priority:2; classtype:attempted-admin; sid:1;)").priority, 2);
    EXPECT_EQ(parse_ok("alert ip any any -> any any (classtype:policy-violation; sid:1;)").category,
        "Potential Corporate Privacy Violation");
}

TEST(IdsRuleParser, ContentAndModifiers)
{
    {
        SCOPED_TRACE("HexEscapesNegation");
        Rule r = parse_ok(R"(alert tcp any any -> any any (content:"GET|20 2f|a\"b\;c\\d\:e"; content:!"|00|x"; sid:1;))");
        ASSERT_EQ(r.payload.size(), 2u);
        EXPECT_EQ(content(r, 0).bytes, "GET /a\"b;c\\d:e");
        EXPECT_FALSE(content(r, 0).negated);
        EXPECT_EQ(content(r, 1).bytes, std::string("\0x", 2));
        EXPECT_TRUE(content(r, 1).negated);
    }
    {
        SCOPED_TRACE("AbsoluteModifiers");
        Rule r = parse_ok("alert tcp any any -> any any (content:\"abc\"; nocase; offset:4; depth:10; fast_pattern; sid:1;)");
        const auto& c = content(r, 0);
        EXPECT_TRUE(c.nocase);
        EXPECT_TRUE(c.fast_pattern);
        EXPECT_EQ(c.offset, 4u);
        EXPECT_EQ(c.depth, 10u);
        EXPECT_FALSE(c.relative());
    }
    {
        SCOPED_TRACE("RelativeModifiers");
        Rule r = parse_ok("alert tcp any any -> any any (content:\"a\"; content:\"bc\"; distance:-1; within:5; sid:1;)");
        const auto& c = content(r, 1);
        EXPECT_EQ(c.distance, -1);
        EXPECT_EQ(c.within, 5u);
        EXPECT_TRUE(c.relative());
    }
    {
        SCOPED_TRACE("ModifierAppliesToLastContentEvenAfterPcre");
        Rule r = parse_ok("alert tcp any any -> any any (content:\"a\"; pcre:\"/x/\"; nocase; sid:1;)");
        EXPECT_TRUE(content(r, 0).nocase);
    }
}

TEST(IdsRuleParser, Pcre)
{
    Rule r = parse_ok(R"(alert tcp any any -> any any (content:"x"; pcre:"/^ab\;c[0-9]+\"/ismxR"; pcre:!"/evil/"; sid:1;))");
    ASSERT_EQ(r.payload.size(), 3u);
    const auto& p = std::get<PcreMatch>(r.payload[1]);
    EXPECT_EQ(p.regex, "^ab;c[0-9]+\"");
    EXPECT_TRUE(p.relative);
    EXPECT_FALSE(p.negated);
    EXPECT_NE(p.compile_options, 0u);
    EXPECT_TRUE(std::get<PcreMatch>(r.payload[2]).negated);
    EXPECT_EQ(parse_ok(R"(alert tcp any any -> any any (pcre:"/a\/b/"; sid:1;))").payload.size(), 1u);
}

TEST(IdsRuleParser, FlowDsizeFlagsThreshold)
{
    {
        SCOPED_TRACE("Flow");
        auto f = parse_ok("alert tcp any any -> any any (flow:established,to_server; sid:1;)").flow;
        ASSERT_TRUE(f);
        EXPECT_EQ(f->to_server, true);
        EXPECT_EQ(f->established, true);
        f = parse_ok("alert tcp any any -> any any (flow:from_server, not_established; sid:1;)").flow;
        EXPECT_EQ(f->to_server, false);
        EXPECT_EQ(f->established, false);
        f = parse_ok("alert tcp any any -> any any (flow:to_client; sid:1;)").flow;
        EXPECT_EQ(f->to_server, false);
        f = parse_ok("alert tcp any any -> any any (flow:from_client; sid:1;)").flow;
        EXPECT_EQ(f->to_server, true);
        f = parse_ok("alert tcp any any -> any any (flow:stateless; sid:1;)").flow;
        EXPECT_TRUE(f->stateless);
        EXPECT_FALSE(f->to_server);
    }
    {
        SCOPED_TRACE("Dsize");
        auto d = [](const char* v) {
            return *parse_ok(std::string("alert udp any any -> any any (dsize:") + v + "; sid:1;)").dsize;
        };
        EXPECT_TRUE(d("10").matches(10));
        EXPECT_FALSE(d("10").matches(11));
        EXPECT_TRUE(d("<10").matches(9));
        EXPECT_FALSE(d("<10").matches(10));
        EXPECT_TRUE(d(">10").matches(11));
        EXPECT_FALSE(d(">10").matches(10));
        EXPECT_TRUE(d("10<>20").matches(11));
        EXPECT_FALSE(d("10<>20").matches(10));
        EXPECT_FALSE(d("10<>20").matches(20));
        EXPECT_TRUE(d("!0").matches(1));
        EXPECT_FALSE(d("!0").matches(0));
    }
    {
        SCOPED_TRACE("Flags");
        auto f = [](const char* v) {
            return *parse_ok(std::string("alert tcp any any -> any any (flags:") + v + "; sid:1;)").flags;
        };
        using namespace net::tcpflag;
        EXPECT_TRUE(f("S").matches(syn));
        EXPECT_FALSE(f("S").matches(syn | ack));
        EXPECT_TRUE(f("SA").matches(syn | ack));
        EXPECT_TRUE(f("S+").matches(syn | ack));
        EXPECT_TRUE(f("+S").matches(syn | ece));
        EXPECT_FALSE(f("+S").matches(ack));
        EXPECT_TRUE(f("*SF").matches(fin | ack));
        EXPECT_FALSE(f("*SF").matches(ack));
        EXPECT_TRUE(f("!R").matches(ack));
        EXPECT_FALSE(f("!R").matches(rst | ack));
        EXPECT_TRUE(f("0").matches(0));
        EXPECT_FALSE(f("0").matches(ack));
        EXPECT_TRUE(f("S,CE").matches(syn | cwr | ece));
        EXPECT_TRUE(f("S,12").matches(syn | ece));
        EXPECT_FALSE(f("S,CE").matches(syn | ack));
        EXPECT_TRUE(f("FPU").matches(fin | psh | urg));
    }
    {
        SCOPED_TRACE("Threshold");
        auto t = parse_ok("alert tcp any any -> any any (threshold: type both, track by_dst, count 5, seconds 30; sid:1;)")
                     .threshold;
        ASSERT_TRUE(t);
        EXPECT_EQ(t->type, Threshold::Type::Both);
        EXPECT_EQ(t->track, Threshold::Track::ByDst);
        EXPECT_EQ(t->count, 5u);
        EXPECT_EQ(t->seconds, 30u);
        t = parse_ok("alert tcp any any -> any any (threshold:type limit,track by_src,count 1,seconds 60; sid:1;)").threshold;
        EXPECT_EQ(t->type, Threshold::Type::Limit);
        EXPECT_EQ(t->track, Threshold::Track::BySrc);
        t = parse_ok("alert tcp any any -> any any (threshold:type threshold,track by_src,count 3,seconds 60; sid:1;)").threshold;
        EXPECT_EQ(t->type, Threshold::Type::Threshold);
    }
}

TEST(IdsRuleParser, RejectionsNameLineAndKeyword)
{
    struct Case {
        const char* rule;
        const char* keyword;
    };
    const Case cases[] = {
        { "alert tcp any any -> any any (content:\"GET\"; http.uri; sid:1;)", "http.uri" },
        { "alert tcp any any -> any any (file_data; content:\"x\"; sid:1;)", "file_data" },
        { "alert tcp any any -> any any (byte_test:1,>,2,0; sid:1;)", "byte_test" },
        { "alert tcp any any -> any any (flowbits:set,foo; sid:1;)", "flowbits" },
        { "alert http any any -> any any (content:\"x\"; sid:1;)", "http" },
        { "alert dns any any -> any any (sid:1;)", "dns" },
        { "log tcp any any -> any any (sid:1;)", "log" },
        { "alert tcp any any -> any any (msg:\"no sid\";)", "sid" },
        { "alert tcp any any -> any any (sid:0;)", "sid" },
        { "alert tcp any any -> any any (sid:abc;)", "sid" },
        { "alert tcp any any -> any any (nocase; content:\"a\"; sid:1;)", "nocase" },
        { "alert tcp any any -> any any (content:\"abcd\"; depth:2; sid:1;)", "depth" },
        { "alert tcp any any -> any any (content:\"abcd\"; distance:2; sid:1;)", "distance" },
        { "alert tcp any any -> any any (content:\"a\"; content:\"b\"; offset:1; within:3; sid:1;)", "within" },
        { "alert tcp any any -> any any (content:\"a\"; content:\"bcd\"; within:2; sid:1;)", "within" },
        { "alert tcp any any -> any any (content:\"a\"; offset:x; sid:1;)", "offset" },
        { "alert tcp any any -> any any (content:!\"a\"; fast_pattern; sid:1;)", "fast_pattern" },
        { "alert tcp any any -> any any (content:\"a\"; fast_pattern:only; sid:1;)", "fast_pattern" },
        { "alert tcp any any -> any any (content:\"a\"; fast_pattern; content:\"b\"; fast_pattern; sid:1;)", "fast_pattern" },
        { "alert tcp any any -> any any (content:\"\"; sid:1;)", "content" },
        { "alert tcp any any -> any any (content:\"|4|\"; sid:1;)", "content" },
        { "alert tcp any any -> any any (content:\"|4g|\"; sid:1;)", "content" },
        { "alert tcp any any -> any any (content:\"|41\"; sid:1;)", "content" },
        { "alert tcp any any -> any any (content:\"a\\n\"; sid:1;)", "content" },
        { "alert tcp any any -> any any (content:abc; sid:1;)", "content" },
        { "alert tcp any any -> any any (pcre:\"/a/U\"; sid:1;)", "pcre" },
        { "alert tcp any any -> any any (pcre:\"/a(/\"; sid:1;)", "pcre" },
        { "alert tcp any any -> any any (pcre:\"abc\"; sid:1;)", "pcre" },
        { "alert tcp any any -> any any (pcre:\"/a/R\"; sid:1;)", "pcre" },
        { "alert tcp any any -> any any (flow:to_server,to_client; sid:1;)", "flow" },
        { "alert tcp any any -> any any (flow:only_stream; sid:1;)", "flow" },
        { "alert tcp any any -> any any (dsize:10<>5; sid:1;)", "dsize" },
        { "alert tcp any any -> any any (dsize:>; sid:1;)", "dsize" },
        { "alert tcp any any -> any any (flags:SX; sid:1;)", "flags" },
        { "alert tcp any any -> any any (flags:+; sid:1;)", "flags" },
        { "alert udp any any -> any any (flags:S; sid:1;)", "flags" },
        { "alert tcp any any -> any any (threshold:type limit, track by_rule, count 1, seconds 1; sid:1;)", "threshold" },
        { "alert tcp any any -> any any (threshold:type limit, count 1, seconds 1; sid:1;)", "threshold" },
        { "alert tcp any any -> any any (classtype:not-a-class; sid:1;)", "classtype" },
        { "alert tcp any any -> any any (priority:0; sid:1;)", "priority" },
        { "alert tcp !any any -> any any (sid:1;)", "source address" },
        { "alert tcp 10.0.0.300 any -> any any (sid:1;)", "source address" },
        { "alert tcp any any -> 10.0.0.0/33 any (sid:1;)", "destination address" },
        { "alert tcp any 70000 -> any any (sid:1;)", "source port" },
        { "alert tcp any any -> any 90:80 (sid:1;)", "destination port" },
        { "alert tcp [1.1.1.1 any -> any any (sid:1;)", "" },
        { "alert icmp any 80 -> any any (sid:1;)", "" },
        { "alert tcp any any => any any (sid:1;)", "" },
        { "alert tcp any any -> any any (sid:1)", "sid" },
        { "alert tcp any any -> any any sid:1;", "" },
        { "alert tcp any any -> any any (sid:1;) trailing", "" },
    };
    for (const auto& c : cases) {
        std::string file = "# a comment\n\n" + std::string(c.rule) + "\n";
        auto e = reject(file);
        EXPECT_EQ(e.line, 3u) << c.rule;
        EXPECT_EQ(e.keyword, c.keyword) << c.rule << " -> " << e.message;
        EXPECT_EQ(e.message.rfind("line 3: ", 0), 0u) << e.message;
        if (*c.keyword) {
            EXPECT_NE(e.message.find(c.keyword), std::string::npos) << e.message;
        }
    }
}

TEST(IdsRuleParser, FileFormat)
{
    std::string file = "# header comment\n"
                       "   \n"
                       "alert tcp any any -> any 80 (msg:\"one\"; \\\n"
                       "    content:\"abc\"; \\\n"
                       "    sid:10;)\r\n"
                       "alert tcp any any -> any any (content:\"x\"; http.uri; sid:11;)\n"
                       "  # indented comment\n"
                       "alert tcp any any -> any any (msg:\"dup\"; sid:10;)\n"
                       "alert udp any any -> any any (msg:\"gid 2 same sid\"; gid:2; sid:10;)\n"
                       "drop ip any any -> any any (sid:12;)";
    auto set = load_rules(file, default_rule_vars());
    ASSERT_EQ(set.rules.size(), 3u);
    EXPECT_EQ(set.rules[0].sid, 10u);
    EXPECT_EQ(set.rules[0].line, 3u);
    EXPECT_EQ(set.rules[0].msg, "one");
    EXPECT_EQ(content(set.rules[0], 0).bytes, "abc");
    EXPECT_EQ(set.rules[1].gid, 2u);
    EXPECT_EQ(set.rules[2].sid, 12u);
    EXPECT_EQ(set.rules[2].line, 10u);
    ASSERT_EQ(set.errors.size(), 2u);
    EXPECT_EQ(set.errors[0].line, 6u);
    EXPECT_EQ(set.errors[0].keyword, "http.uri");
    EXPECT_EQ(set.errors[1].line, 8u);
    EXPECT_EQ(set.errors[1].keyword, "sid");
    EXPECT_NE(set.errors[1].message.find("duplicate"), std::string::npos);
}

TEST(IdsRuleParser, Limits)
{
    {
        SCOPED_TRACE("TooManyContents");
        std::string rule = "alert tcp any any -> any any (";
        for (int i = 0; i < 33; ++i)
            rule += "content:\"c" + std::to_string(i) + "\"; ";
        rule += "sid:1;)";
        EXPECT_EQ(reject(rule).keyword, "content");
    }
    {
        SCOPED_TRACE("PatternTooLong");
        std::string rule = "alert tcp any any -> any any (content:\"" + std::string(4097, 'a') + "\"; sid:1;)";
        EXPECT_EQ(reject(rule).keyword, "content");
        rule = "alert tcp any any -> any any (content:\"" + std::string(4096, 'a') + "\"; sid:1;)";
        EXPECT_EQ(load_rules(rule, default_rule_vars()).rules.size(), 1u);
    }
    {
        SCOPED_TRACE("LineTooLong");
        std::string rule = "alert tcp any any -> any any (msg:\"" + std::string(70000, 'a')
            + "\"; sid:1;)\n"
              "alert tcp any any -> any any (sid:2;)\n";
        auto set = load_rules(rule, default_rule_vars());
        ASSERT_EQ(set.rules.size(), 1u);
        EXPECT_EQ(set.rules[0].sid, 2u);
        ASSERT_EQ(set.errors.size(), 1u);
        EXPECT_EQ(set.errors[0].line, 1u);
    }
    {
        SCOPED_TRACE("DeepNesting");
        std::string deep(200, '[');
        deep += "1.2.3.4" + std::string(200, ']');
        auto e = reject("alert tcp " + deep + " any -> any any (sid:1;)");
        EXPECT_NE(e.message.find("deeply"), std::string::npos) << e.message;
    }
    {
        SCOPED_TRACE("ParseRuleResult");
        auto r = parse_rule("alert tcp any any -> any any (byte_jump:4,0; sid:1;)", default_rule_vars());
        ASSERT_TRUE(r.is_error());
        EXPECT_NE(r.error().message().find("byte_jump"), std::string::npos);
    }
}

} // namespace
} // namespace bulwark::ids
