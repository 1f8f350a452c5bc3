#include "disk/filesystem.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ext2fs/ext2fs.h>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "base/endian.h"

namespace bulwark::disk {

namespace {

constexpr uint64_t k_superblock_offset = 1024;
constexpr uint32_t k_max_log_block_size = 6; // 64 KiB blocks
constexpr uint64_t k_max_groups = 1 << 20;
constexpr size_t k_max_path = 4096;
constexpr uint64_t k_max_symlink_target = 4095;
constexpr char k_channel_name[] = "bulwark-disk";
// Single-block reads are cached, direct-mapped: path lookups scan the same directory blocks
// again and again. At most 256 blocks (16 MiB with the largest, 64 KiB, blocks).
constexpr size_t k_block_cache_slots = 256;

// ---- the io_manager: libext2fs reads blocks through a BlockDevice ----

// One per open filesystem, owned by Filesystem::Impl (not by libext2fs, so that the error of
// a failed read outlives a failed ext2fs_open2).
struct Channel {
    struct Slot {
        uint64_t block = UINT64_MAX;
        std::vector<uint8_t> data;
    };
    io_manager manager = nullptr;
    BlockDevice* device = nullptr;
    std::optional<Error> error; // why the last failed read failed
    struct_io_stats stats {};
    std::vector<Slot> cache; // k_block_cache_slots once used; emptied when the block size changes
};

// ext2fs_open2 passes only a name to the io_manager's open: the channel being opened is
// handed over here, on the opening thread.
thread_local Channel* t_opening = nullptr;

errcode_t channel_open(const char* name, int flags, io_channel* out)
{
    if (!name || std::strcmp(name, k_channel_name) != 0 || !t_opening)
        return EXT2_ET_BAD_DEVICE_NAME;
    if (flags & IO_FLAG_RW)
        return EXT2_ET_RO_FILSYS;
    io_channel channel = nullptr;
    errcode_t err = ext2fs_get_memzero(sizeof(struct struct_io_channel), &channel);
    if (err)
        return err;
    err = ext2fs_get_mem(sizeof k_channel_name, &channel->name);
    if (err) {
        ext2fs_free_mem(&channel);
        return err;
    }
    std::memcpy(channel->name, k_channel_name, sizeof k_channel_name);
    channel->magic = EXT2_ET_MAGIC_IO_CHANNEL;
    channel->manager = t_opening->manager;
    channel->block_size = 1024;
    channel->refcount = 1;
    channel->private_data = t_opening;
    t_opening->stats.num_fields = 2;
    *out = channel;
    return 0;
}

errcode_t channel_close(io_channel channel)
{
    if (--channel->refcount > 0)
        return 0;
    ext2fs_free_mem(&channel->name);
    ext2fs_free_mem(&channel);
    return 0;
}

errcode_t channel_set_blksize(io_channel channel, int block_size)
{
    if (block_size < 512 || block_size > (64 << 10) || (block_size & (block_size - 1)) != 0)
        return EXT2_ET_INVALID_ARGUMENT;
    if (channel->block_size != block_size)
        static_cast<Channel*>(channel->private_data)->cache.clear();
    channel->block_size = block_size;
    return 0;
}

errcode_t channel_read_blk64(io_channel channel, unsigned long long block, int count, void* data)
{
    auto* c = static_cast<Channel*>(channel->private_data);
    uint64_t block_size = static_cast<uint64_t>(channel->block_size);
    // A negative count is a byte count (libext2fs's convention).
    uint64_t bytes = count < 0 ? static_cast<uint64_t>(-static_cast<int64_t>(count)) : count * block_size;
    if (block > UINT64_MAX / block_size) {
        c->error = Error(ErrorKind::Corrupt, "the filesystem refers to block " + std::to_string(block) + ", past any disk");
        return EXT2_ET_SHORT_READ;
    }
    Channel::Slot* slot = nullptr;
    if (count == 1) {
        if (c->cache.empty())
            c->cache.resize(k_block_cache_slots);
        slot = &c->cache[block % k_block_cache_slots];
        if (slot->block == block && slot->data.size() == bytes) {
            std::memcpy(data, slot->data.data(), bytes);
            return 0;
        }
    }
    auto read = c->device->read_at(block * block_size, std::span(static_cast<uint8_t*>(data), bytes));
    if (read.is_error()) {
        if (!c->error)
            c->error = read.release_error();
        std::memset(data, 0, bytes);
        return EXT2_ET_SHORT_READ;
    }
    c->stats.bytes_read += bytes;
    if (slot) {
        slot->block = block;
        slot->data.assign(static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + bytes);
    }
    return 0;
}

errcode_t channel_read_blk(io_channel channel, unsigned long block, int count, void* data)
{
    return channel_read_blk64(channel, block, count, data);
}

errcode_t channel_write_blk(io_channel, unsigned long, int, const void*)
{
    return EXT2_ET_RO_FILSYS;
}
errcode_t channel_write_blk64(io_channel, unsigned long long, int, const void*)
{
    return EXT2_ET_RO_FILSYS;
}
errcode_t channel_write_byte(io_channel, unsigned long, int, const void*)
{
    return EXT2_ET_RO_FILSYS;
}
errcode_t channel_flush(io_channel)
{
    return 0;
}
errcode_t channel_set_option(io_channel, const char*, const char*)
{
    return EXT2_ET_INVALID_ARGUMENT;
}
errcode_t channel_discard(io_channel, unsigned long long, unsigned long long)
{
    return EXT2_ET_RO_FILSYS;
}
errcode_t channel_zeroout(io_channel, unsigned long long, unsigned long long)
{
    return EXT2_ET_RO_FILSYS;
}

errcode_t channel_get_stats(io_channel channel, io_stats* stats)
{
    if (stats)
        *stats = &static_cast<Channel*>(channel->private_data)->stats;
    return 0;
}

struct struct_io_manager g_io_manager = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "Bulwark block device I/O manager (read-only)",
    .open = channel_open,
    .close = channel_close,
    .set_blksize = channel_set_blksize,
    .read_blk = channel_read_blk,
    .write_blk = channel_write_blk,
    .flush = channel_flush,
    .write_byte = channel_write_byte,
    .set_option = channel_set_option,
    .get_stats = channel_get_stats,
    .read_blk64 = channel_read_blk64,
    .write_blk64 = channel_write_blk64,
    .discard = channel_discard,
    .cache_readahead = nullptr,
    .zeroout = channel_zeroout,
    .reserved = {},
};

FileType file_type_of(uint32_t mode)
{
    switch (mode & LINUX_S_IFMT) {
    case LINUX_S_IFREG:
        return FileType::Regular;
    case LINUX_S_IFDIR:
        return FileType::Directory;
    case LINUX_S_IFLNK:
        return FileType::Symlink;
    case LINUX_S_IFCHR:
        return FileType::CharDevice;
    case LINUX_S_IFBLK:
        return FileType::BlockDevice;
    case LINUX_S_IFIFO:
        return FileType::Fifo;
    case LINUX_S_IFSOCK:
        return FileType::Socket;
    default:
        return FileType::Unknown;
    }
}

// Checks the superblock against the device before libext2fs allocates anything from it.
VoidResult check_superblock(BlockDevice& device)
{
    uint8_t sb[1024];
    TRY(device.read_at(k_superblock_offset, sb));
    auto corrupt = [&](const std::string& why) {
        return Error(ErrorKind::Corrupt, "the ext filesystem on " + device.describe() + " " + why);
    };
    uint32_t log_block_size = load_le32(sb + 24);
    if (log_block_size > k_max_log_block_size)
        return corrupt("has an invalid block size (1024 << " + std::to_string(log_block_size) + ")");
    uint64_t block_size = uint64_t(1024) << log_block_size;
    uint64_t blocks = load_le32(sb + 4);
    uint32_t incompat = load_le32(sb + 96);
    if (incompat & EXT4_FEATURE_INCOMPAT_64BIT)
        blocks |= uint64_t(load_le32(sb + 0x150)) << 32;
    uint64_t first_data_block = load_le32(sb + 20);
    uint64_t blocks_per_group = load_le32(sb + 32);
    uint64_t inodes_per_group = load_le32(sb + 40);
    if (blocks == 0 || first_data_block >= blocks || blocks_per_group == 0 || inodes_per_group == 0)
        return corrupt("has an invalid geometry in its superblock");
    if (blocks > device.size() / block_size)
        return corrupt("claims " + std::to_string(blocks) + " blocks of " + std::to_string(block_size)
            + " bytes, more than its device holds (" + std::to_string(device.size()) + " bytes)");
    uint64_t groups = (blocks - first_data_block + blocks_per_group - 1) / blocks_per_group;
    if (groups > k_max_groups)
        return corrupt("has more than " + std::to_string(k_max_groups) + " block groups");
    return {};
}

std::string format_uuid(const uint8_t* u)
{
    char buf[40];
    (void)std::snprintf(buf, sizeof buf, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
        u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    return buf;
}

std::vector<std::string> split_path(std::string_view path)
{
    std::vector<std::string> parts;
    size_t i = 0;
    while (i < path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string_view::npos)
            j = path.size();
        if (j > i)
            parts.emplace_back(path.substr(i, j - i));
        i = j + 1;
    }
    return parts;
}

} // namespace

