#include "disk/qcow2.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/endian.h"
#include "base/system.h"
#include "image/format.h"

namespace bulwark::disk {

namespace {

constexpr size_t k_v2_header_bytes = 72;
constexpr size_t k_v3_header_bytes = 104;
constexpr uint32_t k_ext_end = 0;
constexpr uint32_t k_ext_backing_format = 0xE2792ACA;
constexpr uint32_t k_max_backing_name = 1023; // QEMU's limit
constexpr uint64_t k_offset_mask = 0x00fffffffffffe00ULL; // bits 9-55 of L1 and L2 entries
constexpr uint64_t k_l2_compressed = 1ULL << 62;
constexpr uint64_t k_l2_zero = 1ULL << 0;
constexpr uint32_t k_subclusters = 32;
// A zstd frame may ask for a window up to this (2^22 = 4 MiB, twice the largest cluster):
// a hostile frame must not make the decoder allocate more.
constexpr int k_zstd_window_log_max = 22;

uint64_t round_up(uint64_t value, uint64_t multiple)
{
    return (value + multiple - 1) / multiple * multiple;
}

std::string hex(uint64_t v)
{
    char buf[24];
    (void)std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
    return buf;
}

} // namespace

struct Qcow2Reader::Decompressor {
    z_stream zlib {};
    bool zlib_ready = false;
    ZSTD_DCtx* zstd = nullptr;

    ~Decompressor()
    {
        if (zlib_ready)
            inflateEnd(&zlib);
        ZSTD_freeDCtx(zstd);
    }

    // Raw deflate (window bits -12, as QEMU writes it). As in QEMU, the output must fill the
    // cluster exactly; the input may run on past the end of the stream (sector padding).
    bool inflate_zlib(std::span<const uint8_t> in, std::span<uint8_t> out)
    {
        if (!zlib_ready) {
            if (inflateInit2(&zlib, -12) != Z_OK)
                return false;
            zlib_ready = true;
        } else if (inflateReset(&zlib) != Z_OK) {
            return false;
        }
        zlib.next_in = const_cast<Bytef*>(in.data());
        zlib.avail_in = static_cast<uInt>(in.size());
        zlib.next_out = out.data();
        zlib.avail_out = static_cast<uInt>(out.size());
        int ret = inflate(&zlib, Z_FINISH);
        return (ret == Z_STREAM_END || ret == Z_BUF_ERROR) && zlib.avail_out == 0;
    }

