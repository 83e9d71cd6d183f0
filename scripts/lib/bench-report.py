#!/usr/bin/env python3
"""Turns the logs of scripts/bench into per-phase medians and ratios.

usage: bench-report.py RESULTS_DIR

RESULTS_DIR/run-N/ holds, per way (kiln, packer, byhand) and for the extra kiln-generalize
run: WAY.log (lines stamped by bench-run.py), WAY.stats.json (bench-run.py), WAY.time
(/usr/bin/time -v) and WAY.sizes (`NAME BYTES` lines); singles.txt holds `FORMAT SECONDS`
for each conversion run alone. Prints a Markdown report and writes RESULTS_DIR/results.json.
"""
import glob
import json
import os
import re
import statistics
import sys

WAYS = ("kiln", "packer", "byhand")
KILN_FIXED_STEPS = {"base image", "work disk", "seed (libguestfs)", "offline prepare", "boot",
                    "wait for ssh", "shutdown", "generalize", "export", "manifest", "publish ami"}
FORMATS = ("vmdk", "vdi", "vhd", "qcow2")


def stamped_lines(path):
    with open(path, errors="replace") as f:
        for raw in f:
            stamp, _, line = raw.rstrip("\n").partition(" ")
            yield float(stamp), line


def sshd_lag(line):
    """Seconds from sshd's readiness to its first accepted login, from the provisioner's line."""
    m = re.search(r"BENCH-SSHD active_us=(\d+) accepted_s=([0-9.]+)", line)
    return float(m.group(2)) - int(m.group(1)) / 1e6 if m else None


def kiln_phases(log):
    steps, lag, singles = {}, None, {}
    for _, line in stamped_lines(log):
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind = event.get("event")
        if kind == "step_finished":
            steps[event["step"]] = steps.get(event["step"], 0) + event["seconds"]
        elif kind == "output":
            lag = sshd_lag(event.get("line", "")) or lag
        elif kind == "info":
            m = re.match(r"\S+\.(\w+): .* in ([0-9.]+) s$", event.get("message", ""))
            if m:
                singles[m.group(1)] = float(m.group(2))
    provision = sum(v for k, v in steps.items() if k not in KILN_FIXED_STEPS and not k.startswith("export "))
    return {
        "first_ssh": steps.get("boot", 0) + steps.get("wait for ssh", 0),
        "sshd_lag": lag,
        "provision": provision,
        "shutdown": steps.get("shutdown"),
        "generalize": steps.get("generalize"),
        "export": steps.get("export"),
        "kiln_per_output": singles,
    }


def packer_phases(log):
    marks, lag = {}, None
    patterns = {"boot": "==> qemu: Starting VM", "ssh": "==> qemu: Connected to SSH!",
                "halt": "==> qemu: Gracefully halting", "post": "==> qemu: Running post-processor",
                "done": "Build 'qemu' finished"}
    for stamp, line in stamped_lines(log):
        for name, pattern in patterns.items():
            if pattern in line and name not in marks:
                marks[name] = stamp
        lag = sshd_lag(line) or lag
    diff = lambda a, b: marks[b] - marks[a] if a in marks and b in marks else None
    return {"first_ssh": diff("boot", "ssh"), "sshd_lag": lag, "provision": diff("ssh", "halt"),
            "shutdown": diff("halt", "post"), "export": diff("post", "done")}


def byhand_phases(log):
    marks, lag = {}, None
    for _, line in stamped_lines(log):
        m = re.match(r"PHASE (\w+) ([0-9.]+)$", line)
        if m:
            marks[m.group(1)] = float(m.group(2))
        lag = sshd_lag(line) or lag
    diff = lambda a, b: marks[b] - marks[a] if a in marks and b in marks else None
    return {"first_ssh": diff("boot", "ssh"), "sshd_lag": lag, "login": diff("ssh_attempt", "ssh"),
            "provision": diff("ssh", "provisioned"),
            "shutdown": diff("provisioned", "shutdown"), "export": diff("shutdown", "exported")}


def max_rss_kb(path):
    try:
        with open(path) as f:
            for line in f:
                if "Maximum resident set size" in line:
                    return int(line.split(":")[1])
    except OSError:
        pass
    return None


def read_sizes(path):
    sizes = {}
    try:
        with open(path) as f:
            for line in f:
                name, size = line.split()
                ext = name.rsplit(".", 1)[-1]
                if ext in FORMATS:
                    sizes[ext] = int(size)
    except OSError:
        pass
    return sizes


