"""A container description (``spec.ContainerSpec``) as a pulumi-docker Container: the one mapping.

Every field of the description becomes the provider's input of the same meaning, in the form the
provider reads back (durations as Go prints them, environments sorted), so a second `pulumi up`
sees no difference. ``stop_timeout_s`` sets both ``stop_timeout`` (Docker's, for `docker stop` and
restarts) and ``destroy_grace_seconds`` (the provider stops a container with a timeout of 0 when
it deletes or replaces it, unless that is set).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_docker as docker

from plano_pulumi.local.layout import env_list
from plano_pulumi.local.spec import INPUTS_LABEL, ContainerSpec, inputs_digest


def container(
    resource_name: str,
    spec: ContainerSpec[pulumi.Input[str]],
    *,
    image_id: pulumi.Input[str],
    namespace_of: Mapping[str, docker.Container] | None = None,
    extra_labels: Sequence[docker.ContainerLabelArgs] = (),
    opts: pulumi.ResourceOptions | None = None,
) -> docker.Container:
    """The resource for ``spec``; ``namespace_of`` maps a role to the container whose network
    namespace a ``shares_network_of`` description joins."""
    network_mode, networks = _network(spec, namespace_of)
    labels = _labels(spec, extra_labels)
    once = spec.runs_once
    return docker.Container(
        resource_name,
        name=spec.name,
        image=image_id,
        hostname=spec.hostname,
        entrypoints=list(spec.entrypoint) if spec.entrypoint is not None else None,
        command=list(spec.command) or None,
        envs=_env(spec),
        uploads=_uploads(spec) or None,
        volumes=[
            docker.ContainerVolumeArgs(volume_name=v.volume, container_path=v.path, read_only=v.read_only or None)
            for v in spec.volumes
        ]
        or None,
        network_mode=network_mode,
        networks_advanced=networks,
        ports=[docker.ContainerPortArgs(internal=p.internal, external=p.external, ip=p.ip) for p in spec.ports] or None,
        hosts=[docker.ContainerHostArgs(host=host, ip=ip) for host, ip in spec.extra_hosts] or None,
        healthcheck=_healthcheck(spec),
        labels=labels or None,
        init=spec.init or None,
        restart=spec.restart,
        stop_signal=spec.stop_signal,
        stop_timeout=spec.stop_timeout_s,
        destroy_grace_seconds=spec.stop_timeout_s,
        # Run-once: deploys wait for it to exit (attach) and keep its exit code and output.
        must_run=False if once else None,
        attach=True if once else None,
        logs=True if once else None,
        wait=True if spec.wait_timeout_s is not None else None,
        wait_timeout=spec.wait_timeout_s,
        opts=opts,
    )


def _env(spec: ContainerSpec[pulumi.Input[str]]) -> pulumi.Input[Sequence[str]] | None:
    """``NAME=value`` lines, secret as a whole when any value is."""
    if not spec.env:
        return None
    plain_env = pulumi.Output.all(**spec.env).apply(lambda values: env_list(values))
    return pulumi.Output.secret(plain_env) if spec.secret_env else plain_env


def _uploads(spec: ContainerSpec[pulumi.Input[str]]) -> list[docker.ContainerUploadArgs]:
    """The files written into the container before it starts (secret ones as secrets)."""
    return [
        docker.ContainerUploadArgs(
            file=f.path,
            content=pulumi.Output.secret(f.content) if f.secret else f.content,
            permissions=f"{f.mode:04o}",
        )
        for f in spec.files
    ]


def _network(
    spec: ContainerSpec[pulumi.Input[str]], namespace_of: Mapping[str, docker.Container] | None
) -> tuple[pulumi.Input[str] | None, list[docker.ContainerNetworksAdvancedArgs] | None]:
    """Another container's network namespace (``shares_network_of``), or a network of its own."""
    if spec.shares_network_of is not None:
        holder = (namespace_of or {})[spec.shares_network_of]
        return holder.id.apply(lambda container_id: f"container:{container_id}"), None
    if spec.network is not None:
        return None, [docker.ContainerNetworksAdvancedArgs(name=spec.network, aliases=list(spec.aliases) or None)]
    return None, None


def _labels(
    spec: ContainerSpec[pulumi.Input[str]], extra_labels: Sequence[docker.ContainerLabelArgs]
) -> list[docker.ContainerLabelArgs]:
    """``extra_labels`` and the digest of the inputs Docker does not compare (``hidden_inputs``)."""
    labels = list(extra_labels)
    if spec.hidden_inputs:
        digest = pulumi.Output.all(*spec.hidden_inputs).apply(lambda values: inputs_digest([str(v) for v in values]))
        labels.append(docker.ContainerLabelArgs(label=INPUTS_LABEL, value=digest))
    return labels


def _healthcheck(spec: ContainerSpec[pulumi.Input[str]]) -> docker.ContainerHealthcheckArgs | None:
    if spec.healthcheck is None:
        return None
    check = spec.healthcheck
    return docker.ContainerHealthcheckArgs(tests=list(check.test), retries=check.retries, **check.durations)
