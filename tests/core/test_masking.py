"""Any ``plano:*`` key set with ``--secret`` stays secret: in errors (see the catalogue in
test_bad_inputs.py), warnings, the offline plan and plan-diff, whatever the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plano_tools.cli import main
from plano_tools.plan import plan_diff_markdown, plan_document

from tests.conftest import run_with

# key -> a valid value that the program writes into warnings, resource names, inputs or outputs
# (not a documentation placeholder: prod refuses those, core/settings/placeholders.py)
SECRET_SETTINGS = {
    "allowedCidrs": (["10.77.0.0/16"], "10.77.0.0"),
    "image": ("katanemo/plano:0.4.35", "katanemo/plano:0.4.35"),
    "certificateArn": (
        "arn:aws:acm:us-east-1:491085411627:certificate/11111111-2222-4333-8444-555555555555",
        "11111111-2222-4333-8444-555555555555",
    ),
    "dbInstanceClass": ("db.r7g.large", "db.r7g.large"),
}


@pytest.mark.parametrize("key", SECRET_SETTINGS)
def test_a_secret_key_never_shows_in_warnings_plan_or_plan_diff(
    key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    value, piece = SECRET_SETTINGS[key]
    shown = run_with("prod", values={key: value})
    assert shown.error is None, shown.error
    # The same value as a plain key does show somewhere (so the check below can fail).
    assert piece in json.dumps(plan_document(shown)) + " ".join(shown.warnings)

    run = run_with("prod", secrets={key: value})
    assert run.error is None, run.error
    dashed = piece.replace(".", "-").replace("/", "-").replace(":", "-")
    document = plan_document(run)
    text = json.dumps(document)
    for leak in {piece, dashed}:
        assert leak not in text, f"{key} in the plan"
        assert all(leak not in w for w in run.warnings), run.warnings
    base = plan_document(run_with("prod"))
    diff = plan_diff_markdown(base, document)
    assert piece not in diff and dashed not in diff
    for name, doc in (("base.json", base), ("head.json", document)):
        (tmp_path / name).write_text(json.dumps(doc))
    assert main(["plan-diff", str(tmp_path / "base.json"), str(tmp_path / "head.json")]) == 0
    assert piece not in capsys.readouterr().out


def test_a_price_warning_about_a_secret_key_does_not_show_it() -> None:
    run = run_with("prod", secrets={"dbInstanceClass": "db.x2g.hidden"})
    assert run.error is None, run.error
    document = plan_document(run)
    assert document["warnings"] and "x2g.hidden" not in json.dumps(document)
    plain_document = plan_document(run_with("prod", values={"dbInstanceClass": "db.x2g.hidden"}))
    assert "x2g.hidden" in json.dumps(plain_document)  # the value does reach the plan when not secret


def _plain_leaves_with(value: object, piece: str) -> list[str]:
    """Strings holding ``piece`` that are NOT inside a Pulumi secret (what the state would store in
    plain text)."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _plain_leaves_with(v, piece)]
    if isinstance(value, list):
        return [s for v in value for s in _plain_leaves_with(v, piece)]
    return [value] if isinstance(value, str) and piece in value else []


@pytest.mark.parametrize("key", SECRET_SETTINGS)
def test_a_secret_key_stays_secret_in_the_resource_inputs(key: str) -> None:
    value, piece = SECRET_SETTINGS[key]
    # As a plain key, some resource input holds the value in plain text (so the check can fail).
    plain = run_with("prod", values={key: value})
    assert any(_plain_leaves_with(r.inputs, piece) for r in plain.resources)

    run = run_with("prod", secrets={key: value})
    assert run.error is None, run.error
    leaks = {f"{r.type} {r.name}": _plain_leaves_with(r.inputs, piece) for r in run.resources}
    assert {name: found for name, found in leaks.items() if found} == {}
