//! CoolKit request signatures (docs/services/coolkit.md "Signatures"), shared by v1 and v2.
//!
//! HMAC-SHA256 keyed with the app secret over the exact bytes that are sent, Base64 (standard
//! alphabet, padded). POST bodies are serialised once, signed and sent as the same bytes; GET
//! queries are sorted by key and joined as raw `k=v&…`, and that same string is the query sent.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::Rng as _;
use sha2::Sha256;

use crate::secret::SecretString;

/// `base64(HMAC-SHA256(secret, message))`; the header value is `Sign <this>`.
pub fn sign(secret: &SecretString, message: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC-SHA256 takes keys of any length");
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `Authorization` value of a pre-login call.
pub fn sign_header(secret: &SecretString, message: &[u8]) -> String {
    format!("Sign {}", sign(secret, message))
}

/// The GET signing string: parameters sorted by name, joined as `k=v` with `&`, values raw
/// (not URL-encoded). The same string is sent as the query, so signed and sent bytes agree.
pub fn sorted_query(params: &[(&str, &str)]) -> String {
    let mut sorted: Vec<&(&str, &str)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// 8 random alphanumeric characters (v1 `nonce`, v2 `X-CK-Nonce`).
pub fn nonce() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(8)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC_SECRET: &str = "OdPuCZ4PkPPi0rVKRVcGmll2NM6vVk0c";

    fn doc_sign(message: &str) -> String {
        sign(&SecretString::new(DOC_SECRET), message.as_bytes())
    }

    #[test]
    fn v1_node_demo_vector_compact_json() {
        let body = r#"{"appid":"McFJj4Noke1mGDZCR1QarGW7P9Ycp0Vr","nonce":"asbsedwq","password":"12345678","phoneNumber":"+8613123456789","ts":1560306258,"version":8}"#;
        assert_eq!(
            doc_sign(body),
            "XuOzGxtG50CiF4H3odUfZsvKVl5+qSPzhfLEuUd4eJw="
        );
    }

    #[test]
    fn v1_python_demo_vector_spaced_json() {
        let body = r#"{"appid": "McFJj4Noke1mGDZCR1QarGW7P9Ycp0Vr", "nonce": "asbsedwq", "password": "12345678", "phoneNumber": "+8613123456789", "ts": 1560306258, "version": 8}"#;
        assert_eq!(
            doc_sign(body),
            "XfWcNURxPxpk6Z+6I+WR/j9wHURhvTEK1qa3sAJFNR0="
        );
    }

    #[test]
    fn v2_node_demo_vector_compact_json() {
        let body = r#"{"email":"1234@gmail.com","password":"12345678","countryCode":"+1"}"#;
        assert_eq!(
            doc_sign(body),
            "ttZ/gluzqrafvGonjMD20p4//arW6KoZKbo1SOMEzCA="
        );
    }

    #[test]
    fn v2_python_demo_vector_spaced_json() {
        let body = r#"{"email": "1234@gmail.com", "password": "12345678", "countryCode": "+1"}"#;
        assert_eq!(
            doc_sign(body),
            "cE/Wl57Ithy21Elieq5wFsYwJWl2IrkBxlmuCnwI73c="
        );
    }

    #[test]
    fn sign_header_has_the_sign_prefix() {
        let h = sign_header(&SecretString::new(DOC_SECRET), b"x");
        assert!(h.starts_with("Sign ") && h.ends_with('='), "{h}");
    }

    #[test]
    fn get_query_is_sorted_and_raw() {
        let q = sorted_query(&[
            ("ts", "1558004249"),
            ("version", "8"),
            ("nonce", "2323dfgh"),
            ("appid", "abc"),
            ("rt", "a+b"),
            ("grantType", "refresh"),
        ]);
        assert_eq!(
            q,
            "appid=abc&grantType=refresh&nonce=2323dfgh&rt=a+b&ts=1558004249&version=8"
        );
    }

    #[test]
    fn nonce_is_eight_alphanumerics_and_varies() {
        let a = nonce();
        let b = nonce();
        assert_eq!(a.len(), 8);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