const char* file_type_name(FileType type)
{
    switch (type) {
    case FileType::Regular:
        return "file";
    case FileType::Directory:
        return "directory";
    case FileType::Symlink:
        return "symlink";
    case FileType::CharDevice:
        return "char-device";
    case FileType::BlockDevice:
        return "block-device";
    case FileType::Fifo:
        return "fifo";
    case FileType::Socket:
        return "socket";
    case FileType::Unknown:
        break;
    }
    return "unknown";
}

struct Filesystem::Impl {
    Channel channel;
    ext2_filsys fs = nullptr;
    FsLimits limits;

    ~Impl()
    {
        if (fs)
            ext2fs_free(fs); // read-only: nothing to flush; closes the channel
    }

    // A libext2fs failure as an Error. A failed device read says best what went wrong.
    Error fail(errcode_t code, const std::string& what)
    {
        if (channel.error) {
            Error e = channel.error->with_context(what);
            channel.error.reset();
            return e;
        }
        ErrorKind kind = ErrorKind::Corrupt;
        if (code == EXT2_ET_FILE_NOT_FOUND || code == ENOENT)
            kind = ErrorKind::NotFound;
        else if (code == EXT2_ET_NO_MEMORY || code == ENOMEM)
            kind = ErrorKind::Io;
        else if (code == EXT2_ET_UNSUPP_FEATURE || code == EXT2_ET_RO_UNSUPP_FEATURE)
            kind = ErrorKind::Unavailable;
        return Error(kind, what + ": " + error_message(code));
    }

