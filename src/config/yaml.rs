//! A path-aware, lenient reader over a parsed YAML tree.
//!
//! LiteLLM configs in the wild are loose: `20_000` for numbers, `"0.5"` as strings, `null` for
//! "unset", `os.environ/NAME` for secrets. serde's derive would reject or misplace these and
//! report errors without the YAML path, so config sections are read through this small walker,
//! which records every problem as `path: message`.

use serde_yaml::{Mapping, Value};
use std::collections::HashMap;

/// Problems found while reading a config; errors make it invalid, warnings do not.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl Diagnostics {
    pub fn error(&mut self, path: &str, message: impl std::fmt::Display) {
        self.errors.push(format!("{path}: {message}"));
    }

    pub fn warn(&mut self, path: &str, message: impl std::fmt::Display) {
        self.warnings.push(format!("{path}: {message}"));
    }
}

/// Where `os.environ/NAME` values come from: the config's own `environment_variables` first,
/// then the process environment. The process environment is never modified.
#[derive(Debug, Default, Clone)]
pub struct EnvSource {
    overlay: HashMap<String, String>,
}

impl EnvSource {
    pub fn new(overlay: HashMap<String, String>) -> Self {
        EnvSource { overlay }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.overlay
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .filter(|v| !v.is_empty())
    }

    /// The first of `names` that is set.
    pub fn first_of(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| self.get(n))
    }
}

pub const ENV_PREFIX: &str = "os.environ/";

/// One value of the tree and its path from the root, e.g. `model_list[2].litellm_params`.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    pub value: &'a Value,
    path: &'a str,
}

/// An owned path, so child nodes can borrow it.
pub struct PathBuf(String);

impl PathBuf {
    pub fn root(name: &str) -> Self {
        PathBuf(name.to_string())
    }
    pub fn key(parent: &str, key: &str) -> Self {
        if parent.is_empty() {
            PathBuf(key.to_string())
        } else {
            PathBuf(format!("{parent}.{key}"))
        }
    }
    pub fn index(parent: &str, i: usize) -> Self {
        PathBuf(format!("{parent}[{i}]"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'a> Node<'a> {
    pub fn new(value: &'a Value, path: &'a PathBuf) -> Self {
        Node {
            value,
            path: path.as_str(),
        }
    }

    pub fn path(&self) -> &'a str {
        self.path
    }

    pub fn is_null(&self) -> bool {
        self.value.is_null()
    }

    pub fn mapping(&self, diag: &mut Diagnostics) -> Option<&'a Mapping> {
        match self.value {
            Value::Mapping(m) => Some(m),
            Value::Null => None,
            other => {
                diag.error(
                    self.path,
                    format!("expected a mapping, found {}", kind(other)),
                );
                None
            }
        }
    }

    pub fn sequence(&self, diag: &mut Diagnostics) -> Option<&'a [Value]> {
        match self.value {
            Value::Sequence(s) => Some(s),
            Value::Null => None,
            other => {
                diag.error(self.path, format!("expected a list, found {}", kind(other)));
                None
            }
        }
    }

    /// A string, with `os.environ/NAME` resolved. Numbers and booleans are accepted as their
    /// text; `null` and an unset environment variable are `None`.
    pub fn string(&self, env: &EnvSource, diag: &mut Diagnostics) -> Option<String> {
        let raw = match self.value {
            Value::Null => return None,
            Value::String(s) => s.trim_end_matches('\r').to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                diag.error(
                    self.path,
                    format!("expected a string, found {}", kind(other)),
                );
                return None;
            }
        };
        match raw.strip_prefix(ENV_PREFIX) {
            Some(name) => {
                let value = env.get(name);
                if value.is_none() {
                    diag.warn(self.path, format!("environment variable {name} is not set"));
                }
                value
            }
            None => Some(raw),
        }
    }

