#!/usr/bin/env python3
"""Foundation benchmarks (issue 2). Drives the real bulwarkd and bulwark binaries.

  bench/foundation.py [--bin DIR] [--guest DIR] [--sizes 1,8] [--runs N] [--skip-big]

Measures, side by side in one run:
  1. guest creation from golden images of 1 GiB and 8 GiB (virtual, filled with data)
     against a full copy of the same image (qemu-img convert);
  2. ephemeral reset (stop + clean start, up to QEMU answering QMP; the guest's own boot is
     not part of it) for the same two images;
  3. boot to guest-agent-ready through bulwarkd against the same QEMU command line
     launched by hand;
  4. bulwarkd resident memory with 0, 10 and 50 defined guests.
Prints a markdown report. Use a Release build (scripts/quickstart.sh makes build-release/).
"""
import argparse, json, os, platform, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout


class Daemon:
    def __init__(self, bindir, home):
        self.bindir, self.home = bindir, home
        sh([f"{bindir}/bulwarkd", "--home", home, "--detach"])
        self.pid = self.json("status")["pid"]

    def cli(self, *args):
        return sh([f"{self.bindir}/bulwark", "--home", self.home, *args])

    def json(self, *args):
        return json.loads(self.cli("--json", *args))

    def stop(self):
        os.kill(self.pid, signal.SIGTERM)
        for _ in range(200):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])


