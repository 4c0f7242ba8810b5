//! Transport security through the Manager. TLS against a real server: `openssl s_server` with a certificate from a throwaway CA
//! (`lanyard_sim::tls_fixture`). Without that CA the login stops at the handshake with an error
//! that says how to fix it; with the account's `ca_file` option it gets past TLS (and then fails
//! on the server's HTML, which is not ShopXO). The system-store path (SSL_CERT_FILE) is checked
//! through the CLI binary in lanyard-cli's `transport` tests, as it is read from the
//! environment. Plain http: the account view says when the password would cross a network
//! unencrypted (no traffic needed: accounts are only added and edited).

use std::collections::BTreeMap;
use std::time::Duration;

use lanyard_core::http::{Http, HttpConfig};
use lanyard_core::manager::{AccountEdit, NewAccount};
use lanyard_core::services::Service;
use lanyard_core::services::shopxo::Shopxo;
use lanyard_core::{ErrorCode, SecretString, ServiceId};
use lanyard_sim::tls_fixture::TlsServer;

use crate::support::{account, ctx, memory_manager, options_map};

fn http() -> Http {
    Http::new(HttpConfig {
        timeout: Duration::from_secs(5),
        ..Default::default()
    })
    .unwrap()
}

/// ShopXO's login starts with a GET (`base/common`), which `s_server -www` answers.
async fn shopxo_login(
    http: &Http,
    endpoint: &str,
    options: &[(&str, &str)],
) -> lanyard_core::Error {
    let acc = account(ServiceId::Shopxo, "alice01", endpoint, options);
    let secrets = BTreeMap::new();
    Shopxo
        .begin_login(
            &ctx(http, &acc, &secrets),
            Some(&SecretString::new("secret123")),
        )
        .await
        .expect_err("s_server is no ShopXO")
}

#[tokio::test]
async fn an_unknown_ca_fails_at_the_handshake_and_says_to_set_ca_file() {
    let server = TlsServer::start().await.expect("openssl s_server");
    let e = shopxo_login(&http(), &server.base_url(), &[]).await;
    assert_eq!(e.code, ErrorCode::Network, "{}", e.message);
    assert!(
        e.message.starts_with(&format!(
            "could not connect to {}: TLS handshake failed",
            server.host()
        )),
        "{}",
        e.message
    );
    assert!(e.message.contains("UnknownIssuer"), "{}", e.message);
    assert!(
        e.message.contains("set the account option ca_file"),
        "{}",
        e.message
    );
    assert_eq!(e.message.lines().count(), 1);
    server.stop().await;
}

#[tokio::test]
async fn the_account_ca_file_gets_past_tls() {
    let server = TlsServer::start().await.expect("openssl s_server");
    let ca = server.ca_file().to_string_lossy().into_owned();
    let e = shopxo_login(&http(), &server.base_url(), &[("ca_file", &ca)]).await;
    // Past the handshake: the answer itself is what is wrong.
    assert_eq!(e.code, ErrorCode::ServerError, "{}", e.message);
    assert_eq!(
        e.message,
        format!(
            "unexpected answer from {}: an HTML page instead of JSON",
            server.host()
        )
    );
    // Another account on the same client, without the option, still does not trust it.
    let e = shopxo_login(&http(), &server.base_url(), &[]).await;
    assert_eq!(e.code, ErrorCode::Network, "{}", e.message);
    server.stop().await;
}

