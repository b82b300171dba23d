"""What the end-to-end test asserts about one exchange, as pure functions over logs.

Inputs are plain JSON: the Responses API responses Plano returned, and the requests the mock
provider recorded (``MockProvider.log.as_json()``). Each check returns a list of problems (empty
when it holds), so the same functions serve the live end-to-end run and the tests in
``make test`` that run them on an exchange recorded from the mock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def text_of(content: Any) -> str:
    """A chat message's or Responses item's text, whether a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(text_of(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content)
    return ""


def response_text(response: Mapping[str, Any]) -> str:
    """The assistant's text in a Responses API response (``output[].content[].text``)."""
    if isinstance(response.get("output_text"), str) and response["output_text"]:
        return str(response["output_text"])
    texts = []
    for item in response.get("output") or []:
        if isinstance(item, dict) and item.get("type") == "message":
            texts.append(text_of(item.get("content")))
    return "".join(texts)


def chat_requests(recorded: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in recorded if str(r.get("path", "")).endswith("/chat/completions") and r.get("status") == 200]


def messages_of(request: Mapping[str, Any]) -> list[tuple[str, str]]:
    body = request.get("body") or {}
    return [(str(m.get("role")), text_of(m.get("content"))) for m in body.get("messages") or [] if isinstance(m, dict)]


def check_response(response: Mapping[str, Any], *, status: int) -> list[str]:
    problems = []
    if status != 200:
        problems.append(f"Plano answered HTTP {status}: {str(response)[:300]}")
    if not str(response.get("id", "")).startswith("resp"):
        problems.append(f"no Responses API id in {str(response)[:300]}")
    if not response_text(response):
        problems.append("the response carries no assistant text")
    return problems


def check_upstream_carries(
    request: Mapping[str, Any], *, earlier: Sequence[tuple[str, str]], new_input: str
) -> list[str]:
    """The provider was given the earlier turns (role, text) in order, then the new input last.

    This is what proves state was read back: the client sent only ``previous_response_id`` and
    the new input, so anything earlier came from Plano's state storage.
    """
    messages = messages_of(request)
    problems = []
    if not messages or messages[-1][0] != "user" or new_input not in messages[-1][1]:
        problems.append(f"the last message is not the new input {new_input!r}: {messages[-1:]}")
    position = 0
    for role, text in earlier:
        found = next(
            (i for i in range(position, len(messages)) if messages[i][0] == role and text in messages[i][1]), None
        )
        if found is None:
            problems.append(f"the provider was not given the earlier {role} turn {text!r} (history lost): {messages}")
        else:
            position = found + 1
    return problems


def check_authorization(request: Mapping[str, Any], key: str) -> list[str]:
    """The provider key reached the provider (Plano sent it as a bearer token)."""
    headers = {k.lower(): v for k, v in (request.get("headers") or {}).items()}
    if headers.get("authorization") != f"Bearer {key}":
        return ["the provider did not receive the configured key as `Authorization: Bearer ...`"]
    return []
