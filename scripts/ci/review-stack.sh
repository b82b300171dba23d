#!/usr/bin/env bash
# Review stacks: `pr-<number>` with the dev profile, one per pull request.
#
#   scripts/ci/review-stack.sh up PR_NUMBER       create or update pr-N from Pulumi.dev.yaml, on dev's
#                                                 network and database server, and wait until the
#                                                 service is stable
#   scripts/ci/review-stack.sh destroy PR_NUMBER  destroy pr-N and remove it, then drop its database
#                                                 on dev's server (nothing left behind)
#
# Needs the Pulumi CLI, AWS credentials and the backend's credentials (see pulumi-prepare.sh), and
# PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=true: the stack's config file never outlives the job, so
# later runs take the secrets provider from the stack's state. POLICY_PACKS (optional) is passed to
# --policy-pack. REVIEW_NETWORK_STACK (default dev) is the stack whose VPC and subnets review stacks
# share (its outputs vpc_id, public_subnet_ids, private_subnet_ids): a review stack creates no VPC,
# subnet, route table, gateway or Elastic IP of its own (docs/review-environments.md). The same
# stack's outputs review_database and provider_key_secret_arns give it its database on that stack's
# server and the provider keys it reads: no database server and no provider-key secret of its own.
set -euo pipefail
cd "$(dirname "$0")/../.."

