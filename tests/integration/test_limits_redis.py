"""Rate limits and cooldowns shared by two gateway processes through one real Redis: a limit
holds in total, not per node; a cooldown one node starts, the other sees; with Redis gone,
calls go on under each node's own limits (or are refused, `fail_closed`) and share again once
it is back."""

import concurrent.futures
import time

import httpx

from conftest import MASTER_KEY, basic_config, openai_deployment
from keys_helpers import chat, generate_key


def two_nodes(mock, start_gateway, pg_cluster, redis_server, *deployments, name, **router):
    config = basic_config(mock, *(deployments or [openai_deployment(mock, "gpt-test")]))
    config["router_settings"] = {"redis_host": "127.0.0.1", "redis_port": redis_server.port, **router}
    env = {"DATABASE_URL": pg_cluster.create_database(name)}
    return [start_gateway(config, env=dict(env)), start_gateway(config, env=dict(env))]


def known_to(node, key):
    deadline = time.monotonic() + 10
    while httpx.get(node.url("/v1/models"), headers={"Authorization": f"Bearer {key}"}).status_code != 200:
        assert time.monotonic() < deadline, "the second node never learned the key"
        time.sleep(0.2)


def hammer(nodes, key, n, **body):
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(lambda i: chat(nodes[i % 2], key, **body), range(n)))


def test_a_key_limit_and_a_deployment_limit_hold_across_two_nodes(
    mock, start_gateway, pg_cluster, redis_server
):
    solo = openai_deployment(mock, "solo", model="solo", rpm=6)
    nodes = two_nodes(
        mock, start_gateway, pg_cluster, redis_server, openai_deployment(mock, "gpt-test"), solo,
        name="limits_shared",
    )
    key = generate_key(nodes[0], rpm_limit=20)
    known_to(nodes[1], key)
    answers = hammer(nodes, key, 40)
    codes = [a.status_code for a in answers]
    assert codes.count(200) == 20 and codes.count(429) == 20, codes
    assert {i % 2 for i, c in enumerate(codes) if c == 200} == {0, 1}, "both nodes served"

    solo_answers = hammer(nodes, MASTER_KEY, 12, model="solo")
    codes = [a.status_code for a in solo_answers]
    assert codes.count(200) == 6 and codes.count(429) == 6, codes


def test_a_cooldown_one_node_starts_the_other_sees(mock, start_gateway, pg_cluster, redis_server):
    broken = openai_deployment(mock, "gpt-test", model="broken", api_base="http://127.0.0.1:9/v1")
    broken["model_info"] = {"id": "broken"}
    healthy = openai_deployment(mock, "gpt-test", model="healthy")
    healthy["model_info"] = {"id": "healthy"}
    nodes = two_nodes(
        mock, start_gateway, pg_cluster, redis_server, broken, healthy, name="cooldowns",
        allowed_fails=0, cooldown_time=60, num_retries=1,
    )
    # Node 0 calls until it has tried the broken deployment once (and cooled it down).
    deadline = time.monotonic() + 10
    while True:
        r = chat(nodes[0], MASTER_KEY)
        assert r.status_code == 200, r.text
        if r.headers.get("x-litellm-attempted-retries") == "1":
            break
        assert time.monotonic() < deadline, "node 0 never tried the broken deployment"
    time.sleep(1.5)  # the keepers publish and pick up cooldowns twice a second
    for _ in range(12):
        r = chat(nodes[1], MASTER_KEY)
        assert r.status_code == 200, r.text
        assert r.headers["x-litellm-model-id"] == "healthy"
        assert r.headers["x-litellm-attempted-retries"] == "0", "node 1 tried the cooled-down deployment"


def test_redis_down_then_back(mock, start_gateway, pg_cluster, redis_server):
    nodes = two_nodes(mock, start_gateway, pg_cluster, redis_server, name="redis_outage")
    key = generate_key(nodes[0], rpm_limit=4)
    known_to(nodes[1], key)
    assert [a.status_code for a in hammer(nodes, key, 6)].count(200) == 4

    redis_server.stop()
    # Each node limits alone now: the key's shared minute is forgotten, each node admits 4.
    codes = [a.status_code for a in hammer(nodes, key, 12)]
    assert codes.count(200) == 8 and codes.count(429) == 4, codes

    redis_server.start()
    fresh = generate_key(nodes[0], rpm_limit=3)
    known_to(nodes[1], fresh)
    time.sleep(1.5)  # the keepers reconnect within half a second
    codes = [a.status_code for a in hammer(nodes, fresh, 8)]
    assert codes.count(200) == 3, f"shared again once Redis is back: {codes}"


def test_fail_closed_refuses_limited_calls_while_redis_is_down(
    mock, start_gateway, pg_cluster, redis_server
):
    nodes = two_nodes(
        mock, start_gateway, pg_cluster, redis_server, name="fail_closed",
        redis_failure_mode="fail_closed",
    )
    key = generate_key(nodes[0], rpm_limit=100)
    assert chat(nodes[0], key).status_code == 200
    redis_server.stop()
    r = chat(nodes[0], key)
    assert r.status_code == 503, r.text
    assert "fail_closed" in r.json()["error"]["message"]
    assert chat(nodes[0], MASTER_KEY).status_code == 200, "calls without limits go on"
    redis_server.start()
    deadline = time.monotonic() + 10
    while chat(nodes[0], key).status_code != 200:
        assert time.monotonic() < deadline, "never recovered"
        time.sleep(0.3)
