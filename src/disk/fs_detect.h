// Which filesystem (or other volume format) a device holds, by its magic numbers, so that a
// volume the reader cannot open is named ("unsupported filesystem: xfs") instead of failing
// obscurely inside a filesystem library.
//
// Signatures looked for (offsets in bytes from the start of the volume):
//   LUKS "LUKS\xba\xbe" or "SKUL\xba\xbe" at 0; LVM2 "LABELONE" at 0, 512, 1024 or 1536;
//   XFS "XFSB" at 0; squashfs "hsqs" at 0; NTFS "NTFS    " and exFAT "EXFAT   " at 3;
//   FAT "FAT12   "/"FAT16   " at 54 or "FAT32   " at 82 with 0x55 0xAA at 510;
//   ext2/3/4 0xEF53 (le16) at 1080; f2fs 0xF2F52010 (le32) at 1024; swap "SWAPSPACE2" or
//   "SWAP-SPACE" at 4086; btrfs "_BHRfS_M" at 65600; ISO 9660 "CD001" at 32769.
// The ones at the start of the volume are checked first: a newer format written over an old
// ext filesystem leaves the old superblock behind.
#pragma once

#include "disk/block_device.h"

namespace bulwark::disk {

enum class FsKind { Unknown, Ext2, Ext3, Ext4, Xfs, Btrfs, Vfat, Exfat, Ntfs, Swap, Luks, Lvm, Iso9660, Squashfs, F2fs };

const char* fs_kind_name(FsKind kind);
bool fs_kind_is_ext(FsKind kind);

// Only read errors are errors; a device with no known signature is FsKind::Unknown.
Result<FsKind> detect_filesystem(BlockDevice& device);

} // namespace bulwark::disk
