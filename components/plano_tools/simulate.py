"""Run the real Pulumi program offline, under ``pulumi.runtime.set_mocks``: no CLI, no cloud.

Used by the tests and by ``python -m plano_tools plan``. It reads ``Pulumi.<stack>.yaml`` the way
the Pulumi CLI would hand it to the program (``secure:`` values become opaque secrets, so no
passphrase is needed), runs ``__main__.py``, and records every resource the program registers:
type, name, parent, inputs as Pulumi passes them (camelCase), resource options, and the stack
outputs. The mocks answer with plausible, deterministic values (ids, ARNs, addresses).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import runpy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plano_pulumi.core.cycles import cycle_collection_held
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.safe_yaml import load as load_yaml
from plano_pulumi.core.safe_yaml import load_stack_file
from plano_pulumi.core.settings import NAMESPACE, RawConfig
from pulumi.runtime.mocks import Mocks

SECRET_PLACEHOLDER = "offline-secret-value"
# What the mocked random password resolves to, so tests can look for leaks of it.
MOCK_PASSWORD = "MockDbPassw0rdNotRealAbCdEfGhIjKlMnOpQr"
MOCK_ACCOUNT = "123456789012"
# What mocked private keys resolve to (not a key), so tests can look for leaks of it.
MOCK_PRIVATE_KEY = "MOCK PRIVATE KEY offline-not-a-real-key"


@dataclass
class Registered:
    """One resource the program registered."""

    type: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]
    id: str = ""
    protect: bool = False
    ignore_changes: tuple[str, ...] = ()
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    depends_on: tuple[str, ...] = ()
    alias_parents: tuple[str, ...] = ()
    """Parent URNs of the resource's aliases (where it may move from)."""
    aliases: tuple[dict[str, Any], ...] = ()
    """The resource's alias specs as the engine receives them (name, type, parentUrn, noParent)."""


@dataclass
class Run:
    """What one offline run of the program produced."""

    project: str
    stack: str
    resources: list[Registered]
    outputs: dict[str, Any]
    warnings: list[str]
    config: RawConfig
    error: Exception | None = None

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registered:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one {type_} {name or ''}, found {[r.name for r in found]}")
        return found[0]

    def by_urn(self, urn: str) -> Registered | None:
        return next((r for r in self.resources if r.urn == urn), None)


# ---------------------------------------------------------------------------------------------
# Stack files


def _secret_leaves(value: Any) -> tuple[Any, bool]:
    """Replace `{secure: ...}` leaves by an opaque placeholder; report whether any was found."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        out, found = {}, False
        for k, v in value.items():
            out[k], f = _secret_leaves(v)
            found |= f
        return out, found
    if isinstance(value, list):
        items = [_secret_leaves(v) for v in value]
        return [i[0] for i in items], any(i[1] for i in items)
    return value, False


def _config_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def read_stack_config(project_dir: Path, stack: str, *, required: bool = True) -> RawConfig:
    """The config the Pulumi CLI would pass for ``stack`` (without the project defaults)."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        if required:
            raise ConfigError(
                str(path.name),
                "does not exist",
                fix=f"create it (copy Pulumi.dev.yaml) or run `pulumi stack init {stack}`",
            )
        return RawConfig(values={})
    document, scalars = load_stack_file(path)
    document = document or {}
    if not isinstance(document, dict) or not isinstance(document.get("config") or {}, dict):
        raise ConfigError(path.name, "must hold a `config:` mapping", fix="see Pulumi.dev.yaml for the layout")
    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, value in (document.get("config") or {}).items():
        if not isinstance(key, str) or not key:
            raise ConfigError(
                f"{path.name}: config",
                "has a key that is not a name",
                value=key,
                fix="write config keys as `plano:name` or `aws:region` (quote a key that looks like a number)",
            )
        full = key if ":" in key else f"{NAMESPACE}:{key}"
        if key in scalars:
            # As the Pulumi CLI passes it: the text written (yes, on, 016 stay strings).
            values[full] = scalars[key]
            continue
        plain, is_secret = _secret_leaves(value)
        values[full] = _config_string(plain)
        if is_secret:
            secret_keys.add(full)
    from plano_pulumi.core.settings import plaintext_secret_leaves

    return RawConfig(values=values, secret_keys=frozenset(secret_keys), plaintext_leaves=plaintext_secret_leaves(path))