def api_call(home, method, params):
    """One request on the control socket, as the CLI sends it (no CLI process start)."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.path.join(home, "bulwarkd.sock"))
    s.sendall((json.dumps({"method": method, "params": params}) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        buf += chunk
    s.close()
    reply = json.loads(buf)
    if not reply["ok"]:
        raise RuntimeError(reply["error"]["message"])
    return reply["result"]


def drop_caches():
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def agent_ready(path, deadline):
    """Polls the guest agent socket until guest-sync answers; returns the time it did."""
    while time.perf_counter() < deadline:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(0.5)
            s.connect(path)
            s.sendall(b'\xff{"execute":"guest-sync-delimited","arguments":{"id":4242}}\n')
            buf = b""
            while b"4242" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            s.close()
            if b"4242" in buf:
                return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError("guest agent did not answer")


def make_data_image(path, gib):
    # Raw image filled with incompressible data, then imported (converted to qcow2).
    with open(path, "wb") as f:
        chunk = os.urandom(1 << 20)
        for i in range(gib * 1024):
            f.write(chunk[i % 7:] + chunk[: i % 7])


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 30)
    return f"{os.cpu_count()} cores ({cpu}), {mem} GiB RAM, {platform.platform()}, /dev/kvm: {'present (bulwarkd uses it only if QEMU can)' if os.path.exists('/dev/kvm') else 'absent (TCG)'}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build-release/src"))
    ap.add_argument("--guest", default=os.path.expanduser("~/.cache/bulwark/guest"))
    ap.add_argument("--sizes", default="1,8")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--work", default=None, help="scratch directory (needs ~2x the largest size free)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = tempfile.mkdtemp(prefix="bwb-", dir=args.work or "/var/tmp")
    home = os.path.join(work, "h")
    out = []
    out.append(f"Machine: {machine()}\n")
    out.append(f"Command: `bench/foundation.py --sizes {args.sizes} --runs {args.runs}` ({time.strftime('%Y-%m-%d')})\n")
    d = Daemon(args.bin, home)
    g = args.guest
    cmdline = open(os.path.join(g, "cmdline")).read().strip()
    try:
        # 1 + 2: creation and ephemeral reset against image size.
        out.append("\n### Guest creation and ephemeral reset vs image size\n")
        out.append("| image (virtual, full of data) | full copy, cold cache | full copy, warm cache | vm create, API (median) | vm create, CLI (median) | create (API) / warm copy | ephemeral reset, API: kill + clean start to QMP ready (median) |")
        out.append("|---|---|---|---|---|---|---|")
        blobs = {}
        for gib in sizes:
            raw = os.path.join(work, f"data{gib}.raw")
            make_data_image(raw, gib)
            d.cli("image", "import", raw, "--name", f"data{gib}", "--kernel", os.path.join(g, "vmlinux"),
                  "--initrd", os.path.join(g, "initrd.img"), "--cmdline", cmdline)
            os.unlink(raw)
            digest = d.json("image", "show", f"data{gib}")["manifest"]["disk"]["digest"].split(":")[1]
            blobs[gib] = os.path.join(home, "images/blobs", digest)
        dst = os.path.join(work, "copy.qcow2")
        cold, warm = {g_: [] for g_ in sizes}, {g_: [] for g_ in sizes}
        for i in range(2):
            for gib in sizes:
                cold_ok = drop_caches()
                t = timed(lambda: sh(["qemu-img", "convert", "-O", "qcow2", blobs[gib], dst]))
                (cold[gib] if cold_ok else warm[gib]).append(t)
                os.unlink(dst)
                warm[gib].append(timed(lambda: sh(["qemu-img", "convert", "-O", "qcow2", blobs[gib], dst])))
                os.unlink(dst)
        os.sync()  # the copies leave gigabytes of dirty and freed blocks; do not bill them to create
        time.sleep(5)
        # Interleaved, so both sizes see the same machine.
        api, cli, resets = ({g_: [] for g_ in sizes} for _ in range(3))
        for i in range(args.runs):
            for gib in sizes:
                api[gib].append(timed(lambda: api_call(home, "vm.create", {"name": f"d{gib}-{i}", "image": f"data{gib}",
                                                                          "memory_mib": 128, "ephemeral": True})))
                cli[gib].append(timed(lambda: d.cli("vm", "create", f"c{gib}-{i}", "--image", f"data{gib}", "--memory", "128")))
        for gib in sizes:
            api_call(home, "vm.start", {"name": f"d{gib}-0"})
        for i in range(args.runs):
            for gib in sizes:
                # The data image has no OS to answer ACPI: stop = kill, then a clean start
                # (overlay discarded and recreated, image verified, QEMU spawned).
                resets[gib].append(timed(lambda: (api_call(home, "vm.kill", {"name": f"d{gib}-0"}),
                                                  api_call(home, "vm.start", {"name": f"d{gib}-0"}))))
        for gib in sizes:
            api_call(home, "vm.kill", {"name": f"d{gib}-0"})
            mc = statistics.median(cold[gib]) if cold[gib] else float("nan")
            mw, ma, ml, mr = (statistics.median(x[gib]) for x in (warm, api, cli, resets))
            out.append(f"| {gib} GiB | {mc:.2f} s | {mw:.2f} s | {ma*1000:.1f} ms | {ml*1000:.1f} ms | 1/{mw/ma:.0f} | {mr*1000:.0f} ms |")
        out.append("")
        for gib in sizes:
            out.append(f"- {gib} GiB, vm create via API, each run (ms): {', '.join(f'{x*1000:.1f}' for x in api[gib])}")
        for gib in sizes:
            for i in range(args.runs):
                d.cli("vm", "rm", f"d{gib}-{i}")
                d.cli("vm", "rm", f"c{gib}-{i}")
            d.cli("image", "rm", f"data{gib}")

        # 3: boot to agent-ready, bulwarkd vs by hand, alternating.
        d.cli("image", "import", os.path.join(g, "root.qcow2"), "--name", "demo", "--kernel", os.path.join(g, "vmlinux"),
              "--initrd", os.path.join(g, "initrd.img"), "--cmdline", cmdline)
        # Ephemeral, so that every boot starts from the clean golden state, as the by-hand
        # run (a fresh overlay each time) does.
        d.cli("vm", "create", "boot", "--image", "demo", "--memory", "256", "--ephemeral")
        vm_id = None
        via, by_hand = [], []
        argv = None
        for i in range(args.runs):
            t0 = time.perf_counter()
            d.cli("vm", "start", "boot")
            info = d.json("vm", "show", "boot")
            if vm_id is None:
                runs = os.listdir(os.path.join(home, "run"))
                vm_id = [r for r in runs if os.path.exists(os.path.join(home, "run", r, "qga.sock"))][0]
                with open(f"/proc/{info['pid']}/cmdline", "rb") as f:
                    argv = [a.decode() for a in f.read().split(b"\0") if a]
            t1 = agent_ready(os.path.join(home, "run", vm_id, "qga.sock"), t0 + 120)
            via.append(t1 - t0)
            d.cli("vm", "kill", "boot")
            # The same command line by hand, with its own sockets and overlay.
            hand = os.path.join(work, "hand")
            shutil.rmtree(hand, ignore_errors=True)
            os.makedirs(hand)
            ov = os.path.join(hand, "ov.qcow2")
            base = [a for a in argv if '"node-name":"base-file"' in a][0]
            base_path = json.loads(base)["filename"]
            sh(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base_path, ov])
            run_dir = os.path.join(home, "run", vm_id)
            hargv = [a.replace(run_dir, hand).replace(os.path.join(home, "vms/boot/disk.qcow2"), ov)
                      .replace(os.path.join(home, "vms/boot/console.log"), os.path.join(hand, "console.log")) for a in argv]
            t0 = time.perf_counter()
            p = subprocess.Popen(hargv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t1 = agent_ready(os.path.join(hand, "qga.sock"), t0 + 120)
            by_hand.append(t1 - t0)
            p.kill()
            p.wait()
        mv, mh = statistics.median(via), statistics.median(by_hand)
        out.append("\n### Boot to guest-agent-ready\n")
        out.append("| launched | median | runs |")
        out.append("|---|---|---|")
        out.append(f"| through bulwarkd (`bulwark vm start`, verify, overlay, spawn) | {mv:.3f} s | {', '.join(f'{x:.2f}' for x in via)} |")
        out.append(f"| same QEMU command line by hand | {mh:.3f} s | {', '.join(f'{x:.2f}' for x in by_hand)} |")
        out.append(f"| overhead | {100*(mv-mh)/mh:+.1f} % | |")

        # 4: resident memory with 0, 10, 50 defined guests.
        d.cli("vm", "rm", "boot")
        d.stop()
        d = Daemon(args.bin, home)
        rss = {}
        made = 0
        for n in (0, 10, 50):
            while made < n:
                d.cli("vm", "create", f"m{made}", "--image", "demo", "--memory", "128")
                made += 1
            d.cli("vm", "list")
            rss[n] = d.rss_kib()
        out.append("\n### bulwarkd resident memory\n")
        out.append("| defined guests | VmRSS | per guest over 0 |")
        out.append("|---|---|---|")
        for n in (0, 10, 50):
            per = "" if n == 0 else f"{(rss[n]-rss[0])/n:.1f} KiB"
            out.append(f"| {n} | {rss[n]/1024:.1f} MiB | {per} |")
    finally:
        d.stop()
        subprocess.run(["pkill", "-KILL", "-f", home + "/run/"])
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(out))


if __name__ == "__main__":
    main()
