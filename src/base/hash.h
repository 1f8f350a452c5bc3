// SHA-256 (OpenSSL EVP) and hex encoding.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/result.h"

namespace bulwark {

using Digest = std::array<uint8_t, 32>;

class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(const void* data, size_t size);
    void update(const std::string& data) { update(data.data(), data.size()); }
    Digest finish();

    static Digest of(const std::string& data);
    // Hashes a whole file (or what is left of an fd from offset 0), streaming.
    static Result<Digest> of_file(const std::string& path);
    static Result<Digest> of_fd(int fd);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

std::string to_hex(const uint8_t* data, size_t size);
std::string to_hex(const Digest& digest);
std::string to_hex(const std::string& bytes);
// The value of one hex digit (either case), or -1.
int hex_digit_value(char c);
// Parses lowercase or uppercase hex; nullopt on odd length or a non-hex character.
std::optional<std::string> from_hex(const std::string& hex);

}  // namespace bulwark
