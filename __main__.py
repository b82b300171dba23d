"""Plano on AWS: RDS PostgreSQL (TLS only) for durable conversation state, Plano on ECS Fargate.

    clients --(allowedCidrs only)--> load balancer --> task: init -> pgbouncer --TLS--> RDS
                                                             plano --loopback--^
    DB_PASS and provider keys: Secrets Manager -> ECS secrets (never in plain text)

The local profile runs the same task on Docker (no AWS): 127.0.0.1 --> task: init -> pgbouncer
--TLS--> PostgreSQL container; the password and keys are secret container inputs.

Read top to bottom: settings (all validation happens here, before any resource), then the
components in the order data flows through them, then the stack outputs.
"""

from pathlib import Path

import pulumi
from plano_pulumi.aws.aurora import AuroraServerless
from plano_pulumi.aws.database import Database, DatabaseArgs, PostgresComponent
from plano_pulumi.aws.firewall import Firewall, FirewallArgs
from plano_pulumi.aws.ingress import LoadBalancer, LoadBalancerArgs, deregistration_delay_s, primary_listener
from plano_pulumi.aws.network import Network, NetworkArgs
from plano_pulumi.aws.schedule import TaskSchedule, TaskScheduleArgs
from plano_pulumi.aws.secrets import (
    ProviderKeys,
    ProviderKeysArgs,
    put_secret_value_command,
    remind_empty_external_keys,
)
from plano_pulumi.aws.service import PlanoService, ServiceArgs, redeploy_command
from plano_pulumi.core.secret_inputs import keep_secret_inputs
from plano_pulumi.core.settings import DbEngine, Ingress, Profile, resource_tags, settings_from_pulumi
from plano_pulumi.core.task_files import task_files
from plano_pulumi.local.certificates import CertificatesArgs, DatabaseCertificates
from plano_pulumi.local.database import LocalDatabase, LocalDatabaseArgs
from plano_pulumi.local.layout import DB_HOSTNAME, LOOPBACK, POSTGRES_PORT, LocalNames, postgres_image, psql_command
from plano_pulumi.local.network import LocalNetwork, LocalNetworkArgs
from plano_pulumi.local.provider_keys import missing_key_warning, read_external_keys
from plano_pulumi.local.service import LocalService, LocalServiceArgs

settings = settings_from_pulumi(Path(__file__).parent)
for warning in settings.warnings:
    pulumi.log.warn(warning)
keep_secret_inputs(settings.secret_strings)  # inputs built from --secret keys stay secret in state
names, tags, plano, policy = settings.names, resource_tags(settings), settings.plano, settings.policy
use_alb = settings.ingress.mode is Ingress.ALB

if settings.profile is Profile.LOCAL:
    # Docker on this machine, no AWS: the same rendered files and containers (docs/local.md).
    local_names = LocalNames(names)
    local_network = LocalNetwork("network", LocalNetworkArgs(local_names.network))
    certificates = DatabaseCertificates(
        "db-tls",
        CertificatesArgs(common_name=names.base, dns_names=[DB_HOSTNAME, "localhost"], ip_addresses=[LOOPBACK]),
    )
    local_db = LocalDatabase(
        "database",
        LocalDatabaseArgs(
            container_name=local_names.container("postgres"),
            image=postgres_image(settings.database.major_version),
            network=local_network.name,
            data_volume_name=local_names.data_volume,
            keep_data_volume=settings.local.keep_data_volume,
            db_name=settings.database.name,
            db_user=settings.database.user,
            host_port=settings.local.db_port,
            server_cert_pem=certificates.server_cert_pem,
            server_key_pem=certificates.server_key_pem,
        ),
    )
    external_keys, missing_keys = read_external_keys(Path(__file__).parent, settings.secrets.provider_keys_external)
    for key_name in missing_keys:
        pulumi.log.warn(missing_key_warning(key_name))
    local_service = LocalService(
        "plano",
        LocalServiceArgs(
            names=local_names,
            images=(settings.service.image, settings.service.pgbouncer_image, settings.service.init_image),
            network=local_network.name,
            listeners=plano.listeners,
            health_port=plano.health_listener.port,
            files=task_files(settings, DB_HOSTNAME, POSTGRES_PORT),
            db_host=DB_HOSTNAME,
            db_port=POSTGRES_PORT,
            db_name=settings.database.name,
            db_user=settings.database.user,
            tls_mode=settings.database.tls_mode,
            ca_cert_pem=certificates.ca_cert_pem,
            db_password=local_db.password,
            app_user=settings.database.app_user,
            app_password=local_db.app_password,
            provider_keys={
                **{
                    name: pulumi.Output.secret(value.reveal()) for name, value in settings.secrets.provider_keys.items()
                },
                **{name: pulumi.Output.secret(value) for name, value in external_keys.items()},
            },
            environment=settings.service.environment,
            depends_on=[local_db],
        ),
    )
    # Outputs: where to reach Plano and the database. The password only as a secret output.
    pulumi.export("endpoint_urls", {lsn.name: f"http://127.0.0.1:{lsn.port}" for lsn in plano.listeners})
    pulumi.export("endpoint_url", f"http://127.0.0.1:{primary_listener(plano.listeners).port}")
    pulumi.export("profile", settings.profile.value)
    pulumi.export("db_ca_cert_pem", certificates.ca_cert_pem)
    pulumi.export("db_password", local_db.password)
    pulumi.export("psql_command", psql_command(settings.local.db_port, settings.database.name, settings.database.user))
    pulumi.export(
        "container_names",
        {
            "plano": local_service.plano_container_name,
            "pgbouncer": local_service.pgbouncer_container_name,
            "postgres": local_names.container("postgres"),
        },
    )
    pulumi.export("rendered_plano_config", plano.text)
