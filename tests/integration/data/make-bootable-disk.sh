#!/usr/bin/env bash
# Makes a raw disk that boots through its own bootloader (no -kernel): an MBR with
# syslinux's boot code, partition 1 FAT with syslinux + the demo guest's kernel and initrd,
# partition 2 the demo guest's ext4 root. Used to test images without direct-boot files.
#   make-bootable-disk.sh GUEST_DIR OUT.raw
set -euo pipefail
guest=$1
out=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

deb=$(ls "$(dirname "$(readlink -f "$guest")")"/debs/linux-image-*.deb 2>/dev/null | head -n 1 || true)
[[ -n "$deb" ]] || deb=$(ls "$HOME"/.cache/bulwark/debs/linux-image-*.deb | head -n 1)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" --wildcards './boot/vmlinuz-*'
cp "$work"/boot/vmlinuz-* "$work/vmlinuz"

cmdline=$(sed 's#root=[^ ]*##; s#rootfstype=[^ ]*##' "$guest/cmdline")
cat >"$work/syslinux.cfg" <<CFG
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND $cmdline root=/dev/vda2 rootfstype=ext4
CFG

fat_mib=48
truncate -s ${fat_mib}M "$work/fat.img"
mkfs.vfat -n BOOT "$work/fat.img" >/dev/null
MTOOLS_SKIP_CHECK=1 mcopy -i "$work/fat.img" "$work/vmlinuz" "$guest/initrd.img" "$work/syslinux.cfg" ::
syslinux --install "$work/fat.img"

qemu-img convert -O raw "$guest/root.qcow2" "$work/root.raw"
root_bytes=$(stat -c %s "$work/root.raw")
root_mib=$(((root_bytes + (1 << 20) - 1) >> 20))

total_mib=$((1 + fat_mib + root_mib))
truncate -s ${total_mib}M "$work/disk.raw"
printf 'label: dos\nstart=2048, size=%d, type=c, bootable\nstart=%d, size=%d, type=83\n' \
    $((fat_mib * 2048)) $((2048 + fat_mib * 2048)) $((root_mib * 2048)) | sfdisk -q "$work/disk.raw"
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
dd if="$work/fat.img" of="$work/disk.raw" bs=1M seek=1 conv=notrunc status=none
dd if="$work/root.raw" of="$work/disk.raw" bs=1M seek=$((1 + fat_mib)) conv=notrunc status=none
mv "$work/disk.raw" "$out"
