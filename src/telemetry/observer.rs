//! Feeds the Prometheus metrics from each call's lifecycle, as LiteLLM's exporter counts:
//! per deployment attempt (`litellm_deployment_*`, provider latency, deployment state), per
//! stream (time to first token), and per call when it is done (proxy requests and failures,
//! spend, tokens, total and overhead latency, fallbacks).

use super::labels::{self, CallLabels};
use super::metrics::Metrics;
use super::names as n;
use crate::lifecycle::{CallEvent, CallInfo, CallObserver, CallSummary};
use crate::router::Deployment;
use std::sync::Arc;

pub struct MetricsObserver(pub Arc<Metrics>);

impl CallObserver for MetricsObserver {
    fn on_event(&self, call: &CallInfo<'_>, event: &CallEvent<'_>) {
        let m = &*self.0;
        if !m.enabled() {
            return;
        }
        match event {
            CallEvent::AttemptEnded {
                deployment,
                failure,
                status,
                latency,
            } => {
                let status_text = labels::status_text(*status);
                let class_text = failure.map(|class| {
                    let name = labels::exception_class_name(*status, Some(class));
                    labels::exception_class(Some(deployment.provider.name), name)
                });
                let mut l = call_labels(m, call, Some(deployment));
                l.exception_status = &status_text;
                l.exception_class = class_text.as_deref().unwrap_or("");
                m.deployment_total_requests
                    .with_label_values(&l.pick(&n::DEPLOYMENT_REQUESTS_LABELS))
                    .inc();
                let state = m
                    .deployment_state
                    .with_label_values(&l.pick(&n::DEPLOYMENT_STATE_LABELS));
                if failure.is_some() {
                    m.deployment_failure_responses
                        .with_label_values(&l.pick(&n::DEPLOYMENT_FAILURE_LABELS))
                        .inc();
                    let cooling = deployment
                        .state
                        .cooldown_left(std::time::Instant::now())
                        .is_some();
                    state.set(if cooling {
                        n::STATE_COMPLETE_OUTAGE
                    } else {
                        n::STATE_PARTIAL_OUTAGE
                    });
                } else {
                    m.deployment_success_responses
                        .with_label_values(&l.pick(&n::DEPLOYMENT_REQUESTS_LABELS))
                        .inc();
                    m.llm_api_latency
                        .with_label_values(&l.pick(&n::LLM_API_LATENCY_LABELS))
                        .observe(latency.as_secs_f64());
                    state.set(n::STATE_HEALTHY);
                }
            }
            CallEvent::FirstByte {
                deployment,
                time_to_first_byte,
            } => {
                let l = call_labels(m, call, Some(deployment));
                m.llm_api_time_to_first_token
                    .with_label_values(&l.pick(&n::LLM_API_LATENCY_LABELS))
                    .observe(time_to_first_byte.as_secs_f64());
            }
            CallEvent::FallbackTried {
                to_group,
                deployment,
                succeeded,
                cause: (status, class, provider),
            } => {
                // One event per fallback group tried, labelled with the failure that started
                // the falling back, as LiteLLM's router logs them.
                let cause_status = labels::status_text(*status);
                let name = labels::exception_class_name(*status, Some(*class));
                let class = labels::exception_class(*provider, name);
                let mut l = call_labels(m, call, *deployment);
                l.fallback_model = to_group;
                l.exception_status = &cause_status;
                l.exception_class = &class;
                let counter = if *succeeded {
                    &m.successful_fallbacks
                } else {
                    &m.failed_fallbacks
                };
                counter
                    .with_label_values(&l.pick(&n::FALLBACKS_LABELS))
                    .inc();
            }
            CallEvent::Done {
                deployment,
                summary,
            } => done(m, call, *deployment, summary),
            _ => {}
        }
    }
}

