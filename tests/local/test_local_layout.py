"""Pure parts of the local stack: the env file, the init step's exit check, names, psql."""

from __future__ import annotations

import subprocess

import pytest
from plano_pulumi.core.errors import ConfigError
from plano_pulumi.core.naming import Names
from plano_pulumi.local.layout import LocalNames, postgres_image, psql_command, render_pg_hba
from plano_pulumi.local.provider_keys import ENV_FILE_NAME, external_key_values, parse_env_file
from plano_pulumi.local.service import init_exit_checked

from tests.conftest import PROJECT


def test_env_file_lines_comments_quotes_and_export() -> None:
    text = "# keys\n\nexport A_KEY='one two'\nB_KEY=\"x=y\"\n  C_KEY = plain \n"
    assert parse_env_file(text) == {"A_KEY": "one two", "B_KEY": "x=y", "C_KEY": "plain"}


def test_a_bad_env_file_line_is_named_without_its_content() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_env_file("A_KEY=ok\nnot-a-setting-but-maybe-a-key\n")
    assert f"{ENV_FILE_NAME}:2" in str(caught.value)
    assert "not-a-setting-but-maybe-a-key" not in str(caught.value)


def test_the_shell_wins_over_the_file_and_missing_keys_are_listed() -> None:
    found, missing = external_key_values(
        ["A", "B", "C"], environ={"A": "from-shell", "C": ""}, file_values={"A": "from-file", "B": "file-b"}
    )
    assert found == {"A": "from-shell", "B": "file-b"}
    assert missing == ["C"]


def test_git_ignores_the_env_file() -> None:
    result = subprocess.run(["git", "check-ignore", "-q", ENV_FILE_NAME], cwd=PROJECT, check=False, capture_output=True)
    assert result.returncode == 0, f"{ENV_FILE_NAME} must be covered by .gitignore"


@pytest.mark.parametrize("code", [1, 2, None])
def test_a_failed_init_step_stops_the_update_with_where_to_look(code: int | None) -> None:
    urn = "urn:pulumi:local::plano::plano:local:Service$docker:index/container:Container::init"
    with pytest.raises(RuntimeError, match=r"docker logs plano-local-init") as caught:
        init_exit_checked("plano-local-init", code, stack="local", urn=urn)
    # Its exit code stays in state: the message names the command that runs it again.
    assert f"pulumi up --stack local --replace '{urn}'" in str(caught.value)
    assert init_exit_checked("plano-local-init", 0, stack="local", urn=urn) == "0"


def test_pg_hba_has_no_plain_text_network_rule() -> None:
    rules = [line.split()[0] for line in render_pg_hba().splitlines() if line and not line.startswith("#")]
    assert rules == ["local", "hostssl", "hostnossl"]


def test_names_keep_two_stacks_apart_and_the_image_follows_the_engine_major() -> None:
    a, b = LocalNames(Names("plano", "local")), LocalNames(Names("plano", "local-2"))
    assert a.container("plano") != b.container("plano") and a.data_volume != b.data_volume
    assert postgres_image(16) == "public.ecr.aws/docker/library/postgres:16-alpine"


def test_the_psql_command_verifies_the_server_and_holds_no_password() -> None:
    command = psql_command(15432, "plano", "plano")
    assert "sslmode=verify-full" in command and "host=127.0.0.1 port=15432" in command
    assert "--show-secrets db_password" in command  # read at run time, never written here
