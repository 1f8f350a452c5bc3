#!/usr/bin/env python3
"""Virtual network benchmarks (issue 5). Runs the Release binaries; builds nothing.

  bench/net.py [--bin DIR] [--runs N] [--duration S] [--pcap-mb N] [--work DIR]

Side by side in one run (bench/netgen.cpp does the measuring; configurations alternate run by
run and medians are taken):
  1. frames/s at 64-byte frames and Gbit/s at 1514-byte frames (a 1500-byte MTU) from one
     guest port to another through bulwark-switch, with the worker's CPU time:
       relay    --relay: the same socket I/O, no decoding (the limit)
       forward  forwarding two guests a policy lets talk (8 established TCP flows)
       nofast   the same with the switch's established flow cache off (--no-fast-path)
       seg1k    the same under a policy of 1,000 [[allow]] rules over 200 guests' labels
       ids1k    forward plus 1,000 generated content rules (8-16 byte contents, TCP port
                groups, one rule in 1,000 matching a marker in 1 frame in 256)
       ids10k   the same with 10,000 rules
  2. the offline mode's MB/s over a pcap of mixed TCP flows with the 1,000 rules: in-process
     (net::inspect_capture) and once through `bulwark net inspect`.
Prints a markdown report; --out appends it to a file (bench/RESULTS.md takes it by hand).
"""
import argparse, json, os, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from foundation import machine, ROOT  # noqa: E402

CONFIGS = [
    ("relay", "(a) `--relay`: same socket I/O, no decoding"),
    ("forward", "(b) switch forwarding, policy allows the pair"),
    ("nofast", "(b) the same, fast path off"),
    ("seg1k", "(c) 1,000 segmentation rules, 202 guests"),
    ("ids1k", "(d) IDS, 1,000 content rules"),
    ("ids10k", "(d) IDS, 10,000 content rules"),
]


def med(xs):
    return statistics.median(xs) if xs else 0.0


