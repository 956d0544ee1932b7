//! Every provider prefix Tollgate knows (`openai/`, `groq/`, ...), with its default base URL,
//! where its API key comes from, and the wire format it speaks.

/// How requests to a provider are built and its answers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI's HTTP API: `{base}/chat/completions`, `Authorization: Bearer`.
    OpenAi,
    /// Azure OpenAI: `{base}/openai/deployments/{model}/...?api-version=`, `api-key` header.
    Azure,
    /// The legacy `/completions` API; chat requests are converted to a prompt.
    TextCompletion,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google AI Studio's Gemini API.
    Gemini,
    /// Vertex AI (Gemini, and Claude through rawPredict).
    VertexAi,
    /// Amazon Bedrock's Converse API, SigV4-signed.
    Bedrock,
    /// SageMaker endpoints with TGI/LMI payloads.
    Sagemaker,
    /// SageMaker endpoints speaking OpenAI's chat format.
    SagemakerChat,
    /// Cohere's v2 API.
    Cohere,
}

impl Wire {
    /// The provider builds its URL from the model name (so a name from a client must not be
    /// able to add path segments, a query or a fragment).
    pub fn model_in_url(self) -> bool {
        matches!(
            self,
            Wire::Azure
                | Wire::Gemini
                | Wire::VertexAi
                | Wire::Bedrock
                | Wire::Sagemaker
                | Wire::SagemakerChat
        )
    }
}

#[derive(Debug)]
pub struct ProviderSpec {
    /// The prefix in `litellm_params.model`, e.g. `groq`.
    pub name: &'static str,
    /// Used in error messages the way LiteLLM names providers (`GroqException`).
    pub display: &'static str,
    pub wire: Wire,
    /// Base URL including the version path, as the OpenAI SDK's `base_url`.
    pub default_api_base: Option<&'static str>,
    /// Environment variables that may hold the base URL, tried in order.
    pub api_base_env: &'static [&'static str],
    /// Environment variables that may hold the API key, tried in order.
    pub api_key_env: &'static [&'static str],
    /// Appended to a configured `api_base` that lacks it (Ollama's is given without `/v1`).
    pub base_suffix: Option<&'static str>,
}

const fn openai_like(
    name: &'static str,
    display: &'static str,
    base: &'static str,
    key_env: &'static [&'static str],
) -> ProviderSpec {
    ProviderSpec {
        name,
        display,
        wire: Wire::OpenAi,
        default_api_base: Some(base),
        api_base_env: &[],
        api_key_env: key_env,
        base_suffix: None,
    }
}

