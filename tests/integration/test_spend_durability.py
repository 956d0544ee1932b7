"""Budgets under concurrency (one gateway, and two sharing PostgreSQL), and spend that survives
restarts and store outages."""

import concurrent.futures
import os
import signal
import sqlite3
import tempfile
import time

import httpx
import pytest

from conftest import basic_config
from keys_helpers import chat, cost_of, generate_key, key_info, priced_deployment, spend_logs, wait_for_rows


def test_concurrent_calls_never_overrun_a_budget(mock, start_gateway, store_env):
    gw = start_gateway(basic_config(mock, priced_deployment(mock)), env=store_env)
    per_call = cost_of(10, 10)
    budget = per_call * 10
    key = generate_key(gw, max_budget=budget)

    def one(_):
        return chat(gw, key, "hi [mock:usage=10,10] [mock:delay_ms=500]", max_tokens=10)

    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
        answers = list(pool.map(one, range(100)))
    ok = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert ok, "no call was admitted"
    for a in refused:
        assert a.status_code == 422 and a.json()["error"]["type"] == "budget_exceeded", a.text
    spend = key_info(gw, key)["spend"]
    assert spend <= budget + 1e-9, (spend, budget)
    assert spend == pytest.approx(per_call * len(ok))
    rows = wait_for_rows(gw, len(ok), api_key=key)
    assert sum(r["spend"] for r in rows) == pytest.approx(spend, abs=1e-12)
    assert len(rows) == len(ok)


def test_two_gateways_on_one_postgres_never_overrun_a_budget(mock, start_gateway, pg_cluster):
    env = {"DATABASE_URL": pg_cluster.create_database("two_nodes")}
    config = basic_config(mock, priced_deployment(mock))
    nodes = [start_gateway(config, env=dict(env)), start_gateway(config, env=dict(env))]
    per_call = cost_of(10, 10)
    budget = per_call * 10
    key = generate_key(nodes[0], max_budget=budget)
    deadline = time.monotonic() + 10
    while httpx.get(nodes[1].url("/v1/models"), headers={"Authorization": f"Bearer {key}"}).status_code != 200:
        assert time.monotonic() < deadline, "the second node never learned the key"
        time.sleep(0.2)

    def one(i):
        return chat(nodes[i % 2], key, "hi [mock:usage=10,10] [mock:delay_ms=500]", max_tokens=10)

    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
        answers = list(pool.map(one, range(100)))
    ok = [i for i, a in enumerate(answers) if a.status_code == 200]
    for a in answers:
        if a.status_code != 200:
            assert a.status_code == 422 and a.json()["error"]["type"] == "budget_exceeded", a.text
    assert {i % 2 for i in ok} == {0, 1}, f"both nodes should admit calls: {ok}"
    assert per_call * len(ok) <= budget + 1e-9, f"{len(ok)} calls admitted against a budget of 10"
    rows = wait_for_rows(nodes[0], len(ok), api_key=key)
    assert len(rows) == len(ok)
    token = rows[0]["api_key"]
    stored = float(pg_cluster.sql(f"select spend from keys where id = '{token}'", "two_nodes"))
    assert stored == pytest.approx(sum(r["spend"] for r in rows), abs=1e-12)
    assert stored <= budget + 1e-9
    for node in nodes:  # each node's view takes in the other's spend
        deadline = time.monotonic() + 10
        while key_info(node, key)["spend"] != pytest.approx(stored, abs=1e-12):
            assert time.monotonic() < deadline, (key_info(node, key), stored)
            time.sleep(0.2)


def test_sigterm_during_load_loses_no_counted_call(mock, start_gateway):
    db = os.path.join(tempfile.mkdtemp(prefix="tollgate-db-"), "tollgate.db")
    config = basic_config(mock, priced_deployment(mock))
    gw = start_gateway(config, env={"TOLLGATE_DB_PATH": db})
    key = generate_key(gw)

    def one(_):
        try:
            return chat(gw, key, "hi [mock:usage=10,10] [mock:delay_ms=800]")
        except httpx.HTTPError:
            return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(one, i) for i in range(20)]
        time.sleep(0.4)
        gw.proc.send_signal(signal.SIGTERM)
        answers = [f.result() for f in futures]
    gw.proc.wait(timeout=30)
    served = {a.headers["x-litellm-call-id"] for a in answers if a is not None and a.status_code == 200}
    assert served, "no call finished before the shutdown"

    again = start_gateway(config, env={"TOLLGATE_DB_PATH": db})
    rows = spend_logs(again, api_key=key)
    assert served <= {r["request_id"] for r in rows}, "a call that got a 200 has no spend row"
    assert len({r["request_id"] for r in rows}) == len(rows)
    assert key_info(again, key)["spend"] == pytest.approx(sum(r["spend"] for r in rows))
    assert chat(again, key).status_code == 200, "the key survives the restart"


