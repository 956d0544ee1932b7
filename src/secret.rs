//! A value that must never reach a log: API keys, the master key, database URLs with passwords.
//! `Debug` prints it redacted; reading it takes an explicit `expose()`.

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

/// Provider params (`extra_params`) whose values are credentials.
pub fn is_secret_param(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["key", "secret", "token", "credentials", "password"]
        .iter()
        .any(|word| k.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("sk-very-secret");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(Secret([redacted]))");
        assert_eq!(s.expose(), "sk-very-secret");
        assert!(is_secret_param("aws_secret_access_key") && is_secret_param("vertex_credentials"));
        assert!(!is_secret_param("aws_region_name"));
    }
}
