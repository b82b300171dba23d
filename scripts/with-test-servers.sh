#!/usr/bin/env bash
# Run a command with the integration test servers provided: `make test` and `make bench` use it.
#
#   scripts/with-test-servers.sh [--or-skip] [--docker] COMMAND [ARGS...]
#
# Runs scripts/ensure-test-servers.sh and exports PLANO_PGBOUNCER (the binary it provides), then
# runs COMMAND. With --docker it also runs scripts/ensure-test-images.sh (Debian's docker.io and
# debootstrap, the Docker engine tests' images) and exports PLANO_TEST_ROOTFS; when that fails,
# CI=true fails, elsewhere PLANO_DOCKER_SKIP_REASON says why and the Docker tests skip.
# When the servers cannot be provided (no apt, no sudo, a held apt lock, no network):
#   - without --or-skip, or when CI=true: exit non-zero. CI cannot pass by skipping tests.
#   - with --or-skip on a workstation: run COMMAND anyway with PLANO_TEST_SERVERS_SKIP_REASON set;
#     the integration tests skip and pytest ends with a banner saying why and how to get them.
set -uo pipefail
cd "$(dirname "$0")/.."

or_skip=false
docker=false
if [ "${1:-}" = "--or-skip" ]; then or_skip=true; shift; fi
if [ "${1:-}" = "--docker" ]; then docker=true; shift; fi
[ $# -gt 0 ] || { echo "usage: $0 [--or-skip] [--docker] COMMAND [ARGS...]" >&2; exit 64; }
unset PLANO_TEST_ROOTFS
export PLANO_DOCKER_SKIP_REASON="not requested (scripts/with-test-servers.sh --docker provides them)"

if output=$(scripts/ensure-test-servers.sh); then
    PLANO_PGBOUNCER=$(tail -1 <<<"$output")
    export PLANO_PGBOUNCER
    unset PLANO_TEST_SERVERS_SKIP_REASON
    if [ "$docker" = true ]; then
        if images=$(scripts/ensure-test-images.sh "$PLANO_PGBOUNCER"); then
            PLANO_TEST_ROOTFS=$(tail -1 <<<"$images")
            export PLANO_TEST_ROOTFS
            unset PLANO_DOCKER_SKIP_REASON
        else
            status=$?
            reason="scripts/ensure-test-images.sh failed (exit $status; its messages are above)"
            if [ "${CI:-}" = "true" ]; then
                echo "with-test-servers: $reason. CI=true: failing instead of skipping the Docker engine tests." >&2
                exit 1
            fi
            echo "with-test-servers: $reason; the Docker engine tests will SKIP (see the banner at the end)." >&2
            export PLANO_DOCKER_SKIP_REASON="$reason"
        fi
    fi
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
    export PLANO_DOCKER_SKIP_REASON="$reason"
    unset PLANO_PGBOUNCER
fi
exec "$@"
