"""The local stack (profile local, Docker) under mocks: topology, published ports, secrets, teardown,
and that it carries the same rendered files as the AWS task for the same inputs."""

from __future__ import annotations

import functools
import json
import secrets
from typing import Any

import pytest
from plano_pulumi.core.plano_config import PLANO_INTERNAL_PORTS, SIDECAR_PORT
from plano_pulumi.core.task_env import CA_BUNDLE_PEM_VAR, CA_BUNDLE_URL_VAR
from plano_pulumi.core.task_files import INIT_SCRIPT_NAME, render_init_script
from plano_pulumi.local.layout import DB_HOSTNAME, LOOPBACK, POSTGRES_PORT, START_SCRIPT
from plano_tools.simulate import MOCK_PASSWORD, MOCK_PRIVATE_KEY, Registered, Run, run_program

from tests.conftest import PROJECT, cached_run, config_for, containers, env_of, plain, run_with, stack_run

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"


def _containers(run: Run) -> dict[str, Registered]:
    return {c.name: c for c in run.of_type(CONTAINER)}


def _env(container: Registered) -> dict[str, str]:
    return dict(line.split("=", 1) for line in plain(container.inputs["envs"]))


def _is_secret(value: Any) -> bool:
    from pulumi.runtime import rpc

    return bool(rpc.is_rpc_secret(value))


def test_the_local_stack_is_the_whole_task_on_docker_with_no_aws_resource() -> None:
    run = stack_run("local")
    assert run.error is None, run.error
    types = {r.type for r in run.resources}
    assert not [t for t in types if t.startswith("aws:") or t.startswith("pulumi:providers:aws")]
    assert {c: r.parent.split("::")[-1] for c, r in _containers(run).items()} == {
        "postgres": "database",
        "task": "plano",
        "init": "plano",
        "pgbouncer": "plano",
        "plano": "plano",
    }
    assert {r.type for r in run.resources if r.type.startswith("plano:")} == {
        "plano:index:PlanoOnDocker",
        "plano:local:Network",
        "plano:local:DatabaseCertificates",
        "plano:local:Database",
        "plano:local:Service",
    }
    assert len(run.of_type("docker:index/network:Network")) == 1
    assert {v.inputs["name"] for v in run.of_type(VOLUME)} == {
        "plano-local-pgdata",
        "plano-local-plano-config",
        "plano-local-pgbouncer-config",
    }
    assert run.outputs["endpoint_url"] == "http://127.0.0.1:12000"
    assert run.outputs["profile"] == "local"


def test_nothing_is_published_beyond_loopback_and_never_plano_internal_ports() -> None:
    """The policy of the local stack: 127.0.0.1 only; 9901, 9091, 9092 and the sidecar never."""
    run = stack_run("local")
    published: dict[str, list[tuple[str, int, int]]] = {}
    for name, container in _containers(run).items():
        for port in container.inputs.get("ports") or []:
            published.setdefault(name, []).append((port["ip"], port["internal"], port["external"]))
    assert published == {"task": [(LOOPBACK, 12000, 12000)], "postgres": [(LOOPBACK, POSTGRES_PORT, 15432)]}
    forbidden = {*PLANO_INTERNAL_PORTS, SIDECAR_PORT}
    assert forbidden >= {9901, 9091, 9092, 6432}
    for ports in published.values():
        assert not {internal for _, internal, _ in ports} & forbidden
        assert not {external for _, _, external in ports} & forbidden
    # Nothing publishes everything, nothing uses the host's network.
    for container in _containers(run).values():
        assert not container.inputs.get("publishAllPorts")
        assert container.inputs.get("networkMode", "") != "host"


def test_a_listener_on_another_port_is_published_on_loopback_too(tmp_path: Any) -> None:
    config = (PROJECT / "plano_config.yaml").read_text().replace("port: 12000", "port: 8080")
    (tmp_path / "plano.yaml").write_text(config)
    run = run_with("local", values={"configFile": str(tmp_path / "plano.yaml")})
    assert run.error is None, run.error
    ports = _containers(run)["task"].inputs["ports"]
    assert [(p["ip"], p["internal"], p["external"]) for p in ports] == [(LOOPBACK, 8080, 8080)]


