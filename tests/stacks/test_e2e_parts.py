"""The parts of the end-to-end test that need no Docker: the mock provider over real HTTP on
loopback, the exchange assertions on an exchange recorded from it, and the e2e Plano config."""

from __future__ import annotations

import functools
import json
import urllib.request
from typing import Any

import pytest

from tests.conftest import PROJECT as PROJECT_DIR
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
    run = run_program(project.root, project.stack)
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


def _post_raw(mock: MockProvider, body: bytes, *, chunked: bool) -> dict[str, Any]:
    import http.client

    conn = http.client.HTTPConnection(mock.host, mock.port, timeout=10)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    if chunked:
        # As Envoy sends it once Plano's filter removed Content-Length: several chunks, no length.
        parts = [body[i : i + 7] for i in range(0, len(body), 7)]
        conn.request("POST", "/v1/chat/completions", body=iter(parts), headers=headers, encode_chunked=True)
    else:
        conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
    answer = json.loads(conn.getresponse().read())
    conn.close()
    return dict(answer)


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_the_mock_reads_the_body_chunked_as_envoy_sends_it_or_with_a_length(chunked: bool) -> None:
    messages = [{"role": "user", "content": "My name is Ada."}, {"role": "user", "content": "What is my name?"}]
    body = json.dumps({"model": "mock-small", "messages": messages}).encode()
    with MockProvider("127.0.0.1") as mock:
        answer = _post_raw(mock, body, chunked=chunked)
        second = _post_raw(mock, body, chunked=chunked)  # the connection stays usable after it
        [first, again] = mock.log.chat_requests()
    assert first.body == {"model": "mock-small", "messages": messages}
    assert ("transfer-encoding" in first.headers) is chunked
    assert answer["choices"][0]["message"]["content"] == reply_text(1, messages)
    assert again.body == first.body and second["choices"][0]["message"]["content"] == reply_text(2, messages)


