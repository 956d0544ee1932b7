"""The response cache end to end (issue 16): the gateway binary in front of the mock, called
through the official OpenAI SDK. The mock's request count proves whether a provider was called."""

import time

import httpx
import pytest

from conftest import MASTER_KEY, basic_config
from keys_helpers import admin, generate_key, priced_deployment, wait_for_rows

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def cache_config(mock, **cache_params):
    c = basic_config(mock, priced_deployment(mock, "gpt-test"), priced_deployment(mock, "embed-test"))
    c["litellm_settings"] = {"cache": True, "cache_params": {"type": "local", **cache_params}}
    return c


def ask(client, text="What is the capital of France?", **kw):
    return client.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": text}], **kw
    )


def test_second_identical_call_is_a_hit_that_never_reaches_the_provider(mock, start_gateway):
    gw = start_gateway(cache_config(mock))
    key = generate_key(gw)
    client = gw.client(key=key)
    before = mock.count()
    first = ask(client, user="alice")
    assert mock.count() == before + 1
    second = ask(client, user="bob", metadata={"x": "y"})  # neither changes the answer
    assert mock.count() == before + 1, "the second identical call reached the provider"

    a, b = first.parse(), second.parse()
    assert b.choices[0].message.content == a.choices[0].message.content
    assert b.model == "gpt-test"
    assert b.id != a.id and b.id.startswith("chatcmpl-")
    cache_key = first.headers["x-litellm-cache-key"]
    assert len(cache_key) == 64 and second.headers["x-litellm-cache-key"] == cache_key
    assert float(second.headers["x-litellm-response-cost"]) == 0
    assert float(first.headers["x-litellm-response-cost"]) > 0

    rows = wait_for_rows(gw, 2, api_key=key)
    assert sorted(r["cache_hit"] for r in rows) == ["False", "True"], rows
    hit = next(r for r in rows if r["cache_hit"] == "True")
    assert hit["spend"] == 0 and hit["model_group"] == "gpt-test" and hit["status"] == "success"

    ask(client, text="Something else entirely")
    assert mock.count() == before + 2, "a different question must not be a hit"


def test_no_cache_bypasses_and_no_store_does_not_store(mock, start_gateway):
    gw = start_gateway(cache_config(mock))
    client = gw.client()
    before = mock.count()
    ask(client, text="no-store question", extra_body={"cache": {"no-store": True}})
    ask(client, text="no-store question")
    assert mock.count() == before + 2, "a no-store answer was stored"
    ask(client, text="no-store question")
    assert mock.count() == before + 2, "the plain call's answer was not stored"

    ask(client, text="no-store question", extra_body={"cache": {"no-cache": True}})
    assert mock.count() == before + 3, "no-cache was answered from the cache"
    ask(client, text="no-store question", extra_headers={"Cache-Control": "no-cache"})
    assert mock.count() == before + 4, "Cache-Control: no-cache was answered from the cache"
    ask(client, text="header no-store", extra_headers={"Cache-Control": "no-store"})
    ask(client, text="header no-store")
    assert mock.count() == before + 6, "Cache-Control: no-store was stored"


def test_ttl_expiry_refetches(mock, start_gateway):
    gw = start_gateway(cache_config(mock, ttl=1))
    client = gw.client()
    before = mock.count()
    ask(client, text="ttl question")
    ask(client, text="ttl question")
    assert mock.count() == before + 1
    time.sleep(1.5)
    ask(client, text="ttl question")
    assert mock.count() == before + 2, "an expired entry was served"


def test_per_request_ttl_and_s_maxage(mock, start_gateway):
    gw = start_gateway(cache_config(mock))
    client = gw.client()
    before = mock.count()
    ask(client, text="short-lived", extra_body={"cache": {"ttl": 1}})
    ask(client, text="short-lived")
    assert mock.count() == before + 1
    time.sleep(1.5)
    ask(client, text="short-lived")
    assert mock.count() == before + 2, "the request's own ttl was not applied"

    time.sleep(1.2)
    ask(client, text="short-lived", extra_body={"cache": {"s-maxage": 10}})
    assert mock.count() == before + 2
    ask(client, text="short-lived", extra_body={"cache": {"s-maxage": 1}})
    assert mock.count() == before + 3, "an entry older than s-maxage was served"


def test_namespaces_keep_entries_apart(mock, start_gateway):
    gw = start_gateway(cache_config(mock, namespace="team-a"))
    client = gw.client()
    before = mock.count()
    first = ask(client, text="namespaced")
    assert first.headers["x-litellm-cache-key"].startswith("team-a:")
    ask(client, text="namespaced", extra_body={"cache": {"namespace": "team-b"}})
    assert mock.count() == before + 2
    other = ask(client, text="namespaced", extra_body={"cache": {"namespace": "team-b"}})
    assert mock.count() == before + 2
    assert other.headers["x-litellm-cache-key"].startswith("team-b:")


