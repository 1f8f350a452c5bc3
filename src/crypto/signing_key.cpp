#include "crypto/signing_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>

#include "base/hash.h"
#include "base/system.h"

namespace bulwark {

static constexpr const char k_magic[] = "BWKEY001";
static constexpr size_t k_magic_len = 8;

static void ensure_sodium()
{
    static bool ok = sodium_init() >= 0;
    (void)ok;
}

SigningKey SigningKey::generate()
{
    ensure_sodium();
    std::string pub(crypto_sign_PUBLICKEYBYTES, '\0');
    std::string secret(crypto_sign_SECRETKEYBYTES, '\0');
    crypto_sign_keypair(reinterpret_cast<unsigned char*>(pub.data()), reinterpret_cast<unsigned char*>(secret.data()));
    return SigningKey(std::move(secret), std::move(pub));
}

Result<SigningKey> SigningKey::load_or_create(const std::string& dir)
{
    ensure_sodium();
    TRY(sys::mkdirs(dir, 0700));
    std::string key_path = sys::join(dir, "host.key");
    if (sys::exists(key_path)) {
        auto st = TRY(sys::stat(key_path));
        if ((st.st_mode & 077) != 0)
        {
            char mode[8];
            std::snprintf(mode, sizeof mode, "%03o", st.st_mode & 0777);
            return Error(ErrorKind::Denied, key_path + " is accessible to others (mode " + mode + "); fix it with chmod 600 or remove it");
        }
        std::string data = TRY(sys::read_file(key_path, 4096));
        if (data.size() != k_magic_len + crypto_sign_SECRETKEYBYTES || data.compare(0, k_magic_len, k_magic) != 0)
            return Error(ErrorKind::Corrupt, key_path + " is not a Bulwark host key");
        std::string secret = data.substr(k_magic_len);
        sodium_memzero(data.data(), data.size());
        std::string pub(crypto_sign_PUBLICKEYBYTES, '\0');
        crypto_sign_ed25519_sk_to_pk(reinterpret_cast<unsigned char*>(pub.data()),
            reinterpret_cast<const unsigned char*>(secret.data()));
        return SigningKey(std::move(secret), std::move(pub));
    }
    SigningKey key = generate();
    std::string data = std::string(k_magic, k_magic_len) + key.m_secret;
    auto written = sys::write_file_atomic(key_path, data, 0600);
    sodium_memzero(data.data(), data.size());
    TRY(std::move(written));
    TRY(sys::write_file_atomic(sys::join(dir, "host.pub"), key.public_key_hex() + "\n", 0644));
    return key;
}

SigningKey::~SigningKey()
{
    if (!m_secret.empty())
        sodium_memzero(m_secret.data(), m_secret.size());
}

SigningKey::SigningKey(SigningKey&& other) noexcept
    : m_secret(std::move(other.m_secret)), m_public(std::move(other.m_public))
{
    other.m_secret.clear();
}

SigningKey& SigningKey::operator=(SigningKey&& other) noexcept
{
    if (this != &other) {
        if (!m_secret.empty())
            sodium_memzero(m_secret.data(), m_secret.size());
        m_secret = std::move(other.m_secret);
        m_public = std::move(other.m_public);
        other.m_secret.clear();
    }
    return *this;
}

std::string SigningKey::sign(const std::string& message) const
{
    std::string sig(crypto_sign_BYTES, '\0');
    crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
        reinterpret_cast<const unsigned char*>(message.data()), message.size(),
        reinterpret_cast<const unsigned char*>(m_secret.data()));
    return sig;
}

std::string SigningKey::public_key_hex() const { return to_hex(m_public); }

bool verify_signature(const std::string& public_key, const std::string& message, const std::string& signature)
{
    ensure_sodium();
    if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES)
        return false;
    return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
               reinterpret_cast<const unsigned char*>(message.data()), message.size(),
               reinterpret_cast<const unsigned char*>(public_key.data()))
        == 0;
}

}  // namespace bulwark
