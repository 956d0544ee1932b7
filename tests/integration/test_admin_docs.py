"""LiteLLM's documented admin calls, with the JSON bodies of its docs, answer with the fields
LiteLLM answers with."""

import datetime

from conftest import basic_config
from keys_helpers import admin, chat, priced_deployment, wait_for_rows


def test_documented_admin_calls(mock, start_gateway):
    gw = start_gateway(basic_config(mock, priced_deployment(mock, "gpt-3.5-turbo"), priced_deployment(mock, "gpt-4")))

    r = admin(gw, "/key/generate", {"models": ["gpt-3.5-turbo", "gpt-4"], "metadata": {"user": "ishaan@berri.ai"}})
    assert r.status_code == 200, r.text
    gen = r.json()
    assert {"key", "key_name", "expires", "token", "models", "metadata"} <= set(gen), gen
    assert gen["key_name"] == "sk-..." + gen["key"][-4:]
    key = gen["key"]

    r = admin(gw, "/user/new", {"user_email": "krrish@berri.ai", "user_role": "internal_user"})
    assert r.status_code == 200, r.text
    assert {"user_id", "key", "user_email", "user_role"} <= set(r.json()), r.json()

    r = admin(gw, "/team/new", {"team_alias": "my-new-team_2", "members_with_roles": [{"role": "admin", "user_id": "user-1234"}]})
    assert r.status_code == 200, r.text
    team = r.json()
    assert team["team_alias"] == "my-new-team_2" and team["team_id"]
    assert [(m["role"], m["user_id"]) for m in team["members_with_roles"]] == [("admin", "user-1234")]

    r = admin(gw, "/team/member_add", {"team_id": team["team_id"], "member": {"role": "user", "user_id": "krrish247652@berri.ai"}})
    assert r.status_code == 200, r.text
    roles = r.json()["members_with_roles"]  # LiteLLM answers the team row itself
    assert ("user", "krrish247652@berri.ai") in [(m["role"], m["user_id"]) for m in roles]

    assert chat(gw, key, "hi [mock:usage=7,3]", model="gpt-4").status_code == 200
    r = admin(gw, f"/key/info?key={key}", method="GET")
    assert r.status_code == 200, r.text
    info = r.json()
    assert set(info) == {"key", "info"} and info["info"]["models"] == ["gpt-3.5-turbo", "gpt-4"]
    assert "token" not in info["info"]

    rows = wait_for_rows(gw, 1, api_key=key)
    assert {"request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens", "completion_tokens",
            "startTime", "endTime", "model", "model_group", "api_base", "user", "metadata", "cache_hit",
            "request_tags", "team_id", "end_user", "status"} <= set(rows[0]), rows[0]

    today = datetime.datetime.now(datetime.timezone.utc).date()
    span = f"start_date={today - datetime.timedelta(days=1)}&end_date={today}"
    r = admin(gw, f"/global/spend/report?{span}&group_by=team", method="GET")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report and report[0]["group_by_day"].startswith(str(today))
    team_rows = report[0]["teams"]
    assert team_rows[0]["team_name"] == "Unassigned Team" and team_rows[0]["total_spend"] > 0
    assert {"model", "api_key", "spend", "total_tokens"} <= set(team_rows[0]["metadata"][0])
    r = admin(gw, f"/global/spend/report?{span}&group_by=api_key", method="GET")
    assert r.status_code == 200 and r.json()[0]["model_details"][0]["model"] == "upstream-model", r.text
    assert admin(gw, "/global/spend/report?start_date=yesterday", method="GET").status_code == 400