def stream_chunks(client, text):
    stream = client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": text}], stream=True
    )
    return list(stream)


def test_a_cached_stream_replays_chunk_by_chunk(mock, start_gateway):
    gw = start_gateway(cache_config(mock))
    client = gw.client()
    before = mock.count()
    first = stream_chunks(client, "stream me [mock:chunks=4]")
    assert mock.count() == before + 1
    time.sleep(0.2)  # the entry is written in the background once the stream ended
    second = stream_chunks(client, "stream me [mock:chunks=4]")
    assert mock.count() == before + 1, "the cached stream reached the provider"

    text = lambda chunks: "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(second) > 1, "the cached stream came back as a single chunk"
    assert len(second) == len(first)
    assert text(second) == text(first) and text(first)
    assert {c.id for c in second} != {c.id for c in first}
    assert len({c.id for c in second}) == 1
    assert all(c.model == "gpt-test" for c in second)

    # A stream and a whole answer are different entries.
    ask(client, text="stream me [mock:chunks=4]")
    assert mock.count() == before + 2


def test_a_stream_cut_short_is_not_stored(mock, start_gateway):
    gw = start_gateway(cache_config(mock))
    client = gw.client()
    before = mock.count()
    for _ in range(2):
        try:
            stream_chunks(client, "cut [mock:chunks=5][mock:break_after_chunks=2]")
        except Exception:  # the SDK may raise on the error event
            pass
    assert mock.count() == before + 2, "a stream that did not end cleanly was stored"


def embed(gw, inputs):
    return gw.client().embeddings.create(model="embed-test", input=inputs)


def test_embeddings_are_cached_per_input(mock, start_gateway):
    gw = start_gateway(cache_config(mock))
    before = mock.count()
    first = embed(gw, ["alpha", "beta"])
    assert mock.count() == before + 1
    again = embed(gw, ["alpha", "beta"])
    assert mock.count() == before + 1, "a repeated embeddings request reached the provider"
    assert [d.embedding for d in again.data] == [d.embedding for d in first.data]
    assert [d.index for d in again.data] == [0, 1]

    mixed = embed(gw, ["gamma", "alpha"])
    assert mock.count() == before + 2
    assert mock.last()["body"]["input"] == ["gamma"], "the cached input was asked for again"
    assert mixed.data[1].embedding == first.data[0].embedding
    assert [d.index for d in mixed.data] == [0, 1]
    single = embed(gw, "beta")
    assert mock.count() == before + 2
    assert single.data[0].embedding == first.data[1].embedding


def test_semantic_type_warns_and_matches_exactly(mock, start_gateway):
    config = cache_config(mock)
    config["litellm_settings"]["cache_params"] = {"type": "qdrant-semantic", "similarity_threshold": 0.8}
    gw = start_gateway(config)
    assert "litellm_settings.cache_params.type" in gw.log() and "semantic caching" in gw.log()
    client = gw.client()
    before = mock.count()
    ask(client, text="semantic question")
    ask(client, text="semantic question")
    assert mock.count() == before + 1
    ask(client, text="a semantically similar question")
    assert mock.count() == before + 2, "only exact matches are hits"


def test_cache_routes(mock, start_gateway):
    gw = start_gateway(cache_config(mock))
    client = gw.client()
    ping = admin(gw, "/cache/ping", method="GET")
    assert ping.status_code == 200, ping.text
    assert ping.json()["status"] == "healthy" and ping.json()["cache_type"] == "local"

    before = mock.count()
    key = ask(client, text="delete me").headers["x-litellm-cache-key"]
    r = admin(gw, "/cache/delete", {"keys": [key]})
    assert r.status_code == 200 and r.json() == {"status": "success"}, r.text
    ask(client, text="delete me")
    assert mock.count() == before + 2, "a deleted entry was served"
    r = admin(gw, "/cache/flushall", {})
    assert r.status_code == 200 and r.json() == {"status": "success"}, r.text
    ask(client, text="delete me")
    assert mock.count() == before + 3, "an entry survived flushall"

    user_key = generate_key(gw)
    r = admin(gw, "/cache/flushall", {}, key=user_key)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "403"
    assert admin(gw, "/cache/ping", method="GET", key="sk-wrong").status_code == 401