def measure(run_dir, way):
    base = os.path.join(run_dir, way)
    if not os.path.exists(base + ".stats.json"):
        return None
    stats = json.load(open(base + ".stats.json"))
    parse = {"packer": packer_phases, "byhand": byhand_phases}.get(way, kiln_phases)
    m = parse(base + ".log")
    m["total"] = stats["wall_s"]
    m["ok"] = stats["rc"] == 0 and not stats["timed_out"]
    known = [m.get(k) or 0 for k in ("first_ssh", "provision", "shutdown", "generalize", "export")]
    m["other"] = m["total"] - sum(known)
    classes = stats["classes"]
    own = ["tool", "other"] if way == "byhand" else ["tool"]
    m["tool_cpu"] = sum(classes.get(c, {}).get("cpu_s", 0) for c in own)
    m["tool_rss_mib"] = max(classes.get(c, {}).get("peak_rss_kb", 0) for c in own) / 1024
    m["tool_sum_rss_mib"] = sum(classes.get(c, {}).get("sum_peak_rss_kb", 0) for c in own) / 1024
    m["qemu_cpu"] = classes.get("qemu", {}).get("cpu_s")
    m["qemu_rss_mib"] = classes.get("qemu", {}).get("peak_rss_kb", 0) / 1024 or None
    m["qemu_img_cpu"] = classes.get("qemu-img", {}).get("cpu_s")
    rss = max_rss_kb(base + ".time")
    m["time_v_rss_mib"] = rss / 1024 if rss else None
    m["sizes"] = read_sizes(base + ".sizes")
    return m


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, unit="s", digits=1):
    if value is None:
        return "–"
    return f"{value:.{digits}f}{(' ' + unit) if unit else ''}"


def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b not in (None, 0) else "–"


