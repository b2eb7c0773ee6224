#!/usr/bin/env bash
# Run the whole test suite against a real MariaDB and real gammu-smsd daemons,
# installing and starting what is missing first. Extra arguments go to pytest.
set -euo pipefail
export SMSBRIDGE_FOR_TESTS=1
# shellcheck source=scripts/bootstrap.sh
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$REPO"
exec "$VENV/bin/python" -m pytest "$@"
