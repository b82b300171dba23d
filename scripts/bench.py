#!/usr/bin/env python3
"""Benchmark of the state path: the sidecar's round-trip cost, and how fast Plano's table grows.

`make bench` runs this with PLANO_PGBOUNCER set. It starts the integration tests' servers
(tests/integration/servers.py: PostgreSQL 15 with TLS only, the project's init.sh and
pgbouncer.ini), then:

1. Round trip. Plano's upsert + read (its two statements verbatim, named prepared statements on one
   autocommit connection, like tokio-postgres) directly over TLS and through the sidecar on the
   loopback, in alternating blocks over the same rows, for two payload sizes. Goal: median
   through the sidecar <= 1.3x direct.
2. Storage growth. Plano writes one row per response, and each row holds the whole conversation
   so far, so a conversation of N turns is N rows of 1..N turns: it grows with N squared. Real rows
   (English text, Plano's JSON shape) are inserted and measured with pg_total_relation_size
   (heap + TOAST + indexes), then projected for a daily traffic and the retention settings.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import inspect
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plano_pulumi.core.settings import TlsMode

from tests.integration.servers import (
    ConversationState,
    PlanoStore,
    Sidecar,
    StatePath,
    plano_connect,
)

GOAL_RATIO = 1.3
CORPUS_MODULES = (
    "argparse",
    "asyncio",
    "collections",
    "email.message",
    "http.client",
    "json",
    "logging",
    "pathlib",
    "shutil",
    "subprocess",
    "unittest",
)
GIB = 1024**3


# --------------------------------------------------------------------------------------------
# Realistic conversation content


def english_corpus() -> str:
    """English prose that ships with every Python: the standard library's docstrings."""
    docs: list[str] = []
    for name in CORPUS_MODULES:
        module = importlib.import_module(name)
        docs.append(module.__doc__ or "")
        for _, member in inspect.getmembers(module):
            doc = getattr(member, "__doc__", None)
            if isinstance(doc, str) and len(doc) > 200:
                docs.append(doc)
    return " ".join(" ".join(docs).split())


@dataclass(frozen=True)
class TurnShape:
    user_tokens: int
    answer_tokens: int
    bytes_per_token: float

    @property
    def user_bytes(self) -> int:
        return round(self.user_tokens * self.bytes_per_token)

    @property
    def answer_bytes(self) -> int:
        return round(self.answer_tokens * self.bytes_per_token)


class Conversations:
    """Responses API input items as Plano stores them (user message + assistant output per turn)."""

    def __init__(self, shape: TurnShape, seed: int = 7) -> None:
        self.shape = shape
        self.corpus = english_corpus()
        self.rng = random.Random(seed)

    def _text(self, size: int) -> str:
        start = self.rng.randrange(0, len(self.corpus) - size)
        return self.corpus[start : start + size]

    def turn(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": self._text(self.shape.user_bytes)}],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": self._text(self.shape.answer_bytes)}],
            },
        ]

    def history(self, turns: int) -> list[list[dict[str, Any]]]:
        return [self.turn() for _ in range(turns)]


