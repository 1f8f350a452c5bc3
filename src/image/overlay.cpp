#include "image/overlay.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/system.h"
#include "image/format.h"

namespace bulwark {

static constexpr uint32_t k_cluster_bits = 16;
static constexpr uint64_t k_cluster = 1ULL << k_cluster_bits;
static constexpr size_t k_header_length = 112;

static void put32(std::string& b, size_t off, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        b[off + static_cast<size_t>(i)] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
}

static void put64(std::string& b, size_t off, uint64_t v)
{
    put32(b, off, static_cast<uint32_t>(v >> 32));
    put32(b, off + 4, static_cast<uint32_t>(v));
}

static void put16(std::string& b, size_t off, uint16_t v)
{
    b[off] = static_cast<char>(v >> 8);
    b[off + 1] = static_cast<char>(v & 0xff);
}

Result<std::string> qcow2_overlay_bytes(const std::string& backing_path, uint64_t virtual_size)
{
    if (virtual_size == 0 || virtual_size > k_max_virtual_size || virtual_size % 512 != 0)
        return Error(ErrorKind::InvalidArgument, "overlay virtual size must be a whole number of sectors up to 16 TiB");
    if (backing_path.empty() || backing_path.size() > 1023 || backing_path[0] != '/')
        return Error(ErrorKind::InvalidArgument, "the backing file must be an absolute path of at most 1023 bytes");
    // One L2 table (one cluster of 8-byte entries) maps cluster/8 clusters.
    uint64_t bytes_per_l2 = k_cluster * (k_cluster / 8);
    uint64_t l1_size = (virtual_size + bytes_per_l2 - 1) / bytes_per_l2;
    uint64_t l1_clusters = (l1_size * 8 + k_cluster - 1) / k_cluster;
    uint64_t clusters_in_use = 3 + l1_clusters;

    std::string b(static_cast<size_t>(3 * k_cluster + l1_size * 8), '\0');
    // Header extensions and the backing file name follow the header, inside cluster 0.
    size_t ext = k_header_length;
    put32(b, ext, 0xE2792ACA);  // backing file format name
    put32(b, ext + 4, 5);
    b.replace(ext + 8, 5, "qcow2");
    size_t end_ext = ext + 8 + 8;  // data padded to 8 bytes
    put32(b, end_ext, 0);          // end of header extensions
    put32(b, end_ext + 4, 0);
    size_t backing_offset = end_ext + 8;
    b.replace(backing_offset, backing_path.size(), backing_path);

    b.replace(0, 4, "QFI\xfb");
    put32(b, 4, 3);                                       // version
    put64(b, 8, backing_offset);                          // backing_file_offset
    put32(b, 16, static_cast<uint32_t>(backing_path.size()));  // backing_file_size
    put32(b, 20, k_cluster_bits);
    put64(b, 24, virtual_size);
    put32(b, 32, 0);                                      // no encryption
    put32(b, 36, static_cast<uint32_t>(l1_size));
    put64(b, 40, 3 * k_cluster);                          // L1 table
    put64(b, 48, 1 * k_cluster);                          // refcount table
    put32(b, 56, 1);                                      // refcount table clusters
    put32(b, 60, 0);                                      // snapshots
    put64(b, 64, 0);
    put64(b, 72, 0);                                      // incompatible features
    put64(b, 80, 0);                                      // compatible features
    put64(b, 88, 0);                                      // autoclear features
    put32(b, 96, 4);                                      // refcount order: 16-bit
    put32(b, 100, k_header_length);
    // byte 104: compression type 0 (zlib); 105-111 padding.

    put64(b, static_cast<size_t>(k_cluster), 2 * k_cluster);  // refcount table -> block
    for (uint64_t c = 0; c < clusters_in_use; ++c)
        put16(b, static_cast<size_t>(2 * k_cluster + c * 2), 1);
    return b;
}

VoidResult create_qcow2_overlay(const std::string& path, const std::string& backing_path, uint64_t virtual_size, mode_t mode)
{
    std::string bytes = TRY(qcow2_overlay_bytes(backing_path, virtual_size));
    auto fd = TRY(sys::open(path, O_WRONLY | O_CREAT | O_EXCL, mode));
    auto written = [&]() -> VoidResult {
        if (::fchmod(fd.get(), mode) < 0)
            return Error::from_errno("chmod " + path, errno);
        TRY(sys::write_all(fd.get(), bytes));
        if (::fdatasync(fd.get()) < 0)
            return Error::from_errno("fsync " + path, errno);
        return sys::fsync_dir(sys::dirname(path));
    }();
    if (written.is_error())
        (void)sys::unlink_if_exists(path);
    return written;
}

}  // namespace bulwark