def test_sidecar_and_plano_share_the_task_namespace_as_on_ecs() -> None:
    run = stack_run("local")
    found = _containers(run)
    task_id = found["task"].id
    for name in ("init", "pgbouncer", "plano"):
        assert found[name].inputs["networkMode"] == f"container:{task_id}", name
    assert found["init"].inputs["mustRun"] is False and found["init"].inputs["attach"] is True
    # Plano starts after a healthy sidecar, which starts after the init step.
    by_urn = {r.urn: r.name for r in run.resources}
    assert "init" in {by_urn.get(u) for u in found["pgbouncer"].depends_on}
    assert "pgbouncer" in {by_urn.get(u) for u in found["plano"].depends_on}
    assert found["plano"].inputs["wait"] is True and found["pgbouncer"].inputs["wait"] is True


def test_postgres_accepts_only_tls_with_the_stacks_certificate() -> None:
    run = stack_run("local")
    postgres = _containers(run)["postgres"]
    command = postgres.inputs["command"]
    settings = dict(command[i + 1].split("=", 1) for i, arg in enumerate(command) if arg == "-c")
    assert settings["ssl"] == "on"
    # The private key is among the uploads, so Pulumi keeps them all as a secret input.
    assert _is_secret(postgres.inputs["uploads"])
    uploads = {u["file"]: u for u in plain(postgres.inputs["uploads"])}
    hba = uploads[settings["hba_file"]]["content"]
    rules = [line.split() for line in hba.splitlines() if line.strip() and not line.startswith("#")]
    assert [r[0] for r in rules] == ["local", "hostssl", "hostnossl"]
    assert rules[-1][-1] == "reject" and not [r for r in rules if r[0] == "host"]
    key = uploads[settings["ssl_key_file"]]
    assert key["content"] == MOCK_PRIVATE_KEY
    # The provider's upload writes no owner (its tar header has none): the container's own start
    # script, its entry point, gives the key to the image's postgres user before the server starts.
    assert key["permissions"] == "0600" and "owner" not in key
    assert postgres.inputs["entrypoints"] == ["sh", START_SCRIPT]
    start = uploads[START_SCRIPT]["content"]
    assert f'chown postgres:postgres "{settings["ssl_key_file"]}"' in start
    assert start.index("chown postgres") < start.index("exec docker-entrypoint.sh")
    assert postgres.inputs["image"].startswith("sha256:")
    image = run.one("docker:index/remoteImage:RemoteImage", "image").inputs["name"]
    assert image == "public.ecr.aws/docker/library/postgres:17-alpine"
    # The server certificate names the database as the sidecar reaches it (verify-full).
    request = run.one("tls:index/certRequest:CertRequest")
    assert DB_HOSTNAME in request.inputs["dnsNames"] and LOOPBACK in request.inputs["ipAddresses"]


