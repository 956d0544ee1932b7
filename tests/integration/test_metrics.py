"""The Prometheus exporter on `/metrics`: LiteLLM's metric and label names, fed by real calls.

Known traffic goes through the official openai SDK with a virtual key (so key labels are
filled): successful calls on two priced model groups, calls on a group whose only deployment
fails (`status-500-*` models always answer 500), a call that falls back, and a stream. The
scrape is parsed with `prometheus_client`'s own parser, as Prometheus would read it.
"""

import hashlib
import json
import signal
import time

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import MASTER_KEY, openai_deployment, run_check, user
from keys_helpers import admin, generate_key, priced_deployment

PROMETHEUS = {"callbacks": ["prometheus"], "require_auth_for_metrics_endpoint": False}

# Every metric and label name the exporter promises, spelled as LiteLLM's exporter writes them.
COUNTERS = {
    "litellm_proxy_total_requests_metric": {"end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias", "user", "status_code", "user_email", "route", "model_id", "api_provider"},
    "litellm_proxy_failed_requests_metric": {"end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias", "user", "exception_status", "exception_class", "route", "model_id", "api_provider"},
    "litellm_requests_metric": {"end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user", "requested_model", "model_id", "api_provider"},
    "litellm_deployment_success_responses": {"model_group", "requested_model", "litellm_model_name", "model_id", "api_base", "api_provider", "hashed_api_key", "api_key_alias", "team", "team_alias"},
    "litellm_deployment_failure_responses": {"model_group", "requested_model", "litellm_model_name", "model_id", "api_base", "api_provider", "exception_status", "exception_class", "hashed_api_key", "api_key_alias", "team", "team_alias"},
    "litellm_deployment_total_requests": {"model_group", "requested_model", "litellm_model_name", "model_id", "api_base", "api_provider", "hashed_api_key", "api_key_alias", "team", "team_alias"},
    "litellm_deployment_successful_fallbacks": {"requested_model", "fallback_model", "hashed_api_key", "api_key_alias", "team", "team_alias", "exception_status", "exception_class", "model_id"},
    "litellm_deployment_failed_fallbacks": {"requested_model", "fallback_model", "hashed_api_key", "api_key_alias", "team", "team_alias", "exception_status", "exception_class", "model_id"},
    "litellm_spend_metric": {"end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user", "requested_model", "model_id", "api_provider"},
    "litellm_input_tokens_metric": {"end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user", "requested_model", "model_id", "api_provider"},
    "litellm_output_tokens_metric": {"end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user", "requested_model", "model_id", "api_provider"},
    "litellm_total_tokens_metric": {"end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user", "requested_model", "model_id", "api_provider"},
}
HISTOGRAMS = {
    "litellm_request_total_latency_metric": {"model_group", "end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias", "user", "model", "model_id", "api_provider"},
    "litellm_llm_api_latency_metric": {"model_group", "model", "hashed_api_key", "api_key_alias", "team", "team_alias", "requested_model", "end_user", "user", "model_id", "api_provider"},
    "litellm_llm_api_time_to_first_token_metric": {"model_group", "model", "hashed_api_key", "api_key_alias", "team", "team_alias", "requested_model", "end_user", "user", "model_id", "api_provider"},
    "litellm_overhead_latency_metric": {"model_group", "api_provider", "api_base", "litellm_model_name", "hashed_api_key", "api_key_alias", "model_id"},
}
GAUGES = {
    "litellm_deployment_state": {"litellm_model_name", "model_id", "api_base", "api_provider"},
    "litellm_remaining_api_key_budget_metric": {"hashed_api_key", "api_key_alias"},
    "litellm_remaining_team_budget_metric": {"team", "team_alias"},
    "litellm_team_max_budget_metric": {"team", "team_alias"},
    "litellm_api_key_max_budget_metric": {"hashed_api_key", "api_key_alias"},
    "litellm_remaining_user_budget_metric": {"user"},
    "litellm_user_max_budget_metric": {"user"},
    "litellm_remaining_requests_metric": {"model_group", "api_provider", "api_base", "litellm_model_name", "hashed_api_key", "api_key_alias", "model_id"},
    "litellm_remaining_tokens_metric": {"model_group", "api_provider", "api_base", "litellm_model_name", "hashed_api_key", "api_key_alias", "model_id"},
}
# LiteLLM's LATENCY_BUCKETS.
BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 420.0, 600.0, float("inf")]


