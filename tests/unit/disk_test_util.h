// Helpers for the disk reader tests (disk_*_test.cpp): real images made at test time by the
// real tools (qemu-img, qemu-io, mkfs.ext4, sfdisk, debugfs), without root and without
// mounting anything, plus byte-patching helpers for the hostile variants.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <gtest/gtest.h>
#include <string>
#include <vector>

#include "base/process.h"
#include "disk/block_device.h"
#include "test_util.h"

namespace bulwark::test {

// Runs a tool (argv, never a shell string) and fails the test unless it exits 0.
inline std::string run_tool(const std::vector<std::string>& argv, std::chrono::seconds timeout = std::chrono::seconds(60))
{
    auto r = run_command(argv, timeout);
    EXPECT_TRUE(r.is_ok()) << argv[0] << ": " << (r.is_ok() ? "" : r.error().message());
    if (r.is_error())
        return {};
    EXPECT_TRUE(r.value().status.success()) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "")
                                            << " failed: " << r.value().output;
    return r.value().output;
}

// Runs a tool with its standard input read from a file (sfdisk takes its script there);
// run_command gives children /dev/null as stdin. argv only: posix_spawnp, no shell.
inline std::string run_tool_with_stdin(const std::vector<std::string>& argv, const std::string& input, const TempDir& dir)
{
    std::string in_path = dir.file(".stdin");
    std::string out_path = dir.file(".stdout");
    write_all(in_path, input);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : minimal_env())
        env_strings.push_back(k + "=" + v);
    std::vector<char*> env;
    for (auto& e : env_strings)
        env.push_back(e.data());
    env.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data());
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0) << "cannot start " << argv[0];
    if (rc != 0)
        return {};
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) { }
    std::string output = read_all(out_path);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << argv[0] << " failed: " << output;
    return output;
}

inline void put_le16(std::string& s, size_t off, uint16_t v)
{
    s[off] = static_cast<char>(v & 0xff);
    s[off + 1] = static_cast<char>(v >> 8);
}

inline void put_le32(std::string& s, size_t off, uint32_t v)
{
    for (size_t i = 0; i < 4; ++i, v >>= 8)
        s[off + i] = static_cast<char>(v & 0xff);
}

inline void put_le64(std::string& s, size_t off, uint64_t v)
{
    for (size_t i = 0; i < 8; ++i, v >>= 8)
        s[off + i] = static_cast<char>(v & 0xff);
}

inline void put_be32_at(std::string& s, size_t off, uint32_t v)
{
    for (int i = 3; i >= 0; --i, v >>= 8)
        s[off + static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
}

inline void put_be64_at(std::string& s, size_t off, uint64_t v)
{
    put_be32_at(s, off, static_cast<uint32_t>(v >> 32));
    put_be32_at(s, off + 4, static_cast<uint32_t>(v));
}

inline uint64_t be64_at(const std::string& s, size_t off)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i)
        v = (v << 8) | static_cast<uint8_t>(s[off + i]);
    return v;
}

inline uint32_t be32_at(const std::string& s, size_t off)
{
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i)
        v = (v << 8) | static_cast<uint8_t>(s[off + i]);
    return v;
}

inline uint32_t le32_at(const std::string& s, size_t off)
{
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i)
        v |= static_cast<uint32_t>(static_cast<uint8_t>(s[off + i])) << (8 * i);
    return v;
}

inline uint64_t le64_at(const std::string& s, size_t off)
{
    return le32_at(s, off) | (static_cast<uint64_t>(le32_at(s, off + 4)) << 32);
}

// Deterministic bytes that do not compress to nothing: a splitmix64 stream.
inline std::string pseudo_random_bytes(size_t n, uint64_t seed)
{
    std::string out(n, '\0');
    uint64_t state = seed;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        for (size_t j = 0; j < 8 && i + j < n; ++j)
            out[i + j] = static_cast<char>(z >> (8 * j));
    }
    return out;
}

// Writes data into path at offset (the file grows as needed).
inline void write_at(const std::string& path, uint64_t offset, const std::string& data)
{
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset)), static_cast<ssize_t>(data.size()));
    ::close(fd);
}

// Everything a device holds, read in pieces of `chunk` bytes (an odd size crosses clusters).
inline Result<std::string> read_device(disk::BlockDevice& device, size_t chunk = 100003)
{
    std::string out(device.size(), '\0');
    for (uint64_t off = 0; off < device.size(); off += chunk) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, device.size() - off));
        TRY(device.read_at(off, std::span(reinterpret_cast<uint8_t*>(out.data() + off), n)));
    }
    return out;
}

} // namespace bulwark::test