def flatten(turns: Sequence[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [item for turn in turns for item in turn]


# --------------------------------------------------------------------------------------------
# 1. Round trip


@dataclass
class Samples:
    name: str
    ns: list[int]

    def quantile(self, q: float) -> float:
        ordered = sorted(self.ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000

    @property
    def median_us(self) -> float:
        return statistics.median(self.ns) / 1000

    @property
    def p99_us(self) -> float:
        return self.quantile(0.99)


def round_trip(store: PlanoStore, state: ConversationState) -> int:
    started = time.perf_counter_ns()
    store.put(state)
    got = store.get(state.response_id)
    elapsed = time.perf_counter_ns() - started
    if got is None or got.response_id != state.response_id:
        raise RuntimeError(f"round trip lost {state.response_id}")
    return elapsed


def measure_round_trips(
    paths: dict[str, PlanoStore], states: Sequence[ConversationState], *, total: int, block: int, warmup: int
) -> dict[str, Samples]:
    samples = {name: Samples(name, []) for name in paths}
    for store in paths.values():
        for i in range(warmup):
            round_trip(store, states[i % len(states)])
    names = list(paths)
    gc.disable()
    try:
        for b in range(total // block):
            # ABBA order, so neither path always runs first in a pair of blocks.
            order = names if b % 2 == 0 else names[::-1]
            for name in order:
                store, out = paths[name], samples[name].ns
                for i in range(block):
                    out.append(round_trip(store, states[(b * block + i) % len(states)]))
    finally:
        gc.enable()
    return samples


def tls_of(store: PlanoStore) -> str:
    version, cipher = one(store.conn, "SELECT version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    return f"{version} {cipher}"


def bench_round_trips(servers: StatePath, sidecar: Sidecar, args: argparse.Namespace) -> None:
    conversations = Conversations(args.shape, seed=1)
    print("== 1. Round trip: Plano's upsert + read, one connection, named prepared statements ==")
    print(f"   {args.round_trips} round trips per path and payload, alternating blocks of {args.block},")
    print(f"   after {args.warmup} warm-up round trips; same rows on both paths; client: psycopg (Python)")
    with plano_connect(servers.pg.conninfo()) as direct_conn, sidecar.connect() as sidecar_conn:
        paths = {"direct TLS": PlanoStore(direct_conn), "via sidecar": PlanoStore(sidecar_conn)}
        direct_tls, sidecar_tls = tls_of(paths["direct TLS"]), tls_of(paths["via sidecar"])
        print(f"   direct: {direct_tls} (verify-full); sidecar -> server: {sidecar_tls}")
        print()
        header = f"   {'payload':<24}{'path':<14}{'median us':>11}{'p99 us':>10}{'mean us':>10}"
        print(header)
        print("   " + "-" * (len(header) - 3))
        for turns in args.payload_turns:
            items = flatten(conversations.history(turns))
            size = len(json.dumps(items))
            states = [
                ConversationState(f"bench_rt_{turns}_{i}", items, 1_764_000_000 + i, "gpt-4o", "openai")
                for i in range(100)
            ]
            samples = measure_round_trips(paths, states, total=args.round_trips, block=args.block, warmup=args.warmup)
            direct, via = samples["direct TLS"], samples["via sidecar"]
            label = f"{turns} turn(s), {size / 1024:.1f} KiB"
            for s in (direct, via):
                mean_us = statistics.fmean(s.ns) / 1000
                print(f"   {label:<24}{s.name:<14}{s.median_us:>11.0f}{s.p99_us:>10.0f}{mean_us:>10.0f}")
                label = ""
            ratio = via.median_us / direct.median_us
            ratio_p99 = via.p99_us / direct.p99_us
            verdict = "meets" if ratio <= GOAL_RATIO else "MISSES"
            print(
                f"   {'':<24}{'ratio':<14}{ratio:>10.2f}x{ratio_p99:>9.2f}x   "
                f"(+{via.median_us - direct.median_us:.0f} us median; {verdict} the {GOAL_RATIO}x goal)"
            )
    print()


# --------------------------------------------------------------------------------------------
# 2. Storage growth


@dataclass(frozen=True)
class Growth:
    turns: int
    conversations: int
    bytes_per_conversation: float  # measured: table + TOAST + indexes
    json_bytes_per_conversation: float  # the JSON text of all its rows, uncompressed
    last_row_json_bytes: float  # the newest row's input_items as JSON text
    last_row_stored_bytes: float  # pg_column_size of that row's input_items (after compression)


def one(conn: psycopg.Connection[Any], query: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise RuntimeError(f"no row from {query}")
    return tuple(row)


def measure_growth(servers: StatePath, turns: int, conversations: int, content: Conversations) -> Growth:
    with servers.pg.connect() as owner:
        owner.execute("TRUNCATE conversation_states")
        (empty,) = one(owner, "SELECT pg_total_relation_size('conversation_states')")
    with plano_connect(servers.pg.conninfo()) as conn:
        store = PlanoStore(conn)
        for c in range(conversations):
            history = content.history(turns)
            for k in range(1, turns + 1):
                # Plano stores, under each new response id, everything so far.
                store.put(ConversationState(f"conv{c}_resp{k}", flatten(history[:k]), 1_764_000_000 + k, "m", "p"))
    with servers.pg.connect() as owner:
        owner.execute("VACUUM ANALYZE conversation_states")  # settle the visibility map and FSM
        (total,) = one(owner, "SELECT pg_total_relation_size('conversation_states')")
        json_bytes, stored_bytes = one(
            owner,
            "SELECT avg(octet_length(input_items::text)), avg(pg_column_size(input_items)) "
            "FROM conversation_states WHERE response_id LIKE %s",
            (f"%\\_resp{turns}",),
        )
        (all_json,) = one(owner, "SELECT sum(octet_length(input_items::text)) FROM conversation_states")
    return Growth(
        turns,
        conversations,
        bytes_per_conversation=(total - empty) / conversations,
        json_bytes_per_conversation=float(all_json) / conversations,
        last_row_json_bytes=float(json_bytes),
        last_row_stored_bytes=float(stored_bytes),
    )


def kib(n: float) -> str:
    return f"{n / 1024:,.1f} KiB"


def bench_storage(servers: StatePath, args: argparse.Namespace) -> None:
    shape: TurnShape = args.shape
    content = Conversations(shape, seed=2)
    print("== 2. Storage growth: one row per response, each row the whole conversation so far ==")
    print(
        f"   a turn = user {shape.user_tokens} tokens + answer {shape.answer_tokens} tokens at "
        f"{shape.bytes_per_token:g} bytes/token ({shape.user_bytes} + {shape.answer_bytes} bytes of English text)"
    )
    print("   measured: pg_total_relation_size (heap + TOAST + indexes) after inserting real rows, pglz TOAST")
    print()
    header = (
        f"   {'turns N':>7}{'rows':>6}{'newest row: JSON':>18}{'stored':>11}"
        f"{'conversation: JSON':>20}{'stored':>13}{'vs 1 turn':>11}"
    )
    print(header)
    print("   " + "-" * (len(header) - 3))
    turn_counts = sorted(set(args.turns) | {args.traffic_turns})
    growth: dict[int, Growth] = {}
    for n in turn_counts:
        # Enough rows for the page-granular sizes to average out, without taking minutes.
        conversations = max(3, min(200, 1500 // (n * (n + 1) // 2)))
        growth[n] = measure_growth(servers, n, conversations, content)
    base = growth[turn_counts[0]].bytes_per_conversation
    for n in turn_counts:
        g = growth[n]
        print(
            f"   {n:>7}{n:>6}{kib(g.last_row_json_bytes):>18}{kib(g.last_row_stored_bytes):>11}"
            f"{kib(g.json_bytes_per_conversation):>20}{kib(g.bytes_per_conversation):>13}"
            f"{g.bytes_per_conversation / base:>10.0f}x"
        )
    print()

    g = growth[args.traffic_turns]
    per_conversation, worst = g.bytes_per_conversation, g.json_bytes_per_conversation
    daily = args.conversations_per_day
    print(
        f"== 3. Table size for {daily:,} conversations/day x {args.traffic_turns} turns "
        f"({kib(per_conversation)} each measured, {kib(worst)} uncompressed) =="
    )
    print("   steady state = conversations/day x retention days x bytes per conversation;")
    print("   incompressible = the JSON text size, for content pglz cannot shrink (base64 images, compressed data);")
    print("   allocate = incompressible + 25 % (freed space is reused, not returned; WAL and temp files), >= 20 GiB")
    print()
    columns = ("stateRetentionDays", 18), ("table (measured)", 18), ("table (incompressible)", 24), ("allocate", 17)
    print("   " + "".join(f"{title:>{width}}" for title, width in columns))
    print("   " + "-" * 77)
    for days in args.retention:
        size, size_worst = daily * days * per_conversation, daily * days * worst
        allocate = max(20, int(size_worst * 1.25 / GIB) + 1)
        print(f"   {days:>18}{size / GIB:>14.1f} GiB{size_worst / GIB:>20.1f} GiB{allocate:>17} GiB")
    print(
        f"   {'0 (keep forever)':>18}{daily * 30 * per_conversation / GIB:>14.1f} GiB"
        f"{daily * 30 * worst / GIB:>20.1f} GiB   per 30 days, without bound"
    )
    print()
    print("   Not included: WAL, snapshots, indexes' and heap bloat between the hourly deletes and")
    print("   autovacuum. Long conversations dominate: a conversation's size grows with turns squared.")


# --------------------------------------------------------------------------------------------


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round-trips", type=int, default=3000, help="per path and payload (default 3000)")
    parser.add_argument("--block", type=int, default=100, help="round trips per alternating block")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--payload-turns", type=ints, default=[1, 10], help="payload sizes in turns (default 1,10)")
    parser.add_argument("--turns", type=ints, default=[1, 5, 10, 20, 50], help="N for the growth table")
    parser.add_argument("--user-tokens", type=int, default=300)
    parser.add_argument("--answer-tokens", type=int, default=500)
    parser.add_argument("--bytes-per-token", type=float, default=4.0)
    parser.add_argument("--conversations-per-day", type=int, default=10_000)
    parser.add_argument("--traffic-turns", type=int, default=10, help="turns per conversation for the projection")
    parser.add_argument("--retention", type=ints, default=[7, 30, 90], help="stateRetentionDays to project")
    parser.add_argument("--skip-round-trips", action="store_true")
    parser.add_argument("--skip-storage", action="store_true")
    args = parser.parse_args(argv)
    args.shape = TurnShape(args.user_tokens, args.answer_tokens, args.bytes_per_token)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    with StatePath() as servers:
        sidecar = servers.sidecar("bench", TlsMode.VERIFY_FULL)
        with servers.pg.admin(servers.db_name) as admin:
            (pg_version,) = one(admin, "SHOW server_version")
        version = subprocess.run([servers.tools.pgbouncer, "--version"], capture_output=True, text=True, check=True)
        pgbouncer_version = version.stdout.splitlines()[0]
        print(f"PostgreSQL {pg_version} (fsync off), {pgbouncer_version}, {os.cpu_count()} CPUs, loopback")
        print("sidecar: the project's pgbouncer.ini (transaction pooling, verify-full), set up by init.sh")
        print()
        if not args.skip_round_trips:
            bench_round_trips(servers, sidecar, args)
        if not args.skip_storage:
            bench_storage(servers, args)
    print(f"\n(bench took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
