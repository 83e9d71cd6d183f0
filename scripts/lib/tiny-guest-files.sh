# Files of the tiny test guest (sourced by scripts/build-test-image).

# Loaded in this order by the initramfs (insmod does not resolve dependencies).
TINY_INITRD_MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk crc32c_generic crc16 mbcache jbd2 ext4"

write_tiny_initrd_init() {
    cat > "$1" <<'EOF'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk crc32c_generic crc16 mbcache jbd2 ext4; do
    [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko
done
i=0; while [ ! -b /dev/vda1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mount -t ext4 -o rw /dev/vda1 /newroot || { echo "tiny initrd: cannot mount /dev/vda1" > /dev/console; exec sh; }
umount /proc /sys; mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/init
EOF
    chmod 755 "$1"
}

write_tiny_root_files() {
    local root=$1
    cat > "$root/sbin/init" <<'EOF'
#!/bin/sh
# PID 1 of the tiny test guest.
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp
mount -o remount,rw /
for m in failover net_failover virtio_net virtio_console button evdev; do
    [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko 2>/dev/null
done
hostname "$(cat /etc/hostname)"
/sbin/kiln-credentials
ip link set lo up; ip link set eth0 up
udhcpc -q -n -t 10 -i eth0 -s /etc/udhcpc.script >/dev/null 2>&1 || echo "tiny: DHCP failed" > /dev/console
if [ -f /etc/ssh/ssh_host_ed25519_key ]; then
    dropbearconvert openssh dropbear /etc/ssh/ssh_host_ed25519_key /etc/dropbear/dropbear_ed25519_host_key >/dev/null 2>&1
    dropbear -r /etc/dropbear/dropbear_ed25519_host_key -s -p 22
else
    dropbear -R -s -p 22
fi
acpid -c /etc/acpi 2>/dev/null
echo "tiny: sshd up" > /dev/console
# poweroff (busybox) signals PID 1 with USR2, reboot with TERM; the ACPI power button runs poweroff.
stop() { kill $(pidof dropbear) 2>/dev/null; sync; umount -a -r 2>/dev/null; busybox "$1" -f; }
trap 'stop poweroff' USR2 USR1
trap 'stop reboot' TERM
while :; do sleep 1 & wait $!; done
EOF
    cat > "$root/sbin/kiln-credentials" <<'EOF'
#!/bin/sh
# Emulates systemd 252's system credentials from SMBIOS type 11 OEM strings
# (io.systemd.credential:NAME=VALUE, io.systemd.credential.binary:NAME=BASE64) and applies the
# two that Kiln uses: ssh.authorized_keys.root and tmpfiles.extra, with tmpfiles' semantics: f creates
# a missing file only, f+ also truncates an existing one, w+ appends to an existing file only.
creds=/run/credentials/@system
mkdir -p $creds; chmod 700 $creds
for raw in /sys/firmware/dmi/entries/11-*/raw; do
    [ -f "$raw" ] || continue
    header=$(od -An -tu1 -j1 -N1 "$raw" | tr -d ' ')
    # Strings are NUL-separated after the formatted area; newlines inside a value become \001.
    tail -c +$((header + 1)) "$raw" | tr '\000\n' '\n\001' | while IFS= read -r s; do
        case "$s" in
            io.systemd.credential:*=*)
                kv=${s#io.systemd.credential:}
                printf '%s' "${kv#*=}" | tr '\001' '\n' > "$creds/${kv%%=*}" ;;
            io.systemd.credential.binary:*=*)
                kv=${s#io.systemd.credential.binary:}
                printf '%s' "${kv#*=}" | base64 -d > "$creds/${kv%%=*}" ;;
        esac
    done
done
if [ -f $creds/ssh.authorized_keys.root ]; then
    mkdir -p /root/.ssh; chmod 700 /root/.ssh
    if [ ! -e /root/.ssh/authorized_keys ]; then
        cat $creds/ssh.authorized_keys.root > /root/.ssh/authorized_keys; echo >> /root/.ssh/authorized_keys
        chmod 600 /root/.ssh/authorized_keys
    fi
fi
if [ -f $creds/tmpfiles.extra ]; then
    # (the last line may lack a newline)
    while read -r type path mode user group age arg || [ -n "$type" ]; do
        case "$type" in
            f~) [ -e "$path" ] && continue; mkdir -p "${path%/*}"; printf '%s' "$arg" | base64 -d > "$path" ;;
            f+~) mkdir -p "${path%/*}"; printf '%s' "$arg" | base64 -d > "$path" ;;
            w+~) [ -e "$path" ] || continue; printf '%s' "$arg" | base64 -d >> "$path"; continue ;;
            f) [ -e "$path" ] && continue; mkdir -p "${path%/*}"; [ "$arg" = - ] && : > "$path" || printf '%s\n' "$arg" > "$path" ;;
            f+) mkdir -p "${path%/*}"; [ "$arg" = - ] && : > "$path" || printf '%s\n' "$arg" > "$path" ;;
            d|D) mkdir -p "$path" ;;
            *) continue ;;
        esac
        [ "$mode" = - ] || chmod "${mode#~}" "$path"
    done < $creds/tmpfiles.extra
fi
EOF
    cat > "$root/etc/udhcpc.script" <<'EOF'
#!/bin/sh
[ "$1" = bound ] || [ "$1" = renew ] || exit 0
ip addr add "$ip/${mask:-24}" dev "$interface"
[ -n "$router" ] && ip route add default via "${router%% *}"
for d in $dns; do echo "nameserver $d"; done > /etc/resolv.conf
EOF
    mkdir -p "$root/etc/acpi/PWRF"
    printf '#!/bin/sh\nkill -USR2 1\n' > "$root/etc/acpi/PWRF/00000080"
    printf '#!/bin/sh\nkill -USR2 1\n' > "$root/sbin/shutdown"
    chmod 755 "$root/sbin/init" "$root/sbin/kiln-credentials" "$root/etc/udhcpc.script" \
        "$root/etc/acpi/PWRF/00000080" "$root/sbin/shutdown"
    printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
    printf 'root:x:0:\n' > "$root/etc/group"
    # "*": no password login; keys only.
    printf 'root:*:19000:0:99999:7:::\n' > "$root/etc/shadow"; chmod 600 "$root/etc/shadow"
    echo /bin/sh > "$root/etc/shells"
    printf 'PRETTY_NAME="Kiln tiny test guest (busybox)"\nNAME="Kiln tiny"\nID=kilntiny\nVERSION_ID=1\n' > "$root/etc/os-release"
    echo 'LABEL=root / ext4 rw 0 1' > "$root/etc/fstab"
    echo tiny > "$root/etc/hostname"
}
