"""``load_settings``: raw config strings in, frozen ``Settings`` out, or a ``ConfigError``.

Pure: it raises a ``ConfigError`` naming the key, the value, what is allowed and the fix, before any
resource exists.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from plano_pulumi.core.collector import TRACING_ENDPOINT, tracing_document
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.naming import Names, check_stack_name
from plano_pulumi.core.plano_config import (
    DB_PASSWORD_VAR,
    Listener,
    RenderedPlanoConfig,
    check_credentials,
    check_placeholders_provided,
    connection_string,
    load_plano_config,
    load_plano_config_text,
    render_plano_config,
)
from plano_pulumi.core.plano_validator import check_with_plano, config_as_run
from plano_pulumi.core.settings.database import _database
from plano_pulumi.core.settings.ingress import _ingress
from plano_pulumi.core.settings.keys import KEYS, NAMESPACE, DbEngine, Ingress, Profile
from plano_pulumi.core.settings.limits import REGION
from plano_pulumi.core.settings.masking import masked_error, scrub, secret_strings
from plano_pulumi.core.settings.model import (
    DatabaseSettings,
    IngressSettings,
    LocalSettings,
    MonitoringSettings,
    RawConfig,
    SecretSettings,
    ServiceSettings,
    Settings,
)
from plano_pulumi.core.settings.monitoring import _monitoring
from plano_pulumi.core.settings.network import _network
from plano_pulumi.core.settings.profiles import POLICIES
from plano_pulumi.core.settings.quotas import check_arn_regions, check_document_sizes, check_ingress_quotas
from plano_pulumi.core.settings.reader import _Reader
from plano_pulumi.core.settings.review import review_database, shared_provider_keys, without_store_of
from plano_pulumi.core.settings.schedule import _schedule, _usage
from plano_pulumi.core.settings.secrets import _secrets
from plano_pulumi.core.settings.service import _service


def load_settings(
    raw: RawConfig,
    *,
    project: str,
    stack: str,
    base_dir: Path,
    region: str | None,
    config_text: str | None = None,
) -> Settings:
    """Validate all config and the user's Plano config; return frozen settings or raise ConfigError.

    ``config_text``: the Plano config itself (a component argument) instead of ``plano:configFile``.
    Values of keys set with --secret never appear in the error or the warnings (masking.py).
    """
    secrets = secret_strings(raw)
    try:
        settings = _load_settings(
            raw, project=project, stack=stack, base_dir=base_dir, region=region, config_text=config_text
        )
        if settings.profile is not Profile.LOCAL:  # ECS and IAM limits; the local stack runs on Docker
            check_document_sizes(settings)
    except ConfigError as error:
        raise masked_error(error, secrets) from None
    return dataclasses.replace(
        settings, warnings=tuple(scrub(w, secrets) for w in settings.warnings), secret_strings=secrets
    )


def _load_settings(
    raw: RawConfig, *, project: str, stack: str, base_dir: Path, region: str | None, config_text: str | None
) -> Settings:
    check_stack_name(stack)
    check_unknown_keys(raw)
    profile = _Reader(raw, None).choice("profile", Profile)
    read = _Reader(raw, profile)
    policy = POLICIES[profile]
    warnings: list[str] = []

    # The local profile runs on Docker: no AWS region, account or credentials.
    region = "" if profile is Profile.LOCAL else _region(region)
    database = _database(read)
    warnings += _other_engine_keys(read, database.engine)
    network = _network(read)
    ingress = _ingress(read, profile, warnings)
    service = _service(read, profile, policy, warnings)
    secrets = shared_provider_keys(read, _secrets(read, raw, service, warnings), region=region)
    own_database = database
    database = review_database(read, database, service, stack=stack, region=region)
    schedule = _schedule(read, profile, warnings)
    usage = _usage(read)
    monitoring = _monitoring(read, profile, service, region, warnings)

    config_file, source, document = _read_plano_config(read, base_dir, config_text)
    areas = (database, own_database, service, secrets, monitoring)
    plano = _checked_plano_config(document, source, *areas, profile=profile, warnings=warnings)
    if region:  # the local profile has no region and no AWS ARNs
        check_arn_regions(region, ingress, secrets)
    check_ingress_quotas(ingress, plano.listeners, source=source)

    local = _local(read, plano.listeners, profile, database.state_retention_days)

    warnings += _plano_config_warnings(plano, source, ingress)
    if stack.lower().startswith("prod") and profile is not Profile.PROD:
        warnings.append(f"stack `{stack}` uses the {profile.value} profile: no deletion protection, no final snapshot")

    return Settings(
        project=project,
        stack=stack,
        region=region,
        profile=profile,
        policy=policy,
        names=Names(project, stack),
        network=network,
        database=database,
        ingress=ingress,
        service=service,
        secrets=secrets,
        plano=plano,
        config_file=config_file,
        warnings=tuple(warnings),
        local=local,
        schedule=schedule,
        usage=usage,
        monitoring=monitoring,
    )


def _read_plano_config(read: _Reader, base_dir: Path, config_text: str | None) -> tuple[Path, str, dict[str, Any]]:
    """Plano's config: the text the args give, or plano:configFile next to Pulumi.yaml; with the
    file's path and the name messages quote."""
    if config_text is None:
        source = _config_file_name(read.string("configFile"))
        try:
            config_file = (base_dir / source).resolve()
            document = load_plano_config(config_file)
        except (OSError, ValueError) as error:  # a name the file system refuses (too long, a loop)
            reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
            raise ConfigError(
                "plano:configFile",
                f"cannot be read ({reason})",
                value=source,
                fix="pulumi config set plano:configFile plano_config.yaml   (a file next to Pulumi.yaml)",
            ) from None
    else:
        config_file, source = Path(CONFIG_TEXT_SOURCE), CONFIG_TEXT_SOURCE
        document = load_plano_config_text(config_text, key=CONFIG_TEXT_SOURCE)
    return config_file, source, document


