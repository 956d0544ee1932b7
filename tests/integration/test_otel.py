"""OpenTelemetry traces (`callbacks: ["otel"]`), received by a real OTLP/HTTP collector.

The collector (`otel_helpers.Collector`) is a small `http.server` that accepts
`POST /v1/traces` and decodes each `ExportTraceServiceRequest` with the `opentelemetry-proto`
package, as a collector would. The mock provider records every request with its headers, so the test sees
the `traceparent` each attempt carried upstream. A `status-500-*` model always fails, so a
group that starts with one retries on its second deployment, and a group whose only
deployment fails falls back.
"""

import concurrent.futures
import hashlib
import json
import socket
import time

import httpx
import pytest
from opentelemetry.proto.trace.v1 import trace_pb2

from conftest import MASTER_KEY, PROVIDER_KEY, free_port, openai_deployment
from keys_helpers import admin, generate_key
from otel_helpers import Collector, GrpcCollector, attrs

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
PROMPT = "a private prompt about otters"
SERVER = trace_pb2.Span.SpanKind.SPAN_KIND_SERVER
CLIENT = trace_pb2.Span.SpanKind.SPAN_KIND_CLIENT
STATUS_ERROR = trace_pb2.Status.StatusCode.STATUS_CODE_ERROR


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.close()


def otel_config(mock, **litellm):
    return {
        "model_list": [
            openai_deployment(mock, "gpt-test"),
            # A retry: the first deployment (order 1) always fails, the second answers.
            openai_deployment(mock, "flaky", model="status-500-otel", order=1),
            openai_deployment(mock, "flaky", model="ok-otel", order=2),
            # A fallback: the only deployment of "broken" fails, "spare" answers.
            openai_deployment(mock, "broken", model="status-500-broken"),
            openai_deployment(mock, "spare", model="ok-spare"),
        ],
        "router_settings": {"fallbacks": [{"broken": ["spare"]}]},
        "litellm_settings": {"callbacks": ["otel"], **litellm},
        "general_settings": {"master_key": MASTER_KEY},
    }


def chat(gw, model, key=MASTER_KEY, headers=None, **body):
    return gw.post(
        "/v1/chat/completions",
        {"model": model, "messages": [{"role": "user", "content": PROMPT}], **body},
        key=key,
        headers=dict(headers or {}),
    )


def split(spans):
    roots = [s for s in spans if s.kind == SERVER]
    assert len(roots) == 1, spans
    children = sorted((s for s in spans if s.kind == CLIENT), key=lambda s: s.start_time_unix_nano)
    assert len(roots) + len(children) == len(spans), spans
    return roots[0], children


def parent_header(trace_id: str, span) -> str:
    return f"00-{trace_id}-{span.span_id.hex()}-01"


