"""OpenAI SDK against the gateway: chat (whole and streamed), completions, embeddings, models."""

import httpx

from conftest import MASTER_KEY, basic_config, openai_deployment

MOCK_REPLY = "Hello from the mock provider."


def test_chat_completion_through_the_sdk(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    resp = gw.client().chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "Say hello"}]
    )
    assert resp.choices[0].message.content == MOCK_REPLY
    assert resp.choices[0].finish_reason == "stop"
    # The answer names the alias the client asked for, not the provider's model.
    assert resp.model == "gpt-test"
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens > 0


def test_streamed_chat_joins_to_the_mock_text(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    stream = gw.client().chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "Say hello"}],
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == MOCK_REPLY
    assert len(chunks) >= 4, "the stream should arrive as several chunks"
    assert all(c.model == "gpt-test" for c in chunks)
    assert all(c.usage is None for c in chunks), "no usage chunk unless asked for"


def test_stream_with_include_usage_ends_with_a_usage_chunk(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    chunks = list(
        gw.client().chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "Say hello"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None and last.usage.completion_tokens == len(MOCK_REPLY.split())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == MOCK_REPLY


def test_raw_stream_is_sse_ending_with_done(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    with httpx.stream(
        "POST",
        gw.url("/chat/completions"),
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        json={"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        timeout=30,
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    assert events.count("data: [DONE]") == 1
    assert all(e.startswith("data: ") for e in events)


def test_stream_chunks_arrive_as_they_are_produced(mock, start_gateway):
    """With 300 ms between mock chunks, the first chunk must reach the client long before the
    last is produced: the gateway does not buffer the stream."""
    import time

    gw = start_gateway(basic_config(mock))
    t0 = time.monotonic()
    arrivals = []
    stream = gw.client().chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        extra_body={"mock": {"chunk_delay_ms": 300, "chunks": 4}},
    )
    for c in stream:
        if c.choices and c.choices[0].delta.content:
            arrivals.append(time.monotonic() - t0)
    assert len(arrivals) == 4
    # Spread over ~0.9 s rather than delivered together at the end.
    assert arrivals[-1] - arrivals[0] > 0.6, arrivals


def test_legacy_completions(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    resp = gw.client().completions.create(model="gpt-test", prompt="Say hello")
    assert resp.choices[0].text == MOCK_REPLY
    assert resp.model == "gpt-test"
    assert mock.last()["path"] == "/v1/completions"


def test_embeddings(mock, start_gateway):
    gw = start_gateway(basic_config(mock, openai_deployment(mock, "embed-test", "text-embedding-3-small")))
    resp = gw.client().embeddings.create(model="embed-test", input=["one", "two"])
    assert len(resp.data) == 2
    assert len(resp.data[0].embedding) == 8
    assert resp.model == "embed-test"
    rec = mock.last()
    assert rec["path"] == "/v1/embeddings"
    assert rec["body"]["model"] == "text-embedding-3-small"


def test_models_lists_exactly_the_aliases(mock, start_gateway):
    cfg = basic_config(
        mock,
        openai_deployment(mock, "alpha"),
        openai_deployment(mock, "beta"),
        openai_deployment(mock, "alpha", model="second-deployment"),
        openai_deployment(mock, "openai/*", model="*"),
    )
    gw = start_gateway(cfg)
    ids = [m.id for m in gw.client().models.list()]
    assert ids == ["alpha", "beta"]
    # Without the /v1 prefix too.
    r = httpx.get(gw.url("/models"), headers={"Authorization": f"Bearer {MASTER_KEY}"})
    assert [m["id"] for m in r.json()["data"]] == ["alpha", "beta"]
    assert r.json()["object"] == "list"


def test_routes_without_v1_prefix(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    r = gw.post("/chat/completions", {"model": "gpt-test", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == MOCK_REPLY


def test_wildcard_deployment_serves_any_matching_model(mock, start_gateway):
    gw = start_gateway(basic_config(mock, openai_deployment(mock, "openai/*", model="*")))
    resp = gw.client().chat.completions.create(
        model="openai/some-new-model", messages=[{"role": "user", "content": "hi"}]
    )
    assert resp.model == "openai/some-new-model"
    assert mock.last()["body"]["model"] == "some-new-model"


def test_mock_response_answers_locally(mock, start_gateway):
    cfg = {
        "model_list": [
            {"model_name": "canned", "litellm_params": {"model": "openai/x", "mock_response": "Canned answer here"}}
        ],
        "general_settings": {"master_key": MASTER_KEY},
    }
    gw = start_gateway(cfg)
    before = mock.count()
    c = gw.client()
    assert c.chat.completions.create(model="canned", messages=[{"role": "user", "content": "q"}]).choices[0].message.content == "Canned answer here"
    streamed = "".join(
        ch.choices[0].delta.content or ""
        for ch in c.chat.completions.create(model="canned", messages=[{"role": "user", "content": "q"}], stream=True)
        if ch.choices
    )
    assert streamed == "Canned answer here"
    assert mock.count() == before, "mock_response must not reach any provider"


def test_health_endpoints(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    assert httpx.get(gw.url("/health/liveliness")).json() == "I'm alive!"
    assert httpx.get(gw.url("/health/liveness")).status_code == 200
    ready = httpx.get(gw.url("/health/readiness")).json()
    assert ready["status"] == "healthy"



def test_readiness_checks_the_store_for_real(mock, start_gateway, pg_cluster):
    gw = start_gateway(basic_config(mock), env={"DATABASE_URL": pg_cluster.create_database("ready")})
    r = httpx.get(gw.url("/health/readiness"))
    assert r.status_code == 200 and r.json()["db"] == "connected", r.text
    pg_cluster.stop()
    try:
        r = httpx.get(gw.url("/health/readiness"), timeout=10)
        assert r.status_code == 503 and r.json()["db"] == "Not connected", r.text
    finally:
        pg_cluster.start()
    assert httpx.get(gw.url("/health/readiness"), timeout=10).json()["db"] == "connected"
