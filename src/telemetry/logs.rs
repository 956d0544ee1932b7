//! The service log: leveled lines on stderr (the journal, under systemd), as text or, with
//! LiteLLM's `json_logs: true` / `JSON_LOGS=1`, one JSON object per line. The level comes from
//! `RUST_LOG` (env_logger's filter syntax), else LiteLLM's `LITELLM_LOG` (`DEBUG`, `INFO`,
//! `WARNING`, `ERROR`), else `info`. Access-log lines (`lifecycle::access_log`) are JSON
//! objects already and are written as they are in both modes.

use crate::lifecycle::access_log;
use std::io::Write;

/// How the service log is written, from the environment and the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub json: bool,
    /// An env_logger filter (`info`, `tollgate=debug,pingora=warn`, ...).
    pub filter: String,
}

impl LogSettings {
    /// `env` reads a variable (the process environment, in `main`).
    pub fn new(json_logs_in_config: bool, env: impl Fn(&str) -> Option<String>) -> LogSettings {
        let set = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let json_env = set("JSON_LOGS")
            .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"));
        let filter = set("RUST_LOG")
            .or_else(|| set("LITELLM_LOG").map(|level| litellm_level(&level).to_string()))
            .unwrap_or_else(|| "info".to_string());
        LogSettings {
            json: json_env.unwrap_or(json_logs_in_config),
            filter,
        }
    }

    /// Installs the process logger; later calls are ignored (tests build several gateways).
    pub fn install(&self) {
        let mut builder = env_logger::Builder::new();
        builder.parse_filters(&self.filter);
        let json = self.json;
        builder.format(move |buf, record| {
            if record.target() == access_log::TARGET {
                return writeln!(buf, "{}", record.args());
            }
            if json {
                let line = serde_json::json!({
                    "timestamp": access_log::timestamp(),
                    "level": level_name(record.level()),
                    "logger": record.target(),
                    "message": record.args().to_string(),
                });
                writeln!(buf, "{line}")
            } else {
                writeln!(
                    buf,
                    "[{} {:<5} {}] {}",
                    access_log::timestamp(),
                    record.level(),
                    record.target(),
                    record.args()
                )
            }
        });
        let _ = builder.try_init();
    }
}

/// LiteLLM's level names (Python's), as env_logger levels.
fn litellm_level(level: &str) -> &'static str {
    match level.to_ascii_uppercase().as_str() {
        "DEBUG" => "debug",
        "WARNING" | "WARN" => "warn",
        "ERROR" | "CRITICAL" => "error",
        "TRACE" => "trace",
        "OFF" | "NONE" => "off",
        _ => "info",
    }
}

/// Python's level names, as LiteLLM's JSON formatter writes them.
fn level_name(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "ERROR",
        log::Level::Warn => "WARNING",
        log::Level::Info => "INFO",
        log::Level::Debug => "DEBUG",
        log::Level::Trace => "TRACE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(json_in_config: bool, vars: &[(&str, &str)]) -> LogSettings {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LogSettings::new(json_in_config, |name| vars.get(name).cloned())
    }

    #[test]
    fn rust_log_wins_then_litellm_log_then_info() {
        assert_eq!(settings(false, &[]).filter, "info");
        assert_eq!(settings(false, &[("LITELLM_LOG", "DEBUG")]).filter, "debug");
        assert_eq!(
            settings(false, &[("LITELLM_LOG", "WARNING")]).filter,
            "warn"
        );
        let both = settings(
            false,
            &[("LITELLM_LOG", "DEBUG"), ("RUST_LOG", "tollgate=trace")],
        );
        assert_eq!(both.filter, "tollgate=trace");
        // An empty RUST_LOG (a unit's `Environment=RUST_LOG=`) is as good as unset.
        let empty = settings(false, &[("LITELLM_LOG", "ERROR"), ("RUST_LOG", " ")]);
        assert_eq!(empty.filter, "error");
    }

    #[test]
    fn json_from_the_config_or_the_environment() {
        assert!(!settings(false, &[]).json);
        assert!(settings(true, &[]).json);
        assert!(settings(false, &[("JSON_LOGS", "1")]).json);
        assert!(settings(false, &[("JSON_LOGS", "True")]).json);
        assert!(!settings(true, &[("JSON_LOGS", "0")]).json);
    }
}
