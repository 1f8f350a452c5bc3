// sudoers parsing and the sudo checks (src/inspect/sudoers.h, account_checks.h).
#include <gtest/gtest.h>
#include <map>

#include "inspect/account_checks.h"
#include "inspect/sudoers.h"

namespace bulwark::inspect {
namespace {

// Debian 12's /etc/sudoers.
const char* k_debian_sudoers = R"(#
# This file MUST be edited with the 'visudo' command as root.
#
# Please consider adding local content in /etc/sudoers.d/ instead of
# directly modifying this file.
#
# See the man page for details on how to write a sudoers file.
#
Defaults	env_reset
Defaults	mail_badpass
Defaults	secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# This fixes CVE-2005-4890 and possibly breaks some versions of kdesu
# (#1011624, https://bugs.kde.org/show_bug.cgi?id=452532)
Defaults	use_pty

# This preserves proxy settings from user environments of root
# equivalent users (group sudo)
#Defaults:%sudo env_keep += "http_proxy https_proxy ftp_proxy all_proxy no_proxy"

# This allows running arbitrary commands, but so does ALL, and it means
# different sudoers have their choice of editor respected.
#Defaults:%sudo env_keep += "EDITOR"

# Completely harmless preservation of a user preference.
#Defaults:%sudo env_keep += "GREP_COLOR"

# While you shouldn't normally run git as root, you need to with etckeeper
#Defaults:%sudo env_keep += "GIT_AUTHOR_* GIT_COMMITTER_*"

# Per-user preferences; root won't have sensible values for them.
#Defaults:%sudo env_keep += "EMAIL DEBEMAIL DEBFULLNAME"

# "sudo scp" or "sudo rsync" should be able to use your SSH agent.
#Defaults:%sudo env_keep += "SSH_AGENT_PID SSH_AUTH_SOCK"

# Ditto for GPG agent
#Defaults:%sudo env_keep += "GPG_AGENT_INFO"

# Host alias specification

# User alias specification

# Cmnd alias specification

# User privilege specification
root	ALL=(ALL:ALL) ALL

# Allow members of group sudo to execute any command
%sudo	ALL=(ALL:ALL) ALL

# See sudoers(5) for more information on "@include" directives:

@includedir /etc/sudoers.d
)";

TEST(InspectSudoers, DebianDefault)
{
    Sudoers s = parse_sudoers(k_debian_sudoers);
    EXPECT_TRUE(s.diagnostics.warnings.empty()) << s.diagnostics.warnings[0].message;
    ASSERT_EQ(s.defaults.size(), 4u);
    EXPECT_EQ(s.defaults[0].name, "env_reset");
    EXPECT_EQ(s.defaults[2].name, "secure_path");
    EXPECT_EQ(s.defaults[2].op, "=");
    EXPECT_EQ(s.defaults[2].value, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    ASSERT_EQ(s.rules.size(), 2u);
    EXPECT_EQ(s.rules[0].users, (std::vector<std::string> { "root" }));
    EXPECT_EQ(s.rules[0].hosts, (std::vector<std::string> { "ALL" }));
    ASSERT_EQ(s.rules[0].commands.size(), 1u);
    EXPECT_EQ(s.rules[0].commands[0].command, "ALL");
    EXPECT_EQ(s.rules[0].commands[0].runas_users, (std::vector<std::string> { "ALL" }));
    EXPECT_EQ(s.rules[0].commands[0].runas_groups, (std::vector<std::string> { "ALL" }));
    EXPECT_FALSE(s.rules[0].commands[0].nopasswd);
    EXPECT_EQ(s.rules[1].users, (std::vector<std::string> { "%sudo" }));
    EXPECT_EQ(s.rules[1].line, 50u);
    ASSERT_EQ(s.includes.size(), 1u);
    EXPECT_TRUE(s.includes[0].directory);
    EXPECT_EQ(s.includes[0].target, "/etc/sudoers.d");
    EXPECT_TRUE(check_sudoers(s).empty()) << "a default Debian sudoers has nothing to report";
}

TEST(InspectSudoers, Grammar)
{
    const char* text = "User_Alias ADMINS = alice, %wheel, !mallory : OPS = #1002, %#100, %:Domain\\ Users\n"
                       "Cmnd_Alias SHELLS = /bin/sh, /bin/bash, sha256:0123abcd+/== /usr/bin/zsh\n"
                       "Cmd_Alias READ = /usr/bin/cat /var/log/*, !/usr/bin/cat /var/log/secret\n"
                       "Runas_Alias DBA = postgres, mysql\n"
                       "Host_Alias SERVERS = 10.0.0.0/8, web01\n"
                       "Defaults:ADMINS !lecture, timestamp_timeout=0\n"
                       "Defaults@SERVERS log_output\n"
                       "Defaults!/usr/bin/less noexec\n"
                       "Defaults>root !set_logname\n"
                       "Defaults env_keep += \"LANG LC_*\", env_delete-=TZ\n"
                       "ADMINS ALL = (root) NOPASSWD: SHELLS, PASSWD: /usr/bin/apt update\n"
                       "bob SERVERS = (DBA) NOPASSWD:NOEXEC: /usr/bin/psql, /usr/bin/systemctl restart postgresql \\\n"
                       "    : ALL = (:wheel) CWD=/tmp TIMEOUT=1h /usr/bin/id\n"
                       "#1001, %#100 ALL = !/usr/bin/passwd root # comment\n"
                       "carol ALL = /usr/bin/chown root\\:root /srv/data, /bin/echo a\\,b\n"
                       "dave ALL = NOPASSWD : ALL\n"
                       "\"%quoted group\" ALL = (ALL) ALL\n"
                       "#include /etc/sudoers.local\n"
                       "#includedir \"/etc/sudoers extra.d\"\n"
                       "@include sudoers.%h\n"
                       "#includes are not directives\n";
    ConfigSource sources[] = { { "/etc/sudoers", text }, { "/etc/sudoers.d/90-extra", "ADMINS ALL = NOPASSWD: READ\n" } };
    Sudoers s = parse_sudoers(sources);
    for (const auto& w : s.diagnostics.warnings)
        ADD_FAILURE() << w.path << ":" << w.line << " " << w.message;
    ASSERT_EQ(s.aliases.size(), 6u);
    EXPECT_EQ(s.aliases[0].members, (std::vector<std::string> { "alice", "%wheel", "!mallory" }));
    EXPECT_EQ(s.aliases[1].name, "OPS");
    EXPECT_EQ(s.aliases[1].members, (std::vector<std::string> { "#1002", "%#100", "%:Domain Users" }));
    EXPECT_EQ(s.aliases[2].kind, SudoAliasKind::Cmnd);
    EXPECT_EQ(s.aliases[2].members, (std::vector<std::string> { "/bin/sh", "/bin/bash", "/usr/bin/zsh" }));
    EXPECT_EQ(s.aliases[3].members, (std::vector<std::string> { "/usr/bin/cat /var/log/*", "!/usr/bin/cat /var/log/secret" }));
    EXPECT_EQ(s.aliases[5].kind, SudoAliasKind::Host);

    ASSERT_EQ(s.defaults.size(), 7u);
    EXPECT_EQ(s.defaults[0].binding_type, ':');
    EXPECT_EQ(s.defaults[0].binding, (std::vector<std::string> { "ADMINS" }));
    EXPECT_TRUE(s.defaults[0].negated);
    EXPECT_EQ(s.defaults[1].name, "timestamp_timeout");
    EXPECT_EQ(s.defaults[1].value, "0");
    EXPECT_EQ(s.defaults[2].binding_type, '@');
    EXPECT_EQ(s.defaults[3].binding, (std::vector<std::string> { "/usr/bin/less" }));
    EXPECT_EQ(s.defaults[4].binding_type, '>');
    EXPECT_EQ(s.defaults[5].op, "+=");
    EXPECT_EQ(s.defaults[5].value, "LANG LC_*");
    EXPECT_EQ(s.defaults[6].op, "-=");

    ASSERT_EQ(s.rules.size(), 8u);
    const auto& admins = s.rules[0];
    ASSERT_EQ(admins.commands.size(), 2u);
    EXPECT_EQ(admins.commands[0].command, "SHELLS");
    EXPECT_TRUE(admins.commands[0].nopasswd);
    EXPECT_EQ(admins.commands[1].command, "/usr/bin/apt update");
    EXPECT_FALSE(admins.commands[1].nopasswd) << "PASSWD: overrides the inherited NOPASSWD";
    EXPECT_EQ(admins.commands[1].runas_users, (std::vector<std::string> { "root" })) << "the Runas spec carries over";

    const auto& bob = s.rules[1];
    EXPECT_EQ(bob.hosts, (std::vector<std::string> { "SERVERS" }));
    ASSERT_EQ(bob.commands.size(), 2u);
    EXPECT_EQ(bob.commands[1].command, "/usr/bin/systemctl restart postgresql");
    EXPECT_EQ(bob.commands[1].tags, (std::vector<std::string> { "NOPASSWD", "NOEXEC" }));
    const auto& bob2 = s.rules[2];
    EXPECT_EQ(bob2.users, (std::vector<std::string> { "bob" }));
    EXPECT_EQ(bob2.hosts, (std::vector<std::string> { "ALL" }));
    EXPECT_EQ(bob2.line, 12u) << "a continued line counts from its first physical line";
    ASSERT_EQ(bob2.commands.size(), 1u);
    EXPECT_TRUE(bob2.commands[0].runas_users.empty());
    EXPECT_EQ(bob2.commands[0].runas_groups, (std::vector<std::string> { "wheel" }));
    EXPECT_FALSE(bob2.commands[0].nopasswd) << "tags do not cross host sections";
    EXPECT_EQ(
        bob2.commands[0].options, (std::vector<std::pair<std::string, std::string>> { { "CWD", "/tmp" }, { "TIMEOUT", "1h" } }));

    EXPECT_EQ(s.rules[3].users, (std::vector<std::string> { "#1001", "%#100" }));
    EXPECT_TRUE(s.rules[3].commands[0].negated);
    EXPECT_EQ(s.rules[3].commands[0].command, "/usr/bin/passwd root");
    EXPECT_EQ(s.rules[4].commands[0].command, "/usr/bin/chown root:root /srv/data");
    EXPECT_EQ(s.rules[4].commands[1].command, "/bin/echo a,b");
    EXPECT_TRUE(s.rules[5].commands[0].nopasswd) << "blanks before the tag's colon";
    EXPECT_EQ(s.rules[6].users, (std::vector<std::string> { "%quoted group" }));
    EXPECT_EQ(s.rules[7].path, "/etc/sudoers.d/90-extra");
    EXPECT_TRUE(s.rules[7].commands[0].nopasswd);

    ASSERT_EQ(s.includes.size(), 3u);
    EXPECT_FALSE(s.includes[0].directory);
    EXPECT_EQ(s.includes[0].target, "/etc/sudoers.local");
    EXPECT_EQ(s.includes[1].target, "/etc/sudoers extra.d");
    EXPECT_TRUE(s.includes[1].directory);
    EXPECT_EQ(s.includes[2].target, "sudoers.%h");
    EXPECT_EQ(s.includes[2].line, 20u);
}

TEST(InspectSudoers, MalformedLinesAreSkipped)
{
    Sudoers s = parse_sudoers("root ALL = (ALL) ALL\n"
                              "Defaults\n"
                              "Defaults: env_reset\n"
                              "Defaults !\n"
                              "User_Alias lower = x\n"
                              "Cmnd_Alias X\n"
                              "root ALL\n"
                              "root ALL = (root\n"
                              "root ALL = NOPASSWD:\n"
                              "root ALL = \"unterminated, /bin/x\n"
                              "Defaults env_keep=\"unterminated\n"
                              "#include\n"
                              "@include a b\n"
                              "alice ALL = ALL : \n"
                              "%admin ALL = (ALL) ALL\n");
    ASSERT_EQ(s.rules.size(), 2u);
    EXPECT_EQ(s.rules[1].users, (std::vector<std::string> { "%admin" }));
    std::vector<size_t> lines;
    for (const auto& w : s.diagnostics.warnings)
        lines.push_back(w.line);
    EXPECT_EQ(lines, (std::vector<size_t> { 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14 }));
    {
        SCOPED_TRACE("Limits");
        std::string huge = "a ALL = \\\n";
        for (int i = 0; i < 20000; ++i)
            huge += "/bin/true" + std::to_string(i) + ", \\\n";
        huge += "/bin/false\nb ALL = ALL\n";
        Sudoers big = parse_sudoers(huge);
        ASSERT_EQ(big.rules.size(), 1u) << "the over-long logical line is dropped, the next one kept";
        EXPECT_EQ(big.rules[0].users, (std::vector<std::string> { "b" }));
        std::string many;
        for (int i = 0; i < 2000; ++i)
            many += "u" + std::to_string(i) + ",";
        Sudoers list = parse_sudoers(many + "x ALL = ALL\n");
        EXPECT_TRUE(list.rules.empty());
        EXPECT_EQ(list.diagnostics.warnings.size(), 1u);
    }
}

TEST(InspectSudoers, Findings)
{
    const char* text = "Defaults !authenticate\n"
                       "Defaults:%ops !authenticate\n"
                       "Defaults>root !env_reset\n"
                       "User_Alias ADMINS = alice, %wheel, !mallory, NESTED\n"
                       "User_Alias NESTED = erin\n"
                       "Cmnd_Alias SHELLS = /bin/bash, /usr/bin/vim\n"
                       "Cmnd_Alias SAFE = /usr/bin/uptime\n"
                       "ADMINS ALL = (root) NOPASSWD: SHELLS\n"
                       "bob ALL = NOPASSWD: /usr/bin/systemctl restart nginx, SAFE\n"
                       "carol ALL = NOPASSWD: /usr/bin/python3.11 /opt/x.py\n"
                       "dave ALL = NOPASSWD: /opt/bin/*\n"
                       "erin ALL = NOPASSWD: !/bin/sh\n"
                       "ALL ALL = NOPASSWD: /usr/bin/id\n"
                       "frank ALL = (ALL) ALL\n"
                       "GHOSTS ALL = NOPASSWD: ALL\n";
    auto findings = check_sudoers(parse_sudoers(text));
    std::map<std::string, Severity> got;
    for (const auto& f : findings) {
        EXPECT_TRUE(got.emplace(f.id, f.severity).second) << "duplicate " << f.id;
        EXPECT_GT(f.line, 0u);
    }
    std::map<std::string, Severity> want = {
        { "sudo.no-authenticate:all", Severity::Critical },
        { "sudo.no-authenticate:user:%ops", Severity::High },
        { "sudo.no-env-reset:runas:root", Severity::Medium },
        { "sudo.nopasswd:alice", Severity::High },
        { "sudo.nopasswd:%wheel", Severity::High },
        { "sudo.nopasswd:erin", Severity::High }, // through the nested alias; its own !/bin/sh grants nothing
        { "sudo.nopasswd:bob", Severity::High }, // systemctl can start a pager and a shell
        { "sudo.nopasswd:carol", Severity::High },
        { "sudo.nopasswd:dave", Severity::High },
        { "sudo.nopasswd:ALL", Severity::Critical },
        { "sudo.nopasswd:GHOSTS", Severity::High }, // an undefined alias is reported by name
        { "sudo.all-users::13", Severity::High },
    };
    EXPECT_EQ(got, want);
    for (const auto& f : findings) {
        if (f.id == "sudo.nopasswd:alice") {
            EXPECT_NE(f.message.find("/bin/bash (via SHELLS)"), std::string::npos) << f.message;
            EXPECT_NE(f.message.find("through ADMINS"), std::string::npos) << f.message;
        }
    }
    {
        SCOPED_TRACE("SpecificCommandsAreMedium");
        auto f = check_sudoers(parse_sudoers("backup ALL = (root) NOPASSWD: /usr/local/bin/backup-now, /usr/bin/uptime\n"));
        ASSERT_EQ(f.size(), 1u);
        EXPECT_EQ(f[0].id, "sudo.nopasswd:backup");
        EXPECT_EQ(f[0].severity, Severity::Medium);
    }
    {
        SCOPED_TRACE("ShellDetection");
        for (const char* c : { "ALL", "/bin/sh", "/usr/bin/vim /etc/hosts", "/usr/bin/python3.11", "/usr/bin/less /var/log/x",
                 "/usr/bin/find", "/opt/*", "/usr/bin/env", "/usr/bin/perl5.36" })
            EXPECT_TRUE(sudo_command_grants_shell(c)) << c;
        for (const char* c : { "/usr/bin/uptime", "/usr/sbin/reboot", "/usr/local/bin/backup", "/usr/bin/id -u" })
            EXPECT_FALSE(sudo_command_grants_shell(c)) << c;
    }
    {
        SCOPED_TRACE("AliasExplosionIsBounded");
        // Eight levels of 60 references each would be 60^8 expansions without a budget.
        std::string text;
        for (int level = 0; level < 8; ++level) {
            text += "User_Alias L" + std::to_string(level) + " = ";
            for (int k = 0; k < 60; ++k)
                text += "L" + std::to_string(level + 1) + ", ";
            text += "!nobody\n";
        }
        text += "User_Alias L8 = !a, !b\nL0 ALL = NOPASSWD: ALL\n";
        for (int r = 0; r < 2000; ++r)
            text += "L0 ALL = NOPASSWD: /bin/true" + std::to_string(r) + "\n";
        auto f = check_sudoers(parse_sudoers(text));
        EXPECT_LE(f.size(), 1001u);
    }
    {
        SCOPED_TRACE("AliasCyclesTerminate");
        auto f = check_sudoers(parse_sudoers("User_Alias A = B\nUser_Alias B = A, zed\nA ALL = NOPASSWD: /usr/bin/id\n"));
        bool zed = false;
        for (const auto& x : f)
            zed = zed || x.id == "sudo.nopasswd:zed";
        EXPECT_TRUE(zed);
    }
}

} // namespace
} // namespace bulwark::inspect
