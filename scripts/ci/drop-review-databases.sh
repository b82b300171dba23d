#!/usr/bin/env bash
# Drop the review databases (and their roles) of review stacks that no longer exist.
#
#   scripts/ci/drop-review-databases.sh
#
# Review stacks keep their database on the dev stack's server (docs/review-environments.md). This
# runs the dev stack's janitor, a one-off ECS task in dev's cluster (its output `review_janitor`),
# as dev's provisioning role, telling it which review databases to keep: those of every `pr-<n>`
# stack that exists now. Everything else with the review mark is dropped, so a destroy that died
# halfway (stack removed, database left, or the other way round) is cleaned up by the next run.
# It never drops dev's database or roles (the janitor only matches review names, owned by their
# own role). Needs the Pulumi CLI, jq, the AWS CLI and the same credentials as review-stack.sh.
# REVIEW_NETWORK_STACK (default dev) is the stack whose server the review stacks share; PYTHON
# (default .venv/bin/python) an interpreter with this repository's package installed.
set -euo pipefail
cd "$(dirname "$0")/../.."

server="${REVIEW_NETWORK_STACK:-dev}"
python="${PYTHON:-.venv/bin/python}"

if ! janitor="$(pulumi stack output --json --stack "$server" | jq -ce '.review_janitor // empty')"; then
    echo "::error::drop-review-databases: stack $server has no review_janitor output (plano:dbReviewStacks is 0, or it is not deployed)" >&2
    exit 1
fi
field() { jq -r "$1" <<<"$janitor"; }
region="$(field .region)"
cluster="$(field .cluster)"
prefix="$(field .database_prefix)"

# The live review stacks, listed before the janitor starts: a stack created meanwhile has no
# database yet, or its next task start creates it again (the init step is idempotent).
live="$(pulumi stack ls --json | jq -r '.[] | .name | select(test("(^|/)pr-[0-9]+$")) | sub(".*/"; "")')"
# shellcheck disable=SC2086  # one argument per stack name
keep="$("$python" -m plano_pulumi.core.review_database "$prefix" $live)"
echo "drop-review-databases: keeping the databases of: ${live//$'\n'/ }"

network="$(jq -c '{awsvpcConfiguration: {subnets: .subnets, securityGroups: .security_groups,
    assignPublicIp: (if .assign_public_ip then "ENABLED" else "DISABLED" end)}}' <<<"$janitor")"
overrides="$(jq -nc --arg c "$(field .container)" --arg keep "$keep" \
    '{containerOverrides: [{name: $c, environment: [{name: "KEEP_DATABASES", value: $keep}]}]}')"
task="$(aws ecs run-task --region "$region" --cluster "$cluster" --task-definition "$(field .task_definition)" \
    --launch-type FARGATE --count 1 --network-configuration "$network" --overrides "$overrides" \
    --started-by review-janitor --query 'tasks[0].taskArn' --output text)"
if [ -z "$task" ] || [ "$task" = None ]; then
    echo "::error::drop-review-databases: ECS did not start the janitor in $cluster" >&2
    exit 1
fi
aws ecs wait tasks-stopped --region "$region" --cluster "$cluster" --tasks "$task"
code="$(aws ecs describe-tasks --region "$region" --cluster "$cluster" --tasks "$task" \
    --query 'tasks[0].containers[0].exitCode' --output text)"
if [ "$code" != 0 ]; then
    echo "::error::drop-review-databases: the janitor exited with '$code' (its log: stream prefix janitor/ in $server's log group)" >&2
    exit 1
fi
echo "drop-review-databases: done ($task)"
