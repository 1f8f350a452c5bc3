#include "base/hash.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/system.h"

namespace bulwark {

struct Sha256::Impl {
    EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : m_impl(std::make_unique<Impl>())
{
    m_impl->ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(m_impl->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(m_impl->ctx); }

void Sha256::update(const void* data, size_t size) { EVP_DigestUpdate(m_impl->ctx, data, size); }

Digest Sha256::finish()
{
    Digest out {};
    unsigned len = 0;
    EVP_DigestFinal_ex(m_impl->ctx, out.data(), &len);
    return out;
}

Digest Sha256::of(const std::string& data)
{
    Sha256 h;
    h.update(data);
    return h.finish();
}

Result<Digest> Sha256::of_fd(int fd)
{
    Sha256 h;
    std::vector<char> buf(1 << 20);
    off_t offset = 0;
    for (;;) {
        ssize_t n = ::pread(fd, buf.data(), buf.size(), offset);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return Error::from_errno("read", errno);
        }
        if (n == 0)
            break;
        h.update(buf.data(), static_cast<size_t>(n));
        offset += n;
    }
    return h.finish();
}

Result<Digest> Sha256::of_file(const std::string& path)
{
    auto fd = TRY(sys::open(path, O_RDONLY));
    return TRY_CTX(of_fd(fd.get()), path);
}

std::string to_hex(const uint8_t* data, size_t size)
{
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (size_t i = 0; i < size; ++i) {
        out.push_back(digits[data[i] >> 4]);
        out.push_back(digits[data[i] & 0xf]);
    }
    return out;
}

std::string to_hex(const Digest& digest) { return to_hex(digest.data(), digest.size()); }

std::string to_hex(const std::string& bytes)
{
    return to_hex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

int hex_digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

std::optional<std::string> from_hex(const std::string& hex)
{
    if (hex.size() % 2 != 0)
        return std::nullopt;
    std::string out;
    out.reserve(hex.size() / 2);
    for (size_t i = 0; i < hex.size(); i += 2) {
        int hi = hex_digit_value(hex[i]);
        int lo = hex_digit_value(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out.push_back(static_cast<char>((hi << 4) | lo));
    }
    return out;
}

}  // namespace bulwark
