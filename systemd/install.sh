#!/usr/bin/env bash
# Install the JARVIS kiosk agent on Raspberry Pi OS (Debian 12 "bookworm") from this checkout:
# system packages, the `jarvis-kiosk` user (groups input and audio), the agent in a virtual
# environment under /opt/jarvis-kiosk, its config file, the badge reader's udev rule, pcscd
# (with its polkit rule and the ACR122U driver blacklist) and the systemd unit.
#
#   sudo systemd/install.sh [--cloud-url https://jarvis.example.com] [--reader evdev|pcsc|simulated]
#
# Safe to run again (it upgrades the agent and keeps the config, state and credential).
# Then provision the kiosk: `sudo jarvis-kiosk provision` (see docs/KIOSK.md).
set -euo pipefail

PREFIX=/opt/jarvis-kiosk
CONFIG_DIR=/etc/jarvis-kiosk
STATE_DIR=/var/lib/jarvis-kiosk
USER_NAME=jarvis-kiosk
CLOUD_URL=""
READER=""

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --cloud-url) CLOUD_URL="${2:?--cloud-url needs a URL}"; shift 2 ;;
        --reader) READER="${2:?--reader needs evdev, pcsc or simulated}"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage 2 ;;
    esac
done
case "$READER" in ""|evdev|pcsc|simulated) ;; *) echo "install.sh: --reader is evdev, pcsc or simulated" >&2; exit 2 ;; esac

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run it as root: sudo $0 $*" >&2
    exit 1
fi
SRC="$(cd "$(dirname "$0")/.." && pwd)"
say() { printf '\n==> %s\n' "$*"; }

say "system packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# libportaudio2: audio · pcscd, libccid, libpcsclite-dev, swig, gcc: PC/SC readers (pyscard
# builds from source) · espeak-ng: spoken messages · alsa-utils: alsamixer, speaker-test
apt-get install -y -qq --no-install-recommends \
    python3 python3-venv python3-dev libportaudio2 pcscd libccid libpcsclite-dev swig gcc \
    pkg-config espeak-ng alsa-utils >/dev/null

say "user $USER_NAME (groups input, audio)"
if id "$USER_NAME" >/dev/null 2>&1; then
    usermod -aG input,audio "$USER_NAME"
else
    useradd --system --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin \
        --user-group --groups input,audio "$USER_NAME"
fi

say "the agent in $PREFIX/venv"
install -d -m 0755 "$PREFIX" "$PREFIX/docs"
[ -x "$PREFIX/venv/bin/python" ] || python3 -m venv "$PREFIX/venv"
# The same lock as CI (uv.lock: exact versions and hashes), only the kiosk's extra; uv itself
# comes pinned with its hashes. --locked refuses a source tree whose lock is out of date.
"$PREFIX/venv/bin/python" -m pip install -q --require-hashes --no-deps -r "$SRC/requirements/uv.txt"
UV_PROJECT_ENVIRONMENT="$PREFIX/venv" "$PREFIX/venv/bin/uv" sync --locked --no-editable --quiet \
    --project "$SRC" --python "$PREFIX/venv/bin/python" --extra kiosk
install -m 0644 "$SRC/docs/KIOSK.md" "$SRC/docs/HARDWARE.md" "$PREFIX/docs/"
# `sudo jarvis-kiosk ...` runs the command as the kiosk's user, so files it writes (the
# credential) belong to the agent.
cat > /usr/local/bin/jarvis-kiosk <<WRAPPER
#!/bin/sh
# Installed by systemd/install.sh: run jarvis-kiosk as $USER_NAME.
if [ "\$(id -u)" -eq 0 ]; then
    exec runuser -u $USER_NAME -- $PREFIX/venv/bin/jarvis-kiosk "\$@"
fi
exec $PREFIX/venv/bin/jarvis-kiosk "\$@"
WRAPPER
chmod 0755 /usr/local/bin/jarvis-kiosk

say "config $CONFIG_DIR/kiosk.env and state $STATE_DIR"
install -d -m 0750 -o root -g "$USER_NAME" "$CONFIG_DIR"
if [ ! -f "$CONFIG_DIR/kiosk.env" ]; then
    {
        echo "# JARVIS kiosk settings (docs/KIOSK.md lists them all with defaults and units)."
        echo "JARVIS_KIOSK_CLOUD__URL=${CLOUD_URL}"
        echo "JARVIS_KIOSK_BADGE__KIND=${READER:-evdev}"
        echo "# JARVIS_KIOSK_BADGE__EVDEV__DEVICE_PATH=/dev/jarvis-badge"
        echo "# JARVIS_KIOSK_AUDIO__INPUT_DEVICE="
        echo "# JARVIS_KIOSK_AUDIO__OUTPUT_DEVICE="
    } > "$CONFIG_DIR/kiosk.env"
elif [ -n "$CLOUD_URL" ]; then
    sed -i "s#^JARVIS_KIOSK_CLOUD__URL=.*#JARVIS_KIOSK_CLOUD__URL=${CLOUD_URL}#" "$CONFIG_DIR/kiosk.env"
fi
chown root:"$USER_NAME" "$CONFIG_DIR/kiosk.env"
chmod 0640 "$CONFIG_DIR/kiosk.env"
install -d -m 0700 -o "$USER_NAME" -g "$USER_NAME" "$STATE_DIR"

say "badge reader: udev rule, pcscd"
install -m 0644 "$SRC/systemd/70-jarvis-badge.rules" /etc/udev/rules.d/70-jarvis-badge.rules
udevadm control --reload || true
udevadm trigger --subsystem-match=input || true
# The ACR122U is held by the kernel's NFC driver unless it is blacklisted.
printf 'blacklist pn533_usb\nblacklist pn533\nblacklist nfc\n' > /etc/modprobe.d/blacklist-pn533.conf
install -d -m 0755 /etc/polkit-1/rules.d
cat > /etc/polkit-1/rules.d/50-jarvis-pcsc.rules <<'POLKIT'
// Installed by systemd/install.sh: the kiosk's service may use the PC/SC reader.
polkit.addRule(function(action, subject) {
  if ((action.id == "org.debian.pcsc-lite.access_pcsc" ||
       action.id == "org.debian.pcsc-lite.access_card") && subject.user == "jarvis-kiosk")
    return polkit.Result.YES;
});
POLKIT
systemctl enable --now pcscd.socket >/dev/null 2>&1 || true

say "systemd unit"
install -m 0644 "$SRC/systemd/jarvis-kiosk.service" /etc/systemd/system/jarvis-kiosk.service
systemctl daemon-reload
systemctl enable jarvis-kiosk.service >/dev/null
if [ -f "$STATE_DIR/credential.json" ]; then
    systemctl restart jarvis-kiosk.service
    say "done: the agent was restarted; check it with: sudo jarvis-kiosk status"
else
    systemctl start jarvis-kiosk.service
    say "done. Next: provision this kiosk with the code from the gym's manager:"
    echo "    sudo jarvis-kiosk provision${CLOUD_URL:+ --cloud-url $CLOUD_URL}"
    echo "then check it:  sudo jarvis-kiosk status   (and, agent stopped, sudo jarvis-kiosk doctor)"
fi
