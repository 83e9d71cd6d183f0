# The benchmark's provisioning work, the same file for Kiln, Packer and the by-hand run.
set -e
echo "provisioned for the benchmark at $(date -u +%FT%TZ)" > /etc/bench-provisioned
mkdir -p /opt/app && head -c 20M /dev/urandom > /opt/app/blob.bin
sync
# Measurement only (guest monotonic clock): when sshd reported ready, and when it first
# accepted a login. The difference is how long the tool took to notice sshd was up.
active=$(systemctl show ssh -p ActiveEnterTimestampMonotonic --value 2>/dev/null || true)
accepted=$(journalctl -b -o short-monotonic _COMM=sshd 2>/dev/null | grep -m1 'Accepted ' | sed 's/^\[ *\([0-9.]*\)\].*/\1/' || true)
echo "BENCH-SSHD active_us=${active:-none} accepted_s=${accepted:-none}"
