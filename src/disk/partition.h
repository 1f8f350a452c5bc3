// Partition tables of an untrusted disk: MBR (with extended/logical partitions) and GPT.
//
// MBR (sector 0): boot code, then at byte 446 four 16-byte entries (status 0x00/0x80, CHS,
// type byte, CHS, little-endian u32 first LBA, u32 sector count), then 0x55 0xAA at 510.
// Types 0x05, 0x0F and 0x85 are extended partitions: a chain of EBRs, each an MBR-shaped
// sector whose first entry is a logical partition (relative to that EBR) and whose second
// points at the next EBR (relative to the extended partition). Type 0xEE is GPT's
// protective MBR.
//
// GPT (LBA 1, backup at the last LBA): "EFI PART", revision, header size (92..sector), CRC32
// of the header, its own LBA, the alternate header's LBA, first and last usable LBA, disk GUID,
// LBA of the entry array, entry count, entry size, CRC32 of the entry array. Each entry: type
// GUID (all zero: unused), unique GUID, first and last LBA (inclusive), attributes, name in
// UTF-16LE (72 bytes).
//
// Everything is checked: both CRCs, header and entry sizes, at most 4096 GPT entries in at
// most 1 MiB, at most 128 logical partitions, an EBR chain that must not revisit a sector
// nor leave its extended partition, and every partition inside the disk. A damaged primary
// GPT falls back to the backup header. A disk whose sector 0 is not an MBR (or is an empty
// one, or is a filesystem's boot sector) has no partition table: it is one whole-disk
// "partition" with index 0.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "disk/block_device.h"

namespace bulwark::disk {

enum class PartitionScheme { None, Mbr, Gpt };
const char* partition_scheme_name(PartitionScheme scheme);

struct Partition {
    uint32_t index = 0; // as Linux numbers them: MBR primaries 1-4, logicals from 5;
                        // GPT entry number + 1; 0: the whole disk (no partition table)
    uint64_t start = 0; // bytes from the start of the disk
    uint64_t size = 0; // bytes
    std::string type; // GPT: type GUID (lower case); MBR: "0x83"; whole disk: ""
    uint8_t mbr_type = 0; // MBR only
    std::string name; // GPT name as UTF-8; empty for MBR
    std::string guid; // GPT unique partition GUID (lower case); empty for MBR
    bool bootable = false; // MBR active flag, or GPT attribute bit 2 (legacy BIOS bootable)
    uint64_t attributes = 0; // GPT attribute bits
};

struct PartitionTable {
    PartitionScheme scheme = PartitionScheme::None;
    uint32_t sector_size = 512;
    std::string disk_guid; // GPT only
    bool gpt_from_backup = false; // the primary GPT header was damaged; the backup was used
    std::vector<Partition> partitions;
};

struct PartitionLimits {
    uint32_t max_logical = 128; // MBR logical partitions
    uint32_t max_gpt_entries = 4096;
    uint32_t max_gpt_array_bytes = 1 << 20;
};

// Reads the partition table of disk. Errors: Corrupt for a table that is damaged or breaks a
// limit (a GPT whose primary and backup headers both fail their checks, an EBR loop, a
// partition past the end of the disk).
Result<PartitionTable> read_partition_table(BlockDevice& disk, const PartitionLimits& limits = {});

// The partition as a device of its own.
Result<std::unique_ptr<PartitionView>> open_partition(std::shared_ptr<BlockDevice> disk, const Partition& partition);

// A GUID in its usual text form (the first three fields are little-endian on disk).
std::string format_guid(const uint8_t bytes[16]);

} // namespace bulwark::disk