    Result<ext2_inode_large> read_inode(uint64_t ino)
    {
        if (ino == 0 || ino > fs->super->s_inodes_count)
            return Error(ErrorKind::Corrupt, "inode " + std::to_string(ino) + " does not exist in this filesystem");
        ext2_inode_large inode {};
        errcode_t err
            = ext2fs_read_inode_full(fs, static_cast<ext2_ino_t>(ino), reinterpret_cast<ext2_inode*>(&inode), sizeof inode);
        if (err)
            return fail(err, "cannot read inode " + std::to_string(ino));
        return inode;
    }

    static FileStat stat_of(uint64_t ino, const ext2_inode_large& inode)
    {
        FileStat st;
        st.inode = ino;
        st.mode = inode.i_mode;
        st.type = file_type_of(inode.i_mode);
        st.uid = inode_uid(inode);
        st.gid = inode_gid(inode);
        st.size = EXT2_I_SIZE(&inode);
        st.nlink = inode.i_links_count;
        st.mtime = static_cast<int32_t>(inode.i_mtime);
        // Large inodes carry two more bits of seconds (dates past 2038).
        if (inode.i_extra_isize >= offsetof(ext2_inode_large, i_mtime_extra) + 4 - EXT2_GOOD_OLD_INODE_SIZE)
            st.mtime += static_cast<int64_t>(inode.i_mtime_extra & EXT4_EPOCH_MASK) << 32;
        return st;
    }