[ $# -eq 2 ] || { echo "usage: $0 up|destroy PR_NUMBER" >&2; exit 2; }
action="$1"
[[ "$2" =~ ^[0-9]+$ ]] || { echo "review-stack: PR number must be digits, got '$2'" >&2; exit 2; }
stack="pr-$2"

# Any Python with PyYAML: PYTHON when set, else the checkout's .venv (install-deps.sh), else python3.
python="${PYTHON:-}"
[ -n "$python" ] || { [ -x .venv/bin/python ] && python=.venv/bin/python; } || python=python3

stack_exists() {
    pulumi stack ls --json | jq -e --arg s "$stack" 'any(.[]; .name == $s or (.name | endswith("/" + $s)))' >/dev/null
}

# Pulumi.pr-N.yaml gets the `config:` block of Pulumi.dev.yaml (the dev profile and everything the
# pull request changed in it) and keeps its own secrets-provider keys. A dev file with `secure:`
# values needs re-encryption, which only `pulumi config cp` can do (and it needs the dev stack).
copy_dev_config() {
    if grep -q 'secure:' Pulumi.dev.yaml; then
        pulumi config cp --stack dev --dest "$stack"
        return
    fi
    "$python" - "$stack" <<'EOF'
import sys
from pathlib import Path

import yaml

dev = yaml.safe_load(Path("Pulumi.dev.yaml").read_text(encoding="utf-8")) or {}
target = Path(f"Pulumi.{sys.argv[1]}.yaml")
review = (yaml.safe_load(target.read_text(encoding="utf-8")) if target.exists() else None) or {}
review["config"] = dev.get("config") or {}
target.write_text(
    f"# Review stack: a copy of Pulumi.dev.yaml's config, written by scripts/ci/review-stack.sh.\n"
    + yaml.safe_dump(review, sort_keys=False),
    encoding="utf-8",
)
EOF
}

# Sets the review stack's "adopt a VPC" settings from the network stack's outputs. Plain config,
# not a StackReference: the values show in the stack's config, the offline plan and the tests
# use them as they are, and the same validation applies as to any adopted VPC.
share_network() {
    local network="${REVIEW_NETWORK_STACK:-dev}" outputs
    if ! outputs="$(pulumi stack output --json --stack "$network")" ||
        ! jq -e '.vpc_id and (.public_subnet_ids | length >= 2) and (.private_subnet_ids | length >= 2)' \
            <<<"$outputs" >/dev/null; then
        echo "::error::review-stack: stack $network has no vpc_id/public_subnet_ids/private_subnet_ids outputs; deploy it first (pulumi up --stack $network)" >&2
        exit 1
    fi
    pulumi config set --stack "$stack" plano:vpcId "$(jq -r .vpc_id <<<"$outputs")"
    local kind i subnet
    for kind in public private; do
        i=0
        while read -r subnet; do
            pulumi config set --stack "$stack" --path "plano:${kind}SubnetIds[$i]" "$subnet"
            i=$((i + 1))
        done < <(jq -r ".${kind}_subnet_ids[]" <<<"$outputs")
    done
    echo "review-stack: $stack shares the network of $network ($(jq -r .vpc_id <<<"$outputs"))"
}

# Sets plano:sharedDatabase (the review stack's own database on the network stack's server) and
# plano:sharedProviderKeySecretArns (dev's provider keys, read, never copied) from its outputs, and
# refuses a new review stack when the server carries as many as its plano:dbReviewStacks allows.
share_database() {
    local server="${REVIEW_NETWORK_STACK:-dev}" outputs
    outputs="$(pulumi stack output --json --stack "$server")"
    if ! jq -e '.review_database.address and .review_database.provisionerSecretArn' <<<"$outputs" >/dev/null; then
        echo "::error::review-stack: stack $server has no review_database output; set plano:dbReviewStacks above 0 there (PostgreSQL 16+) and deploy it" >&2
        exit 1
    fi
    local max others
    max="$(jq -r '.review_database.maxReviewStacks // 0' <<<"$outputs")"
    others="$(pulumi stack ls --json | jq --arg s "$stack" '[.[] | .name | select(test("(^|/)pr-[0-9]+$")) | sub(".*/"; "") | select(. != $s)] | length')"
    if [ "$others" -ge "$max" ]; then
        echo "::error::review-stack: $server's database carries $max review stacks (plano:dbReviewStacks) and $others exist; destroy one, or raise it on $server (docs/review-environments.md)" >&2
        exit 1
    fi
    local field
    for field in address port securityGroupId provisionerSecretArn; do
        pulumi config set --stack "$stack" --path "plano:sharedDatabase.$field" "$(jq -r --arg f "$field" '.review_database[$f]' <<<"$outputs")"
    done
    local name
    while read -r name; do
        [ -n "$name" ] || continue
        pulumi config set --stack "$stack" --path "plano:sharedProviderKeySecretArns.$name" \
            "$(jq -r --arg n "$name" '.provider_key_secret_arns[$n]' <<<"$outputs")"
    done < <(jq -r '.provider_key_secret_arns // {} | keys[]' <<<"$outputs")
    # A review serves a handful of requests: a quarter vCPU keeps its idle day below 0.15 USD.
    pulumi config set --stack "$stack" plano:cpu "${REVIEW_TASK_CPU:-256}"
    pulumi config set --stack "$stack" plano:memory "${REVIEW_TASK_MEMORY:-1024}"
    echo "review-stack: $stack keeps its database on $server's server and reads $server's provider keys"
}

policy_args=()
[ -z "${POLICY_PACKS:-}" ] || policy_args=(--policy-pack "$POLICY_PACKS")

case "$action" in
    up)
        pulumi stack select --create --non-interactive "$stack"
        copy_dev_config
        share_network
        share_database
        pulumi up --yes --non-interactive --stack "$stack" "${policy_args[@]}"
        # No fill-provider-keys.sh: the stack reads dev's provider-key secrets, filled for dev.
        # Fail the job unless the tasks really run (pulumi up returns before they do).
        scripts/ci/wait-stable.sh "$stack"
        if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
            {
                echo "### Review stack \`$stack\`"
                echo
                echo "| output | value |"
                echo "|---|---|"
                pulumi stack output --json --stack "$stack" |
                    jq -r 'to_entries[] | select(.key | IN("endpoint_url", "port_forward_command", "db_address", "cluster_name"))
                           | "| \(.key) | `\(.value | tostring)` |"'
                echo
                echo "Destroyed when the pull request closes, or after ${REVIEW_STACK_MAX_AGE_DAYS:-3} days without an update."
            } >>"$GITHUB_STEP_SUMMARY"
        fi
        ;;
    destroy)
        if ! stack_exists; then
            echo "review-stack: $stack does not exist (never created, or already removed)"
            scripts/ci/drop-review-databases.sh
            exit 0
        fi
        pulumi destroy --yes --non-interactive --remove --stack "$stack"
        echo "review-stack: destroyed and removed $stack"
        # Its database and roles live on dev's server: drop them (and any a dead run left behind).
        scripts/ci/drop-review-databases.sh
        ;;
    *)
        echo "usage: $0 up|destroy PR_NUMBER" >&2
        exit 2
        ;;
esac
