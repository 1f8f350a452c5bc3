// Qcow2Reader: the guest's view of a qcow2 image (version 2 or 3), read offline.
//
// On-disk format (QEMU's docs/interop/qcow2.txt; the header layout is in image/format.h):
//   - The guest disk is cut into clusters of 2^cluster_bits bytes (here 512 B .. 2 MiB).
//   - The L1 table (l1_size big-endian u64 at l1_table_offset) points at L2 tables, one
//     cluster each; an L2 table holds cluster_size / 8 entries (cluster_size / 16 with
//     extended L2 entries), each mapping one guest cluster:
//       L1 entry: bits 9-55 host offset of the L2 table (0: none), bit 63 "copied".
//       L2 entry, standard cluster: bits 9-55 host offset (0: unallocated), bit 0 "reads as
//         zeros" (version 3), bit 63 "copied".
//       L2 entry, compressed (bit 62): with x = 62 - (cluster_bits - 8), bits 0..x-1 are the
//         byte offset of the compressed data, bits x..61 the number of extra 512-byte sectors
//         it occupies. Data: raw deflate (compression type 0) or a zstd frame (type 1).
//       Extended L2 (incompatible bit 4): a second u64 per entry, a bitmap of 32 subclusters:
//         bits 0-31 allocated, bits 32-63 reads as zeros.
//   - Unallocated clusters read from the backing file (bytes past its end read as zeros) or,
//     without one, as zeros.
//   - Header extensions follow the header in cluster 0 (u32 type, u32 length, data padded to
//     8 bytes); 0xE2792ACA names the backing file's format.
//
// Limits and refusals (all from the untrusted image): cluster_bits 9..21; virtual size at
// most 16 TiB; L1 table at most 32 MiB and inside the file; every L2 table and data cluster
// cluster-aligned and inside the file; compressed data at most two clusters; zstd windows at
// most 4 MiB. Refused: encryption and external data files (Denied), the corrupt bit, unknown
// incompatible features and compression types (Corrupt). A backing file is opened only
// through the caller's resolver, its format must be named by the image ("raw" or "qcow2";
// never guessed from its contents), chains are at most max_chain_depth images and a file
// that appears twice in one chain is a loop (Corrupt). The dirty bit is accepted: it only
// means the refcounts, which a reader never uses, may be stale.
//
// Internal snapshots are ignored: the reader shows the active state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "disk/block_device.h"

namespace bulwark::disk {

// A backing file, opened, and what identifies the file whatever name reached it (RawFile's
// "<dev>:<ino>"): the same identity twice in one chain is a loop.
struct BackingFile {
    std::unique_ptr<BlockDevice> device;
    std::string identity;
};

// Opens the backing file an image names (the name exactly as stored in the image), or
// refuses it. An image's own bytes never open a file any other way.
using BackingResolver = std::function<Result<BackingFile>(const std::string& name)>;

// Allows only regular files inside dir: a relative name is taken relative to dir, an
// absolute name must start with dir (as given, or its real path). The open cannot leave dir
// through "..", symlinks or /proc magic links (openat2 RESOLVE_BENEATH).
BackingResolver backing_files_in(const std::string& dir);

struct Qcow2Options {
    BackingResolver resolve_backing; // empty: an image that names a backing file is refused
    uint32_t max_chain_depth = 16; // images in one chain, the top one included
    size_t l2_cache_bytes = 4 << 20; // L2 tables kept in memory (never fewer than two)
};

enum class Qcow2Compression { Zlib, Zstd };

class Qcow2Reader final : public BlockDevice {
public:
    // Reads and checks the header and the L1 table, and opens the backing chain.
    static Result<std::unique_ptr<Qcow2Reader>> open(std::unique_ptr<BlockDevice> file, const Qcow2Options& options = {});
    ~Qcow2Reader() override;

    uint64_t size() const override { return m_virtual_size; }
    std::string describe() const override;

    uint32_t version() const { return m_version; }
    uint32_t cluster_size() const { return m_cluster_size; }
    Qcow2Compression compression() const { return m_compression; }
    bool extended_l2() const { return m_extended_l2; }
    // The backing file name as stored in the image; empty without one.
    const std::string& backing_name() const { return m_backing_name; }
    // The opened backing device (a Qcow2Reader or the raw file), or nullptr.
    BlockDevice* backing() const { return m_backing.get(); }
    // The host file: its stats count the bytes actually read from disk.
    BlockDevice& file() { return *m_file; }

protected:
    VoidResult read_inside(uint64_t offset, std::span<uint8_t> out) override;

private:
    struct Decompressor;
    struct L2Table {
        uint64_t host_offset = 0;
        uint64_t last_used = 0;
        std::vector<uint64_t> entries;
    };
    enum class Kind { Unallocated, Zero, Data, Compressed };
    struct Mapping {
        Kind kind = Kind::Unallocated;
        uint64_t host_offset = 0; // Data: the cluster's (or subcluster's) first byte
        uint64_t compressed_size = 0; // Compressed: bytes of compressed data at host_offset
        uint64_t length = 0; // guest bytes from the looked-up offset this mapping covers
    };

    Qcow2Reader() = default;
    static Result<std::unique_ptr<Qcow2Reader>> open_in_chain(
        std::unique_ptr<BlockDevice> file, const Qcow2Options& options, std::vector<std::string>& chain);
    Error corrupt(const std::string& why) const;
    VoidResult parse_header(
        std::span<const uint8_t> cluster0, uint64_t* backing_offset, uint32_t* backing_size, std::string* backing_format);
    VoidResult open_backing(const std::string& format, const Qcow2Options& options, std::vector<std::string>& chain);
    Result<const L2Table*> l2_table(uint64_t l1_index);
    Result<Mapping> map(uint64_t guest_offset);
    VoidResult read_data(uint64_t host_offset, std::span<uint8_t> out);
    VoidResult read_backing(uint64_t guest_offset, std::span<uint8_t> out);
    VoidResult read_compressed(const Mapping& mapping, uint64_t in_cluster, std::span<uint8_t> out);

    std::unique_ptr<BlockDevice> m_file;
    std::unique_ptr<BlockDevice> m_backing;
    std::string m_backing_name;
    uint32_t m_version = 0;
    uint32_t m_cluster_bits = 0;
    uint32_t m_cluster_size = 0;
    uint64_t m_virtual_size = 0;
    bool m_extended_l2 = false;
    Qcow2Compression m_compression = Qcow2Compression::Zlib;
    uint32_t m_l2_bits = 0; // log2 of the entries in one L2 table
    std::vector<uint64_t> m_l1;
    std::vector<L2Table> m_l2_cache;
    size_t m_l2_cache_capacity = 2;
    uint64_t m_tick = 0;
    // The last compressed cluster, decompressed (reads of it come in pieces).
    uint64_t m_inflated_offset = ~0ULL;
    uint64_t m_inflated_size = 0; // compressed bytes it came from
    std::vector<uint8_t> m_inflated;
    std::vector<uint8_t> m_compressed_buffer;
    std::unique_ptr<Decompressor> m_decompressor;
};

// Opens a disk image file: qcow2 (it starts with "QFI\xfb") through Qcow2Reader, anything
// else as a raw disk.
Result<std::unique_ptr<BlockDevice>> open_disk_image(const std::string& path, const Qcow2Options& options = {});

} // namespace bulwark::disk