def project_name(project_dir: Path) -> str:
    path = project_dir / "Pulumi.yaml"
    try:
        stat = path.stat()
    except OSError:
        return _project_name(path, 0, -1)  # reports the missing file
    # Pulumi.yaml holds the whole config block: parsed once per content, not once per run (~8% of a run).
    return _project_name(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _project_name(path: Path, _mtime_ns: int, _size: int) -> str:
    document = load_yaml(path, what="Pulumi project file", allow_anchors=False)
    if not isinstance(document, dict) or not isinstance(document.get("name"), str):
        raise ConfigError(path.name, "has no `name:`", fix="name the project in Pulumi.yaml (`name: plano`)")
    return str(document["name"])


# ---------------------------------------------------------------------------------------------
# Mocks


def _fake_id(type_: str, name: str) -> str:
    return hashlib.sha256(f"{type_}/{name}".encode()).hexdigest()[:17]


class OfflineMocks(Mocks):
    """Answers resource registrations and invokes with deterministic, plausible values."""

    def __init__(self, region: str) -> None:
        self.region = region

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{MOCK_ACCOUNT}:{resource}"

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        from pulumi.runtime import rpc

        t, name, inputs = args.typ, args.name, dict(args.inputs)
        plain = {k: (rpc.unwrap_rpc_secret(v) if rpc.is_rpc_secret(v) else v) for k, v in inputs.items()}
        fake = _fake_id(t, name)
        physical = (
            plain.get("name") or plain.get("identifier") or plain.get("clusterIdentifier") or f"{name}-{fake[:7]}"
        )
        rid = self._resource_id(t, physical, fake)
        out = {**_generated_values(t, name, plain, fake), **self._aws_attributes(t, name, physical, plain, rid)}
        out.setdefault("arn", self.arn("mock", f"{t.split(':')[-1].lower()}/{physical}"))
        return rid, {**inputs, **out}

    def _resource_id(self, t: str, physical: str, fake: str) -> str:
        """The id AWS would give: a prefixed id, or the ARN for the types whose id is their ARN."""
        prefixes = {
            "aws:ec2/vpc:Vpc": "vpc",
            "aws:ec2/subnet:Subnet": "subnet",
            "aws:ec2/securityGroup:SecurityGroup": "sg",
        }
        if t in prefixes:
            return f"{prefixes[t]}-{fake}"
        if t == "aws:secretsmanager/secret:Secret":
            return self.arn("secretsmanager", f"secret:{physical}-AbCdEf")
        if t == "aws:lb/loadBalancer:LoadBalancer":
            return self.arn("elasticloadbalancing", f"loadbalancer/app/{physical}/{fake[:16]}")
        if t == "aws:lb/targetGroup:TargetGroup":
            return self.arn("elasticloadbalancing", f"targetgroup/{physical}/{fake[:16]}")
        return fake

    def _aws_attributes(self, t: str, name: str, physical: str, plain: dict[str, Any], rid: str) -> dict[str, Any]:
        """Endpoints and ARNs of the AWS resources the program reads back."""
        if t == "aws:rds/instance:Instance":
            return {
                "address": f"{physical}.c0abcdefghij.{self.region}.rds.amazonaws.com",
                "port": 5432,
                "arn": self.arn("rds", f"db:{physical}"),
            }
        if t == "aws:rds/cluster:Cluster":
            return {
                "endpoint": f"{physical}.cluster-c0abcdefghij.{self.region}.rds.amazonaws.com",
                "port": 5432,
                "arn": self.arn("rds", f"cluster:{physical}"),
            }
        if t == "aws:lb/loadBalancer:LoadBalancer":
            dns = f"{physical}-1234567890.{self.region}.elb.amazonaws.com"
            # arnSuffix: CloudWatch's LoadBalancer dimension.
            return {"dns_name": dns, "dnsName": dns, "arn": rid, "arnSuffix": rid.split(":loadbalancer/", 1)[1]}
        if t == "aws:lb/targetGroup:TargetGroup":
            return {"arn": rid, "arnSuffix": rid.rsplit(":", 1)[1]}  # CloudWatch's TargetGroup dimension
        arns = {
            "aws:secretsmanager/secret:Secret": lambda: rid,
            "aws:iam/role:Role": lambda: f"arn:aws:iam::{MOCK_ACCOUNT}:role/{physical}",
            "aws:cloudwatch/logGroup:LogGroup": lambda: self.arn("logs", f"log-group:{physical}"),
            "aws:ecs/cluster:Cluster": lambda: self.arn("ecs", f"cluster/{physical}"),
            "aws:ecs/taskDefinition:TaskDefinition": lambda: self.arn(
                "ecs", f"task-definition/{plain.get('family', name)}:1"
            ),
        }
        return {"arn": arns[t]()} if t in arns else {}

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        token = args.token
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {
                "names": [f"{self.region}a", f"{self.region}b", f"{self.region}c"],
                "zoneIds": ["z1", "z2", "z3"],
            }, []
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": MOCK_ACCOUNT,
                "arn": f"arn:aws:iam::{MOCK_ACCOUNT}:user/offline",
                "userId": "OFFLINE",
            }, []
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}, []
        if token == "aws:secretsmanager/getSecrets:getSecrets":
            return {"arns": [], "names": [], "filters": args.args.get("filters", [])}, []  # nothing deployed offline
        if token == "aws:rds/getClusters:getClusters":
            return {"clusterArns": [], "clusterIdentifiers": [], "filters": args.args.get("filters", [])}, []
        if token == "aws:rds/getInstances:getInstances":
            return {"instanceArns": [], "instanceIdentifiers": [], "filters": args.args.get("filters", [])}, []
        # Anything else cannot be answered offline.
        raise LookupError(f"{token} cannot be answered offline")


