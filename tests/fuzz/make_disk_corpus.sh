#!/bin/sh
# Rebuilds the seed corpora of the disk reader fuzz targets from images made by the installed
# qemu-img, qemu-io, sfdisk, mke2fs and debugfs. Every seed is a whole (small) file:
#   corpus/qcow2_reader/  qcow2 images with 512-byte clusters (plain, v2, zero clusters,
#                         zlib and zstd compressed, a raw backing file)
#   corpus/partition/     tiny disks: GPT, MBR with logical partitions, protective MBR only
#   corpus/extfs/         the head of small ext2/ext4 images (the target zero-extends them)
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

q="$here/corpus/qcow2_reader"
p="$here/corpus/partition"
e="$here/corpus/extfs"
mkdir -p "$q" "$p" "$e"

# ---- qcow2_reader ----
small() {  # small <out> <qemu-img create options>
    qemu-img create -q -f qcow2 -o "cluster_size=512,$2" "$1" 64K
}
small "$tmp/data.qcow2" compat=1.1
qemu-io -f qcow2 -c 'write -P 0x41 0 1k' -c 'write -P 0x42 33k 512' "$tmp/data.qcow2" >/dev/null
cp "$tmp/data.qcow2" "$q/v3-data"
small "$tmp/v2.qcow2" compat=0.10
qemu-io -f qcow2 -c 'write -P 0x43 1k 1k' "$tmp/v2.qcow2" >/dev/null
cp "$tmp/v2.qcow2" "$q/v2-data"
small "$tmp/zero.qcow2" compat=1.1
qemu-io -f qcow2 -c 'write -P 0x44 0 2k' -c 'write -z 512 512' -c 'write -z -u 1k 512' "$tmp/zero.qcow2" >/dev/null
cp "$tmp/zero.qcow2" "$q/v3-zero-clusters"
python3 -c 'import sys; sys.stdout.buffer.write((b"golden image text " * 200)[:3072])' > "$tmp/text.raw"
truncate -s 64K "$tmp/text.raw"
qemu-img convert -q -c -f raw -O qcow2 -o cluster_size=512 "$tmp/text.raw" "$q/v3-zlib"
qemu-img convert -q -c -f raw -O qcow2 -o cluster_size=512,compression_type=zstd "$tmp/text.raw" "$q/v3-zstd"
truncate -s 64K "$tmp/base"
qemu-img create -q -f qcow2 -o cluster_size=512 -b base -F raw "$tmp/raw-backed.qcow2" 64K
qemu-io -f qcow2 -c 'write -P 0x45 4k 512' "$tmp/raw-backed.qcow2" >/dev/null
cp "$tmp/raw-backed.qcow2" "$q/v3-raw-backing"
qemu-img create -q -f qcow2 -o cluster_size=512 -u -b self -F qcow2 "$q/v3-qcow2-backing-loop" 64K

# ---- partition ----
truncate -s 6144 "$tmp/gpt.img"
printf 'label: gpt\ntable-length: 4\nfirst-lba: 3\nstart=3, size=4, type=linux, name="root"\nstart=7, size=2, type=swap\n' \
    | sfdisk -q --no-reread --no-tell-kernel "$tmp/gpt.img"
cp "$tmp/gpt.img" "$p/gpt-tiny"
python3 - "$p" <<'PY'
import struct, sys
out = sys.argv[1]
def entry(status, ptype, lba, count):
    return struct.pack("<B3sB3sII", status, b"\0\0\0", ptype, b"\0\0\0", lba, count)
def sector(entries):
    s = bytearray(512)
    for i, e in enumerate(entries):
        s[446 + 16 * i:446 + 16 * (i + 1)] = e
    s[510:512] = b"\x55\xaa"
    return bytes(s)
# MBR: a primary at 1, an extended partition at 4 (8 sectors) holding two logical partitions.
disk = bytearray(16 * 512)
disk[0:512] = sector([entry(0x80, 0x83, 1, 2), entry(0, 0x05, 4, 8), entry(0, 0x0c, 12, 2)])
disk[4 * 512:5 * 512] = sector([entry(0, 0x83, 1, 2), entry(0, 0x05, 3, 4)])
disk[7 * 512:8 * 512] = sector([entry(0, 0x82, 1, 2)])
open(out + "/mbr-logical", "wb").write(disk)
# A protective MBR with no GPT behind it.
open(out + "/protective-only", "wb").write(sector([entry(0, 0xEE, 1, 15)]) + bytes(15 * 512))
PY

# ---- extfs ----
# Small images with lost+found removed, so that the files land right after the metadata,
# then cut after their last non-zero byte.
mkext() {  # mkext <out> <mke2fs options...>
    out="$1"
    shift
    mke2fs -q -F -b 1024 -N 24 -m 0 "$@" "$tmp/fs.img" 128K
    printf 'hello\n' > "$tmp/hello"
    printf 'ID=debian\n' > "$tmp/os"
    debugfs -w -f - "$tmp/fs.img" >/dev/null 2>&1 <<CMDS
rmdir lost+found
mkdir etc
mkdir a
mkdir a/b
write $tmp/hello a/b/c
write $tmp/os etc/os-release
symlink lib etc
symlink link /a
symlink loop loop
CMDS
    # Zero the blocks the block bitmap marks free (the old lost+found), then cut the zero tail.
    python3 - "$tmp/fs.img" "$out" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
first_data_block = struct.unpack_from("<I", d, 1024 + 20)[0]
bitmap_block = struct.unpack_from("<I", d, 2048)[0]  # group 0's descriptor (1 KiB blocks)
bitmap = d[bitmap_block * 1024:(bitmap_block + 1) * 1024]
for block in range(first_data_block, len(d) // 1024):
    bit = block - first_data_block
    if not bitmap[bit // 8] & (1 << (bit % 8)):
        d[block * 1024:(block + 1) * 1024] = bytes(1024)
open(sys.argv[2], "wb").write(bytes(d).rstrip(b"\0"))
PY
}
mkext "$e/ext2" -t ext2 -O ^resize_inode,^dir_index,^ext_attr
mkext "$e/ext4" -t ext4 -O ^has_journal,^resize_inode,^ext_attr,^flex_bg -I 128
