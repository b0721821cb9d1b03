#!/usr/bin/env bash
# Bootstrap a fresh Debian / Raspberry Pi OS machine for JARVIS: the system packages the
# project needs (only those missing), a virtual environment in .venv, and the project
# installed in it with every extra. Safe to run again; `make demo` and `make test` call it.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
# libportaudio2: sounddevice · libpcsclite-dev, pcscd, swig, gcc: pyscard builds from source
# espeak-ng, sox: test audio · chromium: dashboard browser tests · systemd: systemd-analyze verify
# wrk: the cloud's load benchmark
APT_PACKAGES=(libportaudio2 libpcsclite-dev pcscd swig gcc pkg-config espeak-ng sox chromium systemd wrk)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv python3-dev)
fi

if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing system packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "bootstrap: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi

# Everything Python comes from uv.lock (exact versions and hashes): a fresh machine next month
# installs what CI tested. uv itself is pinned with its hashes in requirements/uv.txt.
stamp="$VENV/.installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ uv.lock -nt "$stamp" ] \
        || [ requirements/uv.txt -nt "$stamp" ] || [ ! -x "$VENV/bin/uv" ]; then
    echo "bootstrap: installing the project into $VENV from uv.lock (kiosk, cloud, dev extras)"
    "$VENV/bin/python" -m pip install -q --require-hashes --no-deps -r requirements/uv.txt
    # --locked: refuse to run when pyproject.toml and uv.lock disagree (run `uv lock`).
    UV_PROJECT_ENVIRONMENT="$VENV" "$VENV/bin/uv" sync --locked --quiet \
        --python "$VENV/bin/python" --extra kiosk --extra cloud --extra dev
    touch "$stamp"
fi
echo "bootstrap: ready ($VENV)"
