"""The components' arguments, generated from the ``plano:`` key declarations.

Do not edit: ``python -m plano_tools sync-args`` writes this file from
``core/settings/keys.py`` (a test keeps it current). Every field is optional; an absent field
takes the default the stack key has (per profile where the table in docs/configuration.md says so).
"""

from typing import TypedDict

import pulumi


class PlanoOnAwsArgs(TypedDict, total=False):
    """Inputs of ``PlanoOnAws``: Plano on ECS Fargate with RDS or Aurora PostgreSQL."""

    config_text: str
    """Your Plano config as YAML text, instead of config_file."""

    profile: str
    """Stack profile: dev (cheap, disposable), prod (safe by default) or local (Docker, no AWS). Valid: dev, prod
    or local."""

    config_file: str
    """Your Plano config, relative to Pulumi.yaml. Valid: a regular file under 512 KiB; see the Plano config rules
    below."""

    image: str
    """Plano container image. Valid: image reference; prod warns unless pinned by @sha256 digest."""

    pgbouncer_image: str
    """PgBouncer sidecar image (speaks TLS to RDS). Valid: PgBouncer 1.21 or newer; prod warns unless pinned."""

    init_image: str
    """Image of the init step. Valid: needs sh, psql and an HTTPS-verifying wget; prod warns unless pinned."""

    image_registry: str
    """ECR registry to pull every image from (a pull-through cache or copies); empty = public registries. Valid:
    empty or ACCOUNT.dkr.ecr.REGION.amazonaws.com; images become REGISTRY/ghcr/..., REGISTRY/ecr-public/...."""

    db_instance_class: str
    """RDS instance class. Empty/0 = the profile's value. Valid: db.<family>.<size>."""

    db_engine_version: str
    """PostgreSQL version as major.minor (17.6). Empty = the version pinned for plano:dbEngine. Valid: major.minor,
    major 14-18 as RDS writes it (17.6: no leading zero, no minor 0); a bare major (17) is refused; empty: rds
    17.6, aurora-serverless 17.5."""

    db_name: str
    """Database name. Valid: lower-case letters, digits, _; starts with a letter; not postgres, pgbouncer or an SQL
    reserved word."""

    db_user: str
    """Database master user name. Valid: 1-59 lower-case letters, digits, _ (room for the _app role); no pg_
    prefix, for it or <it>_app; not reserved (postgres, admin, SQL key words, ...)."""

    db_password_version: int
    """Bump to rotate the database passwords (master and Plano's role) with a rolling redeploy. Valid: 1 or more;
    only ever increase it."""

    db_allocated_storage_gb: int
    """Initial gp3 storage in GB. Empty/0 = the profile's value. Valid: 20-65536."""

    db_max_allocated_storage_gb: int
    """Storage autoscaling ceiling in GB. Empty/0 = the profile's value. Valid: at least 10% above
    dbAllocatedStorageGb."""

    db_backup_retention_days: int
    """Automated backup retention in days. Empty/0 = the profile's value. Valid: 1-35; prod at least 7."""

    db_tls_mode: str
    """How the sidecar and the init step check RDS's certificate. Valid: require or verify-full (never plain text)."""

    kms_key_arn: str
    """Customer managed KMS key for RDS and secrets; empty = AWS managed keys. Valid: a KMS key ARN in the stack's
    region; grants kms:Decrypt to the execution role."""

    ingress: str
    """alb (load balancer) or none (SSM port forwarding only). Empty/0 = the profile's value. Valid: alb or none."""

    allowed_cidrs: list[str]
    """Client networks allowed to reach the load balancer. Valid: valid CIDRs; required with alb; 0.0.0.0/0 and
    ::/0 only with allowPublicIngress; within 60 rules."""

    allow_public_ingress: bool
    """Consent to an endpoint open to the whole internet. Valid: true or false."""

    certificate_arn: str
    """ACM certificate: HTTPS on the load balancer, HTTP redirects. Valid: an ACM certificate ARN in the stack's
    region; required by prod with alb unless allowPlainHttp."""

    allow_plain_http: bool
    """Allow a prod load balancer without HTTPS. Valid: true or false."""

    alb_internal: bool
    """Internal load balancer (reachable only from the VPC and peers). Valid: true or false."""

    domain_name: str
    """Your domain for the endpoint (the certificate's name); endpoint URLs use it. Valid: a DNS name such as
    plano.example.com, only with alb; not a documentation example in prod."""

    hosted_zone_id: str
    """Route 53 hosted zone of domainName: the stack creates the alias record to the load balancer. Valid: Z
    followed by letters and digits, only with domainName; empty = you create the DNS record."""

    vpc_id: str
    """Existing VPC to use; empty = create one. Valid: vpc-<hex>."""

    public_subnet_ids: list[str]
    """Public subnets of the existing VPC (load balancer). Valid: two or more distinct subnet-<hex>, only with
    vpcId; none in both lists."""

    private_subnet_ids: list[str]
    """Private subnets of the existing VPC (database; tasks when it has NAT). Valid: two or more distinct
    subnet-<hex>, only with vpcId; none in both lists."""

    vpc_cidr: str
    """CIDR of the VPC this stack creates. Valid: /16 to /22 in 10/8, 172.16/12, 192.168/16 or 100.64/10; no host
    bits."""

    nat_gateways: str
    """NAT gateways of a new VPC; with vpcId, whether that VPC has NAT. Empty/0 = the profile's value. Valid: none
    (tasks get a public IP, no inbound), single or per-az."""

    cpu: int
    """Fargate task CPU units (1024 = 1 vCPU). Empty/0 = the profile's value. Valid: 256, 512, 1024, 2048, 4096,
    8192 or 16384."""

    memory: int
    """Fargate task memory in MiB. Empty/0 = the profile's value. Valid: a Fargate size valid for cpu."""

    cpu_architecture: str
    """CPU architecture of the tasks. Valid: ARM64 or X86_64."""

    capacity: str
    """Fargate capacity. Empty/0 = the profile's value. Valid: fargate or fargate-spot."""

    desired_count: int
    """Tasks to run (the autoscaling minimum in prod). Empty/0 = the profile's value. Valid: 1-100; prod at least
    2."""

    max_count: int
    """Autoscaling maximum (prod). Empty/0 = the profile's value. Valid: desiredCount to 100."""

    log_retention_days: int
    """CloudWatch Logs retention in days. Empty/0 = the profile's value. Valid: a value CloudWatch accepts: 1, 3,
    5, 7, 14, 30, 60, 90, ...."""

    provider_keys: dict[str, pulumi.Input[str]]
    """Model-provider keys kept in Pulumi (encrypted): env name -> value. Valid: set with --secret --path; each
    name once across providerKeys and providerKeysExternal."""

    provider_keys_external: list[str]
    """Provider-key env names whose values you put into Secrets Manager. Valid: env names ([A-Za-z_][A-Za-z0-9_]*),
    no duplicates."""

    environment: dict[str, str]
    """Plain environment variables for Plano: name -> value. Valid: no secret-looking names (PASS, SECRET, TOKEN,
    KEY, CREDENTIAL); no DB_PASS; LOG_LEVEL/RUST_LOG only error, warn or info."""

    state_retention_days: int
    """Delete conversation state idle this long; 0 = keep forever. Valid: 0-3650."""

    local_keep_data_volume: bool
    """local profile: keep the PostgreSQL data volume when the stack is destroyed. Valid: true or false."""

    local_db_port: int
    """local profile: host port (127.0.0.1 only) of PostgreSQL, for psql over TLS. Valid: 1024-65535, not a
    listener port."""

    db_engine: str
    """Database engine: RDS PostgreSQL or Aurora PostgreSQL Serverless v2. Empty/0 = the profile's value. Valid:
    rds or aurora-serverless."""

    db_engine_change_confirmed: str
    """Confirms switching plano:dbEngine on a stack that has a database: the engine switched to. The new database
    starts empty; migrate first (docs/operations.md). Valid: empty, or the new plano:dbEngine (rds or aurora-
    serverless)."""

    db_max_capacity_acu: int
    """Aurora Serverless v2 maximum capacity in ACUs (1 ACU = about 2 GiB). Empty/0 = the profile's value. Valid:
    1-256; aurora-serverless only."""

    db_auto_pause_seconds: int
    """Aurora: pause (0 ACU) after this many idle seconds; -1 = never pause (minimum 0.5 ACU). Empty/0 = the
    profile's value. Valid: -1 or 300-86400; aurora-serverless only."""

    active_hours: str
    """Hours the tasks run on activeDays (scaled to zero outside them), or always. Empty/0 = the profile's value.
    Valid: HH:MM-HH:MM (start before end, whole or half hours) or always; prod: always."""

    active_days: str
    """Days activeHours apply to; on other days the tasks stay at zero. Valid: MON-FRI, MON-SUN or a comma list
    such as MON,WED,FRI."""

    schedule_timezone: str
    """Time zone of activeHours. Valid: an IANA time zone such as UTC, Europe/Berlin, America/New_York (from the
    shipped list)."""

    db_review_stacks: int
    """Review stacks this stack's database carries: a provisioning role and secret for them; 0 = none. -1 = the
    profile's value, lowered to what the server's connections carry. Valid: 0-500 and within the server's
    connections (docs/review-environments.md); PostgreSQL 16+."""

    shared_database: dict[str, str]
    """Review stack: put this stack's own database on another stack's server (dev's outputs) instead of creating
    one: address, port, securityGroupId, provisionerSecretArn. Valid: empty, or all four from the dev stack's
    review_database output (scripts/ci/review-stack.sh sets it)."""

    shared_provider_key_secret_arns: dict[str, str]
    """Read these provider-key secrets (env name -> ARN, another stack's) instead of creating any. Valid: empty, or
    one secretsmanager ARN in the stack's region per provider key name."""

    alarms: str
    """CloudWatch alarms, an SNS topic for them, state-path log metrics and a dashboard. Empty/0 = the profile's
    value. Valid: on or off; not with the local profile."""

    alarm_emails: list[str]
    """E-mail addresses subscribed to the alarm topic (each confirms by mail). Valid: e-mail addresses; with alarms
    on; not with alarmTopicArn."""

    alarm_topic_arn: str
    """Existing SNS topic to send alarms to instead of creating one (Slack, PagerDuty, ...). Valid:
    arn:aws:sns:REGION:ACCOUNT:NAME in the stack's region; with alarms on."""

    alarm_thresholds: dict[str, str]
    """Alarm thresholds to change: name -> number (docs/monitoring.md lists them). Valid: known names, numbers
    above 0, percentages at most 100."""

    metrics_collector: str
    """Collector sidecar: Plano's and Envoy's metrics to CloudWatch (EMF). Empty/0 = the profile's value. Valid: on
    or off; needs memory >= 1024; not with the local profile."""

    collector_image: str
    """Image of the collector sidecar (AWS Distro for OpenTelemetry). Valid: image reference; prod warns unless
    pinned."""

    tracing: bool
    """Send Plano's traces to X-Ray through the collector (sets Plano's tracing endpoint). Valid: true or false;
    needs metricsCollector on."""

    secret_settings: list[str]
    """Args whose values are secrets: masked in every message, kept secret in every resource input."""


