#!/usr/bin/env python3
"""Image vetting benchmarks (issue 3). Drives the real binaries (a Release build).

  bench/inspect.py [--bin DIR] [--runs N] [--skip-big]

Side by side in one run:
  1. the debootstrap minbase image (tests/data/make-debian-image.sh): inventory and
     vulnerabilities only (`bulwark image scan --inventory-only`), and the full vet (content
     scan: secrets over every file not shipped unchanged by a package, plus a YARA rule over
     every file), both through bulwarkd and the jailed inspector, warm cache;
  2. a 4 GiB image holding 100k files (bench/make-many-files-image.sh): the full vet, cold
     and warm, against reading the same files with cat (the I/O limit) cold and warm. Warm
     means the image is in the page cache, read once by this script: the jailed inspector's
     own reads are charged to its memory cgroup (1 GiB), so a scan right after a cold one
     finds only part of the image cached (also measured);
  3. the inspector worker alone (no daemon, no jail) on the same images, to show what the
     jail and the daemon add; on the 4 GiB image with the YARA rule, with one content-scanning
     thread and with the default two, to show what the second thread buys.
Bytes read are the image file's bytes the inspector read (its own count). The load average
before and after is printed: the machines are shared, so read ratios of runs made side by
side. Needs root.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from foundation import Daemon, drop_caches, machine, ROOT  # noqa: E402

YARA = 'rule elf_with_upx { strings: $a = "UPX!" $e = { 7f 45 4c 46 } condition: $e at 0 and $a }\n'


def timed_json(argv, ok_codes=(0, 9)):
    t = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if r.returncode not in ok_codes:
        sys.exit(f"{argv}: exit {r.returncode}: {r.stderr[:500]} {r.stdout[:500]}")
    return dt, json.loads(r.stdout)


def worker(bindir, image, content, yara=None, threads=None):
    with open(image, "rb") as f, open(yara or os.devnull, "rb") as y:
        argv = [f"{bindir}/bulwark-inspect", "--image-fd", str(f.fileno()), "--out-fd", "1", "--content", "1" if content else "0"]
        if yara:
            argv += ["--yara", f"{os.path.basename(yara)}={y.fileno()}"]
        if threads:
            argv += ["--threads", str(threads)]
        t = time.perf_counter()
        r = subprocess.run(argv, pass_fds=[f.fileno(), y.fileno()], capture_output=True, text=True)
        dt = time.perf_counter() - t
    out = json.loads(r.stdout)
    if not out.get("ok"):
        sys.exit(f"worker failed: {out}")
    return dt, out["report"]


def mbps(nbytes, seconds):
    return nbytes / seconds / 1e6 if seconds > 0 else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build-release", "src"))
    ap.add_argument("--debian", default=os.path.expanduser("~/.cache/bulwark/debian-image"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-big", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/inspect.py needs root (the inspector's jail does)")
    default_bin = os.path.join(ROOT, "build-release", "src")
    command = f"python3 bench/inspect.py --runs {a.runs}" + (" --skip-big" if a.skip_big else "")
    if os.path.realpath(a.bin) != os.path.realpath(default_bin):
        command += " --bin " + os.path.relpath(a.bin, ROOT)
    out = ["## Image vetting (issue 3), " + time.strftime("%Y-%m-%d"), "", "Machine: " + machine(), "",
           f"Command: `{command}`", "", "Load average at the start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()), ""]
    tmp = tempfile.mkdtemp(prefix="bwbench-inspect-", dir="/var/tmp")
    yara = os.path.join(tmp, "bench.yar")
    with open(yara, "w") as f:
        f.write(YARA)
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    d = Daemon(a.bin, home)
    try:
        d.cli("vuln", "update", os.path.join(ROOT, "tests", "data", "osv"))
        cli = [f"{a.bin}/bulwark", "--home", home]
        minbase = os.path.join(a.debian, "clean.qcow2")
        inv, full, w_inv, w_full = [], [], [], []
        report = None
        for i in range(a.runs):
            dt, report_inv = timed_json(cli + ["image", "scan", minbase, "--inventory-only", "--format", "json"])
            inv.append(dt)
            dt, report = timed_json(cli + ["image", "scan", minbase, "--yara", yara, "--format", "json"])
            full.append(dt)
            w_inv.append(worker(a.bin, minbase, False)[0])
            w_full.append(worker(a.bin, minbase, True)[0])
        stats = report["stats"]
        size = os.path.getsize(minbase)
        out.append("### Debian 12 minbase (debootstrap, 89 packages, %d files, qcow2 of %.0f MiB), warm cache\n"
                   % (stats["files"], size / 2**20))
        out.append("| | median | runs | bytes read | MB/s |")
        out.append("|---|---|---|---|---|")
        rows = [("inventory + vulnerabilities (`image scan --inventory-only`: bulwarkd, jailed inspector, OSV matching, policy)", inv, None),
                ("full vet (`image scan --yara R`: + secrets and YARA over every file)", full, stats["bytes_read"]),
                ("inspector alone, inventory only (no daemon, no jail)", w_inv, None),
                ("inspector alone, full content scan", w_full, stats["bytes_read"])]
        for label, xs, nbytes in rows:
            med = statistics.median(xs)
            out.append(f"| {label} | {med * 1000:.0f} ms | " + ", ".join(f"{x * 1000:.0f}" for x in xs) + " | "
                       + (f"{nbytes / 2**20:.0f} MiB | {mbps(nbytes, med):.0f}" if nbytes else "- | -") + " |")

        if not a.skip_big:
            big = os.path.join(tmp, "many-files.qcow2")
            subprocess.run([os.path.join(ROOT, "bench", "make-many-files-image.sh"), big], check=True, capture_output=True)
            tree = big[: -len(".qcow2")] + ".tree"
            cat_cold, cat_warm, vet_cold, vet_again, vet_warm, alone_1, alone_2 = [], [], [], [], [], [], []
            cat_all = ["find", "-H", tree, "-type", "f", "-exec", "cat", "{}", "+"]
            big_report = None
            runs = max(1, min(a.runs, 3))
            for i in range(runs):
                drop_caches()
                t = time.perf_counter()
                subprocess.run(cat_all, stdout=subprocess.DEVNULL, check=True)
                cat_cold.append(time.perf_counter() - t)
                t = time.perf_counter()
                subprocess.run(cat_all, stdout=subprocess.DEVNULL, check=True)
                cat_warm.append(time.perf_counter() - t)
                drop_caches()
                dt, big_report = timed_json(cli + ["image", "scan", big, "--yara", yara, "--format", "json"])
                vet_cold.append(dt)
                # Right after the cold scan, the image is not all cached: the pages the jailed
                # inspector read are charged to its memory cgroup (1 GiB), which evicts them as
                # the scan goes on; about 1 GiB of the image is left in the page cache.
                dt, big_report = timed_json(cli + ["image", "scan", big, "--yara", yara, "--format", "json"])
                vet_again.append(dt)
                # Warm: the whole image in the page cache, read by this process (outside the
                # jail), as cat's tree is for cat.
                subprocess.run(["cat", os.path.realpath(big)], stdout=subprocess.DEVNULL, check=True)
                dt, big_report = timed_json(cli + ["image", "scan", big, "--yara", yara, "--format", "json"])
                vet_warm.append(dt)
                alone_1.append(worker(a.bin, big, True, yara, threads=1)[0])
                alone_2.append(worker(a.bin, big, True, yara)[0])
            bs = big_report["stats"]
            tree_bytes = int(subprocess.run(["du", "-sb", "--apparent-size", tree + "/"], capture_output=True, text=True).stdout.split()[0])
            out.append(f"\n### 4 GiB image, {bs['files']} files ({tree_bytes / 2**20:.0f} MiB of file data), full vet vs cat\n")
            out.append("| | median | runs | bytes read | MB/s | / cat |")
            out.append("|---|---|---|---|---|---|")
            for label, xs, ref, nbytes in (("cat of every file, cold cache", cat_cold, None, tree_bytes),
                                           ("full vet (`image scan --yara R`), cold cache", vet_cold, cat_cold, bs["bytes_read"]),
                                           ("cat of every file, warm cache", cat_warm, None, tree_bytes),
                                           ("full vet right after the cold one (what the jail's 1 GiB memory cgroup left cached)",
                                            vet_again, cat_warm, bs["bytes_read"]),
                                           ("full vet, warm cache (the image read once outside the jail)", vet_warm, cat_warm,
                                            bs["bytes_read"]),
                                           ("inspector alone (no daemon, no jail), warm, one scanning thread (`--threads 1`)",
                                            alone_1, cat_warm, bs["bytes_read"]),
                                           ("inspector alone, warm, two scanning threads (the default)", alone_2, cat_warm,
                                            bs["bytes_read"])):
                med = statistics.median(xs)
                ratio = f"{med / statistics.median(ref):.2f}x" if ref else "1"
                out.append(f"| {label} | {med:.2f} s | " + ", ".join(f"{x:.2f}" for x in xs)
                           + f" | {nbytes / 2**20:.0f} MiB | {mbps(nbytes, med):.0f} | {ratio} |")
        out.append("\nLoad average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    finally:
        d.stop()
        subprocess.run(["rm", "-rf", tmp])
    print("\n".join(out))


if __name__ == "__main__":
    main()