def test_read_body_handles_chunk_extensions_and_trailers() -> None:
    import io

    from tests.e2e.mock_provider import read_body

    stream = io.BytesIO(b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT")
    assert read_body({"Transfer-Encoding": "chunked"}, stream) == b"Wikipedia"
    assert stream.read() == b"NEXT"  # nothing of the next request was consumed
    assert read_body({"Content-Length": "3"}, io.BytesIO(b"abcdef")) == b"abc"


DOCKER_OBJECTS = ("docker:index/container:Container", "docker:index/volume:Volume", "docker:index/network:Network")


def _docker_names(run: Any) -> set[str]:
    return {str(r.inputs["name"]) for r in run.resources if r.type in DOCKER_OBJECTS and "name" in r.inputs}


def test_the_e2e_stack_is_its_own_and_shares_no_docker_name_with_the_users_local_stack(tmp_path: Any) -> None:
    """The user's `local` stack keeps its data volume on destroy; an e2e run under the same names
    would adopt that volume and its destroy would delete it."""
    from plano_tools.simulate import run_program

    from tests.conftest import stack_run
    from tests.e2e.harness import Project, render_test_config

    project = Project.create(
        tmp_path, config_text=render_test_config(18123, "http://172.17.0.1:1"), db_port=15999, key="k"
    )
    assert project.stack != "local" and project.stack.startswith("e2e-")
    assert (project.root / f"Pulumi.{project.stack}.yaml").is_file()
    assert not (project.root / "Pulumi.local.yaml").exists()
    run = run_program(project.root, project.stack)
    assert run.error is None, run.error
    ours, users = _docker_names(run), _docker_names(stack_run("local"))
    assert ours == set(project.docker_names) and len(ours) == 9
    assert not ours & users
    # Another run gets another stack, so a leftover of an interrupted run is never adopted either.
    (tmp_path / "other").mkdir()
    other = Project.create(tmp_path / "other", config_text="", db_port=1, key="k")
    assert other.stack != project.stack


def test_the_e2e_refuses_to_start_where_an_object_with_its_names_exists(tmp_path: Any) -> None:
    from tests.e2e.harness import Project

    project = Project.create(tmp_path, config_text="", db_port=1, key="k")
    volume = next(name for name in project.docker_names if name.endswith("-pgdata"))
    with pytest.raises(RuntimeError, match=f"already has {volume}"):
        project.refuse_foreign_objects({volume, "plano-local-pgdata", "bridge"})
    project.refuse_foreign_objects({"plano-local-pgdata", "plano-local-postgres", "bridge"})  # the user's: untouched


def test_the_database_port_comes_from_the_harness_not_the_rewritten_stack_file(tmp_path: Any) -> None:
    """`pulumi stack init` rewrites the stack file with quoted strings ("41234")."""
    from tests.e2e.harness import Project

    project = Project.create(tmp_path, config_text="", db_port=41234, key="k")
    stack_file = project.root / f"Pulumi.{project.stack}.yaml"
    text = stack_file.read_text()
    assert "plano:localDbPort: 41234" in text
    stack_file.write_text(text.replace("plano:localDbPort: 41234", 'plano:localDbPort: "41234"'))
    db = project.database({"db_ca_cert_pem": "ca", "db_password": "pw"}, tmp_path / "db-ca.pem")
    assert (db.host, db.port, db.sslmode, db.password) == ("127.0.0.1", 41234, "verify-full", "pw")
    assert (tmp_path / "db-ca.pem").read_text() == "ca"
    e2e = (PROJECT_DIR / "tests" / "e2e" / "test_local_stack_e2e.py").read_text()
    assert "localDbPort" not in e2e and "Pulumi." not in e2e


def _pytest_line(target: str) -> list[str]:
    import shlex
    import subprocess

    dry = subprocess.run(["make", "-n", target], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    [line] = [line for line in dry.stdout.splitlines() if " -m pytest " in line]
    return shlex.split(line)


# What each make target's marker expression selects, collected once per target for every path
# the tests below look at (a pytest start-up each).
_SELECTION_PATHS = ("tests/e2e", "tests/scripts/test_destroy_stack.py", "tests/stacks/test_e2e_parts.py")


@functools.cache
def _collected_by(target: str) -> tuple[str, ...]:
    """The test ids pytest selects under ``make TARGET``'s pytest line, in _SELECTION_PATHS."""
    import subprocess
    import sys

    args = _pytest_line(target)
    after = args[args.index("pytest") + 1 :]
    selection = ["-m", after[after.index("-m") + 1]] if "-m" in after else []
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            *selection,
            *_SELECTION_PATHS,
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 5), result.stdout[-2000:] + result.stderr[-2000:]  # 5: nothing selected
    return tuple(line for line in result.stdout.splitlines() if "::" in line)


def _collected(target: str, path: str) -> list[str]:
    """The tests of ``path`` pytest selects under ``make TARGET``."""
    return [line for line in _collected_by(target) if line.startswith(path)]


@pytest.mark.parametrize("target", ["test", "test-fast"])
@pytest.mark.processes
def test_make_test_and_test_fast_never_run_the_e2e(target: str) -> None:
    assert _collected(target, "tests/e2e") == []
    assert _collected("test", "tests/scripts/test_destroy_stack.py")  # the collection did select tests


@pytest.mark.processes
def test_make_e2e_runs_the_e2e() -> None:
    assert _collected("e2e", "tests/e2e") == [
        "tests/e2e/test_local_stack_e2e.py::test_multi_turn_state_survives_database_and_plano_restarts"
    ]


@pytest.mark.processes
def test_make_test_runs_the_tests_that_run_processes_and_test_fast_leaves_them_out() -> None:
    """test-fast keeps to the mocked tests; the commands run as processes are still in make test."""
    path = "tests/scripts/test_destroy_stack.py"  # marked `processes` as a whole
    assert len(_collected("test", path)) >= 6
    assert _collected("test-fast", path) == []
    mixed = "tests/stacks/test_e2e_parts.py"  # marked test by test: the mocked ones stay in test-fast
    fast = _collected("test-fast", mixed)
    assert fast and not any("test_make_e2e_runs_the_e2e" in line for line in fast)
    assert any("test_make_e2e_runs_the_e2e" in line for line in _collected("test", mixed))
