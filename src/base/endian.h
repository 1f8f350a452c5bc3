// Fixed-width integers from byte buffers, in either byte order, for the parsers of on-disk
// formats. Each load reads exactly the bytes it names: callers check bounds first.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bulwark {

inline uint16_t load_be16(const void* p)
{
    auto b = static_cast<const uint8_t*>(p);
    return static_cast<uint16_t>((b[0] << 8) | b[1]);
}

inline uint32_t load_be32(const void* p)
{
    auto b = static_cast<const uint8_t*>(p);
    return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
}

inline uint64_t load_be64(const void* p)
{
    auto b = static_cast<const uint8_t*>(p);
    return (uint64_t(load_be32(b)) << 32) | load_be32(b + 4);
}

inline uint16_t load_le16(const void* p)
{
    auto b = static_cast<const uint8_t*>(p);
    return static_cast<uint16_t>(b[0] | (b[1] << 8));
}

inline uint32_t load_le32(const void* p)
{
    auto b = static_cast<const uint8_t*>(p);
    return uint32_t(b[0]) | (uint32_t(b[1]) << 8) | (uint32_t(b[2]) << 16) | (uint32_t(b[3]) << 24);
}

inline uint64_t load_le64(const void* p)
{
    auto b = static_cast<const uint8_t*>(p);
    return uint64_t(load_le32(b)) | (uint64_t(load_le32(b + 4)) << 32);
}

} // namespace bulwark
