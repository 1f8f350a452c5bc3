#!/usr/bin/env bash
# Bulwark guest self-test: boots the guest built by guest/build.sh and checks
# what the launcher relies on.  Exits non-zero on the first failure.
#
#   usage: guest/selftest.sh OUTDIR [q35|microvm ...]     (default: q35)
#
# q35 is the recommended machine type.  microvm boots too, but not reliably
# when the host CPU is contended (see README.md), so it is opt-in here.
#
# Per machine type: boot to BULWARK-GUEST-READY (timed), guest-sync/guest-ping,
# guest-exec with exit status and output, QMP snapshot-save/snapshot-load jobs
# on the running guest (pause times from the STOP/RESUME events), QMP
# system_powerdown makes QEMU exit, a file survives into the next boot on the
# same overlay with a clean (no journal replay) root fs, a guest-initiated
# reboot comes back, and qemu-ga guest-shutdown makes QEMU exit.
set -euo pipefail
out=${1:?usage: $0 OUTDIR [q35|microvm ...]}
shift
machines=("$@")
((${#machines[@]})) || machines=(q35)
for f in vmlinux initrd.img root.qcow2 cmdline; do
    [[ -s $out/$f ]] || { echo "selftest: $out/$f missing (run guest/build.sh first)" >&2; exit 1; }
done
need=()
command -v python3 >/dev/null || need+=(python3)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
if ((${#need[@]})); then
    sudo_=; [[ $(id -u) == 0 ]] || sudo_=sudo
    $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/bulwark-selftest.XXXXXX")
# BULWARK_SELFTEST_KEEP=1 keeps the scratch dir (console logs, overlays) for inspection
if [[ ${BULWARK_SELFTEST_KEEP:-0} == 1 ]]; then
    echo "selftest: scratch dir $work" >&2
else
    trap 'rm -rf "$work"' EXIT
fi
python3 - "$(cd "$out" && pwd -P)" "$work" "${machines[@]}" <<'PY'
import base64, json, os, random, socket, subprocess, sys, time

OUT, WORK, MACHINES = sys.argv[1], sys.argv[2], sys.argv[3:]
READY = b"BULWARK-GUEST-READY"
CMDLINE = open(os.path.join(OUT, "cmdline")).read().strip()
if os.environ.get("BULWARK_SELFTEST_APPEND"):      # e.g. "loglevel=7" for debugging
    CMDLINE += " " + os.environ["BULWARK_SELFTEST_APPEND"]
results = []


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def argv(machine, d, boot):
    pci = machine == "q35"
    return [
        "qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
        "-machine", machine, "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "256",
        "-kernel", f"{OUT}/vmlinux", "-initrd", f"{OUT}/initrd.img", "-append", CMDLINE,
        # read-only shared base + per-VM overlay, every node named, backing given
        # explicitly (the path stored in the overlay header is not used)
        "-blockdev", f"driver=file,filename={OUT}/root.qcow2,node-name=base-file,read-only=on",
        "-blockdev", "driver=qcow2,file=base-file,node-name=base,read-only=on",
        "-blockdev", f"driver=file,filename={d}/disk0.qcow2,node-name=disk0-file",
        "-blockdev", "driver=qcow2,file=disk0-file,backing=base,node-name=disk0",
        "-device", ("virtio-blk-pci" if pci else "virtio-blk-device") + ",drive=disk0",
        "-chardev", f"file,id=con0,path={d}/console{boot}.log", "-serial", "chardev:con0",
        "-device", "virtio-serial-pci" if pci else "virtio-serial-device",
        "-chardev", f"socket,path={d}/qga.sock,server=on,wait=off,id=qga0",
        "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
        "-qmp", f"unix:{d}/qmp.sock,server=on,wait=off",
    ]


def connect(path, timeout=5.0):
    end = time.time() + timeout
    while True:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.time() > end:
                raise Fail(f"cannot connect to {path}")
            time.sleep(0.02)


class Lines:
    def __init__(self, sock):
        self.s, self.buf = sock, b""

    def send(self, obj):
        self.s.sendall(json.dumps(obj).encode() + b"\n")

    def read(self, timeout):
        """next JSON object, or None on timeout"""
        end = time.time() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                line = line.strip(b"\xff\r\n ")
                if line:
                    try:
                        return json.loads(line)
                    except ValueError:
                        pass          # junk from a resync
            left = end - time.time()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                return None
            if not data:
                raise Fail("socket closed")
            self.buf += data


class QMP(Lines):
    def __init__(self, path):
        super().__init__(connect(path))
        self.events = []
        check(self.read(5) is not None, "no QMP greeting")
        self.cmd("qmp_capabilities")

    def cmd(self, name, timeout=30, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.send(msg)
        while True:
            r = self.read(timeout)
            check(r is not None, f"QMP {name}: no reply")
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise Fail(f"QMP {name}: {r['error']}")
            return r["return"]

    def pump(self, timeout):
        r = self.read(timeout)
        if r is not None and "event" in r:
            self.events.append(r)
        return r


def ev_time(e):
    return e["timestamp"]["seconds"] + e["timestamp"]["microseconds"] / 1e6


class QGA(Lines):
    def __init__(self, path):
        super().__init__(connect(path))

    def sync(self, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            n = random.randint(1, 2**31)
            self.s.sendall(b"\xff")        # make the agent drop any partial input
            self.send({"execute": "guest-sync-delimited", "arguments": {"id": n}})
            t = time.time() + 2
            while time.time() < t:
                r = self.read(max(0.05, t - time.time()))
                if r is not None and r.get("return") == n:
                    return
        raise Fail("guest-sync timed out")

    def cmd(self, name, timeout=10, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.send(msg)
        r = self.read(timeout)
        check(r is not None, f"QGA {name}: no reply")
        if "error" in r:
            raise Fail(f"QGA {name}: {r['error']}")
        return r["return"]

    def run(self, *argv, timeout=20):
        pid = self.cmd("guest-exec", path=argv[0], arg=list(argv[1:]),
                       **{"capture-output": True})["pid"]
        end = time.time() + timeout
        while time.time() < end:
            st = self.cmd("guest-exec-status", pid=pid)
            if st.get("exited"):
                o = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
                e = base64.b64decode(st.get("err-data", "")).decode(errors="replace")
                return st.get("exitcode"), o, e
            time.sleep(0.05)
        raise Fail(f"guest-exec {argv} did not finish")


class VM:
    def __init__(self, machine, d, boot):
        self.d, self.boot = d, boot
        for s in ("qmp.sock", "qga.sock"):
            if os.path.exists(os.path.join(d, s)):
                os.unlink(os.path.join(d, s))
        self.log = os.path.join(d, f"console{boot}.log")
        self.t0 = time.time()
        self.p = subprocess.Popen(argv(machine, d, boot), stdin=subprocess.DEVNULL,
                                  stderr=open(os.path.join(d, f"qemu{boot}.err"), "w"))
        self.qmp = QMP(os.path.join(d, "qmp.sock"))
        self.qga = None

    def console(self):
        try:
            return open(self.log, "rb").read()
        except OSError:
            return b""

    def wait_ready(self, count=1, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if self.console().count(READY) >= count:
                return time.time() - self.t0
            if self.p.poll() is not None:
                raise Fail(f"QEMU exited ({self.p.returncode}) before ready:\n"
                           + self.console().decode(errors="replace")[-2000:])
            time.sleep(0.02)
        raise Fail("no BULWARK-GUEST-READY within %ds:\n%s"
                   % (timeout, self.console().decode(errors="replace")[-2000:]))

    def agent(self):
        if self.qga is None:
            self.qga = QGA(os.path.join(self.d, "qga.sock"))
        self.qga.sync()
        return self.qga

    def wait_exit(self, timeout):
        t = time.time()
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Fail(f"QEMU still running {timeout}s later:\n"
                       + self.console().decode(errors="replace")[-1500:])
        return rc, time.time() - t

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def snapshot_job(vm, verb, tag):
    q = vm.qmp
    q.events.clear()
    jid = f"{verb}-{tag}"
    t = time.time()
    q.cmd(verb, **{"job-id": jid, "tag": tag, "vmstate": "disk0", "devices": ["disk0"]})
    end = time.time() + 60
    status = None
    while time.time() < end:
        jobs = {j["id"]: j for j in q.cmd("query-jobs")}
        j = jobs.get(jid)
        if j and j["status"] == "concluded":
            status = j
            break
        q.pump(0.02)
    check(status is not None, f"{verb} job did not conclude")
    wall = time.time() - t
    q.cmd("job-dismiss", id=jid)
    check("error" not in status, f"{verb}: {status.get('error')}")
    stops = [ev_time(e) for e in q.events if e["event"] == "STOP"]
    resumes = [ev_time(e) for e in q.events if e["event"] == "RESUME"]
    pause = (resumes[-1] - stops[0]) if stops and resumes else None
    check(q.cmd("query-status")["status"] == "running", f"guest not running after {verb}")
    return pause, wall


def test_machine(machine):
    d = os.path.join(WORK, machine)
    os.makedirs(d)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", f"{OUT}/root.qcow2",
                    "-F", "qcow2", f"{d}/disk0.qcow2"], check=True)
    r = {"machine": machine}
    vm = VM(machine, d, 1)
    try:
        r["boot1"] = vm.wait_ready()
        ga = vm.agent()
        ga.cmd("guest-ping")
        info = ga.cmd("guest-get-osinfo")
        check(info.get("id") == "bulwark-guest", f"guest-get-osinfo: {info}")
        rc, o, e = ga.run("/bin/sh", "-c", "echo hi > /root/f; sync")
        check(rc == 0, f"guest-exec exit status {rc} ({e!r})")
        rc, o, e = ga.run("/bin/sh", "-c", "cat /root/f; echo err >&2; exit 3")
        check((rc, o, e) == (3, "hi\n", "err\n"), f"guest-exec status/output: {(rc, o, e)!r}")
        # the agent's port, for the record
        rc, o, e = ga.run("/bin/sh", "-c",
                          "for f in /proc/$(pidof qemu-ga)/fd/*; do readlink $f; done | grep vport")
        r["port"] = o.strip()
        # internal snapshot of the running guest, then roll back to it
        r["save"] = snapshot_job(vm, "snapshot-save", "s1")
        rc, _, _ = ga.run("/bin/sh", "-c", "echo after > /root/g; sync")
        check(rc == 0, "write after snapshot")
        r["load"] = snapshot_job(vm, "snapshot-load", "s1")
        ga = vm.agent()
        rc, o, _ = ga.run("/bin/sh", "-c", "cat /root/f; test -e /root/g && echo g-exists; true")
        check(o == "hi\n", f"state after snapshot-load: {o!r}")
        snaps = subprocess.run(["qemu-img", "snapshot", "-U", "-l", f"{d}/disk0.qcow2"],
                               capture_output=True, text=True).stdout
        check(" s1 " in snaps, "snapshot s1 not listed by qemu-img")
        vm.qmp.cmd("snapshot-delete", **{"job-id": "del-s1", "tag": "s1", "devices": ["disk0"]})
        # ACPI power button
        vm.qmp.cmd("system_powerdown")
        rc, r["powerdown"] = vm.wait_exit(10)
        check(rc == 0, f"QEMU exit code {rc} after system_powerdown")
        check(b"reboot: Power down" in vm.console(), "no clean power-down on the console")
    finally:
        vm.kill()

    vm = VM(machine, d, 2)
    try:
        r["boot2"] = vm.wait_ready()
        ga = vm.agent()
        rc, o, _ = ga.run("/bin/sh", "-c", "cat /root/f; dmesg | grep -i 'EXT4-fs.*recover' || true")
        check(o == "hi\n", f"file not persisted or journal replayed on reboot: {o!r}")
        # guest-initiated reboot comes back on the same QEMU process
        ga.send({"execute": "guest-shutdown", "arguments": {"mode": "reboot"}})
        t = time.time()
        vm.wait_ready(count=2)
        r["reboot"] = time.time() - t
        ga = vm.agent()
        ga.cmd("guest-ping")
        # qemu-ga guest-shutdown (powerdown): no reply on success, QEMU exits
        ga.send({"execute": "guest-shutdown"})
        rc, r["gashutdown"] = vm.wait_exit(10)
        check(rc == 0, f"QEMU exit code {rc} after guest-shutdown")
    finally:
        vm.kill()
    subprocess.run(["qemu-img", "check", "-q", f"{d}/disk0.qcow2"], check=True)
    return r


ok = True
for m in MACHINES:
    try:
        r = test_machine(m)
        print(f"PASS {m}: ready {r['boot1']:.2f}s (2nd boot {r['boot2']:.2f}s, reboot {r['reboot']:.2f}s); "
              f"agent port {r['port']}; snapshot-save pause {r['save'][0]:.3f}s (job {r['save'][1]:.2f}s), "
              f"snapshot-load pause {r['load'][0]:.3f}s (job {r['load'][1]:.2f}s); "
              f"QEMU exit after system_powerdown {r['powerdown']:.2f}s, after guest-shutdown {r['gashutdown']:.2f}s")
    except Fail as e:
        ok = False
        print(f"FAIL {m}: {e}")
sys.exit(0 if ok else 1)
PY