    // Calls fn(name, inode) for each live entry of directory ino but "." and "..", until fn
    // returns false. Every on-disk record, live or empty, counts against the scan budget.
    template <typename Fn> VoidResult for_each_entry(uint64_t ino, Fn&& fn)
    {
        struct State {
            Fn* fn;
            uint64_t records = 0;
            uint64_t max_records = 0;
            std::optional<Error> error;
        } state { &fn, 0, limits.max_dir_records, std::nullopt };
        auto callback = [](ext2_ino_t, int, ext2_dir_entry* dirent, int, int, char*, void* priv) -> int {
            auto* s = static_cast<State*>(priv);
            if (++s->records > s->max_records) {
                s->error = Error(ErrorKind::InvalidArgument,
                    "the directory has more than " + std::to_string(s->max_records) + " on-disk records (the scan limit)");
                return DIRENT_ABORT;
            }
            if (dirent->inode == 0)
                return 0;
            std::string_view name(dirent->name, static_cast<size_t>(ext2fs_dirent_name_len(dirent)));
            if (name == "." || name == "..")
                return 0;
            if (name.empty() || name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
                s->error = Error(ErrorKind::Corrupt, "the directory has an entry with an invalid name");
                return DIRENT_ABORT;
            }
            auto result = (*s->fn)(name, static_cast<uint64_t>(dirent->inode));
            if (result.is_error()) {
                s->error = result.release_error();
                return DIRENT_ABORT;
            }
            return result.value() ? 0 : DIRENT_ABORT;
        };
        channel.error.reset();
        errcode_t err
            = ext2fs_dir_iterate2(fs, static_cast<ext2_ino_t>(ino), DIRENT_FLAG_INCLUDE_EMPTY, nullptr, callback, &state);
        std::string what = "cannot read directory inode " + std::to_string(ino);
        if (state.error)
            return state.error->with_context(what);
        if (err)
            return fail(err, what);
        return {};
    }

    Result<uint64_t> lookup(uint64_t dir, std::string_view name)
    {
        uint64_t found = 0;
        TRY(for_each_entry(dir, [&](std::string_view entry, uint64_t ino) -> Result<bool> {
            if (entry != name)
                return true;
            found = ino;
            return false;
        }));
        if (!found)
            return Error(ErrorKind::NotFound, "no such file or directory");
        return found;
    }

    Result<std::string> read_data(uint64_t ino, ext2_inode_large& inode, uint64_t size)
    {
        ext2_file_t file = nullptr;
        channel.error.reset();
        errcode_t err = ext2fs_file_open2(fs, static_cast<ext2_ino_t>(ino), reinterpret_cast<ext2_inode*>(&inode), 0, &file);
        if (err)
            return fail(err, "cannot open inode " + std::to_string(ino));
        std::string out(size, '\0');
        uint64_t done = 0;
        while (done < size) {
            unsigned int got = 0;
            auto chunk = static_cast<unsigned int>(std::min<uint64_t>(size - done, 1 << 20));
            err = ext2fs_file_read(file, out.data() + done, chunk, &got);
            if (err || got == 0)
                break;
            done += got;
        }
        ext2fs_file_close(file);
        if (err)
            return fail(err, "cannot read inode " + std::to_string(ino));
        if (done != size)
            return Error(ErrorKind::Corrupt, "inode " + std::to_string(ino) + " ended before its size");
        return out;
    }

    Result<std::string> read_link(uint64_t ino, ext2_inode_large& inode)
    {
        if (!LINUX_S_ISLNK(inode.i_mode))
            return Error(ErrorKind::InvalidArgument, "not a symbolic link");
        uint64_t size = EXT2_I_SIZE(&inode);
        if (size > k_max_symlink_target)
            return Error(ErrorKind::Corrupt, "a symbolic link target longer than 4095 bytes");
        std::string target;
        if (size > 0 && ext2fs_is_fast_symlink(reinterpret_cast<ext2_inode*>(&inode)))
            target.assign(reinterpret_cast<const char*>(inode.i_block), size); // size < sizeof i_block
        else
            target = TRY(read_data(ino, inode, size));
        if (target.find('\0') != std::string::npos)
            return Error(ErrorKind::Corrupt, "a symbolic link target with a NUL byte in it");
        return target;
    }

