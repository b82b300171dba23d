#!/usr/bin/env bash
# Fail unless STACK's ECS service reached a steady state on the task definition Pulumi deployed,
# and (when the stack has a load balancer the runner can reach) /healthz answers through it.
#
#   scripts/ci/wait-stable.sh STACK
#
# `pulumi up` returns as soon as ECS accepted the new task definition (wait_for_steady_state is
# off: with prod's deregistration delay a deploy takes minutes); tasks that never become healthy
# are rolled back by the deployment circuit breaker, which also ends "stable". So this checks
# that the service is stable, that its primary deployment is COMPLETED, and that it runs the task
# definition of this stack's state, not a rolled-back one.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 STACK" >&2; exit 2; }
stack="$1"
outputs=$(pulumi stack output --json --stack "$stack")
cluster=$(jq -r '.cluster_name' <<<"$outputs")
service=$(jq -r '.service_name' <<<"$outputs")
wanted=$(jq -r '.task_definition_arn // empty' <<<"$outputs")
region=$(pulumi config get aws:region --stack "$stack")
# A provider key whose secret has no value keeps every task from starting (ECS cannot resolve the
# secret), and waiting would take 40 minutes to say nothing: fail now, naming the key and the fix.
missing=()
for name in $(jq -r '.provider_keys_external // [] | .[]' <<<"$outputs"); do
    arn=$(jq -r --arg n "$name" '.provider_key_secret_arns[$n] // empty' <<<"$outputs")
    [ -n "$arn" ] || continue
    if ! described=$(aws secretsmanager describe-secret --region "$region" --secret-id "$arn" --output json); then
        echo "::warning::could not check whether $name has a value (secretsmanager:DescribeSecret)"
        continue
    fi
    if [ "$(jq '[.VersionIdsToStages // {} | .[][] | select(. == "AWSCURRENT")] | length' <<<"$described")" = 0 ]; then
        missing+=("$name")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "::error::$stack's provider key ${missing[*]} has no value in Secrets Manager, so no Plano task can start; fill it: pulumi stack output provider_key_fill_commands --stack $stack | bash (reads \$${missing[0]} from your shell), then pulumi stack output redeploy_command --stack $stack | bash (review stacks: add the repository secret ${missing[*]})"
    exit 1
fi
# `aws ecs wait services-stable` gives up after 40 polls of 15 s; a prod deploy drains old tasks
# for the deregistration delay (up to the longest stream), so allow a few rounds.
for attempt in 1 2 3 4; do
    if aws ecs wait services-stable --region "$region" --cluster "$cluster" --services "$service"; then
        break
    fi
    if [ "$attempt" = 4 ]; then
        echo "::error::$cluster/$service did not become stable in 40 minutes"
        exit 1
    fi
done
read -r state task_definition reason < <(aws ecs describe-services --region "$region" --cluster "$cluster" \
    --services "$service" --output text \
    --query 'services[0].deployments[?status==`PRIMARY`] | [0].[rolloutState, taskDefinition, rolloutStateReason]')
if [ "$state" != "COMPLETED" ] || { [ -n "$wanted" ] && [ "$task_definition" != "$wanted" ]; }; then
    echo "::error::$cluster/$service is not running this deploy: rollout $state on $task_definition (wanted $wanted): $reason"
    aws ecs describe-services --region "$region" --cluster "$cluster" --services "$service" \
        --query 'services[0].events[:10].[createdAt, message]' --output text || true
    exit 1
fi
echo "wait-stable: $cluster/$service is stable on $task_definition"

url=$(jq -r '.endpoint_url // empty' <<<"$outputs")
# Without a load balancer the stack outputs a port_forward_command instead of a public endpoint.
if [[ "$url" =~ ^https?:// ]] && ! jq -e 'has("port_forward_command")' <<<"$outputs" >/dev/null; then
    # Plano's /healthz comes from Envoy itself: this proves the load balancer reaches healthy tasks.
    # An HTTP error fails the deploy; no answer at all means the load balancer does not admit this
    # runner (internal, or plano:allowedCidrs), and the ECS checks above have to do.
    code=0
    curl -fsS -o /dev/null --max-time 10 --retry 5 --retry-delay 6 "$url/healthz" || code=$?
    case "$code" in
        0) echo "wait-stable: $url/healthz answers" ;;
        22) echo "::error::$url/healthz answers with an HTTP error"; exit 1 ;;
        *) echo "::warning::$url is not reachable from this runner (curl exit $code); /healthz not checked" ;;
    esac
else
    echo "wait-stable: no load balancer ($url); the service's own health checks decided"
fi
