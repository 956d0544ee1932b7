//! Admin errors in LiteLLM's shapes: `ProxyException` (`{"error": {"message", "type", "param",
//! "code"}}`, `code` the status as a string), FastAPI's body validation (`422 {"detail": [...]}`)
//! and the `HTTPException(detail=...)` LiteLLM's endpoints raise, whose `detail` becomes the
//! message through Python's `str()` (a dict detail reads `{'error': '...'}`).

use super::AdminAnswer;
use crate::store::StoreError;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct AdminError {
    pub status: u16,
    pub body: Value,
}

pub type AdminResult<T> = Result<T, AdminError>;

impl AdminError {
    /// A `ProxyException` raised directly (message, type and param as given).
    pub fn proxy(status: u16, message: impl Into<String>, kind: &str, param: Option<&str>) -> Self {
        AdminError {
            status,
            body: json!({"error": {
                "message": message.into(),
                "type": kind,
                "param": param,
                "code": status.to_string(),
            }}),
        }
    }

    /// An `HTTPException` turned into a `ProxyException` by `handle_exception_on_proxy`.
    pub fn http(status: u16, detail: Value) -> Self {
        Self::proxy(status, python_str(&detail), "internal_server_error", None)
    }

    /// `HTTPException(status, detail={"error": message})`, the most common form.
    pub fn detail_error(status: u16, message: impl Into<String>) -> Self {
        Self::http(status, json!({"error": message.into()}))
    }

    /// An error raised inside authentication (`user_api_key_auth`): type `auth_error`,
    /// param the string `"None"`.
    pub fn auth(status: u16, message: impl Into<String>) -> Self {
        AdminError {
            status,
            body: json!({"error": {
                "message": message.into(),
                "type": "auth_error",
                "param": "None",
                "code": status.to_string(),
            }}),
        }
    }

    pub fn bad_request(message: impl Into<String>, param: Option<&str>) -> Self {
        Self::proxy(400, message, "bad_request_error", param)
    }

    pub fn not_found(message: impl Into<String>, param: Option<&str>) -> Self {
        Self::proxy(404, message, "not_found_error", param)
    }

    /// FastAPI's answer to a body or query that does not fit the request model.
    pub fn validation(loc: &[&str], kind: &str, msg: &str) -> Self {
        AdminError {
            status: 422,
            body: json!({"detail": [{"type": kind, "loc": loc, "msg": msg}]}),
        }
    }

    pub fn invalid_json() -> Self {
        Self::validation(&["body"], "json_invalid", "JSON decode error")
    }

    pub fn missing(loc: &[&str]) -> Self {
        Self::validation(loc, "missing", "Field required")
    }

    /// What a store failure answers: the database is down (LiteLLM's 503 `no_db_connection`)
    /// or refused the write.
    pub fn store(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(m) => Self::proxy(
                503,
                format!("Database unavailable: {m}"),
                "no_db_connection",
                Some("None"),
            ),
            StoreError::Conflict(m) => Self::detail_error(400, m),
        }
    }

    pub fn into_answer(self) -> AdminAnswer {
        AdminAnswer {
            status: self.status,
            body: self.body,
        }
    }

    /// The `message` of a ProxyException-shaped error (tests and logs).
    pub fn message(&self) -> Option<&str> {
        self.body.pointer("/error/message").and_then(Value::as_str)
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::store(e)
    }
}

/// Python's `str()` of a JSON-like value: strings as they are, everything else as `repr`.
pub fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

/// Python's `repr()` of the dict/list/str/float/bool/None a JSON value decodes to.
pub fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() => python_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => python_str_repr(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(python_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", python_str_repr(k), python_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// Python's `repr(float)`: integral values keep a `.0`.
pub fn python_float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

fn python_str_repr(s: &str) -> String {
    // Python picks single quotes unless the text holds one and no double quote.
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_dict_reads_as_python_repr() {
        let e = AdminError::detail_error(404, "No keys found");
        assert_eq!(e.message(), Some("{'error': 'No keys found'}"));
        assert_eq!(e.body["error"]["code"], "404");
        assert_eq!(e.body["error"]["type"], "internal_server_error");
        assert!(e.body["error"]["param"].is_null());
    }

    #[test]
    fn repr_of_values() {
        assert_eq!(python_repr(&json!("it's")), "\"it's\"");
        assert_eq!(
            python_repr(&json!([1, 2.5, null, true])),
            "[1, 2.5, None, True]"
        );
        assert_eq!(python_float(-1.0), "-1.0");
    }
}
