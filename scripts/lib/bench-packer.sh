#!/bin/bash
# The Packer side of scripts/bench: Debian's packer 1.6.6, built-in qemu builder, on the same
# cached base as Kiln (disk_image + use_backing_file), the same machine, the same provisioning
# script, and qemu-img conversions to the same four formats in a shell-local post-processor
# (run at once, as the by-hand floor does, so the comparison is not about a serial script).
#
# usage: bench-packer.sh BASE_QCOW2 WORK_DIR OUTPUT_DIR CPUS MEMORY_MIB PROVISION_SCRIPT
# WORK_DIR holds the template, the key, the qemu-img wrapper and Packer's log; the caller removes it.
set -euo pipefail
[ $# -eq 6 ] || { sed -n 7p "$0" >&2; exit 2; }
base=$1 work=$2 out=$3 cpus=$4 memory=$5 script=$6
mkdir -p "$work/bin"
rm -rf "$out"    # Packer refuses an existing output directory

# Packer 1.6.6 runs `qemu-img create -f qcow2 -b BASE OUT` without -F, which QEMU >= 6.1 refuses.
cat > "$work/bin/qemu-img" <<'SH'
#!/bin/bash
if [ "$1" = create ] && [[ " $* " == *" -b "* ]] && [[ " $* " != *" -F "* ]]; then
  shift; exec /usr/bin/qemu-img create -F qcow2 "$@"
fi
exec /usr/bin/qemu-img "$@"
SH
chmod +x "$work/bin/qemu-img"

# The guest gets its key as a systemd credential over SMBIOS, as Kiln's and the by-hand guests do.
ssh-keygen -q -t ed25519 -N '' -C bench -f "$work/id_ed25519"
pubkey=$(cat "$work/id_ed25519.pub")
disk="$out/packer.qcow2"

python3 - "$work/packer.json" <<PY
import json, sys
disk, out = "$disk", "$out"
convert = [
    f"qemu-img convert -f qcow2 -O vmdk -o subformat=streamOptimized {disk} {out}/packer.vmdk & a=\$!",
    f"qemu-img convert -f qcow2 -O vdi {disk} {out}/packer.vdi & b=\$!",
    f"qemu-img convert -f qcow2 -O vpc {disk} {out}/packer.vhd & c=\$!",
    f"qemu-img convert -f qcow2 -O qcow2 {disk} {out}/packer-standalone.qcow2 & d=\$!",
    "wait \$a && wait \$b && wait \$c && wait \$d",
]
template = {
    "builders": [{
        "type": "qemu",
        "accelerator": "tcg",
        "disk_image": True,
        "use_backing_file": True,
        "iso_url": "$base",
        "iso_checksum": "none",
        "format": "qcow2",
        "disk_interface": "virtio",
        "disk_cache": "unsafe",      # as Kiln's and the by-hand domains
        "disk_discard": "unmap",
        "net_device": "virtio-net",
        "skip_resize_disk": True,
        "disk_size": "2048M",
        "skip_compaction": True,
        "headless": True,
        "vnc_bind_address": "127.0.0.1",
        "memory": int("$memory"),
        "cpus": int("$cpus"),
        "output_directory": out,
        "vm_name": "packer.qcow2",
        "boot_wait": "1s",
        "communicator": "ssh",
        "ssh_username": "root",
        "ssh_private_key_file": "$work/id_ed25519",
        "host_port_min": 2240,
        "host_port_max": 2299,
        "ssh_timeout": "5m",
        "shutdown_command": "systemctl poweroff",
        "shutdown_timeout": "2m",
        "qemuargs": [
            ["-serial", "file:$work/console.log"],
            ["-smbios", "type=11,value=io.systemd.credential:ssh.authorized_keys.root=$pubkey"],
            # Packer 1.6.6's own -netdev forwards on every interface; this one is 127.0.0.1 only.
            ["-netdev", "user,id=user.0,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22"],
            ["-device", "virtio-net,netdev=user.0"],
            # The entropy source Kiln's and the by-hand domains have.
            ["-object", "rng-random,id=rng0,filename=/dev/urandom"],
            ["-device", "virtio-rng-pci,rng=rng0"],
        ],
    }],
    "provisioners": [{"type": "shell", "script": "$script"}],
    "post-processors": [{"type": "shell-local", "inline": convert}],
}
json.dump(template, open(sys.argv[1], "w"), indent=2)
PY

export CHECKPOINT_DISABLE=1 PATH="$work/bin:$PATH" PACKER_CACHE_DIR="$work/packer_cache"
export PACKER_LOG=1 PACKER_LOG_PATH="$work/packer-debug.log" TMPDIR="$work"
cd "$work"
packer build -color=false -timestamp-ui packer.json
# Packer's own output is an overlay on the base; the standalone copy is the qcow2 artifact.
mv "$out/packer-standalone.qcow2" "$disk"
