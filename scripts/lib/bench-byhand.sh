#!/bin/bash
# The by-hand pipeline of scripts/bench: the floor a tool adds overhead to. virsh + ssh + qemu-img,
# nothing else: a qcow2 overlay of the base, a transient libvirt domain (user-mode networking,
# SSH forwarded on 127.0.0.1 on a port the kernel picks), the authorized key as a systemd
# credential over SMBIOS, ssh polled every 0.2 s, the provisioning script, `systemctl poweroff`,
# and the four conversions run at once.
#
# usage: bench-byhand.sh BASE_QCOW2 WORK_DIR OUTPUT_DIR CPUS MEMORY_MIB PROVISION_SCRIPT
# Prints "PHASE <name> <unix seconds>" marks that scripts/lib/bench-report.py reads.
# Cleans up its domain and work directory on any exit.
set -euo pipefail

mark() { echo "PHASE $1 $(date +%s.%N)"; }

byhand_build() {
  local base=$1 work=$2 out=$3 cpus=$4 memory=$5 script=$6
  local name="bench-byhand-$$" port="" key="$work/id_ed25519"
  local ssh_opts=(-i "$key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes
                  -o ConnectTimeout=2 -o LogLevel=ERROR)
  mkdir -p "$work" "$out"
  # The serial console goes to $BENCH_CONSOLE (if set) for reading afterwards.
  trap "virsh -q -c qemu:///system destroy '$name' >/dev/null 2>&1 || true
        [ -z \"\${BENCH_CONSOLE:-}\" ] || cp '$work/console.log' \"\$BENCH_CONSOLE\" 2>/dev/null || true
        rm -rf '$work'" EXIT
  trap 'exit 130' INT TERM

  mark start
  qemu-img create -q -f qcow2 -F qcow2 -b "$base" "$work/disk.qcow2"
  ssh-keygen -q -t ed25519 -N '' -C bench -f "$key"
  cat > "$work/domain.xml" <<XML
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$name</name>
  <memory unit='MiB'>$memory</memory>
  <vcpu>$cpus</vcpu>
  <sysinfo type='smbios'><oemStrings>
    <entry>io.systemd.credential:ssh.authorized_keys.root=$(cat "$key.pub")</entry>
  </oemStrings></sysinfo>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/><smbios mode='sysinfo'/></os>
  <features><acpi/><apic/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='unsafe' discard='unmap'/><source file='$work/disk.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <serial type='file'><source path='$work/console.log'/><target port='0'/></serial>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <controller type='usb' model='none'/>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
  <qemu:commandline><qemu:arg value='-netdev'/><qemu:arg value='user,id=bench0,hostfwd=tcp:127.0.0.1:0-:22'/><qemu:arg value='-device'/><qemu:arg value='virtio-net-pci,netdev=bench0,addr=0x1f'/></qemu:commandline>
</domain>
XML

  mark boot
  virsh -q -c qemu:///system create "$work/domain.xml" >/dev/null
  # Port 0 in hostfwd: the kernel picked a free one; QEMU's monitor says which.
  port=$(virsh -c qemu:///system qemu-monitor-command "$name" --hmp 'info usernet' |
         awk '/HOST_FORWARD/ && !found { print $4; found = 1 }')
  [[ "$port" =~ ^[0-9]+$ ]] || { echo "no forwarded port in 'info usernet'" >&2; return 1; }
  echo "ssh port $port"

  local deadline=$((SECONDS + 300)) attempt
  while :; do
    attempt=$(date +%s.%N)
    ssh "${ssh_opts[@]}" -p "$port" root@127.0.0.1 true 2>/dev/null && break
    ((SECONDS < deadline)) || { echo "no SSH after 300 s" >&2; tail -n 30 "$work/console.log" >&2; return 1; }
    sleep 0.2
  done
  mark ssh
  echo "PHASE ssh_attempt $attempt"   # when the successful attempt started: the rest is the login itself

  ssh "${ssh_opts[@]}" -p "$port" root@127.0.0.1 sh -e < "$script"
  mark provisioned

  ssh "${ssh_opts[@]}" -p "$port" root@127.0.0.1 systemctl poweroff || true
  deadline=$((SECONDS + 120))
  while virsh -q -c qemu:///system domstate "$name" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "the guest did not power off in 120 s" >&2; return 1; }
    sleep 0.1
  done
  mark shutdown

  local disk="$work/disk.qcow2" pids=()
  qemu-img convert -f qcow2 -O vmdk -o subformat=streamOptimized "$disk" "$out/byhand.vmdk" & pids+=($!)
  qemu-img convert -f qcow2 -O vdi "$disk" "$out/byhand.vdi" & pids+=($!)
  qemu-img convert -f qcow2 -O vpc "$disk" "$out/byhand.vhd" & pids+=($!)
  qemu-img convert -f qcow2 -O qcow2 "$disk" "$out/byhand.qcow2" & pids+=($!)
  local pid failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  ((failed == 0)) || { echo "a conversion failed" >&2; return 1; }
  mark exported
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  [ $# -eq 6 ] || { sed -n 9p "$0" >&2; exit 2; }
  byhand_build "$@"
fi
