//! Clients that speak Anthropic's Messages API (`POST /v1/messages`): the canonical request is
//! built from theirs, and answers from non-Anthropic deployments are turned back into
//! Anthropic's shapes. Anthropic deployments get the client's body untouched.

use super::ctx::{Inbound, RequestCtx};
use super::respond;
use crate::canonical::request::BodyFormat;
use crate::canonical::request::Operation;
use crate::canonical::RequestBody;
use crate::error::GatewayError;
use crate::inbound::anthropic;
use crate::providers::{StreamTranslator, Wire};
use crate::state::{Gateway, Snapshot};
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use pingora::proxy::Session;
use std::sync::OnceLock;
use std::time::Duration;

/// The client's body as parsed, and the canonical (OpenAI) form of it, made only when a
/// deployment needs it: an Anthropic client calling an Anthropic deployment is never converted,
/// so nothing that only Anthropic understands (server tools, non-text system blocks) is refused.
pub struct Bodies {
    client: RequestBody,
    inbound: Inbound,
    canonical: OnceLock<Result<RequestBody, GatewayError>>,
}

pub fn parse(raw: Bytes, op: Operation, inbound: Inbound) -> Result<Bodies, GatewayError> {
    let format = match inbound {
        Inbound::OpenAi => BodyFormat::OpenAi,
        Inbound::Anthropic => BodyFormat::Anthropic,
    };
    Ok(Bodies {
        client: RequestBody::parse_as(raw, op, format)?,
        inbound,
        canonical: OnceLock::new(),
    })
}

impl Bodies {
    /// What the client sent (its model, stream flag and gateway params route the call).
    pub fn client(&self) -> &RequestBody {
        &self.client
    }

    /// The canonical body, converted on first use.
    pub fn canonical(&self) -> Result<&RequestBody, GatewayError> {
        if self.inbound == Inbound::OpenAi {
            return Ok(&self.client);
        }
        self.canonical
            .get_or_init(|| to_canonical(&self.client))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Asks for other inputs than the client sent (the ones the response cache lacks); the
    /// gateway params stay as the client gave them.
    pub fn narrow_input(&mut self, input: &serde_json::Value) -> Result<(), GatewayError> {
        let json = serde_json::to_vec(input).map_err(|e| GatewayError::internal(e.to_string()))?;
        let mut body =
            RequestBody::parse(self.client.with_field("input", &json), Operation::Embedding)?;
        body.gateway = self.client.gateway.clone();
        self.client = body;
        self.canonical = OnceLock::new();
        Ok(())
    }

    /// The body for a deployment speaking `wire`, and whether it is the client's own format.
    pub fn for_wire(&self, wire: Wire) -> Result<(&RequestBody, bool), GatewayError> {
        match self.inbound {
            Inbound::Anthropic if wire == Wire::Anthropic => Ok((&self.client, true)),
            _ => Ok((self.canonical()?, false)),
        }
    }
}

fn to_canonical(native: &RequestBody) -> Result<RequestBody, GatewayError> {
    let canonical = anthropic::messages_to_openai(&native.to_value())?;
    let bytes =
        serde_json::to_vec(&canonical).map_err(|e| GatewayError::internal(e.to_string()))?;
    let mut body = RequestBody::parse(Bytes::from(bytes), Operation::Chat)?;
    body.gateway = native.gateway.clone();
    Ok(body)
}

/// A whole OpenAI answer in the client's format.
pub fn whole_answer(inbound: Inbound, body: Bytes, model: &str) -> Result<Bytes, GatewayError> {
    match inbound {
        Inbound::OpenAi => Ok(body),
        Inbound::Anthropic => {
            let v: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| GatewayError::new(502, "api_error", e.to_string()))?;
            Ok(Bytes::from(
                anthropic::openai_to_message(&v, model).to_string(),
            ))
        }
    }
}

/// The translator from OpenAI SSE to the client's stream format, if it is not OpenAI's.
pub fn outer_stream(inbound: Inbound, model: &str) -> Option<Box<dyn StreamTranslator>> {
    match inbound {
        Inbound::OpenAi => None,
        Inbound::Anthropic => Some(Box::new(anthropic::OpenAiToAnthropicStream::new(model))),
    }
}

/// `POST /v1/messages/count_tokens`: asked of the upstream for Anthropic deployments, estimated
/// (four bytes a token) for the others, which have no such endpoint.
pub async fn count_tokens(
    gateway: &Gateway,
    snapshot: &Snapshot,
    session: &mut Session,
    ctx: &mut RequestCtx,
    raw: Bytes,
) -> Result<(), GatewayError> {
    let native = RequestBody::parse_as(raw, Operation::Chat, BodyFormat::Anthropic)?;
    let resolved = snapshot.models.resolve(&native.model)?;
    let anthropic_deployment = resolved.group.deployments.iter().find(|d| {
        d.provider.wire == Wire::Anthropic && d.mock_response.is_none() && d.endpoint().is_ok()
    });
    let Some(d) = anthropic_deployment else {
        let estimate = (native.raw().len() / 4).max(1);
        let body = Bytes::from(format!("{{\"input_tokens\":{estimate}}}"));
        return respond::json(session, ctx, 200, body, None)
            .await
            .map_err(respond::client_gone);
    };
    let endpoint = d.endpoint()?;
    let model = match &resolved.wildcard {
        Some(captured) => d.model.replacen('*', captured, 1),
        None => d.model.clone(),
    };
    let path = format!(
        "{}/count_tokens",
        crate::providers::anthropic::messages_path(endpoint)
    );
    let send = gateway.upstream.send(
        UpstreamRequest {
            endpoint,
            path_and_query: &path,
            headers: &d.headers,
            body: native.with_model(&model),
        },
        Some(Duration::from_secs(30)),
    );
    let mut response = send.await.map_err(|e| {
        GatewayError::upstream_unreachable(&resolved.group.name, "Anthropic", &format!("{e:?}"))
    })?;
    let status = response.status();
    let body = response.read_to_end(1024 * 1024).await.map_err(|e| {
        GatewayError::upstream_unreachable(&resolved.group.name, "Anthropic", &format!("{e:?}"))
    })?;
    let head = response.header().clone();
    gateway.upstream.release(response).await;
    respond::json(session, ctx, status, body, Some(&head))
        .await
        .map_err(respond::client_gone)
}
