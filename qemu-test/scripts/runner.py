#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Boot the test guest, run the tests in it and judge them.

Reads the kernel console (ttyS0) and the test port (ttyS1) that QEMU writes
to files, and fails on any failed test, a missing or short plan, a test that
did not finish, a guest that hangs (timeout), any kernel splat, a failed host
action, an expected KUnit suite that did not run and, with --strict-skips,
any skip of our own tests that the expected-skips list does not name.
Prints one line per test and writes the counts to --counts as JSON.

The tests are split across --guests test guests that run at the same time
(each with its own card; KUnit runs in guest 0): a test waits on a guest's
device model as often as it works, and two guests keep both host CPUs
busy. A test with a "# solo:" line near its top (it measures time) runs
in guest 0 while every other guest is stopped (QMP stop: a stopped guest's
clock stops too, so nothing in it times out).
"""

import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_programs(directory):
    """TEST_PROGS of a kselftest-style directory's Makefile, in order."""
    makefile = os.path.join(directory, "Makefile")
    progs = []
    if not os.path.exists(makefile):
        return progs
    with open(makefile) as f:
        text = f.read().replace("\\\n", " ")
    for m in re.finditer(r"^TEST_PROGS\s*[:+]?=\s*(.*)$", text, re.M):
        progs += m.group(1).split()
    return progs


def discover(runner_selftests):
    """Every guest test as (name, repo-relative path)."""
    tests = []
    for sub in ["pipeline"] + (["runner-selftest"] if runner_selftests else []):
        d = os.path.join(TOP, "qemu-test", "tests", sub)
        for prog in test_programs(d):
            tests.append((f"{sub}/{os.path.splitext(prog)[0]}", f"qemu-test/tests/{sub}/{prog}"))
    base = os.path.join(TOP, "tools", "testing", "selftests")
    for dirpath, _dirs, _files in sorted(os.walk(base)):
        rel = os.path.relpath(dirpath, base)
        for prog in test_programs(dirpath):
            tests.append(
                (f"{rel}/{os.path.splitext(prog)[0]}", f"tools/testing/selftests/{rel}/{prog}")
            )
    return tests


def extra_tests(directory):
    tests = []
    for f in sorted(os.listdir(directory)):
        p = os.path.join(directory, f)
        if os.path.isfile(p) and (f.endswith(".sh") or os.access(p, os.X_OK)):
            tests.append((f"extra/{os.path.splitext(f)[0]}", f"extra/{f}"))
    return tests


def test_header(path, key):
    """The value of a "# KEY: value" line in the first 20 lines of a test
    script (like kselftest's "# timeout:"), or None."""
    try:
        with open(path, errors="replace") as f:
            for _ in range(20):
                line = f.readline()
                if not line:
                    break
                m = re.match(rf"#\s*{re.escape(key)}:\s*(.*)$", line.strip())
                if m:
                    return m.group(1)
    except OSError:
        pass
    return None


# The expected duration of each test (seconds by the guest's clock), to split
# the tests across the guests: the last run's (written by the runner after
# each run) or, in a fresh clone, the committed ones.
DURATIONS = os.path.join(TOP, "qemu-test", "config", "test-durations")
LAST_DURATIONS = os.path.join(TOP, ".build", "test-durations")
UNKNOWN_DURATION = 30.0
# what guest 0's boot adds to its share: KUnit and the Rust doctests
KUNIT_DURATION = 10.0


def load_durations():
    durations = {}
    for path in (DURATIONS, LAST_DURATIONS):
        try:
            with open(path) as f:
                for line in f:
                    words = line.split("#", 1)[0].split()
                    if len(words) == 2:
                        durations[words[0]] = float(words[1])
        except (OSError, ValueError):
            pass
    return durations


def save_durations(measured):
    """Merges this run's test durations into LAST_DURATIONS."""
    if not measured:
        return
    durations = {}
    try:
        with open(LAST_DURATIONS) as f:
            for line in f:
                words = line.split()
                if len(words) == 2:
                    durations[words[0]] = words[1]
    except (OSError, ValueError):
        pass
    durations.update({name: f"{secs:.1f}" for name, secs in measured.items()})
    os.makedirs(os.path.dirname(LAST_DURATIONS), exist_ok=True)
    with open(LAST_DURATIONS, "w") as f:
        for name in sorted(durations):
            f.write(f"{name} {durations[name]}\n")


