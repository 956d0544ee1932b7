"""Load balancing, retries, fallbacks, cooldowns, tiers and health checks, against the mock.

The mock's behaviour is chosen per deployment by the provider model name: `status-500` always
fails with 500, `slow-300` answers after 300 ms (text after the digits is free, so several
deployments can share a behaviour and still be told apart in the mock's records).
"""

import collections
import concurrent.futures
import json
import subprocess
import time

import httpx

from conftest import MASTER_KEY, MOCK_BIN, PROVIDER_KEY, assert_openai_error, free_port, wait_http

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def dep(mock, name, model, **params):
    return {
        "model_name": name,
        "litellm_params": {"model": f"openai/{model}", "api_base": f"{mock.base}/v1", "api_key": PROVIDER_KEY, **params},
    }


def config(deployments, router=None, litellm=None, general=None):
    cfg = {"model_list": deployments, "general_settings": {"master_key": MASTER_KEY, **(general or {})}}
    if router:
        cfg["router_settings"] = router
    if litellm:
        cfg["litellm_settings"] = litellm
    return cfg


def models_hit(mock):
    return collections.Counter(r["body"]["model"] for r in mock.requests() if r.get("body"))


def chat(gw, model="g", **extra):
    return gw.post("/v1/chat/completions", dict(CHAT, model=model, **extra))


def test_failing_deployment_is_retried_elsewhere_then_cooled_down_and_returns(mock, start_gateway):
    gw = start_gateway(
        config(
            [dep(mock, "g", "status-500-bad"), dep(mock, "g", "good-one")],
            # Long enough that the calls below finish inside it even on a loaded debug build.
            router={"allowed_fails": 1, "cooldown_time": 6, "num_retries": 2},
        )
    )
    mock.clear()
    statuses = [chat(gw).status_code for _ in range(30)]
    assert statuses == [200] * 30
    hits = models_hit(mock)
    assert hits["good-one"] == 30
    # allowed_fails: 1 → the second failure in a minute cools it down; it is then skipped.
    assert hits["status-500-bad"] == 2, hits
    # After cooldown_time it is back in rotation (and fails again).
    time.sleep(6.5)
    mock.clear()
    for _ in range(20):
        assert chat(gw).status_code == 200
    assert models_hit(mock)["status-500-bad"] >= 1


def test_retries_are_reported_in_headers(mock, start_gateway):
    gw = start_gateway(config([dep(mock, "g", "status-500-x", order=1), dep(mock, "g", "ok-x", order=2)]))
    r = chat(gw)
    assert r.status_code == 200
    assert r.headers["x-litellm-attempted-retries"] == "1"
    assert r.headers["x-litellm-attempted-fallbacks"] == "0"
    assert r.headers["x-litellm-model-group"] == "g"


def test_one_megabyte_request_is_retried_and_succeeds(mock, start_gateway):
    gw = start_gateway(config([dep(mock, "g", "status-503-big", order=1), dep(mock, "g", "ok-big", order=2)]))
    mock.clear()
    big = "x" * (1024 * 1024)
    r = gw.post("/v1/chat/completions", {"model": "g", "messages": [{"role": "user", "content": big}]})
    assert r.status_code == 200, r.text[:300]
    reqs = mock.requests()
    assert [q["body_len"] > 1024 * 1024 for q in reqs] == [True, True]
    assert len({q["body_sha256"] for q in reqs}) == 2, "each attempt carries its own model name"


def test_fallback_to_another_group_and_provider(mock, start_gateway):
    azure = {
        "model_name": "backup",
        "litellm_params": {"model": "azure/backup-dep", "api_base": mock.base, "api_key": "az", "api_version": "2024-10-21"},
    }
    gw = start_gateway(
        config(
            [dep(mock, "primary", "status-500-p1"), dep(mock, "primary", "status-500-p2"), azure],
            router={"fallbacks": [{"primary": ["backup"]}], "num_retries": 1},
        )
    )
    mock.clear()
    r = chat(gw, "primary")
    assert r.status_code == 200, r.text
    assert r.headers["x-litellm-model-group"] == "backup"
    assert r.headers["x-litellm-attempted-fallbacks"] == "1"
    assert r.json()["model"] == "primary"
    assert mock.last()["path"] == "/openai/deployments/backup-dep/chat/completions"


def test_per_request_fallbacks_are_used_and_not_forwarded(mock, start_gateway):
    gw = start_gateway(config([dep(mock, "a", "status-500-a"), dep(mock, "b", "ok-b")], router={"num_retries": 0}))
    mock.clear()
    r = chat(gw, "a", fallbacks=["b"])
    assert r.status_code == 200
    assert r.headers["x-litellm-model-group"] == "b"
    for q in mock.requests():
        assert "fallbacks" not in q["body"]