def main():
    results = sys.argv[1]
    runs = sorted(glob.glob(os.path.join(results, "run-*")), key=lambda p: int(p.rsplit("-", 1)[1]))
    data = {way: [m for m in (measure(r, way) for r in runs) if m and m["ok"]] for way in WAYS}
    failed = {way: sum(1 for r in runs if (lambda m: m and not m["ok"])(measure(r, way))) for way in WAYS}
    gen = [m for m in (measure(r, "kiln-generalize") for r in runs) if m and m["ok"]]
    singles = {}
    for r in runs:
        try:
            for line in open(os.path.join(r, "singles.txt")):
                fmt_name, seconds = line.split()
                singles.setdefault(fmt_name, []).append(float(seconds))
        except OSError:
            pass
    med = {way: {} for way in WAYS}
    for way in WAYS:
        for m in data[way]:
            m["guest_boot"] = m["first_ssh"] - m["sshd_lag"] if None not in (m.get("first_ssh"), m.get("sshd_lag")) else None
    keys = ("first_ssh", "guest_boot", "sshd_lag", "login", "provision", "shutdown", "export", "other", "total", "tool_cpu",
            "tool_rss_mib", "tool_sum_rss_mib", "time_v_rss_mib", "qemu_cpu", "qemu_rss_mib", "qemu_img_cpu")
    for way in WAYS:
        for k in keys:
            med[way][k] = median([m.get(k) for m in data[way]])
        med[way]["sizes"] = {f: median([m["sizes"].get(f) for m in data[way]]) for f in FORMATS}
    single_med = {f: median(v) for f, v in singles.items()}
    slowest = max((v for v in single_med.values() if v is not None), default=None)

    out = []
    n = {way: len(data[way]) for way in WAYS}
    out.append(f"Runs that succeeded: Kiln {n['kiln']}, Packer {n['packer']}, by hand {n['byhand']}"
               + (f" (failed: {failed})" if any(failed.values()) else "") + ". Medians, row by row (so they need not add up).")
    out.append("")
    out.append("| phase | Kiln | Packer 1.6.6 | by hand | Kiln/Packer | Kiln/by hand |")
    out.append("|---|---:|---:|---:|---:|---:|")
    rows = [("time to first SSH (from boot start)", "first_ssh"),
            ("  of which: the guest, boot start → sshd ready", "guest_boot"),
            ("  of which: sshd ready → first login accepted", "sshd_lag"),
            ("provisioning", "provision"), ("shutdown", "shutdown"), ("export (4 formats)", "export"),
            ("other (setup, checksums, cleanup)", "other"), ("**total**", "total")]
    for label, k in rows:
        k_, p_, b_ = med["kiln"][k], med["packer"][k], med["byhand"][k]
        out.append(f"| {label} | {fmt(k_, digits=2)} | {fmt(p_, digits=2)} | {fmt(b_, digits=2)} | "
                   f"{ratio(k_, p_)} | {ratio(k_, b_)} |")
    out.append(f"| export ÷ slowest single conversion ({fmt(slowest, digits=2)} alone) | "
               + " | ".join(ratio(med[w]["export"], slowest) for w in WAYS) + " | | |")
    out.append(f"| tool CPU (user+sys) | {fmt(med['kiln']['tool_cpu'], digits=2)} | "
               f"{fmt(med['packer']['tool_cpu'], digits=2)} | {fmt(med['byhand']['tool_cpu'], digits=2)} | "
               f"{ratio(med['kiln']['tool_cpu'], med['packer']['tool_cpu'])} | |")
    out.append(f"| tool peak RSS, largest process (sum of processes) | "
               + " | ".join(f"{fmt(med[w]['tool_rss_mib'], 'MiB', 0)} ({fmt(med[w]['tool_sum_rss_mib'], 'MiB', 0)})"
                            for w in WAYS)
               + f" | {ratio(med['kiln']['tool_rss_mib'], med['packer']['tool_rss_mib'])} | |")
    out.append("| `time -v` max RSS (largest of the process and its children) | "
               + " | ".join(fmt(med[w]["time_v_rss_mib"], "MiB", 0) for w in WAYS) + " | | |")
    out.append("| QEMU CPU (user+sys) / peak RSS | "
               + " | ".join(f"{fmt(med[w]['qemu_cpu'], digits=1)} / {fmt(med[w]['qemu_rss_mib'], 'MiB', 0)}"
                            for w in WAYS) + " | | |")
    out.append("| qemu-img CPU (user+sys) | "
               + " | ".join(fmt(med[w]["qemu_img_cpu"], digits=1) for w in WAYS) + " | | |")
    for f in FORMATS:
        out.append(f"| size {f} | " + " | ".join(fmt((med[w]['sizes'][f] or 0) / 2**20 or None, "MiB", 1)
                                             for w in WAYS) + " | | |")
    out.append("")
    login = med["byhand"]["login"]
    if login is not None:
        out.append(f"By hand, the `ssh` attempt that succeeded took {fmt(login, digits=2)} from its start to the "
                   "command's exit (TCP through user-mode networking, key exchange and login in an emulated guest): "
                   "that part of the sshd → login time is not polling.")
    per_output = {}
    for m in data["kiln"]:
        for f, v in m.get("kiln_per_output", {}).items():
            per_output.setdefault(f, []).append(v)
    if per_output:
        out.append("Kiln's per-output times (conversion + SHA-256, at most as many at once as cores): "
                   + ", ".join(f"{f} {fmt(median(v), digits=2)}" for f, v in per_output.items()) + ".")
    out.append("Each conversion alone (from the provisioned disk, one at a time): "
               + ", ".join(f"{f} {fmt(single_med.get(f), digits=2)}" for f in FORMATS) + ".")
    if gen:
        g_total = median([m["total"] for m in gen])
        g_step = median([m.get("generalize") for m in gen])
        g_export = median([m.get("export") for m in gen])
        out.append("")
        out.append(f"**Generalize cost** (Kiln with `generalize` on, {len(gen)} run(s)): the generalize step "
                   f"(libguestfs appliance: clean-up, trim, inspect) took {fmt(g_step, digits=1)}; that run's total was "
                   f"{fmt(g_total, digits=1)} against the {fmt(med['kiln']['total'], digits=1)} median without "
                   f"(the other phases of that run make up the rest: see its log), export {fmt(g_export, digits=1)}.")
        gsizes = {f: median([m["sizes"].get(f) for m in gen]) for f in FORMATS}
        out.append("Sizes after generalize + compaction: "
                   + ", ".join(f"{f} {fmt((gsizes[f] or 0) / 2**20 or None, 'MiB', 1)}" for f in FORMATS) + ".")
    print("\n".join(out))
    json.dump({"medians": med, "singles": single_med, "runs": data, "generalize": gen},
              open(os.path.join(results, "results.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
