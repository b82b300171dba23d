#!/usr/bin/env bash
# Offline plan diff of a pull request: `python -m plano_tools plan --stack S --json` on the base and
# head checkouts for each stack, then `python -m plano_tools plan-diff`. No cloud credentials, no
# Pulumi CLI, no network beyond PyPI.
#
#   scripts/ci/offline-plan.sh BASE_DIR HEAD_DIR OUT_DIR STACK...
#
# Writes OUT_DIR/comment.md, the body of the pull-request comment (its first line is the marker the
# comment job looks for), and OUT_DIR/{base,head}-STACK.json. Under GitHub Actions it also appends
# the body to the job summary and sets the step output `comment`.
# Exit status 1 when a head plan fails (the comment shows the error); a base that cannot produce a
# plan (for example one that predates the tool) is compared as an empty plan, and the comment says so.
set -euo pipefail

MARKER="<!-- plano-offline-plan -->"
MAX_CHARS=60000 # GitHub refuses comments over 65536 characters

[ $# -ge 4 ] || { echo "usage: $0 BASE_DIR HEAD_DIR OUT_DIR STACK..." >&2; exit 2; }
base_dir=$(cd "$1" && pwd)
head_dir=$(cd "$2" && pwd)
mkdir -p "$3"
out=$(cd "$3" && pwd)
shift 3
here=$(cd "$(dirname "$0")" && pwd)

# One virtualenv per checkout, unless both pin the same dependencies.
"$here/install-deps.sh" "$head_dir"
if cmp -s "$base_dir/requirements.txt" "$head_dir/requirements.txt"; then
    base_python="$head_dir/.venv/bin/python"
elif [ -f "$base_dir/requirements.txt" ] && "$here/install-deps.sh" "$base_dir"; then
    base_python="$base_dir/.venv/bin/python"
else
    base_python="$head_dir/.venv/bin/python"
fi

empty_plan() { # $1 = stack
    # A plan by docs/plan.schema.json (plan-diff refuses anything else) with nothing in it.
    printf '{"stack": "%s", "profile": "dev", "warnings": [], "resources": [], "outputs": {}, "cost": {"monthly_usd": 0, "currency": "USD", "region": "", "prices_as_of": "1970-01-01", "items": []}}\n' "$1"
}

body="$out/body.md"
{
    echo "$MARKER"
    echo "## Offline plan"
    echo
} >"$body"
status=0
for stack in "$@"; do
    note=""
    base_failed=""
    if ! (cd "$base_dir" && "$base_python" -m plano_tools plan --stack "$stack" --json >"$out/base-$stack.json" 2>"$out/base-$stack.err"); then
        base_failed=1
        empty_plan "$stack" >"$out/base-$stack.json"
        note="The base branch could not produce a plan for \`$stack\` (compared as empty): \`$(tail -1 "$out/base-$stack.err" | cut -c1-300)\`"
    fi
    if (cd "$head_dir" && .venv/bin/python -m plano_tools plan --stack "$stack" --json >"$out/head-$stack.json" 2>"$out/head-$stack.err"); then
        (cd "$head_dir" && .venv/bin/python -m plano_tools plan-diff "$out/base-$stack.json" "$out/head-$stack.json") >>"$body"
        [ -z "$note" ] || printf '\n> %s\n' "$note" >>"$body"
    elif [ -n "$base_failed" ] && [ "$(tail -1 "$out/base-$stack.err")" = "$(tail -1 "$out/head-$stack.err")" ]; then
        # Refused the same way on the base branch (e.g. prod's shipped placeholders, not yet
        # prepared): shown, but not this pull request's failure.
        {
            echo "### Offline plan: stack \`$stack\`: refused, as on the base branch"
            echo
            echo '```'
            tail -20 "$out/head-$stack.err"
            echo '```'
        } >>"$body"
    else
        status=1
        {
            echo "### Offline plan: stack \`$stack\`: failed"
            echo
            echo '```'
            tail -20 "$out/head-$stack.err"
            echo '```'
        } >>"$body"
    fi
    echo >>"$body"
done
echo "<sub>Pull request ${HEAD_SHA:-(local)} (merged into its base) compared with base ${BASE_SHA:-(local)}.</sub>" >>"$body"

# Keep the comment within GitHub's limit (cut at a character, not a byte, boundary).
python3 - "$body" "$out/comment.md" "$MAX_CHARS" <<'EOF'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
limit = int(sys.argv[3])
if len(text) > limit:
    text = text[:limit] + "\n\n_(truncated: the full diff is in the job summary)_\n"
open(sys.argv[2], "w", encoding="utf-8").write(text)
EOF

cat "$out/comment.md"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    cat "$body" >>"$GITHUB_STEP_SUMMARY"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
    delimiter="EOF_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" # unguessable: the body cannot end the value
    {
        echo "comment<<$delimiter"
        cat "$out/comment.md"
        echo "$delimiter"
    } >>"$GITHUB_OUTPUT"
fi
exit "$status"