pub static PROVIDERS: &[ProviderSpec] = &[
    ProviderSpec {
        name: "openai",
        display: "OpenAI",
        wire: Wire::OpenAi,
        default_api_base: Some("https://api.openai.com/v1"),
        api_base_env: &["OPENAI_API_BASE", "OPENAI_BASE_URL"],
        api_key_env: &["OPENAI_API_KEY"],
        base_suffix: None,
    },
    ProviderSpec {
        name: "text-completion-openai",
        display: "OpenAI",
        wire: Wire::TextCompletion,
        default_api_base: Some("https://api.openai.com/v1"),
        api_base_env: &["OPENAI_API_BASE", "OPENAI_BASE_URL"],
        api_key_env: &["OPENAI_API_KEY"],
        base_suffix: None,
    },
    ProviderSpec {
        name: "azure",
        display: "Azure",
        wire: Wire::Azure,
        default_api_base: None,
        api_base_env: &["AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT"],
        api_key_env: &["AZURE_API_KEY", "AZURE_OPENAI_API_KEY"],
        base_suffix: None,
    },
    openai_like(
        "groq",
        "Groq",
        "https://api.groq.com/openai/v1",
        &["GROQ_API_KEY"],
    ),
    openai_like(
        "mistral",
        "Mistral",
        "https://api.mistral.ai/v1",
        &["MISTRAL_API_KEY"],
    ),
    openai_like(
        "deepseek",
        "DeepSeek",
        "https://api.deepseek.com/v1",
        &["DEEPSEEK_API_KEY"],
    ),
    openai_like(
        "together_ai",
        "TogetherAI",
        "https://api.together.xyz/v1",
        &[
            "TOGETHERAI_API_KEY",
            "TOGETHER_AI_API_KEY",
            "TOGETHER_API_KEY",
        ],
    ),
    openai_like(
        "fireworks_ai",
        "FireworksAI",
        "https://api.fireworks.ai/inference/v1",
        &["FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY"],
    ),
    openai_like(
        "openrouter",
        "OpenRouter",
        "https://openrouter.ai/api/v1",
        &["OPENROUTER_API_KEY"],
    ),
    openai_like(
        "perplexity",
        "Perplexity",
        "https://api.perplexity.ai",
        &["PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"],
    ),
    openai_like("xai", "XAI", "https://api.x.ai/v1", &["XAI_API_KEY"]),
    openai_like(
        "deepinfra",
        "DeepInfra",
        "https://api.deepinfra.com/v1/openai",
        &["DEEPINFRA_API_KEY"],
    ),
    openai_like(
        "cerebras",
        "Cerebras",
        "https://api.cerebras.ai/v1",
        &["CEREBRAS_API_KEY"],
    ),
    openai_like(
        "nvidia_nim",
        "NvidiaNim",
        "https://integrate.api.nvidia.com/v1",
        &["NVIDIA_NIM_API_KEY"],
    ),
    openai_like(
        "github",
        "Github",
        "https://models.github.ai/inference",
        &["GITHUB_API_KEY", "GITHUB_TOKEN"],
    ),
    // Workers AI's OpenAI-compatible API; the account id is part of the URL, so a deployment
    // gives `api_base` or the default is built from CLOUDFLARE_ACCOUNT_ID (see `endpoint`).
    ProviderSpec {
        name: "cloudflare",
        display: "Cloudflare",
        wire: Wire::OpenAi,
        default_api_base: Some(
            "https://api.cloudflare.com/client/v4/accounts/{CLOUDFLARE_ACCOUNT_ID}/ai/v1",
        ),
        api_base_env: &["CLOUDFLARE_API_BASE"],
        api_key_env: &["CLOUDFLARE_API_KEY", "CLOUDFLARE_API_TOKEN"],
        base_suffix: None,
    },
    openai_like(
        "huggingface",
        "Huggingface",
        "https://router.huggingface.co/v1",
        &["HF_TOKEN", "HUGGINGFACE_API_KEY"],
    ),
    openai_like(
        "zhipu",
        "Zhipu",
        "https://open.bigmodel.cn/api/paas/v4",
        &["ZHIPUAI_API_KEY", "ZHIPU_API_KEY"],
    ),
    openai_like(
        "siliconflow",
        "SiliconFlow",
        "https://api.siliconflow.cn/v1",
        &["SILICONFLOW_API_KEY"],
    ),
    ProviderSpec {
        name: "hosted_vllm",
        display: "Hosted_vllm",
        wire: Wire::OpenAi,
        default_api_base: None,
        api_base_env: &["HOSTED_VLLM_API_BASE"],
        api_key_env: &["HOSTED_VLLM_API_KEY"],
        base_suffix: None,
    },
    ProviderSpec {
        name: "lm_studio",
        display: "LMStudio",
        wire: Wire::OpenAi,
        default_api_base: Some("http://localhost:1234/v1"),
        api_base_env: &["LM_STUDIO_API_BASE"],
        api_key_env: &["LM_STUDIO_API_KEY"],
        base_suffix: None,
    },
    ProviderSpec {
        name: "ollama",
        display: "Ollama",
        wire: Wire::OpenAi,
        default_api_base: Some("http://localhost:11434"),
        api_base_env: &["OLLAMA_API_BASE"],
        api_key_env: &["OLLAMA_API_KEY"],
        base_suffix: Some("/v1"),
    },
    ProviderSpec {
        name: "ollama_chat",
        display: "Ollama_chat",
        wire: Wire::OpenAi,
        default_api_base: Some("http://localhost:11434"),
        api_base_env: &["OLLAMA_API_BASE"],
        api_key_env: &["OLLAMA_API_KEY"],
        base_suffix: Some("/v1"),
    },
    ProviderSpec {
        name: "anthropic",
        display: "Anthropic",
        wire: Wire::Anthropic,
        default_api_base: Some("https://api.anthropic.com"),
        api_base_env: &["ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"],
        api_key_env: &["ANTHROPIC_API_KEY"],
        base_suffix: None,
    },
    ProviderSpec {
        name: "gemini",
        display: "Gemini",
        wire: Wire::Gemini,
        default_api_base: Some("https://generativelanguage.googleapis.com/v1beta"),
        api_base_env: &["GEMINI_API_BASE"],
        api_key_env: &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        base_suffix: None,
    },
    // Vertex's base URL follows `vertex_location`; config loading fills it in.
    ProviderSpec {
        name: "vertex_ai",
        display: "VertexAI",
        wire: Wire::VertexAi,
        default_api_base: None,
        api_base_env: &[],
        api_key_env: &[],
        base_suffix: None,
    },
    ProviderSpec {
        name: "vertex_ai_beta",
        display: "VertexAI",
        wire: Wire::VertexAi,
        default_api_base: None,
        api_base_env: &[],
        api_key_env: &[],
        base_suffix: None,
    },
    // AWS hosts follow the region; config loading fills in `api_base`.
    ProviderSpec {
        name: "bedrock",
        display: "Bedrock",
        wire: Wire::Bedrock,
        default_api_base: None,
        api_base_env: &[],
        api_key_env: &[],
        base_suffix: None,
    },
    ProviderSpec {
        name: "sagemaker",
        display: "Sagemaker",
        wire: Wire::Sagemaker,
        default_api_base: None,
        api_base_env: &[],
        api_key_env: &[],
        base_suffix: None,
    },
    ProviderSpec {
        name: "sagemaker_chat",
        display: "Sagemaker",
        wire: Wire::SagemakerChat,
        default_api_base: None,
        api_base_env: &[],
        api_key_env: &[],
        base_suffix: None,
    },
    ProviderSpec {
        name: "cohere",
        display: "Cohere",
        wire: Wire::Cohere,
        default_api_base: Some("https://api.cohere.com"),
        api_base_env: &["COHERE_API_BASE"],
        api_key_env: &["COHERE_API_KEY", "CO_API_KEY"],
        base_suffix: None,
    },
    ProviderSpec {
        name: "cohere_chat",
        display: "Cohere",
        wire: Wire::Cohere,
        default_api_base: Some("https://api.cohere.com"),
        api_base_env: &["COHERE_API_BASE"],
        api_key_env: &["COHERE_API_KEY", "CO_API_KEY"],
        base_suffix: None,
    },
];