def _checked_plano_config(
    document: dict[str, Any],
    source: str,
    database: DatabaseSettings,
    own_database: DatabaseSettings,
    service: ServiceSettings,
    secrets: SecretSettings,
    monitoring: MonitoringSettings,
    *,
    profile: Profile,
    warnings: list[str],
) -> RenderedPlanoConfig:
    """Plano's config as the task runs it, checked: no literal credentials, Plano's own generator
    accepts it, and every placeholder it uses is provided."""
    if database.shared is not None:
        # A review stack runs dev's Plano config: a state store written for dev's database is
        # rewritten for the review database, like a memory store.
        document = without_store_of(document, own_database.app_user, own_database.name)
    # Literal credentials first: no later message, Plano's included, may quote one.
    check_credentials(document, source=source)
    document = _with_tracing(document, monitoring.tracing, source, profile, warnings)
    # Plano's own generator next, on the config as the task runs it (the stack's state_storage):
    # what it refuses, the task would. Then the project's own rules (ports, placeholders, storage).
    wanted = connection_string(db_user=database.app_user, db_name=database.name)
    check_with_plano(config_as_run(document, wanted), source=source)
    plano = render_plano_config(
        document, source=source, db_user=database.app_user, former_db_user=database.user, db_name=database.name
    )
    provided = {DB_PASSWORD_VAR: "the database password secret"}
    provided.update({name: "plano:environment" for name in service.environment})
    provided.update({name: "plano:providerKeys" for name in secrets.provider_keys})
    provided.update({name: "plano:providerKeysExternal" for name in secrets.provider_keys_external})
    check_placeholders_provided(plano, source=source, provided=provided)
    return plano


def _plano_config_warnings(plano: RenderedPlanoConfig, source: str, ingress: IngressSettings) -> list[str]:
    """What the stack changes in Plano's config, and what would cut long streams behind the load balancer."""
    warnings: list[str] = []
    if plano.replaced_memory_state:
        warnings.append(
            f"{source}: state_storage type memory is replaced by postgres behind the TLS sidecar, "
            "so conversation state survives restarts and is shared by all tasks"
        )
    if ingress.mode is Ingress.ALB:
        for listener in plano.listeners:
            if listener.type == "agent" and listener.timeout_s is None:
                warnings.append(
                    f"{source}: agent listener `{listener.name}` has no timeout; Plano defaults agent "
                    "routes to 30s, which cuts long streams. Set e.g. `timeout: 300s`"
                )
    return warnings


CONFIG_TEXT_SOURCE = "args.config_text"


def _with_tracing(
    document: dict[str, Any], tracing: bool, source: str, profile: Profile, warnings: list[str]
) -> dict[str, Any]:
    """With plano:tracing, Plano's traces go to the collector sidecar; without it, a config that
    traces to Plano's default (host.docker.internal:4317) on AWS is pointed out."""
    section = document.get("tracing")
    configured: dict[str, Any] = section if isinstance(section, dict) else {}
    if tracing:
        endpoint = configured.get("opentracing_grpc_endpoint")
        if endpoint and endpoint != TRACING_ENDPOINT:
            warnings.append(
                f"{source}: tracing.opentracing_grpc_endpoint ({endpoint}) is replaced by the collector "
                f"sidecar's {TRACING_ENDPOINT} (plano:tracing)"
            )
        return tracing_document(document)
    sampling = configured.get("random_sampling")
    sampled = isinstance(sampling, int) and sampling > 0
    if profile is not Profile.LOCAL and sampled and not configured.get("opentracing_grpc_endpoint"):
        warnings.append(
            f"{source}: tracing.random_sampling is on but no endpoint is set, so Plano sends traces to "
            "host.docker.internal:4317, which does not exist on Fargate; set plano:tracing true "
            "(and plano:metricsCollector on) to send them to X-Ray"
        )
    return document


