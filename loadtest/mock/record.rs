//! The record ring behind `/__mock/requests`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use http::request;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Recorded bodies of this size or more are kept as `null` (the hash is
/// still kept).
const MAX_RECORDED_BODY: usize = 64 << 10;
/// The ring keeps this many most recent requests.
const MAX_RECORDS: usize = 10_000;

/// Each record is serialized once when received, outside the lock, so the
/// lock is held only for a push, a clear or a clone of refcounted buffers.
#[derive(Default)]
pub struct Recorder {
    ring: Mutex<VecDeque<Bytes>>,
}

#[derive(Serialize)]
struct Record<'a> {
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    headers: BTreeMap<&'a str, String>,
    body_len: usize,
    body: Option<&'a Value>,
    /// The body as text when it is not JSON (a form body, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    body_text: Option<std::borrow::Cow<'a, str>>,
    /// SHA-256 of the body, hex: also SigV4's payload hash.
    body_sha256: String,
}

impl Recorder {
    fn ring(&self) -> MutexGuard<'_, VecDeque<Bytes>> {
        // A panic elsewhere must not take the recorder down with it.
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a request; `json` is its body when that parsed as JSON (or
    /// a form body as an object); `as_text` also records the body's text.
    pub fn push(&self, parts: &request::Parts, body: &[u8], json: Option<&Value>, as_text: bool) {
        let mut headers: BTreeMap<&str, String> = BTreeMap::new();
        for (name, value) in &parts.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            headers
                .entry(name.as_str())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert_with(|| value.into_owned());
        }
        let record = Record {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers,
            body_len: body.len(),
            body: json.filter(|_| body.len() < MAX_RECORDED_BODY),
            body_text: (as_text && !body.is_empty() && body.len() < MAX_RECORDED_BODY)
                .then(|| String::from_utf8_lossy(body)),
            body_sha256: crate::encoding::hex(&Sha256::digest(body)),
        };
        let record = Bytes::from(serde_json::to_vec(&record).unwrap_or_default());

        let mut ring = self.ring();
        if ring.len() >= MAX_RECORDS {
            ring.pop_front();
        }
        ring.push_back(record);
    }

    /// All records, oldest first, as one JSON array.
    pub fn to_json(&self) -> Bytes {
        let snapshot: Vec<Bytes> = self.ring().iter().cloned().collect();
        let mut out = Vec::with_capacity(2 + snapshot.iter().map(|r| r.len() + 1).sum::<usize>());
        out.push(b'[');
        for (i, record) in snapshot.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(record);
        }
        out.push(b']');
        Bytes::from(out)
    }

    /// Forgets all records; returns how many there were.
    pub fn clear(&self) -> usize {
        std::mem::take(&mut *self.ring()).len()
    }
}

/// The events behind `/__mock/events`: work the peer aborted (see
/// [`crate::conn::AbortWatch`]), oldest first.
#[derive(Default)]
pub struct Events {
    list: Mutex<VecDeque<Value>>,
}

impl Events {
    fn list(&self) -> MutexGuard<'_, VecDeque<Value>> {
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn push(&self, event: Value) {
        let mut list = self.list();
        if list.len() >= MAX_RECORDS {
            list.pop_front();
        }
        list.push_back(event);
    }

    pub fn to_json(&self) -> Bytes {
        let list = self.list();
        let all: Vec<&Value> = list.iter().collect();
        Bytes::from(serde_json::to_vec(&all).unwrap_or_default())
    }

    pub fn clear(&self) -> usize {
        std::mem::take(&mut *self.list()).len()
    }
}
