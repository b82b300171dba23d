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
    env: pulumi.Input[Sequence[str]] | None = None
    if spec.env:
        plain_env = pulumi.Output.all(**spec.env).apply(lambda values: env_list(values))
        env = pulumi.Output.secret(plain_env) if spec.secret_env else plain_env

    uploads = [
        docker.ContainerUploadArgs(
            file=f.path,
            content=pulumi.Output.secret(f.content) if f.secret else f.content,
            permissions=f"{f.mode:04o}",
        )
        for f in spec.files
    ]
    network_mode: pulumi.Input[str] | None = None
    networks = None
    if spec.shares_network_of is not None:
        holder = (namespace_of or {})[spec.shares_network_of]
        network_mode = holder.id.apply(lambda container_id: f"container:{container_id}")
    elif spec.network is not None:
        networks = [docker.ContainerNetworksAdvancedArgs(name=spec.network, aliases=list(spec.aliases) or None)]

    labels = list(extra_labels)
    if spec.hidden_inputs:
        digest = pulumi.Output.all(*spec.hidden_inputs).apply(lambda values: inputs_digest([str(v) for v in values]))
        labels.append(docker.ContainerLabelArgs(label=INPUTS_LABEL, value=digest))

    healthcheck = None
    if spec.healthcheck is not None:
        check = spec.healthcheck
        healthcheck = docker.ContainerHealthcheckArgs(tests=list(check.test), retries=check.retries, **check.durations)

    once = spec.runs_once
    return docker.Container(
        resource_name,
        name=spec.name,
        image=image_id,
        hostname=spec.hostname,
        entrypoints=list(spec.entrypoint) if spec.entrypoint is not None else None,
        command=list(spec.command) or None,
        envs=env,
        uploads=uploads or None,
        volumes=[
            docker.ContainerVolumeArgs(volume_name=v.volume, container_path=v.path, read_only=v.read_only or None)
            for v in spec.volumes
        ]
        or None,
        network_mode=network_mode,
        networks_advanced=networks,
        ports=[docker.ContainerPortArgs(internal=p.internal, external=p.external, ip=p.ip) for p in spec.ports] or None,
        hosts=[docker.ContainerHostArgs(host=host, ip=ip) for host, ip in spec.extra_hosts] or None,
        healthcheck=healthcheck,
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
