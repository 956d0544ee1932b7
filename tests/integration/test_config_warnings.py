"""A config LiteLLM starts with, Tollgate starts with: a problem confined to one deployment is a
warning with its YAML path (at start, in `-t`, on SIGHUP), that deployment is left out of its
group, `/health` lists it, and a call that finds no usable deployment gets a 400 naming the alias
and the problem. `-t --strict` makes any warning fatal."""

import json
import signal
import subprocess
import time

import httpx

from conftest import GATEWAY_BIN, MASTER_KEY, PROVIDER_KEY, write_config, assert_openai_error


def config(mock, *broken, router=None):
    return {
        "model_list": [
            {"model_name": "good", "litellm_params": {"model": "openai/up", "api_base": f"{mock.base}/v1", "api_key": PROVIDER_KEY}},
            *broken,
        ],
        "general_settings": {"master_key": MASTER_KEY},
        **({"router_settings": router} if router else {}),
    }


UNKNOWN_PREFIX = {"model_name": "mistral", "litellm_params": {"model": "mistralai/Mistral-7B-Instruct-v0.3"}}
PLACEHOLDER_BASE = {"model_name": "llama", "litellm_params": {"model": "ollama/llama3", "api_base": "your_ollama_api_base/v1"}}
CLOUDFLARE_NO_ACCOUNT = {"model_name": "cf", "litellm_params": {"model": "cloudflare/@cf/meta/llama-3-8b-instruct", "api_key": "k"}}
BROKEN = [UNKNOWN_PREFIX, PLACEHOLDER_BASE, CLOUDFLARE_NO_ACCOUNT]


def check(cfg, *flags):
    return subprocess.run(
        [str(GATEWAY_BIN), "--config", write_config(cfg), "-t", *flags],
        capture_output=True, text=True, timeout=30,
        env={"PATH": "/usr/bin:/bin"},  # no CLOUDFLARE_ACCOUNT_ID or provider keys from the caller
    )


def test_check_warns_with_yaml_paths_and_passes_unless_strict(mock):
    cfg = config(mock, *BROKEN, router={"retry_after": 0, "num_retries": 0, "allowed_fails": 0, "cooldown_time": 0})
    r = check(cfg)
    assert r.returncode == 0, r.stderr
    assert "3 deployments left out" in r.stdout, r.stdout
    assert 'model_list[1].litellm_params.model: unknown provider "mistralai"' in r.stderr, r.stderr
    assert "model_list[2].litellm_params.api_base" in r.stderr
    assert "model_list[3].litellm_params.api_base" in r.stderr
    assert "left out" in r.stderr
    strict = check(cfg, "--strict")
    assert strict.returncode != 0
    assert "--strict" in strict.stderr


def test_structural_problems_stay_fatal(mock):
    no_name = {"litellm_params": {"model": "openai/x"}}
    r = check(config(mock, no_name))
    assert r.returncode != 0 and "model_list[1]: model_name is required" in r.stderr
    no_model = {"model_name": "x", "litellm_params": {"api_key": "k"}}
    r = check(config(mock, no_model))
    assert r.returncode != 0 and "model is required" in r.stderr
    bad_fallback = config(mock, router={"fallbacks": [{"good": ["nowhere"]}]})
    assert check(bad_fallback).returncode != 0


def test_the_gateway_starts_serves_the_rest_and_explains_the_rest(mock, start_gateway):
    gw = start_gateway(config(mock, *BROKEN, router={"retry_after": 0}))
    assert "this deployment is left out" in gw.log()
    r = gw.post("/v1/chat/completions", {"model": "good", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    for alias, problem in [("mistral", "unknown provider"), ("llama", "api_base"), ("cf", "api_base")]:
        r = gw.post("/v1/chat/completions", {"model": alias, "messages": [{"role": "user", "content": "hi"}]})
        err = assert_openai_error(r, 400, param="model")
        assert alias in err["message"] and problem in err["message"], err["message"]
    h = httpx.get(gw.url("/health"), headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=10).json()
    left = {e["model_name"]: e["error"] for e in h["unhealthy_endpoints"]}
    assert set(left) >= {"mistral", "llama", "cf"}, h
    assert "unknown provider" in left["mistral"]
    assert [e["model_name"] for e in h["healthy_endpoints"]] == ["good"]


def test_reload_follows_the_same_rule(mock, start_gateway):
    gw = start_gateway(config(mock))
    with open(gw.config_path, "w") as f:
        json.dump(config(mock, UNKNOWN_PREFIX), f)
    gw.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "config reloaded" not in gw.log():
        time.sleep(0.05)
    log = gw.log()
    assert "config reloaded" in log, log
    assert 'model_list[1].litellm_params.model: unknown provider "mistralai"' in log
    r = gw.post("/v1/chat/completions", {"model": "mistral", "messages": [{"role": "user", "content": "hi"}]})
    assert_openai_error(r, 400, param="model", contains="mistral")
    assert gw.post("/v1/chat/completions", {"model": "good", "messages": [{"role": "user", "content": "x"}]}).status_code == 200
