"""Logs: one JSON access-log line per request with the fields an operator searches by, the
service log as JSON (`json_logs`, `JSON_LOGS`) at the level `LITELLM_LOG` / `RUST_LOG` set, the
client's `x-request-id` kept and echoed, and no secret anywhere an operator or a client reads:
logs (at debug level), `/metrics`, `/health`, `/v1/models`, error answers.
"""

import json
import time

import httpx
import openai

from conftest import MASTER_KEY, openai_deployment, user
from keys_helpers import admin, generate_key, priced_deployment

PROVIDER_SECRET = "sk-provider-SECRET-7f3a9c"
MASTER_SECRET = "sk-master-SECRET-41d2e8"


def log_records(gw) -> list:
    """Every line of the gateway's log, parsed; a line that is not JSON fails the test."""
    records = []
    for line in gw.log().splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"a log line that is not JSON: {line!r}")
    return records


def access_lines(gw, request_ids, timeout=5.0) -> list:
    """The access lines once every one of `request_ids` has its line: a line is
    written after its answer went out, so the last call's may still be coming."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [r for r in log_records(gw) if r.get("logger") == "tollgate::access"]
        seen = {r.get("request_id") for r in lines}
        if set(request_ids) <= seen or time.monotonic() >= deadline:
            return lines
        time.sleep(0.05)


def test_access_log_lines_hold_each_requests_fields(mock, start_gateway):
    config = {
        "model_list": [priced_deployment(mock, "gpt-a", model="ok-a")],
        "litellm_settings": {"json_logs": True},
        "general_settings": {"master_key": MASTER_KEY},
    }
    gw = start_gateway(config)
    team = admin(gw, "/team/new", {"team_alias": "search-team"}).json()["team_id"]
    key = generate_key(gw, key_alias="search-key", team_id=team, user_id="u-17")
    client = openai.OpenAI(base_url=gw.url("/v1"), api_key=key, max_retries=0)

    raw = client.chat.completions.with_raw_response.create(
        model="gpt-a", messages=user("Hello [mock:usage=11,7]"), user="end-user-9",
        extra_headers={"x-request-id": "req-from-client-1"},
    )
    assert raw.headers["x-request-id"] == "req-from-client-1"
    cost = float(raw.headers["x-litellm-response-cost"])
    raw_stream = client.chat.completions.with_raw_response.create(
        model="gpt-a", messages=user("Hi [mock:chunks=3]"), stream=True,
        stream_options={"include_usage": True},
    )
    assert sum(1 for _ in raw_stream.parse()) >= 3
    refused = httpx.post(gw.url("/v1/chat/completions"), headers={"Authorization": "Bearer sk-wrong"},
                         json={"model": "gpt-a", "messages": user("x")})
    assert refused.status_code == 401
    # Without a client id, the echoed one is the call id.
    assert refused.headers["x-request-id"] == refused.headers["x-litellm-call-id"]

    lines = access_lines(gw, ["req-from-client-1", raw_stream.headers["x-request-id"],
                              refused.headers["x-request-id"]])
    by_id = {r["request_id"]: r for r in lines}
    first = by_id["req-from-client-1"]
    assert first["call_id"] == raw.headers["x-litellm-call-id"]
    assert first["status"] == 200 and first["route"] == "/v1/chat/completions" and first["method"] == "POST"
    assert first["hashed_api_key"] and first["hashed_api_key"] != key
    assert first["api_key_alias"] == "search-key" and first["team_id"] == team
    assert first["user_id"] == "u-17" and first["end_user"] == "end-user-9"
    assert first["requested_model"] == "gpt-a" and first["model_group"] == "gpt-a"
    assert first["model_id"] and first["api_provider"] == "openai" and first["model"] == "ok-a"
    assert first["attempts"] == 1 and first["retries"] == 0 and first["fallbacks"] == 0
    assert (first["prompt_tokens"], first["completion_tokens"], first["total_tokens"]) == (11, 7, 18)
    assert abs(first["response_cost"] - cost) < 1e-12 and first["cache_hit"] is False
    assert first["duration_ms"] >= first["provider_latency_ms"] > 0
    # Time to first token is a stream's (below); a whole answer has the key, empty.
    for field in ("timestamp", "level", "usage_source", "error", "error_type", "ttft_ms"):
        assert field in first, field

    streamed = by_id[raw_stream.headers["x-request-id"]]
    assert streamed["status"] == 200 and streamed["route"] == "/v1/chat/completions"
    assert streamed["ttft_ms"] is not None and streamed["total_tokens"] > 0

    denied = by_id[refused.headers["x-request-id"]]
    assert denied["status"] == 401 and denied["error_type"] == "auth_error"
    assert denied["hashed_api_key"] is None and denied["prompt_tokens"] is None
    # Admin calls are requests too, with their own line.
    assert any(r["route"] == "/key/generate" and r["status"] == 200 for r in lines)
    # The service log is JSON too, in LiteLLM's fields.
    service = [r for r in log_records(gw) if r.get("logger") != "tollgate::access"]
    assert any("listening on" in r["message"] and r["level"] == "INFO" for r in service), service[:5]


def test_json_logs_env_and_litellm_log_level(mock, start_gateway):
    config = {"model_list": [openai_deployment(mock, "gpt-a")]}
    gw = start_gateway(config, env={"JSON_LOGS": "1", "RUST_LOG": "", "LITELLM_LOG": "WARNING"})
    r = httpx.post(gw.url("/v1/chat/completions"), json={"model": "gpt-a", "messages": user("hi")})
    assert r.status_code == 200
    r = httpx.post(gw.url("/v1/chat/completions"), json={"model": "nope", "messages": user("hi")})
    assert r.status_code == 400
    time.sleep(0.3)
    records = log_records(gw)
    # WARNING and up only: no info line (start-up, access lines) made it out.
    assert all(rec["level"] in ("WARNING", "ERROR") for rec in records), records
    gw2 = start_gateway(config, env={"JSON_LOGS": "1", "RUST_LOG": "", "LITELLM_LOG": "DEBUG"})
    httpx.post(gw2.url("/v1/chat/completions"), json={"model": "gpt-a", "messages": user("hi")})
    assert any(rec["level"] == "DEBUG" for rec in log_records(gw2))


def test_no_secret_reaches_logs_metrics_health_or_errors(mock, start_gateway):
    config = {
        "model_list": [
            openai_deployment(mock, "gpt-a", api_key=PROVIDER_SECRET),
            openai_deployment(mock, "gpt-broken", model="status-500-x", api_key=PROVIDER_SECRET),
        ],
        "litellm_settings": {"callbacks": ["prometheus"], "json_logs": True},
        "general_settings": {"master_key": MASTER_SECRET, "store_model_in_db": True},
    }
    # Debug level: the most a log ever says.
    gw = start_gateway(config, env={"RUST_LOG": "debug"})
    master = {"Authorization": f"Bearer {MASTER_SECRET}"}
    answers = []
    r = httpx.post(gw.url("/key/generate"), headers=master, json={"key_alias": "k"}, timeout=10)
    assert r.status_code == 200, r.text
    virtual = r.json()["key"]
    # A model added through the model API, with its own provider secret.
    r = httpx.post(gw.url("/model/new"), headers=master, timeout=10, json={
        "model_name": "gpt-api",
        "litellm_params": {"model": "openai/m", "api_base": f"{mock.base}/v1", "api_key": PROVIDER_SECRET},
    })
    assert r.status_code == 200, r.text
    answers.append(r.text)
    client = openai.OpenAI(base_url=gw.url("/v1"), api_key=virtual, max_retries=0)
    client.chat.completions.create(model="gpt-api", messages=user("hello"))
    client.chat.completions.create(model="gpt-a", messages=user("hello"))
    list(client.chat.completions.create(model="gpt-a", messages=user("hi"), stream=True))
    for body, key in [
        ({"model": "gpt-a", "messages": user("x [mock:status=401]")}, virtual),
        ({"model": "gpt-broken", "messages": user("x")}, virtual),
        ({"model": "gpt-a", "messages": "not a list"}, virtual),
        ({"model": "gpt-a", "messages": user("x")}, virtual + "x"),
        ({"model": "gpt-a", "messages": user("x")}, PROVIDER_SECRET),
    ]:
        resp = httpx.post(gw.url("/v1/chat/completions"), headers={"Authorization": f"Bearer {key}"},
                          json=body, timeout=30)
        assert resp.status_code >= 400, resp.text
        answers.append(resp.text + json.dumps(dict(resp.headers)))
    # Gemini clients put the key in the query string.
    httpx.get(gw.url(f"/v1/models?key={virtual}"), headers=master)
    for path in ["/metrics", "/health", "/v1/models", "/health/readiness", "/model/info",
                 "/v2/model/info", "/model_group/info"]:
        resp = httpx.get(gw.url(path), headers=master, timeout=30)
        assert resp.status_code == 200, (path, resp.text)
        answers.append(resp.text)
    time.sleep(0.5)
    seen = "\n".join(answers) + gw.log()
    assert "tollgate::access" in seen
    for secret in (PROVIDER_SECRET, MASTER_SECRET, virtual):
        assert secret not in seen, secret
        # Nor a recognisable part of it (the random tail of each).
        assert secret[-12:] not in seen, secret
