#!/usr/bin/env bash
# Destroy and remove review stacks (`pr-<number>`) not updated for MAX_AGE_DAYS days.
#
#   [DRY_RUN=true] scripts/ci/cleanup-review-stacks.sh MAX_AGE_DAYS
#
# Ages come from `pulumi stack ls --json` (lastUpdate). Stacks with an update in progress, or
# without any update yet, are left alone. Every stale stack is attempted; the exit status is 1 if
# any of them failed (a stack locked by a running `pulumi up` fails and is retried next time).
# Same environment as review-stack.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

[ $# -eq 1 ] || { echo "usage: [DRY_RUN=true] $0 MAX_AGE_DAYS" >&2; exit 2; }
max_age="$1"
[[ "$max_age" =~ ^[0-9]+$ ]] || { echo "::error::MAX_AGE_DAYS must be a whole number of days, got '$max_age'"; exit 2; }

cutoff=$(($(date -u +%s) - max_age * 86400))
# lastUpdate looks like 2026-11-25T07:48:48.000Z (RFC 5424, UTC).
stale=$(pulumi stack ls --json | jq -r --argjson cutoff "$cutoff" '
    .[]
    | select(.name | test("(^|/)pr-[0-9]+$"))
    | select(.lastUpdate != null and (.updateInProgress | not))
    | select((.lastUpdate | sub("\\.[0-9]+"; "") | fromdateiso8601) < $cutoff)
    | .name')

summary="${GITHUB_STEP_SUMMARY:-/dev/null}"
echo "### Review stacks older than $max_age days" >>"$summary"
if [ -z "$stale" ]; then
    echo "cleanup-review-stacks: no review stack older than $max_age days"
    echo "None." >>"$summary"
    exit 0
fi

failed=0
for stack in $stale; do
    if [ "${DRY_RUN:-false}" = true ]; then
        echo "cleanup-review-stacks: would destroy and remove $stack"
        echo "- \`$stack\`: would be destroyed (dry run)" >>"$summary"
    elif pulumi destroy --yes --non-interactive --remove --stack "$stack"; then
        echo "- \`$stack\`: destroyed and removed" >>"$summary"
    else
        failed=1
        echo "::error::could not destroy $stack"
        echo "- \`$stack\`: **destroy failed**" >>"$summary"
    fi
done
exit "$failed"
