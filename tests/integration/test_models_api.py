"""Models managed at runtime (LiteLLM's model API, `store_model_in_db`): `/model/new` answers at
once on this node and, through a shared PostgreSQL, on a second node; `/model/info` and
`/v1/models` list it without its key; it survives a restart and is gone after `/model/delete`;
a team's model is its keys' alone. Provider secrets given through the API are sealed in the
store and never answered back."""

import os
import time
import uuid

import httpx
import pytest

from conftest import CHAT_PATH, MASTER_KEY, REPLY, basic_config, user
from keys_helpers import admin, generate_key

API_SECRET = "sk-provider-through-the-api-" + uuid.uuid4().hex


def stored_config(mock, **general):
    config = basic_config(mock)
    config["general_settings"]["store_model_in_db"] = True
    config["general_settings"].update(general)
    return config


def new_model(mock, name, **info):
    body = {
        "model_name": name,
        "litellm_params": {"model": "openai/api-upstream", "api_base": f"{mock.base}/v1", "api_key": API_SECRET},
    }
    if info:
        body["model_info"] = info
    return body


def chat(gw, model, key=MASTER_KEY):
    return gw.post(CHAT_PATH, {"model": model, "messages": user("hi")}, key=key)


def listed_models(gw, key=MASTER_KEY):
    r = httpx.get(gw.url("/v1/models"), headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert r.status_code == 200, r.text
    return [m["id"] for m in r.json()["data"]]


def model_info(gw, key=MASTER_KEY, path="/model/info"):
    r = httpx.get(gw.url(path), headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def wait_until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.1)


def test_a_model_added_answers_at_once_is_listed_without_its_key_survives_a_restart_and_goes(
    mock, start_gateway
):
    config = stored_config(mock)
    gw = start_gateway(config)
    r = admin(gw, "/model/new", new_model(mock, "api-gpt", id="api-model-1", description="added at runtime"))
    assert r.status_code == 200, r.text
    row = r.json()
    assert row["model_id"] == "api-model-1" and row["model_name"] == "api-gpt"
    assert "api_key" not in row["litellm_params"] and API_SECRET not in r.text

    mock.clear()
    r = chat(gw, "api-gpt")
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == REPLY
    sent = mock.last()
    assert sent["body"]["model"] == "api-upstream"
    assert sent["headers"]["authorization"] == f"Bearer {API_SECRET}"

    assert "api-gpt" in listed_models(gw)
    entries = {e["model_name"]: e for e in model_info(gw)}
    assert {"gpt-test", "api-gpt"} <= set(entries)
    added = entries["api-gpt"]
    assert added["model_info"]["id"] == "api-model-1" and added["model_info"]["db_model"] is True
    assert added["model_info"]["description"] == "added at runtime"
    assert added["litellm_params"]["model"] == "openai/api-upstream"
    assert entries["gpt-test"]["model_info"]["db_model"] is False
    for path in ["/model/info", "/v1/model/info", "/v2/model/info", "/model_group/info", "/health"]:
        text = httpx.get(gw.url(path), headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=10).text
        assert API_SECRET not in text and "api_key" not in text, path
    one = httpx.get(gw.url("/model/info?litellm_model_id=api-model-1"), headers={"Authorization": f"Bearer {MASTER_KEY}"})
    assert [e["model_name"] for e in one.json()["data"]] == ["api-gpt"]
    v2 = httpx.get(gw.url("/v2/model/info?model=api-gpt"), headers={"Authorization": f"Bearer {MASTER_KEY}"}).json()
    assert v2["total_count"] == 1 and v2["data"][0]["model_info"]["id"] == "api-model-1"
    groups = {g["model_group"]: g for g in model_info(gw, path="/model_group/info")}
    assert groups["api-gpt"]["providers"] == ["openai"]
    health = httpx.get(gw.url("/health?model=api-gpt"), headers={"Authorization": f"Bearer {MASTER_KEY}"}).json()
    assert [e["model_id"] for e in health["healthy_endpoints"]] == ["api-model-1"]

    # The secret is sealed in the store: the database file never holds it in the clear.
    db = b"".join(open(p, "rb").read() for p in [gw.db_path, gw.db_path + "-wal"] if os.path.exists(p))
    assert API_SECRET.encode() not in db and b"api-model-1" in db

    # A restart on the same store serves it again.
    gw.proc.send_signal(2)
    gw.proc.wait(timeout=15)
    gw = start_gateway(config, env={"TOLLGATE_DB_PATH": gw.db_path})
    r = chat(gw, "api-gpt")
    assert r.status_code == 200, r.text

    r = admin(gw, "/model/delete", {"id": "api-model-1"})
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "Model: api-model-1 deleted successfully"}
    r = chat(gw, "api-gpt")
    assert r.status_code == 400, r.text
    assert "api-gpt" not in listed_models(gw)
    assert "api-gpt" not in {e["model_name"] for e in model_info(gw)}


