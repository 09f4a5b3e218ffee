#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Boot the test guest, run the tests in it and judge them.

Reads the kernel console (ttyS0) and the test port (ttyS1) that QEMU writes
to files, and fails on any failed test, a missing or short plan, a test that
did not finish, a guest that hangs (timeout), any kernel splat, a failed host
action, an expected KUnit suite that did not run and, with --strict-skips,
any skip of our own tests that the expected-skips list does not name.
Prints one line per test and writes the counts to --counts as JSON.
"""

import argparse
import json
import os
import re
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


def qemu_command(args, console, tests_port, mode):
    kvm = kvm_usable()
    # (with KVM, interrupt remapping needs the split irqchip)
    machine = "q35,kernel-irqchip=split" if kvm else "q35"
    accel = ["-accel", "kvm", "-cpu", "host"] if kvm else ["-accel", "tcg", "-cpu", "max"]
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
    if args.no_kunit:
        append += " kunit.enable=0"
    if mode != "bench":
        # huge pages for the hugetlb variants of the kernel's vfio
        # selftests (vfio_selftests.sh): a 1 GiB page exists only if it is
        # reserved at boot; the guest has memory for it (--memory)
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


def host_actions(tests_port, offset, qmp_holder, log, failures=None, exited=False):
    """Carries out the MLU270-HOST lines written since `offset`; returns the
    new offset. A line is taken only once it is complete. Every action that
    fails (unknown, QMP unreachable, or an "error" reply) is logged and
    appended to `failures` as "host action X failed: why"; with `exited`
    (QEMU is gone), every request left is such a failure."""
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
    for name, _path in tests:
        if name not in out:
            counts, probs = ktap.Counts(failed=1), [f"{name}: never started"]
        else:
            lines, rc = out[name]
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
    testlist = os.path.join(args.logdir, "tests.list")
    with open(testlist, "w") as f:
        for name, path in tests:
            f.write(f"{name} {path}\n")
    mk = [args.mkinitramfs, args.config, args.initrd, testlist]
    if args.extra:
        mk.append(os.path.abspath(args.extra))
    subprocess.run(mk, check=True)
    if args.build_only:
        return 0

    console = os.path.join(args.logdir, "console.log")
    tests_port = os.path.join(args.logdir, "tests.log")
    for f in (console, tests_port, qmp_path(tests_port)):
        if os.path.exists(f):
            os.unlink(f)
    cmd = qemu_command(args, console, tests_port, args.mode)
    with open(os.path.join(args.logdir, "qemu-cmdline"), "w") as f:
        f.write(" ".join(cmd) + "\n")

    if args.mode == "shell":
        return subprocess.call(cmd)

    start = time.monotonic()
    print(f"booting the {args.config} kernel with {len(tests)} test program(s); "
          f"logs in {args.logdir}", flush=True)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
    timed_out = False
    offset = 0
    qmp_holder = [None]
    action_failures = []
    with open(os.path.join(args.logdir, "host-actions.log"), "w") as actions_log:
        while proc.poll() is None:
            if time.monotonic() - start > args.timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            offset = host_actions(tests_port, offset, qmp_holder, actions_log, action_failures)
            time.sleep(0.2)
        # (a request written after the last look was never carried out)
        host_actions(tests_port, offset, qmp_holder, actions_log, action_failures, exited=True)
    elapsed = time.monotonic() - start

    console_lines = read_lines(console)
    port_lines = read_lines(tests_port)

    if args.mode in ("run", "bench"):
        for line in port_lines:
            if not line.startswith("MLU270-"):
                print(line)
        ok = any(line == "MLU270-DEMO-EXIT 0" for line in port_lines)
        splats = ktap.find_splats(console_lines)
        for s in splats:
            print(f"kernel splat: {s}")
        if timed_out:
            print(f"guest timed out after {args.timeout} s")
        for failure in action_failures:
            print(failure)
        return 0 if ok and not splats and not timed_out and not action_failures else 1

    total, problems = judge_run(
        tests, console_lines, port_lines, kunit=not args.no_kunit,
        expected_suites=expected_suites, full_run=full_run,
        expected_skips=expected_skips, skips_source=args.strict_skips,
        timed_out=timed_out, timeout=args.timeout, action_failures=action_failures)

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