def _generated_values(t: str, name: str, plain: dict[str, Any], fake: str) -> dict[str, Any]:
    """What providers generate (passwords, ids, version ids, exit codes, keys and certificates),
    deterministic so runs compare."""
    out: dict[str, Any] = {}
    if t == "random:index/randomPassword:RandomPassword":
        # One known value for the master password; others differ by name and keepers, so
        # tests can tell the passwords apart and see a rotation.
        keepers = json.dumps(plain.get("keepers") or {}, sort_keys=True)
        tag = hashlib.sha256(f"{name}/{keepers}".encode()).hexdigest()[:12]
        out["result"] = MOCK_PASSWORD if name == "password" and keepers == "{}" else f"Mock{tag}Pw"
    elif t == "aws:secretsmanager/secretVersion:SecretVersion":
        # Secrets Manager gives every new value a new version id.
        value = json.dumps(plain.get("secretString"), sort_keys=True, default=str)
        out["version_id"] = out["versionId"] = hashlib.sha256(f"{name}/{value}".encode()).hexdigest()[:32]
    elif t == "random:index/randomId:RandomId":
        out["hex"] = fake[:8]
    elif t == "docker:index/container:Container":
        out["exitCode"] = 0 if plain.get("mustRun") is False else None  # a run-once container succeeded
    elif t == "docker:index/remoteImage:RemoteImage":
        out["imageId"] = f"sha256:{hashlib.sha256(str(plain.get('name')).encode()).hexdigest()}"
    elif t == "tls:index/privateKey:PrivateKey":
        out["privateKeyPem"] = MOCK_PRIVATE_KEY
    elif t in ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"):
        out["certPem"] = f"-----BEGIN CERTIFICATE-----\nmock {name}\n-----END CERTIFICATE-----\n"
    elif t == "tls:index/certRequest:CertRequest":
        out["certRequestPem"] = f"mock certificate request {name}"
    return out


def _monitor_class() -> type:
    from pulumi.runtime import mocks, rpc

    class RecordingMonitor(mocks.MockMonitor):  # type: ignore[misc]
        """A MockMonitor that also keeps each registration's parent, options and the stack outputs."""

        def __init__(self, m: OfflineMocks) -> None:
            super().__init__(m)
            self.records: list[Registered] = []
            self.stack_outputs: dict[str, Any] = {}
            # urn -> (the resource's own transforms, its parent's urn): what the engine keeps.
            self.transforms: dict[str, tuple[list[Any], str]] = {}

        def _apply_transforms(self, request: Any) -> list[Any]:
            """Run transforms as the engine does (the mock monitor does not): the resource's own,
            then each ancestor's from the innermost out, then the stack's."""
            from pulumi import ResourceOptions, ResourceTransformArgs
            from pulumi.runtime.sync_await import _sync_await

            own = mocks._resolve_callbacks(request.transforms)
            chain, parent = list(own), request.parent
            while parent in self.transforms:
                inherited, parent = self.transforms[parent]
                chain += inherited
            chain += self._stack_transforms
            if chain and request.type != "pulumi:pulumi:Stack":
                mocks._ensure_event_loop()  # type: ignore[attr-defined,no-untyped-call]  # monitor thread, as super()
                props = dict(rpc.deserialize_properties(request.object))
                for transform in chain:
                    args = ResourceTransformArgs(request.custom, request.type, request.name, props, ResourceOptions())
                    result = transform(args)
                    if result is not None:
                        props = dict(result.props)
                request.object.CopyFrom(_sync_await(rpc.serialize_properties(props, {})))
            return own

        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            own = self._apply_transforms(request)
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
            self.transforms[response.urn] = (own, request.parent)
            if request.type != "pulumi:pulumi:Stack":
                self.records.append(_registered(request, response, rpc.deserialize_properties(request.object)))
            return response

        def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            if request.urn.split("::")[2] == "pulumi:pulumi:Stack":
                # Registered twice (empty by set_mocks, then by _run_main), in either order: keep both.
                self.stack_outputs = {**self.stack_outputs, **rpc.deserialize_properties(request.outputs)}
            return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    return RecordingMonitor


