"""Plano on AWS: Pulumi components and the pure functions they are built from.

Pure modules (no Pulumi resources): ``settings`` (config in, validated settings out), ``naming``,
``plano_config`` (render the user's Plano config), ``task_files`` (pgbouncer.ini, schema.sql,
init.sh), ``containers`` and ``iam`` (task definition and policy documents), ``errors``.
Components: ``network``, ``firewall``, ``database``, ``secrets``, ``ingress``, ``service``.
Offline tools: ``simulate`` (run the program under mocks) and ``python -m plano_tools``.
"""