def test_password_and_keys_reach_containers_only_as_secret_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    shell_key, config_key = f"test-{secrets.token_hex(8)}", f"test-{secrets.token_hex(8)}"  # no secret-shaped literal
    monkeypatch.setenv("OPENAI_API_KEY", shell_key)
    run = run_with("local", secrets={"providerKeys": {"EXTRA_API_KEY": config_key}})
    assert run.error is None, run.error
    found = _containers(run)
    for name in ("postgres", "init", "plano"):
        assert _is_secret(found[name].inputs["envs"]), name
    assert _env(found["postgres"])["POSTGRES_PASSWORD"] == MOCK_PASSWORD
    assert _env(found["init"])["PGPASSWORD"] == MOCK_PASSWORD
    # Plano's own role, as on AWS: the init step sets its password; Plano never gets the master's.
    app_password = _env(found["init"])["APP_DB_PASSWORD"]
    assert app_password != MOCK_PASSWORD
    plano_env = _env(found["plano"])
    assert plano_env["DB_PASS"] == app_password
    assert plano_env["OPENAI_API_KEY"] == shell_key
    assert plano_env["EXTRA_API_KEY"] == config_key
    assert "ANTHROPIC_API_KEY" not in plano_env
    assert any("ANTHROPIC_API_KEY is not set" in w and "local.env" in w for w in run.warnings)
    # Not in any non-secret input, nor in a plain output.
    for resource in run.resources:
        for key, value in resource.inputs.items():
            if _is_secret(value):
                continue
            text = json.dumps(plain(value), default=str)
            for secret in (MOCK_PASSWORD, app_password, shell_key, config_key, MOCK_PRIVATE_KEY):
                assert secret not in text, (resource.name, key)
    assert _is_secret(run.outputs["db_password"])
    plain_outputs = json.dumps({k: v for k, v in run.outputs.items() if not _is_secret(v)}, default=str)
    assert MOCK_PASSWORD not in plain_outputs and MOCK_PRIVATE_KEY not in plain_outputs


def test_external_keys_come_from_local_env_when_the_shell_has_none(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    for name in ("Pulumi.yaml", "Pulumi.local.yaml", "__main__.py", "plano_config.yaml"):
        shutil.copy2(PROJECT / name, tmp_path / name)
    shutil.copytree(PROJECT / "components", tmp_path / "components", ignore=shutil.ignore_patterns("__pycache__"))
    from_file, from_shell, shadowed = (f"test-{secrets.token_hex(6)}" for _ in range(3))
    (tmp_path / "local.env").write_text(f"# keys\nexport OPENAI_API_KEY='{from_file}'\nANTHROPIC_API_KEY={shadowed}\n")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", from_shell)
    run = run_program(tmp_path, "local")
    assert run.error is None, run.error
    env = _env(_containers(run)["plano"])
    assert (env["OPENAI_API_KEY"], env["ANTHROPIC_API_KEY"]) == (from_file, from_shell)
    assert not [w for w in run.warnings if "is not set" in w]


def test_the_data_volume_is_kept_on_destroy_unless_the_setting_says_otherwise() -> None:
    kept = stack_run("local")
    assert [v.inputs["name"] for v in kept.of_type(VOLUME) if v.retain_on_delete] == ["plano-local-pgdata"]
    removed = run_with("local", values={"localKeepDataVolume": False})
    assert removed.error is None, removed.error
    assert [v.name for v in removed.of_type(VOLUME) if v.retain_on_delete] == []
    assert not [r.name for r in removed.resources if r.protect or r.retain_on_delete]


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"stateRetentionDays": 30}, "plano:stateRetentionDays"),
        ({"localDbPort": 12000}, "plano:localDbPort"),
        ({"localDbPort": 80}, "plano:localDbPort"),
    ],
)
def test_bad_local_settings_fail_before_any_resource(changes: dict[str, Any], key: str) -> None:
    run = run_with("local", values=changes)
    assert run.error is not None and key in str(run.error)
    assert run.resources == []


def test_the_local_profile_needs_no_aws_region() -> None:
    run = stack_run("local")
    assert "aws:region" not in run.config.values
    assert run.error is None


# -- one set of renderers -----------------------------------------------------------------------


@functools.cache
def _same_inputs_on_aws() -> Run:
    """The local stack's config, deployed to AWS instead (dev profile, a region): same inputs."""
    # The local stack carries no review stacks; neither does its twin on AWS.
    config = config_for("local", values={"profile": "dev", "aws:region": "us-east-1", "dbReviewStacks": 0})
    run = cached_run("local", config)
    assert run.error is None, run.error
    return run


