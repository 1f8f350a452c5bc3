// Fixed-width integers from byte buffers, in either byte order, for the parsers of on-disk
// formats. Each load reads exactly the bytes it names: callers check bounds first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

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

// Appends (and stores) big-endian integers, for the writers of network formats.
inline void append_be16(std::vector<uint8_t>& out, uint16_t v)
{
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
}

inline void append_be32(std::vector<uint8_t>& out, uint32_t v)
{
    append_be16(out, static_cast<uint16_t>(v >> 16));
    append_be16(out, static_cast<uint16_t>(v));
}

inline void store_be16(void* p, uint16_t v)
{
    auto b = static_cast<uint8_t*>(p);
    b[0] = static_cast<uint8_t>(v >> 8);
    b[1] = static_cast<uint8_t>(v);
}

} // namespace bulwark
