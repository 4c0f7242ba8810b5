//! TLS against a real server: `openssl s_server` with a certificate from a throwaway CA
//! (`lanyard_sim::tls_fixture`). Without that CA the login stops at the handshake with an error
//! that says how to fix it; with the account's `ca_file` option it gets past TLS (and then fails
//! on the server's HTML, which is not ShopXO). The system-store path (SSL_CERT_FILE) is checked
//! through the CLI binary in lanyard-cli's `transport` tests, as it is read from the
//! environment.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{account, ctx};
use lanyard_core::http::{Http, HttpConfig};
use lanyard_core::manager::NewAccount;
use lanyard_core::secrets::Secrets;
use lanyard_core::services::Service;
use lanyard_core::services::shopxo::Shopxo;
use lanyard_core::{ErrorCode, Manager, SecretString, ServiceId};
use lanyard_sim::tls_fixture::TlsServer;

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
    let m = Manager::with_parts(
        &dir.path().join("lanyard.db"),
        Secrets::memory(),
        HttpConfig::default(),
    )
    .unwrap();
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
    server.stop().await;
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