    // One zstd frame that must end exactly when the cluster is full.
    bool inflate_zstd(std::span<const uint8_t> in, std::span<uint8_t> out)
    {
        if (!zstd) {
            zstd = ZSTD_createDCtx();
            if (!zstd)
                return false;
            if (ZSTD_isError(ZSTD_DCtx_setParameter(zstd, ZSTD_d_windowLogMax, k_zstd_window_log_max)))
                return false;
        }
        if (ZSTD_isError(ZSTD_DCtx_reset(zstd, ZSTD_reset_session_only)))
            return false;
        ZSTD_inBuffer input { in.data(), in.size(), 0 };
        ZSTD_outBuffer output { out.data(), out.size(), 0 };
        size_t ret = 1;
        while (output.pos < output.size) {
            size_t last_in = input.pos;
            size_t last_out = output.pos;
            ret = ZSTD_decompressStream(zstd, &output, &input);
            if (ZSTD_isError(ret))
                return false;
            if (input.pos <= last_in && output.pos <= last_out)
                return false; // no progress: truncated or damaged
        }
        return ret == 0;
    }
};

Qcow2Reader::~Qcow2Reader() = default;

std::string Qcow2Reader::describe() const
{
    return "qcow2 image " + m_file->describe();
}

Error Qcow2Reader::corrupt(const std::string& why) const
{
    return Error(ErrorKind::Corrupt, describe() + " " + why);
}

Result<std::unique_ptr<Qcow2Reader>> Qcow2Reader::open(std::unique_ptr<BlockDevice> file, const Qcow2Options& options)
{
    if (!file)
        return Error(ErrorKind::Internal, "Qcow2Reader::open without a file");
    std::vector<std::string> chain;
    if (auto* raw = dynamic_cast<RawFile*>(file.get()))
        chain.push_back(raw->identity());
    else
        chain.push_back("top:" + file->describe());
    return open_in_chain(std::move(file), options, chain);
}

Result<std::unique_ptr<Qcow2Reader>> Qcow2Reader::open_in_chain(
    std::unique_ptr<BlockDevice> file, const Qcow2Options& options, std::vector<std::string>& chain)
{
    std::unique_ptr<Qcow2Reader> reader(new Qcow2Reader());
    reader->m_file = std::move(file);
    uint64_t file_size = reader->m_file->size();
    if (file_size < k_v2_header_bytes)
        return reader->corrupt("is truncated: its header is cut short");

    // The fixed header first, for the cluster size; then all of cluster 0 (header
    // extensions and the backing file name live there).
    std::vector<uint8_t> head(std::min<uint64_t>(file_size, 112));
    TRY(reader->m_file->read_at(0, head));
    if (std::memcmp(head.data(), k_qcow2_magic, 4) != 0)
        return reader->corrupt("is not a qcow2 image: its magic is wrong");
    uint32_t cluster_bits = load_be32(&head[20]);
    if (cluster_bits < k_qcow2_min_cluster_bits || cluster_bits > k_qcow2_max_cluster_bits)
        return reader->corrupt("has an invalid cluster size (2^" + std::to_string(cluster_bits) + ")");
    std::vector<uint8_t> cluster0(std::min<uint64_t>(file_size, uint64_t(1) << cluster_bits));
    TRY(reader->m_file->read_at(0, cluster0));

    uint64_t backing_offset = 0;
    uint32_t backing_size = 0;
    std::string backing_format;
    TRY(reader->parse_header(cluster0, &backing_offset, &backing_size, &backing_format));
    if (backing_offset != 0) {
        reader->m_backing_name.assign(reinterpret_cast<const char*>(&cluster0[backing_offset]), backing_size);
        TRY(reader->open_backing(backing_format, options, chain));
    }
    reader->m_l2_cache_capacity = std::max<size_t>(2, options.l2_cache_bytes >> cluster_bits);
    return reader;
}

VoidResult Qcow2Reader::parse_header(
    std::span<const uint8_t> cluster0, uint64_t* backing_offset, uint32_t* backing_size, std::string* backing_format)
{
    const uint8_t* h = cluster0.data();
    uint64_t file_size = m_file->size();
    m_version = load_be32(h + 4);
    if (m_version != 2 && m_version != 3)
        return corrupt("has version " + std::to_string(m_version) + ", which is not supported (only 2 and 3)");
    *backing_offset = load_be64(h + 8);
    *backing_size = load_be32(h + 16);
    m_cluster_bits = load_be32(h + 20);
    m_cluster_size = uint32_t(1) << m_cluster_bits;
    m_virtual_size = load_be64(h + 24);
    uint32_t crypt_method = load_be32(h + 32);
    uint32_t l1_size = load_be32(h + 36);
    uint64_t l1_offset = load_be64(h + 40);

    if (m_virtual_size > k_max_virtual_size)
        return corrupt("claims a virtual size over the 16 TiB limit");
    if (crypt_method != 0)
        return Error(ErrorKind::Denied, describe() + " is encrypted, which the disk reader does not accept");

    size_t header_length = k_v2_header_bytes;
    uint64_t incompatible = 0;
    if (m_version == 3) {
        if (cluster0.size() < k_v3_header_bytes)
            return corrupt("is truncated: its version 3 header is cut short");
        incompatible = load_be64(h + 72);
        header_length = load_be32(h + 100);
        if (header_length < k_v3_header_bytes || header_length > cluster0.size())
            return corrupt("has an invalid header length (" + std::to_string(header_length) + ")");
        if (incompatible & k_qcow2_incompat_corrupt)
            return corrupt("is marked corrupt by QEMU");
        if (incompatible & k_qcow2_incompat_data_file)
            return Error(
                ErrorKind::Denied, describe() + " keeps its data in an external file, which the disk reader does not accept");
        if (incompatible & ~k_qcow2_incompat_known)
            return corrupt("uses incompatible features this reader does not know (" + hex(incompatible) + ")");
        uint8_t compression_type = header_length > k_v3_header_bytes ? h[k_v3_header_bytes] : 0;
        if (compression_type > 1)
            return corrupt("uses an unknown compression type (" + std::to_string(compression_type) + ")");
        if (compression_type != 0 && !(incompatible & k_qcow2_incompat_compression))
            return corrupt("names a compression type without the compression-type feature bit");
        m_compression = compression_type == 1 ? Qcow2Compression::Zstd : Qcow2Compression::Zlib;
        m_extended_l2 = incompatible & k_qcow2_incompat_extended_l2;
        if (m_extended_l2 && m_cluster_bits < 14)
            return corrupt("uses extended L2 entries with clusters smaller than 16 KiB");
    }

    // Header extensions, up to the backing file name (or the end of cluster 0).
    uint64_t ext_end = cluster0.size();
    if (*backing_offset != 0 && *backing_offset < ext_end)
        ext_end = *backing_offset;
    uint64_t off = header_length;
    while (off + 8 <= ext_end) {
        uint32_t type = load_be32(h + off);
        uint32_t length = load_be32(h + off + 4);
        off += 8;
        if (type == k_ext_end)
            break;
        if (length > ext_end - off)
            return corrupt("has a header extension that runs past the end of its header");
        if (type == k_ext_backing_format) {
            if (length >= 16)
                return corrupt("has a backing format name over 15 bytes");
            backing_format->assign(reinterpret_cast<const char*>(h + off), length);
        }
        off += round_up(length, 8);
    }

    if (*backing_offset != 0) {
        if (*backing_size == 0 || *backing_size > k_max_backing_name)
            return corrupt("has a backing file name of invalid length (" + std::to_string(*backing_size) + ")");
        if (!range_inside(*backing_offset, *backing_size, cluster0.size()))
            return corrupt("has a backing file name outside its header cluster");
        std::string_view name(reinterpret_cast<const char*>(h + *backing_offset), *backing_size);
        if (name.find('\0') != std::string_view::npos)
            return corrupt("has a backing file name with a NUL byte in it");
    }

    // The L1 table: large enough to map the virtual size, inside the file, at most 32 MiB.
    m_l2_bits = m_cluster_bits - (m_extended_l2 ? 4 : 3);
    uint64_t clusters = (m_virtual_size + m_cluster_size - 1) >> m_cluster_bits;
    uint64_t needed = (clusters + (uint64_t(1) << m_l2_bits) - 1) >> m_l2_bits;
    if (uint64_t(l1_size) * 8 > k_qcow2_max_l1_bytes)
        return corrupt("has an L1 table over 32 MiB");
    if (l1_size < needed)
        return corrupt("has an L1 table too small for its virtual size");
    if (needed == 0)
        return {};
    if ((l1_offset & (m_cluster_size - 1)) != 0)
        return corrupt("has an L1 table that is not cluster-aligned");
    if (!range_inside(l1_offset, needed * 8, file_size))
        return corrupt("is truncated: its L1 table lies beyond the end of the file");
    m_l1.resize(needed);
    std::vector<uint8_t> chunk(std::min<uint64_t>(needed * 8, 64 << 10));
    for (uint64_t i = 0; i < needed;) {
        uint64_t n = std::min<uint64_t>(needed - i, chunk.size() / 8);
        TRY(m_file->read_at(l1_offset + i * 8, std::span(chunk.data(), n * 8)));
        for (uint64_t j = 0; j < n; ++j)
            m_l1[i + j] = load_be64(&chunk[j * 8]);
        i += n;
    }
    return {};
}

VoidResult Qcow2Reader::open_backing(const std::string& format, const Qcow2Options& options, std::vector<std::string>& chain)
{
    const std::string& name = m_backing_name;
    if (!options.resolve_backing)
        return Error(
            ErrorKind::Denied, describe() + " names the backing file '" + name + "', and backing files are not allowed here");
    if (format.empty())
        return Error(ErrorKind::Denied,
            describe() + " names the backing file '" + name
                + "' without its format; the reader will not guess it (qemu-img rebase -u -F sets it)");
    if (format != "qcow2" && format != "raw")
        return Error(
            ErrorKind::Denied, describe() + " names a backing file in format '" + format + "'; only qcow2 and raw are read");
    BackingFile backing = TRY_CTX(options.resolve_backing(name), describe() + ": backing file '" + name + "'");
    if (!backing.device)
        return Error(ErrorKind::Internal, "the backing file resolver returned no device for '" + name + "'");
    std::string identity = backing.identity.empty() ? "name:" + name : backing.identity;
    if (std::find(chain.begin(), chain.end(), identity) != chain.end())
        return corrupt("has a backing chain that loops: '" + name + "' is already in the chain");
    chain.push_back(identity);
    if (chain.size() > options.max_chain_depth)
        return corrupt("has a backing chain longer than " + std::to_string(options.max_chain_depth) + " images");
    if (format == "raw") {
        m_backing = std::move(backing.device);
        return {};
    }
    m_backing = TRY(open_in_chain(std::move(backing.device), options, chain));
    return {};
}

Result<const Qcow2Reader::L2Table*> Qcow2Reader::l2_table(uint64_t l1_index)
{
    uint64_t offset = m_l1[l1_index] & k_offset_mask;
    if (offset == 0)
        return static_cast<const L2Table*>(nullptr);
    if ((offset & (m_cluster_size - 1)) != 0)
        return corrupt("has an L1 entry (" + std::to_string(l1_index) + ") pointing at an unaligned L2 table");
    if (!range_inside(offset, m_cluster_size, m_file->size()))
        return corrupt("has an L1 entry (" + std::to_string(l1_index) + ") pointing past the end of the file");
    ++m_tick;
    for (auto& table : m_l2_cache) {
        if (table.host_offset == offset) {
            table.last_used = m_tick;
            return static_cast<const L2Table*>(&table);
        }
    }
    L2Table* slot = nullptr;
    if (m_l2_cache.size() < m_l2_cache_capacity) {
        slot = &m_l2_cache.emplace_back();
    } else {
        slot = &*std::min_element(
            m_l2_cache.begin(), m_l2_cache.end(), [](const L2Table& a, const L2Table& b) { return a.last_used < b.last_used; });
    }
    slot->host_offset = 0; // not valid until filled
    std::vector<uint8_t> bytes(m_cluster_size);
    TRY(m_file->read_at(offset, bytes));
    slot->entries.resize(m_cluster_size / 8);
    for (size_t i = 0; i < slot->entries.size(); ++i)
        slot->entries[i] = load_be64(&bytes[i * 8]);
    slot->host_offset = offset;
    slot->last_used = m_tick;
    return static_cast<const L2Table*>(slot);
}

Result<Qcow2Reader::Mapping> Qcow2Reader::map(uint64_t guest_offset)
{
    uint64_t cluster = guest_offset >> m_cluster_bits;
    uint64_t in_cluster = guest_offset & (m_cluster_size - 1);
    uint64_t l1_index = cluster >> m_l2_bits;
    uint64_t l2_index = cluster & ((uint64_t(1) << m_l2_bits) - 1);
    Mapping m;
    m.length = m_cluster_size - in_cluster;
    if (l1_index >= m_l1.size())
        return Error(ErrorKind::Internal, describe() + ": guest offset " + std::to_string(guest_offset) + " not mapped");
    const L2Table* table = TRY(l2_table(l1_index));
    if (!table)
        return m;
    uint64_t entry = table->entries[m_extended_l2 ? 2 * l2_index : l2_index];
    uint64_t file_size = m_file->size();
    auto where = [&] { return "for guest offset " + std::to_string(guest_offset - in_cluster); };

    if (entry & k_l2_compressed) {
        uint32_t shift = 62 - (m_cluster_bits - 8);
        uint64_t offset = entry & ((uint64_t(1) << shift) - 1);
        uint64_t sectors = ((entry >> shift) & ((uint64_t(1) << (m_cluster_bits - 8)) - 1)) + 1;
        uint64_t size = sectors * 512 - (offset & 511);
        if (offset >= file_size)
            return corrupt("has compressed data " + where() + " past the end of the file");
        m.kind = Kind::Compressed;
        m.host_offset = offset;
        m.compressed_size = std::min(size, file_size - offset);
        return m;
    }

    uint64_t host = entry & k_offset_mask;
    if ((host & (m_cluster_size - 1)) != 0)
        return corrupt("has an L2 entry " + where() + " pointing at an unaligned cluster");
    if (host >= file_size)
        return corrupt("has an L2 entry " + where() + " pointing past the end of the file");

    if (!m_extended_l2) {
        if (entry & k_l2_zero)
            m.kind = Kind::Zero;
        else if (host != 0)
            m.kind = Kind::Data;
        m.host_offset = host + in_cluster;
        return m;
    }

    // Extended L2: each of the 32 subclusters is allocated, zero or unallocated on its own.
    if (entry & k_l2_zero)
        return corrupt("has an extended L2 entry " + where() + " with a reserved bit set");
    uint64_t bitmap = table->entries[2 * l2_index + 1];
    uint64_t sub_size = m_cluster_size / k_subclusters;
    auto kind_of = [&](uint64_t sub) -> Result<Kind> {
        bool allocated = (bitmap >> sub) & 1;
        bool zero = (bitmap >> (k_subclusters + sub)) & 1;
        if (allocated && zero)
            return corrupt("has a subcluster " + where() + " marked both allocated and zero");
        if (allocated && host == 0)
            return corrupt("has an allocated subcluster " + where() + " without a host cluster");
        return zero ? Kind::Zero : allocated ? Kind::Data : Kind::Unallocated;
    };
    uint64_t sub = in_cluster / sub_size;
    m.kind = TRY(kind_of(sub));
    m.length = sub_size - in_cluster % sub_size;
    m.host_offset = host + in_cluster;
    for (uint64_t next = sub + 1; next < k_subclusters; ++next) {
        if (TRY(kind_of(next)) != m.kind)
            break;
        m.length += sub_size;
    }
    return m;
}

VoidResult Qcow2Reader::read_data(uint64_t host_offset, std::span<uint8_t> out)
{
    // A cluster may be cut short by the end of the file; QEMU reads the rest as zeros.
    uint64_t file_size = m_file->size();
    uint64_t inside = host_offset < file_size ? std::min<uint64_t>(out.size(), file_size - host_offset) : 0;
    if (inside)
        TRY(m_file->read_at(host_offset, out.first(inside)));
    std::fill(out.begin() + static_cast<ptrdiff_t>(inside), out.end(), 0);
    return {};
}

VoidResult Qcow2Reader::read_backing(uint64_t guest_offset, std::span<uint8_t> out)
{
    uint64_t inside = 0;
    if (m_backing && guest_offset < m_backing->size()) {
        inside = std::min<uint64_t>(out.size(), m_backing->size() - guest_offset);
        TRY(m_backing->read_at(guest_offset, out.first(inside)));
    }
    std::fill(out.begin() + static_cast<ptrdiff_t>(inside), out.end(), 0);
    return {};
}

VoidResult Qcow2Reader::read_compressed(const Mapping& mapping, uint64_t in_cluster, std::span<uint8_t> out)
{
    if (m_inflated_offset != mapping.host_offset || m_inflated_size != mapping.compressed_size) {
        m_inflated_offset = ~0ULL;
        m_compressed_buffer.resize(mapping.compressed_size);
        TRY(m_file->read_at(mapping.host_offset, m_compressed_buffer));
        m_inflated.resize(m_cluster_size);
        if (!m_decompressor)
            m_decompressor = std::make_unique<Decompressor>();
        bool ok = m_compression == Qcow2Compression::Zstd ? m_decompressor->inflate_zstd(m_compressed_buffer, m_inflated)
                                                          : m_decompressor->inflate_zlib(m_compressed_buffer, m_inflated);
        if (!ok)
            return corrupt("has a compressed cluster at host offset " + std::to_string(mapping.host_offset)
                + " that does not decompress (" + (m_compression == Qcow2Compression::Zstd ? "zstd" : "zlib") + ")");
        m_inflated_offset = mapping.host_offset;
        m_inflated_size = mapping.compressed_size;
    }
    std::memcpy(out.data(), m_inflated.data() + in_cluster, out.size());
    return {};
}

VoidResult Qcow2Reader::read_inside(uint64_t offset, std::span<uint8_t> out)
{
    size_t done = 0;
    while (done < out.size()) {
        uint64_t guest = offset + done;
        Mapping m = TRY(map(guest));
        uint64_t n = std::min<uint64_t>(out.size() - done, m.length);
        // Clusters that follow one another in the file too are read with one pread.
        if (m.kind == Kind::Data) {
            while (done + n < out.size()) {
                Mapping next = TRY(map(guest + n));
                if (next.kind != Kind::Data || next.host_offset != m.host_offset + n)
                    break;
                n = std::min<uint64_t>(out.size() - done, n + next.length);
            }
        }
        auto piece = out.subspan(done, n);
        switch (m.kind) {
        case Kind::Unallocated:
            TRY(read_backing(guest, piece));
            break;
        case Kind::Zero:
            std::fill(piece.begin(), piece.end(), 0);
            break;
        case Kind::Data:
            TRY(read_data(m.host_offset, piece));
            break;
        case Kind::Compressed:
            TRY(read_compressed(m, guest & (m_cluster_size - 1), piece));
            break;
        }
        done += n;
    }
    return {};
}

// ---- backing files ----

namespace {

Result<Fd> open_beneath(int dir_fd, const std::string& dir, const std::string& relative)
{
    struct open_how how { };
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, dir_fd, relative.c_str(), &how, sizeof how);
    if (fd >= 0)
        return Fd(static_cast<int>(fd));
    int err = errno;
    if (err == EXDEV)
        return Error(ErrorKind::Denied, "it resolves outside " + dir);
    if (err == ENOENT)
        return Error(ErrorKind::NotFound, "there is no such file in " + dir);
    if (err != ENOSYS)
        return Error::from_errno("cannot open it in " + dir, err);
    // Kernels before 5.6: resolve the path, check it stays inside, open the result without
    // following a final symlink.
    std::string real_dir = TRY(sys::realpath(dir));
    std::string real = TRY(sys::realpath(dir + "/" + relative));
    if (real.compare(0, real_dir.size() + 1, real_dir + "/") != 0)
        return Error(ErrorKind::Denied, "it resolves outside " + dir);
    return sys::open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
}

} // namespace