def split_tests(tests, solo, guests, durations, kunit):
    """[guest index per test]: the solo tests (solo[i]) in guest 0, the
    others on the guest with the least expected work so far, longest first;
    each guest runs its tests in the original order."""
    where = [0] * len(tests)
    if guests <= 1:
        return where
    load = [0.0] * guests
    if kunit:
        load[0] += KUNIT_DURATION
    rest = sorted((i for i in range(len(tests)) if not solo[i]),
                  key=lambda i: -durations.get(tests[i][0], UNKNOWN_DURATION))
    for i in rest:
        g = min(range(guests), key=lambda k: load[k])
        where[i] = g
        load[g] += durations.get(tests[i][0], UNKNOWN_DURATION)
    return where


def kvm_usable():
    """KVM only where the CPU really virtualizes (not a software /dev/kvm)."""
    if os.environ.get("ACCEL"):
        return os.environ["ACCEL"] == "kvm"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    with open("/proc/cpuinfo") as f:
        flags = f.read()
    return bool(re.search(r"\b(vmx|svm)\b", flags))


def read_lines(path):
    """The lines of a log QEMU wrote, [] if there is none."""
    if not os.path.exists(path):
        return []
    with open(path, errors="replace") as f:
        return f.read().splitlines()


def qemu_command(args, console, tests_port, mode, guest=0, kunit=True):
    kvm = kvm_usable()
    # (with KVM, interrupt remapping needs the split irqchip)
    machine = "q35,kernel-irqchip=split" if kvm else "q35"
    # TCG runs a string instruction one element per iteration: with ERMS
    # or FSRM the kernel clears and copies pages with "rep stosb/movsb"
    # (8 times the iterations of its unrolled 8-byte loop); without them
    # the kernel's vfio_pci_driver_test fixtures took 1.5-2 s instead of
    # 2.8-3.3 s (each clears 1 GiB).
    accel = (["-accel", "kvm", "-cpu", "host"] if kvm
             else ["-accel", "tcg", "-cpu", "max,erms=off,fsrm=off"])
    # The guest plays a cloud host: an IOMMU (emulated VT-d with interrupt
    # remapping) translates every device's DMA, and vfio-pci can hand a VF
    # to a nested VM (the vfio test). Not for the benchmarks: they compare
    # functions of one machine, and the release kernel has no IOMMU driver.
    iommu = [] if mode == "bench" else ["-device", "intel-iommu,intremap=on"]
    # printk.devkmsg=on: the suites write marks to /dev/kmsg and read the log
    # back from them (mlu270_kmsg); the default ratelimit would drop marks.
    # log_buf_len: the log a test reads back must still hold its mark.
    append = (f"console=ttyS0 panic=-1 oops=panic loglevel=7 intel_iommu=on "
              f"printk.devkmsg=on log_buf_len=4M mlu270.mode={mode} {args.append}").strip()
    if args.no_kunit or not kunit:
        append += " kunit.enable=0"
    if guest:
        append += f" mlu270.guest={guest}"
    if mode != "bench":
        # huge pages for the hugetlb variants of the kernel's vfio
        # selftests (vfio_selftests.sh): a 1 GiB page exists only if it is
        # reserved at boot; the guest has memory for it (--memory: with 3
        # GiB, KASAN's shadow takes the only aligned GiB above 4 GiB)
        append += " hugepagesz=1G hugepages=1 hugepagesz=2M hugepages=4"
    if mode != "shell":
        # the runner serves MLU270-HOST requests (host_actions) over QMP:
        # tests that need one (hotplug) look for this to tell "no runner"
        append += " mlu270.host_actions=1"
    cmd = [
        args.qemu,
        "-M", machine,
        *accel,
        *iommu,
        "-smp", "2",
        "-m", args.memory or ("2G" if mode == "bench" else "4G"),
        "-nodefaults",
        "-no-reboot",
        "-display", "none",
        "-L", "/usr/share/seabios",
        "-L", "/usr/share/qemu",
        "-kernel", args.kernel,
        "-initrd", args.initrd,
        "-append", append,
        "-device", "pci-testdev",
        "-device", "mlu270,addr=0x5.0",
        # An empty hot-plug slot (ACPI hotplug): tests ask the host to
        # plug a second card into it and to unplug it (MLU270-HOST lines).
        "-device", "pcie-root-port,id=hp0,chassis=1,slot=1,bus=pcie.0,addr=0x7,mem-reserve=64M",
    ]
    if mode == "bench":
        cmd += bench_devices()
    if mode == "shell":
        cmd += ["-serial", "mon:stdio", "-serial", f"file:{tests_port}"]
    else:
        cmd += ["-monitor", "none", "-serial", f"file:{console}", "-serial", f"file:{tests_port}"]
        cmd += ["-qmp", f"unix:{qmp_path(tests_port)},server=on,wait=off"]
    return cmd + args.qemu_extra


