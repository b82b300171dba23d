#!/usr/bin/env bash
# Run a command with the integration test servers provided: `make test` and `make bench` use it.
#
#   scripts/with-test-servers.sh [--or-skip] COMMAND [ARGS...]
#
# Runs scripts/ensure-test-servers.sh and exports PLANO_PGBOUNCER (the binary it provides), then
# runs COMMAND. When the servers cannot be provided (no apt, no sudo, a held apt lock, no network):
#   - without --or-skip, or when CI=true: exit non-zero. CI cannot pass by skipping tests.
#   - with --or-skip on a workstation: run COMMAND anyway with PLANO_TEST_SERVERS_SKIP_REASON set;
#     the integration tests skip and pytest ends with a banner saying why and how to get them.
set -uo pipefail
cd "$(dirname "$0")/.."

or_skip=false
if [ "${1:-}" = "--or-skip" ]; then or_skip=true; shift; fi
[ $# -gt 0 ] || { echo "usage: $0 [--or-skip] COMMAND [ARGS...]" >&2; exit 64; }

if output=$(scripts/ensure-test-servers.sh); then
    PLANO_PGBOUNCER=$(tail -1 <<<"$output")
    export PLANO_PGBOUNCER
    unset PLANO_TEST_SERVERS_SKIP_REASON
else
    status=$?
    reason="scripts/ensure-test-servers.sh failed (exit $status; its messages are above)"
    if [ "${CI:-}" = "true" ]; then
        echo "with-test-servers: $reason. CI=true: failing instead of skipping the integration tests." >&2
        exit 1
    fi
    if [ "$or_skip" != true ]; then
        echo "with-test-servers: $reason." >&2
        exit 1
    fi
    echo "with-test-servers: $reason; the integration tests will SKIP (see the banner at the end)." >&2
    export PLANO_TEST_SERVERS_SKIP_REASON="$reason"
    unset PLANO_PGBOUNCER
fi
exec "$@"
