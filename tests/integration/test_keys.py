"""Virtual keys end to end, on the embedded store and on PostgreSQL: issue keys with LiteLLM's
admin API, call with them through the OpenAI SDK, and check what auth, budgets and spend do."""

import time

import openai
import pytest

from conftest import basic_config
from keys_helpers import (
    admin,
    chat,
    cost_of,
    generate_key,
    key_info,
    priced_deployment,
    wait_for_rows,
)


# A call with `max_tokens: 10` and the mock's usage 10/10 costs 0.03 and holds its worst case,
# about 0.045 (a ~90-byte prompt estimated at 4 bytes a token, plus 10 output tokens), while it
# runs: this budget admits one such call, and then not a second (0.03 + 0.045 > 0.05).
ONE_CALL_BUDGET = 0.05


def config(mock, **litellm_settings):
    c = basic_config(
        mock, priced_deployment(mock, "gpt-test"), priced_deployment(mock, "other-model")
    )
    if litellm_settings:
        c["litellm_settings"] = litellm_settings
    return c


def test_key_call_spend_and_model_access(mock, start_gateway, store_env):
    gw = start_gateway(config(mock), env=store_env)
    key = generate_key(gw, models=["gpt-test"], max_budget=10.0, rpm_limit=100, key_alias="app-1")
    client = gw.client(key=key)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": "hi [mock:usage=100,50]"}]
    )
    assert raw.parse().choices[0].message.content
    expected = cost_of(100, 50)
    assert float(raw.headers["x-litellm-response-cost"]) == pytest.approx(expected)
    assert float(raw.headers["x-litellm-key-spend"]) == pytest.approx(expected)
    assert raw.headers["x-litellm-key-max-budget"] == "10.0"
    info = key_info(gw, key)
    assert info["spend"] == pytest.approx(expected)
    assert info["key_alias"] == "app-1" and info["models"] == ["gpt-test"]

    with pytest.raises(openai.AuthenticationError) as e:
        client.chat.completions.create(model="other-model", messages=[{"role": "user", "content": "hi"}])
    assert "key not allowed to access model" in str(e.value)
    assert [m.id for m in client.models.list()] == ["gpt-test"]

    rows = wait_for_rows(gw, 1, api_key=key)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["spend"] == pytest.approx(expected)
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (100, 50, 150)
    assert row["model_group"] == "gpt-test" and row["status"] == "success"
    assert row["api_key"] != key and len(row["api_key"]) == 64  # hashed, never the raw key


def test_deleted_expired_and_blocked_keys_are_refused(mock, start_gateway, store_env):
    gw = start_gateway(config(mock), env=store_env)
    doomed, blocked, short = (generate_key(gw), generate_key(gw), generate_key(gw, duration="1s"))
    for k in (doomed, blocked, short):
        assert chat(gw, k).status_code == 200
    assert admin(gw, "/key/delete", {"keys": [doomed]}).status_code == 200
    assert admin(gw, "/key/block", {"key": blocked}).status_code == 200
    time.sleep(1.5)
    for k in (doomed, blocked, short, "sk-never-issued"):
        r = chat(gw, k)
        assert r.status_code == 401, (k, r.text)
        assert r.json()["error"]["code"] == "401"
    assert "blocked" in chat(gw, blocked).json()["error"]["message"]
    assert "Expired Key" in chat(gw, short).json()["error"]["message"]
    assert admin(gw, "/key/unblock", {"key": blocked}).status_code == 200
    assert chat(gw, blocked).status_code == 200


@pytest.mark.parametrize("status", [None, 429])
def test_over_budget_is_budget_exceeded_with_the_configured_status(mock, start_gateway, status, store_env):
    settings = {} if status is None else {"budget_exceeded_status_code": status}
    gw = start_gateway(config(mock, **settings), env=store_env)
    key = generate_key(gw, max_budget=ONE_CALL_BUDGET)
    assert chat(gw, key, "hi [mock:usage=10,10]", max_tokens=10).status_code == 200
    mock.clear()
    r = chat(gw, key, "hi [mock:usage=10,10]", max_tokens=10)
    assert r.status_code == (status or 422), r.text
    err = r.json()["error"]
    assert err["type"] == "budget_exceeded"
    assert "Budget has been exceeded!" in err["message"] and "Max budget" in err["message"]
    assert mock.requests() == [], "a refused call must not reach the provider"


def test_budget_resets_after_its_duration(mock, start_gateway, store_env):
    gw = start_gateway(config(mock), env=store_env)
    key = generate_key(gw, max_budget=ONE_CALL_BUDGET, budget_duration="2s")
    assert key_info(gw, key)["budget_reset_at"]
    assert chat(gw, key, "hi [mock:usage=10,10]", max_tokens=10).status_code == 200
    assert chat(gw, key, "hi [mock:usage=10,10]", max_tokens=10).status_code == 422
    deadline = time.monotonic() + 10
    while chat(gw, key, "hi [mock:usage=10,10]", max_tokens=10).status_code != 200:
        assert time.monotonic() < deadline, "the budget never reset"
        time.sleep(0.3)
    assert key_info(gw, key)["spend"] == pytest.approx(cost_of(10, 10))