BackingResolver backing_files_in(const std::string& dir_in)
{
    std::string dir = dir_in;
    while (dir.size() > 1 && dir.back() == '/')
        dir.pop_back();
    return [dir](const std::string& name) -> Result<BackingFile> {
        if (name.empty())
            return Error(ErrorKind::Denied, "an empty backing file name is not allowed");
        std::string relative = name;
        if (name[0] == '/') {
            relative.clear();
            auto real_dir = sys::realpath(dir);
            for (const std::string& prefix : { dir, real_dir.is_ok() ? real_dir.value() : dir }) {
                std::string with_slash = prefix == "/" ? prefix : prefix + "/";
                if (name.size() > with_slash.size() && name.compare(0, with_slash.size(), with_slash) == 0) {
                    relative = name.substr(with_slash.size());
                    break;
                }
            }
            if (relative.empty())
                return Error(ErrorKind::Denied, "it lies outside " + dir + ", where backing files must be");
        }
        Fd dir_fd = TRY(sys::open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC));
        Fd fd = TRY(open_beneath(dir_fd.get(), dir, relative));
        auto file = RawFile::from_fd(std::move(fd), dir + "/" + relative);
        if (file.is_error())
            return Error(ErrorKind::Denied, file.error().message());
        BackingFile backing;
        backing.identity = file.value()->identity();
        backing.device = file.release_value();
        return backing;
    };
}

Result<std::unique_ptr<BlockDevice>> open_disk_image(const std::string& path, const Qcow2Options& options)
{
    std::unique_ptr<RawFile> file = TRY(RawFile::open(path));
    uint8_t magic[4] = {};
    if (file->size() >= sizeof magic) {
        TRY(file->read_at(0, magic));
        if (std::memcmp(magic, k_qcow2_magic, 4) == 0) {
            file->reset_stats();
            return std::unique_ptr<BlockDevice>(TRY(Qcow2Reader::open(std::move(file), options)));
        }
    }
    file->reset_stats();
    return std::unique_ptr<BlockDevice>(std::move(file));
}

} // namespace bulwark::disk
