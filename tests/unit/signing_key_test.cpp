// The host signing key: file modes, reload, refusal of readable keys, signatures.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "crypto/signing_key.h"
#include "test_util.h"

namespace bulwark {
namespace {

using test::fails_with;
using test::is_ok;
using test::TempDir;

TEST(SigningKey, CreatesKeyWithPrivateModes)
{
    {
        SCOPED_TRACE("CreatesKeyWithPrivateModes");
        TempDir home;
        std::string dir = home.file("keys");
        auto key = SigningKey::load_or_create(dir);
        ASSERT_TRUE(is_ok(key));
        EXPECT_EQ(test::file_mode(dir), 0700u);
        EXPECT_EQ(test::file_mode(dir + "/host.key"), 0600u);
        std::string data = test::read_all(dir + "/host.key");
        EXPECT_EQ(data.size(), 8u + 64u);
        EXPECT_EQ(data.substr(0, 8), "BWKEY001");
        // host.pub holds the public key as hex.
        EXPECT_EQ(test::read_all(dir + "/host.pub"), key.value().public_key_hex() + "\n");
        EXPECT_EQ(key.value().public_key().size(), 32u);
    }
    {
        SCOPED_TRACE("CreatedUnderPermissiveUmaskStillPrivate");
        TempDir home;
        mode_t old = ::umask(0);
        auto key = SigningKey::load_or_create(home.file("keys"));
        ::umask(old);
        ASSERT_TRUE(is_ok(key));
        EXPECT_EQ(test::file_mode(home.file("keys")), 0700u);
        EXPECT_EQ(test::file_mode(home.file("keys/host.key")), 0600u);
    }
}

TEST(SigningKey, ReloadGivesSameKey)
{
    TempDir home;
    auto first = SigningKey::load_or_create(home.file("keys"));
    ASSERT_TRUE(is_ok(first));
    auto second = SigningKey::load_or_create(home.file("keys"));
    ASSERT_TRUE(is_ok(second));
    EXPECT_EQ(first.value().public_key(), second.value().public_key());
    // And the reloaded secret signs for the same public key.
    std::string sig = second.value().sign("hello");
    EXPECT_TRUE(verify_signature(first.value().public_key(), "hello", sig));
}

TEST(SigningKey, UnsafeOrCorruptKeyFileRefused)
{
    {
        SCOPED_TRACE("ReadableKeyFileRefused");
        TempDir home;
        ASSERT_TRUE(is_ok(SigningKey::load_or_create(home.file("keys"))));
        for (mode_t mode : {0644, 0640, 0604, 0660, 0601}) {
            ASSERT_EQ(::chmod(home.file("keys/host.key").c_str(), mode), 0);
            auto r = SigningKey::load_or_create(home.file("keys"));
            EXPECT_TRUE(fails_with(r, ErrorKind::Denied)) << std::oct << mode;
        }
    }
    {
        SCOPED_TRACE("CorruptKeyFileRefused");
        TempDir home;
        ASSERT_TRUE(is_ok(SigningKey::load_or_create(home.file("keys"))));
        std::string path = home.file("keys/host.key");
        std::string good = test::read_all(path);
        for (const std::string& bad : {std::string(), good.substr(0, 71), good + "x", "BWKEY002" + good.substr(8)}) {
            test::write_all(path, bad);
            ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
            auto r = SigningKey::load_or_create(home.file("keys"));
            EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt)) << bad.size();
        }
    }
}

TEST(SigningKey, SignaturesVerify)
{
    {
        SCOPED_TRACE("SignatureVerifies");
        auto key = SigningKey::generate();
        std::string msg = "bulwark-audit-checkpoint:1:abc";
        std::string sig = key.sign(msg);
        ASSERT_EQ(sig.size(), 64u);
        EXPECT_TRUE(verify_signature(key.public_key(), msg, sig));
        EXPECT_TRUE(verify_signature(key.public_key(), "", key.sign("")));
    }
    {
        SCOPED_TRACE("MovedFromKeyKeepsWorkingInTarget");
        auto a = SigningKey::generate();
        std::string pub = a.public_key();
        SigningKey b = std::move(a);
        EXPECT_TRUE(verify_signature(pub, "x", b.sign("x")));
    }
}

TEST(SigningKey, TamperedOrForeignSignaturesFail)
{
    {
        SCOPED_TRACE("FlippedBytesFail");
        auto key = SigningKey::generate();
        std::string msg = "the quick brown fox";
        std::string sig = key.sign(msg);
        for (size_t i = 0; i < msg.size(); ++i) {
            std::string m = msg;
            m[i] ^= 0x01;
            EXPECT_FALSE(verify_signature(key.public_key(), m, sig)) << "message byte " << i;
        }
        for (size_t i = 0; i < sig.size(); ++i) {
            std::string s = sig;
            s[i] ^= 0x80;
            EXPECT_FALSE(verify_signature(key.public_key(), msg, s)) << "signature byte " << i;
        }
        EXPECT_FALSE(verify_signature(key.public_key(), msg + "x", sig));
        EXPECT_FALSE(verify_signature(key.public_key(), msg.substr(1), sig));
    }
    {
        SCOPED_TRACE("WrongKeyOrSizesFail");
        auto a = SigningKey::generate();
        auto b = SigningKey::generate();
        EXPECT_NE(a.public_key(), b.public_key());
        std::string sig = a.sign("m");
        EXPECT_FALSE(verify_signature(b.public_key(), "m", sig));
        EXPECT_FALSE(verify_signature(a.public_key().substr(0, 31), "m", sig));
        EXPECT_FALSE(verify_signature(a.public_key(), "m", sig.substr(0, 63)));
        EXPECT_FALSE(verify_signature(a.public_key(), "m", sig + "x"));
        EXPECT_FALSE(verify_signature("", "m", ""));
        EXPECT_FALSE(verify_signature(std::string(32, '\0'), "m", std::string(64, '\0')));
    }
}

}  // namespace
}  // namespace bulwark