def test_aws_and_docker_carry_the_same_files_except_hosts_ports_and_paths() -> None:
    aws_init = env_of(containers(_same_inputs_on_aws())["init"])
    local = _containers(stack_run("local"))
    local_init = _env(local["init"])

    assert local_init["PLANO_CONFIG_YAML"] == aws_init["PLANO_CONFIG_YAML"]
    assert local_init["SCHEMA_SQL"] == aws_init["SCHEMA_SQL"]
    assert plain(local["init"].inputs["command"]) == [render_init_script()]
    assert containers(_same_inputs_on_aws())["init"]["command"] == [render_init_script()]

    def without_db_host(ini: str) -> list[str]:
        return [line for line in ini.splitlines() if not line.startswith("plano = host=")]

    assert without_db_host(local_init["PGBOUNCER_INI"]) == without_db_host(aws_init["PGBOUNCER_INI"])
    assert f"plano = host={DB_HOSTNAME} port={POSTGRES_PORT} dbname=plano" in local_init["PGBOUNCER_INI"]
    assert "server_tls_sslmode = verify-full" in local_init["PGBOUNCER_INI"]

    # The rest of the init environment: only where the database is and where its CA comes from.
    differs = {k for k in aws_init.keys() | local_init.keys() if aws_init.get(k) != local_init.get(k)}
    assert differs == {"PGHOST", "PGBOUNCER_INI", CA_BUNDLE_URL_VAR, CA_BUNDLE_PEM_VAR, "PGPASSWORD", "APP_DB_PASSWORD"}
    assert "BEGIN CERTIFICATE" in local_init[CA_BUNDLE_PEM_VAR]
    assert INIT_SCRIPT_NAME == "init.sh"


def test_plano_gets_the_same_environment_on_both_targets() -> None:
    aws_plano = containers(_same_inputs_on_aws())["plano"]
    aws_env = env_of(aws_plano) | {s["name"]: "<secret>" for s in aws_plano["secrets"]}
    local_env = {
        k: "<secret>" if k in aws_env and aws_env[k] == "<secret>" else v
        for k, v in _env(_containers(stack_run("local"))["plano"]).items()
    }
    # External keys unset here: the local stack leaves them out (and warns), AWS injects them.
    externals = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}
    assert {k: v for k, v in aws_env.items() if k not in externals} == {
        k: v for k, v in local_env.items() if k not in externals
    }


def test_the_offline_plan_shows_the_local_topology_at_no_cost() -> None:
    from plano_tools.plan import plan_document, plan_text
    from plano_tools.pricing import PricingError, local_estimate

    document = plan_document(stack_run("local"))
    assert document["cost"]["monthly_usd"] == 0.0 and document["cost"]["items"] == []
    text = plan_text(document)
    assert "plano:local:Service" in text and '"ip": "127.0.0.1"' in text
    assert "aws:" not in json.dumps(document["resources"])
    shown = json.dumps(document) + text
    assert MOCK_PASSWORD not in shown and MOCK_PRIVATE_KEY not in shown  # secrets are masked
    # An AWS resource in the local profile would be a bug, not a free resource.
    with pytest.raises(PricingError, match="created cloud resources"):
        local_estimate([{"type": "aws:rds/instance:Instance", "name": "x"}])


def test_render_of_the_local_stack_writes_the_files_its_init_step_gets(tmp_path: Any) -> None:
    from plano_tools.cli import main

    assert main(["render", "--stack", "local", "--out", str(tmp_path)]) == 0
    init_env = _env(_containers(stack_run("local"))["init"])
    assert (tmp_path / "pgbouncer.ini").read_text() == init_env["PGBOUNCER_INI"]
    assert (tmp_path / "schema.sql").read_text() == init_env["SCHEMA_SQL"]
    assert (tmp_path / "plano_config.yaml").read_text() == init_env["PLANO_CONFIG_YAML"]


def test_named_docker_objects_are_replaced_delete_first() -> None:
    """Docker refuses a second container, volume or network of the same name."""
    run = stack_run("local")
    named = [
        r for r in run.resources if r.type in (CONTAINER, VOLUME, "docker:index/network:Network") and "name" in r.inputs
    ]
    assert len(named) == 9
    assert [r.name for r in named if not r.delete_before_replace] == []


# -- what pulumi-docker does with the inputs (issue 17: findings 7, 8, 9) ------------------------


