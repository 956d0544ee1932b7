//! The pure half of the AWS credential chain: the shared credentials/config files (INI), STS's
//! XML answers, the JSON of the container and instance metadata endpoints, and their ISO 8601
//! expiry times. Every input is bounded by the fetch that read it (64 KiB).

use crate::deployment::state::AwsKeys;
use serde::Deserialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Temporary keys and when they stop working (`None`: long-lived).
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    pub keys: AwsKeys,
    pub expires: Option<SystemTime>,
}

/// The keys of `profile` in a shared credentials file (`[name]` sections) or config file
/// (`[profile name]`, and `[default]`), if it has both an access key id and a secret.
/// `Err` when the profile exists but lacks one of them.
pub fn profile_keys(
    text: &str,
    profile: &str,
    config_file: bool,
) -> Result<Option<AwsKeys>, String> {
    let wanted = |section: &str| {
        let section = section.trim();
        if config_file && section != "default" {
            section
                .strip_prefix("profile")
                .filter(|rest| rest.starts_with(char::is_whitespace))
                .is_some_and(|rest| rest.trim() == profile)
        } else {
            section == profile
        }
    };
    let mut inside = false;
    let mut found = false;
    let (mut key, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = wanted(section);
            found |= inside;
            continue;
        }
        if !inside {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let value = Some(value.trim().to_string()).filter(|v| !v.is_empty());
        match name.trim() {
            "aws_access_key_id" => key = value,
            "aws_secret_access_key" => secret = value,
            "aws_session_token" => token = value,
            _ => {}
        }
    }
    match (key, secret) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Some(AwsKeys {
            access_key_id,
            secret_access_key,
            session_token: token,
        })),
        _ if found => Err(format!(
            "profile {profile} has no aws_access_key_id and aws_secret_access_key"
        )),
        _ => Ok(None),
    }
}

/// The text of the first `<tag>...</tag>` in `xml`, entities decoded.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(unescape(xml[start..end].trim()))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The credentials of an STS `AssumeRole` / `AssumeRoleWithWebIdentity` answer, or its error.
pub fn sts_credentials(status: u16, body: &[u8]) -> Result<Issued, String> {
    let xml = String::from_utf8_lossy(body);
    if status != 200 {
        let code = xml_text(&xml, "Code").unwrap_or_default();
        let message = xml_text(&xml, "Message").unwrap_or_else(|| xml.chars().take(200).collect());
        return Err(format!("STS answered {status}: {code}: {message}"));
    }
    let creds = xml_text_raw(&xml, "Credentials").ok_or("the STS answer has no Credentials")?;
    let field = |tag: &str| {
        xml_text(creds, tag)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the STS answer's Credentials have no {tag}"))
    };
    Ok(Issued {
        keys: AwsKeys {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: field("SecretAccessKey")?,
            session_token: Some(field("SessionToken")?),
        },
        expires: Some(parse_time(&field("Expiration")?)?),
    })
}

/// The inside of the first `<tag>...</tag>`, not decoded (to search further in).
fn xml_text_raw<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(&xml[start..end])
}

/// The JSON the ECS container endpoint and IMDS role credentials answer with.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetadataCredentials {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    token: Option<String>,
    expiration: Option<String>,
}

pub fn metadata_credentials(body: &[u8]) -> Result<Issued, String> {
    let m: MetadataCredentials = serde_json::from_slice(body)
        .map_err(|e| format!("the credentials answer is not the expected JSON: {e}"))?;
    if let Some(code) = m.code.as_deref().filter(|c| *c != "Success") {
        return Err(format!(
            "the credentials endpoint answered {code}: {}",
            m.message.unwrap_or_default()
        ));
    }
    let (Some(access_key_id), Some(secret_access_key)) = (m.access_key_id, m.secret_access_key)
    else {
        return Err("the credentials answer has no AccessKeyId or SecretAccessKey".into());
    };
    let expires = m.expiration.as_deref().map(parse_time).transpose()?;
    Ok(Issued {
        keys: AwsKeys {
            access_key_id,
            secret_access_key,
            session_token: m.token.filter(|t| !t.is_empty()),
        },
        expires,
    })
}

