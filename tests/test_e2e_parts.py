"""The parts of the end-to-end test that need no Docker: the mock provider over real HTTP on
loopback, the exchange assertions on an exchange recorded from it, and the e2e Plano config."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.e2e.exchange import (
    chat_requests,
    check_authorization,
    check_response,
    check_upstream_carries,
    response_text,
)
from tests.e2e.mock_provider import MockProvider, reply_text

KEY = "mock-provider-test-key"


def _post(url: str, body: dict[str, Any], key: str = KEY) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return dict(json.loads(answer.read()))


def _record(second_turn_messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two chat completions through the mock, shaped as Plano translates Responses API turns."""
    with MockProvider("127.0.0.1") as mock:
        url = f"{mock.url}/v1/chat/completions"
        _post(url, {"model": "mock-small", "messages": [{"role": "user", "content": "My name is Ada."}]})
        _post(url, {"model": "mock-small", "messages": second_turn_messages})
        with urllib.request.urlopen(f"{mock.url}/_recorded", timeout=10) as answer:
            recorded: list[dict[str, Any]] = json.loads(answer.read())
    return recorded


FIRST_REPLY = reply_text(1, [{}])


def test_the_mock_answers_chat_completions_and_records_them_over_real_http() -> None:
    recorded = _record([{"role": "user", "content": "What is my name?"}])
    chats = chat_requests(recorded)
    assert len(chats) == 2
    assert chats[0]["response"]["choices"][0]["message"]["content"] == FIRST_REPLY
    assert chats[1]["response"]["choices"][0]["message"]["content"] == reply_text(2, [{}])
    assert check_authorization(chats[0], KEY) == []
    assert check_authorization(chats[0], "another-key") != []


def test_the_mock_streams_when_asked() -> None:
    with MockProvider("127.0.0.1") as mock:
        request = urllib.request.Request(
            f"{mock.url}/v1/chat/completions",
            data=json.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.headers["Content-Type"] == "text/event-stream"
            body = answer.read().decode()
    assert body.endswith("data: [DONE]\n\n") and reply_text(1, [{}]) in body


def test_a_follow_up_that_carries_the_first_turn_passes() -> None:
    recorded = _record(
        [
            {"role": "user", "content": [{"type": "text", "text": "My name is Ada."}]},
            {"role": "assistant", "content": FIRST_REPLY},
            {"role": "user", "content": "What is my name?"},
        ]
    )
    follow_up = chat_requests(recorded)[-1]
    earlier = [("user", "My name is Ada."), ("assistant", FIRST_REPLY)]
    assert check_upstream_carries(follow_up, earlier=earlier, new_input="What is my name?") == []


def test_a_follow_up_that_lost_its_history_fails() -> None:
    recorded = _record([{"role": "user", "content": "What is my name?"}])
    follow_up = chat_requests(recorded)[-1]
    problems = check_upstream_carries(
        follow_up, earlier=[("user", "My name is Ada."), ("assistant", FIRST_REPLY)], new_input="What is my name?"
    )
    assert len(problems) == 2 and all("history lost" in p for p in problems)


def test_turns_out_of_order_or_a_missing_new_input_fail() -> None:
    recorded = _record(
        [
            {"role": "assistant", "content": FIRST_REPLY},
            {"role": "user", "content": "My name is Ada."},
        ]
    )
    follow_up = chat_requests(recorded)[-1]
    problems = check_upstream_carries(
        follow_up, earlier=[("user", "My name is Ada."), ("assistant", FIRST_REPLY)], new_input="What is my name?"
    )
    assert any("last message" in p for p in problems) and any("history lost" in p for p in problems)


def test_responses_api_answers_are_checked() -> None:
    good = {
        "id": "resp_abc",
        "object": "response",
        "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hi"}]}],
    }
    assert response_text(good) == "hi" and check_response(good, status=200) == []
    assert check_response(good, status=409) != []
    assert check_response({"id": "resp_x", "output": []}, status=200) == ["the response carries no assistant text"]


def test_the_e2e_stack_is_a_valid_local_stack_with_the_mock_as_provider(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the harness hands `pulumi up`, run through the real program under mocks."""
    from plano_tools.simulate import run_program

    from tests.e2e.harness import KEY_NAME, Project, render_test_config

    monkeypatch.setenv(KEY_NAME, "mock-key-for-this-test")
    config = render_test_config(18123, "http://172.17.0.1:18124")
    project = Project.create(tmp_path, config_text=config, db_port=15999, key="unused")
    run = run_program(project.root, "local")
    assert run.error is None, run.error
    assert run.outputs["endpoint_url"] == "http://127.0.0.1:18123"
    assert "base_url: http://172.17.0.1:18124" in run.outputs["rendered_plano_config"]
    assert "state_storage" in run.outputs["rendered_plano_config"]
    assert not [w for w in run.warnings if "is not set" in w]
    assert project.env["PULUMI_BACKEND_URL"].startswith("file://")
    # Nothing left behind by `pulumi destroy`: the e2e stack does not keep its data volume.
    assert [r.name for r in run.resources if r.retain_on_delete] == []
    postgres = next(r for r in run.resources if r.name == "postgres")
    assert [p["external"] for p in postgres.inputs["ports"]] == [15999]


def test_make_e2e_and_its_workflow_job_cannot_pass_by_skipping() -> None:
    import yaml

    from tests.conftest import PROJECT
    from tests.e2e.harness import REQUIRED_ENV

    makefile = (PROJECT / "Makefile").read_text()
    assert f"{REQUIRED_ENV}=1 $(PY) -m pytest -m e2e tests/e2e" in makefile
    workflow = yaml.safe_load((PROJECT / ".github/workflows/pull-request.yml").read_text())
    job = workflow["jobs"]["e2e"]
    assert job["runs-on"] == "ubuntu-latest" and "container" not in job  # the runner's Docker engine
    [step] = [s for s in job["steps"] if s.get("run") == "make e2e"]
    assert step["env"][REQUIRED_ENV] == "1"
    assert any(str(s.get("uses", "")).startswith("pulumi/actions@") for s in job["steps"])
    assert job["permissions"] == {"contents": "read"} and "secrets." not in yaml.safe_dump(job)


def test_the_precondition_message_reads_as_a_sentence() -> None:
    from tests.e2e.harness import REQUIRED_ENV, precondition_message

    missing = ["the Pulumi CLI (pulumi) is not installed", "no Docker engine answers (`docker info` failed)"]
    skip = precondition_message(missing, required=False)
    assert skip == (
        "end-to-end test skipped (it needs Docker, the Pulumi CLI and psql): the Pulumi CLI (pulumi) is not "
        "installed; no Docker engine answers (`docker info` failed)"
    )
    assert "needs the Pulumi CLI (pulumi) is not" not in skip  # the garbled form
    fail = precondition_message(missing, required=True)
    assert fail.startswith(f"{REQUIRED_ENV} is set, but the end-to-end test cannot run: the Pulumi CLI")