def _run_local_with(monkeypatch: pytest.MonkeyPatch, change: Any) -> Run:
    """The committed local stack under mocks whose answers ``change(type, name, outputs)`` edits."""
    from plano_tools import simulate

    original = simulate.OfflineMocks.new_resource

    def new_resource(self: Any, args: Any) -> tuple[str, dict[str, Any]]:
        rid, outputs = original(self, args)
        change(args.typ, args.name, outputs)
        return rid, outputs

    monkeypatch.setattr(simulate.OfflineMocks, "new_resource", new_resource)
    return run_program(PROJECT, "local")


def test_a_failed_init_step_names_the_command_that_runs_it_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its exit code stays in state until it is replaced, so a plain second `up` fails the same way:
    the error says the one command that works once the cause is fixed."""

    def init_fails(type_: str, name: str, outputs: dict[str, Any]) -> None:
        if type_ == CONTAINER and name == "init":
            outputs["exitCode"] = 3

    run = _run_local_with(monkeypatch, init_fails)
    assert run.error is not None
    init = _containers(run)["init"]
    message = str(run.error)
    assert "exited with 3" in message and "docker logs plano-local-init" in message
    assert f"pulumi up --stack local --replace '{init.urn}'" in message


def test_a_new_ca_replaces_pgbouncer_which_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The init step writes the CA into PgBouncer's volume; PgBouncer reads it only at start, so its
    own inputs must change with the CA (pulumi-docker replaces a container whose labels change)."""
    from plano_pulumi.local.spec import INPUTS_LABEL

    def new_ca(type_: str, name: str, outputs: dict[str, Any]) -> None:
        if type_ == "tls:index/selfSignedCert:SelfSignedCert":
            outputs["certPem"] = "-----BEGIN CERTIFICATE-----\nmock renewed ca\n-----END CERTIFICATE-----\n"

    before = _containers(stack_run("local"))
    after_run = _run_local_with(monkeypatch, new_ca)
    assert after_run.error is None, after_run.error
    after = _containers(after_run)

    def labels(container: Registered) -> dict[str, str]:
        return {label["label"]: label["value"] for label in plain(container.inputs.get("labels") or [])}

    assert _env(before["init"])[CA_BUNDLE_PEM_VAR] != _env(after["init"])[CA_BUNDLE_PEM_VAR]
    assert labels(before["pgbouncer"]) != labels(after["pgbouncer"])
    assert labels(before["pgbouncer"])[INPUTS_LABEL] != labels(after["pgbouncer"])[INPUTS_LABEL]
    # Plano does not read the CA: it keeps running.
    assert labels(before["plano"]) == labels(after["plano"])


def test_stopping_gives_the_grace_docker_is_told_and_health_checks_read_back_unchanged() -> None:
    """pulumi-docker stops a container it deletes or replaces with a timeout of 0 unless
    destroy_grace_seconds is set; Docker's provider reads health check durations back as Go prints
    them ("1m30s"), so any other spelling is a difference on every `pulumi up`."""
    from plano_pulumi.local.spec import go_duration

    def seconds(text: str) -> int:
        total, number = 0, ""
        for char in text:
            if char.isdigit():
                number += char
            else:
                total += int(number) * {"h": 3600, "m": 60, "s": 1}[char]
                number = ""
        return total

    found = _containers(stack_run("local"))
    graced = {name: c.inputs.get("stopTimeout") for name, c in found.items() if c.inputs.get("stopTimeout")}
    assert set(graced) == {"postgres", "pgbouncer", "plano"}
    for name, timeout in graced.items():
        assert found[name].inputs.get("destroyGraceSeconds") == timeout, name
    checked = {name: c.inputs["healthcheck"] for name, c in found.items() if c.inputs.get("healthcheck")}
    assert set(checked) == {"postgres", "pgbouncer", "plano"}
    for name, check in checked.items():
        for key in ("interval", "timeout", "startPeriod"):
            assert check[key] == go_duration(seconds(check[key])), (name, key, check[key])
    assert checked["plano"]["startPeriod"] == "1m30s"
    assert [go_duration(s) for s in (0, 5, 60, 90, 3600, 3725)] == ["0s", "5s", "1m0s", "1m30s", "1h0m0s", "1h2m5s"]


