#!/usr/bin/env bash
# Installs moto_server (PyPI `moto[server]`), the local AWS endpoint the AMI publishing tests
# start on 127.0.0.1. Sourced by scripts/setup; safe to run again.
set -euo pipefail

ensure_moto_server() {
    if command -v moto_server >/dev/null 2>&1 && python3 -c 'import moto' >/dev/null 2>&1; then
        return 0
    fi
    if ! command -v pip3 >/dev/null 2>&1 && ! python3 -m pip --version >/dev/null 2>&1; then
        apt-get install -y --no-install-recommends python3-pip
    fi
    # Debian's python is "externally managed": allow a system-wide install for this tool only.
    python3 -m pip install --quiet 'moto[server]' \
        || python3 -m pip install --quiet --break-system-packages 'moto[server]'
    command -v moto_server >/dev/null 2>&1 || { echo "moto_server is not on PATH after installing moto[server]" >&2; return 1; }
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    ensure_moto_server
fi