def _registered(request: Any, response: Any, inputs: dict[str, Any]) -> Registered:
    """One registration as the tests read it: type, name, parent, inputs and options."""
    return Registered(
        type=request.type,
        name=request.name,
        urn=response.urn,
        parent=request.parent,
        inputs=dict(inputs),
        id=response.id,
        protect=bool(request.protect),
        ignore_changes=tuple(request.ignoreChanges),
        delete_before_replace=bool(request.deleteBeforeReplace),
        retain_on_delete=bool(request.retainOnDelete),
        depends_on=tuple(request.dependencies),
        alias_parents=tuple(a.spec.parentUrn for a in request.aliases if a.HasField("spec")),
        aliases=tuple(_alias_spec(a) for a in request.aliases),
    )


def _alias_spec(alias: Any) -> dict[str, Any]:
    if not alias.HasField("spec"):
        return {"urn": alias.urn}
    spec = alias.spec
    which = spec.WhichOneof("parent")  # None: the alias keeps the resource's current parent
    return {
        "name": spec.name,
        "type": spec.type,
        "parentUrn": spec.parentUrn if which == "parentUrn" else None,
        "noParent": which == "noParent",
    }


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _environment(overrides: Mapping[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in overrides}
    try:
        for k, v in overrides.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _no_source_positions() -> Iterator[None]:
    """Skip the SDK's source positions while offline: each resource registration walks and reads the
    whole Python stack (``traceback.extract_stack``) only to tell the engine which line created it,
    which the mocks ignore; it was a quarter of a mocked run's time."""
    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    original = resource._get_stack_trace
    resource._get_stack_trace = source_pb2.StackTrace  # an empty trace: "no source position"
    try:
        yield
    finally:
        resource._get_stack_trace = original


def _run_main(path: Path) -> None:
    runpy.run_path(str(path), run_name="__main__")


def _finish_program(program: Callable[[], None]) -> None:
    """Run the program, then register the root stack's outputs (set_mocks registers them early)."""
    from pulumi.runtime import settings

    program()
    root = settings.get_root_resource()
    root._outputs_registered = False  # type: ignore[union-attr]
    root._finish()  # type: ignore[union-attr]


def run_program(
    project_dir: Path,
    stack: str,
    *,
    config: RawConfig | None = None,
    raise_errors: bool = False,
) -> Run:
    """Run ``__main__.py`` of ``project_dir`` for ``stack`` under mocks and record what it does.

    ``config`` replaces the stack file's config (tests use it for variations).
    """
    raw = config if config is not None else read_stack_config(project_dir, stack)
    return run_callable(
        lambda: _run_main(project_dir / "__main__.py"),
        project=project_name(project_dir),
        stack=stack,
        config=raw,
        raise_errors=raise_errors,
    )


def run_callable(
    program: Callable[[], None],
    *,
    project: str = "plano",
    stack: str = "test",
    config: RawConfig | None = None,
    raise_errors: bool = False,
) -> Run:
    """Run any Pulumi program function under the same mocks (a component constructed on its own)."""
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime import mocks, settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    raw = config if config is not None else RawConfig(values={"aws:region": "us-east-1"})
    region = raw.values.get("aws:region", "us-east-1")

    logger = logging.getLogger(f"plano.offline.{stack}")
    logger.propagate = False
    collector = _WarningCollector()
    logger.handlers = [collector]

    asyncio.set_event_loop(asyncio.new_event_loop())
    settings.reset_options(project=project, stack=stack)
    runtime_config.set_all_config(dict(raw.values), sorted(raw.secret_keys))
    monitor = _monitor_class()(OfflineMocks(region))
    mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, logger=logger, monitor=monitor)

    error: Exception | None = None
    # The program reads only its config; keep the caller's environment out of it.
    env = {"PULUMI_CONFIG": None, "PULUMI_CONFIG_SECRET_KEYS": None}
    try:
        # The cyclic collector is held off: a run allocates some 30,000 objects (futures, tasks,
        # outputs) that it would scan dozens of times, with a full collection of everything the
        # process holds about once a run: about 45% of a mocked run's time in a test process.
        with _environment(env), _no_source_positions(), cycle_collection_held():
            _sync_await(run_pulumi_func(lambda: _finish_program(program)))
    except Exception as exc:  # recorded for the caller; ConfigError is the expected kind
        error = exc
    finally:
        asyncio.get_event_loop().close()
    if error is not None and raise_errors:
        raise error
    return Run(
        project=project,
        stack=stack,
        resources=list(monitor.records),
        outputs=dict(monitor.stack_outputs),
        warnings=list(collector.messages),
        config=raw,
        error=error,
    )


def unwrap_secrets(value: Any, mask: str | None = None) -> Any:
    """Replace Pulumi's secret wrappers with their values (or with ``mask``), recursively."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return mask if mask is not None else unwrap_secrets(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v, mask) for v in value]
    return value


__all__ = ["Registered", "Run", "read_stack_config", "run_callable", "run_program", "unwrap_secrets"]
