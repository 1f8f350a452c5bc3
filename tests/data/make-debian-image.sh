#!/usr/bin/env bash
# Test data for offline image vetting (issue 3): real Debian 12 disk images, one clean and
# two with known problems planted, and the ground truth a scanner must find in them.
#
#   usage: tests/data/make-debian-image.sh [OUTDIR]     (prints OUTDIR on its last line)
#
# The images are built once, as root, from `debootstrap --variant=minbase bookworm` (plus
# sudo) and never booted or mounted. The outputs live in
# ${XDG_CACHE_HOME:-$HOME/.cache}/bulwark/.debian-image-<recipe hash>/ and OUTDIR (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/bulwark/debian-image) is a symlink to that directory; a
# rebuild happens only when this script changes. A cached run only hashes this file.
#
# Outputs (tests/data/debian-image.md says what each is for and what was planted):
#   clean.raw, clean.qcow2, clean-compressed.qcow2   GPT disk, one ext4 partition at 1 MiB
#   inventory.txt          dpkg-query over the clean root: the packages a scanner must list
#   planted.raw, planted.qcow2                       the same system with problems planted
#   planted-inventory.txt  inventory of the planted image (one version differs)
#   planted-clone.qcow2    MBR disk: the clean system plus planted.qcow2's SSH host key and
#                          machine-id, so two images share one identity
#   planted.json           every planted problem: path, finding kind and subject, values
#   build-info.txt         mirror, debootstrap version, sizes, how the inventory was made
#   stamp                  the recipe hash (written last)
#
# Environment:
#   BULWARK_DEBIAN_MIRROR   default http://deb.debian.org/debian
#   BULWARK_DEB_CACHE       .deb cache for debootstrap --cache-dir
#                           (default ${XDG_CACHE_HOME:-$HOME/.cache}/bulwark/debootstrap-debs)
set -euo pipefail
umask 022
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/bulwark
out=${1:-$cache_root/debian-image}
out=${out%/}
[[ $out == /* ]] || out=$PWD/$out
mirror=${BULWARK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
deb_cache=${BULWARK_DEB_CACHE:-$cache_root/debootstrap-debs}

# Recipe knobs (part of the hash, since they live in this file).
SUITE=bookworm
INCLUDE=sudo                 # minbase has no /etc/sudoers; without it a sudoers.d rule is inert
FS_MIB=512                   # ext4 file system; the disk is 1 MiB larger at each end
FS_UUID=4c7b2f60-6275-4b00-8000-64656269616e
DISK_GUID=4c7b2f60-6275-4b00-8000-6469736b0001
PART_UUID=4c7b2f60-6275-4b00-8000-706172740001
MBR_ID=0x62756c77
VULN_PKG=libc6               # rewritten to the version bookworm was released with
VULN_VERSION=2.36-9
OUTPUTS=(clean.raw clean.qcow2 clean-compressed.qcow2 inventory.txt planted.raw planted.qcow2
         planted-inventory.txt planted-clone.qcow2 planted.json build-info.txt)

log() { printf 'make-debian-image: [%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- cache check
want=$(sha256sum "$self" | cut -c1-64)
ver_dir=$cache_root/.debian-image-${want:0:16}
complete() {   # DIR: holds every output of this recipe
    [[ -f $1/stamp && $(<"$1/stamp") == "$want" ]] || return 1
    local f
    for f in "${OUTPUTS[@]}"; do [[ -s $1/$f ]] || return 1; done
}
link_out() {   # OUTDIR -> ver_dir, swapped with one rename(2)
    [[ -L $out && $(readlink "$out") == "$ver_dir" ]] && return 0
    mkdir -p "$(dirname "$out")"
    if [[ -e $out && ! -L $out ]]; then
        die "$out exists and is not a symlink; move it away"
    fi
    local tmp
    tmp=$(dirname "$out")/.$(basename "$out").link.$$
    ln -sfn "$ver_dir" "$tmp"
    mv -T "$tmp" "$out"
}
if complete "$ver_dir"; then
    link_out
    printf '%s\n' "$out"
    exit 0
fi

# ---------------------------------------------------------------- host tools
[[ $(id -u) == 0 ]] || die "must run as root (debootstrap, and files owned by other users)"
export PATH=$PATH:/usr/sbin:/sbin
ensure_tools() {   # pairs of  command:package
    local pair missing=()
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
    done
    ((${#missing[@]})) || return 0
    log "installing host tools: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
        { apt-get update -q >&2 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
}
ensure_tools debootstrap:debootstrap mkfs.ext4:e2fsprogs e2fsck:e2fsprogs debugfs:e2fsprogs \
    sfdisk:fdisk qemu-img:qemu-utils ssh-keygen:openssh-client openssl:openssl \
    flock:util-linux dpkg-query:dpkg python3:python3

# ---------------------------------------------------------------- lock + scratch
mkdir -p "$cache_root" "$deb_cache"
exec 9>"$cache_root/.debian-image.lock"
flock 9
if complete "$ver_dir"; then   # someone else built it while we waited
    link_out
    printf '%s\n' "$out"
    exit 0
fi
work=$(mktemp -d "$cache_root/.debian-image.tmp.XXXXXX")
# debootstrap mounts /proc and /sys (and may bind /dev) inside the target; if it dies
# half-way they stay mounted, and rm -rf must never walk into them.
mounts_under() {   # DIR: mount points below DIR, deepest first
    awk -v w="$1/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r
}
unmount_under() {   # DIR: umount (a busy one is retried, then detached lazily); fails if any remain
    local m try
    for try in 1 2 3 4 5; do
        [[ -z $(mounts_under "$1") ]] && return 0
        while read -r m; do
            umount "$m" 2>/dev/null || { ((try == 5)) && umount -l "$m" 2>/dev/null; } || true
        done < <(mounts_under "$1")
        ((try < 5)) && sleep 1
    done
    [[ -z $(mounts_under "$1") ]]
}
cleanup() {
    if ! unmount_under "$work"; then
        log "warning: mounts remain under $work; not removing it"
        return
    fi
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Left behind by a build that was killed outright (we hold the lock: none is running).
for stale in "$cache_root/.debian-image.tmp."*; do
    [[ -d $stale && $stale != "$work" ]] || continue
    log "removing the leftovers of an interrupted build: $stale"
    unmount_under "$stale" && rm -rf --one-file-system "$stale"
done
root=$work/root        # the debootstrapped system: the clean image
planted=$work/planted  # a copy with every problem planted
clone=$work/clone      # a copy with only the shared identity planted
dst=$work/out
mkdir -p "$dst" "$work/keys"

# ---------------------------------------------------------------- debootstrap
# Cleaned beforehand: stale partial downloads would make debootstrap fail.
find "$deb_cache" -maxdepth 1 -name '*.deb.*' -delete 2>/dev/null || true
log "debootstrap --variant=minbase --include=$INCLUDE $SUITE from $mirror (a few minutes)"
debootstrap --variant=minbase --include="$INCLUDE" --cache-dir="$deb_cache" \
    "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
# debootstrap's own umount at exit fails silently when the mount is busy (e.g. another
# process walking the file system at that moment), and then leaves /proc or /sys mounted.
left=$(mounts_under "$root")
if [[ -n $left ]]; then
    log "debootstrap left mounted: $(tr '\n' ' ' <<<"$left")- unmounting"
    unmount_under "$root" || die "cannot unmount $(mounts_under "$root" | tr '\n' ' ')"
fi
[[ -s $root/var/lib/dpkg/status && -x $root/usr/bin/dpkg ]] || die "debootstrap produced no dpkg database"

# debootstrap copies the build host's /etc/hostname and /etc/resolv.conf; a golden image
# should carry neither. No machine-id either: a clean image gets its own at first boot.
printf 'debian\n' >"$root/etc/hostname"
: >"$root/etc/resolv.conf"
if [[ -e $root/etc/machine-id ]]; then : >"$root/etc/machine-id"; fi
rm -f "$root/var/lib/dbus/machine-id"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*_* \
    "$root"/var/log/bootstrap.log
log "root: $(du -sh "$root" | cut -f1)"

# The clean root must not hold anything the planted checks look for.
while IFS=: read -r name hash _; do
    [[ $hash == '*' || $hash == '!'* ]] || die "clean root: $name has a usable or empty password ('$hash')"
done <"$root/etc/shadow"
if grep -rlsE -- '-----BEGIN ([A-Z]+ )?PRIVATE KEY-----' "$root/etc" "$root/root" "$root/home" "$root/opt" >"$work/keys.txt"; then
    die "clean root holds private keys: $(tr '\n' ' ' <"$work/keys.txt")"
fi
grep -rsqE '^[^#]*NOPASSWD' "$root/etc/sudoers" "$root/etc/sudoers.d" && die "clean root has a NOPASSWD sudo rule"
compgen -G "$root/etc/ssh/ssh_host_*" >/dev/null && die "clean root has SSH host keys"

# ---------------------------------------------------------------- inventory
inventory() {   # ROOT: one line per installed package, sorted
    dpkg-query --admindir="$1/var/lib/dpkg" -W \
        -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n' |
        awk -F'\t' '$1 ~ /^.i/ { print $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 }' | sort
}
inventory "$root" >"$dst/inventory.txt"
# Cross-check against the system's own dpkg (what `dpkg -l` in the guest would say).
chroot "$root" dpkg-query -W \
    -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n' |
    awk -F'\t' '$1 ~ /^.i/ { print $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 }' | sort >"$work/inventory.chroot"
cmp -s "$dst/inventory.txt" "$work/inventory.chroot" ||
    die "host dpkg-query --admindir and the image's own dpkg-query disagree: $(diff "$dst/inventory.txt" "$work/inventory.chroot" | head -5)"
npkg=$(wc -l <"$dst/inventory.txt")
grep -q "^$VULN_PKG	" "$dst/inventory.txt" || die "$VULN_PKG is not installed"
log "inventory: $npkg packages"

# ---------------------------------------------------------------- planted problems
cp -a "$root" "$planted"
cp -a "$root" "$clone"

# Random values a scanner must flag; no placeholder words (see is_placeholder_secret).
random_chars() {   # N SET
    local s=''
    while ((${#s} < $1)); do s+=$(head -c 4096 /dev/urandom | tr -dc "$2"); done
    printf '%s' "${s:0:$1}"
}
looks_placeholder() {
    grep -qiE 'changeme|change_me|change-me|changeit|example|xxxx|placeholder|your_|your-|dummy|sample|redacted|_here|-here|insert|replace|todo|fixme|notset|not_set' <<<"$1"
}
while :; do
    aws_id=AKIA$(random_chars 16 'A-Z2-7')   # the access key id alphabet (base32)
    aws_secret=$(random_chars 40 'A-Za-z0-9+/')
    [[ $aws_secret =~ [a-z] && $aws_secret =~ [A-Z] && $aws_secret =~ [0-9] ]] || continue
    looks_placeholder "$aws_id$aws_secret" || break
done
history_password='S3cr3tPassw0rd!'
machine_id=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')

# (5) one SSH host key and one machine-id, for the planted image and its clone
ssh-keygen -q -t ed25519 -N '' -C root@golden -f "$work/keys/ssh_host_ed25519_key"
host_fp=$(ssh-keygen -l -E sha256 -f "$work/keys/ssh_host_ed25519_key.pub" | awk '{ print $2 }')
for r in "$planted" "$clone"; do
    install -d -m 0755 "$r/etc/ssh"
    install -m 0600 "$work/keys/ssh_host_ed25519_key" "$r/etc/ssh/ssh_host_ed25519_key"
    install -m 0644 "$work/keys/ssh_host_ed25519_key.pub" "$r/etc/ssh/ssh_host_ed25519_key.pub"
    printf '%s\n' "$machine_id" >"$r/etc/machine-id"
    chmod 0444 "$r/etc/machine-id"
done

# (1) an old, vulnerable version in the dpkg database (the files on disk stay current)
awk -v pkg="$VULN_PKG" -v ver="$VULN_VERSION" '
    /^$/ { inpkg = 0 }
    /^Package: / { inpkg = ($2 == pkg) }
    inpkg && /^Version: / { print "Version: " ver; n++; next }
    inpkg && /^Source: / { print "Source: " $2; next }    # drop a "(version)": source = binary version
    { print }
    END { if (n != 1) exit 3 }' "$root/var/lib/dpkg/status" >"$planted/var/lib/dpkg/status" ||
    die "could not rewrite $VULN_PKG in the planted status file"
got=$(dpkg-query --admindir="$planted/var/lib/dpkg" -W -f='${Version} ${source:Package} ${source:Version}' "$VULN_PKG")
[[ $got == "$VULN_VERSION glibc $VULN_VERSION" ]] || die "planted $VULN_PKG reads back as '$got'"
vuln_real=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Version}' "$VULN_PKG")

# (2) private keys: an OpenSSH key in root's home, a PEM (PKCS#8) RSA key of an application
install -d -m 0700 "$planted/root/.ssh"
ssh-keygen -q -t ed25519 -N '' -C root@build-host -f "$planted/root/.ssh/id_ed25519"
install -d -m 0755 "$planted/opt/app"
openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$planted/opt/app/server.key" 2>/dev/null ||
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$planted/opt/app/server.key" 2>/dev/null
chmod 0600 "$planted/opt/app/server.key"
grep -q -- '-----BEGIN PRIVATE KEY-----' "$planted/opt/app/server.key" || die "openssl wrote no PEM key"

# (3) + (4) two users: legacy with an empty password, deploy with NOPASSWD sudo
grep -qE '^[^:]*:[^:]*:100[01]:' "$planted/etc/passwd" && die "uid 1000 or 1001 already taken"
add_user() {   # NAME UID HASH
    local name=$1 uid=$2 hash=$3 r=$planted
    printf '%s:x:%s:%s::/home/%s:/bin/bash\n' "$name" "$uid" "$uid" "$name" >>"$r/etc/passwd"
    printf '%s:%s:19700:0:99999:7:::\n' "$name" "$hash" >>"$r/etc/shadow"
    printf '%s:x:%s:\n' "$name" "$uid" >>"$r/etc/group"
    printf '%s:!::\n' "$name" >>"$r/etc/gshadow"
    cp -a "$r/etc/skel" "$r/home/$name"
    chown -R "$uid:$uid" "$r/home/$name"
    chmod 0750 "$r/home/$name"
}
add_user deploy 1000 '!'   # locked password: logs in with a key, then sudo without one
add_user legacy 1001 ''
printf 'deploy ALL=(ALL) NOPASSWD: ALL\n' >"$planted/etc/sudoers.d/deploy"
chmod 0440 "$planted/etc/sudoers.d/deploy"
grep -q '^@includedir /etc/sudoers.d' "$planted/etc/sudoers" || die "/etc/sudoers does not include /etc/sudoers.d"

# (6) an AWS credential
install -d -m 0700 -o 1000 -g 1000 "$planted/home/deploy/.aws"
cat >"$planted/home/deploy/.aws/credentials" <<EOF
[default]
aws_access_key_id = $aws_id
aws_secret_access_key = $aws_secret
region = eu-central-1
EOF
chown 1000:1000 "$planted/home/deploy/.aws/credentials"
chmod 0600 "$planted/home/deploy/.aws/credentials"

# (7) a password on a command line in root's shell history
cat >"$planted/root/.bash_history" <<EOF
apt-get update
ls -la /opt/app
mysql -u root -p$history_password
systemctl status app
exit
EOF
chmod 0600 "$planted/root/.bash_history"

# ---------------------------------------------------------------- disks
# make_disk ROOT NAME gpt|dos: NAME.raw with one Linux partition at 1 MiB holding an ext4
# file system made from ROOT (mke2fs -d: no mount), checked with e2fsck.
make_disk() {
    local tree=$1 name=$2 scheme=$3 fs=$work/$2.ext4 disk=$dst/$2.raw
    rm -f "$fs"
    truncate -s "${FS_MIB}M" "$fs"
    mkfs.ext4 -q -F -L debroot -U "$FS_UUID" -E lazy_itable_init=0,lazy_journal_init=0 -d "$tree" "$fs" ||
        die "mkfs.ext4 -d failed for $name"
    e2fsck -fn "$fs" >"$work/e2fsck.log" 2>&1 || { cat "$work/e2fsck.log" >&2; die "e2fsck: $name is not clean"; }
    truncate -s "$((FS_MIB + 2))M" "$disk"
    if [[ $scheme == gpt ]]; then
        printf 'label: gpt\nlabel-id: %s\nunit: sectors\nfirst-lba: 2048\n\nstart=2048, size=%d, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=%s, name="debroot"\n' \
            "$DISK_GUID" "$((FS_MIB * 2048))" "$PART_UUID"
    else
        printf 'label: dos\nlabel-id: %s\nunit: sectors\n\nstart=2048, size=%d, type=83\n' "$MBR_ID" "$((FS_MIB * 2048))"
    fi | sfdisk -q "$disk" >/dev/null || die "sfdisk failed for $name"
    dd if="$fs" of="$disk" bs=4M oflag=seek_bytes seek=$((1 << 20)) conv=notrunc,sparse status=none
    cmp -s -n "$((FS_MIB << 20))" "$fs" <(tail -c +$(((1 << 20) + 1)) "$disk") ||
        die "$name: the partition does not hold the file system"
    rm -f "$fs"
}
qcow2() {   # RAW OUT [qemu-img convert options]
    local raw=$1 q=$2
    shift 2
    qemu-img convert -q -f raw -O qcow2 "$@" "$raw" "$q"
    qemu-img check -q "$q" || die "qemu-img check failed on $q"
}

log "clean disk"
make_disk "$root" clean gpt
qcow2 "$dst/clean.raw" "$dst/clean.qcow2"
qcow2 "$dst/clean.raw" "$dst/clean-compressed.qcow2" -c
log "planted disk"
make_disk "$planted" planted gpt
qcow2 "$dst/planted.raw" "$dst/planted.qcow2"
log "planted clone disk (MBR)"
make_disk "$clone" planted-clone dos
qcow2 "$dst/planted-clone.raw" "$dst/planted-clone.qcow2"
rm -f "$dst/planted-clone.raw"

# Read back through the partition tables, as a scanner would find them (e2fsprogs takes
# "FILE?offset=BYTES").
in_image() {   # IMAGE PATH: the file's bytes
    debugfs -R "cat $2" "$1?offset=1048576" 2>/dev/null
}
[[ $(in_image "$dst/planted.raw" /etc/sudoers.d/deploy) == 'deploy ALL=(ALL) NOPASSWD: ALL' ]] ||
    die "planted.raw: /etc/sudoers.d/deploy is not as planted"
in_image "$dst/planted.raw" /etc/shadow | grep -qx 'legacy::19700:0:99999:7:::' || die "planted.raw: no legacy in /etc/shadow"
qemu-img convert -q -f qcow2 -O raw "$dst/planted-clone.qcow2" "$work/clone.raw"
[[ $(in_image "$work/clone.raw" /etc/machine-id) == "$machine_id" ]] || die "planted-clone: machine-id is not as planted"
cmp -s <(in_image "$work/clone.raw" /etc/ssh/ssh_host_ed25519_key) "$work/keys/ssh_host_ed25519_key" ||
    die "planted-clone: the host key is not the planted one"
rm -f "$work/clone.raw"
[[ -z $(in_image "$dst/clean.raw" /etc/machine-id) ]] || die "clean.raw has a machine-id"

inventory "$planted" >"$dst/planted-inventory.txt"
[[ $(diff "$dst/inventory.txt" "$dst/planted-inventory.txt" | grep -c '^[<>]') == 2 ]] ||
    die "the planted inventory should differ from the clean one in one line"

# ---------------------------------------------------------------- ground truth
# Setuid/setgid files that every image has (file.setuid / file.setgid findings).
special_files() {   # PERM: absolute paths in the image
    (cd "$root" && find . -xdev -type f -perm "$1" | sed 's|^\.||' | sort)
}
json_list() { python3 -c 'import json,sys; print(json.dumps([l for l in sys.stdin.read().split("\n") if l]))'; }
setuid=$(special_files -4000 | json_list)
setgid=$(special_files -2000 | json_list)
# Info findings of every image: root's locked password with a login shell, units enabled by
# links, cron jobs.
incidental=$(
    printf 'account.locked:root\n'
    find "$root/etc/systemd/system" -mindepth 2 -maxdepth 2 -type l \( -path '*.wants/*' -o -path '*.requires/*' \) \
        -printf 'systemd.enabled:%f\n' 2>/dev/null | sort -u
    for f in "$root/etc/crontab" "$root"/etc/cron.d/*; do
        [[ -f $f ]] && awk -v p="${f#"$root"}" '/^[ \t]*([0-9*]|@)/ { print "cron.entry:" p ":" NR }' "$f"
    done
    true
)
incidental=$(printf '%s\n' "$incidental" | json_list)
id_fp=$(ssh-keygen -l -E sha256 -f "$planted/root/.ssh/id_ed25519.pub" | awk '{ print $2 }')

cat >"$dst/planted.json" <<EOF
{
  "schema": "bulwark.planted.v1",
  "recipe": "$want",
  "note": "finding ids are '<kind>:<subject>'. kind_defined=false: the kind is not (yet) in src/inspect/*.h or src/vuln/, it is a guess. Secret subjects are the file path (secrets.h); a rule may report a second hit in the same file as '<path>#2'.",
  "images": {
    "planted.qcow2": {"partition_scheme": "gpt", "partition": 1, "start": 1048576, "fs": "ext4",
                      "fs_uuid": "$FS_UUID", "label": "debroot"},
    "planted-clone.qcow2": {"partition_scheme": "dos", "partition": 1, "start": 1048576, "fs": "ext4",
                            "fs_uuid": "$FS_UUID", "label": "debroot"}
  },
  "planted": [
    {"n": 1, "what": "old vulnerable package version in the dpkg database (files on disk are current)",
     "kind": "vulnerability", "subject": "$VULN_PKG", "path": "/var/lib/dpkg/status",
     "package": "$VULN_PKG", "version": "$VULN_VERSION", "source_name": "glibc", "source_version": "$VULN_VERSION",
     "real_version": "$vuln_real",
     "advisories": [
       {"id": "vuln:DEBIAN-CVE-2023-4911:$VULN_PKG", "advisory": "DEBIAN-CVE-2023-4911", "cve": "CVE-2023-4911",
        "fixed_version": "2.36-9+deb12u3", "feed_file": "tests/data/osv/DEBIAN-CVE-2023-4911.json"},
       {"id": "vuln:DEBIAN-CVE-2024-2961:$VULN_PKG", "advisory": "DEBIAN-CVE-2024-2961", "cve": "CVE-2024-2961",
        "fixed_version": "2.36-9+deb12u6", "feed_file": "tests/data/osv/DEBIAN-CVE-2024-2961.json"}
     ]},
    {"n": 2, "what": "OpenSSH private key (unencrypted ed25519) in root's home",
     "kind": "secret.pem-private-key", "subject": "/root/.ssh/id_ed25519", "path": "/root/.ssh/id_ed25519",
     "id": "secret.pem-private-key:/root/.ssh/id_ed25519", "fingerprint": "$id_fp"},
    {"n": 2, "what": "PEM (PKCS#8, 'BEGIN PRIVATE KEY') RSA 2048 private key of an application",
     "kind": "secret.pem-private-key", "subject": "/opt/app/server.key", "path": "/opt/app/server.key",
     "id": "secret.pem-private-key:/opt/app/server.key"},
    {"n": 3, "what": "user legacy (uid 1001, /bin/bash) with an empty shadow password field",
     "kind": "account.empty-password", "subject": "legacy", "path": "/etc/shadow",
     "id": "account.empty-password:legacy"},
    {"n": 3, "what": "the same account: empty password and a login shell",
     "kind": "account.passwordless-login", "subject": "legacy", "path": "/etc/shadow",
     "id": "account.passwordless-login:legacy"},
    {"n": 4, "what": "'deploy ALL=(ALL) NOPASSWD: ALL' for user deploy (uid 1000, locked password)",
     "kind": "sudo.nopasswd", "subject": "deploy", "path": "/etc/sudoers.d/deploy", "line": 1,
     "id": "sudo.nopasswd:deploy"},
    {"n": 5, "what": "SSH host private key baked into the image (shared with planted-clone.qcow2)",
     "kind": "ssh.host-private-key", "subject": "/etc/ssh/ssh_host_ed25519_key", "path": "/etc/ssh/ssh_host_ed25519_key",
     "id": "ssh.host-private-key:/etc/ssh/ssh_host_ed25519_key",
     "note": "kind defined in src/scan/image_scan.cpp (severity high)"},
    {"n": 5, "what": "a machine-id (shared with planted-clone.qcow2)",
     "kind": "identity.machine-id", "subject": "", "path": "/etc/machine-id", "id": "identity.machine-id",
     "value": "$machine_id"},
    {"n": 5, "what": "the host key is also an OpenSSH private key file",
     "kind": "secret.pem-private-key", "subject": "/etc/ssh/ssh_host_ed25519_key", "path": "/etc/ssh/ssh_host_ed25519_key",
     "id": "secret.pem-private-key:/etc/ssh/ssh_host_ed25519_key"},
    {"n": 6, "what": "AWS access key id (random, not the documented example) in a credentials file",
     "kind": "secret.aws-access-key-id", "subject": "/home/deploy/.aws/credentials", "path": "/home/deploy/.aws/credentials",
     "line": 2, "id": "secret.aws-access-key-id:/home/deploy/.aws/credentials"},
    {"n": 6, "what": "AWS secret access key (random 40 characters) next to it",
     "kind": "secret.aws-secret-access-key", "subject": "/home/deploy/.aws/credentials", "path": "/home/deploy/.aws/credentials",
     "line": 3, "id": "secret.aws-secret-access-key:/home/deploy/.aws/credentials"},
    {"n": 7, "what": "password on a mysql command line in root's shell history",
     "kind": "secret.history-password", "subject": "/root/.bash_history", "path": "/root/.bash_history",
     "line": 3, "id": "secret.history-password:/root/.bash_history"}
  ],
  "identity": {
    "shared_by": ["planted.qcow2", "planted-clone.qcow2"],
    "machine_id": "$machine_id",
    "ssh_host_keys": [{"path": "/etc/ssh/ssh_host_ed25519_key.pub", "type": "ssh-ed25519", "fingerprint": "$host_fp"}],
    "cross_image_kinds": ["ssh.shared-host-key", "image.shared-machine-id"],
    "kind_defined": false,
    "note": "a scan of one image reports these in the report's identity section; a duplicate across images can only be seen by comparing reports (those kinds are guesses)"
  },
  "clone": {
    "image": "planted-clone.qcow2",
    "expected_ids": ["ssh.host-private-key:/etc/ssh/ssh_host_ed25519_key",
                     "secret.pem-private-key:/etc/ssh/ssh_host_ed25519_key", "identity.machine-id"],
    "note": "the clean system plus the shared host key and machine-id, on an MBR disk; nothing else planted"
  },
  "secret_values": {
    "note": "for redaction tests: none of these may appear in any report",
    "aws_access_key_id": "$aws_id",
    "aws_secret_access_key": "$aws_secret",
    "history_password": "$history_password"
  },
  "incidental": {
    "note": "findings every image of this recipe has (also the clean one); informational or warn, not refuse under policy/default.toml",
    "ids": $incidental,
    "planted_only_ids": ["account.locked:deploy", "account.login-shell:deploy", "account.login-shell:legacy"],
    "setuid_files": $setuid,
    "setgid_files": $setgid
  },
  "clean": {
    "images": ["clean.raw", "clean.qcow2", "clean-compressed.qcow2"],
    "inventory": "inventory.txt",
    "packages": $npkg,
    "must_not_report_kinds": ["vulnerability", "secret.*", "account.empty-password", "account.passwordless-login",
                              "account.uid0", "sudo.nopasswd", "ssh.host-private-key", "identity.machine-id"],
    "machine_id": null,
    "ssh_host_keys": []
  }
}
EOF
python3 -m json.tool "$dst/planted.json" >/dev/null || die "planted.json is not valid JSON"

cat >"$dst/build-info.txt" <<EOF
recipe            $want
built             $(date -u +%Y-%m-%dT%H:%M:%SZ) in ${SECONDS}s
debootstrap       $(dpkg-query -W -f='${Version}' debootstrap) --variant=minbase --include=$INCLUDE $SUITE $mirror
root tree         $(du -sm "$root" | cut -f1) MiB, $(find "$root" -xdev | wc -l) entries
packages          $npkg (inventory.txt)
inventory method  dpkg-query --admindir=ROOT/var/lib/dpkg on the host, fields
                  Package Version Architecture source:Package source:Version, installed
                  packages only (db:Status-Abbrev ?i), sorted; checked identical to
                  chroot ROOT dpkg-query
file system       ext4 ${FS_MIB} MiB, uuid $FS_UUID, label debroot, at byte 1048576
clean/planted     GPT, disk $DISK_GUID, partition $PART_UUID
planted-clone     MBR (dos), disk id $MBR_ID
planted package   $VULN_PKG $VULN_VERSION (really $vuln_real)
EOF
printf '%s\n' "$want" >"$dst/stamp"     # written last
log "removing the build trees (unlinking ~20 000 files is slow on some disks)"
rm -rf --one-file-system "$root" "$planted" "$clone"

# ---------------------------------------------------------------- publish
chmod 0755 "$dst"
rm -rf --one-file-system "$ver_dir"
mv -T "$dst" "$ver_dir"
link_out
for old in "$cache_root/.debian-image-"????????????????; do
    [[ -e $old && $old != "$ver_dir" ]] && rm -rf --one-file-system "$old"
done
log "done: $(du -sh --apparent-size "$ver_dir" | cut -f1) apparent, $(du -sh "$ver_dir" | cut -f1) on disk"
printf '%s\n' "$out"
