#!/usr/bin/env python3
"""Jail benchmarks (issue 4): what the jail adds to a guest's start. Drives the real binaries.

  bench/jail.py [--bin DIR] [--guest DIR] [--runs N] [--micro-runs N]

Measures, side by side in one run, two bulwarkd daemons on the same machine, one jailing its
guests (the default) and one with BULWARK_JAIL=off, starting the same ephemeral guest of the
same golden image, interleaved:
  1. `vm start` over the API: verify, fresh overlay, spawn (through the jailer or not) until
     QEMU answers on QMP;
  2. boot to guest-agent-ready: from the start request until the guest agent answers.
And the jail alone, without QEMU's noise around it:
  3. bulwark-jailer building a guest's jail and exec'ing a static no-op program, against
     spawning the same program directly.
Prints a markdown report. Needs root. Use a Release build (scripts/quickstart.sh).
"""
import argparse, hashlib, json, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from foundation import Daemon, agent_ready, api_call, machine, ROOT  # noqa: E402


def median_ms(xs):
    return statistics.median(xs) * 1000


def jailer_argv(bindir, root, cgroup, uid, program, args):
    """The jail bulwarkd builds for a guest (src/jail/guest_jail.cpp), with program in QEMU's place."""
    real = os.path.realpath
    argv = [f"{bindir}/bulwark-jailer", "--name", "bench", "--uid", str(uid), "--gid", str(uid), "--root", root,
            "--cgroup", cgroup, "--memory", str(640 << 20), "--cpu-percent", "100", "--pids", "256"]
    for path in ["/usr/bin/qemu-system-x86_64", "/usr/lib/x86_64-linux-gnu", "/usr/lib64"]:
        if os.path.exists(path):
            argv += ["--bind-exec", real(path), real(path)]
    for path in ["/etc/ld.so.cache", "/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe/qemu"]:
        if os.path.exists(path):
            argv += ["--bind-ro", real(path), real(path)]
    for dev in ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]:
        argv += ["--dev", dev, dev]
    argv += ["--bind-exec", program, "/program", "--symlink", "/lib", "usr/lib", "--symlink", "/lib64", "usr/lib64",
             "--", "/program", *args]
    return argv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build-release", "src"))
    ap.add_argument("--probe", default=None, help="a static program to exec (default: build*/tests/jail_probe)")
    ap.add_argument("--guest", default=os.path.expanduser("~/.cache/bulwark/guest"))
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--micro-runs", type=int, default=50)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/jail.py needs root (the jail does)")
    probe = a.probe
    for cand in [os.path.join(ROOT, d, "tests", "jail_probe") for d in ("build-release", "build")]:
        if probe is None and os.path.exists(cand):
            probe = cand
    out = ["## Jail (issue 4), " + time.strftime("%Y-%m-%d"), "", "Machine: " + machine(), "",
           f"Command: `python3 bench/jail.py --runs {a.runs} --micro-runs {a.micro_runs}`", ""]

    tmp = tempfile.mkdtemp(prefix="bwbench-jail-", dir="/var/tmp")
    daemons = {}
    try:
        for kind, env in (("jailed", {}), ("unjailed", {"BULWARK_JAIL": "off"})):
            home = os.path.join(tmp, kind)
            os.makedirs(home)
            old = dict(os.environ)
            os.environ.update(env)
            try:
                d = Daemon(a.bin, home)
            finally:
                os.environ.clear()
                os.environ.update(old)
            d.cli("image", "import", os.path.join(a.guest, "root.qcow2"), "--name", "demo", "--kernel",
                  os.path.join(a.guest, "vmlinux"), "--initrd", os.path.join(a.guest, "initrd.img"),
                  "--cmdline", open(os.path.join(a.guest, "cmdline")).read().strip())
            d.cli("vm", "create", "boot", "--image", "demo", "--memory", "256", "--ephemeral")
            daemons[kind] = d
        out.append("Accelerator bulwarkd chose: " + daemons["jailed"].json("status").get("accel", "?") + "\n")
        starts = {k: [] for k in daemons}
        ready = {k: [] for k in daemons}
        for i in range(a.runs):
            for kind, d in (daemons.items() if i % 2 == 0 else reversed(list(daemons.items()))):
                t0 = time.perf_counter()
                api_call(d.home, "vm.start", {"name": "boot"})
                t1 = time.perf_counter()
                vm_id = str(d.json("vm", "show", "boot").get("id", ""))
                if not vm_id:
                    vm_id = sorted(os.listdir(os.path.join(d.home, "run")))[0]
                t2 = agent_ready(os.path.join(d.home, "run", vm_id, "qga.sock"), t0 + 120)
                starts[kind].append(t1 - t0)
                ready[kind].append(t2 - t0)
                d.cli("vm", "kill", "boot")
        out.append("### What the jail adds to a guest's start (same guest, interleaved runs)\n")
        out.append("| | jailed (median) | unjailed (median) | added | runs, jailed | runs, unjailed |")
        out.append("|---|---|---|---|---|---|")
        for label, data in (("`vm start` until QMP answers", starts), ("boot to guest-agent-ready", ready)):
            j, u = median_ms(data["jailed"]), median_ms(data["unjailed"])
            out.append(f"| {label} | {j:.1f} ms | {u:.1f} ms | {j - u:+.1f} ms | "
                       + ", ".join(f"{x * 1000:.0f}" for x in data["jailed"]) + " | "
                       + ", ".join(f"{x * 1000:.0f}" for x in data["unjailed"]) + " |")
    finally:
        for d in daemons.values():
            try:
                d.cli("vm", "kill", "boot")
            except Exception:
                pass
            d.stop()

    if probe:
        root = os.path.join(tmp, "micro-root")
        os.makedirs(root)
        cgroup = "bulwark/bench-" + hashlib.sha256(tmp.encode()).hexdigest()[:8] + "/vm-1"
        jailed, direct = [], []
        for i in range(a.micro_runs):
            for kind in (("jailed", "direct") if i % 2 == 0 else ("direct", "jailed")):
                argv = jailer_argv(a.bin, root, cgroup, 2000000999, probe, ["whoami"]) if kind == "jailed" else [probe, "whoami"]
                t0 = time.perf_counter()
                r = subprocess.run(argv, capture_output=True, text=True)
                dt = time.perf_counter() - t0
                if r.returncode != 0:
                    sys.exit(f"{kind} run failed: {r.stdout} {r.stderr}")
                (jailed if kind == "jailed" else direct).append(dt)
                if kind == "jailed":
                    for ctrl in ("cpu", "memory", "pids"):
                        try:
                            os.rmdir(f"/sys/fs/cgroup/{ctrl}/{cgroup}")
                        except OSError:
                            pass
        for ctrl in ("cpu", "memory", "pids"):
            try:
                os.rmdir(f"/sys/fs/cgroup/{ctrl}/{os.path.dirname(cgroup)}")
            except OSError:
                pass
        out.append("\n### The jail alone: build a guest's jail and exec a static no-op\n")
        out.append("| | median | p90 | runs |")
        out.append("|---|---|---|---|")
        for label, data in (("through bulwark-jailer (cgroup, 6 namespaces, 12 mounts, pivot_root, uid, caps, seccomp)", jailed),
                            ("spawned directly", direct)):
            q = sorted(data)
            out.append(f"| {label} | {median_ms(data):.2f} ms | {q[int(len(q) * 0.9)] * 1000:.2f} ms | {len(data)} |")
        out.append(f"| added by the jail | {median_ms(jailed) - median_ms(direct):+.2f} ms | | |")
    shutil.rmtree(tmp, ignore_errors=True)
    print("\n".join(out))


if __name__ == "__main__":
    main()
