#!/usr/bin/env bash
# Destroy a stack, but refuse (before anything is deleted) while other stacks use its network.
#
#   scripts/destroy-stack.sh STACK [pulumi destroy options, e.g. --yes --remove]
#
# Review stacks (pr-<number>) put security groups, their database and their tasks' network
# interfaces into the VPC of the stack they share (REVIEW_NETWORK_STACK, default dev). A plain
# `pulumi destroy --stack dev` would then delete dev's database and service first and fail on the
# subnets and the VPC, which AWS refuses to delete while another stack's interfaces are in them.
# So this script compares STACK's `vpc_id` output with every other stack's of this project
# (`pulumi stack ls`, `pulumi stack output`) and, if any matches, stops with one line naming
# them and how to end them. A stack that adopts a VPC (plano:vpcId set) or is a review stack does
# not own its network and is destroyed without the check. Needs the Pulumi CLI and jq.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 STACK [pulumi destroy options]" >&2; exit 2; }
stack="$1"
shift

short() { printf '%s\n' "${1##*/}"; }
vpc_of() { pulumi stack output vpc_id --stack "$1" 2>/dev/null || true; }

owns_network() {
    [[ "$(short "$stack")" =~ ^pr-[0-9]+$ ]] && return 1  # review stacks always share one
    # An adopted VPC belongs to someone else (a stack without a config file here reads as unset).
    [ -z "$(pulumi config get plano:vpcId --stack "$stack" 2>/dev/null || true)" ]
}

if owns_network; then
    vpc="$(vpc_of "$stack")"
    if [[ "$vpc" =~ ^vpc-[0-9a-f]+$ ]]; then
        users=()
        while read -r other; do
            if [ -n "$other" ] && [ "$(short "$other")" != "$(short "$stack")" ] &&
                [ "$(vpc_of "$other")" = "$vpc" ]; then
                users+=("$(short "$other")")
            fi
        done < <(pulumi stack ls --json | jq -r '.[].name')
        if [ "${#users[@]}" -gt 0 ]; then
            ends=""
            for user in "${users[@]}"; do
                ends+="${ends:+ && }pulumi destroy --yes --remove --stack $user"
            done
            echo "destroy-stack: $stack's network ($vpc) is used by ${users[*]}: nothing was deleted; end them first (close their pull requests, or: $ends), then run this again" >&2
            exit 1
        fi
    fi
fi
exec pulumi destroy --stack "$stack" "$@"
