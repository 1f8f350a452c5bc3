#!/usr/bin/env bash
# Benchmark input for offline image scanning (issue 3): a disk image whose ext4 file system
# is well filled with many files of realistic, mixed sizes and contents, plus the same files
# as a plain directory tree, so that a scan can be compared with the I/O limit on the same
# bytes.
#
#   usage: bench/make-many-files-image.sh OUT.qcow2 [GIB] [FILES]     (prints OUT.qcow2 last)
#
#   GIB    size of the ext4 file system in GiB (default 4); about 62% of it is file data
#   FILES  number of regular files (default 100000)
#
# Made once per (GIB, FILES, this script) under ${BULWARK_BENCH_CACHE:-/var/tmp/bulwark-bench}/
# many-files-<GIB>g-<FILES>-<recipe hash>/, then linked from beside OUT:
#   OUT.qcow2      the disk: GPT, one Linux partition at 1 MiB holding the ext4 file system
#   OUT.raw        the same disk, raw (sparse)
#   OUT.tree/      the same files as a directory tree (what mkfs.ext4 -d was given)
#   OUT.json       manifest: file count, bytes, size histogram, text/binary split, layout
# A second run with the same parameters only checks the stamp. Building needs about 3.5x the
# data size free under the cache directory (tree + raw + qcow2); the script checks first.
# No mount is needed to build; it runs as any user who can write the cache directory.
#
# Contents (deterministic: a fixed seed; binary files also take bytes from the host's shared
# libraries, so two hosts may differ there): a system-like layout (etc, home/*, opt, srv,
# usr/share/doc, usr/lib, var/log, var/lib), file names with extensions matching the content;
# ~83% of the files are text (prose from the host's license texts, source code, logs,
# configuration, CSV, JSON, URLs), the rest binary (ELF bytes and incompressible data; about
# half of the bytes); sizes log-normal, from a few bytes to 6 MiB, median ~4 KiB; 0.5% extra
# symlinks (a scanner must not follow them).
#
# Measuring the I/O limit on the same bytes (drop the page cache first for a cold run:
# `sync; echo 3 > /proc/sys/vm/drop_caches`):
#   1. the tree:   find -H OUT.tree -type f -exec cat {} + >/dev/null
#      (-H, or a trailing slash: OUT.tree is a symlink, which find does not enter by default.)
#      Same bytes, but through the host's own file system, not through the image; this is
#      what the benchmark uses by default. GNU cat really read(2)s the files, also into
#      /dev/null. Here (2 vCPUs, virtio disk): 20 s cold, 4.5 s warm for the defaults.
#   2. the image, through the kernel's ext4 (root only):
#        mkdir -p /mnt/bench && mount -o ro,loop,offset=1048576 OUT.raw /mnt/bench
#        find /mnt/bench -type f -exec cat {} + >/dev/null; umount /mnt/bench
#      Reads the same blocks of the same image the scanner reads (raw, not qcow2), through
#      the kernel's ext4 driver: the fairest "how fast could an ext4 reader go" number, but it
#      needs root and a loop device, which is why the tree is kept as well. Here: 43 s cold
#      (the loop device reads through the page cache of the image file as well).
set -euo pipefail
umask 022
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
log() { printf 'make-many-files-image: [%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '7,10p' "$self" | sed 's/^# \{0,1\}//' >&2; exit 2; }

(($# >= 1 && $# <= 3)) || usage
out=$1
gib=${2:-4}
files=${3:-100000}
[[ $out == *.qcow2 ]] || die "OUT must end in .qcow2: $out"
[[ $gib =~ ^[1-9][0-9]{0,3}$ ]] || die "GIB must be a whole number of GiB (1..9999): $gib"
[[ $files =~ ^[1-9][0-9]{0,7}$ ]] || die "FILES must be a positive number: $files"
[[ $out == /* ]] || out=$PWD/$out
base=${out%.qcow2}
cache_root=${BULWARK_BENCH_CACHE:-/var/tmp/bulwark-bench}

# Recipe knobs (part of the hash, since they live in this file).
DATA_PERCENT=62            # of the file system, as file data
FS_UUID=4c7b2f60-6275-4b00-8000-62656e636801
DISK_GUID=4c7b2f60-6275-4b00-8000-62656e636802
PART_UUID=4c7b2f60-6275-4b00-8000-62656e636803
SEED=20261125

want=$(sha256sum "$self" | cut -c1-64)
name=many-files-${gib}g-${files}
ver_dir=$cache_root/$name-${want:0:12}
OUTPUTS=(disk.qcow2 disk.raw manifest.json)

complete() {
    [[ -f $ver_dir/stamp && $(<"$ver_dir/stamp") == "$want" && -d $ver_dir/tree ]] || return 1
    local f
    for f in "${OUTPUTS[@]}"; do [[ -s $ver_dir/$f ]] || return 1; done
}
link_one() {   # TARGET LINK
    [[ -L $2 && $(readlink "$2") == "$1" ]] && return 0
    [[ -e $2 && ! -L $2 ]] && die "$2 exists and is not a symlink; move it away"
    ln -sfn "$1" "$2.link.$$"
    mv -T "$2.link.$$" "$2"
}
link_out() {
    mkdir -p "$(dirname "$out")"
    link_one "$ver_dir/disk.qcow2" "$base.qcow2"
    link_one "$ver_dir/disk.raw" "$base.raw"
    link_one "$ver_dir/tree" "$base.tree"
    link_one "$ver_dir/manifest.json" "$base.json"
}
if complete; then
    link_out
    printf '%s\n' "$out"
    exit 0
fi

export PATH=$PATH:/usr/sbin:/sbin
for t in mkfs.ext4 e2fsck sfdisk qemu-img python3 flock; do
    command -v "$t" >/dev/null || die "$t is missing (scripts/install-deps.sh installs it)"
done

mkdir -p "$cache_root"
exec 9>"$cache_root/.$name.lock"
flock 9
if complete; then
    link_out
    printf '%s\n' "$out"
    exit 0
fi

fs_bytes=$((gib << 30))
data_bytes=$((fs_bytes / 100 * DATA_PERCENT))
# tree (data + per-file slack) + raw image + qcow2, with a margin
need=$((data_bytes * 7 / 2 + (files << 12) + (1 << 30)))
avail=$(($(df -P -B1 "$cache_root" | awk 'NR == 2 { print $4 }')))
# superseded builds of the same parameters would be deleted at the end anyway: count them free
for old in "$cache_root/$name-"????????????; do
    [[ -d $old && $old != "$ver_dir" ]] && avail=$((avail + $(du -sB1 "$old" | cut -f1)))
done
((avail >= need)) ||
    die "not enough space under $cache_root: need $((need >> 20)) MiB, $((avail >> 20)) MiB available (set BULWARK_BENCH_CACHE, or pass a smaller GIB)"
for old in "$cache_root/$name-"????????????; do
    [[ -d $old && $old != "$ver_dir" ]] && { log "removing superseded $old"; rm -rf --one-file-system "$old"; }
done

work=$(mktemp -d "$cache_root/.$name.tmp.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
dst=$work/out
mkdir -p "$dst/tree"

# ---------------------------------------------------------------- the tree
log "writing $files files, about $((data_bytes >> 20)) MiB, into the tree"
python3 - "$dst/tree" "$files" "$data_bytes" "$SEED" "$dst/manifest.json" <<'PY'
import glob, json, math, os, random, re, sys

root, nfiles, target, seed, manifest = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rng = random.Random(seed)
MAX_FILE = 6 << 20
POOL = 32 << 20

# ---- vocabulary: real English, Zipf-like, from the host's license texts
words = []
for f in sorted(glob.glob("/usr/share/common-licenses/*")):
    try:
        with open(f, encoding="utf-8", errors="ignore") as fh:
            words += re.findall(r"[A-Za-z]{2,14}", fh.read())
    except OSError:
        pass
if len(words) < 5000:
    words = ("the of and to a in is that for it as with was on be by this are or from at an not "
             "system file data user value server config network package version error request "
             "memory process kernel module driver device image disk guest host key table").split() * 200
lower = [w.lower() for w in words]
idents = sorted(set(w for w in lower if len(w) > 3))

def w(): return rng.choice(lower)
def ident(): return rng.choice(idents) + ("_" + rng.choice(idents) if rng.random() < 0.4 else "")

hosts = ["db01.internal", "cache.example.org", "api.example.net", "10.0.3.17", "mirror.local", "git.example.com"]
levels = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]

def prose():
    s = " ".join(w() for _ in range(rng.randint(6, 18)))
    return s[0].upper() + s[1:] + "."
def code():
    k = rng.random()
    ind = "    " * rng.randint(0, 3)
    if k < 0.3:
        return f"{ind}if ({ident()} > {rng.randint(0, 4096)}) {{ return {ident()}({ident()}, {rng.randint(0, 9)}); }}"
    if k < 0.55:
        return f"{ind}{ident()} = {ident()}.{ident()}({ident()}, \"{w()} {w()}\")"
    if k < 0.7:
        return f"{ind}// {prose()}"
    if k < 0.85:
        return f"{ind}def {ident()}(self, {ident()}, {ident()}=None):"
    return f"{ind}static int {ident()}(struct {ident()} *{ident()}, size_t {ident()});"
def logline():
    return (f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
            f"{rng.randint(0, 59):02d}Z {rng.choice(hosts)} {ident()}[{rng.randint(100, 65000)}]: "
            f"{rng.choice(levels)} {prose()}")
def conf():
    v = rng.random()
    if v < 0.5:
        val = w()
    elif v < 0.8:
        val = str(rng.randint(0, 100000))
    elif v < 0.95:
        val = f"https://{rng.choice(hosts)}/{w()}/{w()}"
    else:
        val = "changeme"   # a placeholder: exercises the secret rules without being a secret
    return f"{ident()} = {val}"
def csv():
    return ",".join([str(rng.randint(0, 10 ** 6)), w(), w(), f"{rng.random():.6f}", rng.choice(hosts)])
def jsonl():
    return json.dumps({ident(): w(), "id": rng.randint(0, 10 ** 9), "tags": [w(), w()], "ok": rng.random() < 0.5})
def url():
    return f"See https://{rng.choice(hosts)}/{w()}/{ident()}.html for {w()} {w()}."

gens = [(prose, 30), (code, 25), (logline, 15), (conf, 12), (csv, 6), (jsonl, 7), (url, 5)]
gen_funcs = [g for g, n in gens for _ in range(n)]

parts, size = [], 0
while size < POOL:
    block = "\n".join(rng.choice(gen_funcs)() for _ in range(512)) + "\n"
    parts.append(block.encode())
    size += len(parts[-1])
text_pool = b"".join(parts)[:POOL]
text_pool = text_pool[:text_pool.rfind(b"\n") + 1]

bin_parts, size = [], 0
for f in sorted(glob.glob("/usr/lib/x86_64-linux-gnu/*.so*")):
    if size >= POOL // 2:
        break
    try:
        if os.path.islink(f) or not os.path.isfile(f):
            continue
        with open(f, "rb") as fh:
            b = fh.read(POOL // 2 - size)
        bin_parts.append(b)
        size += len(b)
    except OSError:
        pass
bin_parts.append(rng.randbytes(POOL - size))
bin_pool = b"".join(bin_parts)
text_mv, bin_mv = memoryview(text_pool), memoryview(bin_pool)

# ---- layout: areas, like a system, with weights (share of files)
areas = [("etc", 5, 0.02), ("home", 28, 0.08), ("opt", 14, 0.2), ("srv/www", 9, 0.05),
         ("usr/share/doc", 18, 0.02), ("usr/lib", 10, 0.85), ("var/log", 8, 0.05), ("var/lib", 8, 0.3)]
text_ext = [".txt", ".md", ".conf", ".log", ".py", ".c", ".h", ".json", ".html", ".csv", ".sh", ".yaml", ""]
bin_ext = [".so", ".bin", ".gz", ".jpg", ".png", ".pdf", ".db", ".o", ""]
ndirs = max(1, nfiles // 40)
dirs = []
area_names = [a for a, _, _ in areas]
area_weights = [n for _, n, _ in areas]
bin_share = {a: b for a, _, b in areas}
for d in range(ndirs):
    area = rng.choices(area_names, area_weights)[0]
    if area == "home":
        sub = [f"user{rng.randint(1, 20):02d}"] + [ident() for _ in range(rng.randint(0, 3))]
    else:
        sub = [ident() for _ in range(rng.randint(1, 3))]
    dirs.append((area, "/".join([area] + sub) + f"-{d:x}"))

# ---- sizes: log-normal, text mostly small, binaries larger; scaled to the target total
kinds, sizes, where = [], [], []
for i in range(nfiles):
    area, d = dirs[i] if i < ndirs else dirs[rng.randrange(ndirs)]   # every directory gets a file
    where.append(d)
    binary = rng.random() < bin_share[area]
    kinds.append(binary)
    if rng.random() < 0.02:
        sizes.append(float(rng.randint(1, 64)))
    elif binary:
        sizes.append(rng.lognormvariate(math.log(32 << 10), 1.6))
    else:
        sizes.append(rng.lognormvariate(math.log(4 << 10), 1.8))
scale = 1.0
for _ in range(8):
    total = sum(min(MAX_FILE, max(1, int(s * scale))) for s in sizes)
    scale *= target / total
sizes = [min(MAX_FILE, max(1, int(s * scale))) for s in sizes]

# ---- write
hist = {}
made_dirs = set()
paths = []
nbin = bbin = 0
for i in range(nfiles):
    full = os.path.join(root, where[i])
    if full not in made_dirs:
        os.makedirs(full, exist_ok=True)
        made_dirs.add(full)
    binary, size = kinds[i], sizes[i]
    ext = rng.choice(bin_ext if binary else text_ext)
    name = f"{ident()}-{i:x}{ext}"
    pool = bin_mv if binary else text_mv
    off = rng.randrange(len(pool) - 1)
    if not binary:
        nl = text_pool.find(b"\n", off)
        off = 0 if nl < 0 or nl + 1 >= len(text_pool) else nl + 1
    p = os.path.join(full, name)
    with open(p, "wb") as fh:
        left = size
        while left:
            chunk = pool[off:off + left]
            fh.write(chunk)
            left -= len(chunk)
            off = 0
    if binary:
        os.chmod(p, 0o755 if ext in (".so", ".bin", "") else 0o644)
        nbin += 1
        bbin += size
    paths.append(p)
    bucket = 1 << max(0, (size - 1).bit_length())
    hist[bucket] = hist.get(bucket, 0) + 1

nlinks = nfiles // 200
for _ in range(nlinks):
    tgt = paths[rng.randrange(nfiles)]
    link = tgt + ".link"
    if not os.path.lexists(link):
        os.symlink(os.path.basename(tgt), link)

srt = sorted(sizes)
def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
man = {
    "files": nfiles, "directories": len(made_dirs), "symlinks": nlinks, "bytes": sum(sizes),
    "text_files": nfiles - nbin, "binary_files": nbin, "binary_bytes": bbin,
    "size_min": srt[0], "size_median": srt[len(srt) // 2], "size_p90": srt[int(len(srt) * 0.9)],
    "size_p99": srt[int(len(srt) * 0.99)], "size_max": srt[-1],
    "histogram_upto": {human(k): hist[k] for k in sorted(hist)},
    "areas": {a: sum(1 for x in dirs if x[0] == a) for a in area_names},
    "seed": seed,
}
with open(manifest, "w") as fh:
    json.dump(man, fh, indent=2)
    fh.write("\n")
print(f"{nfiles} files ({nbin} binary), {len(made_dirs)} directories, {nlinks} symlinks, "
      f"{sum(sizes) / 2**20:.0f} MiB; median {srt[len(srt) // 2]} B, p99 {srt[int(len(srt) * 0.99)]} B", file=sys.stderr)
PY

# ---------------------------------------------------------------- the disk
# The file system is written straight into the partition (mke2fs -E offset), so the data is
# not copied twice; the partition table is written first and the backup GPT at the end stays.
log "making the ext4 file system (${gib} GiB) in a GPT disk"
disk=$dst/disk.raw
truncate -s $((fs_bytes + (2 << 20))) "$disk"
printf 'label: gpt\nlabel-id: %s\nunit: sectors\nfirst-lba: 2048\n\nstart=2048, size=%d, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=%s, name="bench"\n' \
    "$DISK_GUID" $((fs_bytes / 512)) "$PART_UUID" | sfdisk -q "$disk" >/dev/null
inodes=$((fs_bytes / 16384))
want_inodes=$((files + files / 4 + 16384))
inode_opt=()
((want_inodes > inodes)) && inode_opt=(-N "$want_inodes")
mkfs.ext4 -q -F -L bench -U "$FS_UUID" "${inode_opt[@]}" \
    -E offset=1048576,nodiscard,lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0 \
    -d "$dst/tree" "$disk" "$((fs_bytes >> 10))k" || die "mkfs.ext4 failed (file system too small for the data?)"
e2fsck -fn "$disk?offset=1048576" >"$work/e2fsck.log" 2>&1 || { tail "$work/e2fsck.log" >&2; die "e2fsck found problems"; }
sfdisk -V "$disk" >/dev/null || die "the partition table was damaged"
usage_line=$(tail -n1 "$work/e2fsck.log")
log "converting to qcow2"
qemu-img convert -q -f raw -O qcow2 "$disk" "$dst/disk.qcow2"
printf '%s\n' "$want" >"$dst/stamp"

rm -rf --one-file-system "$ver_dir"
mv -T "$dst" "$ver_dir"
link_out
log "done: $usage_line"
log "$(du -sh "$ver_dir/tree" | cut -f1) tree, $(du -sh "$ver_dir/disk.raw" | cut -f1) raw, $(du -sh "$ver_dir/disk.qcow2" | cut -f1) qcow2 in $ver_dir"
printf '%s\n' "$out"