def test_context_window_fallback(mock, start_gateway):
    too_long = {"error": {"message": "This model's maximum context length is 10 tokens", "type": "invalid_request_error", "code": "context_length_exceeded"}}
    gw = start_gateway(
        config(
            [dep(mock, "small", "small-model"), dep(mock, "large", "large-model")],
            router={"context_window_fallbacks": [{"small": ["large"]}]},
        )
    )
    mock.clear()
    # The mock answers 400 context error only to the small model's first call (per-request mock
    # controls reach every attempt, so key the failure on the model name instead).
    r = chat(gw, "small", mock={"status": 400, "error_body": too_long})
    # Both groups get the same mock control, so the fallback fails the same way: the error the
    # client sees names the context window.
    assert r.status_code == 400
    assert "context length" in r.json()["error"]["message"]
    assert [q["body"]["model"] for q in mock.requests()] == ["small-model", "large-model"]


def test_bad_request_is_neither_retried_nor_fallen_back(mock, start_gateway):
    gw = start_gateway(config([dep(mock, "a", "a1"), dep(mock, "a", "a2"), dep(mock, "b", "b1")], router={"fallbacks": [{"a": ["b"]}]}))
    mock.clear()
    r = chat(gw, "a", mock={"status": 400})
    assert_openai_error(r, 400)
    assert len(mock.requests()) == 1


def test_all_deployments_cooling_down_gives_a_clear_429(mock, start_gateway):
    gw = start_gateway(
        config([dep(mock, "g", "status-429-a"), dep(mock, "g", "status-429-b")], router={"cooldown_time": 30, "num_retries": 1})
    )
    assert_openai_error(chat(gw), 429)
    err = assert_openai_error(chat(gw), 429)
    assert err["message"].startswith("No deployments available for selected model, Try again in")


def test_timeout_gives_408_or_is_retried_elsewhere(mock, start_gateway):
    gw = start_gateway(
        config(
            [dep(mock, "lonely", "slow-5000-l", timeout=1), dep(mock, "pair", "slow-5000-p", timeout=1, order=1), dep(mock, "pair", "fast-p", order=2)],
            router={"num_retries": 0, "retry_policy": {"TimeoutErrorRetries": 1}},
        )
    )
    t0 = time.monotonic()
    assert_openai_error(chat(gw, "lonely", mock={}), 408)
    t1 = time.monotonic()
    r = chat(gw, "pair")
    t2 = time.monotonic()
    assert r.status_code == 200
    assert r.headers["x-litellm-attempted-retries"] == "1"
    assert t2 - t1 < 3, "the retry went to the fast deployment"
    assert t1 - t0 < 3.5


def test_latency_routing_prefers_the_faster_deployment(mock, start_gateway):
    gw = start_gateway(
        config([dep(mock, "g", "slow-150-s"), dep(mock, "g", "fast-f")], router={"routing_strategy": "latency-based-routing"})
    )
    for _ in range(6):  # warm-up: both get measured
        assert chat(gw).status_code == 200
    mock.clear()
    for _ in range(40):
        assert chat(gw).status_code == 200
    hits = models_hit(mock)
    assert hits["fast-f"] >= 0.9 * 40, hits


def test_least_busy_spreads_concurrent_slow_requests(mock, start_gateway):
    gw = start_gateway(
        config([dep(mock, "g", "slow-600-a"), dep(mock, "g", "slow-600-b")], router={"routing_strategy": "least-busy"})
    )
    mock.clear()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = []
        for _ in range(8):
            futures.append(pool.submit(chat, gw))
            time.sleep(0.05)  # each arrives while the earlier ones are in flight
        assert [f.result().status_code for f in futures] == [200] * 8
    hits = models_hit(mock)
    assert hits["slow-600-a"] == hits["slow-600-b"] == 4, hits


def test_weighted_shuffle_follows_weights(mock, start_gateway):
    gw = start_gateway(config([dep(mock, "g", "heavy", weight=9), dep(mock, "g", "light", weight=1)]))
    mock.clear()
    for _ in range(100):
        assert chat(gw).status_code == 200
    assert models_hit(mock)["heavy"] >= 75