    // The inode a path names. Never leaves the filesystem: ".." is taken from the path
    // walked so far and stops at the root; an absolute symlink target starts again at the root.
    Result<uint64_t> resolve(std::string_view path, bool follow_final)
    {
        if (path.empty() || path[0] != '/')
            return Error(ErrorKind::InvalidArgument, "paths inside a disk image are absolute");
        if (path.size() > k_max_path)
            return Error(ErrorKind::InvalidArgument, "the path is longer than 4096 bytes");
        std::vector<std::string> pending = split_path(path);
        std::reverse(pending.begin(), pending.end()); // pending.back() is the next component
        std::vector<uint64_t> walked { EXT2_ROOT_INO };
        uint32_t hops = 0;
        while (!pending.empty()) {
            std::string name = std::move(pending.back());
            pending.pop_back();
            if (name == ".")
                continue;
            if (name == "..") {
                if (walked.size() > 1)
                    walked.pop_back();
                continue;
            }
            auto dir = TRY(read_inode(walked.back()));
            if (!LINUX_S_ISDIR(dir.i_mode))
                return Error(ErrorKind::NotFound, "a component of the path is not a directory");
            uint64_t ino = TRY(lookup(walked.back(), name));
            auto inode = TRY(read_inode(ino));
            if (LINUX_S_ISLNK(inode.i_mode) && (!pending.empty() || follow_final)) {
                if (++hops > limits.max_symlink_hops)
                    return Error(ErrorKind::NotFound, "too many levels of symbolic links");
                std::string target = TRY(read_link(ino, inode));
                if (target.empty())
                    return Error(ErrorKind::NotFound, "a symbolic link with an empty target");
                if (target[0] == '/')
                    walked.resize(1);
                auto parts = split_path(target);
                pending.insert(pending.end(), parts.rbegin(), parts.rend());
                continue;
            }
            walked.push_back(ino);
        }
        return walked.back();
    }

