#!/usr/bin/env bash
# The Pulumi program's runtime dependencies in DIR/.venv (the virtualenv Pulumi.yaml names), from
# DIR/requirements.txt, plus DIR/policy/requirements.txt when the policy pack is there (its
# PulumiPolicy.yaml runs it in the same virtualenv). No test tools: CI jobs that run Pulumi or the
# offline plan do not need them.
#   scripts/ci/install-deps.sh [DIR]        (default: the repository root)
set -euo pipefail
dir="${1:-$(dirname "$0")/../..}"
cd "$dir"
requirements=(-r requirements.txt)
[ ! -f policy/requirements.txt ] || requirements+=(-r policy/requirements.txt)
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check "${requirements[@]}"
echo "install-deps: $(.venv/bin/python --version), ${requirements[*]} in $PWD/.venv" >&2
