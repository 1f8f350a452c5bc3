// The host's Ed25519 signing key (libsodium). Created on first start, stored with mode 0600;
// it signs image manifests and audit checkpoints.
//
// On-disk format of <home>/keys/host.key: 8 bytes magic "BWKEY001", then the 64-byte
// libsodium secret key (seed + public key). host.pub holds the 32-byte public key as hex.
#pragma once

#include <string>

#include "base/result.h"

namespace bulwark {

class SigningKey {
public:
    // Loads the key from dir, creating it (and dir, mode 0700) when absent.
    static Result<SigningKey> load_or_create(const std::string& dir);
    static SigningKey generate();

    ~SigningKey();
    SigningKey(SigningKey&&) noexcept;
    SigningKey& operator=(SigningKey&&) noexcept;
    SigningKey(const SigningKey&) = delete;
    SigningKey& operator=(const SigningKey&) = delete;

    // A detached 64-byte signature over message.
    std::string sign(const std::string& message) const;
    const std::string& public_key() const { return m_public; }
    std::string public_key_hex() const;

private:
    SigningKey(std::string secret, std::string pub) : m_secret(std::move(secret)), m_public(std::move(pub)) {}
    std::string m_secret;  // 64 bytes; wiped on destruction
    std::string m_public;  // 32 bytes
};

// Verifies a detached signature made by the holder of public_key (32 raw bytes).
bool verify_signature(const std::string& public_key, const std::string& message, const std::string& signature);

}  // namespace bulwark
