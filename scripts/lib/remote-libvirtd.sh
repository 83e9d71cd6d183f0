#!/usr/bin/env bash
# A second libvirtd for the remote-hypervisor tests: it listens on 127.0.0.1 over TCP (auth none)
# and shares no state with the host's libvirtd. It runs in a mount namespace of its own, with
# private tmpfs mounts over /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and
# /var/log/libvirt, and a copy of /etc/libvirt, with its own virtlogd. Its storage pools live
# under its private /var/lib/libvirt: nothing outside the namespace can see their files, so a
# client reaches them only through the socket.
#
#   remote-libvirtd.sh start              prints STATE=<dir> and URI=qemu+tcp://127.0.0.1:<port>/system
#   remote-libvirtd.sh stop STATE         kills every process of the namespace, removes STATE
#   remote-libvirtd.sh daemon-kill STATE [SIGNAL]   stops libvirtd only (default TERM); guests keep running
#   remote-libvirtd.sh daemon-start STATE           starts libvirtd again in the same namespace
#
# Must run as root. Each start makes a new state directory under /var/tmp, so tests can run
# several daemons at once.
set -euo pipefail

die() { echo "remote-libvirtd: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

uri_of() { echo "qemu+tcp://127.0.0.1:$(cat "$1/port")/system"; }

wait_until_answering() {
    local state=$1 uri
    uri=$(uri_of "$state")
    for _ in $(seq 1 240); do
        virsh -c "$uri" version >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    echo "--- libvirtd log:" >&2
    tail -n 30 "$state/libvirtd.log" >&2 || true
    return 1
}

# The processes in the namespace (whatever their names), found by the namespace's inode.
namespace_pids() {
    local state=$1 ns pid
    ns=$(cat "$state/mntns" 2>/dev/null) || return 0
    for pid in /proc/[0-9]*; do
        pid=${pid#/proc/}
        [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" = "$ns" ] && echo "$pid"
    done
    return 0
}

start_libvirtd() {
    local state=$1
    nsenter --mount="/proc/$(cat "$state/anchor.pid")/ns/mnt" -- \
        /usr/sbin/libvirtd --daemon --listen --pid-file "$state/libvirtd.pid" >>"$state/libvirtd.log" 2>&1
}

cmd_start() {
    local state port
    state=$(mktemp -d /var/tmp/kiln-remote-libvirtd.XXXXXX)
    port=$(free_port)
    echo "$port" >"$state/port"
    cp -a /etc/libvirt "$state/etc"
    cat >>"$state/etc/libvirtd.conf" <<EOF

# remote-libvirtd.sh: TCP on 127.0.0.1 only, no authentication (tests only).
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "$port"
auth_tcp = "none"
EOF
    # Nothing may start by itself: a second "default" network would fight the host's over virbr0.
    find "$state/etc" -path '*/autostart/*' -delete

    # (absent on a host that never ran QEMU)
    cp -a /var/cache/libvirt/qemu/capabilities "$state/host-qemu-capabilities" 2>/dev/null || true

    # The namespace is held by an anchor process (sleep); the daemons are started inside it.
    setsid unshare --mount --propagation private -- bash -c '
        set -e
        state=$1
        for dir in /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
            mkdir -p "$dir"
            mount -t tmpfs -o mode=0755,size=8g kiln-remote-libvirtd "$dir"
        done
        mount --bind "$state/etc" /etc/libvirt
        mkdir -p /var/lib/libvirt/images /var/lib/libvirt/qemu /var/cache/libvirt/qemu /var/log/libvirt/qemu
        # QEMU capabilities probed by the host daemon (valid while the binaries are unchanged): saves ~8 s.
        cp -a "$state/host-qemu-capabilities" /var/cache/libvirt/qemu/capabilities 2>/dev/null || true
        readlink /proc/self/ns/mnt >"$state/mntns"
        /usr/sbin/virtlogd --daemon --pid-file "$state/virtlogd.pid"
        echo $$ >"$state/anchor.pid"
        exec sleep infinity
    ' remote-libvirtd "$state" </dev/null >>"$state/anchor.log" 2>&1 &

    for _ in $(seq 1 100); do
        [ -s "$state/anchor.pid" ] && [ -s "$state/virtlogd.pid" ] && break
        sleep 0.1
    done
    [ -s "$state/anchor.pid" ] || { cat "$state/anchor.log" >&2; cmd_stop "$state"; die "the namespace did not come up"; }
    start_libvirtd "$state"
    wait_until_answering "$state" || { cmd_stop "$state"; die "libvirtd did not answer on $(uri_of "$state")"; }
    echo "STATE=$state"
    echo "URI=$(uri_of "$state")"
}

cmd_stop() {
    local state=$1 pids
    [ -d "$state" ] || return 0
    [ -f "$state/port" ] || die "$state is not a remote-libvirtd state directory"
    # SIGKILL: the namespace and everything in it (guests included) is thrown away.
    for _ in $(seq 1 50); do
        pids=$(namespace_pids "$state")
        [ -z "$pids" ] && break
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
        sleep 0.1
    done
    [ -z "$(namespace_pids "$state")" ] || die "processes of $state survived SIGKILL: $(namespace_pids "$state")"
    rm -rf "$state"
}

# libvirt 9.0 was seen to hang for minutes in its shutdown after SIGTERM (all its clients
# already disconnected, listening socket closed) when an autodestroy guest had been running;
# after 15 s it is killed, and that is said on stderr.
cmd_daemon_kill() {
    local state=$1 signal=${2:-TERM} pid
    pid=$(cat "$state/libvirtd.pid" 2>/dev/null) || die "no libvirtd pid in $state"
    kill "-$signal" "$pid" 2>/dev/null || true
    for i in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$state/libvirtd.pid"; return 0; }
        if [ "$i" = 150 ] && [ "$signal" != KILL ] && [ "$signal" != 9 ]; then
            echo "remote-libvirtd: libvirtd ($pid) still shutting down 15 s after SIG$signal; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        sleep 0.1
    done
    die "libvirtd ($pid) did not exit after SIG$signal"
}

cmd_daemon_start() {
    local state=$1
    [ -s "$state/anchor.pid" ] || die "no namespace in $state"
    start_libvirtd "$state"
    wait_until_answering "$state" || die "libvirtd did not answer on $(uri_of "$state") after a restart"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) [ $# -ge 2 ] || die "usage: $0 stop STATE"; cmd_stop "$2" ;;
    daemon-kill) [ $# -ge 2 ] || die "usage: $0 daemon-kill STATE [SIGNAL]"; cmd_daemon_kill "$2" "${3:-TERM}" ;;
    daemon-start) [ $# -ge 2 ] || die "usage: $0 daemon-start STATE"; cmd_daemon_start "$2" ;;
    *) die "usage: $0 start | stop STATE | daemon-kill STATE [SIGNAL] | daemon-start STATE" ;;
esac