def test_the_program_deploys_exactly_the_container_descriptions_the_engine_tests_run() -> None:
    """One description per container (local/spec.py): the pulumi-docker inputs are made from it."""
    from plano_pulumi.core.naming import Names
    from plano_pulumi.core.task_files import task_files
    from plano_pulumi.local.layout import LocalNames
    from plano_pulumi.local.spec import init_spec, pgbouncer_spec, plano_spec, postgres_spec, task_spec

    from tests.integration.servers import stack_settings

    settings = stack_settings("local")
    db, names = settings.database, LocalNames(Names("plano", "local"))
    files = task_files(settings.plano.text, settings.database, DB_HOSTNAME, POSTGRES_PORT)
    image = settings.service
    specs = {
        "postgres": postgres_spec(
            name=names.container("postgres"),
            data_volume=names.data_volume,
            image="postgres",
            network=names.network,
            db_name=db.name,
            db_user=db.user,
            password="p",
            host_port=settings.local.db_port,
            server_cert_pem="c",
            server_key_pem="k",
        ),
        "task": task_spec(names, image=image.init_image, network=names.network, listeners=settings.plano.listeners),
        "init": init_spec(
            names,
            image=image.init_image,
            files=files,
            db_host=DB_HOSTNAME,
            db_port=POSTGRES_PORT,
            db_name=db.name,
            db_user=db.user,
            app_user=db.app_user,
            tls_mode=db.tls_mode,
            ca_cert_pem="ca",
            db_password="p",
            app_password="a",
        ),
        "pgbouncer": pgbouncer_spec(
            names, image=image.pgbouncer_image, files=files, ca_cert_pem="ca", app_user=db.app_user, db_name=db.name
        ),
        "plano": plano_spec(
            names,
            image=image.image,
            files=files,
            health_port=settings.plano.health_listener.port,
            environment={},
            secrets={},
        ),
    }
    found = _containers(stack_run("local"))
    assert set(found) == set(specs)
    for role, spec in specs.items():
        inputs = plain(found[role].inputs)
        assert inputs["name"] == spec.name, role
        assert inputs.get("entrypoints") == (list(spec.entrypoint) if spec.entrypoint else None), role
        assert (inputs.get("command") or []) == list(spec.command), role
        assert [(p["internal"], p["external"], p["ip"]) for p in inputs.get("ports") or []] == [
            (p.internal, p.external, p.ip) for p in spec.ports
        ], role
        assert [(u["file"], u["permissions"]) for u in inputs.get("uploads") or []] == [
            (f.path, f"{f.mode:04o}") for f in spec.files
        ], role
        assert [(v["containerPath"], bool(v.get("readOnly"))) for v in inputs.get("volumes") or []] == [
            (v.path, v.read_only) for v in spec.volumes
        ], role
        check = inputs.get("healthcheck")
        assert (check["tests"] if check else None) == (list(spec.healthcheck.test) if spec.healthcheck else None), role
        assert inputs.get("stopSignal") == spec.stop_signal and inputs.get("stopTimeout") == spec.stop_timeout_s, role
        assert inputs.get("restart") == spec.restart and bool(inputs.get("init")) == spec.init, role
        if spec.shares_network_of:
            assert inputs["networkMode"] == f"container:{found[spec.shares_network_of].id}", role
        else:
            [network] = inputs["networksAdvanced"]
            assert network.get("aliases", []) == list(spec.aliases), role
        env_names = sorted(line.split("=", 1)[0] for line in inputs.get("envs") or [])
        expected = sorted(spec.env) if role != "plano" else sorted({*spec.env, "DB_PASS"})
        if role == "plano":  # the stack's provider keys come on top of the description's own
            env_names = [n for n in env_names if not n.endswith("_API_KEY")]
        assert env_names == expected, role
