"""A small OpenAI-compatible model provider for the end-to-end test: answers and records.

Plano translates a Responses API request for a provider without native Responses support (here
``mistral/...`` with ``base_url`` pointing at this server) into ``POST /v1/chat/completions``,
with the conversation so far taken from its state storage. This server answers every chat
completion with a deterministic reply and keeps each request it received, so a test can check
what reached the provider. Standard library only; ``python -m tests.e2e.mock_provider --port N``
runs it on its own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO

REPLY_PREFIX = "mock-reply"


def reply_text(number: int, messages: list[dict[str, Any]]) -> str:
    """Deterministic: the reply's number and how many messages the provider was given."""
    return f"{REPLY_PREFIX} {number}: I was given {len(messages)} messages"


@dataclass
class Recorded:
    """One request the provider received and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    response: Any


@dataclass
class ProviderLog:
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, entry: Recorded) -> int:
        with self.lock:
            self.requests.append(entry)
            return len(self.requests)

    def chat_requests(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def as_json(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.__dict__ for r in self.requests]


def chat_completion(number: int, body: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages") or []
    text = reply_text(number, messages)
    return {
        "id": f"chatcmpl-mock-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "mock"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10 * len(messages), "completion_tokens": 8, "total_tokens": 10 * len(messages) + 8},
    }


def _sse(completion: dict[str, Any]) -> bytes:
    """The same completion as a stream of chunks (for clients that ask for one)."""
    choice = completion["choices"][0]
    base = {k: completion[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    chunks = [
        base | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": choice["message"]["content"]}}]},
        base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": completion["usage"]},
    ]
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def read_body(headers: Mapping[str, str], stream: BinaryIO) -> bytes:
    """The request body, sent with a Content-Length or chunked.

    Plano's llm_gateway filter removes Content-Length, so Envoy sends the provider
    ``Transfer-Encoding: chunked``: each chunk is a hex size line, the data and CRLF; a zero size
    ends the body (after optional trailer lines and an empty line).
    """
    encoding = {k.lower(): v for k, v in headers.items()}.get("transfer-encoding", "")
    if "chunked" not in encoding.lower():
        length = int({k.lower(): v for k, v in headers.items()}.get("content-length") or 0)
        return stream.read(length)
    body = bytearray()
    while True:
        size_line = stream.readline()
        if not size_line:
            raise ValueError("the chunked body ended without its last chunk")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(body)
        body += stream.read(size)
        stream.readline()  # the CRLF after the chunk's data


def make_handler(log: ProviderLog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # recorded in `log` instead

        def _send(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            if self.path == "/_recorded":
                self._send(200, json.dumps(log.as_json()).encode())
            elif self.path.endswith("/models"):
                self._send(200, json.dumps({"object": "list", "data": [{"id": "mock", "object": "model"}]}).encode())
            else:
                self._send(404, b'{"error": "not found"}')

        def do_POST(self) -> None:
            raw = read_body(dict(self.headers.items()), self.rfile)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"unparsed": raw.decode(errors="replace")}
            headers = {k.lower(): v for k, v in self.headers.items()}
            if not self.path.endswith("/chat/completions"):
                log.add(Recorded("POST", self.path, headers, body, 404, None))
                self._send(404, b'{"error": {"message": "only /v1/chat/completions"}}')
                return
            number = len(log.chat_requests()) + 1
            completion = chat_completion(number, body)
            log.add(Recorded("POST", self.path, headers, body, 200, completion))
            if body.get("stream"):
                self._send(200, _sse(completion), "text/event-stream")
            else:
                self._send(200, json.dumps(completion).encode())

    return Handler


class MockProvider:
    """The server on a thread; ``with MockProvider(host) as mock: mock.url ...``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.log = ProviderLog()
        self.server = ThreadingHTTPServer((host, port), make_handler(self.log))
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def host(self) -> str:
        return str(self.server.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> MockProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args()
    with MockProvider(args.host, args.port) as mock:
        print(f"mock provider on {mock.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            mock.thread.join()


if __name__ == "__main__":
    main()
