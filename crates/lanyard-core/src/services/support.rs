//! Helpers the services share: password hashes, JWT claims, captcha checks, endpoint URLs,
//! masked destinations, and the options every service takes.

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
pub use crate::http::{clean_server_text, server_message};
use crate::model::{Account, OptionKind, OptionSpec, ServiceSpec};

use super::{Challenge, Progress};

/// Options every service accepts, on top of its own (`ServiceSpec::options`).
pub static COMMON_OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        key: crate::http::PROXY_OPTION,
        label: "Proxy",
        help: "HTTP(S) proxy URL for this account, e.g. http://proxy.example:3128; by default the environment's HTTP_PROXY / HTTPS_PROXY / NO_PROXY apply",
        kind: OptionKind::Url,
        required: false,
        default: None,
        secret: false,
    },
    OptionSpec {
        key: crate::http::CA_FILE_OPTION,
        label: "CA certificate file",
        help: "PEM file of the CA that signed this server's certificate (a private or company CA), trusted on top of the system's CA store and the built-in roots",
        kind: OptionKind::Text,
        required: false,
        default: None,
        secret: false,
    },
];

/// The spec of option `key` for a service: its own options first, then [`COMMON_OPTIONS`].
/// `None` means the service does not take that option.
pub fn option_spec(spec: &ServiceSpec, key: &str) -> Option<&'static OptionSpec> {
    let own: &'static [OptionSpec] = spec.options;
    own.iter()
        .chain(COMMON_OPTIONS.iter())
        .find(|o| o.key == key)
}

/// Every option a service takes: its own, then the common ones.
pub fn all_options(spec: &ServiceSpec) -> impl Iterator<Item = &'static OptionSpec> {
    let own: &'static [OptionSpec] = spec.options;
    own.iter().chain(COMMON_OPTIONS.iter())
}

/// Lowercase hex MD5 of the UTF-8 text (SSCMS, SiYuan passwords).
pub fn md5_hex(text: &str) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(text.as_bytes()))
}

/// Lowercase hex SHA-256 of the UTF-8 text (Steedos passwords).
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// The claims of a JWT, decoded WITHOUT checking the signature: for display only (expiry,
/// user id). `None` if it is not a three-part token with a base64url JSON object payload.
pub fn jwt_claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    use base64::Engine;
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let payload = payload.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(payload))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The `exp` claim (seconds since the epoch) of a JWT as a time, if present.
pub fn jwt_exp(token: &str) -> Option<DateTime<Utc>> {
    let claims = jwt_claims(token)?;
    let exp = claims.get("exp")?;
    let secs = exp.as_i64().or_else(|| exp.as_f64().map(|f| f as i64))?;
    DateTime::from_timestamp(secs, 0)
}

/// The image type of captcha bytes from their magic numbers (servers lie: ShopXO serves its
/// GIF as `text/html`). Falls back to `application/octet-stream`.
pub fn sniff_image_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        "image/gif"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else if bytes.starts_with(b"BM") {
        "image/bmp"
    } else {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]).to_lowercase();
        if head.trim_start().starts_with("<svg")
            || (head.contains("<?xml") && head.contains("<svg"))
        {
            "image/svg+xml"
        } else {
            "application/octet-stream"
        }
    }
}

/// The image types a captcha may have: raster images, which cannot carry script.
pub const CAPTCHA_IMAGE_TYPES: [&str; 5] = [
    "image/png",
    "image/gif",
    "image/jpeg",
    "image/webp",
    "image/bmp",
];

/// Refuses a captcha step whose image is not one of [`CAPTCHA_IMAGE_TYPES`] by its magic bytes
/// (SVG and HTML can carry script; unknown bytes cannot be shown safely), whatever the server or
/// the service module called it, and sets `media_type` to what the bytes are. The Manager runs
/// every login step through this, so it covers every service, the CLI and the app alike.
pub fn refuse_unsafe_captcha(progress: Progress) -> Result<Progress> {
    let Progress::Challenge {
        challenge: Challenge::Captcha {
            image, reloadable, ..
        },
        pending,
    } = progress
    else {
        return Ok(progress);
    };
    let sniffed = sniff_image_type(&image);
    if !CAPTCHA_IMAGE_TYPES.contains(&sniffed) {
        let what = match sniffed {
            "image/svg+xml" => "an SVG image",
            _ if image.trim_ascii_start().starts_with(b"<") => "markup",
            _ => "data of an unknown type",
        };
        return Err(Error::server(format!(
            "the server sent {what} as the captcha; Lanyard shows only PNG, GIF, JPEG, WebP and \
             BMP captchas, as other types can carry script"
        )));
    }
    Ok(Progress::Challenge {
        challenge: Challenge::Captcha {
            image,
            media_type: sniffed.to_owned(),
            reloadable,
        },
        pending,
    })
}