    /// A number; also accepts `20_000`, `"0.5"` and `os.environ/NAME`.
    pub fn number(&self, env: &EnvSource, diag: &mut Diagnostics) -> Option<f64> {
        if let Value::Number(n) = self.value {
            return n.as_f64();
        }
        let text = self.string(env, diag)?;
        let cleaned: String = text.trim().chars().filter(|c| *c != '_').collect();
        match cleaned.parse::<f64>() {
            Ok(v) if v.is_finite() => Some(v),
            _ => {
                diag.error(self.path, format!("expected a number, found {text:?}"));
                None
            }
        }
    }

    /// A non-negative whole number.
    pub fn count(&self, env: &EnvSource, diag: &mut Diagnostics) -> Option<u64> {
        let v = self.number(env, diag)?;
        if v < 0.0 || v.fract() != 0.0 {
            diag.error(
                self.path,
                format!("expected a whole number >= 0, found {v}"),
            );
            return None;
        }
        Some(v as u64)
    }

    pub fn boolean(&self, env: &EnvSource, diag: &mut Diagnostics) -> Option<bool> {
        if let Value::Bool(b) = self.value {
            return Some(*b);
        }
        let text = self.string(env, diag)?;
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Some(true),
            "false" | "no" | "off" | "0" => Some(false),
            _ => {
                diag.error(self.path, format!("expected true or false, found {text:?}"));
                None
            }
        }
    }

    /// A list of strings; a single string is taken as a one-element list.
    pub fn strings(&self, env: &EnvSource, diag: &mut Diagnostics) -> Vec<String> {
        match self.value {
            Value::Sequence(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    let p = PathBuf::index(self.path, i);
                    Node::new(item, &p).string(env, diag)
                })
                .collect(),
            Value::Null => Vec::new(),
            _ => self.string(env, diag).into_iter().collect(),
        }
    }
}

/// Calls `f` for each `key: value` of a mapping with the child's path; non-string keys are errors.
pub fn for_each_entry<'a>(
    map: &'a Mapping,
    parent: &str,
    diag: &mut Diagnostics,
    mut f: impl FnMut(&str, Node<'_>, &mut Diagnostics),
) {
    for (k, v) in map {
        let key = match k {
            Value::String(s) => s.trim_end_matches('\r'),
            other => {
                diag.error(
                    parent,
                    format!("keys must be strings, found {}", kind(other)),
                );
                continue;
            }
        };
        let path = PathBuf::key(parent, key);
        f(key, Node::new(v, &path), diag);
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T>(
        yaml: &str,
        f: impl Fn(Node, &EnvSource, &mut Diagnostics) -> T,
    ) -> (T, Diagnostics) {
        let v: Value = serde_yaml::from_str(yaml).unwrap();
        let p = PathBuf::root("x");
        let mut d = Diagnostics::default();
        let env = EnvSource::new(HashMap::from([("SECRET".into(), "s3cr3t".into())]));
        (f(Node::new(&v, &p), &env, &mut d), d)
    }

    #[test]
    fn numbers_accept_underscores_and_strings() {
        assert_eq!(read("20_000", |n, e, d| n.number(e, d)).0, Some(20000.0));
        assert_eq!(read("\"0.5\"", |n, e, d| n.number(e, d)).0, Some(0.5));
        assert_eq!(read("null", |n, e, d| n.number(e, d)).0, None);
        let (v, d) = read("abc", |n, e, d| n.number(e, d));
        assert_eq!(v, None);
        assert_eq!(d.errors, vec!["x: expected a number, found \"abc\""]);
    }

    #[test]
    fn env_references_resolve_from_overlay_then_process() {
        assert_eq!(
            read("os.environ/SECRET", |n, e, d| n.string(e, d))
                .0
                .as_deref(),
            Some("s3cr3t")
        );
        let (v, d) = read("os.environ/TOLLGATE_SURELY_UNSET", |n, e, d| n.string(e, d));
        assert_eq!(v, None);
        assert_eq!(d.warnings.len(), 1);
        assert!(d.errors.is_empty());
    }

    #[test]
    fn booleans_accept_python_spellings() {
        assert_eq!(read("True", |n, e, d| n.boolean(e, d)).0, Some(true));
        assert_eq!(read("\"false\"", |n, e, d| n.boolean(e, d)).0, Some(false));
    }
}
