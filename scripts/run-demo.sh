#!/usr/bin/env bash
# From a fresh Debian machine to a running gateway on 127.0.0.1:8080 with two
# simulated SIMs (real gammu-smsd daemons on Gammu's dummy phone). Safe to run
# again: what exists is kept. Ctrl-C (or SIGINT/SIGTERM to this script) stops
# the gateway and the daemons.
# Env: HOST (127.0.0.1), PORT (8080), SMSBRIDGE_DATABASE_URL, SMSBRIDGE_STATE_DIR,
# SMSBRIDGE_SMSDRC_DIR, and everything scripts/bootstrap.sh reads.
set -euo pipefail
# shellcheck source=scripts/bootstrap.sh
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$REPO"

export SMSBRIDGE_DATABASE_URL="${SMSBRIDGE_DATABASE_URL:-mysql+pymysql://root@localhost/smsbridge?unix_socket=/run/mysqld/mysqld.sock}"
export SMSBRIDGE_STATE_DIR="${SMSBRIDGE_STATE_DIR:-$REPO/var}"
export SMSBRIDGE_SMSDRC_DIR="${SMSBRIDGE_SMSDRC_DIR:-$REPO/gammu-smsdrc}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8080}"
sb() { "$VENV/bin/smsbridge" "$@"; }
mkdir -p "$SMSBRIDGE_STATE_DIR"
demo_env="$SMSBRIDGE_STATE_DIR/demo.env"

sb db init
if [ ! -f "$demo_env" ]; then
  password="$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(12))')"
  printf '%s\n' "$password" | sb user add demo --admin --password-stdin
  key="$(sb user token demo | awk '{print $NF}')"
  umask 077
  printf 'DEMO_PASSWORD=%s\nDEMO_KEY=%s\n' "$password" "$key" > "$demo_env"
fi
# shellcheck disable=SC1090
source "$demo_env"
for n in 1 2; do
  [ -f "$SMSBRIDGE_SMSDRC_DIR/demo-sim$n" ] || sb sim add "demo-sim$n" --number "+7999000000$n" --simulated
done
sb smsd start demo-sim1 demo-sim2
trap 'sb smsd stop demo-sim1 demo-sim2 >/dev/null' EXIT
url="http://$HOST:$PORT"

cat <<MSG

smsbridge is starting on $url (user demo; secrets in $demo_env)
Send through the classic URL:
  curl '$url/smsc?login=demo&pass=$DEMO_PASSWORD&tel=%2B79991234567,%2B79991234568&msg=Hello+from+smsbridge'
or the JSON API:
  curl -H 'Authorization: Bearer $DEMO_KEY' -H 'Content-Type: application/json' \\
       -d '{"to": ["+79991234567"], "text": "Hello from smsbridge"}' $url/api/v1/messages
Then follow a message by an id from the answer (ID below):
  curl -H 'Authorization: Bearer $DEMO_KEY' $url/api/v1/messages/ID
Web admin: $url/admin/  (login demo, password $DEMO_PASSWORD)
SIMs: $VENV/bin/smsbridge sim list      Stop: Ctrl-C

MSG
# In the background, so that a signal to this script alone (not only Ctrl-C to
# the whole process group) stops the gateway: bash runs a trap only once its
# foreground child has exited, but it interrupts `wait` at once.
"$VENV/bin/smsbridge" run --host "$HOST" --port "$PORT" &   # not `sb`: a function would run in a subshell
gateway=$!
trap 'kill -TERM "$gateway" 2>/dev/null' INT TERM
status=0
while kill -0 "$gateway" 2>/dev/null; do
  wait "$gateway" || status=$?
done
exit "$status"
