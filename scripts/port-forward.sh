#!/usr/bin/env bash
# Reach Plano in a stack without a load balancer (plano:ingress = none): forward a local port to
# the listener inside one running task through SSM Session Manager (ECS Exec is enabled for such
# stacks). Needs the AWS CLI v2 and the Session Manager plugin.
#
#   scripts/port-forward.sh [--region REGION] CLUSTER SERVICE [PORT] [LOCAL_PORT]
#   (the stack output `port_forward_command` has the right arguments, the stack's region included;
#   without --region the AWS CLI's default region applies)
#
# It holds the terminal until Ctrl-C: send requests from a second terminal. The path is relative
# to the repository's root, so run `$(pulumi stack output port_forward_command)` there (or call
# the script by its full path from anywhere). When no task runs because the stack is asleep
# (plano:activeHours), it says so and points at the stack's `wake_command` output.
set -euo pipefail
region_args=()
if [ "${1:-}" = "--region" ]; then
    [ -n "${2:-}" ] || { echo "$0: --region needs a region" >&2; exit 2; }
    region_args=(--region "$2")
    shift 2
fi
if [ $# -lt 2 ]; then
    echo "usage: $0 [--region REGION] CLUSTER SERVICE [PORT] [LOCAL_PORT]" >&2
    exit 2
fi
cluster=$1
service=$2
port=${3:-12000}
local_port=${4:-$port}

task=$(aws ecs list-tasks --cluster "$cluster" --service-name "$service" --desired-status RUNNING \
    --query 'taskArns[0]' --output text "${region_args[@]}")
if [ -z "$task" ] || [ "$task" = "None" ]; then
    desired=$(aws ecs describe-services --cluster "$cluster" --services "$service" \
        --query 'services[0].desiredCount' --output text "${region_args[@]}" || true)
    if [ "$desired" = 0 ]; then
        echo "no task runs in $cluster/$service: it is asleep outside plano:activeHours (0 tasks). Wake it with the stack's wake_command output, \$(pulumi stack output wake_command), wait about a minute for the task, then run this again" >&2
    else
        echo "no running task in service $service of cluster $cluster yet (desired: ${desired:-unknown}; starting, or failing: aws ecs describe-services --cluster $cluster --services $service --query 'services[0].events[:5]' ${region_args[*]})" >&2
    fi
    exit 1
fi
runtime=$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" \
    --query "tasks[0].containers[?name=='plano'].runtimeId | [0]" --output text "${region_args[@]}")
echo "forwarding localhost:$local_port -> task ${task##*/} port $port (Ctrl-C to stop; send requests from a second terminal, e.g. curl http://localhost:$local_port/healthz)" >&2
exec aws ssm start-session \
    --target "ecs:${cluster}_${task##*/}_${runtime}" \
    --document-name AWS-StartPortForwardingSession \
    --parameters "{\"portNumber\":[\"$port\"],\"localPortNumber\":[\"$local_port\"]}" "${region_args[@]}"