def fmt_rate(fps):
    return f"{fps / 1e6:.2f} M" if fps >= 1e6 else f"{fps / 1e3:.0f} k"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build-release-net"),
                    help="a Release build directory (src/bulwark-switch, src/bulwark, bench/netgen)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--pcap-mb", type=int, default=400)
    ap.add_argument("--work", default="/var/tmp/bulwark-netbench")
    ap.add_argument("--json", help="also write netgen's raw figures here")
    ap.add_argument("--out", help="append the report to this file")
    a = ap.parse_args()
    netgen = os.path.join(a.bin, "bench", "netgen")
    switch = os.path.join(a.bin, "src", "bulwark-switch")
    cli = os.path.join(a.bin, "src", "bulwark")
    for path in (netgen, switch, cli):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} is missing: build it with `ninja -C {a.bin} bulwark-switch bulwark netgen`")
    os.makedirs(a.work, exist_ok=True)

    r = subprocess.run([netgen, "--switch", switch, "--runs", str(a.runs), "--duration", str(a.duration),
                        "--pcap-mb", str(a.pcap_mb), "--work", a.work], stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"netgen failed (exit {r.returncode})")
    data = json.loads(r.stdout)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(data, f, indent=1)

    # The CLI once over the same capture and rules (process start, rule compile, file reads).
    pcap = data["offline"]["pcap"]
    rules = os.path.join(a.work, "rules-1000.rules")
    t = time.perf_counter()
    c = subprocess.run([cli, "net", "inspect", "--rules", rules, "--pcap", pcap, "--eve", "/dev/null"],
                       capture_output=True, text=True)
    cli_seconds = time.perf_counter() - t
    if c.returncode not in (0, 1):
        sys.exit(f"bulwark net inspect: exit {c.returncode}: {c.stderr[:500]}")

    res = data["results"]
    dur = data["duration"]
    out = ["## Virtual network (issue 5), " + time.strftime("%Y-%m-%d"), "", "Machine: " + machine(), "",
           f"Command: `python3 bench/net.py --runs {a.runs} --duration {a.duration:g} --pcap-mb {a.pcap_mb}` "
           f"(Release build in `{os.path.relpath(a.bin, ROOT)}`; {data['flows']} TCP flows per frame size, "
           f"one sending thread, one receiving, {dur:g} s per run, medians of {a.runs} alternating runs)", ""]
    out.append("### Through bulwark-switch, guest port to guest port")
    out.append("")
    out.append("| configuration | 64 B: frames/s | 64 B: switch CPU (cores) | 64 B: frames/s per core | "
               "1514 B: Gbit/s | 1514 B: switch CPU (cores) | 1514 B: Gbit/s per core |")
    out.append("|---|---|---|---|---|---|---|")
    summary = {}
    for name, label in CONFIGS:
        if name not in res:
            continue
        s64, s1514 = res[name]["64"], res[name]["1514"]
        fps = med(s64["fps"])
        cores64 = med(s64["cpu_seconds"]) / dur
        gbps = med(s1514["gbps"])
        cores1514 = med(s1514["cpu_seconds"]) / dur
        # Per core: each run's own rate over its own CPU, then the median.
        fps_core = med([f / (c / dur) for f, c in zip(s64["fps"], s64["cpu_seconds"]) if c > 0])
        gbps_core = med([g / (c / dur) for g, c in zip(s1514["gbps"], s1514["cpu_seconds"]) if c > 0])
        # The same counting the frames the generator sent (which the worker read) rather than
        # those delivered: a worker faster than the receiving thread drops frames at the
        # receiver's full queue (drop_tx_full), work that the delivered figure does not count.
        read_core = {size: med([f / (c / dur) for f, c in zip(res[name][size]["sent_fps"], res[name][size]["cpu_seconds"])
                                if c > 0]) for size in ("64", "1514")}
        summary[name] = dict(fps=fps, gbps=gbps, fps_core=fps_core, gbps_core=gbps_core, read_core=read_core)
        out.append(f"| {label} | {fmt_rate(fps)} | {cores64:.2f} | {fmt_rate(fps_core)} | {gbps:.2f} | "
                   f"{cores1514:.2f} | {gbps_core:.2f} |")
    out.append("")
    if "relay" in summary:
        # The comparison goal (b) speaks of: per core of switch CPU, against the relay, and what
        # a 64-byte frame costs in worker CPU (1 / frames per core).
        rel = summary["relay"]
        out.append("Per core of switch CPU, as a share of (a) the relay (frames delivered per core; in brackets, "
                   "frames read per core, which counts the frames dropped at the receiver's full queue too):")
        out.append("")
        out.append("| configuration | 64 B: per core vs relay | 64 B: worker CPU per frame | 1514 B: per core vs relay |")
        out.append("|---|---|---|---|")
        for name, label in CONFIGS:
            if name in summary:
                s = summary[name]
                r64 = 100 * s["read_core"]["64"] / rel["read_core"]["64"]
                r1514 = 100 * s["read_core"]["1514"] / rel["read_core"]["1514"]
                out.append(f"| {label} | {100 * s['fps_core'] / rel['fps_core']:.0f} % ({r64:.0f} %) | "
                           f"{1e9 / s['fps_core']:.0f} ns | {100 * s['gbps_core'] / rel['gbps_core']:.0f} % ({r1514:.0f} %) |")
        out.append("")
    out.append("Each run (64 B frames/s in millions; 1514 B Gbit/s):")
    out.append("")
    for name, label in CONFIGS:
        if name in res:
            f64 = ", ".join(f"{x / 1e6:.2f}" for x in res[name]["64"]["fps"])
            g = ", ".join(f"{x:.2f}" for x in res[name]["1514"]["gbps"])
            st = res[name]["status"]
            extra = f"; IDS alerts {st.get('ids_alerts')}" if name.startswith("ids") else ""
            drops = st["server"].get("drop_tx_full", 0)
            out.append(f"- {name}: 64 B {f64}; 1514 B {g}; frames dropped at the receiver's full queue {drops}{extra}")
    out.append("")

    runs = data["offline"]["runs"]
    mbps = [x["file_bytes"] / x["seconds"] / 1e6 for x in runs]
    first = runs[0]
    out.append("### Offline mode (`bulwark net inspect`), 1,000 content rules")
    out.append("")
    out.append("| | pcap | records | flows | time (median) | MB/s |")
    out.append("|---|---|---|---|---|---|")
    out.append(f"| in-process `net::inspect_capture` ({len(runs)} runs, warm cache) | {first['file_bytes'] / 1e6:.0f} MB | "
               f"{first['records']} | {first['flows']} | {med([x['seconds'] for x in runs]):.2f} s | {med(mbps):.0f} |")
    out.append(f"| `bulwark net inspect --rules R --pcap P --eve /dev/null` (once, incl. process start and rule compile) | "
               f"{first['file_bytes'] / 1e6:.0f} MB | | | {cli_seconds:.2f} s | {first['file_bytes'] / cli_seconds / 1e6:.0f} |")
    out.append("")

    if "relay" in summary and "forward" in summary:
        rel, fwd = summary["relay"], summary["forward"]
        out.append("### Ratios against the goals")
        out.append("")
        out.append("| goal | figure |")
        out.append("|---|---|")
        out.append(f"| (b) forwarding at least 70 % of (a) the relay | 1514 B: {100 * fwd['gbps'] / rel['gbps']:.0f} % "
                   f"({fwd['gbps']:.2f} vs {rel['gbps']:.2f} Gbit/s); 64 B: {100 * fwd['fps'] / rel['fps']:.0f} % "
                   f"({fmt_rate(fwd['fps'])} vs {fmt_rate(rel['fps'])} frames/s); per core of switch CPU: "
                   f"1514 B {100 * fwd['gbps_core'] / rel['gbps_core']:.0f} %, 64 B {100 * fwd['fps_core'] / rel['fps_core']:.0f} % |")
        if "nofast" in summary:
            nf = summary["nofast"]
            out.append(f"| (b) the same with the fast path off, per core of switch CPU | "
                       f"1514 B {100 * nf['gbps_core'] / rel['gbps_core']:.0f} %, 64 B {100 * nf['fps_core'] / rel['fps_core']:.0f} % |")
        if "ids1k" in summary:
            d = summary["ids1k"]
            out.append(f"| (d) 1,000 content rules: at least 2 Gbit/s per core of switch CPU, 1514 B | "
                       f"{d['gbps_core']:.2f} Gbit/s per core ({d['gbps']:.2f} Gbit/s delivered) |")
        if "seg1k" in summary:
            out.append(f"| (c) 1,000 segmentation rules vs (b) | 1514 B {100 * summary['seg1k']['gbps'] / fwd['gbps']:.0f} %, "
                       f"64 B {100 * summary['seg1k']['fps'] / fwd['fps']:.0f} % |")
        if "ids10k" in summary and "ids1k" in summary:
            out.append(f"| (d) 10,000 vs 1,000 content rules, per core, 1514 B | "
                       f"{summary['ids10k']['gbps_core']:.2f} vs {summary['ids1k']['gbps_core']:.2f} Gbit/s |")
        out.append("")
    report = "\n".join(out)
    print(report)
    if a.out:
        with open(a.out, "a") as f:
            f.write(report + "\n")


if __name__ == "__main__":
    main()