/// `2026-12-01T23:00:00Z` (fractional seconds and a `+00:00` offset allowed) as a time.
pub fn parse_time(text: &str) -> Result<SystemTime, String> {
    let bad = || format!("{text:?} is not an ISO 8601 UTC time");
    let b = text.trim().as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |from: usize, to: usize| -> Result<i64, String> {
        std::str::from_utf8(&b[from..to])
            .ok()
            .filter(|s| s.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut rest = &text.trim()[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        rest = fraction.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    if !matches!(rest, "Z" | "+00:00") {
        return Err(bad());
    }
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    let secs = u64::try_from(secs).map_err(|_| bad())?;
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &str, s: &str, t: Option<&str>) -> AwsKeys {
        AwsKeys {
            access_key_id: k.into(),
            secret_access_key: s.into(),
            session_token: t.map(str::to_string),
        }
    }

    #[test]
    fn profiles_from_credentials_and_config_files() {
        let creds = "[default]\naws_access_key_id = AKIA1\naws_secret_access_key=s1\n\n\
                     # comment\n[dev]\naws_access_key_id=AKIA2\naws_secret_access_key = s2\naws_session_token = t2\n\
                     [half]\naws_access_key_id=AKIA3\n";
        assert_eq!(
            profile_keys(creds, "default", false),
            Ok(Some(keys("AKIA1", "s1", None)))
        );
        assert_eq!(
            profile_keys(creds, "dev", false),
            Ok(Some(keys("AKIA2", "s2", Some("t2"))))
        );
        assert_eq!(profile_keys(creds, "nope", false), Ok(None));
        assert!(profile_keys(creds, "half", false).is_err());
        let config = "[default]\nregion=us-east-1\naws_access_key_id=A\naws_secret_access_key=B\n\
                      [profile dev]\naws_access_key_id=C\naws_secret_access_key=D\n[dev]\naws_access_key_id=X\n";
        assert_eq!(
            profile_keys(config, "dev", true),
            Ok(Some(keys("C", "D", None)))
        );
        assert_eq!(
            profile_keys(config, "default", true),
            Ok(Some(keys("A", "B", None)))
        );
    }

    #[test]
    fn sts_answers() {
        let ok = b"<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
            <AssumeRoleResult><AssumedRoleUser><Arn>arn</Arn></AssumedRoleUser><Credentials>\
            <AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>se/cr+et</SecretAccessKey>\
            <SessionToken>to&amp;ken</SessionToken><Expiration>2026-12-01T23:00:00Z</Expiration>\
            </Credentials></AssumeRoleResult></AssumeRoleResponse>";
        let issued = sts_credentials(200, ok).unwrap();
        assert_eq!(issued.keys, keys("ASIA1", "se/cr+et", Some("to&ken")));
        assert_eq!(
            issued.expires,
            Some(parse_time("2026-12-01T23:00:00Z").unwrap())
        );
        let err = b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
            <Message>not authorized</Message></Error></ErrorResponse>";
        let e = sts_credentials(403, err).unwrap_err();
        assert!(
            e.contains("AccessDenied") && e.contains("not authorized"),
            "{e}"
        );
        assert!(sts_credentials(200, b"<x/>").is_err());
        assert!(sts_credentials(
            200,
            b"<Credentials><AccessKeyId>A</AccessKeyId></Credentials>"
        )
        .is_err());
    }

    #[test]
    fn metadata_answers() {
        let body = br#"{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIA2","SecretAccessKey":"s","Token":"t","Expiration":"2026-12-01T23:00:00Z"}"#;
        let issued = metadata_credentials(body).unwrap();
        assert_eq!(issued.keys, keys("ASIA2", "s", Some("t")));
        assert!(issued.expires.is_some());
        assert!(metadata_credentials(br#"{"Code":"Failure","Message":"no role"}"#).is_err());
        assert!(metadata_credentials(b"not json").is_err());
    }

    #[test]
    fn times() {
        let secs = |t: &str| {
            parse_time(t)
                .unwrap()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        assert_eq!(secs("1970-01-01T00:00:00Z"), 0);
        assert_eq!(secs("2024-02-29T12:34:56Z"), 1_709_210_096);
        assert_eq!(secs("2024-02-29T12:34:56.123Z"), 1_709_210_096);
        assert_eq!(secs("2024-02-29T12:34:56+00:00"), 1_709_210_096);
        for bad in [
            "",
            "2024-02-29",
            "2024-02-29T12:34:56",
            "2024-13-01T00:00:00Z",
            "2024-02-29T12:34:56+02:00",
            "1969-12-31T23:59:59Z",
            "２０２４-02-29T12:34:56Z",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