/// The provider of models named without a prefix (`gpt-4o`), first in the table.
pub fn openai() -> &'static ProviderSpec {
    &PROVIDERS[0]
}

pub fn lookup(name: &str) -> Option<&'static ProviderSpec> {
    PROVIDERS.iter().find(|p| p.name == name)
}

/// Splits `litellm_params.model` into its provider and the provider's model name. A model with
/// no known prefix is OpenAI's, as in LiteLLM (`gpt-4o`), unless `custom_llm_provider` says else.
pub fn split_model<'m>(
    model: &'m str,
    custom_llm_provider: Option<&str>,
) -> Result<(&'static ProviderSpec, &'m str), String> {
    if let Some(name) = custom_llm_provider {
        let spec = lookup(name).ok_or_else(|| format!("unknown provider {name:?}"))?;
        let rest = model
            .strip_prefix(name)
            .and_then(|r| r.strip_prefix('/'))
            .unwrap_or(model);
        return Ok((spec, rest));
    }
    match model.split_once('/') {
        Some((prefix, rest)) => match lookup(prefix) {
            Some(spec) => Ok((spec, rest)),
            None => Err(format!("unknown provider {prefix:?}")),
        },
        // No prefix, `*` included, is OpenAI: `model_name: "*"` with `model: "*"` sends any
        // requested name to OpenAI; `anthropic/*`-style patterns reach the other providers.
        None => Ok((openai(), model)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_prefix_and_keeps_nested_slashes() {
        let (p, m) = split_model("hosted_vllm/meta-llama/Llama-3-8B", None).unwrap();
        assert_eq!(p.name, "hosted_vllm");
        assert_eq!(m, "meta-llama/Llama-3-8B");
    }

    #[test]
    fn openai_is_first_in_the_table() {
        assert_eq!(openai().name, "openai");
    }

    #[test]
    fn bare_model_is_openai() {
        let (p, m) = split_model("gpt-4o", None).unwrap();
        assert_eq!((p.name, m), ("openai", "gpt-4o"));
    }

    #[test]
    fn unknown_prefix_is_an_error_naming_it() {
        assert_eq!(
            split_model("foo/bar", None).unwrap_err(),
            "unknown provider \"foo\""
        );
    }

    #[test]
    fn custom_llm_provider_overrides_prefix() {
        let (p, m) = split_model("my-model", Some("groq")).unwrap();
        assert_eq!((p.name, m), ("groq", "my-model"));
    }
}
