#!/usr/bin/env bash
# Checks before any Pulumi command in CI, and the facts later steps need.
#
#   scripts/ci/pulumi-prepare.sh [STACK]
#
# - The state backend's credentials are present: a self-managed backend (PULUMI_BACKEND_URL =
#   s3://..., gs://, azblob://, file://) needs PULUMI_CONFIG_PASSPHRASE (an empty passphrase would
#   silently become the stack's passphrase); Pulumi Cloud (PULUMI_BACKEND_URL empty) needs
#   PULUMI_ACCESS_TOKEN.
# - Step outputs (under GitHub Actions): `policy_packs` = "policy" when the policy pack directory
#   exists (pass it to --policy-pack), else empty; with STACK, `exists` = true/false and
#   `policy_pack_configs` = policy/config/STACK.json when that file exists (prod holds the pack to
#   the prod rules whatever the stack's tags say), else empty.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "::error::$*" >&2; exit 1; }

backend="${PULUMI_BACKEND_URL:-}"
case "$backend" in
    s3://* | gs://* | azblob://* | file://*)
        [ -n "${PULUMI_CONFIG_PASSPHRASE:-}" ] ||
            fail "PULUMI_BACKEND_URL is a self-managed backend ($backend): set the repository secret PULUMI_CONFIG_PASSPHRASE"
        echo "pulumi-prepare: state in $backend, secrets encrypted with the passphrase" >&2
        ;;
    "")
        [ -n "${PULUMI_ACCESS_TOKEN:-}" ] ||
            fail "no state backend: set the repository variable PULUMI_BACKEND_URL (e.g. s3://bucket) or the secret PULUMI_ACCESS_TOKEN (Pulumi Cloud)"
        echo "pulumi-prepare: state in Pulumi Cloud" >&2
        ;;
    *)
        [ -n "${PULUMI_ACCESS_TOKEN:-}" ] || fail "PULUMI_BACKEND_URL=$backend needs the secret PULUMI_ACCESS_TOKEN"
        echo "pulumi-prepare: state in $backend" >&2
        ;;
esac

out="${GITHUB_OUTPUT:-/dev/null}"
if [ -f policy/PulumiPolicy.yaml ]; then
    echo "policy_packs=policy" >>"$out"
    echo "pulumi-prepare: policy pack policy/ is enforced" >&2
else
    echo "policy_packs=" >>"$out"
fi

if [ $# -ge 1 ] && [ -f "policy/config/$1.json" ] && [ -f policy/PulumiPolicy.yaml ]; then
    echo "policy_pack_configs=policy/config/$1.json" >>"$out"
else
    echo "policy_pack_configs=" >>"$out"
fi

if [ $# -ge 1 ]; then
    stack="$1"
    if pulumi stack ls --json | jq -e --arg s "$stack" 'any(.[]; .name == $s or (.name | endswith("/" + $s)))' >/dev/null; then
        echo "exists=true" >>"$out"
    else
        echo "exists=false" >>"$out"
        echo "pulumi-prepare: stack $stack does not exist yet" >&2
    fi
fi
