#!/usr/bin/env bash
# Put the external provider keys of STACK (the names in its `providerKeysExternal` config, i.e. the
# stack output `provider_keys_external`) into their Secrets Manager secrets, from
# environment variables of the same name (the workflow maps repository secrets onto them).
#
#   OPENAI_API_KEY=... ANTHROPIC_API_KEY=... scripts/ci/fill-provider-keys.sh STACK
#
# A key with no (or an empty) variable keeps the value its secret has, with a warning. If its
# secret has no value at all, no Plano task can start (ECS cannot resolve the secret), so after
# filling the others the script fails at once with one line naming the key(s) and the commands
# that fill them, instead of leaving `wait-stable.sh` to wait 40 minutes. Values never reach the
# command line or the log: each is written to a private temporary file that the AWS CLI reads.
# When a value is new or changed, the service is redeployed (ECS reads secrets when a task starts).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 STACK" >&2; exit 2; }
stack="$1"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 700 "$tmp"

# The names the task, its image or CI own (AWS_*, PULUMI_*, GITHUB_*, PATH, ...): the program's own
# list. A stack that declares one would make this script copy CI's credentials into Secrets Manager.
reserved_list="$(dirname "$0")/../../components/plano_pulumi/core/reserved_env_names.txt"
[ -r "$reserved_list" ] || { echo "fill-provider-keys: cannot read $reserved_list" >&2; exit 2; }
reserved_entry() { # prints the list entry that reserves $1, if any
    local entry
    while IFS= read -r entry; do
        entry="${entry%%#*}"
        entry="${entry//[[:space:]]/}"
        [ -n "$entry" ] || continue
        if [[ "$entry" == *'*' ]]; then
            [[ "$1" == "${entry%\*}"* ]] && { printf '%s' "$entry"; return; }
        elif [ "$1" = "$entry" ]; then
            printf '%s' "$entry"
            return
        fi
    done <"$reserved_list"
    return 0
}

outputs=$(pulumi stack output --json --stack "$stack")
names=$(jq -r '.provider_keys_external // [] | .[]' <<<"$outputs")
for name in $names; do
    entry=$(reserved_entry "$name")
    if [ -n "$entry" ]; then
        printf 'fill-provider-keys: %q is a reserved environment name (%s); nothing was copied. Fix: rename the key in plano:providerKeysExternal and the Plano config.\n' "$name" "$entry" >&2
        exit 1
    fi
done
redeploy=""
region=""
missing=()
for name in $names; do
    [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "::warning::skipping provider key with odd name '$name'"; continue; }
    arn=$(jq -r --arg n "$name" '.provider_key_secret_arns[$n] // empty' <<<"$outputs")
    [ -n "$arn" ] || { echo "::warning::$stack has no secret for $name"; continue; }
    value="${!name:-}"
    region=$(cut -d: -f4 <<<"$arn")
    versions=$(aws secretsmanager describe-secret --region "$region" --secret-id "$arn" --output json |
        jq '.VersionIdsToStages // {} | length')
    if [ -z "$value" ]; then
        if [ "$versions" = 0 ]; then
            missing+=("$name")
        else
            echo "::warning::$name: no repository secret of that name, so $stack's $name keeps its value"
        fi
        continue
    fi
    printf '%s' "$value" >"$tmp/value"
    if [ "$versions" != 0 ]; then
        # Unchanged values are left alone (no new version, no redeploy).
        aws secretsmanager get-secret-value --region "$region" --secret-id "$arn" \
            --query SecretString --output text >"$tmp/current" 2>/dev/null || true
        if cmp -s <(printf '%s\n' "$value") "$tmp/current"; then
            rm -f "$tmp/value" "$tmp/current"
            echo "fill-provider-keys: $name unchanged"
            continue
        fi
        rm -f "$tmp/current"
    fi
    aws secretsmanager put-secret-value --region "$region" --secret-id "$arn" \
        --secret-string "file://$tmp/value" --output text --query VersionId >/dev/null
    rm -f "$tmp/value"
    echo "fill-provider-keys: $name put into $arn"
    # ECS reads secrets when a task starts: a new (or first) value needs new tasks.
    redeploy=1
done

if [ "${#missing[@]}" -gt 0 ]; then
    # The tasks cannot start until every key has a value: say so now, in one line.
    echo "::error::fill-provider-keys: $stack's provider key ${missing[*]} has no value in Secrets Manager and no repository secret of that name, so no Plano task can start; add the repository secret ${missing[*]} (Settings > Secrets and variables > Actions) and re-run the job, or fill it by hand: pulumi stack output provider_key_fill_commands --stack $stack | bash (reads \$${missing[0]} from your shell); or remove the key from plano:providerKeysExternal and its provider from plano_config.yaml"
    exit 1
fi

if [ -n "$redeploy" ]; then
    cluster=$(jq -r '.cluster_name' <<<"$outputs")
    service=$(jq -r '.service_name' <<<"$outputs")
    aws ecs update-service --region "$region" --cluster "$cluster" --service "$service" \
        --force-new-deployment --output text --query service.serviceName >/dev/null
    echo "fill-provider-keys: new key values, so $cluster/$service was redeployed"
fi