/// `ca_file` is checked when it is given: a missing file or one without a certificate is a
/// usage error and adds nothing; a good one is kept as an absolute path.
#[tokio::test]
async fn ca_file_is_checked_at_add() {
    let server = TlsServer::start().await.expect("openssl s_server");
    let dir = tempfile::tempdir().unwrap();
    let m = memory_manager(dir.path());
    let new = |user: &str, ca: &str| NewAccount {
        name: None,
        service: ServiceId::Shopxo,
        user: user.into(),
        endpoint: Some(server.base_url()),
        options: BTreeMap::from([("ca_file".to_string(), ca.to_string())]),
        remember_password: false,
    };
    let missing = dir.path().join("missing.pem");
    let e = m
        .add_account(new("a", missing.to_str().unwrap()))
        .await
        .expect_err("a missing CA file");
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert_eq!(e.code.exit_code(), 2);
    assert!(e.message.contains("no such file"), "{}", e.message);
    let key = dir.path().join("not-a-cert.pem");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let e = m
        .add_account(new("b", key.to_str().unwrap()))
        .await
        .expect_err("no certificate in it");
    assert!(
        e.message.contains("holds no PEM certificate"),
        "{}",
        e.message
    );
    assert!(m.list().await.unwrap().is_empty(), "nothing was added");

    // A relative path is made absolute (the app runs elsewhere than the shell that added it).
    let ca = server.ca_file();
    let relative = pathdiff(&ca, &std::env::current_dir().unwrap());
    let view = m
        .add_account(new("c", &relative))
        .await
        .expect("a good CA file");
    assert_eq!(view.account.option("ca_file"), Some(ca.to_str().unwrap()));

    // Edits are checked the same way, and a refused edit changes nothing.
    let edit = |ca: &str| AccountEdit {
        name: None,
        user: None,
        endpoint: None,
        options: BTreeMap::from([("ca_file".to_string(), Some(ca.to_string()))]),
        remember_password: None,
    };
    let e = m
        .edit_account(&view.account.name, edit(missing.to_str().unwrap()))
        .await
        .expect_err("a missing CA file");
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.contains("option 'ca_file'"), "{}", e.message);
    let now = m.get(&view.account.name).await.unwrap();
    assert_eq!(now.account.option("ca_file"), Some(ca.to_str().unwrap()));
    server.stop().await;
}

#[tokio::test]
async fn the_view_says_when_a_password_would_travel_unencrypted() {
    let dir = tempfile::tempdir().unwrap();
    let m = memory_manager(dir.path());
    let add = |user: &str, endpoint: &str, options: &[(&str, &str)]| NewAccount {
        name: None,
        service: ServiceId::Sscms,
        user: user.into(),
        endpoint: Some(endpoint.into()),
        options: options_map(options),
        remember_password: false,
    };
    let remote = m
        .add_account(add("a", "http://cms.lanyard-test.invalid", &[]))
        .await
        .unwrap();
    assert!(remote.plaintext_remote);
    let local = m
        .add_account(add("b", "http://127.0.0.1:9", &[]))
        .await
        .unwrap();
    assert!(!local.plaintext_remote);
    let tls = m
        .add_account(add("c", "https://cms.lanyard-test.invalid", &[]))
        .await
        .unwrap();
    assert!(!tls.plaintext_remote);
    let proxied = m
        .add_account(add(
            "d",
            "http://127.0.0.1:9",
            &[("proxy", "http://proxy.lanyard-test.invalid:3128")],
        ))
        .await
        .unwrap();
    assert!(proxied.plaintext_remote, "in clear as far as the proxy");
    // Lists carry it, and it follows an edit of the endpoint.
    let listed = m.list().await.unwrap();
    assert_eq!(listed.iter().filter(|v| v.plaintext_remote).count(), 2);
    let edited = m
        .edit_account(
            &remote.account.name,
            AccountEdit {
                name: None,
                user: None,
                endpoint: Some("https://cms.lanyard-test.invalid".into()),
                options: BTreeMap::new(),
                remember_password: None,
            },
        )
        .await
        .unwrap();
    assert!(!edited.plaintext_remote);
    let json = serde_json::to_value(&edited).unwrap();
    assert_eq!(
        json["plaintext_remote"], false,
        "the app reads it from the view's JSON"
    );
}

/// `to` as a path relative to `from` (both absolute), e.g. `../../tmp/x/ca.pem`.
fn pathdiff(to: &std::path::Path, from: &std::path::Path) -> String {
    let to: Vec<_> = to.components().collect();
    let from: Vec<_> = from.components().collect();
    let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut out = std::path::PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c);
    }
    out.to_string_lossy().into_owned()
}