def test_user_team_organization_and_end_user_budgets_cap_their_keys(mock, start_gateway, store_env):
    gw = start_gateway(config(mock), env=store_env)
    cap = ONE_CALL_BUDGET
    call = {"max_tokens": 10}

    r = admin(gw, "/user/new", {"user_id": "u-capped", "max_budget": cap})
    assert r.status_code == 200, r.text
    user_key = generate_key(gw, user_id="u-capped")

    r = admin(gw, "/team/new", {"team_alias": "capped", "max_budget": cap})
    assert r.status_code == 200, r.text
    team_key = generate_key(gw, team_id=r.json()["team_id"])

    r = admin(gw, "/organization/new", {"organization_alias": "org", "max_budget": cap})
    assert r.status_code == 200, r.text
    org_id = r.json()["organization_id"]
    r = admin(gw, "/team/new", {"team_alias": "in-org", "organization_id": org_id})
    assert r.status_code == 200, r.text
    org_key = generate_key(gw, team_id=r.json()["team_id"])

    r = admin(gw, "/customer/new", {"user_id": "end-user-1", "max_budget": cap})
    assert r.status_code == 200, r.text
    free_key = generate_key(gw)

    for key, extra in ((user_key, {}), (team_key, {}), (org_key, {}), (free_key, {"user": "end-user-1"})):
        assert chat(gw, key, "hi [mock:usage=10,10]", **call, **extra).status_code == 200
        second = chat(gw, key, "hi [mock:usage=10,10]", **call, **extra)
        assert second.status_code == 422, (key, second.text)
        assert second.json()["error"]["type"] == "budget_exceeded"
    # The end user's budget is its own: the same key without `user` still works.
    assert chat(gw, free_key, "hi", **call).status_code == 200


def test_roles_on_admin_routes(mock, start_gateway, store_env):
    gw = start_gateway(config(mock), env=store_env)
    ordinary = generate_key(gw)
    assert admin(gw, "/key/generate", {}, key=ordinary).status_code == 403
    assert admin(gw, "/user/new", {"user_id": "x"}, key=ordinary).status_code == 403
    own = admin(gw, "/key/info", method="GET", key=ordinary)
    assert own.status_code == 200, own.text
    other = generate_key(gw)
    assert admin(gw, f"/key/info?key={other}", method="GET", key=ordinary).status_code == 403

    r = admin(gw, "/user/new", {"user_id": "viewer", "user_role": "proxy_admin_viewer"})
    assert r.status_code == 200, r.text
    viewer = r.json()["key"]
    assert admin(gw, "/key/list", method="GET", key=viewer).status_code == 200
    assert admin(gw, f"/key/info?key={other}", method="GET", key=viewer).status_code == 200
    assert admin(gw, "/key/generate", {}, key=viewer).status_code == 403
    assert admin(gw, "/key/delete", {"keys": [other]}, key=viewer).status_code == 403


def test_access_groups_and_soft_budgets(mock, start_gateway):
    grouped = priced_deployment(mock, "grouped")
    grouped["model_info"] = {"access_groups": ["beta-models"]}
    gw = start_gateway(basic_config(mock, priced_deployment(mock, "gpt-test"), grouped))
    key = generate_key(gw, models=["beta-models"], soft_budget=0.01)
    assert chat(gw, key, "hi [mock:usage=10,10]", model="grouped").status_code == 200
    refused = chat(gw, key, model="gpt-test")
    assert refused.status_code == 401 and "not allowed to access model" in refused.text
    assert [m.id for m in gw.client(key=key).models.list()] == ["grouped"]
    # 0.03 spent is over the soft budget: a warning, never a refusal.
    deadline = time.monotonic() + 5
    while "soft budget crossed" not in gw.log():
        assert time.monotonic() < deadline, gw.log()
        time.sleep(0.1)
    assert chat(gw, key, "hi", model="grouped").status_code == 200


@pytest.mark.parametrize("keep", [False, True])
def test_prompts_reach_spend_logs_only_when_asked(mock, start_gateway, keep):
    c = config(mock)
    if keep:
        c["general_settings"]["store_prompts_in_spend_logs"] = True
    gw = start_gateway(c)
    key = generate_key(gw)
    assert chat(gw, key, "a secret prompt").status_code == 200
    row = wait_for_rows(gw, 1, api_key=key)[0]
    if keep:
        assert row["messages"] == [{"role": "user", "content": "a secret prompt"}]
        assert row["response"]["choices"][0]["message"]["content"]
    else:
        assert row["messages"] == {} and row["response"] == {}
        assert "a secret prompt" not in str(row)
