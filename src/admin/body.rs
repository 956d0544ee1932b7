//! Reading admin requests: the JSON body as a document checked against the field kinds of
//! LiteLLM's request model (FastAPI answers 422 for a misfit, so do we), and the query string.

use super::error::{AdminError, AdminResult};
use crate::store::Document;
use serde_json::{Map, Value};

/// The kind a request field must have; `null` always passes (every field is optional in
/// LiteLLM's models unless checked by hand).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Str,
    Float,
    Int,
    Bool,
    List,
    StrList,
    Object,
}

/// The body as a JSON object; an empty body reads as `{}`.
pub fn parse_object(body: &[u8]) -> AdminResult<Document> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(AdminError::validation(
            &["body"],
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
        )),
        Err(_) => Err(AdminError::invalid_json()),
    }
}

/// Checks (and, as pydantic's lax mode does, normalizes: `"5"` → 5 for numbers) the fields of
/// `doc` named in `schema`. Fields not named pass through untouched (LiteLLM ignores extras).
pub fn check_fields(doc: &mut Document, schema: &[(&str, Kind)]) -> AdminResult<()> {
    for (name, kind) in schema {
        let Some(value) = doc.get_mut(*name) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        if let Some(normalized) = normalize(value, *kind) {
            *value = normalized;
            continue;
        }
        let (kind_name, msg) = match kind {
            Kind::Str => ("string_type", "Input should be a valid string"),
            Kind::Float => ("float_type", "Input should be a valid number"),
            Kind::Int => ("int_type", "Input should be a valid integer"),
            Kind::Bool => ("bool_type", "Input should be a valid boolean"),
            Kind::List | Kind::StrList => ("list_type", "Input should be a valid list"),
            Kind::Object => ("dict_type", "Input should be a valid dictionary"),
        };
        if *kind == Kind::StrList && value.is_array() {
            return Err(AdminError::validation(
                &["body", name],
                "string_type",
                "Input should be a valid string",
            ));
        }
        return Err(AdminError::validation(&["body", name], kind_name, msg));
    }
    Ok(())
}

/// `Some(value to store)` when `value` fits `kind`.
fn normalize(value: &Value, kind: Kind) -> Option<Value> {
    match (kind, value) {
        (Kind::Str, Value::String(_)) => Some(value.clone()),
        // Pydantic's float fields answer integers as floats (`10` → `10.0`).
        (Kind::Float, Value::Number(n)) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        (Kind::Float, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        (Kind::Int, Value::Number(n)) => {
            if n.is_i64() || n.is_u64() {
                Some(value.clone())
            } else {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    .map(|f| Value::from(f as i64))
            }
        }
        (Kind::Int, Value::String(s)) => s.trim().parse::<i64>().ok().map(Value::from),
        (Kind::Bool, Value::Bool(_)) => Some(value.clone()),
        (Kind::Bool, Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(Value::Bool(true)),
            "false" | "0" | "no" | "off" => Some(Value::Bool(false)),
            _ => None,
        },
        (Kind::List, Value::Array(_)) => Some(value.clone()),
        (Kind::StrList, Value::Array(items)) => {
            items.iter().all(Value::is_string).then(|| value.clone())
        }
        (Kind::Object, Value::Object(_)) => Some(value.clone()),
        _ => None,
    }
}

pub fn str_of<'a>(doc: &'a Document, name: &str) -> Option<&'a str> {
    doc.get(name).and_then(Value::as_str)
}

pub fn f64_of(doc: &Document, name: &str) -> Option<f64> {
    doc.get(name).and_then(Value::as_f64)
}

pub fn bool_of(doc: &Document, name: &str) -> Option<bool> {
    doc.get(name).and_then(Value::as_bool)
}

pub fn str_list_of(doc: &Document, name: &str) -> Vec<String> {
    doc.get(name)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A required string field (FastAPI's 422 `missing` when absent or null).
pub fn required_str(doc: &Document, name: &str) -> AdminResult<String> {
    match doc.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) => Err(AdminError::missing(&["body", name])),
        Some(_) => Err(AdminError::validation(
            &["body", name],
            "string_type",
            "Input should be a valid string",
        )),
    }
}

/// A required list-of-strings field.
pub fn required_str_list(doc: &Document, name: &str) -> AdminResult<Vec<String>> {
    match doc.get(name) {
        None | Some(Value::Null) => Err(AdminError::missing(&["body", name])),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Ok(items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()),
        Some(_) => Err(AdminError::validation(
            &["body", name],
            "list_type",
            "Input should be a valid list",
        )),
    }
}

/// The query string's parameters, percent-decoded (`+` is a space), in order.
pub fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    let Some(q) = query else {
        return Vec::new();
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                crate::percent::decode(k, true),
                crate::percent::decode(v, true),
            )
        })
        .collect()
}

pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn new(query: Option<&str>) -> Self {
        Query(parse_query(query))
    }

    /// The first value of a parameter; an empty value reads as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// An integer parameter within bounds (FastAPI's 422 otherwise).
    pub fn int(&self, name: &str, default: i64, min: i64, max: Option<i64>) -> AdminResult<i64> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        let n: i64 = raw.trim().parse().map_err(|_| {
            AdminError::validation(
                &["query", name],
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
            )
        })?;
        if n < min {
            return Err(AdminError::validation(
                &["query", name],
                "greater_than_equal",
                &format!("Input should be greater than or equal to {min}"),
            ));
        }
        if let Some(max) = max.filter(|m| n > *m) {
            return Err(AdminError::validation(
                &["query", name],
                "less_than_equal",
                &format!("Input should be less than or equal to {max}"),
            ));
        }
        Ok(n)
    }

    pub fn bool(&self, name: &str, default: bool) -> AdminResult<bool> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some("false" | "0" | "no" | "off") => Ok(false),
            Some(_) => Err(AdminError::validation(
                &["query", name],
                "bool_parsing",
                "Input should be a valid boolean, unable to interpret input",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_decodes_percent_and_plus() {
        let q = Query::new(Some("key=sk%2Dab+c&page=2&x=%zz&y=%4"));
        assert_eq!(q.get("key"), Some("sk-ab c"));
        assert_eq!(q.int("page", 1, 1, None), Ok(2));
        assert_eq!(q.get("x"), Some("%zz"));
        assert_eq!(q.get("y"), Some("%4"));
        assert_eq!(q.int("size", 10, 1, Some(100)), Ok(10));
        assert_eq!(
            Query::new(Some("size=0"))
                .int("size", 10, 1, Some(100))
                .unwrap_err()
                .status,
            422
        );
    }

    #[test]
    fn fields_are_checked_and_normalized() {
        let mut doc =
            parse_object(br#"{"max_budget": "1.5", "models": ["a"], "extra": 1}"#).unwrap();
        check_fields(
            &mut doc,
            &[("max_budget", Kind::Float), ("models", Kind::StrList)],
        )
        .unwrap();
        assert_eq!(doc["max_budget"], json!(1.5));
        let mut bad = parse_object(br#"{"key_alias": 5}"#).unwrap();
        let e = check_fields(&mut bad, &[("key_alias", Kind::Str)]).unwrap_err();
        assert_eq!(e.status, 422);
        assert_eq!(e.body["detail"][0]["loc"], json!(["body", "key_alias"]));
        assert_eq!(parse_object(b"{not json").unwrap_err().status, 422);
        assert_eq!(parse_object(b"[1]").unwrap_err().status, 422);
        assert!(parse_object(b"").unwrap().is_empty());
    }
}
