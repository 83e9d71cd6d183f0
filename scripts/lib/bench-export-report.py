#!/usr/bin/env python3
"""Medians and ratios of the export section of scripts/bench (scripts/lib/bench-export.sh).

usage: bench-export-report.py RESULTS_DIR

Reads RESULTS_DIR/export/run-N/: `times` (`CASE WALL USER SYS IDLE%` per case, from
/usr/bin/time: for kiln-* the whole kiln process with its qemu-img children), kiln-NAME.json (the
--json events of a kiln build of one template: its `export` step is Kiln's time), kiln-NAME.sizes
and qemu-FORMAT.size. Prints Markdown; writes RESULTS_DIR/export/results.json.
"""
import glob
import json
import os
import re
import statistics
import sys

FORMATS = ("vmdk", "vdi", "vhd", "qcow2")


def kiln_export(path):
    """(export step seconds, {format: seconds of that output, conversion + SHA-256})."""
    step, per_output = None, {}
    try:
        for line in open(path, errors="replace"):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "step_finished" and event.get("step") == "export":
                step = event["seconds"]
            elif event.get("event") == "info":
                m = re.match(r"\S+\.(\w+): .* in ([0-9.]+) s$", event.get("message", ""))
                if m:
                    per_output[m.group(1)] = float(m.group(2))
    except OSError:
        pass
    return step, per_output


def sizes(path):
    out = {}
    try:
        for line in open(path):
            name, size = line.split()
            ext = name.rsplit(".", 1)[-1]
            if ext in FORMATS:
                out[ext] = int(size)
    except OSError:
        pass
    return out


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=2, unit=" s"):
    return "–" if value is None else f"{value:.{digits}f}{unit}"


def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b not in (None, 0) else "–"


def main():
    results = os.path.join(sys.argv[1], "export")
    runs = sorted(glob.glob(os.path.join(results, "run-*")), key=lambda p: int(p.rsplit("-", 1)[1]))
    samples, cpu, idles, kiln_sizes, qemu_sizes, all_per_output = {}, {}, [], {}, {}, {}
    for run in runs:
        for line in open(os.path.join(run, "times")):
            fields = line.split()
            if len(fields) != 5 or fields[0].startswith("Command"):
                continue   # /usr/bin/time's notes ("Command exited with non-zero status")
            name, wall, user, system, idle = fields[0], *map(float, fields[1:])
            if name.startswith("qemu-"):
                samples.setdefault(name, []).append(wall)
            cpu.setdefault(name, []).append(user + system)
            idles.append(idle)
        for case in FORMATS + ("all",):
            step, per_output = kiln_export(os.path.join(run, f"kiln-{case}.json"))
            samples.setdefault(f"kiln-{case}", []).append(step)
            if case == "all":
                for f, v in per_output.items():
                    all_per_output.setdefault(f, []).append(v)
            for f, v in sizes(os.path.join(run, f"kiln-{case}.sizes")).items():
                kiln_sizes.setdefault(f, []).append(v)
        for f in FORMATS:
            try:
                qemu_sizes.setdefault(f, []).append(int(open(os.path.join(run, f"qemu-{f}.size")).read()))
            except OSError:
                pass
    med = {k: median(v) for k, v in samples.items()}
    med_cpu = {k: median(v) for k, v in cpu.items()}
    disk = json.load(open(os.path.join(results, "disk.json")))

    kiln_single = {f: med.get(f"kiln-{f}") for f in FORMATS}
    qemu_single = {f: med.get(f"qemu-{f}") for f in FORMATS}
    slowest_kiln = max((v for v in kiln_single.values() if v is not None), default=None)
    slowest_qemu = max((v for v in qemu_single.values() if v is not None), default=None)
    out = [f"Disk: {disk['virtual-size'] / 2**30:.1f} GiB virtual, {disk['actual-size'] / 2**20:.0f} MiB of qcow2. "
           f"{len(runs)} run(s); medians. {sum(1 for i in idles if i >= 90)} of {len(idles)} cases started on cores at "
           f"least 90 % idle (the others waited in vain: lowest {fmt(min(idles, default=None), 0, ' %')}).", "",
           "| conversion | qemu-img alone | Kiln alone (export step) | Kiln ÷ qemu-img | CPU qemu-img / Kiln | "
           "size qemu-img | size Kiln |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for f in FORMATS:
        q_size = median(qemu_sizes.get(f, [])) or 0
        k_size = median(kiln_sizes.get(f, [])) or 0
        out.append(f"| {f}{' (streamOptimized)' if f == 'vmdk' else ''} | {fmt(qemu_single[f])} | {fmt(kiln_single[f])} | "
                   f"{ratio(kiln_single[f], qemu_single[f])} | {fmt(med_cpu.get('qemu-' + f), 1, '')} / "
                   f"{fmt(med_cpu.get('kiln-' + f), 1, ' s')} | {fmt(q_size / 2**20, 1, ' MiB')} | {fmt(k_size / 2**20, 1, ' MiB')} |")
    out.append(f"| **all four at once** | {fmt(med.get('qemu-all'))} | {fmt(med.get('kiln-all'))} | "
               f"{ratio(med.get('kiln-all'), med.get('qemu-all'))} | {fmt(med_cpu.get('qemu-all'), 1, '')} / "
               f"{fmt(med_cpu.get('kiln-all'), 1, ' s')} | | |")
    out.append("")
    out.append(f"- Kiln's streamOptimized writer vs qemu-img's: **{ratio(kiln_single['vmdk'], qemu_single['vmdk'])}** "
               f"({fmt(kiln_single['vmdk'])} against {fmt(qemu_single['vmdk'])}; Kiln's figure includes the raw copy and "
               "the SHA-256 of the output).")
    out.append(f"- All formats vs the slowest single conversion, Kiln: **{ratio(med.get('kiln-all'), slowest_kiln)}** "
               f"({fmt(med.get('kiln-all'))} against {fmt(slowest_kiln)} for its slowest output alone).")
    out.append(f"- All formats (Kiln) vs qemu-img's slowest single conversion: "
               f"**{ratio(med.get('kiln-all'), slowest_qemu)}** (against {fmt(slowest_qemu)}).")
    out.append(f"- qemu-img, all four at once vs its slowest single: {ratio(med.get('qemu-all'), slowest_qemu)}.")
    out.append("- CPU is user + sys of the process and its children (`/usr/bin/time`): Kiln's includes its qemu-img "
               "raw copy and the SHA-256 of every output. A case that other work joined while it ran got less than "
               "the two cores: its wall-clock time says more about the neighbours than about the tool.")
    if all_per_output:
        out.append("- Kiln's per-output times inside the all-formats export (conversion + SHA-256, at most as many "
                   "at once as cores): " + ", ".join(f"{f} {fmt(median(v))}" for f, v in all_per_output.items()) + ".")
    print("\n".join(out))
    json.dump({"medians": med, "cpu_medians": med_cpu, "samples": samples, "cpu": cpu, "idle_before": idles, "kiln_sizes": kiln_sizes, "qemu_sizes": qemu_sizes},
              open(os.path.join(results, "results.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