/// The account's endpoint joined with `path` (a trailing slash on the endpoint is optional).
pub fn endpoint_url(account: &Account, path: &str) -> Result<url::Url> {
    let base = account.endpoint.trim();
    let base = if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    };
    let base = url::Url::parse(&base).map_err(|e| {
        Error::invalid_input(format!("invalid endpoint '{}': {e}", account.endpoint))
    })?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(Error::invalid_input(format!(
            "invalid endpoint '{}': use http:// or https://",
            account.endpoint
        )));
    }
    base.join(path.trim_start_matches('/'))
        .map_err(|e| Error::invalid_input(format!("invalid endpoint '{}': {e}", account.endpoint)))
}

/// Mask the middle of a phone number or e-mail for display: "138****0001", "al***@example.com".
/// The value may come from the server: it is cleaned first ([`clean_server_text`]).
pub fn mask_destination(value: &str) -> String {
    let value = clean_server_text(value);
    let value = value.as_str();
    if let Some((local, domain)) = value.split_once('@') {
        let keep: String = local.chars().take(2).collect();
        return format!("{keep}***@{domain}");
    }
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 7 || value.contains('*') {
        return value.to_string();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ServiceId;
    use crate::services::{CodeChannel, Pending, spec, specs};

    #[test]
    fn hashes_are_lowercase_hex() {
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex("123456"), "e10adc3949ba59abbe56e057f20f883e");
        assert_eq!(
            sha256_hex("123456"),
            "8d969eef6ecad3c29a3a629280e686cf0c3f5d5a86aff3ca12020c923adc6c92"
        );
        assert_eq!(
            md5_hex("密码"),
            hex::encode(<md5::Md5 as md5::Digest>::digest("密码".as_bytes()))
        );
    }

    #[test]
    fn jwt_exp_is_read_without_a_signature_check() {
        // Steedos seed example access token: exp 1619674068.
        let t = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJkYXRhIjp7InRva2VuIjoiNWI5OWNiOGEyMjYzOTVjOGM0MmY1YWQ4MzljMmYxZDNjZWI3MzgwMTJhMDFjM2Q3ZjBjMTNjOTIyYTI5NjljOTExYWM0MGQ2YWQ4MDg1Y2RlY2FiZjEiLCJpc0ltcGVyc29uYXRlZCI6ZmFsc2UsInVzZXJJZCI6IjVmZGJlMmE2NzQ0N2ZmMTFlZDU4NTFlNSJ9LCJpYXQiOjE2MTE4OTgwNjgsImV4cCI6MTYxOTY3NDA2OH0.MFvxalr2DA3AS39Ehstq4x_4rpm66Uhxgs2tv449nyM";
        assert_eq!(jwt_exp(t).unwrap().timestamp(), 1619674068);
        assert_eq!(
            jwt_claims(t).unwrap()["data"]["userId"],
            "5fdbe2a67447ff11ed5851e5"
        );
        assert!(jwt_exp("not.a.jwt").is_none());
        assert!(jwt_exp("abc").is_none());
        assert!(jwt_exp("a.b.c.d").is_none());
        // No exp claim (SSCMS v6).
        let v6 = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJVc2VyTmFtZSI6ImRlbW8iLCJBZGREYXRlIjoiXC9EYXRlKDE1MjkzNjc0NzQxNjUpXC8ifQ.1Ka9OgcwEseeo2igDuPxdk_H7Mb1trzOxEVwj_VEJZc";
        assert!(jwt_claims(v6).is_some());
        assert!(jwt_exp(v6).is_none());
    }

    #[test]
    fn sniffing_and_masking() {
        assert_eq!(sniff_image_type(b"GIF87a\x64\x00"), "image/gif");
        assert_eq!(sniff_image_type(b"\x89PNG\r\n\x1a\n...."), "image/png");
        assert_eq!(sniff_image_type(b"<html>"), "application/octet-stream");
        assert_eq!(sniff_image_type(b"<svg xmlns=..."), "image/svg+xml");
        assert_eq!(mask_destination("13800000001"), "138****0001");
        assert_eq!(mask_destination("alice01@example.com"), "al***@example.com");
        assert_eq!(mask_destination("138***001"), "138***001");
    }

    #[test]
    fn only_raster_captchas_pass() {
        let step = |image: &[u8], media_type: &str| Progress::Challenge {
            challenge: Challenge::Captcha {
                image: image.to_vec(),
                media_type: media_type.to_owned(),
                reloadable: true,
            },
            pending: Pending::new(()),
        };
        let media_type = |p: Progress| match p {
            Progress::Challenge {
                challenge: Challenge::Captcha { media_type, .. },
                ..
            } => media_type,
            other => panic!("not a captcha: {other:?}"),
        };
        // A GIF the server called text/html (ShopXO does) passes, with its real type.
        let gif = refuse_unsafe_captcha(step(b"GIF89a\x01\x00", "text/html")).unwrap();
        assert_eq!(media_type(gif), "image/gif");
        for raster in [
            &b"\x89PNG\r\n\x1a\n...."[..],
            b"\xFF\xD8\xFF\xE0",
            b"RIFF\x00\x00\x00\x00WEBPVP8 ",
            b"BM\x00\x00",
        ] {
            assert!(refuse_unsafe_captcha(step(raster, "image/png")).is_ok());
        }
        for (bytes, says) in [
            (
                &b"<svg xmlns='http://www.w3.org/2000/svg'><script>x()</script></svg>"[..],
                "SVG",
            ),
            (b"<?xml version='1.0'?><svg/>", "SVG"),
            (b"  <html><script>x()</script>", "markup"),
            (b"\x00\x01\x02", "unknown"),
        ] {
            let e = refuse_unsafe_captcha(step(bytes, "image/png")).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::ServerError);
            assert!(e.message.contains(says), "{}", e.message);
        }
        // Other steps pass untouched.
        let code = Progress::Challenge {
            challenge: Challenge::Code {
                channel: CodeChannel::Sms,
                destination: None,
            },
            pending: Pending::new(()),
        };
        assert!(refuse_unsafe_captcha(code).is_ok());
    }

    #[test]
    fn server_text_is_cleaned_where_it_enters() {
        use serde_json::json;
        // A code destination from the server (Steedos MFA's mobile) and an error message.
        assert_eq!(
            mask_destination("\u{1b}[2J\u{202e}13800000001\u{9b}31m"),
            "138****0001"
        );
        assert_eq!(
            server_message(&json!({"message": "\u{1b}]52;c;cHduZWQ=\u{7}bad\u{202e} password"}))
                .as_deref(),
            Some("bad password")
        );
        // Nothing left but escapes: no message at all.
        assert_eq!(server_message(&json!({"msg": "\u{1b}[2J"})), None);
    }

    #[test]
    fn options_include_the_common_ones() {
        let steedos = spec(ServiceId::Steedos);
        assert_eq!(option_spec(steedos, "space_id").unwrap().key, "space_id");
        assert_eq!(option_spec(steedos, "proxy").unwrap().kind, OptionKind::Url);
        assert!(option_spec(steedos, "nope").is_none());
        for s in specs() {
            assert!(option_spec(s, "proxy").is_some());
            assert!(all_options(s).any(|o| o.key == "proxy"));
            assert!(all_options(s).any(|o| o.key == "ca_file" && !o.secret));
        }
    }

    #[test]
    fn endpoint_joins() {
        let mut a = crate::model::Account {
            id: "x".into(),
            name: "n".into(),
            service: ServiceId::Sscms,
            user: "u".into(),
            endpoint: "http://h:1/cms".into(),
            options: Default::default(),
            remember_password: false,
            active: false,
            created_at: Utc::now(),
        };
        assert_eq!(
            endpoint_url(&a, "/api/v1/x").unwrap().as_str(),
            "http://h:1/cms/api/v1/x"
        );
        a.endpoint = "http://h:1/cms/".into();
        assert_eq!(
            endpoint_url(&a, "api/v1/x").unwrap().as_str(),
            "http://h:1/cms/api/v1/x"
        );
        a.endpoint = "ftp://h".into();
        assert_eq!(
            endpoint_url(&a, "x").unwrap_err().code,
            crate::ErrorCode::InvalidInput
        );
    }
}
