// Read-only access to an ext2/3/4 filesystem on a BlockDevice, through libext2fs with an
// io_manager of our own: every block libext2fs reads comes from the device (so from inside a
// qcow2 image or one partition), writes fail, nothing is mounted and no privilege is needed.
//
// The filesystem is attacker-controlled. Before libext2fs sees it, the superblock is checked
// against the device: the filesystem must fit in its device and have at most 2^20 block
// groups (a group descriptor table of at most 64 MiB). Everything libext2fs reports as damaged
// (bad checksums included) is ErrorKind::Corrupt. Every operation has a limit: file reads a
// size limit, directory listings an entry limit, walks a depth and entry limit, and every
// directory scan a budget of on-disk records (so a directory of millions of empty blocks
// cannot stall a reader).
//
// Paths are absolute, inside the filesystem. Resolution never leaves it: ".." at the root stays
// at the root, and ".." is taken from the path walked so far, never from a directory's own
// ".." entry. Symbolic links in intermediate components are followed, relative to the link's
// directory or, for an absolute target, to the filesystem's root (never the host's), at most
// 40 of them per lookup. stat(), read_link() and list entries do not follow a final symlink;
// read_file() does. walk() never follows symlinks and visits each directory once.
//
// A Filesystem is not thread-safe. A journal that needs recovery is not replayed (the reader
// cannot write): info().needs_recovery says so, and recent changes may be missing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "disk/block_device.h"
#include "disk/fs_detect.h"

namespace bulwark::disk {

enum class FileType { Regular, Directory, Symlink, CharDevice, BlockDevice, Fifo, Socket, Unknown };
const char* file_type_name(FileType type);

struct FileStat {
    uint64_t inode = 0;
    FileType type = FileType::Unknown;
    uint32_t mode = 0; // as st_mode: type bits and permission bits
    uint32_t uid = 0;
    uint32_t gid = 0;
    uint64_t size = 0;
    int64_t mtime = 0; // seconds since the epoch
    uint32_t nlink = 0;
};

struct DirEntry {
    std::string name;
    uint64_t inode = 0;
};

struct FsInfo {
    FsKind kind = FsKind::Unknown;
    uint32_t block_size = 0;
    uint64_t blocks = 0;
    uint64_t inodes = 0;
    std::string label;
    std::string uuid;
    bool needs_recovery = false; // the journal holds changes that were never written back
};

struct FsLimits {
    size_t max_dir_entries = 1'000'000; // entries one list_dir may return
    uint64_t max_dir_records = 4'000'000; // on-disk records (live or empty) one directory scan may visit
    uint32_t max_symlink_hops = 40;
};

struct WalkLimits {
    uint32_t max_depth = 256;
    uint64_t max_entries = 4'000'000;
};

struct WalkEntry {
    std::string path; // "/", "/etc", "/etc/passwd"
    uint32_t depth = 0; // 0 for "/"
    FileStat stat;
};

enum class WalkAction { Continue, SkipChildren, Stop };

struct WalkSummary {
    uint64_t entries = 0; // entries visited, "/" included
    uint64_t directories = 0; // directories descended into
    uint64_t repeated_dirs = 0; // directories met again (a hard-linked directory or a loop), not re-entered
    bool stopped = false; // the callback returned Stop
};

class Filesystem {
public:
    // Opens the filesystem on device read-only. A device holding another known format is
    // refused with Unavailable ("unsupported filesystem: xfs"), one with no known signature
    // with NotFound.
    static Result<std::unique_ptr<Filesystem>> open(std::shared_ptr<BlockDevice> device, const FsLimits& limits = {});
    ~Filesystem();
    Filesystem(const Filesystem&) = delete;
    Filesystem& operator=(const Filesystem&) = delete;

    const FsInfo& info() const { return m_info; }

    // lstat(): a final symlink is not followed.
    Result<FileStat> stat(std::string_view path);
    // stat() of what the path names after following a final symlink too.
    Result<FileStat> stat_follow(std::string_view path);
    Result<FileStat> stat_inode(uint64_t inode);
    // A regular file's contents (symlinks followed); larger than max_bytes is refused.
    Result<std::string> read_file(std::string_view path, size_t max_bytes);
    Result<std::string> read_inode(uint64_t inode, size_t max_bytes);
    // A symlink's target, as stored.
    Result<std::string> read_link(std::string_view path);
    // A directory's entries without "." and "..", sorted by name (symlinks followed to reach
    // the directory). More than max_entries (capped by FsLimits) is refused.
    Result<std::vector<DirEntry>> list_dir(std::string_view path, size_t max_entries = SIZE_MAX);
    // Visits every inode reachable from "/" (pre-order, names sorted), "/" first.
    Result<WalkSummary> walk(const std::function<WalkAction(const WalkEntry&)>& visit, const WalkLimits& limits = {});

    // The device the filesystem reads.
    BlockDevice& device() { return *m_device; }

private:
    struct Impl;
    explicit Filesystem(std::unique_ptr<Impl> impl);
    std::shared_ptr<BlockDevice> m_device; // declared first: it outlives m_impl, which reads it
    std::unique_ptr<Impl> m_impl;
    FsInfo m_info;
};

} // namespace bulwark::disk