fn done(m: &Metrics, call: &CallInfo<'_>, deployment: Option<&Arc<Deployment>>, s: &CallSummary) {
    let status_text = labels::status_text(s.status);
    let mut l = call_labels(m, call, deployment);
    l.status_code = &status_text;
    m.proxy_total_requests
        .with_label_values(&l.pick(&n::PROXY_TOTAL_REQUESTS_LABELS))
        .inc();
    let success = s.committed && (200..300).contains(&s.status);
    let provider = deployment.map(|d| d.provider.name);
    if !success {
        let class = labels::exception_class(provider, labels::exception_class_name(s.status, None));
        let mut f = l.clone();
        f.exception_status = &status_text;
        f.exception_class = &class;
        m.proxy_failed_requests
            .with_label_values(&f.pick(&n::PROXY_FAILED_REQUESTS_LABELS))
            .inc();
    }
    if let (Some(d), Some(usage)) = (deployment, &s.usage) {
        let cost = d.price.cost(usage);
        m.spend
            .with_label_values(&l.pick(&n::SPEND_LABELS))
            .inc_by(cost.max(0.0));
        let tokens = l.pick(&n::TOKENS_LABELS);
        m.input_tokens
            .with_label_values(&tokens)
            .inc_by(usage.prompt_tokens as f64);
        m.output_tokens
            .with_label_values(&tokens)
            .inc_by(usage.completion_tokens as f64);
        m.total_tokens
            .with_label_values(&tokens)
            .inc_by(usage.total_tokens as f64);
    }
    if success {
        m.requests
            .with_label_values(&l.pick(&n::REQUESTS_LABELS))
            .inc();
        m.request_total_latency
            .with_label_values(&l.pick(&n::REQUEST_TOTAL_LATENCY_LABELS))
            .observe(s.duration.as_secs_f64());
        let overhead = s.duration.saturating_sub(s.upstream_time);
        let deployment_labels = l.pick(&n::OVERHEAD_LATENCY_LABELS);
        m.overhead_latency
            .with_label_values(&deployment_labels)
            .observe(overhead.as_secs_f64());
        let left = s.provider_remaining;
        for (gauge, value) in [
            (&m.remaining_requests, left.requests),
            (&m.remaining_tokens, left.tokens),
        ] {
            if let Some(v) = value {
                gauge.with_label_values(&deployment_labels).set(v);
            }
        }
    }
}

/// `litellm_deployment_state` of one deployment, as a background health check found it.
pub fn set_deployment_state(m: &Metrics, d: &Deployment, state: f64) {
    if !m.enabled() {
        return;
    }
    let l = CallLabels {
        model: d.model.as_str(),
        model_id: d.id.as_str(),
        api_base: d.api_base.as_str(),
        api_provider: d.provider.name,
        ..CallLabels::default()
    };
    m.deployment_state
        .with_label_values(&l.pick(&n::DEPLOYMENT_STATE_LABELS))
        .set(state);
}

/// `litellm_deployment_cooled_down`: the router took `d` out after a failure with `status`.
pub fn count_cooldown(m: &Metrics, d: &Deployment, status: u16) {
    if !m.enabled() {
        return;
    }
    let status = labels::status_text(status);
    let l = CallLabels {
        model: d.model.as_str(),
        model_id: d.id.as_str(),
        api_base: d.api_base.as_str(),
        api_provider: d.provider.name,
        exception_status: &status,
        ..CallLabels::default()
    };
    m.deployment_cooled_down
        .with_label_values(&l.pick(&n::DEPLOYMENT_COOLED_DOWN_LABELS))
        .inc();
}

/// The labels known for every event of this call; the event adds its own.
fn call_labels<'a>(
    m: &Metrics,
    call: &CallInfo<'a>,
    deployment: Option<&'a Arc<Deployment>>,
) -> CallLabels<'a> {
    let key = call.key;
    let field = |name: &str| key.and_then(|k| k.key.str_field(name)).unwrap_or("");
    CallLabels {
        end_user: if m.end_user_labels() {
            call.end_user.unwrap_or("")
        } else {
            ""
        },
        hashed_api_key: key.map_or("", |k| k.token.as_str()),
        api_key_alias: field("key_alias"),
        team: field("team_id"),
        team_alias: field("team_alias"),
        user: field("user_id"),
        org_id: field("organization_id"),
        requested_model: call.requested_model.or(call.group).unwrap_or(""),
        model_group: call.group.unwrap_or(""),
        model: deployment.map_or("", |d| d.model.as_str()),
        model_id: deployment.map_or("", |d| d.id.as_str()),
        api_base: deployment.map_or("", |d| d.api_base.as_str()),
        api_provider: deployment.map_or("", |d| d.provider.name),
        route: call.route,
        ..CallLabels::default()
    }
}