def bench_devices():
    """What `make bench` adds: the peer and a repeatable guest clock.

    The peer is QEMU's igb (82576, SR-IOV with up to 7 VFs, driven by
    Linux's igb and igbvf) behind its own root port (its VFs sit at
    function 128 and up: ARI). -icount makes guest time a function of
    the instructions executed (2^3 ns each, no sleeping when idle), so
    figures measured with the guest's clock repeat from run to run
    instead of following the host's load; MLU270_BENCH_ICOUNT=0 turns it
    off (wall-clock TCG).
    """
    devices = [
        "-device", "pcie-root-port,id=bench0,chassis=2,slot=2,bus=pcie.0,addr=0x8",
        "-device", "igb,bus=bench0",
    ]
    if os.environ.get("MLU270_BENCH_ICOUNT", "1") != "0":
        devices += ["-icount", "shift=3,sleep=off"]
    return devices


def qmp_path(tests_port):
    return os.path.join(os.path.dirname(tests_port), "qmp.sock")


# What a guest test may ask the host to do: plug the test card into the
# empty slot, or unplug it. Nothing else reaches the monitor.
HOST_ACTIONS = {
    "plug-card": ("device_add", {"driver": "mlu270", "id": "hotcard", "bus": "hp0"}),
    "unplug-card": ("device_del", {"id": "hotcard"}),
}


