#include "disk/fs_detect.h"

#include <cstring>
#include <string_view>
#include <vector>

#include "base/endian.h"

namespace bulwark::disk {

namespace {

constexpr uint64_t k_ext_superblock = 1024;
constexpr uint16_t k_ext_magic = 0xEF53;
constexpr uint32_t k_ext_compat_has_journal = 0x4;
// Features an ext3 filesystem may have; anything beyond them makes it ext4 (as blkid says).
constexpr uint32_t k_ext3_incompat = 0x2 | 0x4 | 0x10; // filetype, recover, meta_bg
constexpr uint32_t k_ext3_ro_compat = 0x1 | 0x2 | 0x4; // sparse_super, large_file, btree_dir

// The bytes [offset, offset + length) of the device, or an empty vector when it is smaller.
Result<std::vector<uint8_t>> bytes_at(BlockDevice& device, uint64_t offset, size_t length)
{
    std::vector<uint8_t> out;
    if (!range_inside(offset, length, device.size()))
        return out;
    out.resize(length);
    TRY(device.read_at(offset, out));
    return out;
}

bool has(const std::vector<uint8_t>& bytes, size_t offset, std::string_view magic)
{
    return bytes.size() >= offset + magic.size() && std::memcmp(bytes.data() + offset, magic.data(), magic.size()) == 0;
}

} // namespace

const char* fs_kind_name(FsKind kind)
{
    switch (kind) {
    case FsKind::Ext2:
        return "ext2";
    case FsKind::Ext3:
        return "ext3";
    case FsKind::Ext4:
        return "ext4";
    case FsKind::Xfs:
        return "xfs";
    case FsKind::Btrfs:
        return "btrfs";
    case FsKind::Vfat:
        return "vfat";
    case FsKind::Exfat:
        return "exfat";
    case FsKind::Ntfs:
        return "ntfs";
    case FsKind::Swap:
        return "swap";
    case FsKind::Luks:
        return "LUKS (encrypted volume)";
    case FsKind::Lvm:
        return "LVM2 physical volume";
    case FsKind::Iso9660:
        return "iso9660";
    case FsKind::Squashfs:
        return "squashfs";
    case FsKind::F2fs:
        return "f2fs";
    case FsKind::Unknown:
        break;
    }
    return "unknown";
}

bool fs_kind_is_ext(FsKind kind)
{
    return kind == FsKind::Ext2 || kind == FsKind::Ext3 || kind == FsKind::Ext4;
}

Result<FsKind> detect_filesystem(BlockDevice& device)
{
    // The first 2 KiB hold the boot-sector style signatures, LVM's label and ext's superblock.
    auto head = TRY(bytes_at(device, 0, 2048));
    if (head.empty())
        head = TRY(bytes_at(device, 0, static_cast<size_t>(device.size())));
    if (has(head, 0, std::string_view("LUKS\xba\xbe", 6)) || has(head, 0, std::string_view("SKUL\xba\xbe", 6)))
        return FsKind::Luks;
    for (size_t sector = 0; sector < 4; ++sector) {
        if (has(head, sector * 512, "LABELONE") && has(head, sector * 512 + 24, "LVM2 001"))
            return FsKind::Lvm;
    }
    if (has(head, 0, "XFSB"))
        return FsKind::Xfs;
    if (has(head, 0, "hsqs"))
        return FsKind::Squashfs;
    if (has(head, 3, "NTFS    "))
        return FsKind::Ntfs;
    if (has(head, 3, "EXFAT   "))
        return FsKind::Exfat;
    bool boot_signature = head.size() >= 512 && head[510] == 0x55 && head[511] == 0xAA;
    if (boot_signature && (has(head, 54, "FAT12   ") || has(head, 54, "FAT16   ") || has(head, 82, "FAT32   ")))
        return FsKind::Vfat;
    if (head.size() >= k_ext_superblock + 1024) {
        const uint8_t* sb = head.data() + k_ext_superblock;
        if (load_le16(sb + 56) == k_ext_magic) {
            uint32_t compat = load_le32(sb + 92);
            uint32_t incompat = load_le32(sb + 96);
            uint32_t ro_compat = load_le32(sb + 100);
            if ((incompat & ~k_ext3_incompat) || (ro_compat & ~k_ext3_ro_compat))
                return FsKind::Ext4;
            return (compat & k_ext_compat_has_journal) ? FsKind::Ext3 : FsKind::Ext2;
        }
        if (load_le32(sb) == 0xF2F52010)
            return FsKind::F2fs;
    }
    auto swap = TRY(bytes_at(device, 4086, 10));
    if (has(swap, 0, "SWAPSPACE2") || has(swap, 0, "SWAP-SPACE"))
        return FsKind::Swap;
    auto iso = TRY(bytes_at(device, 32769, 5));
    if (has(iso, 0, "CD001"))
        return FsKind::Iso9660;
    auto btrfs = TRY(bytes_at(device, 65600, 8));
    if (has(btrfs, 0, "_BHRfS_M"))
        return FsKind::Btrfs;
    return FsKind::Unknown;
}

} // namespace bulwark::disk