def test_model_update_edits_a_stored_model_and_refuses_a_config_one(mock, start_gateway):
    gw = start_gateway(stored_config(mock))
    assert admin(gw, "/model/new", new_model(mock, "editable", id="m-edit")).status_code == 200
    r = admin(gw, "/model/update", {"model_info": {"id": "m-edit"}, "litellm_params": {"model": "openai/edited-upstream"}})
    assert r.status_code == 200, r.text
    assert r.json()["litellm_params"]["model"] == "openai/edited-upstream" and API_SECRET not in r.text
    mock.clear()
    assert chat(gw, "editable").status_code == 200
    assert mock.last()["body"]["model"] == "edited-upstream"
    # The sealed key was kept through the edit.
    assert mock.last()["headers"]["authorization"] == f"Bearer {API_SECRET}"

    config_id = model_info(gw)[0]["model_info"]["id"]
    r = admin(gw, "/model/update", {"model_info": {"id": config_id}, "litellm_params": {"rpm": 5}})
    assert r.status_code == 400
    assert "Can't edit model. Model in config." in r.json()["error"]["message"]
    r = admin(gw, "/model/delete", {"id": "no-such-model"})
    assert r.status_code == 400
    assert r.json()["error"] == {
        "message": "{'error': 'Model with id=no-such-model not found in db'}",
        "type": "auth_error",
        "param": "None",
        "code": "400",
    }
    r = admin(gw, "/model/new", {"model_name": "x", "litellm_params": {"model": "nosuchprovider/x"}})
    assert r.status_code == 400, r.text
    # A virtual key that is not an admin may not add models.
    key = generate_key(gw)
    assert admin(gw, "/model/new", new_model(mock, "sneaky"), key=key).status_code in (401, 403)


def patch_model(gw, model_id, body, key=MASTER_KEY) -> httpx.Response:
    return httpx.patch(gw.url(f"/model/{model_id}/update"), headers={"Authorization": f"Bearer {key}"},
                       json=body, timeout=30)


def test_patch_model_id_update_changes_only_the_fields_given(mock, start_gateway):
    gw = start_gateway(stored_config(mock))
    assert admin(gw, "/model/new", new_model(mock, "patchable", id="m-patch")).status_code == 200
    r = patch_model(gw, "m-patch", {"litellm_params": {"model": "openai/patched-upstream"},
                                    "model_info": {"note": "patched"}})
    assert r.status_code == 200, r.text
    assert r.json()["litellm_params"]["model"] == "openai/patched-upstream" and API_SECRET not in r.text
    mock.clear()
    assert chat(gw, "patchable").status_code == 200
    # What the patch named changed; the rest (the sealed key, the base) stayed.
    assert mock.last()["body"]["model"] == "patched-upstream"
    assert mock.last()["headers"]["authorization"] == f"Bearer {API_SECRET}"
    info = {m["model_info"]["id"]: m for m in model_info(gw)}["m-patch"]
    assert info["model_info"]["note"] == "patched" and info["model_name"] == "patchable"
    # A new name is the model's name from now on.
    assert patch_model(gw, "m-patch", {"model_name": "renamed"}).status_code == 200
    assert chat(gw, "renamed").status_code == 200 and chat(gw, "patchable").status_code == 400

    # LiteLLM's errors for this route, in its ProxyException shape.
    r = patch_model(gw, "no-such-model", {"litellm_params": {"rpm": 5}})
    assert r.status_code == 404
    assert r.json()["error"] == {"message": "Model no-such-model not found on proxy.",
                                 "type": "not_found_error", "param": None, "code": "404"}
    config_id = next(m["model_info"]["id"] for m in model_info(gw) if m["model_name"] == "gpt-test")
    r = patch_model(gw, config_id, {"litellm_params": {"rpm": 5}})
    assert r.status_code == 400 and r.json()["error"]["type"] == "validation_error", r.text
    assert r.json()["error"]["message"].startswith("Cannot edit config-based model.")
    assert patch_model(gw, "m-patch", {"litellm_params": {"rpm": 5}}, key=generate_key(gw)).status_code in (401, 403)
    assert httpx.post(gw.url("/model/m-patch/update"), headers={"Authorization": f"Bearer {MASTER_KEY}"},
                      json={}).status_code == 405