def test_cache_routes_without_a_cache(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    r = admin(gw, "/cache/ping", method="GET")
    assert r.status_code == 503
    assert r.json()["error"]["type"] == "cache_ping_error"


def redis_config(mock, redis_server):
    config = cache_config(mock)
    config["litellm_settings"]["cache_params"] = {
        "type": "redis",
        "host": "127.0.0.1",
        "port": redis_server.port,
        "ttl": 60,
    }
    return config


def test_redis_cache_is_shared_by_two_gateways(mock, start_gateway, redis_server):
    config = redis_config(mock, redis_server)
    one, two = start_gateway(config), start_gateway(config)
    before = mock.count()
    first = ask(one.client(), text="shared question")
    assert mock.count() == before + 1
    key = first.headers["x-litellm-cache-key"]
    deadline = time.monotonic() + 5
    while b"$-1" in redis_server.command("GET", key) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = ask(two.client(), text="shared question")
    assert mock.count() == before + 1, "the other node's cached answer was not used"
    assert second.headers["x-litellm-cache-key"] == key
    assert float(second.headers["x-litellm-response-cost"]) == 0
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content

    ping = admin(two, "/cache/ping", method="GET").json()
    assert ping["cache_type"] == "redis" and ping["ping_response"] is True
    assert admin(two, "/cache/flushall", {}).status_code == 200
    ask(one.client(), text="shared question")
    assert mock.count() == before + 2, "flushall through one node left the entry for the other"


def test_redis_down_is_a_miss_not_an_error(mock, start_gateway):
    config = cache_config(mock)
    from conftest import free_port

    config["litellm_settings"]["cache_params"] = {"type": "redis", "host": "127.0.0.1", "port": free_port()}
    gw = start_gateway(config)
    client = gw.client()
    before = mock.count()
    for _ in range(2):
        assert ask(client, text="no redis").parse().choices[0].message.content
    assert mock.count() == before + 2
    r = httpx.get(gw.url("/cache/ping"), headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30)
    assert r.status_code == 503


def test_redis_killed_mid_test_is_misses_then_shared_again(mock, start_gateway):
    from redis_server import RedisServer

    server = RedisServer()
    try:
        config = cache_config(mock)
        config["litellm_settings"]["cache_params"] = {"type": "redis", "host": "127.0.0.1", "port": server.port}
        gw = start_gateway(config)
        client = gw.client()
        before = mock.count()
        ask(client, text="before the outage")
        time.sleep(0.2)
        ask(client, text="before the outage")
        assert mock.count() == before + 1

        server.stop()
        started = time.monotonic()
        assert ask(client, text="before the outage").parse().choices[0].message.content
        assert time.monotonic() - started < 3, "a dead Redis held the call up"
        assert mock.count() == before + 2

        server.start()
        deadline = time.monotonic() + 10
        attempt = 0
        while True:  # a new text each time: an earlier one may have been stored late
            attempt += 1
            n = mock.count()
            ask(client, text=f"after the outage {attempt}")
            time.sleep(0.2)
            ask(client, text=f"after the outage {attempt}")
            if mock.count() == n + 1 or time.monotonic() > deadline:
                break
        assert mock.count() == n + 1, "the cache did not come back with Redis"
    finally:
        server.close()


@pytest.mark.parametrize("alias", ["claude", "gpt"])
def test_anthropic_messages_are_cached_whole_and_streamed(mock, start_gateway, alias):
    import anthropic
    from conftest import openai_deployment
    from provider_helpers import deployment

    config = basic_config(
        mock,
        deployment("claude", "anthropic/claude-x", api_base=mock.base, api_key="sk-ant-k"),
        openai_deployment(mock, "gpt"),
    )
    config["litellm_settings"] = {"cache": True, "cache_params": {"type": "local"}}
    gw = start_gateway(config)
    client = anthropic.Anthropic(api_key=MASTER_KEY, base_url=gw.base, max_retries=0, timeout=30)
    messages = [{"role": "user", "content": "Cache this for Claude"}]
    before = mock.count()
    first = client.messages.create(model=alias, max_tokens=50, messages=messages)
    second = client.messages.create(model=alias, max_tokens=50, messages=messages)
    assert mock.count() == before + 1, "the second identical message reached the provider"
    assert second.content[0].text == first.content[0].text
    assert second.model == alias and second.id != first.id and second.id.startswith("msg_")

    def streamed():
        with client.messages.stream(model=alias, max_tokens=50, messages=messages) as s:
            events = list(s)
            return events, s.get_final_message()

    events, final = streamed()
    time.sleep(0.2)
    replayed, replayed_final = streamed()
    assert mock.count() == before + 2, "the cached stream reached the provider"
    text = lambda evs: "".join(e.delta.text for e in evs if e.type == "content_block_delta")
    assert text(replayed) == text(events) == first.content[0].text
    assert len([e for e in replayed if e.type == "content_block_delta"]) > 1 or len(replayed) > 3
    assert replayed_final.stop_reason == final.stop_reason and replayed_final.id != final.id