else:
    network = Network("network", NetworkArgs(settings.network, names.base, tags))

    firewall = Firewall(
        "firewall",
        FirewallArgs(
            names=names,
            vpc_id=network.vpc_id,
            listeners=plano.listeners,
            load_balancer=use_alb,
            https=settings.ingress.https,
            allowed_cidrs=settings.ingress.allowed_cidrs,
            egress_ports=plano.egress_ports,
            tags=tags,
        ),
    )

    # plano:dbEngine picks RDS or Aurora Serverless v2; both take the same inputs and give the same outputs.
    db_args = DatabaseArgs(
        names=names,
        settings=settings.database,
        policy=policy,
        subnet_ids=network.private_subnet_ids,
        security_group_id=firewall.db_security_group_id,
        kms_key_arn=settings.secrets.kms_key_arn,
        log_retention_days=settings.service.log_retention_days,
        tags=tags,
    )
    database: PostgresComponent
    if settings.database.engine is DbEngine.AURORA_SERVERLESS:
        database = AuroraServerless("database", db_args)
        db_log_groups = database.log_group_names
    else:
        database = Database("database", db_args)
        db_log_groups = [names.rds_log_group(log) for log in policy.log_exports]

    remind_empty_external_keys(names, settings.secrets.provider_keys_external, settings.region)
    provider_keys = ProviderKeys(
        "provider-keys",
        ProviderKeysArgs(
            names=names,
            provider_keys=settings.secrets.provider_keys,
            external=settings.secrets.provider_keys_external,
            kms_key_arn=settings.secrets.kms_key_arn,
            recovery_window_days=policy.secret_recovery_window_days,
            protect=policy.protect,
            tags=tags,
        ),
    )

    load_balancer = None
    if use_alb:
        load_balancer = LoadBalancer(
            "ingress",
            LoadBalancerArgs(
                names=names,
                listeners=plano.listeners,
                health_port=plano.health_listener.port,
                vpc_id=network.vpc_id,
                subnet_ids=network.private_subnet_ids if settings.ingress.internal else network.public_subnet_ids,
                security_group_id=firewall.alb_security_group_id,  # type: ignore[arg-type]
                certificate_arn=settings.ingress.certificate_arn,
                internal=settings.ingress.internal,
                deregistration_delay_s=deregistration_delay_s(plano.listeners, keep_streams=policy.protect),
                deletion_protection=policy.deletion_protection,
                tags=tags,
                domain_name=settings.ingress.domain_name,
                hosted_zone_id=settings.ingress.hosted_zone_id,
            ),
        )

    service = PlanoService(
        "plano",
        ServiceArgs(
            names=names,
            region=settings.region,
            images=(settings.service.image, settings.service.pgbouncer_image, settings.service.init_image),
            cpu=settings.service.cpu,
            memory=settings.service.memory,
            architecture=settings.service.architecture.value,
            capacity=settings.service.capacity,
            desired_count=settings.service.desired_count,
            max_count=settings.service.max_count,
            autoscaling=policy.autoscaling,
            scheduled=settings.schedule is not None,
            log_retention_days=settings.service.log_retention_days,
            subnet_ids=network.public_subnet_ids
            if settings.network.tasks_in_public_subnets
            else network.private_subnet_ids,
            assign_public_ip=settings.network.tasks_in_public_subnets,
            security_group_id=firewall.service_security_group_id,
            listeners=plano.listeners,
            health_port=plano.health_listener.port,
            files=pulumi.Output.all(database.address, database.port).apply(lambda a: task_files(settings, a[0], a[1])),
            db_host=database.address,
            db_port=database.port,
            db_name=settings.database.name,
            db_user=settings.database.user,
            tls_mode=settings.database.tls_mode,
            db_secret_arn=database.secret_arn,
            app_user=database.app_user,
            app_secret_arn=database.app_secret_arn,
            secret_version_ids=[*database.secret_version_ids, *provider_keys.version_ids],
            provider_key_arns=provider_keys.arns,
            environment=settings.service.environment,
            kms_key_arn=settings.secrets.kms_key_arn,
            target_group_arns=load_balancer.target_group_arns if load_balancer else {},
            container_insights=policy.protect,
            protect=policy.protect,
            depends_on=[
                *database.secret_values,
                *provider_keys.values,
                *(load_balancer.listeners if load_balancer else []),
            ],
            tags=tags,
        ),
    )

    # Dev and review stacks can rest outside working hours (plano:activeHours).
    if settings.schedule is not None:
        schedule = TaskSchedule(
            "schedule",
            TaskScheduleArgs(
                schedule=settings.schedule,
                cluster_name=service.cluster_name,
                service_name=service.service_name,
                desired_count=settings.service.desired_count,
                region=settings.region,
            ),
        )
        pulumi.export("wake_command", schedule.wake_command)

    # Outputs: where to reach Plano, where its state and secrets live. No secret value among them.
    if load_balancer:
        pulumi.export("endpoint_urls", load_balancer.endpoint_urls)
        pulumi.export(
            "endpoint_url", load_balancer.endpoint_urls.apply(lambda u: u[primary_listener(plano.listeners).name])
        )
        pulumi.export("alb_dns_name", load_balancer.dns_name)  # where plano:domainName must point
    else:
        port = primary_listener(plano.listeners).port
        pulumi.export("endpoint_url", f"http://localhost:{port} (after the port_forward_command)")
        pulumi.export(
            "port_forward_command",
            pulumi.Output.concat(
                f"scripts/port-forward.sh --region {settings.region} ",
                service.cluster_name,
                " ",
                service.service_name,
                f" {port}",
            ),
        )
    pulumi.export("profile", settings.profile.value)
    pulumi.export("db_address", database.address)
    pulumi.export("db_secret_arn", database.secret_arn)
    pulumi.export("db_secret_name", database.secret_name)
    pulumi.export("provider_key_secret_arns", provider_keys.arns)
    # One string, one command per line: `pulumi stack output provider_key_fill_commands | bash` runs them.
    pulumi.export("provider_keys_external", list(settings.secrets.provider_keys_external))
    pulumi.export(
        "provider_key_fill_commands",
        "\n".join(
            put_secret_value_command(provider_keys.secret_names[name], name, settings.region)
            for name in settings.secrets.provider_keys_external
        ),
    )
    pulumi.export("db_app_secret_name", database.app_secret_name)
    # Redeploy: new tasks read every secret afresh (after changing an external key outside Pulumi).
    pulumi.export("redeploy_command", redeploy_command(service.cluster_name, service.service_name, settings.region))
    pulumi.export("cluster_name", service.cluster_name)
    pulumi.export("task_definition_arn", service.task_definition_arn)  # what CI checks the service runs
    pulumi.export("service_name", service.service_name)
    pulumi.export("log_group_names", [service.log_group_name, *db_log_groups])
    # What a review stack needs to share this stack's network (scripts/ci/review-stack.sh reads them).
    pulumi.export("vpc_id", network.vpc_id)
    pulumi.export("public_subnet_ids", network.public_subnet_ids)
    pulumi.export("private_subnet_ids", network.private_subnet_ids)
    pulumi.export("rendered_plano_config", plano.text)
