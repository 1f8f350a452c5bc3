#!/usr/bin/env bash
# Bulwark demo/test guest recipe.
#
# Builds, from Debian 12 packages only, a tiny guest that boots under TCG in a
# few seconds:  vmlinux (PVH-bootable ELF), initrd.img (busybox initramfs that
# loads the virtio/ext4 modules and switch_roots), root.qcow2 (ext4 root disk
# with busybox init, acpid and qemu-guest-agent) and cmdline.
#
#   usage: guest/build.sh [OUTDIR]      (prints OUTDIR on stdout when done)
#
# OUTDIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/bulwark/guest.  It is a
# symlink to a sibling directory named after the recipe hash; a rebuild
# happens only when this script or a file under files/ changes.  See README.md.
#
# Environment:
#   BULWARK_DEB_CACHE   where downloaded .debs are kept
#                       (default ${XDG_CACHE_HOME:-$HOME/.cache}/bulwark/debs)
#   BULWARK_KERNEL_PKG  force a kernel package (default: what linux-image-amd64
#                       depends on, i.e. the current Debian 12 6.1 kernel)
set -euo pipefail
umask 022
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/bulwark
out=${1:-$cache_root/guest}
out=${out%/}
[[ $out == /* ]] || out=$PWD/$out
deb_cache=${BULWARK_DEB_CACHE:-$cache_root/debs}

# Recipe knobs (part of the hash, since they live in this file).
ROOT_DISK_MIB=128
ROOT_UUID=6b756c77-6172-4b00-8000-67756573740a   # fixed so rebuilds are comparable
# no_timer_check: under host CPU contention the IO-APIC timer self-test can
# misfire under TCG and panic ("IO-APIC + timer doesn't work!")
CMDLINE="console=ttyS0 quiet loglevel=3 no_timer_check root=/dev/vda rootfstype=ext4"
# insmod order (there is no modules.dep in the .deb); missing/built-in ones are skipped
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
         virtio_mmio virtio_blk failover net_failover virtio_net virtio_console
         crc16 mbcache jbd2 crc32c_generic ext4 evdev button)
OUTPUTS=(vmlinux initrd.img root.qcow2 cmdline)

log() { printf 'guest/build: [%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- cache check
recipe_hash() {
    (cd "$here" && sha256sum build.sh files/*) | sha256sum | cut -c1-64
}
outputs_current() {
    [[ -f $out/stamp && $(<"$out/stamp") == "$1" ]] || return 1
    local f
    for f in "${OUTPUTS[@]}"; do [[ -s $out/$f ]] || return 1; done
}
want=$(recipe_hash)
if outputs_current "$want"; then
    printf '%s\n' "$out"
    exit 0
fi

# ---------------------------------------------------------------- host tools
as_root() {
    if [[ $(id -u) == 0 ]]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root for: $*"; fi
}
ensure_tools() {   # pairs of  command:package
    local pair missing=()
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
    done
    ((${#missing[@]})) || return 0
    log "installing host tools: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
        { apt_update && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
}
apt_updated=0
apt_update() {   # at most once per run, and only when something was missing from the lists
    ((apt_updated)) && return 1
    apt_updated=1
    log "apt lists incomplete; running apt-get update"
    as_root apt-get update -q >&2
}
export PATH=$PATH:/usr/sbin:/sbin
ensure_tools apt-get:apt dpkg-deb:dpkg cpio:cpio mkfs.ext4:e2fsprogs debugfs:e2fsprogs \
    qemu-img:qemu-utils xz:xz-utils flock:util-linux sha256sum:coreutils

# ---------------------------------------------------------------- lock + scratch
parent=$(dirname "$out")
mkdir -p "$parent" "$deb_cache"
exec 9>"$parent/.$(basename "$out").lock"
flock 9
if outputs_current "$want"; then   # someone else built it while we waited
    printf '%s\n' "$out"
    exit 0
fi
work=$(mktemp -d "$parent/.$(basename "$out").tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
x=$work/x          # every .deb extracted here (never installed on the host)
ini=$work/initrd   # initramfs staging
root=$work/root    # root disk staging
dst=$work/out      # finished outputs
mkdir -p "$x" "$ini" "$root" "$dst" "$work/q"

# ---------------------------------------------------------------- downloads
apt_opts=()
# as root, apt would warn that _apt cannot write into our scratch dir
[[ $(id -u) == 0 ]] && apt_opts=(-o APT::Sandbox::User=root)

# print_uris PKG...: "'URL' FILE SIZE SHA256:HEX" per package (candidate versions)
print_uris() { (cd "$work/q" && apt-get download -q --print-uris "$@" 2>/dev/null); }

# fetch PKG...: make sure the candidate .deb of every PKG is in $deb_cache
# (checksum-verified; downloaded with apt-get download, never installed) and
# extract each one into $x with dpkg-deb -x.
fetch() {
    local uris file sum missing=() debs=()
    uris=$(print_uris "$@") || { apt_update && uris=$(print_uris "$@"); } ||
        die "cannot locate Debian packages: $*"
    while read -r _ file _ sum; do
        sum=${sum#SHA256:}
        debs+=("$file")
        if ! { [[ -f $deb_cache/$file ]] &&
               printf '%s  %s\n' "$sum" "$deb_cache/$file" | sha256sum -c --status; }; then
            missing+=("${file%%_*}")
        fi
    done <<<"$uris"
    ((${#debs[@]} == $#)) || die "apt found ${#debs[@]} of $# packages: $*"
    if ((${#missing[@]})); then
        log "downloading ${missing[*]}"
        rm -f "$work/q"/*
        (cd "$work/q" && apt-get download -q "${apt_opts[@]}" "${missing[@]}" >&2) ||
            die "apt-get download failed"
        while read -r _ file _ sum; do
            [[ -f $work/q/$file ]] || continue
            printf '%s  %s\n' "${sum#SHA256:}" "$work/q/$file" | sha256sum -c --status ||
                die "checksum mismatch for $file"
            mv -f "$work/q/$file" "$deb_cache/$file"
        done <<<"$uris"
    fi
    for file in "${debs[@]}"; do
        [[ -f $deb_cache/$file ]] || die "missing $file after download"
        dpkg-deb -x "$deb_cache/$file" "$x"
    done
}

# Kernel: the package the linux-image-amd64 metapackage currently points at.
kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-6\.1\.[^ ]*-amd64\)$/\1/p' | head -n1
}
kpkg=${BULWARK_KERNEL_PKG:-}
if [[ -z $kpkg ]]; then
    kpkg=$(kernel_pkg) || true
    if [[ -z $kpkg ]] && apt_update; then kpkg=$(kernel_pkg) || true; fi
    [[ -n $kpkg ]] || die "cannot resolve linux-image-amd64 to a linux-image-6.1.*-amd64 package"
fi
log "kernel package: $kpkg"

# qemu-guest-agent plus the closure of its lib*/zlib* Depends/PreDepends (the
# shared libraries; init-system-helpers & co. are not needed in the guest).
# Breadth-first, one apt-cache call per level.
declare -A seen=([qemu-guest-agent]=1)
qga_pkgs=(qemu-guest-agent)
frontier=(qemu-guest-agent)
while ((${#frontier[@]})); do
    next=()
    while read -r dep; do
        [[ ($dep == lib* || $dep == zlib*) && -z ${seen[$dep]:-} ]] || continue
        seen[$dep]=1
        next+=("$dep")
    done < <(apt-cache depends "${frontier[@]}" 2>/dev/null |
             sed -n 's/^ *|\{0,1\}\(Pre\)\{0,1\}Depends: \([^< ]*\)$/\2/p')
    qga_pkgs+=("${next[@]}")
    frontier=("${next[@]}")
done
log "qemu-ga packages: ${qga_pkgs[*]}"
fetch "$kpkg" busybox-static "${qga_pkgs[@]}"
log "packages extracted"

# ---------------------------------------------------------------- kernel
kver=$(basename "$(find "$x/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n1)")
[[ -n $kver ]] || die "no module tree in $kpkg"
bz=$x/boot/vmlinuz-$kver
# The bzImage payload is xz; find the stream and decompress it to the ELF.
for off in $(grep -obUaF $'\xfd7zXZ' "$bz" | cut -d: -f1); do
    # (xz stops at the end of the stream; tail's SIGPIPE must not count as failure)
    if xz -dc --single-stream < <(tail -c +$((off + 1)) "$bz" 2>/dev/null) >"$dst/vmlinux" 2>/dev/null &&
        [[ $(head -c4 "$dst/vmlinux" | od -An -c | tr -d ' ') == '177ELF' ]]; then
        break
    fi
    rm -f "$dst/vmlinux"
done
[[ -s $dst/vmlinux ]] || die "could not extract an ELF vmlinux from $bz"
log "vmlinux: $(du -h "$dst/vmlinux" | cut -f1) (kernel $kver)"

# ---------------------------------------------------------------- helpers
# resolve PATH inside tree ROOT, following symlinks as if ROOT were /
resolve_in() {
    local r=$1 p=$2 t i=0
    while [[ -L $r$p ]]; do
        t=$(readlink "$r$p")
        if [[ $t == /* ]]; then p=$t; else p=$(dirname "$p")/$t; fi
        ((++i < 40)) || die "symlink loop at $p"
    done
    printf '%s\n' "$r$p"
}
bb=$x/bin/busybox
[[ -x $bb ]] || die "busybox-static has no /bin/busybox"
# install busybox at DIR/usr/bin/busybox with all applet links (absolute symlinks)
install_busybox() {
    local d=$1 a
    install -D -m 0755 "$bb" "$d/usr/bin/busybox"
    mkdir -p "$d/usr/bin" "$d/usr/sbin"
    while read -r a; do
        a=${a#/}
        a=${a#usr/}       # merged /usr: bin/x and usr/bin/x are the same place
        [[ $a == bin/* || $a == sbin/* ]] || continue     # e.g. /linuxrc
        [[ -e $d/usr/$a || -L $d/usr/$a ]] && continue
        ln -s /usr/bin/busybox "$d/usr/$a"
    done < <("$bb" --list-full)
}
merged_usr() {
    local d=$1
    mkdir -p "$d/usr/bin" "$d/usr/sbin" "$d/usr/lib" "$d/usr/lib64"
    ln -s usr/bin "$d/bin"; ln -s usr/sbin "$d/sbin"
    ln -s usr/lib "$d/lib"; ln -s usr/lib64 "$d/lib64"
}

# ---------------------------------------------------------------- initramfs
merged_usr "$ini"
install_busybox "$ini"
mkdir -p "$ini/dev" "$ini/proc" "$ini/sys" "$ini/newroot" "$ini/etc" "$ini/usr/lib/modules/$kver"
for m in "${MODULES[@]}"; do
    f=$(find "$x/lib/modules/$kver" -name "$m.ko" -print -quit)
    if [[ -z $f ]]; then
        grep -q "/$m.ko\$" "$x/lib/modules/$kver/modules.builtin" ||
            log "warning: module $m neither shipped nor built in; skipped"
        continue
    fi
    install -m 0644 "$f" "$ini/usr/lib/modules/$kver/$m.ko"
    printf '%s\n' "$m" >>"$ini/etc/modules"
done
install -m 0755 "$here/files/init" "$ini/init"
(cd "$ini" && find . -mindepth 1 -print0 | sort -z |
    cpio --quiet --null -o -H newc -R 0:0 --reproducible) >"$dst/initrd.img"
log "initrd.img: $(du -h "$dst/initrd.img" | cut -f1)"

# ---------------------------------------------------------------- root disk
merged_usr "$root"
install_busybox "$root"
mkdir -p "$root"/{dev,proc,sys,run,tmp,root,mnt,etc/init.d,etc/acpi/PWRF,var/log,var/lib,var/tmp}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 0700 "$root/root"
ln -s ../run "$root/var/run"

# qemu-ga and the shared libraries it needs, resolved by the extracted ld.so
# against the extracted tree; a library missing from it would be taken from the
# identical Debian 12 host (with a warning) rather than fail.
install -m 0755 "$x/usr/sbin/qemu-ga" "$root/usr/sbin/qemu-ga"
ldso=$(resolve_in "$x" /lib64/ld-linux-x86-64.so.2)
[[ -x $ldso ]] || die "no ld.so in extracted libc6"
libdir=/usr/lib/x86_64-linux-gnu
mkdir -p "$root$libdir"
install -m 0755 "$ldso" "$root$libdir/ld-linux-x86-64.so.2"
ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$root/usr/lib64/ld-linux-x86-64.so.2"
listing=$("$ldso" --library-path "$x/lib/x86_64-linux-gnu:$x/usr/lib/x86_64-linux-gnu" --list "$x/usr/sbin/qemu-ga")
while read -r name arrow path _; do
    [[ $arrow == '=>' && $name != /* ]] || continue     # skip vdso and ld.so itself
    [[ $path == not ]] && die "qemu-ga needs $name, found neither in the packages nor on the host"
    if [[ $path != "$x"/* ]]; then
        log "warning: $name not in the extracted packages; using the host copy $path"
    fi
    install -m 0644 "$(readlink -f "$path")" "$root$libdir/$name"
done <<<"$listing"
# glibc dlopen()s libgcc_s for pthread_cancel/unwinding; ship it too
if [[ ! -e $root$libdir/libgcc_s.so.1 && -e $x/lib/x86_64-linux-gnu/libgcc_s.so.1 ]]; then
    install -m 0644 "$(resolve_in "$x" /lib/x86_64-linux-gnu/libgcc_s.so.1)" "$root$libdir/libgcc_s.so.1"
fi
# sanity: the guest tree must satisfy qemu-ga on its own
if "$root$libdir/ld-linux-x86-64.so.2" --inhibit-cache --library-path "$root$libdir" --list "$root/usr/sbin/qemu-ga" |
    grep -v "=> $root$libdir/" | grep -q '=>'; then
    die "qemu-ga library closure incomplete in the guest tree"
fi

# our files
install -m 0755 "$here/files/rcS"            "$root/etc/init.d/rcS"
install -m 0755 "$here/files/rcK"            "$root/etc/init.d/rcK"
install -m 0644 "$here/files/inittab"        "$root/etc/inittab"
install -m 0755 "$here/files/power-button"   "$root/etc/acpi/PWRF/00000080"
install -m 0755 "$here/files/shutdown"       "$root/usr/sbin/shutdown"
install -m 0755 "$here/files/bulwark-qga"    "$root/usr/sbin/bulwark-qga"
install -m 0755 "$here/files/udhcpc.script"  "$root/etc/udhcpc.script"
printf 'bulwark-guest\n' >"$root/etc/hostname"
printf '/dev/vda / ext4 rw,relatime 0 1\nproc /proc proc nosuid,nodev,noexec 0 0\nsysfs /sys sysfs nosuid,nodev,noexec 0 0\n' >"$root/etc/fstab"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' >"$root/etc/shadow"
chmod 0640 "$root/etc/shadow"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"$root/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n127.0.1.1 bulwark-guest\n' >"$root/etc/hosts"
cat >"$root/etc/os-release" <<EOF
PRETTY_NAME="Bulwark guest (Debian 12 kernel $kver, busybox)"
NAME="Bulwark guest"
ID=bulwark-guest
ID_LIKE=debian
VERSION_ID="1"
VERSION="1 (recipe ${want:0:12})"
EOF
printf '%s\n' "$want" >"$root/etc/bulwark-recipe"

raw=$work/root.raw
truncate -s "${ROOT_DISK_MIB}M" "$raw"
mkfs.ext4 -q -F -b 4096 -m 0 -L bulwark-root -U "$ROOT_UUID" \
    -E lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0 -d "$root" "$raw"
# mke2fs -d keeps the builder's uid/gid; when not building as root, chown to 0:0 offline.
if [[ $(id -u) != 0 || $(id -g) != 0 ]]; then
    (cd "$root" && find . -mindepth 1 | sed 's|^\.||' |
        while read -r p; do printf 'sif %s uid 0\nsif %s gid 0\n' "$p" "$p"; done) >"$work/chown.cmds"
    debugfs -w -f "$work/chown.cmds" "$raw" >/dev/null 2>&1 || die "debugfs chown failed"
fi
e2fsck -fn "$raw" >/dev/null 2>&1 || die "e2fsck found problems in the new root fs"
qemu-img convert -q -f raw -O qcow2 "$raw" "$dst/root.qcow2"
rm -f "$raw"
log "root.qcow2: $(du -h "$dst/root.qcow2" | cut -f1) used, ${ROOT_DISK_MIB} MiB virtual"

printf '%s\n' "$CMDLINE" >"$dst/cmdline"
printf '%s\n' "$kpkg" >"$dst/kernel-package"
printf '%s\n' "$want" >"$dst/stamp"     # written last

# ---------------------------------------------------------------- publish
# OUTDIR is a symlink to .NAME-<hash>; swapping the symlink is one rename(2),
# so readers see either the complete old or the complete new outputs.
name=$(basename "$out")
ver=.$name-${want:0:16}
rm -rf "${parent:?}/$ver"
chmod 0755 "$dst"
mv "$dst" "$parent/$ver"
if [[ -d $out && ! -L $out ]]; then   # a plain directory from elsewhere: move it aside
    mv "$out" "$parent/.$name.old.$$"
fi
ln -sfn "$ver" "$work/link"
mv -T "$work/link" "$out"
# drop superseded versions (running VMs keep their open files)
for old in "$parent/.$name-"???????????????? "$parent/.$name.old."*; do
    [[ -e $old && $old != "$parent/$ver" ]] && rm -rf "$old"
done
log "done"
printf '%s\n' "$out"