def test_order_tiers_are_respected(mock, start_gateway):
    gw = start_gateway(
        config(
            [dep(mock, "g", "first-tier", order=1), dep(mock, "g", "second-tier", order=2)],
        )
    )
    mock.clear()
    for _ in range(20):
        assert chat(gw).status_code == 200
    assert models_hit(mock) == {"first-tier": 20}


def test_health_checks_take_a_dead_deployment_out_and_back(mock, start_gateway):
    port = free_port()

    def start_second_mock():
        p = subprocess.Popen([str(MOCK_BIN), "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{port}/__mock/health")
        return p

    second = start_second_mock()
    flaky = {
        "model_name": "g",
        "litellm_params": {"model": "openai/on-second-mock", "api_base": f"http://127.0.0.1:{port}/v1", "api_key": "k"},
    }
    gw = start_gateway(
        config(
            [dep(mock, "g", "on-main-mock"), flaky],
            general={"background_health_checks": True, "health_check_interval": 1},
        )
    )
    try:
        health = httpx.get(gw.url("/health"), headers={"Authorization": f"Bearer {MASTER_KEY}"}).json()
        assert health["healthy_count"] == 2, health
        second.terminate()
        second.wait(timeout=5)
        time.sleep(2.5)  # two intervals
        health = httpx.get(gw.url("/health"), headers={"Authorization": f"Bearer {MASTER_KEY}"}).json()
        assert health["unhealthy_count"] == 1, health
        assert health["unhealthy_endpoints"][0]["api_base"] == f"http://127.0.0.1:{port}/v1"
        # Each endpoint says when its last background check ran and how long it took.
        for e in health["healthy_endpoints"] + health["unhealthy_endpoints"]:
            assert e["last_checked_at"].endswith("Z") and e["health_check_latency_ms"] >= 0, e
        assert "api_key" not in json.dumps(health) and "Bearer" not in json.dumps(health)
        # No client request fails because of the dead deployment.
        assert all(chat(gw).status_code == 200 for _ in range(20))
        second = start_second_mock()
        time.sleep(2.5)
        health = httpx.get(gw.url("/health"), headers={"Authorization": f"Bearer {MASTER_KEY}"}).json()
        assert health["healthy_count"] == 2, health
    finally:
        second.terminate()
        second.wait(timeout=5)


def test_broken_stream_keeps_gateway_healthy(mock, start_gateway):
    gw = start_gateway(config([dep(mock, "g", "ok")]))
    for _ in range(3):
        with httpx.stream(
            "POST",
            gw.url("/v1/chat/completions"),
            headers={"Authorization": f"Bearer {MASTER_KEY}"},
            json=dict(CHAT, model="g", stream=True, mock={"chunks": 5, "break_after_chunks": 1}),
            timeout=10,
        ) as r:
            lines = [line for line in r.iter_lines() if line]
        assert '"error"' in lines[-2] and lines[-1] == "data: [DONE]"
    assert chat(gw).status_code == 200


def test_stream_stalled_midway_ends_with_an_error_event(mock, start_gateway):
    gw = start_gateway(config([dep(mock, "g", "stalls", stream_timeout=1)], router={"num_retries": 0}))
    t0 = time.monotonic()
    with httpx.stream(
        "POST",
        gw.url("/v1/chat/completions"),
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        json=dict(CHAT, model="g", stream=True, mock={"chunks": 3, "chunk_delay_ms": 4000}),
        timeout=15,
    ) as r:
        assert r.status_code == 200
        lines = [line for line in r.iter_lines() if line]
    assert time.monotonic() - t0 < 3.5, "the stall is cut at the stream timeout"
    err = json.loads(lines[-2][len("data: "):])["error"]
    assert err["code"] == "408"
    assert lines[-1] == "data: [DONE]"
    assert chat(gw).status_code == 200


def test_health_check_model_makes_a_real_minimal_completion(mock, start_gateway):
    d = dep(mock, "g", "*")
    d["model_name"] = "openai/*"
    d["model_info"] = {"health_check_model": "openai/probe-model"}
    gw = start_gateway(config([d], general={"background_health_checks": True, "health_check_interval": 1}))
    deadline = time.monotonic() + 5
    probes = []
    while time.monotonic() < deadline and not probes:
        probes = [r for r in mock.requests() if r.get("body") and r["body"].get("model") == "probe-model"]
        time.sleep(0.2)
    assert probes, "no health-check completion reached the mock"
    assert probes[-1]["body"]["max_tokens"] == 1
    assert probes[-1]["path"] == "/v1/chat/completions"
    health = httpx.get(gw.url("/health"), headers={"Authorization": f"Bearer {MASTER_KEY}"}).json()
    assert health["healthy_count"] == 1
