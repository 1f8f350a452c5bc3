// SSH public keys, authorized_keys and openssh-key-v1 private keys (src/inspect/ssh_keys.h),
// checked against ssh-keygen's own fingerprints.
#include <chrono>
#include <gtest/gtest.h>

#include "base/base64.h"
#include "base/process.h"
#include "inspect/ssh_keys.h"
#include "test_util.h"

namespace bulwark::inspect {
namespace {

using namespace std::chrono_literals;

struct GeneratedKey {
    std::string public_line; // the .pub file
    std::string private_text;
    std::string fingerprint; // as ssh-keygen -l prints it
    unsigned bits = 0;
};

// Makes a key with ssh-keygen; nullopt when ssh-keygen is missing or refuses the type.
std::optional<GeneratedKey> keygen(
    const test::TempDir& dir, const std::string& name, std::vector<std::string> args, const std::string& passphrase = "")
{
    std::vector<std::string> argv = { "ssh-keygen", "-q", "-N", passphrase, "-C", name + "@test", "-f", dir.file(name) };
    argv.insert(argv.end(), args.begin(), args.end());
    auto made = run_command(argv, 60s);
    if (made.is_error() || !made.value().status.success())
        return std::nullopt;
    auto listed = run_command({ "ssh-keygen", "-l", "-E", "sha256", "-f", dir.file(name + ".pub") }, 30s);
    if (listed.is_error() || !listed.value().status.success())
        return std::nullopt;
    // "256 SHA256:... comment (ED25519)"
    std::string out = listed.value().output;
    GeneratedKey k;
    k.bits = static_cast<unsigned>(std::stoul(out.substr(0, out.find(' '))));
    size_t start = out.find("SHA256:");
    k.fingerprint = out.substr(start, out.find(' ', start) - start);
    k.public_line = test::read_all(dir.file(name + ".pub"));
    k.private_text = test::read_all(dir.file(name));
    return k;
}

TEST(InspectSshKeys, FingerprintsMatchSshKeygen)
{
    test::TempDir dir;
    struct Type {
        std::string name;
        std::vector<std::string> args;
        std::string key_type;
    };
    const Type types[] = {
        { "ed", { "-t", "ed25519" }, "ssh-ed25519" },
        { "ec256", { "-t", "ecdsa", "-b", "256" }, "ecdsa-sha2-nistp256" },
        { "ec521", { "-t", "ecdsa", "-b", "521" }, "ecdsa-sha2-nistp521" },
        { "rsa", { "-t", "rsa", "-b", "3072" }, "ssh-rsa" },
    };
    size_t made = 0;
    for (const auto& t : types) {
        SCOPED_TRACE(t.name);
        auto k = keygen(dir, t.name, t.args);
        if (!k)
            continue;
        ++made;
        auto pub = parse_public_key_file(k->public_line);
        ASSERT_TRUE(test::is_ok(pub));
        EXPECT_EQ(pub.value().type, t.key_type);
        EXPECT_EQ(pub.value().fingerprint, k->fingerprint);
        EXPECT_EQ(pub.value().bits, k->bits);
        EXPECT_EQ(pub.value().comment, t.name + "@test");
        EXPECT_FALSE(pub.value().certificate);

        auto priv = parse_openssh_private_key(k->private_text);
        ASSERT_TRUE(test::is_ok(priv));
        EXPECT_FALSE(priv.value().encrypted());
        ASSERT_EQ(priv.value().public_keys.size(), 1u);
        EXPECT_EQ(priv.value().public_keys[0].fingerprint, k->fingerprint);
    }
    if (made == 0)
        GTEST_SKIP() << "ssh-keygen is not usable here";
    {
        SCOPED_TRACE("EncryptedPrivateKey");
        auto k = keygen(dir, "enc", { "-t", "ed25519" }, "correct horse battery staple");
        ASSERT_TRUE(k.has_value());
        auto priv = parse_openssh_private_key("leading junk\n" + k->private_text);
        ASSERT_TRUE(test::is_ok(priv));
        EXPECT_TRUE(priv.value().encrypted());
        EXPECT_EQ(priv.value().cipher, "aes256-ctr");
        EXPECT_EQ(priv.value().kdf, "bcrypt");
        EXPECT_EQ(priv.value().public_keys[0].fingerprint, k->fingerprint);
    }
    {
        SCOPED_TRACE("Certificate");
        auto ca = keygen(dir, "ca", { "-t", "ed25519" });
        auto user = keygen(dir, "user", { "-t", "ed25519" });
        ASSERT_TRUE(ca && user);
        auto signed_
            = run_command({ "ssh-keygen", "-q", "-s", dir.file("ca"), "-I", "id", "-n", "alice", dir.file("user.pub") }, 30s);
        ASSERT_TRUE(test::is_ok(signed_));
        auto cert = parse_public_key_file(test::read_all(dir.file("user-cert.pub")));
        ASSERT_TRUE(test::is_ok(cert));
        EXPECT_TRUE(cert.value().certificate);
        EXPECT_EQ(cert.value().type, "ssh-ed25519-cert-v01@openssh.com");
        EXPECT_EQ(cert.value().bits, 256u);
    }
}

TEST(InspectSshKeys, AuthorizedKeys)
{
    test::TempDir dir;
    auto ed = keygen(dir, "ed", { "-t", "ed25519" });
    auto rsa = keygen(dir, "rsa", { "-t", "rsa", "-b", "1024" });
    if (!ed || !rsa)
        GTEST_SKIP() << "ssh-keygen is not usable here";
    std::string ed_line = ed->public_line.substr(0, ed->public_line.find('\n'));
    std::string rsa_line = rsa->public_line.substr(0, rsa->public_line.find('\n'));
    std::string ed_blob = ed_line.substr(12, ed_line.find(' ', 12) - 12);
    std::string text = "# managed by hand\n"
                       "\n"
        + ed_line + "\n" + "command=\"/usr/bin/backup --run \\\"now\\\"\",no-pty,from=\"10.0.0.1,10.0.0.2\" " + rsa_line + "\n"
        + "restrict,port-forwarding " + ed_line + "\n" + "ssh-ed25519 !!notbase64!! broken\n" + "ssh-rsa " + ed_blob
        + " type says rsa, blob says ed25519\n" + "no-pty,command=\"unterminated " + ed_line + "\n" + "ssh-ed25519\n"
        + "ssh-ed25519 " + base64_encode(std::string("\0\0\0\x0bssh-ed25519\0\0\0\x20", 19)) + " truncated\n" + "ssh-ed25519 "
        + base64_encode(std::string("\xff\xff\xff\xff", 4)) + " hostile length\n";
    AuthorizedKeys keys = parse_authorized_keys(text);
    ASSERT_EQ(keys.keys.size(), 3u);
    EXPECT_EQ(keys.keys[0].key.fingerprint, ed->fingerprint);
    EXPECT_EQ(keys.keys[0].line, 3u);
    EXPECT_TRUE(keys.keys[0].options.empty());
    EXPECT_EQ(keys.keys[1].key.fingerprint, rsa->fingerprint);
    EXPECT_EQ(keys.keys[1].key.bits, 1024u);
    EXPECT_EQ(keys.keys[1].options,
        (std::vector<std::pair<std::string, std::string>> {
            { "command", "/usr/bin/backup --run \"now\"" }, { "no-pty", "" }, { "from", "10.0.0.1,10.0.0.2" } }));
    EXPECT_EQ(keys.keys[2].options.size(), 2u);
    std::vector<size_t> lines;
    for (const auto& w : keys.diagnostics.warnings)
        lines.push_back(w.line);
    EXPECT_EQ(lines, (std::vector<size_t> { 6, 7, 8, 9, 10, 11 }));

    auto findings = check_authorized_keys(keys, "/root/.ssh/authorized_keys", "root");
    ASSERT_EQ(findings.size(), 3u) << "the key on line 5 repeats the one on line 3";
    EXPECT_EQ(findings[0].id, "ssh.authorized-key:root:" + ed->fingerprint);
    EXPECT_EQ(findings[0].severity, Severity::Info);
    EXPECT_EQ(findings[2].id, "ssh.weak-key:root:" + rsa->fingerprint);
    EXPECT_EQ(findings[2].severity, Severity::Medium);
    EXPECT_EQ(findings[2].line, 4u);
    EXPECT_NE(findings[1].message.find("command="), std::string::npos);
}

TEST(InspectSshKeys, HandMadeBlobs)
{
    auto str = [](const std::string& s) {
        std::string out;
        uint32_t n = static_cast<uint32_t>(s.size());
        for (int i = 3; i >= 0; --i)
            out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
        return out + s;
    };
    {
        SCOPED_TRACE("Dsa");
        std::string p(129, '\x7f');
        p[0] = 0; // a positive mpint with a leading zero byte
        std::string blob = str("ssh-dss") + str(p) + str("q") + str("g") + str("y");
        auto key = parse_public_key_blob(blob);
        ASSERT_TRUE(test::is_ok(key));
        EXPECT_EQ(key.value().bits, 1023u);
        AuthorizedKeys keys = parse_authorized_keys("ssh-dss " + base64_encode(blob) + "\n");
        ASSERT_EQ(keys.keys.size(), 1u);
        auto f = check_authorized_keys(keys, "/home/a/.ssh/authorized_keys", "a");
        ASSERT_EQ(f.size(), 2u);
        EXPECT_EQ(f[1].kind, "ssh.weak-key");
    }
    {
        SCOPED_TRACE("FingerprintOfKnownBlob");
        // ssh_fingerprint is SHA-256 over the blob, unpadded base64.
        EXPECT_EQ(ssh_fingerprint(""), "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
    }
    {
        SCOPED_TRACE("PrivateKeyEdges");
        auto armour = [](const std::string& raw) {
            return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + base64_encode(raw) + "\n-----END OPENSSH PRIVATE KEY-----\n";
        };
        std::string magic("openssh-key-v1\0", 15);
        std::string ed_blob = str("ssh-ed25519") + str(std::string(32, 'k'));
        auto ok = parse_openssh_private_key(
            armour(magic + str("none") + str("none") + str("") + std::string("\0\0\0\1", 4) + str(ed_blob) + str("private")));
        ASSERT_TRUE(test::is_ok(ok));
        EXPECT_EQ(ok.value().public_keys[0].fingerprint, ssh_fingerprint(ed_blob));
        const std::string bad[] = {
            "no armour at all",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n",
            armour("wrong magic"),
            armour(magic + str("none")),
            armour(magic + str("none") + str("none") + str("") + std::string("\0\0\0\0", 4)),
            armour(magic + str("none") + str("none") + str("") + std::string("\xff\xff\xff\xff", 4)),
            armour(magic + str("none") + str("none") + str("") + std::string("\0\0\0\1", 4) + std::string("\x7f\xff\xff\xff", 4)),
            armour(magic + str("none") + str("none") + str("") + std::string("\0\0\0\1", 4) + str("not a key")),
            "-----BEGIN OPENSSH PRIVATE KEY-----\n!!!!\n-----END OPENSSH PRIVATE KEY-----\n",
        };
        for (const auto& b : bad)
            EXPECT_TRUE(test::fails_with(parse_openssh_private_key(b), ErrorKind::Corrupt)) << b.substr(0, 60);
    }
    {
        SCOPED_TRACE("PublicKeyLineErrors");
        EXPECT_TRUE(parse_public_key_line("").is_error());
        EXPECT_TRUE(parse_public_key_line("ssh-ed25519").is_error());
        EXPECT_TRUE(parse_public_key_line("x-unknown AAAA").is_error());
        EXPECT_TRUE(parse_public_key_line("ssh-rsa " + std::string(40000, 'A')).is_error());
        EXPECT_TRUE(parse_public_key_file("# only comments\n\n").is_error());
    }
}

} // namespace
} // namespace bulwark::inspect
