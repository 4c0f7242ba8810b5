//! CoolKit request signatures (docs/services/coolkit.md "Signatures"): HMAC-SHA256 keyed with
//! the app secret, Base64 (standard alphabet, padded), sent as `Authorization: Sign <b64>`.
//!
//! - POST: over the exact body bytes as sent.
//! - GET: over the query parameters sorted by name and joined `k=v&…` with raw values.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// `base64(HMAC-SHA256(secret, msg))`.
pub fn sign(secret: &str, msg: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac takes any key");
    mac.update(msg);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Constant-time check of a Base64 signature over `msg`.
pub fn verify(secret: &str, msg: &[u8], signature_b64: &str) -> bool {
    let Ok(sig) = STANDARD.decode(signature_b64.trim()) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac takes any key");
    mac.update(msg);
    mac.verify_slice(&sig).is_ok()
}

/// The `<b64>` of an `Authorization: Sign <b64>` header, if that is what was sent.
pub fn sign_header(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    v.strip_prefix("Sign ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The `<at>` of an `Authorization: Bearer <at>` header; `Some("")` when the header names
/// Bearer but carries no token.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let v = v.trim();
    if v == "Bearer" {
        return Some("");
    }
    v.strip_prefix("Bearer ").map(str::trim)
}

/// Raw `(key, value)` pairs of a query string, in wire order, values NOT decoded.
pub fn raw_pairs(query: &str) -> Vec<(&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect()
}

/// Percent-decodes `%XX` (and only that: a `+` stays a `+`, since the documented rule signs raw
/// values and a phone country code is `+86`).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The GET signing string: parameters sorted by name, `k=v` joined with `&`.
pub fn sorted_query(pairs: &[(String, String)]) -> String {
    let mut p: Vec<&(String, String)> = pairs.iter().collect();
    p.sort_by(|a, b| a.0.cmp(&b.0));
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Checks a GET signature. The documented rule signs raw values; a client that percent-encoded
/// a value on the wire but signed it raw also passes (both strings are tried).
pub fn verify_query(secret: &str, query: &str, signature_b64: &str) -> bool {
    let raw: Vec<(String, String)> = raw_pairs(query)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let decoded: Vec<(String, String)> = raw
        .iter()
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect();
    verify(secret, sorted_query(&raw).as_bytes(), signature_b64)
        || (decoded != raw && verify(secret, sorted_query(&decoded).as_bytes(), signature_b64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC_SECRET: &str = "OdPuCZ4PkPPi0rVKRVcGmll2NM6vVk0c";

    /// The four test vectors of CoolKit's v1 developer docs (`CoolKit-Technologies/apiDocs`).
    #[test]
    fn documented_test_vectors_verify() {
        let vectors: [(&str, &str); 4] = [
            (
                r#"{"appid":"McFJj4Noke1mGDZCR1QarGW7P9Ycp0Vr","nonce":"asbsedwq","password":"12345678","phoneNumber":"+8613123456789","ts":1560306258,"version":8}"#,
                "XuOzGxtG50CiF4H3odUfZsvKVl5+qSPzhfLEuUd4eJw=",
            ),
            (
                r#"{"appid": "McFJj4Noke1mGDZCR1QarGW7P9Ycp0Vr", "nonce": "asbsedwq", "password": "12345678", "phoneNumber": "+8613123456789", "ts": 1560306258, "version": 8}"#,
                "XfWcNURxPxpk6Z+6I+WR/j9wHURhvTEK1qa3sAJFNR0=",
            ),
            (
                r#"{"email":"1234@gmail.com","password":"12345678","countryCode":"+1"}"#,
                "ttZ/gluzqrafvGonjMD20p4//arW6KoZKbo1SOMEzCA=",
            ),
            (
                r#"{"email": "1234@gmail.com", "password": "12345678", "countryCode": "+1"}"#,
                "cE/Wl57Ithy21Elieq5wFsYwJWl2IrkBxlmuCnwI73c=",
            ),
        ];
        for (msg, expected) in vectors {
            assert_eq!(sign(DOC_SECRET, msg.as_bytes()), expected, "{msg}");
            assert!(verify(DOC_SECRET, msg.as_bytes(), expected));
        }
        // The compact and the spaced serialisations of one object sign differently.
        assert!(!verify(DOC_SECRET, vectors[1].0.as_bytes(), vectors[0].1));
    }

    #[test]
    fn oauth_vector_from_the_notes() {
        assert_eq!(
            sign("abc", b"ABC_123"),
            "v1+mfNY2ukxswM8sZOTg99srZsVnUVv9DGXeav1096M="
        );
    }

    #[test]
    fn wrong_key_or_garbage_rejected() {
        assert!(!verify("other", b"x", &sign(DOC_SECRET, b"x")));
        assert!(!verify(DOC_SECRET, b"x", "not base64!"));
        assert!(!verify(DOC_SECRET, b"x", ""));
    }

    #[test]
    fn query_is_sorted_with_raw_values() {
        let q = "rt=ab&grantType=refresh&appid=A&ts=1&version=8&nonce=n1";
        let msg = "appid=A&grantType=refresh&nonce=n1&rt=ab&ts=1&version=8";
        let s = sign("k", msg.as_bytes());
        assert!(verify_query("k", q, &s));
        assert!(!verify_query(
            "k",
            "rt=ab&grantType=refresh&appid=B&ts=1&version=8&nonce=n1",
            &s
        ));
        // '+' is a raw value, and a %2B on the wire is also accepted for a raw '+' signature.
        let s = sign("k", b"appid=A&country_code=+86");
        assert!(verify_query("k", "country_code=+86&appid=A", &s));
        assert!(verify_query("k", "country_code=%2B86&appid=A", &s));
    }
}