class Qmp:
    """A minimal QMP client: one command at a time, events skipped."""

    def __init__(self, path):
        import socket
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""
        self._read()  # greeting
        self.execute("qmp_capabilities", {})

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise OSError("QMP closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, command, arguments):
        self.sock.sendall(json.dumps({"execute": command, "arguments": arguments}).encode() + b"\n")
        while True:
            msg = self._read()
            if "return" in msg or "error" in msg:
                return msg


def host_actions(tests_port, offset, qmp_holder, log, failures=None, exited=False, on_line=None):
    """Carries out the MLU270-HOST lines written since `offset`; returns the
    new offset. A line is taken only once it is complete. Every action that
    fails (unknown, QMP unreachable, or an "error" reply) is logged and
    appended to `failures` as "host action X failed: why"; with `exited`
    (QEMU is gone), every request left is such a failure. on_line(line) sees
    every complete line."""
    if failures is None:
        failures = []
    try:
        with open(tests_port, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return offset
    end = data.rfind(b"\n")
    if end < 0:
        return offset
    for raw in data[: end + 1].splitlines():
        line = raw.decode(errors="replace").strip()
        if on_line is not None:
            on_line(line)
        if not line.startswith("MLU270-HOST "):
            continue
        action = line.split(" ", 1)[1].strip()
        failure = None
        if action not in HOST_ACTIONS:
            failure = "unknown action"
        elif exited:
            failure = "QEMU exited before it was carried out"
        else:
            try:
                if qmp_holder[0] is None:
                    qmp_holder[0] = Qmp(qmp_path(tests_port))
                command, arguments = HOST_ACTIONS[action]
                reply = qmp_holder[0].execute(command, arguments)
                log.write(f"host action {action}: {json.dumps(reply)}\n")
                if "error" in reply:
                    err = reply["error"]
                    failure = (f"QMP {command}: {err.get('class', 'error')}: {err.get('desc', '')}"
                               if isinstance(err, dict) else f"QMP {command}: {err}")
            except (OSError, ValueError) as e:
                failure = str(e) or type(e).__name__
        if failure is not None:
            msg = f"host action {action} failed: {failure}"
            log.write(msg + "\n")
            failures.append(msg)
        log.flush()
    return offset + end + 1


def frames(lines):
    """Split the test port into {name: (lines, exit code or None)}."""
    out = {}
    order = []
    current = None
    kmemleak = None
    done = False
    for raw in lines:
        line = raw.rstrip("\r\n")
        if line.startswith("MLU270-HOST "):
            continue  # a request to the runner (host_actions), not output
        if line.startswith("MLU270-TEST-BEGIN "):
            current = line.split(" ", 1)[1]
            out[current] = ([], None)
            order.append(current)
        elif line.startswith("MLU270-TEST-END ") and current:
            parts = line.split()
            try:
                rc = int(parts[2])
            except (IndexError, ValueError):
                rc = None
            out[current] = (out[current][0], rc)
            current = None
        elif line == "MLU270-KMEMLEAK-BEGIN":
            kmemleak = []
        elif line == "MLU270-KMEMLEAK-END":
            pass
        elif line == "MLU270-ALL-DONE":
            done = True
        elif kmemleak is not None and current is None and not done:
            kmemleak.append(line)
        elif current:
            out[current][0].append(line)
    return out, order, kmemleak or [], done


def kunit_documents(lines):
    """Every top-level KTAP document in the kernel log (KUnit at boot and
    from modules)."""
    docs = []
    current = None
    for raw in lines:
        line = ktap.strip_line(raw)
        if ktap.VERSION.match(line):
            current = []
            docs.append(current)
        if current is not None:
            current.append(line)
    return docs


def kunit_suites_run(docs):
    """The names of the suites that reported a result in the KUnit
    documents: the top-level results (`ok 1 mlu270_pf`)."""
    names = set()
    for doc in docs:
        root = ktap.parse_ktap(doc)
        if root is not None:
            names.update(res.name for res in root.results)
    return names


def load_expected_suites(path):
    """qemu-test/config/expected-kunit-suites: `<suite>` or
    `<suite> module=<module>` per line, '#' comments. Returns
    [(suite, module or None)]."""
    suites = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            module = None
            if len(words) == 2 and words[1].startswith("module="):
                module = words[1][len("module="):]
            elif len(words) != 1:
                raise ValueError(f"{path}:{n}: expected '<suite>' or '<suite> module=<module>'")
            suites.append((words[0], module))
    return suites


def missing_kunit_suites(docs, expected, full_run):
    """The expected suites that did not run. A suite inside a module runs
    when the module loads: in a partial run (a TESTS selection) nothing
    may have loaded it, so only a full run requires it."""
    ran = kunit_suites_run(docs)
    return [suite for suite, module in expected
            if suite not in ran and (module is None or full_run)]


def judge_run(tests, console_lines, port_lines, kunit=True, expected_suites=(), full_run=True,
              expected_skips=None, skips_source="", timed_out=False, timeout=0,
              action_failures=()):
    """Judge a test run from the console (ttyS0) and the test port (ttyS1):
    prints one line per test and returns (counts, problems).

    kunit: judge the KUnit documents and require `expected_suites`
    (load_expected_suites) to have run; expected_skips: None, or the
    entries (ktap.load_expected_skips) of the only skips allowed to KUnit
    and to the tests not named extra/... (from the file skips_source);
    action_failures: the host actions that failed (host_actions).
    """
    total = ktap.Counts()
    problems = []

    # KUnit and Rust doctests, printed by the kernel at boot (built-in
    # suites) and whenever a module with suites loads (mlu270_pf).
    if kunit:
        docs = kunit_documents(console_lines)
        if not docs:
            problems.append("kunit: no KTAP output in the kernel log")
            total.failed += 1
        for i, doc in enumerate(docs):
            skips = []
            counts, probs = ktap.judge_test(f"kunit[{i}]", doc, 0, skips)
            if expected_skips is not None:
                # matched as kunit/<suite>/<case>
                skips = [("kunit" + n[len(f"kunit[{i}]"):], r) for n, r in skips]
                ktap.refuse_skips(counts, probs, skips, expected_skips, skips_source)
            print(f"{'ok' if not probs else 'not ok'} - kunit[{i}]: {counts}")
            total.add(counts)
            problems += probs
        for suite in missing_kunit_suites(docs, expected_suites, full_run):
            problems.append(f"kunit: suite {suite} did not run")
            total.failed += 1

    out, order, kmemleak, done = frames(port_lines)
    console_rcs = console_exit_codes(console_lines)
    for name, _path in tests:
        if name not in out:
            counts, probs = ktap.Counts(failed=1), [f"{name}: never started"]
        else:
            lines, rc = out[name]
            if rc is None and name in console_rcs:
                # The guest finished the test and said so on its console,
                # but the test port lost the END line (a UART line lost
                # under TCG, seen once): its exit code is the console's.
                # The KTAP lines are still judged, plan count included.
                rc = console_rcs[name]
                print(f"# {name}: no END line on the test port; exit code "
                      f"{rc} from the guest's console", flush=True)
            skips = []
            counts, probs = ktap.judge_test(name, lines, rc, skips)
            # The pipeline provides the card, the drivers and the hot-plug
            # slot: a skip of our own tests hides a failure. Operators'
            # extra tests keep kselftest's skip semantics.
            if expected_skips is not None and not name.startswith("extra/"):
                ktap.refuse_skips(counts, probs, skips, expected_skips, skips_source)
        status = "ok" if not probs else "not ok"
        print(f"{status} - {name}: {counts}", flush=True)
        total.add(counts)
        problems += probs

    for failure in action_failures:
        problems.append(failure)
        total.failed += 1
    if timed_out:
        problems.append(f"guest: timed out after {timeout} s")
        total.failed += 1
    elif not done:
        problems.append("guest: the run did not complete (no MLU270-ALL-DONE)")
        total.failed += 1
    if kmemleak:
        problems.append("kmemleak: suspected leaks:\n  " + "\n  ".join(kmemleak[:20]))
        total.failed += 1
    splats = ktap.find_splats(console_lines)
    if splats:
        problems.append("kernel splat:\n  " + "\n  ".join(splats[:20]))
        total.failed += 1

    return total, problems


def host_path(path, extra):
    """The host path of a test listed as (name, path)."""
    if path.startswith("extra/") and extra:
        return os.path.join(os.path.abspath(extra), path[len("extra/"):])
    return os.path.join(TOP, path)


TEST_LINE = re.compile(r"^\[\s*(\d+\.\d+)\] mlu270-test: (running|finished) (\S+)(.*)")
EXIT_CODE = re.compile(r"^ \(exit (\d+)[;)]")


def console_exit_codes(console_lines):
    """{test: exit code} from the guest's "finished" lines on its console."""
    rcs = {}
    for line in console_lines:
        m = TEST_LINE.match(line.rstrip("\r\n"))
        if m and m.group(2) == "finished":
            code = EXIT_CODE.match(m.group(4))
            if code:
                rcs[m.group(3)] = int(code.group(1))
    return rcs


def test_spans(console_lines):
    """[(test, start, end, the rest of its "finished" line)] by the guest's
    clock, from its console (qemu-test/guest/init's kmsg lines)."""
    started = {}
    spans = []
    for line in console_lines:
        m = TEST_LINE.match(line)
        if not m:
            continue
        t, what, name = float(m.group(1)), m.group(2), m.group(3)
        if what == "running":
            started[name] = t
        elif name in started:
            spans.append((name, started.pop(name), t, m.group(4)))
    return spans


def test_durations(console_lines):
    """{test: seconds} by the guest's clock, from its console."""
    return {name: end - start for name, start, end, _ in test_spans(console_lines)}


class GuestRun:
    """One test guest: its QEMU, its logs (guest 0 in the log directory
    itself, guest K in guestK/ under it) and its host actions.

    Lifetime: made by main, started once, polled (serve) until QEMU exits,
    then finished; only main's thread touches it.
    """

    def __init__(self, args, index, guests):
        self.index = index
        self.dir = args.logdir if index == 0 else os.path.join(args.logdir, f"guest{index}")
        os.makedirs(self.dir, exist_ok=True)
        self.console = os.path.join(self.dir, "console.log")
        self.tests_port = os.path.join(self.dir, "tests.log")
        for f in (self.console, self.tests_port, qmp_path(self.tests_port)):
            if os.path.exists(f):
                os.unlink(f)
        self.cmd = qemu_command(args, self.console, self.tests_port, args.mode,
                                guest=index if guests > 1 else 0, kunit=index == 0)
        with open(os.path.join(self.dir, "qemu-cmdline"), "w") as f:
            f.write(" ".join(self.cmd) + "\n")
        self.proc = None
        self.offset = 0
        self.qmp = [None]
        self.action_failures = []
        self.timed_out = False
        self.paused = False
        # the test the guest runs now (MLU270-TEST-BEGIN .. END)
        self.current = None
        self.log = None

    def start(self):
        self.log = open(os.path.join(self.dir, "host-actions.log"), "w")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, start_new_session=True)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        self.timed_out = True
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def _line(self, line):
        if line.startswith("MLU270-TEST-BEGIN "):
            self.current = line.split(" ", 1)[1]
        elif line.startswith("MLU270-TEST-END "):
            self.current = None

    def serve(self):
        self.offset = host_actions(self.tests_port, self.offset, self.qmp, self.log,
                                   self.action_failures, on_line=self._line)

    def pause(self, stop):
        """QMP stop (or cont): a stopped guest's clock stops with it."""
        if not self.running() or self.paused == stop:
            return
        try:
            if self.qmp[0] is None:
                self.qmp[0] = Qmp(qmp_path(self.tests_port))
            reply = self.qmp[0].execute("stop" if stop else "cont", {})
            self.log.write(f"{'stop' if stop else 'cont'} (guest 0 runs a solo test): "
                           f"{json.dumps(reply)}\n")
            self.paused = stop
        except (OSError, ValueError) as e:
            self.log.write(f"{'stop' if stop else 'cont'} failed: {e}\n")
        self.log.flush()

    def finish(self):
        # (a request written after the last look was never carried out)
        host_actions(self.tests_port, self.offset, self.qmp, self.log, self.action_failures,
                     exited=True, on_line=self._line)
        self.log.close()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--qemu", required=True)
    p.add_argument("--kernel", required=True)
    p.add_argument("--initrd", required=True)
    p.add_argument("--mkinitramfs", required=True)
    p.add_argument("--config", default="test")
    p.add_argument("--logdir", required=True)
    p.add_argument("--counts")
    p.add_argument("--tests", default="", help="regex: run only matching tests")
    p.add_argument("--extra", default="", help="directory of extra KTAP scripts")
    p.add_argument("--runner-selftests", action="store_true")
    p.add_argument("--timeout", type=int, default=int(os.environ.get("RUNNER_TIMEOUT", "1500")))
    p.add_argument("--memory", default=None,
                   help="guest memory (default: 4G, 2G for the benchmarks)")
    p.add_argument("--append", default="")
    p.add_argument("--mode", default="test", choices=["test", "shell", "run", "bench"])
    p.add_argument("--no-kunit", action="store_true")
    p.add_argument("--kunit-suites", metavar="FILE",
                   default=os.path.join(TOP, "qemu-test", "config", "expected-kunit-suites"),
                   help="KUnit suites that must run unless KUnit is off (default: %(default)s)")
    p.add_argument("--strict-skips", metavar="FILE",
                   help="a skip of KUnit or of a guest test not named extra/... fails the run "
                        "unless FILE (qemu-test/config/expected-skips) lists it")
    p.add_argument("--guests", type=int, default=int(os.environ.get("MLU270_GUESTS") or 0),
                   help="test guests run at the same time (default: 2 for four tests or "
                        "more, else 1; MLU270_GUESTS)")
    p.add_argument("--list", action="store_true")
    p.add_argument("--build-only", action="store_true", help="only make the initramfs")
    p.add_argument("qemu_extra", nargs="*")
    args = p.parse_args()

    expected_skips = None
    if args.strict_skips:
        try:
            expected_skips = ktap.load_expected_skips(args.strict_skips)
        except (OSError, ValueError) as e:
            print(f"runner: --strict-skips: {e}", file=sys.stderr)
            return 2
    full_run = not args.tests
    tests = discover(args.runner_selftests)
    if args.extra:
        tests += extra_tests(os.path.abspath(args.extra))
    if args.tests:
        pat = re.compile(args.tests)
        tests = [t for t in tests if pat.search(t[0])]
        if not pat.search("kunit"):
            args.no_kunit = True
    expected_suites = []
    if not args.no_kunit and args.mode == "test":
        try:
            expected_suites = load_expected_suites(args.kunit_suites)
        except (OSError, ValueError) as e:
            print(f"runner: --kunit-suites: {e}", file=sys.stderr)
            return 2
    if args.list:
        for name, path in tests:
            print(f"{name}\t{path}")
        return 0

    os.makedirs(args.logdir, exist_ok=True)
    if args.mode == "test" and not tests and args.no_kunit and not args.build_only:
        print("guest: no guest test selected, not booting")
        if args.counts:
            with open(args.counts, "w") as f:
                json.dump({"passed": 0, "failed": 0, "skipped": 0, "problems": []}, f)
        return 0
    guests = 1
    if args.mode == "test" and tests:
        guests = args.guests or (2 if len(tests) >= 4 else 1)
        guests = max(1, min(guests, len(tests)))
    solo = [test_header(host_path(path, args.extra), "solo") is not None for _, path in tests]
    where = split_tests(tests, solo, guests, load_durations(), kunit=not args.no_kunit)
    testlist = os.path.join(args.logdir, "tests.list")
    with open(testlist, "w") as f:
        for (name, path), guest in zip(tests, where):
            f.write(f"{name} {path} {guest}\n")
    mk = [args.mkinitramfs, args.config, args.initrd, testlist]
    if args.extra:
        mk.append(os.path.abspath(args.extra))
    subprocess.run(mk, check=True)
    if args.build_only:
        return 0

    for stale in glob.glob(os.path.join(args.logdir, "guest[0-9]*")):
        if int(re.sub(r"\D", "", os.path.basename(stale)) or 0) >= guests:
            shutil.rmtree(stale, ignore_errors=True)
    runs = [GuestRun(args, k, guests) for k in range(guests)]
    if args.mode == "shell":
        return subprocess.call(runs[0].cmd)

    start = time.monotonic()
    print(f"booting the {args.config} kernel in {guests} guest(s) with {len(tests)} test "
          f"program(s); logs in {args.logdir}", flush=True)
    for run in runs:
        run.start()
    solo_names = {name for (name, _), is_solo in zip(tests, solo) if is_solo}
    paused = False
    while any(run.running() for run in runs):
        for run in runs:
            if run.running() and time.monotonic() - start > args.timeout:
                run.kill()
            run.serve()
        # guest 0 runs a solo test: the other guests stop meanwhile
        want = runs[0].running() and runs[0].current in solo_names
        if want != paused:
            for run in runs[1:]:
                run.pause(want)
            paused = want
        time.sleep(0.1)
    for run in runs:
        run.finish()
    elapsed = time.monotonic() - start

    if args.mode in ("run", "bench"):
        run = runs[0]
        console_lines = read_lines(run.console)
        port_lines = read_lines(run.tests_port)
        for line in port_lines:
            if not line.startswith("MLU270-"):
                print(line)
        ok = any(line == "MLU270-DEMO-EXIT 0" for line in port_lines)
        splats = ktap.find_splats(console_lines)
        for s in splats:
            print(f"kernel splat: {s}")
        if run.timed_out:
            print(f"guest timed out after {args.timeout} s")
        for failure in run.action_failures:
            print(failure)
        return 0 if ok and not splats and not run.timed_out and not run.action_failures else 1

    total = ktap.Counts()
    problems = []
    measured = {}
    for run in runs:
        console_lines = read_lines(run.console)
        if guests > 1:
            print(f"# guest {run.index}:", flush=True)
        counts, probs = judge_run(
            [t for t, g in zip(tests, where) if g == run.index], console_lines,
            read_lines(run.tests_port), kunit=not args.no_kunit and run.index == 0,
            expected_suites=expected_suites, full_run=full_run,
            expected_skips=expected_skips, skips_source=args.strict_skips,
            timed_out=run.timed_out, timeout=args.timeout,
            action_failures=run.action_failures)
        total.add(counts)
        problems += [f"guest {run.index}: {prob}" if guests > 1 else prob for prob in probs]
        measured.update(test_durations(console_lines))
    save_durations(measured)

    for prob in problems:
        print(f"# FAIL {prob}")
    print(f"guest: {total} in {elapsed:.0f} s")
    if args.counts:
        with open(args.counts, "w") as f:
            json.dump({"passed": total.passed, "failed": total.failed,
                       "skipped": total.skipped, "problems": problems}, f)
    return 1 if problems or total.failed else 0


if __name__ == "__main__":
    sys.exit(main())
