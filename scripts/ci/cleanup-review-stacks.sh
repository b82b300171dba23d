#!/usr/bin/env bash
# Destroy and remove review stacks (`pr-<number>`) not updated for MAX_AGE_DAYS days.
#
#   [DRY_RUN=true] scripts/ci/cleanup-review-stacks.sh MAX_AGE_DAYS
#
# Ages come from `pulumi stack ls --json` (lastUpdate). Stacks with an update in progress, or
# without any update yet, are left alone. Every stale stack is attempted; the exit status is 1 if
# any of them failed (a stack locked by a running `pulumi up` fails and is retried next time).
# Then, on every run, the review databases on dev's server whose stacks no longer exist are dropped
# (scripts/ci/drop-review-databases.sh): a destroy that died halfway leaves nothing for long.
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
failed=0
# Review databases of stacks that are gone (runs whatever happened above; dry runs only say so).
drop_orphans() {
    if [ "${DRY_RUN:-false}" = true ]; then
        echo "cleanup-review-stacks: would drop the review databases of stacks that no longer exist"
    elif scripts/ci/drop-review-databases.sh; then
        echo "- review databases of removed stacks: dropped" >>"$summary"
    else
        failed=1
        echo "::error::could not drop the review databases of removed stacks"
        echo "- review databases of removed stacks: **drop failed**" >>"$summary"
    fi
}

if [ -z "$stale" ]; then
    echo "cleanup-review-stacks: no review stack older than $max_age days"
    echo "None." >>"$summary"
    drop_orphans
    exit "$failed"
fi

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
drop_orphans
exit "$failed"