def config(mock, litellm_settings=PROMETHEUS, **general):
    return {
        "model_list": [
            priced_deployment(mock, "gpt-a", model="ok-a"),
            priced_deployment(mock, "gpt-b", model="ok-b"),
            openai_deployment(mock, "gpt-stream", model="ok-s"),
            openai_deployment(mock, "dead", model="status-500-dead"),
            openai_deployment(mock, "broken", model="status-500-broken"),
            openai_deployment(mock, "hopeless", model="status-500-hopeless"),
            openai_deployment(mock, "chain", model="status-500-chain"),
        ],
        "general_settings": {"master_key": MASTER_KEY, **general},
        "litellm_settings": litellm_settings,
        "router_settings": {"num_retries": 0, "fallbacks": [{"broken": ["gpt-b"]}, {"hopeless": ["dead"]}, {"chain": ["dead", "gpt-b"]}], "allowed_fails": 1000},
    }


def scrape(gw, key=None) -> dict:
    """{family name: family} from one scrape."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    r = httpx.get(gw.url("/metrics"), headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(r.text)}, r.text


def samples(families, name, suffix="_total", **labels):
    """The samples of `name` + `suffix` whose labels include `labels`."""
    family = families.get(name)
    assert family is not None, f"{name} missing"
    return [
        s for s in family.samples
        if s.name == name + suffix and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def total(families, name, suffix="_total", **labels) -> float:
    return sum(s.value for s in samples(families, name, suffix, **labels))


def test_metrics_after_known_traffic(mock, start_gateway):
    gw = start_gateway(config(mock))
    team = admin(gw, "/team/new", {"team_alias": "metrics-team", "max_budget": 50.0})
    assert team.status_code == 200, team.text
    team_id = team.json()["team_id"]
    assert admin(gw, "/user/new", {"user_id": "metrics-user", "max_budget": 20.0}).status_code == 200
    key = generate_key(gw, key_alias="metrics-key", user_id="metrics-user", max_budget=100.0, team_id=team_id)
    hashed = hashlib.sha256(key.encode()).hexdigest()
    client = gw.client(key)
    costs = []
    calls = {"gpt-a": 3, "gpt-b": 2}
    for group, n in calls.items():
        for _ in range(n):
            raw = client.chat.completions.with_raw_response.create(model=group, messages=user("hello"))
            assert raw.http_response.status_code == 200
            costs.append(float(raw.headers["x-litellm-response-cost"]))
    failures = 2
    for _ in range(failures):
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model="dead", messages=user("hello"))
    fell_back = client.chat.completions.with_raw_response.create(model="broken", messages=user("hello"))
    assert fell_back.headers["x-litellm-attempted-fallbacks"] == "1"
    costs.append(float(fell_back.headers["x-litellm-response-cost"]))
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="hopeless", messages=user("hello"))
    chunks = list(client.chat.completions.create(model="gpt-stream", messages=user("hello"), stream=True))
    assert chunks
    # Two fallbacks tried in one call: dead fails, gpt-b answers (one event each, as LiteLLM).
    chained = client.chat.completions.with_raw_response.create(model="chain", messages=user("hello"))
    assert chained.headers["x-litellm-attempted-fallbacks"] == "2"
    costs.append(float(chained.headers["x-litellm-response-cost"]))
    # Refused before admission (a wrong key): still a proxy request, and a failed one.
    refused = httpx.post(gw.url("/v1/chat/completions"), headers={"Authorization": "Bearer sk-wrong"},
                         json={"model": "gpt-a", "messages": user("hello")})
    assert refused.status_code == 401

    families, text = scrape(gw)

    # Request counts equal the calls made, per model group and status.
    for group, n in calls.items():
        assert total(families, "litellm_proxy_total_requests_metric", requested_model=group, status_code="200") == n
        assert total(families, "litellm_requests_metric", requested_model=group) == n
        assert total(families, "litellm_deployment_success_responses", model_group=group) == n + 2 * (group == "gpt-b")
    assert total(families, "litellm_proxy_total_requests_metric", status_code="200") == 5 + 3
    assert total(families, "litellm_proxy_total_requests_metric", status_code="401") == 1
    assert total(families, "litellm_proxy_failed_requests_metric", exception_status="401") == 1
    assert total(families, "litellm_proxy_total_requests_metric", requested_model="dead") == failures
    ok = samples(families, "litellm_proxy_total_requests_metric", requested_model="gpt-a")[0].labels
    assert ok["hashed_api_key"] == hashed
    assert ok["api_key_alias"] == "metrics-key"
    assert ok["user"] == "metrics-user"
    assert ok["team"] == team_id
    assert ok["route"] == "/v1/chat/completions"
    assert ok["api_provider"] == "openai"
    assert ok["end_user"] == "", "end-user labels are off unless enabled"

    # Failures move the failed-request and deployment-failure counters.
    failed = samples(families, "litellm_proxy_failed_requests_metric", requested_model="dead")
    assert sum(s.value for s in failed) == failures
    assert {s.labels["exception_status"] for s in failed} <= {"500", "429", "503"}
    dead = samples(families, "litellm_deployment_failure_responses", model_group="dead")
    assert sum(s.value for s in dead) >= 1
    assert dead[0].labels["exception_class"] == "Openai.InternalServerError"
    assert total(families, "litellm_deployment_total_requests", model_group="dead") == sum(s.value for s in dead)

    # The fallback: broken failed once, gpt-b answered.
    fb = samples(families, "litellm_deployment_successful_fallbacks", requested_model="broken")
    assert sum(s.value for s in fb) == 1
    assert fb[0].labels["fallback_model"] == "gpt-b"
    assert fb[0].labels["exception_status"] == "500"
    lost = samples(families, "litellm_deployment_failed_fallbacks", requested_model="hopeless")
    assert sum(s.value for s in lost) == 1 and lost[0].labels["fallback_model"] == "dead"
    chain_lost = samples(families, "litellm_deployment_failed_fallbacks", requested_model="chain")
    chain_won = samples(families, "litellm_deployment_successful_fallbacks", requested_model="chain")
    assert [(s.labels["fallback_model"], s.value) for s in chain_lost] == [("dead", 1.0)]
    assert [(s.labels["fallback_model"], s.value) for s in chain_won] == [("gpt-b", 1.0)]
    assert total(families, "litellm_deployment_failure_responses", model_group="broken") == 1

    # Spend equals the summed x-litellm-response-cost of the priced calls.
    assert total(families, "litellm_spend_metric") == pytest.approx(sum(costs), rel=1e-9)
    assert total(families, "litellm_spend_metric", requested_model="gpt-a") > 0
    assert total(families, "litellm_total_tokens_metric") == total(families, "litellm_input_tokens_metric") + total(
        families, "litellm_output_tokens_metric"
    )
    assert total(families, "litellm_input_tokens_metric") > 0

    # Latency histograms have the calls, in LiteLLM's buckets.
    assert total(families, "litellm_request_total_latency_metric", "_count") == 8
    assert total(families, "litellm_llm_api_latency_metric", "_count", model_group="gpt-a") == 3
    assert total(families, "litellm_overhead_latency_metric", "_count") == 8
    assert total(families, "litellm_llm_api_time_to_first_token_metric", "_count") == 1
    les = sorted({float(s.labels["le"]) for s in samples(families, "litellm_request_total_latency_metric", "_bucket")})
    assert les == BUCKETS

    # Deployment state: healthy where calls answered, an outage where they failed.
    states = {s.labels["model_id"]: s.value for s in families["litellm_deployment_state"].samples}
    assert 0.0 in states.values() and any(v in (1.0, 2.0) for v in states.values())

    # The provider's own remaining limits (the mock sends x-ratelimit-remaining-*).
    left = samples(families, "litellm_remaining_requests_metric", "", model_group="gpt-a")
    assert left and left[0].value == 9999 and left[0].labels["hashed_api_key"] == hashed
    assert samples(families, "litellm_remaining_tokens_metric", "", model_group="gpt-a")[0].value == 999000

    # Budgets: what is left of the key's max_budget.
    remaining = samples(families, "litellm_remaining_api_key_budget_metric", "", hashed_api_key=hashed)
    assert remaining and remaining[0].value == pytest.approx(100.0 - sum(costs), abs=1e-6)
    assert remaining[0].labels["api_key_alias"] == "metrics-key"
    team_left = samples(families, "litellm_remaining_team_budget_metric", "", team=team_id)
    assert team_left and team_left[0].value == pytest.approx(50.0 - sum(costs), abs=1e-6)
    assert team_left[0].labels["team_alias"] == "metrics-team"
    user_left = samples(families, "litellm_remaining_user_budget_metric", "", user="metrics-user")
    assert user_left and user_left[0].value == pytest.approx(20.0 - sum(costs), abs=1e-6)
    assert total(families, "litellm_api_key_max_budget_metric", "", hashed_api_key=hashed) == 100.0
    assert total(families, "litellm_team_max_budget_metric", "", team=team_id) == 50.0
    assert total(families, "litellm_user_max_budget_metric", "", user="metrics-user") == 20.0

    # Every metric and label name, as LiteLLM spells them; counters end in `_total` once.
    for kind, table in (("counter", COUNTERS), ("histogram", HISTOGRAMS), ("gauge", GAUGES)):
        for name, labels in table.items():
            family = families.get(name)
            assert family is not None and family.type == kind, f"{name}: {family and family.type}"
            assert family.samples, f"{name} has no samples"
            missing = labels - set(family.samples[0].labels)
            assert not missing, f"{name} lacks {missing}"
    assert "_total_total" not in text
    assert "litellm_proxy_total_requests_metric_total{" in text
    for own in ("tollgate_config_reloads_total", "tollgate_spend_queue_depth", "tollgate_spend_rows_dropped_total",
                "tollgate_store_flush_failures_total", "tollgate_streams_in_flight", "tollgate_calls_in_flight",
                "tollgate_spend_flush_lag_seconds", "tollgate_spend_pending_rows", "tollgate_requests_open"):
        assert own in text, own
    assert total(families, "tollgate_streams_in_flight", "") == 0
    assert key not in text and MASTER_KEY not in text, "no key in the scrape"


def test_a_cooldown_is_counted_for_its_deployment(mock, start_gateway):
    """The first tier's deployment fails once and is cooled down for a minute; the calls after
    it go to the second tier, so there is exactly one cooldown, labelled with the 500."""
    gw = start_gateway({
        "model_list": [
            openai_deployment(mock, "pair", model="status-500-cool", order=1),
            openai_deployment(mock, "pair", model="ok-pair", order=2),
        ],
        "general_settings": {"master_key": MASTER_KEY},
        "litellm_settings": PROMETHEUS,
        "router_settings": {"num_retries": 1, "allowed_fails": 0, "cooldown_time": 60},
    })
    for _ in range(4):
        assert gw.client().chat.completions.create(model="pair", messages=user("hi")).choices
    families, _ = scrape(gw)
    cooled = samples(families, "litellm_deployment_cooled_down")
    assert [(s.labels["litellm_model_name"], s.labels["exception_status"], s.value) for s in cooled] == [
        ("status-500-cool", "500", 1.0)
    ]
    assert set(cooled[0].labels) >= {"litellm_model_name", "model_id", "api_base", "api_provider", "exception_status"}


def test_metrics_is_404_without_the_prometheus_callback(mock, start_gateway):
    gw = start_gateway(config(mock, litellm_settings={}))
    r = httpx.get(gw.url("/metrics"), headers={"Authorization": f"Bearer {MASTER_KEY}"})
    assert r.status_code == 404
    r = httpx.get(gw.url("/metrics"))
    assert r.status_code == 404


def test_metrics_asks_for_a_key_by_default_as_litellm(mock, start_gateway):
    gw = start_gateway(config(mock, litellm_settings={"success_callback": ["prometheus"]}))
    assert httpx.get(gw.url("/metrics")).status_code == 401
    assert httpx.get(gw.url("/metrics"), headers={"Authorization": "Bearer sk-wrong"}).status_code == 401
    scrape(gw, MASTER_KEY)
    scrape(gw, generate_key(gw))


def test_require_auth_for_metrics_endpoint_in_either_section(mock, start_gateway):
    gw = start_gateway(config(mock, litellm_settings={"callbacks": ["prometheus"]}, require_auth_for_metrics_endpoint=True))
    assert httpx.get(gw.url("/metrics")).status_code == 401
    scrape(gw, MASTER_KEY)
    gw = start_gateway(config(mock, require_auth_for_metrics_endpoint=False))
    scrape(gw)


def test_end_user_label_only_when_enabled(mock, start_gateway):
    for enabled in (False, True):
        settings = {**PROMETHEUS, "enable_end_user_cost_tracking_prometheus_only": enabled}
        gw = start_gateway(config(mock, litellm_settings=settings))
        r = gw.client().chat.completions.create(model="gpt-a", messages=user("hi"), user="customer-7")
        assert r.choices
        families, _ = scrape(gw)
        got = {s.labels["end_user"] for s in samples(families, "litellm_spend_metric")}
        assert got == ({"customer-7"} if enabled else {""})


def test_prometheus_callback_is_accepted_and_others_still_warned(mock):
    check = run_check(config(mock, litellm_settings={"callbacks": ["prometheus", "langfuse"]}))
    assert check.returncode == 0, check.stderr
    out = check.stdout + check.stderr
    assert '"langfuse" is not supported' in out
    assert '"prometheus"' not in out


def test_config_reloads_are_counted_and_the_exporter_follows_the_config(mock, start_gateway):
    cfg = config(mock)
    gw = start_gateway(cfg)

    def reloads():
        families, _ = scrape(gw)
        return {s.labels["result"]: s.value for s in families["tollgate_config_reloads"].samples if s.name.endswith("_total")}

    def hangup_until(done):
        gw.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not done():
            time.sleep(0.05)

    assert reloads() == {"ok": 0, "refused": 0}
    with open(gw.config_path, "w") as f:
        f.write("model_list:\n  - litellm_params:\n      model: openai/x\n")
    hangup_until(lambda: "config reload rejected" in gw.log())
    with open(gw.config_path, "w") as f:
        json.dump(cfg, f)
    hangup_until(lambda: reloads().get("ok") == 1)
    assert reloads() == {"ok": 1, "refused": 1}
    # Without the callback after a reload, /metrics is gone.
    with open(gw.config_path, "w") as f:
        json.dump(config(mock, litellm_settings={}), f)
    hangup_until(lambda: httpx.get(gw.url("/metrics")).status_code == 404)
    assert httpx.get(gw.url("/metrics")).status_code == 404
