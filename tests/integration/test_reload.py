"""SIGHUP reloads the config without dropping a request; a broken file is refused and the
running config keeps serving."""

import json
import signal
import threading
import time

import httpx

from conftest import MASTER_KEY, basic_config, openai_deployment


def aliases(gw):
    r = httpx.get(gw.url("/v1/models"), headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=5)
    return [m["id"] for m in r.json()["data"]]


def test_sighup_swaps_config_under_load_and_refuses_a_broken_one(mock, start_gateway):
    cfg = basic_config(mock, openai_deployment(mock, "alpha", "alpha-upstream"))
    gw = start_gateway(cfg)
    statuses = []
    stop = threading.Event()

    def steady_load():
        with httpx.Client(timeout=10) as c:
            while not stop.is_set() and len(statuses) < 2000:
                r = c.post(gw.url("/v1/chat/completions"), headers={"Authorization": f"Bearer {MASTER_KEY}"},
                           json={"model": "alpha", "messages": [{"role": "user", "content": "hi"}]})
                statuses.append(r.status_code)

    workers = [threading.Thread(target=steady_load) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        time.sleep(0.3)
        # Add a model and change where alpha goes.
        new_cfg = basic_config(mock, openai_deployment(mock, "alpha", "alpha-upstream-v2"), openai_deployment(mock, "beta", "beta-upstream"))
        with open(gw.config_path, "w") as f:
            json.dump(new_cfg, f)
        gw.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "beta" not in aliases(gw):
            time.sleep(0.05)
        assert aliases(gw) == ["alpha", "beta"]
        r = gw.post("/v1/chat/completions", {"model": "beta", "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 200
        mock.clear()
        assert gw.post("/v1/chat/completions", {"model": "alpha", "messages": [{"role": "user", "content": "x"}]}).status_code == 200
        assert mock.last()["body"]["model"] == "alpha-upstream-v2"

        # A structurally broken config is refused: the old one keeps serving and the error is
        # logged. (A problem confined to one deployment is a warning: see test_config_warnings.)
        with open(gw.config_path, "w") as f:
            f.write("model_list:\n  - litellm_params:\n      model: openai/x\n")
        gw.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "config reload rejected" not in gw.log():
            time.sleep(0.05)
        log = gw.log()
        assert "config reload rejected" in log
        assert "model_list[0]: model_name is required" in log
        assert aliases(gw) == ["alpha", "beta"]
        time.sleep(0.3)
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=15)
    assert len(statuses) > 20
    assert set(statuses) == {200}, f"{len([s for s in statuses if s != 200])} failed requests"
    assert gw.proc.poll() is None
