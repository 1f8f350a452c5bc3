#!/bin/sh
# Rebuilds corpus/qcow2_probe from images made by the installed qemu-img. Each corpus file is
# the first 4096 bytes of an image followed by its file size as a little-endian u64 (the
# input layout of qcow2_probe_fuzz.cpp).
set -eu
out="$(cd "$(dirname "$0")" && pwd)/corpus/qcow2_probe"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

emit() {  # emit <image> <corpus name>
    size=$(stat -c %s "$1")
    head -c 4096 "$1" > "$tmp/head"
    # Pad short images to 4096 so the trailer lands at offset 4096.
    truncate -s 4096 "$tmp/head"
    python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<Q", int(sys.argv[1])))' "$size" >> "$tmp/head"
    mv "$tmp/head" "$out/$2"
}

qemu-img create -q -f qcow2 -o compat=0.10 "$tmp/v2.qcow2" 64M && emit "$tmp/v2.qcow2" v2-64M
qemu-img create -q -f qcow2 "$tmp/v3.qcow2" 1G && emit "$tmp/v3.qcow2" v3-1G
qemu-img create -q -f qcow2 -o cluster_size=512 "$tmp/small.qcow2" 10M && emit "$tmp/small.qcow2" v3-cluster512
qemu-img create -q -f qcow2 -o cluster_size=2M,extended_l2=on "$tmp/l2.qcow2" 20G && emit "$tmp/l2.qcow2" v3-2M-extended-l2
qemu-img create -q -f qcow2 -o compression_type=zstd "$tmp/zstd.qcow2" 100M && emit "$tmp/zstd.qcow2" v3-zstd
qemu-img create -q -f qcow2 "$tmp/snap.qcow2" 32M && qemu-img snapshot -c first "$tmp/snap.qcow2" && emit "$tmp/snap.qcow2" v3-snapshot
qemu-img create -q -f qcow2 -b "$tmp/v3.qcow2" -F qcow2 "$tmp/backed.qcow2" && emit "$tmp/backed.qcow2" v3-backing-file
qemu-img create -q -f qed "$tmp/img.qed" 64M && emit "$tmp/img.qed" qed
qemu-img create -q -f vmdk "$tmp/img.vmdk" 64M && emit "$tmp/img.vmdk" vmdk
truncate -s 1M "$tmp/raw" && emit "$tmp/raw" raw-1M
# A whole tiny raw disk: one sector with an MBR signature (no trailer: the file is the input).
python3 -c 'import sys; sys.stdout.buffer.write(bytes(510) + b"\x55\xaa")' > "$out/raw-mbr-512"
printf 'QFI\373' > "$out/qcow2-magic-only"