def test_sigterm_lets_every_call_in_flight_finish_then_exits(mock, start_gateway):
    """Calls and streams longer than any fixed grace period all finish; the process exits 0
    as soon as they have and their rows are written."""
    db = os.path.join(tempfile.mkdtemp(prefix="tollgate-db-"), "tollgate.db")
    config = basic_config(mock, priced_deployment(mock))
    gw = start_gateway(config, env={"TOLLGATE_DB_PATH": db})
    key = generate_key(gw)
    mock.clear()

    def call(_):
        return chat(gw, key, "hi [mock:usage=10,10] [mock:delay_ms=2500]")

    def stream(_):
        body = {"model": "gpt-test", "stream": True,
                "messages": [{"role": "user", "content": "hi [mock:chunks=10] [mock:chunk_delay_ms=250]"}]}
        with httpx.stream("POST", gw.url("/v1/chat/completions"), json=body, timeout=30,
                          headers={"Authorization": f"Bearer {key}"}) as r:
            return r.status_code, r.read().decode(), r.headers.get("x-litellm-call-id")

    with concurrent.futures.ThreadPoolExecutor(max_workers=14) as pool:
        calls = [pool.submit(call, i) for i in range(10)]
        streams = [pool.submit(stream, i) for i in range(4)]
        deadline = time.monotonic() + 10
        while len(mock.requests()) < 14:  # every call has reached the provider
            assert time.monotonic() < deadline
            time.sleep(0.05)
        signalled = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        answers = [f.result() for f in calls]
        streamed = [f.result() for f in streams]
    assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers]
    for status, text, _ in streamed:
        assert status == 200 and text.rstrip().endswith("data: [DONE]"), text[-200:]
    assert gw.proc.wait(timeout=30) == 0
    assert time.monotonic() - signalled < 15, "the drain should end once the calls have"

    again = start_gateway(config, env={"TOLLGATE_DB_PATH": db})
    ids = {r["request_id"] for r in spend_logs(again, api_key=key)}
    served = {a.headers["x-litellm-call-id"] for a in answers} | {s[2] for s in streamed}
    assert served <= ids, "every call that finished has its spend row"


def test_store_file_holds_no_raw_key(mock, start_gateway):
    db = os.path.join(tempfile.mkdtemp(prefix="tollgate-db-"), "tollgate.db")
    gw = start_gateway(basic_config(mock, priced_deployment(mock)), env={"TOLLGATE_DB_PATH": db})
    key = generate_key(gw, key_alias="secret-holder")
    assert chat(gw, key).status_code == 200
    wait_for_rows(gw, 1, api_key=key)
    raw = b""
    for name in os.listdir(os.path.dirname(db)):
        with open(os.path.join(os.path.dirname(db), name), "rb") as f:
            raw += f.read()
    assert key.encode() not in raw
    assert key[3:].encode() not in raw
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from keys").fetchone()[0] == 1


def test_postgres_outage_loses_and_doubles_nothing(mock, start_gateway, pg_cluster):
    env = {"DATABASE_URL": pg_cluster.create_database("outage")}
    gw = start_gateway(basic_config(mock, priced_deployment(mock)), env=env)
    key = generate_key(gw)
    served = set()

    def burst(n):
        for _ in range(n):
            r = chat(gw, key, "hi [mock:usage=10,10]")
            assert r.status_code == 200, r.text
            served.add(r.headers["x-litellm-call-id"])

    burst(5)
    wait_for_rows(gw, 5, api_key=key)
    pg_cluster.stop()
    try:
        burst(10)  # served from memory; their rows wait in the queue
        time.sleep(2.5)  # flushes fail meanwhile and are retried
    finally:
        pg_cluster.start()
    rows = wait_for_rows(gw, 15, timeout=20, api_key=key)
    ids = [r["request_id"] for r in rows]
    assert len(ids) == len(set(ids)) == 15, ids
    assert set(ids) == served
    assert key_info(gw, key)["spend"] == pytest.approx(15 * cost_of(10, 10))
    stored = float(pg_cluster.sql(f"select spend from keys where id = '{rows[0]['api_key']}'", "outage"))
    assert stored == pytest.approx(15 * cost_of(10, 10)), "the store's total counts each row once"