def test_without_store_model_in_db_the_model_api_is_refused(mock, start_gateway):
    gw = start_gateway(basic_config(mock))
    r = admin(gw, "/model/new", new_model(mock, "nope"))
    assert r.status_code == 500
    assert "STORE_MODEL_IN_DB" in r.json()["error"]["message"]
    assert chat(gw, "nope").status_code == 400
    r = patch_model(gw, "any", {"litellm_params": {"rpm": 5}})
    assert r.status_code == 400 and r.json()["error"]["message"] == "Model updates only supported for DB-stored models"


def test_a_team_model_is_visible_only_to_that_teams_keys(mock, start_gateway):
    gw = start_gateway(stored_config(mock))
    for team in ["team-a", "team-b"]:
        assert admin(gw, "/team/new", {"team_id": team}).status_code == 200
    key_a = generate_key(gw, team_id="team-a")
    key_b = generate_key(gw, team_id="team-b")
    r = admin(gw, "/model/new", new_model(mock, "team-gpt", team_id="team-a"))
    assert r.status_code == 200, r.text
    internal = r.json()["model_name"]
    assert internal.startswith("model_name_team-a_")
    assert r.json()["model_info"]["team_public_model_name"] == "team-gpt"

    r = chat(gw, "team-gpt", key=key_a)
    assert r.status_code == 200, r.text
    assert chat(gw, "team-gpt", key=key_b).status_code == 400
    assert chat(gw, internal, key=key_b).status_code == 400
    assert "team-gpt" in listed_models(gw, key_a)
    assert "team-gpt" not in listed_models(gw, key_b) and internal not in listed_models(gw, key_b)
    assert "team-gpt" in {e["model_name"] for e in model_info(gw, key_a)}
    names_b = {e["model_name"] for e in model_info(gw, key_b)}
    assert "team-gpt" not in names_b and internal not in names_b and "gpt-test" in names_b


@pytest.fixture
def shared_store(pg_cluster):
    return {"DATABASE_URL": pg_cluster.create_database("models_" + uuid.uuid4().hex[:12])}


def test_a_model_added_on_one_node_answers_on_another_sharing_the_store(mock, start_gateway, shared_store):
    config = stored_config(mock)
    node_a = start_gateway(config, env=shared_store)
    node_b = start_gateway(config, env=shared_store)
    assert chat(node_b, "shared-gpt").status_code == 400
    r = admin(node_a, "/model/new", new_model(mock, "shared-gpt", id="shared-1"))
    assert r.status_code == 200, r.text
    assert chat(node_a, "shared-gpt").status_code == 200
    started = time.monotonic()
    assert wait_until(lambda: chat(node_b, "shared-gpt").status_code == 200), "node B never served it"
    # About a second: the directory's refresh interval.
    assert time.monotonic() - started < 5
    mock.clear()
    assert chat(node_b, "shared-gpt").status_code == 200
    assert mock.last()["headers"]["authorization"] == f"Bearer {API_SECRET}"
    assert "shared-gpt" in {e["model_name"] for e in model_info(node_b)}

    assert admin(node_a, "/model/delete", {"id": "shared-1"}).status_code == 200
    assert wait_until(lambda: chat(node_b, "shared-gpt").status_code == 400), "node B kept serving it"
