"""Rate limits on one gateway (counted in its own memory): a key's requests, tokens and calls
in flight per minute, with the headers LiteLLM and OpenAI send, and deployments at their
`rpm` skipped for others of their group."""

import concurrent.futures
import time

import openai
import pytest

from conftest import MASTER_KEY, basic_config, openai_deployment
from keys_helpers import chat, generate_key


def test_key_requests_tokens_and_parallel_limits(mock, start_gateway):
    gw = start_gateway(basic_config(mock, openai_deployment(mock, "gpt-test")))

    # Requests per minute: ten pass, each saying what is left; the eleventh is refused.
    rpm_key = generate_key(gw, rpm_limit=10)
    started = time.monotonic()
    for i in range(10):
        r = chat(gw, rpm_key)
        assert r.status_code == 200, r.text
        assert r.headers["x-ratelimit-limit-requests"] == "10"
        assert r.headers["x-ratelimit-remaining-requests"] == str(9 - i)
        assert r.headers["x-ratelimit-api_key-remaining-requests"] == str(9 - i)
        assert r.headers["x-ratelimit-api_key-limit-requests"] == "10"
    refused = chat(gw, rpm_key)
    assert refused.status_code == 429, refused.text
    err = refused.json()["error"]
    assert err["type"] == "rate_limit_error" and err["code"] == "429"
    assert "Rate limit exceeded for api_key" in err["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-limit-requests"] == "10"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"].endswith("s")
    with pytest.raises(openai.RateLimitError):
        gw.client(key=rpm_key).chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )

    # Calls in flight: the third of three slow calls is refused, and admitted once one ends.
    parallel_key = generate_key(gw, max_parallel_requests=2)
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        slow = [pool.submit(chat, gw, parallel_key, "hi [mock:delay_ms=1500]") for _ in range(2)]
        time.sleep(0.5)
        third = chat(gw, parallel_key)
        assert third.status_code == 429, third.text
        assert [f.result().status_code for f in slow] == [200, 200]
    assert chat(gw, parallel_key).status_code == 200

    # Tokens per minute: refused once real usage (120 tokens) has passed the limit.
    tpm_key = generate_key(gw, tpm_limit=100)
    first = chat(gw, tpm_key, "hi [mock:usage=60,60]")
    assert first.status_code == 200, first.text
    assert first.headers["x-ratelimit-limit-tokens"] == "100"
    over = chat(gw, tpm_key, "hi [mock:usage=1,1]")
    assert over.status_code == 429, over.text
    assert "tokens" in over.json()["error"]["message"]

    # The window slides: a minute after the first calls, the rpm key has room again.
    while time.monotonic() - started < 61:
        time.sleep(1)
    again = chat(gw, rpm_key)
    assert again.status_code == 200, again.text


def test_a_deployment_at_its_rpm_is_skipped_for_another(mock, start_gateway):
    limited = openai_deployment(mock, "gpt-test", model="limited", rpm=2)
    limited["model_info"] = {"id": "limited"}
    spare = openai_deployment(mock, "gpt-test", model="spare")
    spare["model_info"] = {"id": "spare"}
    only = openai_deployment(mock, "solo", model="solo", rpm=3)
    gw = start_gateway(basic_config(mock, limited, spare, only))
    served = [chat(gw, MASTER_KEY) for _ in range(12)]
    assert all(r.status_code == 200 for r in served), [r.text for r in served if r.status_code != 200]
    by = [r.headers["x-litellm-model-id"] for r in served]
    assert by.count("limited") <= 2 and by.count("spare") >= 10, by

    # A group whose only deployment is at its rpm answers 429.
    answers = [chat(gw, MASTER_KEY, model="solo").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429], answers


def test_team_end_user_and_per_model_limits(mock, start_gateway):
    gw = start_gateway(basic_config(mock, openai_deployment(mock, "gpt-test"), openai_deployment(mock, "other")))
    from keys_helpers import admin

    team = admin(gw, "/team/new", {"team_alias": "t", "rpm_limit": 2}).json()["team_id"]
    team_key = generate_key(gw, team_id=team)
    assert [chat(gw, team_key).status_code for _ in range(3)] == [200, 200, 429]
    assert "Rate limit exceeded for team" in chat(gw, team_key).text

    assert admin(gw, "/customer/new", {"user_id": "eu-1", "rpm_limit": 1}).status_code == 200
    free_key = generate_key(gw)
    assert [chat(gw, free_key, user="eu-1").status_code for _ in range(2)] == [200, 429]
    assert chat(gw, free_key).status_code == 200, "the end user's limit is its own"

    model_key = generate_key(gw, model_rpm_limit={"gpt-test": 2})
    first = chat(gw, model_key)
    assert first.headers["x-litellm-key-remaining-requests-gpt-test"] == "1"
    assert chat(gw, model_key).status_code == 200
    assert chat(gw, model_key).status_code == 429
    assert chat(gw, model_key, model="other").status_code == 200, "other models are not limited"