def _local(read: _Reader, listeners: Sequence[Listener], profile: Profile, retention_days: int) -> LocalSettings:
    if profile is Profile.LOCAL and retention_days > 0:
        # The retention job needs pg_cron, which the official PostgreSQL image does not ship.
        raise ConfigError(
            "plano:stateRetentionDays",
            "needs pg_cron, which the local stack's PostgreSQL image does not have",
            value=retention_days,
            allowed="0 with the local profile",
            fix="pulumi config set plano:stateRetentionDays 0 --stack <local stack>",
        )
    db_port = read.integer("localDbPort")
    taken = {listener.port: listener.name for listener in listeners}
    if not 1024 <= db_port <= 65535 or db_port in taken:
        raise ConfigError(
            "plano:localDbPort",
            "must be a free unprivileged port"
            + (f" (listener `{taken[db_port]}` publishes it)" if db_port in taken else ""),
            value=db_port,
            allowed="1024-65535, not a listener port",
            fix="pulumi config set plano:localDbPort 15432",
        )
    return LocalSettings(keep_data_volume=read.boolean("localKeepDataVolume"), db_port=db_port)


# Linux's limits: PATH_MAX for the whole path, NAME_MAX for each part.
MAX_PATH_CHARS = 4096
MAX_PATH_PART_BYTES = 255


def _config_file_name(name: str) -> str:
    """``plano:configFile`` as a path the file system can open: no NUL or other control character
    (a line break in a name would also reach messages), within the length limits."""
    problem = None
    if not name:
        problem = "is empty"
    elif not name.isprintable():
        problem = "holds a control character (a NUL or a line break)"
    elif len(name) > MAX_PATH_CHARS or any(len(part.encode()) > MAX_PATH_PART_BYTES for part in name.split("/")):
        problem = f"is longer than a path may be ({MAX_PATH_CHARS} characters, {MAX_PATH_PART_BYTES} bytes a part)"
    if problem:
        raise ConfigError(
            "plano:configFile",
            problem,
            value=name,
            fix="pulumi config set plano:configFile plano_config.yaml   (a file next to Pulumi.yaml)",
        )
    return name


# Keys only one engine reads: set on the other, they would be silently ignored.
ENGINE_KEYS = {
    DbEngine.RDS: ("dbInstanceClass", "dbAllocatedStorageGb", "dbMaxAllocatedStorageGb"),
    DbEngine.AURORA_SERVERLESS: ("dbMaxCapacityAcu", "dbAutoPauseSeconds"),
}


def _other_engine_keys(read: _Reader, engine: DbEngine) -> list[str]:
    warnings = []
    for other, names in ENGINE_KEYS.items():
        if other is engine:
            continue
        for name in names:
            raw = read.raw.values.get(f"{NAMESPACE}:{name}")
            if raw is None or raw.strip() in ("", "0"):  # unset, or the "profile's value" sentinel
                continue
            warnings.append(
                f"plano:{name} is ignored: it applies to plano:dbEngine {other.value}, and this stack runs "
                f"{engine.value}; remove it with pulumi config rm plano:{name}"
            )
    return warnings


def check_unknown_keys(raw: RawConfig) -> None:
    known = {key.name for key in KEYS}
    for full in sorted(raw.values):
        namespace, _, name = full.partition(":")
        if namespace != NAMESPACE or name in known:
            continue
        guess = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        fix = f"`pulumi config rm {full}`; docs/configuration.md lists every key"
        if guess:
            fix = f"did you mean plano:{guess[0]}? Move the value there and run {fix}"
        raise ConfigError(full, "is not a setting of this project", fix=fix)


def _region(region: str | None) -> str:
    if not region:
        raise ConfigError(
            "aws:region",
            "is not set",
            fix="pulumi config set aws:region us-east-1   (or your region)",
        )
    if not REGION.fullmatch(region):
        raise ConfigError(
            "aws:region",
            "is not an AWS region name",
            value=region,
            allowed="a region such as us-east-1, eu-west-1",
            fix="pulumi config set aws:region us-east-1",
        )
    return region
