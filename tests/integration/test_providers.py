"""OpenAI-compatible providers chosen by prefix hit the right path, query and headers."""

from conftest import MASTER_KEY, PROVIDER_KEY

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def deployment(name, model, **params):
    return {"model_name": name, "litellm_params": {"model": model, **params}}


def call(gw, alias, stream=False):
    r = gw.post("/v1/chat/completions", dict(CHAT, model=alias, stream=stream))
    assert r.status_code == 200, r.text
    return r


def test_azure_deployment_url_api_version_and_api_key(mock, start_gateway):
    gw = start_gateway(
        {
            "model_list": [
                deployment(
                    "azure-gpt",
                    "azure/my-gpt4o-deployment",
                    api_base=mock.base,
                    api_key="azure-secret",
                    api_version="2024-08-01-preview",
                )
            ],
            "general_settings": {"master_key": MASTER_KEY},
        }
    )
    mock.clear()
    assert call(gw, "azure-gpt").json()["model"] == "azure-gpt"
    rec = mock.last()
    assert rec["path"] == "/openai/deployments/my-gpt4o-deployment/chat/completions"
    assert rec["query"] == "api-version=2024-08-01-preview"
    assert rec["headers"]["api-key"] == "azure-secret"
    assert "authorization" not in rec["headers"]


def test_azure_embeddings_use_the_deployment_path(mock, start_gateway):
    gw = start_gateway(
        {
            "model_list": [deployment("azure-embed", "azure/embed-dep", api_base=mock.base, api_key="k", api_version="2024-10-21")],
            "general_settings": {"master_key": MASTER_KEY},
        }
    )
    mock.clear()
    r = gw.post("/v1/embeddings", {"model": "azure-embed", "input": "hello"})
    assert r.status_code == 200, r.text
    rec = mock.last()
    assert rec["path"] == "/openai/deployments/embed-dep/embeddings"
    assert rec["query"] == "api-version=2024-10-21"


def test_groq_and_hosted_vllm_and_ollama_prefixes(mock, start_gateway):
    gw = start_gateway(
        {
            "model_list": [
                deployment("groq-llama", "groq/llama-3.3-70b-versatile", api_base=f"{mock.base}/openai/v1", api_key="groq-key"),
                deployment("vllm", "hosted_vllm/meta-llama/Llama-3.1-8B-Instruct", api_base=f"{mock.base}/v1"),
                # Ollama's api_base is given without /v1, as in LiteLLM configs.
                deployment("local-llama", "ollama_chat/llama3.2", api_base=mock.base),
            ],
            "general_settings": {"master_key": MASTER_KEY},
        }
    )
    mock.clear()
    call(gw, "groq-llama")
    rec = mock.last()
    assert rec["path"] == "/openai/v1/chat/completions"
    assert rec["headers"]["authorization"] == "Bearer groq-key"
    assert rec["body"]["model"] == "llama-3.3-70b-versatile"

    call(gw, "vllm", stream=True)
    rec = mock.last()
    assert rec["path"] == "/v1/chat/completions"
    assert rec["body"]["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert "authorization" not in rec["headers"], "no key configured, none sent"

    call(gw, "local-llama")
    rec = mock.last()
    assert rec["path"] == "/v1/chat/completions"
    assert rec["body"]["model"] == "llama3.2"


def test_provider_key_from_environment(mock, start_gateway):
    gw = start_gateway(
        {
            "model_list": [deployment("mistral-small", "mistral/mistral-small-latest", api_base=f"{mock.base}/v1")],
            "general_settings": {"master_key": MASTER_KEY},
        },
        env={"MISTRAL_API_KEY": "from-env-mistral"},
    )
    mock.clear()
    call(gw, "mistral-small")
    assert mock.last()["headers"]["authorization"] == "Bearer from-env-mistral"


def test_text_completion_openai_turns_chat_into_a_prompt(mock, start_gateway):
    gw = start_gateway(
        {
            "model_list": [deployment("instruct", "text-completion-openai/gpt-3.5-turbo-instruct", api_base=f"{mock.base}/v1", api_key=PROVIDER_KEY)],
            "general_settings": {"master_key": MASTER_KEY},
        }
    )
    mock.clear()
    r = call(gw, "instruct").json()
    assert r["object"] == "chat.completion"
    assert r["choices"][0]["message"]["content"] == "Hello from the mock provider."
    rec = mock.last()
    assert rec["path"] == "/v1/completions"
    assert rec["body"]["prompt"] == "hi"
    assert "messages" not in rec["body"]
    streamed = gw.client().chat.completions.create(model="instruct", stream=True, **CHAT)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "Hello from the mock provider."


def test_credential_list_supplies_key_and_base(mock, start_gateway):
    gw = start_gateway(
        {
            "credential_list": [
                {"credential_name": "shared-azure", "credential_values": {"api_key": "cred-key", "api_base": mock.base, "api_version": "2024-06-01"}}
            ],
            "model_list": [deployment("az", "azure/dep-1", litellm_credential_name="shared-azure")],
            "general_settings": {"master_key": MASTER_KEY},
        }
    )
    mock.clear()
    call(gw, "az")
    rec = mock.last()
    assert rec["headers"]["api-key"] == "cred-key"
    assert rec["query"] == "api-version=2024-06-01"


def test_azure_stream_with_the_filter_chunk_reaches_the_sdk_as_one_id(mock, start_gateway):
    import httpx

    gw = start_gateway({
        "model_list": [deployment("azure-gpt", "azure/dep", api_base=mock.base, api_key="k", api_version="2024-10-21")],
        "general_settings": {"master_key": MASTER_KEY},
    })
    # The mock really sends Azure's choiceless first chunk.
    raw = httpx.post(f"{mock.base}/openai/deployments/dep/chat/completions?api-version=x",
                     json=dict(CHAT, model="dep", stream=True), timeout=10).text
    assert "prompt_filter_results" in raw.split("\n\n")[0]
    chunks = list(gw.client().chat.completions.create(model="azure-gpt", stream=True, **CHAT))
    assert chunks and all(c.choices for c in chunks), [c for c in chunks if not c.choices]
    assert len({c.id for c in chunks}) == 1, {c.id for c in chunks}
    assert "".join(c.choices[0].delta.content or "" for c in chunks)
