#!/usr/bin/env bash
# Reach Plano in a stack without a load balancer (plano:ingress = none): forward a local port to
# the listener inside one running task through SSM Session Manager (ECS Exec is enabled for such
# stacks). Needs the AWS CLI v2 and the Session Manager plugin.
#
#   scripts/port-forward.sh [--region REGION] CLUSTER SERVICE [PORT] [LOCAL_PORT]
#   (the stack output `port_forward_command` has the right arguments, the stack's region included;
#   without --region the AWS CLI's default region applies)
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
    echo "no running task in service $service of cluster $cluster (see its events: aws ecs describe-services)" >&2
    exit 1
fi
runtime=$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" \
    --query "tasks[0].containers[?name=='plano'].runtimeId | [0]" --output text "${region_args[@]}")
echo "forwarding localhost:$local_port -> task ${task##*/} port $port (Ctrl-C to stop)" >&2
exec aws ssm start-session \
    --target "ecs:${cluster}_${task##*/}_${runtime}" \
    --document-name AWS-StartPortForwardingSession \
    --parameters "{\"portNumber\":[\"$port\"],\"localPortNumber\":[\"$local_port\"]}" "${region_args[@]}"
