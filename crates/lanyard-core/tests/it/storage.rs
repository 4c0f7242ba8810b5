//! The storage invariant, checked on real parts: after logins against the simulators (real HTTP
//! on loopback), sessions saved with known secret strings, token renderings, refreshes, edits,
//! logouts and removals, no password, token or secret option appears in ANY file under the data
//! dir (database, -wal, -shm, the encrypted secret file, anything else), read as raw bytes.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Duration, Utc};
use lanyard_core::http::HttpConfig;
use lanyard_core::manager::{AccountEdit, Config, LoginStep, Manager, NewAccount, TokenFormat};
use lanyard_core::secrets::SecretStoreKind;
use lanyard_core::{SecretString, ServiceId, Session, SessionInfo, SessionTokens, State};

const PASSPHRASE: &str = "passphrase-7c1e0d5a-never-on-disk";
const APP_SECRET: &str = "appsecret-1f6b2a9c-never-on-disk";
const SAVED_ACCESS: &str = "access-3d8e4f1a-never-on-disk";
const SAVED_REFRESH: &str = "refresh-9a2b7c6d-never-on-disk";
const SAVED_EXTRA: &str = "extra-5e4d3c2b-never-on-disk";

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every file under `dir` as bytes; panics naming the file and the secret if one is found.
fn assert_no_secret_on_disk(dir: &Path, secrets: &[String]) -> usize {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for secret in secrets {
            assert!(secret.len() >= 8, "a needle this short would prove nothing");
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            // Do not print the secret itself: say which one by its position.
            let which = secrets.iter().position(|s| s == secret).unwrap();
            assert!(!found, "secret #{which} found in {}", file.display());
        }
    }
    files.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_any_file_under_the_data_dir() {
    let sim = lanyard_sim::start(lanyard_sim::SimConfig { port_base: None })
        .await
        .unwrap();
    let ep = sim.endpoints().clone();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = Config {
        data_dir: Some(data.clone()),
        secret_store: Some(SecretStoreKind::File),
        passphrase: Some(PASSPHRASE.into()),
        http: HttpConfig::default(),
    };
    let m = Manager::open(config).await.unwrap();
    assert!(m.secret_store_health().await.ok);
    let mut secrets: Vec<String> = [
        PASSPHRASE,
        APP_SECRET,
        SAVED_ACCESS,
        SAVED_REFRESH,
        SAVED_EXTRA,
    ]
    .map(String::from)
    .to_vec();

    // 1. Real logins with remembered passwords (the password goes to the secret store).
    for (service, endpoint, user, password) in [
        (
            ServiceId::Steedos,
            ep.steedos.as_str(),
            "alice@example.com",
            "secret123",
        ),
        (ServiceId::Sscms, ep.sscms.as_str(), "demo", "demo1234"),
    ] {
        let view = m
            .add_account(NewAccount {
                name: None,
                service,
                user: user.into(),
                endpoint: Some(endpoint.into()),
                options: BTreeMap::new(),
                remember_password: true,
            })
            .await
            .unwrap();
        let name = view.account.name;
        match m
            .begin_login(&name, Some(SecretString::new(password)))
            .await
            .unwrap()
        {
            LoginStep::Done(v) => assert!(
                matches!(v.state, State::Valid | State::Expiring),
                "{:?}",
                v.state
            ),
            LoginStep::Challenge { .. } => panic!("{name}: unexpected challenge"),
        }
        let session = m.session(&name).await.unwrap().expect("a session");
        secrets.push(session.tokens.access.expose().to_owned());
        secrets.extend(session.tokens.refresh.iter().map(|s| s.expose().to_owned()));
        secrets.extend(session.tokens.extra.values().map(|s| s.expose().to_owned()));
        for format in [
            TokenFormat::Raw,
            TokenFormat::Header,
            TokenFormat::Json,
            TokenFormat::Env,
        ] {
            m.token(&name, format).await.unwrap();
        }
    }
    secrets.push("secret123".into());
    secrets.push("demo1234".into());

    // A forced refresh rotates the Steedos tokens: the new ones must not leak either.
    m.refresh("steedos/alice@example.com", true).await.unwrap();
    let rotated = m
        .session("steedos/alice@example.com")
        .await
        .unwrap()
        .unwrap();
    secrets.push(rotated.tokens.access.expose().to_owned());
    secrets.extend(rotated.tokens.refresh.iter().map(|s| s.expose().to_owned()));
    secrets.extend(rotated.tokens.extra.values().map(|s| s.expose().to_owned()));

    // 2. A secret option (CoolKit app secret), edited once.
    let ck = m
        .add_account(NewAccount {
            name: Some("ck".into()),
            service: ServiceId::Coolkit,
            user: "ck@example.com".into(),
            endpoint: Some(ep.coolkit.clone()),
            options: BTreeMap::from([
                ("appid".to_owned(), "app-id-public".to_owned()),
                ("appsecret".to_owned(), format!("{APP_SECRET}-old")),
            ]),
            remember_password: false,
        })
        .await
        .unwrap();
    m.edit_account(
        "ck",
        AccountEdit {
            options: BTreeMap::from([("appsecret".to_owned(), Some(APP_SECRET.to_owned()))]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    secrets.push(format!("{APP_SECRET}-old"));

    // 3. Sessions saved with known strings, then rendered in every format.
    let now = Utc::now();
    let session = Session {
        tokens: SessionTokens {
            access: SAVED_ACCESS.into(),
            refresh: Some(SAVED_REFRESH.into()),
            extra: BTreeMap::from([("jwt".to_owned(), SecretString::new(SAVED_EXTRA))]),
        },
        info: SessionInfo {
            obtained_at: Some(now),
            expires_at: Some(now + Duration::hours(2)),
            display_name: Some("Public Name".into()),
            ..Default::default()
        },
    };
    m.save_session(&ck.account.id, &session).await.unwrap();
    for format in [
        TokenFormat::Raw,
        TokenFormat::Header,
        TokenFormat::Json,
        TokenFormat::Env,
    ] {
        let _ = m.token("ck", format).await.unwrap();
    }

    // 4. Logout, rename, remove: still nothing on disk.
    m.logout("sscms/demo").await.unwrap();
    m.edit_account(
        "ck",
        AccountEdit {
            name: Some("ck-renamed".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    m.remove_account("ck-renamed").await.unwrap();
    assert!(!m.events(None, 1000).await.unwrap().is_empty());

    // While the database is open (the WAL holds the recent pages)...
    let n = assert_no_secret_on_disk(&data, &secrets);
    assert!(
        n >= 3,
        "expected the database, its WAL and the secret file, found {n} files"
    );
    assert!(data.join("lanyard.db-wal").exists());
    // ...and after it is closed.
    drop(m);
    let n = assert_no_secret_on_disk(&data, &secrets);
    assert!(n >= 2);

    // The data really is there: reopening finds the accounts and the sessions.
    let m = Manager::open(Config {
        data_dir: Some(data.clone()),
        secret_store: Some(SecretStoreKind::File),
        passphrase: Some(PASSPHRASE.into()),
        http: HttpConfig::default(),
    })
    .await
    .unwrap();
    let alice = m
        .session("steedos/alice@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alice.tokens.access.expose(), rotated.tokens.access.expose());
    assert_eq!(m.list().await.unwrap().len(), 2);
    sim.shutdown().await;
}
