#!/usr/bin/env bash
# Take a Debian 12 machine to where smsbridge can run: system packages, a
# reachable MariaDB, a virtualenv with the project. Idempotent: when nothing is
# missing it calls neither apt-get nor pip. Run it or source it; either way the
# steps run in a subshell, so `set -euo pipefail` and `exit` cannot leak into a
# sourcing caller, which is left with REPO and VENV set.
# Env: SMSBRIDGE_VENV, SMSBRIDGE_DB_SOCKET, SMSBRIDGE_SKIP_APT=1 (packages by hand),
# SMSBRIDGE_FOR_TESTS=1 (also what only the tests need: chromium, pytest, playwright).

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SMSBRIDGE_VENV:-$REPO/.venv}"

smsbridge_bootstrap() (
  set -euo pipefail
  SOCK="${SMSBRIDGE_DB_SOCKET:-/run/mysqld/mysqld.sock}"
  PIDFILE="${SOCK%.sock}.pid"
  LOG=/var/log/mysql/smsbridge-bootstrap.log
  SKIP_APT="${SMSBRIDGE_SKIP_APT:-0}"
  say() { echo "bootstrap: $*"; }
  die() { echo "bootstrap: ERROR: $*" >&2; exit 1; }
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  # Tool chatter (apt, pip warnings) is only worth seeing when a step fails.
  quiet() {
    local log rc=0; log="$(mktemp)"
    "$@" >"$log" 2>&1 || { rc=$?; cat "$log" >&2; }
    rm -f "$log"; return "$rc"
  }
  # shellcheck disable=SC2016  # ${Status} is a dpkg-query field, not a shell variable
  installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
  apt_updated=0
  apt_install() {
    local pkg missing=()
    for pkg in "$@"; do installed "$pkg" || missing+=("$pkg"); done
    [ ${#missing[@]} -gt 0 ] || return 0
    say "installing ${missing[*]}"
    [ "$apt_updated" = 1 ] || quiet as_root apt-get update || die "apt-get update failed"
    apt_updated=1
    quiet as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y --no-install-recommends "${missing[@]}" || die "apt-get install failed"
  }
  db_ping() {
    local tool
    for tool in mariadb-admin mysqladmin; do
      command -v "$tool" >/dev/null || continue
      # ping exits 0 even on "Access denied", so no sudo is needed just to probe.
      "$tool" --user=root --socket="$SOCK" --connect-timeout=2 ping >/dev/null 2>&1 && return 0
    done
    return 1
  }

  # 1. System packages.
  if [ "$SKIP_APT" != 1 ]; then
    pkgs=(gammu-smsd gammu curl)
    # chromium (+ a font for its screenshots): the admin's browser tests only;
    # a box that just runs the gateway does not need a browser. Playwright
    # drives it through a node binary of its own that links libatomic, which
    # minimal Debian images lack.
    [ "${SMSBRIDGE_FOR_TESTS:-0}" != 1 ] || pkgs+=(chromium fonts-dejavu-core libatomic1)
    # Debian's python3 passes `venv --help` without python3-venv; a missing ensurepip tells.
    { python3 -m venv --help && python3 -c 'import ensurepip'; } >/dev/null 2>&1 || pkgs+=(python3-venv)
    apt_install "${pkgs[@]}"
  fi

  # 2. MariaDB.
  if db_ping; then
    say "mariadb reachable at $SOCK"
  else
    [ "$SKIP_APT" = 1 ] || apt_install mariadb-server mariadb-client
    [ -x /usr/sbin/mariadbd ] || die "mariadb-server is not installed and SMSBRIDGE_SKIP_APT=1"
    say "starting mariadb"
    if [ -d /run/systemd/system ]; then
      as_root systemctl start mariadb
    else
      # No init system (container, CI): nobody else makes the runtime dir or data dir.
      as_root install -d -o mysql -g mysql /run/mysqld
      if ! as_root test -d /var/lib/mysql/mysql; then
        quiet as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql \
          || die "mariadb-install-db failed"
      fi
      # Debian's stock my.cnf leaves the user to systemd; mariadbd refuses to run as root.
      # Whether ours runs is decided by its pid file, never by "a process called
      # mariadbd exists": another instance on another socket is not ours.
      as_root install -d -o mysql -g mysql "$(dirname "$LOG")"
      as_root start-stop-daemon --start --quiet --oknodo --background \
        --pidfile "$PIDFILE" --exec /usr/sbin/mariadbd --output "$LOG" \
        -- --user=mysql --socket="$SOCK" --pid-file="$PIDFILE"
    fi
    waited=0
    until db_ping; do
      if [ "$waited" -ge 120 ]; then
        if [ -d /run/systemd/system ]; then
          echo "--- see: journalctl -u mariadb" >&2
        elif [ -s "$LOG" ]; then
          { echo "--- last lines of $LOG:"; tail -n 15 "$LOG"; } >&2
        fi
        die "mariadb not answering on $SOCK after 60 s (wrong SMSBRIDGE_DB_SOCKET?)"
      fi
      sleep 0.5; waited=$((waited + 1))
    done
    say "mariadb started"
  fi

  # 3. Python virtualenv with the project (editable) and its test extras.
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || die "python3 >= 3.11 required, found: $(python3 --version 2>&1 || echo none)"
  [ -f "$REPO/pyproject.toml" ] || die "$REPO/pyproject.toml not found"
  # Checking for pip, not the dir, also repairs a venv left half-made by a failed run.
  if [ ! -x "$VENV/bin/pip" ]; then
    say "creating virtualenv $VENV"
    quiet python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
  fi
  # Reinstall only when pyproject.toml (the dependencies) or the extras changed;
  # one stamp per kind of install, so the demo and the tests do not undo each other.
  target="$REPO"; [ "${SMSBRIDGE_FOR_TESTS:-0}" != 1 ] || target="${REPO}[test]"
  stamp="$VENV/.installed-$(cat "$REPO/pyproject.toml" - <<<"$target" | sha256sum | cut -d' ' -f1)"
  if [ ! -e "$stamp" ]; then
    say "installing smsbridge${target#"$REPO"} into $VENV"
    quiet "$VENV/bin/python" -m pip install -q -e "$target" || die "pip install failed"
    touch "$stamp"
  fi

  say "ready (venv: $VENV)"
)

# Executed: its status becomes the script's. Sourced: hand a failure back to the caller.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then smsbridge_bootstrap; else smsbridge_bootstrap || return; fi
