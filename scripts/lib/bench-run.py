#!/usr/bin/env python3
"""Runs one benchmarked command and records what it cost.

usage: bench-run.py --log LOG --stats STATS.json [--tool NAME ...] [--qemu-match TEXT]
                    [--timeout SECONDS] -- COMMAND...

- Every line the command prints (stdout and stderr, merged) goes to LOG prefixed with the
  host's wall-clock time in seconds (`1764054000.123456 line`), stamped when it arrives: tools
  such as Packer only print whole seconds themselves.
- The process tree is sampled every 0.1 s from /proc: per process the peak resident set
  (VmHWM) and CPU time (utime + stime). Processes whose name starts with a --tool prefix are
  "tool"; qemu-system processes in the tree, or anywhere whose command line contains
  --qemu-match (libvirt starts QEMU outside the tool's tree), are "qemu"; qemu-img is
  "qemu-img"; the rest "other". STATS gets the totals per class (CPU: sum of the last sample
  of each process; memory: the largest single peak and the sum of peaks).
- The command runs in its own process group, stopped (TERM, then KILL 10 s later) after
  --timeout or when this runner gets SIGINT/SIGTERM (it then exits with 130).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def read_proc(pid):
    """(comm, ppid, cpu seconds, VmHWM kB, cmdline) of one process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        ppid = int(fields[1])
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        hwm = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                    break
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        return comm, ppid, cpu, hwm, cmdline
    except (OSError, ValueError, IndexError):
        return None


class Sampler(threading.Thread):
    def __init__(self, root, tools, qemu_match):
        super().__init__(daemon=True)
        self.root, self.tools, self.qemu_match = root, tools, qemu_match
        self.seen = {}  # pid -> [class, comm, cpu seconds, VmHWM kB]
        self.stop = threading.Event()

    def classify(self, comm, cmdline):
        if any(comm.startswith(t) for t in self.tools):
            return "tool"
        if comm.startswith("qemu-system") or "qemu-system" in cmdline.split(" ")[0]:
            return "qemu"
        if comm == "qemu-img":
            return "qemu-img"
        return "other"

    def sample(self):
        procs = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                info = read_proc(int(name))
                if info:
                    procs[int(name)] = info
        children = {}
        for pid, info in procs.items():
            children.setdefault(info[1], []).append(pid)
        tree, todo = set(), [self.root]
        while todo:
            pid = todo.pop()
            if pid in tree:
                continue
            tree.add(pid)
            todo.extend(children.get(pid, []))
        if self.qemu_match:
            for pid, info in procs.items():
                if info[0].startswith("qemu-system") and self.qemu_match in info[4]:
                    tree.add(pid)
        for pid in tree:
            if pid not in procs:
                continue
            comm, _, cpu, hwm, cmdline = procs[pid]
            entry = self.seen.setdefault(pid, ["other", comm, 0.0, 0])
            if entry[0] == "other":  # a fork becomes qemu-img, packer... only after exec
                entry[0], entry[1] = self.classify(comm, cmdline), comm
            entry[2] = max(entry[2], cpu)
            entry[3] = max(entry[3], hwm)

    def run(self):
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(0.1)
        self.sample()

    def totals(self):
        out = {}
        for cls, comm, cpu, hwm in self.seen.values():
            t = out.setdefault(cls, {"cpu_s": 0.0, "peak_rss_kb": 0, "sum_peak_rss_kb": 0, "processes": 0})
            t["cpu_s"] += cpu
            t["peak_rss_kb"] = max(t["peak_rss_kb"], hwm)
            t["sum_peak_rss_kb"] += hwm
            t["processes"] += 1
        return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    p.add_argument("--stats", required=True)
    p.add_argument("--tool", action="append", default=[])
    p.add_argument("--qemu-match", default="")
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    command = a.command[1:] if a.command[:1] == ["--"] else a.command
    start = time.time()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    sampler = Sampler(proc.pid, a.tool, a.qemu_match)
    sampler.start()
    timed_out = threading.Event()

    def stop_command():
        if proc.poll() is None:
            for sig, pause in ((signal.SIGTERM, 10), (signal.SIGKILL, 0)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    return
                time.sleep(pause)
    def on_timeout():
        timed_out.set()
        stop_command()

    interrupted = threading.Event()

    def on_signal(signum, frame):
        # The command has its own session, so a Ctrl-C on the terminal does not reach it.
        interrupted.set()
        threading.Thread(target=stop_command, daemon=True).start()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    timer = threading.Timer(a.timeout, on_timeout)
    timer.daemon = True
    timer.start()
    echo = os.environ.get("BENCH_ECHO") == "1"
    with open(a.log, "w") as log:
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            log.write(f"{time.time():.6f} {line}\n")
            log.flush()
            if echo:
                print(line, file=sys.stderr)
    rc = proc.wait()
    end = time.time()
    timer.cancel()
    sampler.stop.set()
    sampler.join()
    with open(a.stats, "w") as f:
        json.dump({"start": start, "end": end, "wall_s": end - start, "rc": rc,
                   "timed_out": timed_out.is_set(), "classes": sampler.totals()}, f, indent=1)
    sys.exit(130 if interrupted.is_set() else rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