    Result<std::vector<DirEntry>> list(uint64_t ino, size_t max_entries)
    {
        auto inode = TRY(read_inode(ino));
        if (!LINUX_S_ISDIR(inode.i_mode))
            return Error(ErrorKind::InvalidArgument, "not a directory");
        size_t cap = std::min(max_entries, limits.max_dir_entries);
        std::vector<DirEntry> entries;
        TRY(for_each_entry(ino, [&](std::string_view name, uint64_t child) -> Result<bool> {
            if (entries.size() >= cap)
                return Error(ErrorKind::InvalidArgument,
                    "the directory has more than " + std::to_string(cap) + " entries (the listing limit)");
            entries.push_back(DirEntry { std::string(name), child });
            return true;
        }));
        std::sort(entries.begin(), entries.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
        return entries;
    }
};

Filesystem::Filesystem(std::unique_ptr<Impl> impl)
    : m_impl(std::move(impl))
{
}

Filesystem::~Filesystem() = default;

Result<std::unique_ptr<Filesystem>> Filesystem::open(std::shared_ptr<BlockDevice> device, const FsLimits& limits)
{
    if (!device)
        return Error(ErrorKind::Internal, "Filesystem::open without a device");
    FsKind kind = TRY(detect_filesystem(*device));
    if (kind == FsKind::Unknown)
        return Error(ErrorKind::NotFound, "no filesystem found on " + device->describe());
    if (!fs_kind_is_ext(kind))
        return Error(
            ErrorKind::Unavailable, std::string("unsupported filesystem: ") + fs_kind_name(kind) + " on " + device->describe());
    TRY(check_superblock(*device));

    static std::once_flag error_table;
    std::call_once(error_table, [] { initialize_ext2_error_table(); });

    auto impl = std::make_unique<Impl>();
    impl->channel.manager = &g_io_manager;
    impl->channel.device = device.get();
    impl->limits = limits;
    t_opening = &impl->channel;
    errcode_t err = ext2fs_open2(k_channel_name, nullptr, EXT2_FLAG_64BITS, 0, 0, &g_io_manager, &impl->fs);
    t_opening = nullptr;
    if (err) {
        impl->fs = nullptr;
        return impl->fail(err, "cannot open the " + std::string(fs_kind_name(kind)) + " filesystem on " + device->describe());
    }
    std::unique_ptr<Filesystem> fs(new Filesystem(std::move(impl)));
    fs->m_device = std::move(device);
    ext2_super_block* sb = fs->m_impl->fs->super;
    fs->m_info.kind = kind;
    fs->m_info.block_size = fs->m_impl->fs->blocksize;
    fs->m_info.blocks = ext2fs_blocks_count(sb);
    fs->m_info.inodes = sb->s_inodes_count;
    const char* label = reinterpret_cast<const char*>(sb->s_volume_name);
    fs->m_info.label.assign(label, strnlen(label, sizeof sb->s_volume_name));
    fs->m_info.uuid = format_uuid(sb->s_uuid);
    fs->m_info.needs_recovery = ext2fs_has_feature_journal_needs_recovery(sb);
    return fs;
}

Result<FileStat> Filesystem::stat(std::string_view path)
{
    uint64_t ino = TRY_CTX(m_impl->resolve(path, false), std::string(path));
    return stat_inode(ino);
}

Result<FileStat> Filesystem::stat_follow(std::string_view path)
{
    uint64_t ino = TRY_CTX(m_impl->resolve(path, true), std::string(path));
    return stat_inode(ino);
}

Result<FileStat> Filesystem::stat_inode(uint64_t ino)
{
    auto inode = TRY(m_impl->read_inode(ino));
    return Impl::stat_of(ino, inode);
}

Result<std::string> Filesystem::read_file(std::string_view path, size_t max_bytes)
{
    uint64_t ino = TRY_CTX(m_impl->resolve(path, true), std::string(path));
    return TRY_CTX(read_inode(ino, max_bytes), std::string(path));
}

Result<std::string> Filesystem::read_inode(uint64_t ino, size_t max_bytes)
{
    auto inode = TRY(m_impl->read_inode(ino));
    if (!LINUX_S_ISREG(inode.i_mode))
        return Error(
            ErrorKind::InvalidArgument, std::string("not a regular file (a ") + file_type_name(file_type_of(inode.i_mode)) + ")");
    uint64_t size = EXT2_I_SIZE(&inode);
    if (size > max_bytes)
        return Error(ErrorKind::InvalidArgument,
            "the file is " + std::to_string(size) + " bytes, larger than the limit of " + std::to_string(max_bytes) + " bytes");
    return m_impl->read_data(ino, inode, size);
}

Result<std::string> Filesystem::read_link(std::string_view path)
{
    uint64_t ino = TRY_CTX(m_impl->resolve(path, false), std::string(path));
    auto inode = TRY_CTX(m_impl->read_inode(ino), std::string(path));
    return TRY_CTX(m_impl->read_link(ino, inode), std::string(path));
}

Result<std::vector<DirEntry>> Filesystem::list_dir(std::string_view path, size_t max_entries)
{
    uint64_t ino = TRY_CTX(m_impl->resolve(path, true), std::string(path));
    return TRY_CTX(m_impl->list(ino, max_entries), std::string(path));
}

Result<WalkSummary> Filesystem::walk(const std::function<WalkAction(const WalkEntry&)>& visit, const WalkLimits& limits)
{
    struct Frame {
        std::string path;
        uint32_t depth;
        std::vector<DirEntry> entries;
        size_t next = 0;
    };
    WalkSummary summary;
    std::unordered_set<uint64_t> entered;
    std::vector<Frame> stack;

    auto enter = [&](uint64_t ino, const std::string& path, uint32_t depth) -> VoidResult {
        if (!entered.insert(ino).second) {
            summary.repeated_dirs++;
            return {};
        }
        auto entries = TRY_CTX(m_impl->list(ino, SIZE_MAX), path);
        summary.directories++;
        stack.push_back(Frame { path, depth, std::move(entries) });
        return {};
    };

    WalkEntry root;
    root.path = "/";
    root.stat = TRY_CTX(stat_inode(EXT2_ROOT_INO), "/");
    summary.entries = 1;
    WalkAction action = visit(root);
    if (action == WalkAction::Stop) {
        summary.stopped = true;
        return summary;
    }
    if (root.stat.type != FileType::Directory)
        return Error(ErrorKind::Corrupt, "the root of the filesystem is not a directory");
    if (action == WalkAction::Continue)
        TRY(enter(EXT2_ROOT_INO, "/", 0));

    while (!stack.empty()) {
        Frame& frame = stack.back();
        if (frame.next == frame.entries.size()) {
            stack.pop_back();
            continue;
        }
        DirEntry entry = std::move(frame.entries[frame.next++]);
        WalkEntry child;
        child.path = frame.path == "/" ? "/" + entry.name : frame.path + "/" + entry.name;
        child.depth = frame.depth + 1;
        if (child.depth > limits.max_depth)
            return Error(ErrorKind::InvalidArgument,
                child.path + ": directories are nested deeper than the walk limit of " + std::to_string(limits.max_depth));
        if (++summary.entries > limits.max_entries)
            return Error(ErrorKind::InvalidArgument,
                "the filesystem has more than " + std::to_string(limits.max_entries) + " entries (the walk limit)");
        child.stat = TRY_CTX(stat_inode(entry.inode), child.path);
        action = visit(child);
        if (action == WalkAction::Stop) {
            summary.stopped = true;
            return summary;
        }
        if (action == WalkAction::Continue && child.stat.type == FileType::Directory)
            TRY(enter(entry.inode, child.path, child.depth)); // may reallocate stack: frame is not used after
    }
    return summary;
}

} // namespace bulwark::disk
