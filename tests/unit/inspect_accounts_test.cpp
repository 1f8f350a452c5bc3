// The account databases (passwd, shadow, group, gshadow) and the checks over them
// (src/inspect/accounts.h, account_checks.h).
#include <gtest/gtest.h>
#include <map>
#include <set>

#include "base/system.h"
#include "inspect/account_checks.h"
#include "test_util.h"

namespace bulwark::inspect {
namespace {

std::map<std::string, const Finding*> by_id(const std::vector<Finding>& findings)
{
    std::map<std::string, const Finding*> out;
    for (const auto& f : findings) {
        EXPECT_TRUE(out.emplace(f.id, &f).second) << "duplicate id " << f.id;
    }
    return out;
}

std::vector<size_t> warning_lines(const Diagnostics& d)
{
    std::vector<size_t> out;
    for (const auto& w : d.warnings)
        out.push_back(w.line);
    return out;
}

TEST(InspectAccounts, ParsesTheFourFiles)
{
    {
        SCOPED_TRACE("Passwd");
        PasswdFile p = parse_passwd("root:x:0:0:root:/root:/bin/bash\n"
                                    "# a comment\n"
                                    "\n"
                                    "  daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                                    "+@netgroup::::::\n"
                                    "-baduser::::::\n"
                                    "short:x:2\n"
                                    "toolong:x:3:3:a:b:c:d\n"
                                    ":x:4:4::/:/bin/sh\n"
                                    "neg:x:-1:0::/:/bin/sh\n"
                                    "big:x:4294967296:0::/:/bin/sh\n"
                                    "maxuid:x:4294967295:65534:G\xc3\xa9"
                                    "cos,,,:/home/m:\n");
        ASSERT_EQ(p.entries.size(), 3u);
        EXPECT_EQ(p.entries[0].name, "root");
        EXPECT_EQ(p.entries[0].shell, "/bin/bash");
        EXPECT_EQ(p.entries[0].line, 1u);
        EXPECT_EQ(p.entries[1].name, "daemon");
        EXPECT_EQ(p.entries[1].uid, 1u);
        EXPECT_EQ(p.entries[2].uid, 4294967295u);
        EXPECT_EQ(p.entries[2].gecos,
            "G\xc3\xa9"
            "cos,,,");
        EXPECT_EQ(p.entries[2].shell, "");
        EXPECT_EQ(warning_lines(p.diagnostics), (std::vector<size_t> { 5, 6, 7, 8, 9, 10, 11 }));
    }
    {
        SCOPED_TRACE("Shadow");
        ShadowFile s = parse_shadow("root:*:19500:0:99999:7:::\n"
                                    "alice:$y$j9T$salt$hash:19000:1:90:7:30:19600:\n"
                                    "eight:!:19000:0:99999:7::\n"
                                    "neg:$6$s$h:-1:::::-1:\n"
                                    "junk:x:abc:0:0:0:0:0:\n"
                                    "seven:x:1:2:3:4:5\n");
        ASSERT_EQ(s.entries.size(), 5u);
        EXPECT_EQ(s.entries[0].last_change, 19500);
        EXPECT_EQ(s.entries[0].max_age, 99999);
        EXPECT_FALSE(s.entries[0].expire.has_value());
        EXPECT_EQ(s.entries[1].hash, "$y$j9T$salt$hash");
        EXPECT_EQ(s.entries[1].inactivity, 30);
        EXPECT_EQ(s.entries[1].expire, 19600);
        EXPECT_EQ(s.entries[2].name, "eight");
        EXPECT_FALSE(s.entries[3].last_change.has_value());
        EXPECT_FALSE(s.entries[3].expire.has_value());
        EXPECT_FALSE(s.entries[4].last_change.has_value());
        EXPECT_EQ(warning_lines(s.diagnostics), (std::vector<size_t> { 5, 6 }));
    }
    {
        SCOPED_TRACE("GroupAndGshadow");
        GroupFile g = parse_group("sudo:x:27:alice, bob,,carol\nempty:x:100:\nbad:x:x:\nfive:x:1:a:b\n");
        ASSERT_EQ(g.entries.size(), 2u);
        EXPECT_EQ(g.entries[0].members, (std::vector<std::string> { "alice", "bob", "carol" }));
        EXPECT_TRUE(g.entries[1].members.empty());
        EXPECT_EQ(warning_lines(g.diagnostics), (std::vector<size_t> { 3, 4 }));
        GshadowFile gs = parse_gshadow("sudo:!:alice:alice,bob\nroot:*::\n");
        ASSERT_EQ(gs.entries.size(), 2u);
        EXPECT_EQ(gs.entries[0].admins, (std::vector<std::string> { "alice" }));
        EXPECT_EQ(gs.entries[0].members.size(), 2u);
    }
    {
        SCOPED_TRACE("Limits");
        std::string members;
        for (size_t i = 0; i < k_max_group_members + 5; ++i)
            members += "u" + std::to_string(i) + ",";
        GroupFile g = parse_group("big:x:1:" + members + "\n");
        ASSERT_EQ(g.entries.size(), 1u);
        EXPECT_EQ(g.entries[0].members.size(), k_max_group_members);
        PasswdFile p = parse_passwd("a:x:1:1::/:/bin/sh:" + std::string(70000, 'x') + "\nb:x:2:2::/:/bin/sh\n");
        ASSERT_EQ(p.entries.size(), 1u);
        EXPECT_EQ(p.entries[0].name, "b");
    }
    {
        SCOPED_TRACE("ThisMachine");
        auto text = sys::read_file("/etc/passwd", 16 << 20);
        ASSERT_TRUE(test::is_ok(text));
        PasswdFile p = parse_passwd(text.value());
        EXPECT_TRUE(p.diagnostics.warnings.empty());
        ASSERT_FALSE(p.entries.empty());
        EXPECT_EQ(p.entries[0].name, "root");
        EXPECT_EQ(p.entries[0].uid, 0u);
        auto group = sys::read_file("/etc/group", 16 << 20);
        ASSERT_TRUE(test::is_ok(group));
        EXPECT_TRUE(parse_group(group.value()).diagnostics.warnings.empty());
    }
}

TEST(InspectAccounts, HashSchemesAndShells)
{
    const std::pair<const char*, HashScheme> hashes[] = {
        { "", HashScheme::Empty },
        { "!", HashScheme::Locked },
        { "*", HashScheme::Locked },
        { "!!", HashScheme::Locked },
        { "!$6$salt$hash", HashScheme::Locked },
        { "*LK*", HashScheme::Locked },
        { "abJnggxhB/yWI", HashScheme::Des },
        { "_J9..rounds", HashScheme::Unknown },
        { "_J9..CCCCXBrJUJV154M", HashScheme::BsdiDes },
        { "$1$salt$qJH7.N4xYta3aEG/dfqo/0", HashScheme::Md5 },
        { "$3$$8846f7eaee8fb117ad06bdd830b7586c", HashScheme::NtHash },
        { "$md5,rounds=5000$salt$hash", HashScheme::SunMd5 },
        { "$2b$12$abcdefghijklmnopqrstuu", HashScheme::Bcrypt },
        { "$2y$10$x", HashScheme::Bcrypt },
        { "$5$rounds=5000$salt$hash", HashScheme::Sha256 },
        { "$6$salt$hash", HashScheme::Sha512 },
        { "$7$CU..../....salt$hash", HashScheme::Scrypt },
        { "$y$j9T$salt$hash", HashScheme::Yescrypt },
        { "$gy$j9T$salt$hash", HashScheme::GostYescrypt },
        { "plaintext", HashScheme::Unknown },
        { "abJnggxhB/yW!", HashScheme::Unknown },
    };
    for (const auto& [hash, scheme] : hashes)
        EXPECT_EQ(classify_hash(hash), scheme) << hash;
    for (HashScheme weak : { HashScheme::Des, HashScheme::BsdiDes, HashScheme::Md5, HashScheme::NtHash, HashScheme::SunMd5 })
        EXPECT_TRUE(hash_scheme_is_weak(weak)) << hash_scheme_name(weak);
    for (HashScheme ok : { HashScheme::Bcrypt, HashScheme::Sha256, HashScheme::Sha512, HashScheme::Scrypt, HashScheme::Yescrypt,
             HashScheme::GostYescrypt, HashScheme::Locked, HashScheme::Empty })
        EXPECT_FALSE(hash_scheme_is_weak(ok)) << hash_scheme_name(ok);
    for (const char* s : { "/bin/bash", "/bin/sh", "", "/usr/bin/zsh", "/tmp/evil" })
        EXPECT_TRUE(is_login_shell(s)) << s;
    for (const char* s : { "/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/bin/sync", "/usr/sbin/halt" })
        EXPECT_FALSE(is_login_shell(s)) << s;
}

TEST(InspectAccounts, Findings)
{
    PasswdFile passwd = parse_passwd("root:x:0:0:root:/root:/bin/bash\n"
                                     "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                                     "postgres:x:108:114::/var/lib/postgresql:/bin/bash\n"
                                     "alice:x:1000:1000::/home/alice:/bin/bash\n"
                                     "bob:x:1001:1001::/home/bob:\n"
                                     "svc:x:1002:1002::/srv:/usr/sbin/nologin\n"
                                     "toor:x:0:0::/root:/bin/sh\n"
                                     "legacy:abJnggxhB/yWI:1003:1003::/home/legacy:/bin/bash\n"
                                     "nopw::1004:1004::/home/nopw:/usr/sbin/nologin\n"
                                     "ghost:x:1005:1005::/:/bin/bash\n"
                                     "alice:x:2000:2000::/home/alice2:/bin/bash\n"
                                     "twin:x:1000:1000::/home/twin:/usr/sbin/nologin\n"
                                     "nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n"
                                     "old:x:1006:1006::/home/old:/bin/bash\n"
                                     "stale:x:1007:1007::/home/stale:/bin/bash\n"
                                     "weird:x:1008:1008::/home/weird:/bin/bash\n");
    ShadowFile shadow = parse_shadow("root:*:19500:0:99999:7:::\n"
                                     "daemon:*:19500:0:99999:7:::\n"
                                     "postgres:!:19500::::::\n"
                                     "alice:$y$j9T$s$h:19500:0:99999:7:::\n"
                                     "bob::19500:0:99999:7:::\n"
                                     "svc::19500:0:99999:7:::\n"
                                     "toor:$1$salt$qJH7.N4xYta3aEG/dfqo/0:19500:0:99999:7:::\n"
                                     "twin:$6$s$h:19500::::::\n"
                                     "nobody:*:19500:0:99999:7:::\n"
                                     "old:$6$s$h:19000:0:99999:7::19600:\n"
                                     "stale:$6$s$h:19000:0:365:7:::\n"
                                     "weird:notahash:19500::::::\n");
    GroupFile group = parse_group("root:x:0:\nsudo:x:27:alice,carol\nwheel:x:10:bob\nadmin:x:1003:\nusers:x:100:alice\n");
    AccountInputs in;
    in.passwd = &passwd;
    in.shadow = &shadow;
    in.group = &group;
    in.today = 19700;
    auto findings = check_accounts(in);
    auto ids = by_id(findings);
    auto severity = [&](const std::string& id) {
        auto it = ids.find(id);
        return it == ids.end() ? std::string("absent") : std::string(severity_name(it->second->severity));
    };
    EXPECT_EQ(severity("account.uid0:toor"), "critical");
    EXPECT_EQ(severity("account.uid0:root"), "absent");
    EXPECT_EQ(severity("account.duplicate-uid:0"), "high");
    EXPECT_EQ(severity("account.duplicate-uid:1000"), "high");
    EXPECT_EQ(severity("account.duplicate-name:alice"), "medium");
    EXPECT_EQ(severity("account.weak-hash:toor"), "high");
    EXPECT_EQ(severity("account.weak-hash:legacy"), "high");
    EXPECT_EQ(severity("account.hash-in-passwd:legacy"), "high");
    EXPECT_EQ(severity("account.empty-password:bob"), "high");
    EXPECT_EQ(severity("account.passwordless-login:bob"), "critical") << "an empty shell is /bin/sh";
    EXPECT_EQ(severity("account.empty-password:svc"), "high");
    EXPECT_EQ(severity("account.passwordless-login:svc"), "absent") << "nologin";
    EXPECT_EQ(severity("account.empty-password:nopw"), "high") << "passwd's own empty field";
    EXPECT_EQ(severity("account.hash-in-passwd:nopw"), "absent");
    EXPECT_EQ(severity("account.missing-shadow:ghost"), "info");
    EXPECT_EQ(severity("account.locked:root"), "info");
    EXPECT_EQ(severity("account.locked:postgres"), "info");
    EXPECT_EQ(severity("account.locked:daemon"), "absent") << "no login shell";
    EXPECT_EQ(severity("account.expired:old"), "info");
    EXPECT_EQ(severity("account.password-expired:stale"), "low");
    EXPECT_EQ(severity("account.password-expired:alice"), "absent");
    EXPECT_EQ(severity("account.unknown-hash:weird"), "low");
    EXPECT_EQ(severity("account.system-login-shell:postgres"), "low");
    EXPECT_EQ(severity("account.login-shell:alice"), "info");
    EXPECT_EQ(severity("account.login-shell:svc"), "absent");
    EXPECT_EQ(severity("account.login-shell:nobody"), "absent");
    EXPECT_EQ(severity("account.sudo-group:alice"), "medium");
    EXPECT_EQ(severity("account.sudo-group:carol"), "medium") << "a member need not exist in passwd to be reported";
    EXPECT_EQ(severity("account.sudo-group:bob"), "medium") << "wheel";
    EXPECT_EQ(severity("account.sudo-group:legacy"), "medium") << "primary group admin";
    EXPECT_EQ(severity("account.sudo-group:root"), "absent");
    for (const auto& f : findings) {
        EXPECT_EQ(f.id.substr(0, f.kind.size()), f.kind);
        EXPECT_GT(f.line, 0u) << f.id;
        EXPECT_FALSE(f.message.empty());
    }
    const Finding* bob = ids["account.empty-password:bob"];
    EXPECT_EQ(bob->path, "/etc/shadow");
    EXPECT_EQ(bob->line, 5u);
    EXPECT_EQ(ids["account.uid0:toor"]->path, "/etc/passwd");
    {
        SCOPED_TRACE("NoShadowFile");
        AccountInputs only;
        only.passwd = &passwd;
        auto f = by_id(check_accounts(only));
        EXPECT_EQ(f.count("account.missing-shadow:ghost"), 0u) << "without shadow the hashes are unknown, not missing";
        EXPECT_EQ(f.count("account.empty-password:nopw"), 1u);
        EXPECT_TRUE(check_accounts(AccountInputs {}).empty());
    }
    {
        SCOPED_TRACE("HostileNamesAreEscapedInIds");
        PasswdFile p = parse_passwd(std::string("ev\x1b[31mil\n:x:0:0::/:/bin/sh\n") + "e\x1bvil:x:0:0::/:/bin/sh\n");
        AccountInputs hostile;
        hostile.passwd = &p;
        for (const auto& f : check_accounts(hostile)) {
            for (unsigned char c : f.id + f.message)
                EXPECT_TRUE(c >= 0x20 && c < 0x7f) << f.id;
        }
    }
}

} // namespace
} // namespace bulwark::inspect
