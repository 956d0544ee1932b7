"""`tollgate --config FILE -t`, and real LiteLLM configs loading."""

from conftest import MASTER_KEY, ROOT, run_check


def test_example_config_passes_the_check():
    import subprocess

    from conftest import GATEWAY_BIN

    r = subprocess.run([str(GATEWAY_BIN), "--config", str(ROOT / "conf" / "tollgate.yaml"), "-t"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "config OK" in r.stdout


def test_broken_config_fails_with_yaml_paths():
    cfg = """
model_list:
  - model_name: ok
    litellm_params:
      model: openai/gpt-4o
  - model_name: bad-timeout
    litellm_params:
      model: openai/gpt-4o
      timeout: soon
  - model_name: bad-provider
    litellm_params:
      model: foo/bar
  - litellm_params:
      model: openai/x
router_settings:
  routing_strategy: fastest-please
"""
    r = run_check(cfg)
    assert r.returncode != 0
    err = r.stderr
    assert 'model_list[1].litellm_params.timeout: expected a number, found "soon"' in err
    assert 'model_list[2].litellm_params.model: unknown provider "foo"' in err
    assert "model_list[3]: model_name is required" in err
    assert 'router_settings.routing_strategy: unknown routing strategy "fastest-please"' in err


def test_invalid_yaml_fails():
    r = run_check("model_list: [\n  - {")
    assert r.returncode != 0
    assert "not valid YAML" in r.stderr


def test_real_world_litellm_config_loads(mock, start_gateway):
    # CRLF line endings, 20_000-style numbers, nulls, callbacks Tollgate lacks, env references.
    cfg = (
        "model_list:\r\n"
        "  - model_name: gpt-test\r\n"
        "    litellm_params:\r\n"
        "      model: openai/upstream-model\r\n"
        f"      api_base: os.environ/TEST_MOCK_BASE\r\n"
        "      api_key: os.environ/TEST_PROVIDER_KEY\r\n"
        "      rpm: 20_000\r\n"
        "      tpm: null\r\n"
        "      timeout: \"30\"\r\n"
        "    model_info:\r\n"
        "      mode: chat\r\n"
        "      base_model: gpt-4o\r\n"
        "litellm_settings:\r\n"
        "  drop_params: True\r\n"
        "  success_callback: [\"langfuse\"]\r\n"
        "  callbacks: [\"prometheus\", \"otel\"]\r\n"
        "  cache: null\r\n"
        "router_settings:\r\n"
        "  routing_strategy: simple-shuffle\r\n"
        "  redis_host: null\r\n"
        "general_settings:\r\n"
        f"  master_key: {MASTER_KEY}\r\n"
        "  alerting: [\"slack\"]\r\n"
        "environment_variables:\r\n"
        "  TEST_PROVIDER_KEY: from-environment-variables-section\r\n"
    )
    gw = start_gateway(cfg, env={"TEST_MOCK_BASE": f"{mock.base}/v1"})
    mock.clear()
    r = gw.post("/v1/chat/completions", {"model": "gpt-test", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200, r.text
    assert mock.last()["headers"]["authorization"] == "Bearer from-environment-variables-section"
    log = gw.log()
    assert "callback" in log and "ignored" in log, "unsupported callbacks are warned about"


def test_unknown_keys_warn_but_load():
    r = run_check({"model_list": [{"model_name": "a", "litellm_params": {"model": "openai/a", "api_key": "k"}}], "mystery_section": {"x": 1}})
    assert r.returncode == 0, r.stderr
    assert "mystery_section" in r.stderr


def test_router_settings_errors_are_reported():
    cfg = """
model_list:
  - model_name: a
    litellm_params: {model: openai/a, api_key: k}
router_settings:
  retry_policy: {RateLimitErrorRetries: 2, TypoErrorRetries: 1}
  allowed_fails: -1
"""
    r = run_check(cfg)
    assert r.returncode != 0
    assert "router_settings.retry_policy.TypoErrorRetries: unknown error class" in r.stderr
    assert "router_settings.allowed_fails: expected a whole number" in r.stderr


def test_fallback_to_unknown_group_is_an_error():
    r = run_check({"model_list": [{"model_name": "a", "litellm_params": {"model": "openai/a", "api_key": "k"}}],
                   "router_settings": {"fallbacks": [{"a": ["nope"]}]}})
    assert r.returncode != 0
    assert 'unknown model group "nope"' in r.stderr
