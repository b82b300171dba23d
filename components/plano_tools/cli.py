"""Offline tools: ``python -m plano_tools <command>``. No cloud credentials, no Pulumi CLI.

    render --stack STACK [--out DIR] [--db-host HOST] [--db-port PORT]
        The files the task's init step writes, from the same code as the task definition.
    plan --stack STACK [--json]
        The program run under mocks: resources by component, then the monthly cost.
    plan-diff BASE.json HEAD.json
        Markdown for a pull-request comment: resources added, removed, changed, and the cost delta.
    config-reference
        The README's table of config keys, from the declarations in settings.py.
    sync-pulumi-yaml
        Rewrite the `config:` block of Pulumi.yaml from the declarations in settings.py.
    pin-images --stack STACK
        Pin the stack's images by digest in Pulumi.STACK.yaml (asks the registries, anonymously).

Bad input prints one ``error:`` line (the same message ``pulumi preview`` shows) and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.settings import Profile

PLACEHOLDER_DB_HOST = "db-address.invalid"
PLAN_FIX = "create it with `.venv/bin/python -m plano_tools plan --stack STACK --json > FILE`"
PLAN_KEYS = ("stack", "profile", "resources", "cost")  # .invalid never resolves: obviously not a real host


def _settings(stack: str, project_dir: Path):  # type: ignore[no-untyped-def]
    from plano_pulumi.core.settings import load_settings

    from plano_tools.simulate import project_name, read_stack_config

    raw = read_stack_config(project_dir, stack)
    return load_settings(
        raw,
        project=project_name(project_dir),
        stack=stack,
        base_dir=project_dir,
        region=raw.values.get("aws:region"),
    )


def cmd_render(args: argparse.Namespace) -> int:
    from plano_pulumi.core.task_files import PLANO_CONFIG_NAME, task_files

    settings = _settings(args.stack, args.project_dir)
    if settings.profile is Profile.LOCAL and args.db_host == PLACEHOLDER_DB_HOST:
        from plano_pulumi.local.layout import DB_HOSTNAME

        args.db_host = DB_HOSTNAME  # the local stack's database has a fixed name on its network
    files = task_files(settings.plano.text, settings.database, args.db_host, args.db_port)
    if args.out is None:
        sys.stdout.write(files[PLANO_CONFIG_NAME])
        return 0
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(
            "--out", f"{out} exists and is not a directory", fix="pass a directory (it is created if missing)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (out / name).write_text(content, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            "--out", f"cannot write to {out} ({exc.strerror or exc})", fix="pass a writable directory"
        ) from None
    print(f"wrote {', '.join(sorted(files))} to {out}/")
    if args.db_host == PLACEHOLDER_DB_HOST:
        print(f"pgbouncer.ini uses {PLACEHOLDER_DB_HOST}: pass --db-host $(pulumi stack output db_address)")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from plano_tools.plan import plan_document, plan_text
    from plano_tools.simulate import run_program

    run = run_program(args.project_dir, args.stack)
    if run.error is not None:
        raise run.error
    document = plan_document(run)
    if args.json:
        json.dump(document, sys.stdout, indent=2, sort_keys=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(plan_text(document))
    return 0


def cmd_plan_diff(args: argparse.Namespace) -> int:
    from plano_tools.plan import plan_diff_markdown
    from plano_tools.plan_file import load_plan

    # Bounded, and checked against docs/plan.schema.json before anything reads it.
    documents = [load_plan(Path(path)) for path in (args.base, args.head)]
    sys.stdout.write(plan_diff_markdown(documents[0], documents[1]))
    return 0


def cmd_config_reference(args: argparse.Namespace) -> int:
    from plano_pulumi.core.settings import config_reference_markdown

    sys.stdout.write(config_reference_markdown())
    return 0


def cmd_sync_pulumi_yaml(args: argparse.Namespace) -> int:
    import yaml
    from plano_pulumi.core.settings import pulumi_yaml_config_block

    path = args.project_dir / "Pulumi.yaml"
    text = path.read_text(encoding="utf-8")
    head = text[: text.index("\nconfig:\n") + 1] if "\nconfig:\n" in text else text
    block = yaml.safe_dump({"config": pulumi_yaml_config_block()}, sort_keys=False, width=110)
    path.write_text(head + block, encoding="utf-8")
    print(f"rewrote the config block of {path}")
    return 0


def cmd_pin_images(args: argparse.Namespace) -> int:
    from plano_tools.pin_images import main as pin_images

    return pin_images(["--stack", args.stack], project_dir=args.project_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plano_tools", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--project-dir", type=Path, default=Path.cwd(), help="the Pulumi project (default: the current directory)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    render = sub.add_parser("render", help="write the files the task's init step writes")
    render.add_argument("--stack", required=True)
    render.add_argument("--out", help="directory to write to (default: print the Plano config)")
    render.add_argument("--db-host", default=PLACEHOLDER_DB_HOST, help="database address for pgbouncer.ini")
    render.add_argument("--db-port", type=int, default=5432)
    render.set_defaults(func=cmd_render)

    plan = sub.add_parser("plan", help="offline plan with a monthly cost estimate")
    plan.add_argument("--stack", required=True)
    plan.add_argument("--json", action="store_true", help="the JSON contract (see README)")
    plan.set_defaults(func=cmd_plan)

    diff = sub.add_parser("plan-diff", help="Markdown diff of two plan JSON files")
    diff.add_argument("base")
    diff.add_argument("head")
    diff.set_defaults(func=cmd_plan_diff)

    reference = sub.add_parser("config-reference", help="the README's config table")
    reference.set_defaults(func=cmd_config_reference)

    sync = sub.add_parser("sync-pulumi-yaml", help="rewrite Pulumi.yaml's config block from settings.py")
    sync.set_defaults(func=cmd_sync_pulumi_yaml)

    pin = sub.add_parser("pin-images", help="pin the stack's images by digest (asks the registries)")
    pin.add_argument("--stack", required=True)
    pin.set_defaults(func=cmd_pin_images)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