def test_otel_traces_continue_the_client_and_carry_genai_attributes(mock, start_gateway, collector):
    gw = start_gateway(
        otel_config(mock),
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint(),
            "OTEL_EXPORTER_OTLP_HEADERS": "x-collector-token=tok%201",
            "OTEL_SERVICE_NAME": "tollgate-under-test",
        },
    )
    team = admin(gw, "/team/new", {"team_alias": "otel-team"}).json()["team_id"]
    key = generate_key(gw, team_id=team, key_alias="otel-alias")
    calls = {}

    def seen(name, resp):
        assert resp.status_code == 200, resp.text
        calls[name] = (resp, mock.requests())

    # 1: the client's trace is continued, with a virtual key.
    mock.clear()
    tp = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
    seen("client", chat(gw, "gpt-test", key=key, headers={"traceparent": tp, "tracestate": "vendor=x"}))
    # 2: a retry within the group; 3: a fallback to another group.
    mock.clear()
    seen("retry", chat(gw, "flaky"))
    mock.clear()
    seen("fallback", chat(gw, "broken", num_retries=0))
    # 4: a stream, usage asked for; 5: an unusable traceparent starts a new trace.
    mock.clear()
    stream = chat(gw, "gpt-test", stream=True, stream_options={"include_usage": True})
    seen("stream", stream)
    mock.clear()
    seen("junk", chat(gw, "gpt-test", headers={"traceparent": "00-zz-not-a-trace-01"}))

    traces = collector.wait_for_roots(len(calls))
    assert len(traces) == len(calls), {t: [s.name for s in spans] for t, spans in traces.items()}
    by_call = {}
    for trace_id, spans in traces.items():
        root, children = split(spans)
        by_call[attrs(root.attributes)["tollgate.call_id"]] = (trace_id, root, children)
    assert set(by_call) == {r.headers["x-litellm-call-id"] for r, _ in calls.values()}

    def trace_of(name):
        resp, upstream = calls[name]
        return (*by_call[resp.headers["x-litellm-call-id"]], resp, upstream)

    # The client's trace: same trace id, the root's parent is the client's span; the mock got
    # the attempt's own span as parent, and the client's tracestate.
    trace_id, root, children, resp, upstream = trace_of("client")
    assert trace_id == CLIENT_TRACE
    assert root.parent_span_id.hex() == CLIENT_SPAN
    assert root.name == "litellm_request"
    assert len(children) == 1
    attempt = children[0]
    assert attempt.parent_span_id == root.span_id and attempt.name == "chat upstream-model"
    assert [r["headers"].get("traceparent") for r in upstream] == [parent_header(CLIENT_TRACE, attempt)]
    assert upstream[0]["headers"].get("tracestate") == "vendor=x"
    a = attrs(root.attributes)
    usage = resp.json()["usage"]
    assert a["gen_ai.system"] == "openai"
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "gpt-test"
    assert a["gen_ai.response.model"] == "upstream-model"
    assert a["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert a["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert a["http.response.status_code"] == 200
    assert a["litellm.model_group"] == "gpt-test"
    assert a["tollgate.retries"] == 0 and a["tollgate.fallbacks"] == 0
    assert a["metadata.user_api_key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert a["metadata.user_api_key_team_id"] == team
    assert a["metadata.user_api_key_alias"] == "otel-alias"
    assert "litellm.response_cost" in a
    b = attrs(attempt.attributes)
    assert b["litellm.api_provider"] == "openai" and b["http.response.status_code"] == 200
    assert b["litellm.api_base"] == f"{mock.base}/v1"
    assert b["tollgate.retry_index"] == 0 and b["tollgate.fallback"] is False
    assert b["litellm.model_id"]

    # A retry: two attempt spans, the failed one an error; each upstream request named its own.
    trace_id, root, children, resp, upstream = trace_of("retry")
    assert len(children) == 2
    first, second = (attrs(c.attributes) for c in children)
    assert first["http.response.status_code"] == 500 and children[0].status.code == STATUS_ERROR
    assert second["http.response.status_code"] == 200 and children[1].status.code != STATUS_ERROR
    assert (first["tollgate.retry_index"], second["tollgate.retry_index"]) == (0, 1)
    assert first["litellm.model_id"] != second["litellm.model_id"]
    assert root.parent_span_id == b"" and attrs(root.attributes)["tollgate.retries"] == 1
    assert attrs(root.attributes)["gen_ai.response.model"] == "ok-otel"
    assert sorted(r["headers"]["traceparent"] for r in upstream) == sorted(parent_header(trace_id, c) for c in children)

    # A fallback: the second attempt is in the fallback group.
    trace_id, root, children, resp, upstream = trace_of("fallback")
    assert len(children) == 2
    first, second = (attrs(c.attributes) for c in children)
    assert (first["litellm.model_group"], first["tollgate.fallback"]) == ("broken", False)
    assert (second["litellm.model_group"], second["tollgate.fallback"]) == ("spare", True)
    ra = attrs(root.attributes)
    assert ra["tollgate.fallbacks"] == 1 and ra["litellm.model_group"] == "spare"
    assert ra["gen_ai.request.model"] == "broken" and ra["gen_ai.response.model"] == "ok-spare"

    # A stream: its usage chunk's counts.
    trace_id, root, children, resp, upstream = trace_of("stream")
    chunks = [line[6:] for line in resp.text.splitlines() if line.startswith("data: {")]
    usage = [json.loads(c)["usage"] for c in chunks if json.loads(c).get("usage")][-1]
    ra = attrs(root.attributes)
    assert (ra["gen_ai.usage.input_tokens"], ra["gen_ai.usage.output_tokens"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert len(children) == 1 and children[0].end_time_unix_nano <= root.end_time_unix_nano

    # A junk traceparent: a trace of the gateway's own, still propagated upstream.
    trace_id, root, children, resp, upstream = trace_of("junk")
    assert trace_id != CLIENT_TRACE and root.parent_span_id == b""
    assert upstream[0]["headers"]["traceparent"] == parent_header(trace_id, children[0])

    # The resource, the collector's headers, and no secret or prompt anywhere in a span.
    resources = {tuple(sorted(r.items())) for r, _ in collector.spans}
    assert all(dict(r)["service.name"] == "tollgate-under-test" for r in resources)
    assert all(h.get("x-collector-token") == "tok 1" for h in collector.headers)
    for resource, span in collector.spans:
        text = repr(span) + repr(resource)
        for secret in (MASTER_KEY, PROVIDER_KEY, key, PROMPT):
            assert secret not in text, (secret, span.name)


def test_otel_a_failed_call_is_an_error_span(mock, start_gateway, collector):
    cfg = otel_config(mock)
    cfg["router_settings"] = {"num_retries": 0}
    gw = start_gateway(cfg, env={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{collector.endpoint()}/v1/traces"})
    r = chat(gw, "broken")
    assert r.status_code == 500, r.text
    traces = collector.wait_for_roots(1)
    (spans,) = traces.values()
    root, children = split(spans)
    assert root.status.code == STATUS_ERROR
    assert attrs(root.attributes)["http.response.status_code"] == 500
    assert len(children) == 1 and children[0].status.code == STATUS_ERROR
    assert attrs(children[0].attributes)["error.type"]


def test_otel_no_traceparent_upstream_without_the_callback(mock, start_gateway):
    cfg = otel_config(mock)
    del cfg["litellm_settings"]
    gw = start_gateway(cfg)
    mock.clear()
    r = chat(gw, "gpt-test", headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
    assert r.status_code == 200, r.text
    assert "traceparent" not in mock.last()["headers"]


def black_hole():
    """A port that accepts connections (the kernel's backlog) and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    return s


@pytest.mark.parametrize("collector_state", ["closed", "silent"])
def test_otel_a_dead_or_silent_collector_never_slows_a_call(mock, start_gateway, collector_state):
    hole = black_hole() if collector_state == "silent" else None
    port = hole.getsockname()[1] if hole else free_port()
    cfg = otel_config(mock, require_auth_for_metrics_endpoint=False)
    cfg["litellm_settings"]["callbacks"].append("prometheus")
    try:
        gw = start_gateway(cfg, env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"})
        latencies = []

        def one(i):
            started = time.monotonic()
            r = chat(gw, "gpt-test" if i % 3 else "flaky")
            latencies.append(time.monotonic() - started)
            return r.status_code

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(one, range(120)))
        assert statuses == [200] * 120
        # Nothing waits on the exporter: every call is as quick as the mock.
        assert max(latencies) < 2.0, max(latencies)
        assert httpx.get(gw.url("/health/liveliness"), timeout=5).status_code == 200
        if collector_state == "closed":
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                text = httpx.get(gw.url("/metrics"), timeout=5).text
                failures = [l for l in text.splitlines() if l.startswith("tollgate_otel_export_failures_total ")]
                if failures and float(failures[0].split()[1]) >= 1:
                    break
                time.sleep(0.2)
            else:
                pytest.fail(f"no export failure counted:\n{failures}")
        assert chat(gw, "gpt-test").status_code == 200
    finally:
        if hole:
            hole.close()


def metric(gw, name: str) -> float:
    text = httpx.get(gw.url("/metrics"), timeout=5).text
    lines = [l for l in text.splitlines() if l.startswith(name + " ")]
    assert lines, f"{name} not in /metrics"
    return float(lines[0].split()[1])


def test_otel_a_collector_that_comes_back_gets_spans_again(mock, start_gateway):
    """A failed export marks the collector down: calls build no spans (counted as dropped) until
    the backoff ends; the next call's spans are the probe, and once the collector answers,
    spans flow again."""
    port = free_port()
    cfg = otel_config(mock, require_auth_for_metrics_endpoint=False)
    cfg["litellm_settings"]["callbacks"].append("prometheus")
    gw = start_gateway(cfg, env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"})
    assert metric(gw, "tollgate_otel_collector_up") == 1
    assert chat(gw, "gpt-test").status_code == 200
    deadline = time.monotonic() + 10
    while metric(gw, "tollgate_otel_collector_up") != 0:
        assert time.monotonic() < deadline, "the failed export never marked the collector down"
        time.sleep(0.05)
    # While it is down, calls answer as ever and their spans are only counted.
    for _ in range(5):
        assert chat(gw, "gpt-test").status_code == 200
    assert metric(gw, "tollgate_otel_spans_dropped_total") >= 2
    collector = Collector(port)
    try:
        deadline = time.monotonic() + 45
        while not collector.traces():
            assert time.monotonic() < deadline, "no span reached the collector once it was back"
            assert chat(gw, "gpt-test", headers={"x-request-id": "after"}).status_code == 200
            time.sleep(0.5)
        while metric(gw, "tollgate_otel_collector_up") != 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # Back to batching: a call now is exported like any other.
        before = len(collector.traces())
        assert chat(gw, "gpt-test").status_code == 200
        assert len(collector.wait_for_roots(before + 1)) >= before + 1
        assert metric(gw, "tollgate_otel_spans_exported_total") >= 2
    finally:
        collector.close()


def test_otel_grpc_export(mock, start_gateway):
    """`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`: the same spans through a gRPC collector."""
    pytest.importorskip("grpc")
    server = GrpcCollector()
    try:
        gw = start_gateway(
            otel_config(mock),
            env={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": server.endpoint()},
        )
        mock.clear()
        tp = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
        assert chat(gw, "flaky", headers={"traceparent": tp}).status_code == 200
        root, children = split(server.wait_for_spans(3))
        assert root.trace_id.hex() == CLIENT_TRACE and root.parent_span_id.hex() == CLIENT_SPAN
        assert len(children) == 2
        assert sorted(r["headers"]["traceparent"] for r in mock.requests()) == sorted(
            parent_header(CLIENT_TRACE, c) for c in children
        )
        assert attrs(root.attributes)["gen_ai.request.model"] == "flaky"
    finally:
        server.close()


def test_otel_the_last_calls_spans_are_sent_before_a_graceful_exit(mock, start_gateway, collector):
    """SIGTERM: the drain waits for the calls in flight, then for their spans to go out."""
    import signal

    gw = start_gateway(otel_config(mock), env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint()})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        body = {"model": "gpt-test", "messages": [{"role": "user", "content": "[mock:delay_ms=1500] hi"}]}
        slow = pool.submit(gw.post, "/v1/chat/completions", body)
        time.sleep(0.5)
        gw.proc.send_signal(signal.SIGTERM)
        assert slow.result().status_code == 200
    assert gw.proc.wait(timeout=20) == 0
    traces = collector.traces()
    assert len(traces) == 1, traces
    root, children = split(next(iter(traces.values())))
    assert len(children) == 1
