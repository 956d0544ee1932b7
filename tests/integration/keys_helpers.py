"""Admin-API helpers for the key, budget and spend tests: LiteLLM's routes, called as its admin
scripts call them (JSON bodies, the master key in `Authorization`)."""

import time

import httpx

from conftest import MASTER_KEY, openai_deployment

# Prices the tests' deployments carry, so a call's cost is exact: USD per token.
INPUT_PRICE = 0.001
OUTPUT_PRICE = 0.002


def priced_deployment(mock, name="gpt-test", **params):
    return openai_deployment(
        mock, name, input_cost_per_token=INPUT_PRICE, output_cost_per_token=OUTPUT_PRICE, **params
    )


def cost_of(prompt: int, completion: int) -> float:
    return prompt * INPUT_PRICE + completion * OUTPUT_PRICE


def admin(gw, path, body=None, key=MASTER_KEY, method=None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if method == "GET" or (body is None and method is None):
        return httpx.get(gw.url(path), headers=headers, timeout=30)
    return httpx.post(gw.url(path), headers=headers, json=body or {}, timeout=30)


def generate_key(gw, **fields) -> str:
    r = admin(gw, "/key/generate", fields)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["key"].startswith("sk-"), body
    return body["key"]


def key_info(gw, key: str) -> dict:
    r = admin(gw, f"/key/info?key={key}", method="GET")
    assert r.status_code == 200, r.text
    return r.json()["info"]


def spend_logs(gw, **filters) -> list:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    r = admin(gw, f"/spend/logs?{query}", method="GET")
    assert r.status_code == 200, r.text
    return r.json()


def wait_for_rows(gw, count: int, timeout: float = 10.0, **filters) -> list:
    """Spend rows reach the store in batches about once a second."""
    deadline = time.monotonic() + timeout
    while True:
        rows = spend_logs(gw, **filters)
        if len(rows) >= count or time.monotonic() >= deadline:
            return rows
        time.sleep(0.2)


def chat(gw, key: str, text: str = "hi", model: str = "gpt-test", **body) -> httpx.Response:
    return gw.post(
        "/v1/chat/completions",
        {"model": model, "messages": [{"role": "user", "content": text}], **body},
        key=key,
    )
