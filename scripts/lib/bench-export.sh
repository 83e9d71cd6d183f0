#!/bin/bash
# The export section of scripts/bench (docs/benchmarks.md): how long each output format takes
# alone and all of them together, qemu-img's streamOptimized VMDK against Kiln's own writer.
#
# usage: bench-export.sh KILN BASE_QCOW2 RESULTS_DIR RUNS
#   KILN         the kiln binary
#   BASE_QCOW2   the Debian base image the bench boots (Kiln's cache)
#   RESULTS_DIR  gets export/run-N/{times,cpu,kiln-*.json,...} and export/disk.json, which
#                bench-export-report.py reads
#   RUNS         how many times to measure everything (the order of the cases rotates)
#
# The disk: the Debian base (2 GiB virtual, ~250 MB of an installed system) with ~420 MB more
# written over its second GiB: 300 MB of the host's /usr (binaries, libraries, text), 20 MB of
# random bytes (like already compressed data) and 100 MB of zeros (like a file full of zeros).
# No VM boots: a template without provisioners goes straight from the work disk to the export.
#
# On a shared machine the wall-clock times say more about the neighbours than about the tools, so
# each case first waits (up to BENCH_IDLE_WAIT seconds, default 300; 0: never) until both cores
# have been at least 90 % idle for 2 s, and records how idle they were.
set -euo pipefail
[ $# -eq 4 ] || { sed -n '5,9p' "$0" >&2; exit 2; }
KILN=$1 BASE=$2 RESULTS=$3 RUNS=$4
say() { printf '[bench-export] %s\n' "$*" >&2; }

work=$(mktemp -d /var/tmp/kiln-bench-export.XXXXXX)
trap 'rm -rf "$work"' EXIT
out="$RESULTS/export"
mkdir -p "$out"

say "making the disk (Debian base + mixed data) in $work"
qemu-img convert -f qcow2 -O raw "$BASE" "$work/disk.raw"
{ tar -cf - -C / usr/bin usr/lib usr/share 2>/dev/null || true; } | head -c 300M |
  dd of="$work/disk.raw" bs=1M seek=1024 conv=notrunc iflag=fullblock status=none
head -c 20M /dev/urandom | dd of="$work/disk.raw" bs=1M seek=1330 conv=notrunc status=none
dd if=/dev/zero of="$work/disk.raw" bs=1M seek=1360 count=100 conv=notrunc status=none
disk="$work/disk.qcow2"
qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$disk"
rm -f "$work/disk.raw"
qemu-img info --output=json "$disk" > "$out/disk.json"
cat "$disk" > /dev/null   # into the page cache, for every case alike

# A template per case: the disk as the source, no provisioners (no boot), no generalize.
template() {  # NAME OUTPUT...
  local name=$1; shift
  {
    echo "builds:"
    echo "  - name: exportbench"
    echo "    source: { image: $disk }"
    echo "    generalize: false"
    echo "    outputs:"
    local o
    for o in "$@"; do echo "      - $o"; done
    echo "    output_directory: $work/out-$name"
  } > "$work/$name.yaml"
}
template vmdk "vmdk: { subformat: streamOptimized }"
template vdi vdi
template vhd vhd
template qcow2 qcow2
template all "vmdk: { subformat: streamOptimized }" vdi vhd qcow2

IDLE_WAIT=${BENCH_IDLE_WAIT:-300}

idle_percent() {  # over the next 2 s, all cores
  local u n s i w x y z t1 i1 t2 i2
  read -r _ u n s i w x y z _ < /proc/stat; t1=$((u + n + s + i + w + x + y + z)); i1=$((i + w))
  sleep 2
  read -r _ u n s i w x y z _ < /proc/stat; t2=$((u + n + s + i + w + x + y + z)); i2=$((i + w))
  echo $((100 * (i2 - i1) / (t2 - t1)))
}

wait_idle() {  # prints the idle percentage seen last
  local deadline=$((SECONDS + IDLE_WAIT)) idle
  idle=$(idle_percent)
  while ((idle < 90 && SECONDS < deadline)); do idle=$(idle_percent); done
  echo "$idle"
}

# measured CASE COMMAND...: runs the command; `CASE WALL USER SYS IDLE` goes to $dir/times
# (IDLE: how idle the cores were in the 2 s before, in percent).
measured() {
  local name=$1; shift
  local idle
  idle=$(wait_idle)
  /usr/bin/time -f "$name %e %U %S $idle" -a -o "$dir/times" "$@"
}

qemu_single() {  # FORMAT; the file's size goes to $dir/qemu-FORMAT.size
  local f=$1 opts
  case $f in vmdk) opts=(-O vmdk -o subformat=streamOptimized) ;; vhd) opts=(-O vpc) ;; *) opts=(-O "$f") ;; esac
  measured "qemu-$f" qemu-img convert -f qcow2 "${opts[@]}" "$disk" "$work/single.$f"
  stat -c %s "$work/single.$f" > "$dir/qemu-$f.size"
  rm -f "$work/single.$f"
}

qemu_all() {  # the four qemu-img conversions at once, as the by-hand floor runs them
  measured qemu-all bash -c '
    qemu-img convert -f qcow2 -O vmdk -o subformat=streamOptimized "$1" "$2.vmdk" & a=$!
    qemu-img convert -f qcow2 -O vdi "$1" "$2.vdi" & b=$!
    qemu-img convert -f qcow2 -O vpc "$1" "$2.vhd" & c=$!
    qemu-img convert -f qcow2 -O qcow2 "$1" "$2.qcow2" & d=$!
    wait $a && wait $b && wait $c && wait $d' _ "$disk" "$work/qemu-all"
  rm -f "$work"/qemu-all.*
}

kiln_case() {  # NAME: a kiln build of that template; its --json events go to $dir/kiln-NAME.json
  local name=$1
  measured "kiln-$name" env KILN_WORK_DIR="$work/kiln-work" \
    "$KILN" build "$work/$name.yaml" --force --json > "$dir/kiln-$name.json"
  find "$work/out-$name" -maxdepth 1 -type f -printf '%f %s\n' > "$dir/kiln-$name.sizes"
  rm -rf "$work/out-$name"
}

cases=(qemu-vmdk kiln-vmdk qemu-vdi kiln-vdi qemu-vhd kiln-vhd qemu-qcow2 kiln-qcow2 qemu-all kiln-all)
for ((i = 1; i <= RUNS; i++)); do
  dir="$out/run-$i"
  mkdir -p "$dir"
  : > "$dir/times"
  for ((j = 0; j < ${#cases[@]}; j++)); do
    c=${cases[$(((i - 1 + j) % ${#cases[@]}))]}
    say "run $i/$RUNS: $c"
    case $c in
      qemu-all) qemu_all ;;
      qemu-*) qemu_single "${c#qemu-}" ;;
      kiln-*) kiln_case "${c#kiln-}" ;;
    esac
  done
done
