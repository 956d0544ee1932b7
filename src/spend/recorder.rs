//! The end of a keyed (or master-key) call, for spend: price its usage, settle its budget
//! reservation, and queue one spend-log row for the flusher. Runs on the request's task, so it
//! only counts and queues: no I/O, no waiting.

use super::accounts::Accounts;
use super::ledger::Reservation;
use super::time::rfc3339;
use crate::auth::keys::KeyCaller;
use crate::canonical::Usage;
use crate::deployment::Deployment;
use crate::store::SpendRow;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What a call's spend row needs that only the request knows.
#[derive(Debug, Default)]
pub struct CallSpend {
    pub key: Option<KeyCaller>,
    pub reservation: Option<Reservation>,
    /// The request's `user` (LiteLLM's end user / customer).
    pub end_user: Option<String>,
    pub tags: Vec<String>,
    pub metadata: Option<Value>,
    /// LiteLLM's `call_type`: `acompletion`, `atext_completion`, `aembedding`.
    pub call_type: &'static str,
    /// Wall clock at admission, unix ms.
    pub started_ms: i64,
    /// The key's spend when the call was admitted (`x-litellm-key-spend` adds this call).
    pub key_spend_before: f64,
    /// Admitted past the budget checks: the call's end is accounted exactly once.
    pub accounted: bool,
    /// `store_prompts_in_spend_logs`: the row keeps the request's messages and the answer.
    pub keep_prompts: bool,
    pub messages: Option<Value>,
    pub response: Option<Value>,
}

/// How the call ended, as the row records it.
pub struct CallEnd<'a> {
    pub request_id: &'a str,
    pub group: Option<&'a str>,
    pub deployment: Option<&'a Arc<Deployment>>,
    pub usage: Option<Usage>,
    pub success: bool,
    /// Answered from the response cache (`cache_hit: "True"`, no cost).
    pub cache_hit: bool,
}

/// The spend rows waiting for the flusher, bounded: a store that is down for long enough makes
/// the gateway drop rows (counted and logged) rather than grow without limit.
pub struct SpendQueue {
    tx: mpsc::Sender<SpendRow>,
    dropped: AtomicU64,
}

impl SpendQueue {
    pub fn new(bound: usize) -> (SpendQueue, mpsc::Receiver<SpendRow>) {
        let (tx, rx) = mpsc::channel(bound.max(1));
        (
            SpendQueue {
                tx,
                dropped: AtomicU64::new(0),
            },
            rx,
        )
    }

    pub fn push(&self, row: SpendRow) {
        if self.tx.try_send(row).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // Once, then every 1000th: a full queue must not flood the log as well.
            if n == 1 || n.is_multiple_of(1000) {
                log::error!(
                    "spend queue full (store unreachable?): {n} spend rows dropped so far; raise general_settings.spend_queue_max_rows or restore the store"
                );
            }
        }
    }

    /// Rows queued and not yet taken by the flusher.
    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Spend accounting for the whole gateway: the live accounts budgets read, and the queue.
pub struct Accountant {
    pub accounts: Arc<Accounts>,
    pub queue: SpendQueue,
    /// Holds in the store, when other nodes share it.
    pub shared: Option<super::shared::SharedBudgets>,
}

impl Accountant {
    /// The call's cost; settles its reservation and queues its row. `None` for calls that are
    /// not accounted (an open gateway's).
    pub fn finish(&self, call: CallSpend, end: CallEnd<'_>) -> f64 {
        let cost = match (end.deployment, &end.usage) {
            // Known usage is what the provider billed, whether or not the client stayed.
            (Some(d), Some(u)) => d.price.cost(u),
            _ => 0.0,
        };
        let CallSpend {
            key,
            reservation,
            end_user,
            tags,
            metadata,
            call_type,
            started_ms,
            accounted: _,
            key_spend_before: _,
            keep_prompts: _,
            messages,
            response,
        } = call;
        // The organization may come through the key's team: the row names the one the
        // budgets were held against, so the store adds the spend where it was checked.
        let organization_id = reservation.as_ref().and_then(|r| {
            r.owners()
                .iter()
                .find(|o| o.table == crate::store::Table::Organizations)
                .map(|o| o.id.clone())
        });
        match reservation {
            Some(r) => r.settle(cost),
            None => {
                if let Some(k) = &key {
                    // Unbudgeted keys still count, for `/key/info` and budgets added later.
                    self.accounts
                        .settle(crate::store::Table::Keys, &k.token, 0.0, cost);
                }
            }
        }
        let usage = end.usage.unwrap_or_default();
        let d = end.deployment;
        let field = |name: &str| {
            key.as_ref()
                .and_then(|k| k.key.str_field(name))
                .unwrap_or_default()
                .to_string()
        };
        let row = SpendRow {
            request_id: end.request_id.to_string(),
            call_type: call_type.to_string(),
            api_key: key.as_ref().map(|k| k.token.clone()).unwrap_or_default(),
            spend: cost,
            total_tokens: usage.total_tokens,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            start_time: rfc3339(started_ms),
            end_time: rfc3339(crate::store::now_ms()),
            model: d.map(|d| d.model.clone()).unwrap_or_default(),
            model_group: end.group.unwrap_or_default().to_string(),
            model_id: d.map(|d| d.id.clone()).unwrap_or_default(),
            api_base: d.map(|d| d.api_base.clone()).unwrap_or_default(),
            custom_llm_provider: d.map(|d| d.provider.name.to_string()).unwrap_or_default(),
            user: field("user_id"),
            team_id: field("team_id"),
            organization_id: organization_id.unwrap_or_else(|| field("organization_id")),
            end_user: end_user.unwrap_or_default(),
            metadata: metadata.unwrap_or(Value::Object(Default::default())),
            cache_hit: if end.cache_hit { "True" } else { "False" }.to_string(),
            request_tags: tags,
            status: if end.success { "success" } else { "failure" }.to_string(),
            messages: messages.unwrap_or_else(|| Value::Object(Default::default())),
            response: response.unwrap_or_else(|| Value::Object(Default::default())),
            budget_ids: Vec::new(),
        };
        self.queue.push(row);
        cost
    }
}