class PlanoOnDockerArgs(TypedDict, total=False):
    """Inputs of ``PlanoOnDocker``: the same task on a Docker engine, no AWS."""

    config_text: str
    """Your Plano config as YAML text, instead of config_file."""

    config_file: str
    """Your Plano config, relative to Pulumi.yaml. Valid: a regular file under 512 KiB; see the Plano config rules
    below."""

    image: str
    """Plano container image. Valid: image reference; prod warns unless pinned by @sha256 digest."""

    pgbouncer_image: str
    """PgBouncer sidecar image (speaks TLS to RDS). Valid: PgBouncer 1.21 or newer; prod warns unless pinned."""

    init_image: str
    """Image of the init step. Valid: needs sh, psql and an HTTPS-verifying wget; prod warns unless pinned."""

    db_engine_version: str
    """PostgreSQL version as major.minor (17.6). Empty = the version pinned for plano:dbEngine. Valid: major.minor,
    major 14-18 as RDS writes it (17.6: no leading zero, no minor 0); a bare major (17) is refused; empty: rds
    17.6, aurora-serverless 17.5."""

    db_name: str
    """Database name. Valid: lower-case letters, digits, _; starts with a letter; not postgres, pgbouncer or an SQL
    reserved word."""

    db_user: str
    """Database master user name. Valid: 1-59 lower-case letters, digits, _ (room for the _app role); no pg_
    prefix, for it or <it>_app; not reserved (postgres, admin, SQL key words, ...)."""

    db_password_version: int
    """Bump to rotate the database passwords (master and Plano's role) with a rolling redeploy. Valid: 1 or more;
    only ever increase it."""

    db_tls_mode: str
    """How the sidecar and the init step check RDS's certificate. Valid: require or verify-full (never plain text)."""

    provider_keys: dict[str, pulumi.Input[str]]
    """Model-provider keys kept in Pulumi (encrypted): env name -> value. Valid: set with --secret --path; each
    name once across providerKeys and providerKeysExternal."""

    provider_keys_external: list[str]
    """Provider-key env names whose values you put into Secrets Manager. Valid: env names ([A-Za-z_][A-Za-z0-9_]*),
    no duplicates."""

    environment: dict[str, str]
    """Plain environment variables for Plano: name -> value. Valid: no secret-looking names (PASS, SECRET, TOKEN,
    KEY, CREDENTIAL); no DB_PASS; LOG_LEVEL/RUST_LOG only error, warn or info."""

    state_retention_days: int
    """Delete conversation state idle this long; 0 = keep forever. Valid: 0-3650."""

    local_keep_data_volume: bool
    """local profile: keep the PostgreSQL data volume when the stack is destroyed. Valid: true or false."""

    local_db_port: int
    """local profile: host port (127.0.0.1 only) of PostgreSQL, for psql over TLS. Valid: 1024-65535, not a
    listener port."""

    secret_settings: list[str]
    """Args whose values are secrets: masked in every message, kept secret in every resource input."""
