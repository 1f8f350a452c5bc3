// Identifies an untrusted disk image as qcow2 or raw before anything else touches it.
//
// Only the head of the file (at most k_probe_bytes) and its size are read; the checks below
// reject files that QEMU would otherwise interpret in dangerous ways (a qcow2 that names a
// backing file or an external data file would make the guest read host files).
//
// qcow2 header (big-endian, as in QEMU's docs/interop/qcow2.txt):
//   0 magic "QFI\xfb" | 4 version (2, 3) | 8 backing_file_offset u64 | 16 backing_file_size
//   20 cluster_bits | 24 size u64 | 32 crypt_method | 36 l1_size | 40 l1_table_offset u64
//   48 refcount_table_offset u64 | 56 refcount_table_clusters | 60 nb_snapshots
//   64 snapshots_offset u64 | v3: 72 incompatible_features u64 | 80 compatible u64
//   88 autoclear u64 | 96 refcount_order | 100 header_length
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace bulwark {

inline constexpr size_t k_probe_bytes = 4096;
inline constexpr uint64_t k_max_virtual_size = 16ULL << 40;  // 16 TiB

// qcow2 facts shared with the disk reader (src/disk/qcow2.cpp), which reads the same header.
inline constexpr char k_qcow2_magic[] = "QFI\xfb";
inline constexpr uint32_t k_qcow2_min_cluster_bits = 9;
inline constexpr uint32_t k_qcow2_max_cluster_bits = 21;
// An L1 table larger than QEMU's own limit (32 MiB of entries) is an attack, not an image.
inline constexpr uint64_t k_qcow2_max_l1_bytes = 32ULL << 20;
inline constexpr uint64_t k_qcow2_incompat_dirty = 1ULL << 0;
inline constexpr uint64_t k_qcow2_incompat_corrupt = 1ULL << 1;
inline constexpr uint64_t k_qcow2_incompat_data_file = 1ULL << 2;
inline constexpr uint64_t k_qcow2_incompat_compression = 1ULL << 3;
inline constexpr uint64_t k_qcow2_incompat_extended_l2 = 1ULL << 4;
inline constexpr uint64_t k_qcow2_incompat_known = 0x1f;

enum class DiskFormat { Raw, Qcow2 };
const char* disk_format_name(DiskFormat format);

struct DiskInfo {
    DiskFormat format = DiskFormat::Raw;
    uint64_t virtual_size = 0;
    uint64_t file_size = 0;
    uint32_t qcow2_version = 0;
    uint32_t cluster_size = 0;
    uint32_t snapshots = 0;
};

// head: the first min(file_size, k_probe_bytes) bytes of the file.
Result<DiskInfo> probe_disk(std::string_view head, uint64_t file_size);

// Reads the head of fd and probes it.
Result<DiskInfo> probe_disk_fd(int fd);

}  // namespace bulwark
