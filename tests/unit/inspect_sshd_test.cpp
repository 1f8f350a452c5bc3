// sshd_config parsing, effective settings and findings (src/inspect/sshd_config.h).
#include <gtest/gtest.h>
#include <map>

#include "inspect/sshd_config.h"

namespace bulwark::inspect {
namespace {

// Debian 12's /etc/ssh/sshd_config, without most of its comments.
const char* k_debian_sshd = R"(
# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.
Include /etc/ssh/sshd_config.d/*.conf
#Port 22
#PermitRootLogin prohibit-password
#PasswordAuthentication yes
#PermitEmptyPasswords no
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem	sftp	/usr/lib/openssh/sftp-server
)";

std::map<std::string, Severity> findings_by_id(const std::vector<Finding>& findings)
{
    std::map<std::string, Severity> out;
    for (const auto& f : findings)
        EXPECT_TRUE(out.emplace(f.id, f.severity).second) << "duplicate " << f.id;
    return out;
}

TEST(InspectSshd, DebianDefaultAndIncludes)
{
    SshdConfig c = parse_sshd_config({ "/etc/ssh/sshd_config", k_debian_sshd });
    EXPECT_TRUE(c.diagnostics.warnings.empty());
    EXPECT_EQ(c.global.at("usepam").value, "yes");
    EXPECT_EQ(c.global.at("subsystem").value, "sftp /usr/lib/openssh/sftp-server");
    EXPECT_EQ(c.global.at("kbdinteractiveauthentication").line, 9u);
    ASSERT_EQ(c.includes.size(), 1u);
    EXPECT_EQ(c.includes[0].pattern, "/etc/ssh/sshd_config.d/*.conf");
    EXPECT_TRUE(c.includes[0].matched.empty());
    SshdEffective e = sshd_effective(c.global);
    EXPECT_EQ(e.permit_root_login, "prohibit-password");
    EXPECT_TRUE(e.password_authentication);
    EXPECT_FALSE(e.kbd_interactive_authentication);
    EXPECT_TRUE(e.use_pam);
    auto f = findings_by_id(check_sshd_config(c));
    EXPECT_EQ(f,
        (std::map<std::string, Severity> {
            { "ssh.password-authentication", Severity::Medium }, { "ssh.x11-forwarding", Severity::Low } }));

    {
        SCOPED_TRACE("DropInsComeFirstAndWin");
        // A cloud image's drop-in turns password logins off and root logins on; the later
        // line in the main file does not override it (the first value wins).
        std::string main = std::string(k_debian_sshd) + "PasswordAuthentication yes\nPermitRootLogin no\n";
        ConfigSource extras[] = {
            { "/etc/ssh/sshd_config.d/60-cloudimg.conf", "PasswordAuthentication no\n" },
            { "/etc/ssh/sshd_config.d/10-root.conf", "permitrootlogin=yes\nInclude nested/*.conf\n" },
            { "/etc/ssh/sshd_config.d/README", "PermitEmptyPasswords yes\n" },
            { "/etc/ssh/nested/a.conf", "GatewayPorts yes\n" },
        };
        SshdConfig d = parse_sshd_config({ "/etc/ssh/sshd_config", main }, extras);
        EXPECT_EQ(d.global.at("passwordauthentication").value, "no");
        EXPECT_EQ(d.global.at("passwordauthentication").path, "/etc/ssh/sshd_config.d/60-cloudimg.conf");
        EXPECT_EQ(d.global.at("permitrootlogin").value, "yes");
        EXPECT_EQ(d.global.at("gatewayports").path, "/etc/ssh/nested/a.conf");
        EXPECT_EQ(d.global.count("permitemptypasswords"), 0u) << "README does not match *.conf";
        ASSERT_EQ(d.includes.size(), 2u);
        EXPECT_EQ(d.includes[0].matched,
            (std::vector<std::string> { "/etc/ssh/sshd_config.d/10-root.conf", "/etc/ssh/sshd_config.d/60-cloudimg.conf" }));
        EXPECT_EQ(d.includes[1].pattern, "/etc/ssh/nested/*.conf");
        ASSERT_EQ(d.diagnostics.warnings.size(), 1u);
        EXPECT_EQ(d.diagnostics.warnings[0].path, "/etc/ssh/sshd_config.d/README");
        auto df = findings_by_id(check_sshd_config(d));
        EXPECT_EQ(df.count("ssh.password-authentication"), 0u);
        EXPECT_EQ(df.at("ssh.permit-root-login"), Severity::High);
        EXPECT_EQ(df.at("ssh.gateway-ports"), Severity::Low);
    }
    {
        SCOPED_TRACE("IncludeLoopsAndDepth");
        ConfigSource loop[]
            = { { "/etc/ssh/a.conf", "Include /etc/ssh/b.conf\nPort 1\n" }, { "/etc/ssh/b.conf", "Include a.conf\n" } };
        SshdConfig l = parse_sshd_config({ "/etc/ssh/sshd_config", "Include a.conf\n" }, loop);
        EXPECT_EQ(l.global.at("port").value, "1");
        ASSERT_FALSE(l.diagnostics.warnings.empty());
        std::vector<std::string> bodies; // ConfigSource only views its text
        std::vector<ConfigSource> chain;
        for (int i = 0; i < 40; ++i)
            bodies.push_back("Include d" + std::to_string(i + 1) + ".conf\n");
        for (int i = 0; i < 40; ++i)
            chain.push_back({ "/etc/ssh/d" + std::to_string(i) + ".conf", bodies[static_cast<size_t>(i)] });
        SshdConfig deep = parse_sshd_config({ "/etc/ssh/sshd_config", "Include d0.conf\n" }, chain);
        EXPECT_FALSE(deep.diagnostics.warnings.empty());
        EXPECT_LE(deep.includes.size(), static_cast<size_t>(k_sshd_max_include_depth) + 1);
    }
}

TEST(InspectSshd, SyntaxFirstValueWinsAndMatchBlocks)
{
    const char* text = "# comment\n"
                       "  PERMITROOTLOGIN   without-password\n"
                       "PermitRootLogin yes\n"
                       "PasswordAuthentication=no\n"
                       "ChallengeResponseAuthentication yes\n"
                       "KbdInteractiveAuthentication no\n"
                       "HostKey /etc/ssh/ssh_host_ed25519_key\n"
                       "HostKey \"/etc/ssh/key with spaces\"\n"
                       "AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2 # trailing comment\n"
                       "UsePAM yes\n"
                       "Match User backup Address 10.0.0.0/8\n"
                       "    PasswordAuthentication yes\n"
                       "    PasswordAuthentication no\n"
                       "    PermitRootLogin forced-commands-only\n"
                       "    PermitEmptyPasswords yes\n"
                       "    HostKey /etc/ssh/other\n"
                       "Match all\n"
                       "    X11Forwarding yes\n";
    SshdConfig c = parse_sshd_config({ "/etc/ssh/sshd_config", text });
    EXPECT_EQ(c.global.at("permitrootlogin").value, "without-password");
    EXPECT_EQ(c.global.at("permitrootlogin").line, 2u);
    EXPECT_EQ(c.global.at("passwordauthentication").value, "no");
    EXPECT_EQ(c.global.at("kbdinteractiveauthentication").value, "yes") << "ChallengeResponseAuthentication is its alias";
    EXPECT_EQ(c.global.at("authorizedkeysfile").value, ".ssh/authorized_keys .ssh/authorized_keys2");
    ASSERT_EQ(c.host_keys.size(), 2u);
    EXPECT_EQ(c.host_keys[1].value, "/etc/ssh/key with spaces");
    ASSERT_EQ(c.matches.size(), 2u);
    EXPECT_EQ(c.matches[0].criteria, "User backup Address 10.0.0.0/8");
    EXPECT_EQ(c.matches[0].settings.at("passwordauthentication").value, "yes");
    EXPECT_EQ(c.matches[0].line, 11u);
    EXPECT_EQ(c.global.count("x11forwarding"), 0u) << "Match settings stay in their block";
    ASSERT_EQ(c.diagnostics.warnings.size(), 1u) << "HostKey inside Match";
    EXPECT_EQ(c.diagnostics.warnings[0].line, 16u);

    SshdEffective e = sshd_effective(c.global);
    EXPECT_EQ(e.permit_root_login, "prohibit-password");
    EXPECT_FALSE(e.password_authentication);
    EXPECT_TRUE(e.kbd_interactive_authentication);

    auto f = findings_by_id(check_sshd_config(c));
    std::map<std::string, Severity> want = {
        { "ssh.kbd-interactive-authentication", Severity::Low },
        { "ssh.password-authentication:match:User backup Address 10.0.0.0/8", Severity::Medium },
        { "ssh.permit-root-login:match:User backup Address 10.0.0.0/8", Severity::Low },
        { "ssh.permit-empty-passwords:match:User backup Address 10.0.0.0/8", Severity::Critical },
        { "ssh.x11-forwarding:match:all", Severity::Low },
    };
    EXPECT_EQ(f, want);
    for (const auto& x : check_sshd_config(c)) {
        if (x.id == "ssh.permit-empty-passwords:match:User backup Address 10.0.0.0/8") {
            EXPECT_EQ(x.line, 15u);
            EXPECT_EQ(x.excerpt, "permitemptypasswords yes");
        }
    }
}

TEST(InspectSshd, RiskySettingsAndDefaults)
{
    const char* text = "PermitRootLogin yes\n"
                       "PermitEmptyPasswords yes\n"
                       "PermitUserEnvironment yes\n"
                       "HostbasedAuthentication yes\n"
                       "IgnoreRhosts no\n"
                       "StrictModes no\n"
                       "GatewayPorts clientspecified\n"
                       "PubkeyAuthentication no\n";
    auto f = findings_by_id(check_sshd_config(parse_sshd_config({ "/etc/ssh/sshd_config", text })));
    std::map<std::string, Severity> want = {
        { "ssh.permit-root-login", Severity::High },
        { "ssh.permit-empty-passwords", Severity::Critical },
        { "ssh.password-authentication", Severity::Medium },
        { "ssh.permit-user-environment", Severity::Medium },
        { "ssh.hostbased-authentication", Severity::Medium },
        { "ssh.ignore-rhosts-disabled", Severity::Medium },
        { "ssh.strict-modes-disabled", Severity::Medium },
        { "ssh.gateway-ports", Severity::Low },
        { "ssh.pubkey-authentication-disabled", Severity::Info },
    };
    EXPECT_EQ(f, want);
    {
        SCOPED_TRACE("EmptyPasswordsWithoutPasswordLogin");
        auto g = findings_by_id(check_sshd_config(parse_sshd_config({ "/etc/ssh/sshd_config",
            "PermitEmptyPasswords yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n" })));
        EXPECT_EQ(g.at("ssh.permit-empty-passwords"), Severity::High);
    }
    {
        SCOPED_TRACE("OldOpenSshDefaultsToRootLogin");
        SshdConfig empty = parse_sshd_config({ "/etc/ssh/sshd_config", "" });
        EXPECT_EQ(sshd_effective(empty.global, OpenSshVersion { 6, 9 }).permit_root_login, "yes");
        EXPECT_EQ(sshd_effective(empty.global, OpenSshVersion { 7, 0 }).permit_root_login, "prohibit-password");
        auto old = findings_by_id(check_sshd_config(empty, OpenSshVersion { 6, 6 }));
        EXPECT_EQ(old.at("ssh.permit-root-login"), Severity::High);
        auto current = findings_by_id(check_sshd_config(empty));
        EXPECT_EQ(current.count("ssh.permit-root-login"), 0u);
    }
    {
        SCOPED_TRACE("Versions");
        auto v = parse_openssh_version("1:9.2p1-2+deb12u3");
        ASSERT_TRUE(v.has_value());
        EXPECT_EQ(v->major, 9);
        EXPECT_EQ(v->minor, 2);
        EXPECT_EQ(parse_openssh_version("7.4p1")->minor, 4);
        EXPECT_FALSE(parse_openssh_version("").has_value());
        EXPECT_FALSE(parse_openssh_version("abc").has_value());
        EXPECT_FALSE(parse_openssh_version("99999.1").has_value());
    }
    {
        SCOPED_TRACE("InvalidValuesWarn");
        SshdConfig bad = parse_sshd_config({ "/etc/ssh/sshd_config",
            "PasswordAuthentication maybe\nPermitRootLogin sometimes\nBanner \"unterminated\nLonely\n=value\n" });
        EXPECT_EQ(bad.diagnostics.warnings.size(), 5u);
        // An invalid yes/no falls back to the default.
        EXPECT_TRUE(sshd_effective(bad.global).password_authentication);
    }
    {
        SCOPED_TRACE("Limits");
        std::string many;
        for (size_t i = 0; i < k_sshd_max_matches + 10; ++i)
            many += "Match User u" + std::to_string(i) + "\n  PermitRootLogin yes\n";
        many += "Match all\nX11Forwarding yes\n";
        SshdConfig m = parse_sshd_config({ "/etc/ssh/sshd_config", many });
        EXPECT_EQ(m.matches.size(), k_sshd_max_matches);
        EXPECT_TRUE(m.diagnostics.truncated);
        EXPECT_EQ(m.global.count("x11forwarding"), 0u) << "settings of dropped Match blocks never become global";
    }
}

} // namespace
} // namespace bulwark::inspect
