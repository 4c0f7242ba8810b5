//! Edits, removals, abandoned logins and a secret store that does not take a renewed session,
//! against the fake service of `manager::tests` and a real SQLite file. The secret store is the
//! in-memory one, shared with the test so it can look at every key; a wrapper around it that
//! times out or fails is the only mock, and it stays inside this module.

use std::sync::atomic::AtomicBool;

use super::*;
use crate::keepalive::TestClock;
use crate::secrets::memory::MemoryBackend;

/// The in-memory store, shared with the test.
fn shared_store() -> (Arc<MemoryBackend>, Secrets) {
    let backend = Arc::new(MemoryBackend::new());
    (backend.clone(), Secrets::from_backend(backend))
}

/// A session with `token` that expires in an hour.
fn session_with(token: &str) -> Session {
    Session {
        tokens: SessionTokens {
            access: token.into(),
            refresh: Some("rt".into()),
            extra: BTreeMap::new(),
        },
        info: SessionInfo {
            obtained_at: Some(Utc::now()),
            expires_at: Some(Utc::now() + chrono::Duration::hours(1)),
            ..Default::default()
        },
    }
}

async fn add_siyuan(m: &Manager, user: &str, api_token: Option<&str>) -> AccountView {
    let mut options = BTreeMap::new();
    if let Some(t) = api_token {
        options.insert("api_token".to_owned(), t.to_owned());
    }
    m.add_account(NewAccount {
        name: None,
        service: ServiceId::Siyuan,
        user: user.to_owned(),
        endpoint: Some("http://127.0.0.1:6806".into()),
        options,
        remember_password: true,
    })
    .await
    .unwrap()
}

/// Every key of the store that names the account.
fn keys_of(backend: &MemoryBackend, id: &str, candidates: &[String]) -> Vec<String> {
    candidates
        .iter()
        .filter(|k| k.contains(id) && backend.get(k).unwrap().is_some())
        .cloned()
        .collect()
}

// ----- item: edit and remove are atomic with renewals -----

#[tokio::test]
async fn an_endpoint_edit_drops_the_session_password_and_secret_options_of_the_old_server() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, secrets) = shared_store();
    let m = manager_at(dir.path(), secrets);
    let view = add_siyuan(&m, &unique_user(), Some("kernel-token-1")).await;
    let (id, name) = (view.account.id.clone(), view.account.name.clone());
    m.save_session(&id, &session_with("cloud-token"))
        .await
        .unwrap();
    m.put_secret(&id, &key_password(&id), &"pw".into())
        .await
        .unwrap();
    assert!(
        backend
            .get(&key_option(&id, "api_token"))
            .unwrap()
            .is_some()
    );

    // A new name only: nothing is dropped.
    m.edit_account(
        &name,
        AccountEdit {
            name: Some("renamed".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(backend.get(&key_session(&id)).unwrap().is_some());
    assert!(backend.get(&key_password(&id)).unwrap().is_some());

    let edited = m
        .edit_account(
            "renamed",
            AccountEdit {
                endpoint: Some("http://10.0.0.9:6806".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.state, State::SignedOut);
    for key in [
        key_session(&id),
        key_password(&id),
        key_option(&id, "api_token"),
    ] {
        assert!(backend.get(&key).unwrap().is_none(), "{key} was kept");
    }
    assert!(m.session("renamed").await.unwrap().is_none());
    let log = m.events(Some("renamed"), 5).await.unwrap();
    assert!(
        log[0].message.contains("dropped api_token"),
        "{}",
        log[0].message
    );
    assert!(
        !log[0].message.contains("kernel-token"),
        "{}",
        log[0].message
    );

    // The same edit may bring the new server's secret: that one is kept.
    m.edit_account(
        "renamed",
        AccountEdit {
            endpoint: Some("http://10.0.0.10:6806".into()),
            options: BTreeMap::from([("api_token".to_owned(), Some("kernel-token-2".into()))]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        backend
            .get(&key_option(&id, "api_token"))
            .unwrap()
            .unwrap()
            .expose(),
        "kernel-token-2"
    );
}

#[tokio::test]
async fn a_user_edit_signs_out_and_forgets_the_password() {
    let (_d, m) = manager();
    let user = unique_user();
    add(&m, ServiceId::Sscms, &user, true).await;
    let name = format!("sscms/{user}");
    let view = login(&m, &name, "secret-pw").await;
    let id = view.account.id;
    assert!(m.secrets.get(&key_password(&id)).await.unwrap().is_some());
    let edited = m
        .edit_account(
            &name,
            AccountEdit {
                user: Some(unique_user()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.state, State::SignedOut);
    assert!(m.secrets.get(&key_password(&id)).await.unwrap().is_none());
    assert!(m.secrets.get(&key_session(&id)).await.unwrap().is_none());
}

#[tokio::test]
async fn a_new_endpoint_without_a_required_secret_option_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, secrets) = shared_store();
    let m = manager_at(dir.path(), secrets);
    let view = m
        .add_account(NewAccount {
            name: None,
            service: ServiceId::Coolkit,
            user: "a@example.com".into(),
            endpoint: Some("https://one.example/{region}".into()),
            options: BTreeMap::from([
                ("appid".to_owned(), "app".to_owned()),
                ("appsecret".to_owned(), "app-secret-1".to_owned()),
            ]),
            remember_password: false,
        })
        .await
        .unwrap();
    let id = view.account.id.clone();
    m.save_session(&id, &session_with("at")).await.unwrap();
    let err = m
        .edit_account(
            &view.account.name,
            AccountEdit {
                endpoint: Some("https://two.example/{region}".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("appsecret"), "{}", err.message);
    assert!(!err.message.contains("app-secret-1"), "{}", err.message);
    let still = m.get(&view.account.name).await.unwrap();
    assert_eq!(still.account.endpoint, "https://one.example/{region}");
    assert!(backend.get(&key_session(&id)).unwrap().is_some());
    assert!(
        backend
            .get(&key_option(&id, "appsecret"))
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn an_edit_the_database_refuses_drops_nothing() {
    let (_d, m) = manager();
    let (taken, user) = (unique_user(), unique_user());
    add(&m, ServiceId::Sscms, &taken, true).await;
    add(&m, ServiceId::Sscms, &user, true).await;
    let name = format!("sscms/{user}");
    let id = login(&m, &name, "secret-pw").await.account.id;
    // Another account is that user at that endpoint already.
    let err = m
        .edit_account(
            &name,
            AccountEdit {
                user: Some(taken.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::AlreadyExists, "{}", err.message);
    assert_eq!(m.get(&name).await.unwrap().state, State::Valid);
    assert!(m.secrets.get(&key_session(&id)).await.unwrap().is_some());
    assert!(m.secrets.get(&key_password(&id)).await.unwrap().is_some());
}

#[tokio::test]
async fn remove_deletes_every_key_of_the_account_also_ones_the_spec_no_longer_has() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, secrets) = shared_store();
    let m = manager_at(dir.path(), secrets);
    let other = add_siyuan(&m, &unique_user(), Some("other-token")).await;
    let view = add_siyuan(&m, &unique_user(), Some("kernel-token")).await;
    let id = view.account.id.clone();
    m.save_session(&id, &session_with("cloud-token"))
        .await
        .unwrap();
    m.put_secret(&id, &key_password(&id), &"pw".into())
        .await
        .unwrap();
    // An option an older version had as secret, no longer in the spec.
    let retired = key_option(&id, "retired_secret");
    m.put_secret(&id, &retired, &"old".into()).await.unwrap();
    let candidates = [
        key_session(&id),
        key_password(&id),
        key_option(&id, "api_token"),
        retired.clone(),
    ];
    assert_eq!(keys_of(&backend, &id, &candidates).len(), 4);

    m.remove_account(&view.account.name).await.unwrap();
    assert_eq!(keys_of(&backend, &id, &candidates), Vec::<String>::new());
    // Only the other account's option is left in the whole store.
    assert_eq!(backend.len(), 1);
    assert!(
        backend
            .get(&key_option(&other.account.id, "api_token"))
            .unwrap()
            .is_some()
    );
    let stored_keys = {
        let id = id.clone();
        m.db(move |s| s.secret_keys(&id)).await.unwrap()
    };
    assert!(stored_keys.is_empty(), "{stored_keys:?}");
}

#[tokio::test]
async fn a_login_answered_after_remove_fails_with_not_found_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, secrets) = shared_store();
    let m = manager_at(dir.path(), secrets);
    let user = unique_user();
    set_behavior(&user, |b| b.captcha = true);
    add(&m, ServiceId::Sscms, &user, true).await;
    let name = format!("sscms/{user}");
    let LoginStep::Challenge { flow, .. } = m
        .begin_login(&name, Some("secret-pw".into()))
        .await
        .unwrap()
    else {
        panic!("expected a captcha")
    };
    m.remove_account(&name).await.unwrap();
    let err = m.answer_login(&flow, "right".into()).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert_eq!(backend.len(), 0, "nothing of the removed account is stored");
}

#[tokio::test]
async fn a_login_that_finishes_after_remove_saves_nothing() {
    // The service answered; the account was removed before the manager stored the outcome.
    let dir = tempfile::tempdir().unwrap();
    let (backend, secrets) = shared_store();
    let m = manager_at(dir.path(), secrets);
    let user = unique_user();
    add(&m, ServiceId::Sscms, &user, true).await;
    let name = format!("sscms/{user}");
    let account = m.get(&name).await.unwrap().account;
    m.remove_account(&name).await.unwrap();
    let outcome = LoginOutcome::new(fake_session(&user));
    let err = m
        .login_progress(
            &account,
            None,
            Ok(Progress::Done(Box::new(outcome))),
            Some("secret-pw".into()),
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(err.message.contains("removed"), "{}", err.message);
    assert_eq!(backend.len(), 0);
}

#[tokio::test]
async fn a_renewal_in_flight_finishes_before_remove_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (backend, secrets) = shared_store();
    let m = Arc::new(manager_at(dir.path(), secrets));
    let user = unique_user();
    add(&m, ServiceId::Sscms, &user, true).await;
    let name = format!("sscms/{user}");
    login(&m, &name, "secret-pw").await;
    set_behavior(&user, |b| b.refresh_delay_ms = 400);
    let renewing = tokio::spawn({
        let (m, name) = (m.clone(), name.clone());
        async move { m.refresh(&name, true).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(count(&calls(&user).refresh), 1, "the refresh is in flight");
    m.remove_account(&name).await.unwrap();
    assert!(
        renewing.is_finished(),
        "remove waited for the renewal in flight"
    );
    let _ = renewing.await.unwrap();
    assert_eq!(backend.len(), 0, "no session or password came back");
    assert_eq!(code(m.get(&name).await), ErrorCode::NotFound);
}

// ----- item: abandoned logins -----

#[tokio::test]
async fn an_abandoned_login_is_forgotten_after_five_minutes_without_any_other_flow() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new();
    let m = manager_at(dir.path(), Secrets::memory()).with_clock(clock.clone());
    let user = unique_user();
    set_behavior(&user, |b| b.captcha = true);
    add(&m, ServiceId::Sscms, &user, true).await;
    let name = format!("sscms/{user}");
    let LoginStep::Challenge { flow, .. } = m
        .begin_login(&name, Some("secret-pw".into()))
        .await
        .unwrap()
    else {
        panic!("expected a captcha")
    };
    assert_eq!(m.get(&name).await.unwrap().state, State::AwaitingChallenge);
    // Four minutes: still waiting.
    clock.advance(chrono::Duration::minutes(4));
    tokio::time::sleep(FLOW_SWEEP_EVERY + Duration::from_millis(500)).await;
    assert_eq!(lock(&m.flows).len(), 1);

    clock.advance(chrono::Duration::minutes(2));
    let started = Instant::now();
    while !lock(&m.flows).is_empty() {
        assert!(
            started.elapsed() < FLOW_SWEEP_EVERY * 3,
            "the sweeper did not forget the login"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(m.get(&name).await.unwrap().state, State::AwaitingChallenge);
    let err = m.answer_login(&flow, "right".into()).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(err.message.contains("5 minutes"), "{}", err.message);
}

// ----- item: no rotated token is lost to a slow secret store -----

/// Session writes time out (longer than the store's deadline) while `failing` is set.
#[derive(Default)]
struct StuckSessionWrites {
    inner: MemoryBackend,
    failing: AtomicBool,
}

impl crate::secrets::SecretBackend for StuckSessionWrites {
    fn kind(&self) -> crate::secrets::SecretStoreKind {
        crate::secrets::SecretStoreKind::Keyring
    }
    fn get(&self, key: &str) -> Result<Option<SecretString>> {
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &SecretString) -> Result<()> {
        if key.ends_with("/session") && self.failing.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(300));
            return Err(Error::secret_store("the keyring is stuck"));
        }
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key)
    }
}

fn stored_access(backend: &StuckSessionWrites, id: &str) -> String {
    let json = backend.inner.get(&key_session(id)).unwrap().unwrap();
    let tokens: SessionTokens = serde_json::from_str(json.expose()).unwrap();
    tokens.access.expose().to_owned()
}

#[tokio::test]
async fn a_rotated_session_the_store_did_not_take_is_used_and_saved_on_the_retry() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(StuckSessionWrites::default());
    let secrets = Secrets::from_backend(backend.clone()).with_timeout(Duration::from_millis(100));
    let m = manager_at(dir.path(), secrets);
    let user = unique_user();
    add(&m, ServiceId::Sscms, &user, false).await;
    let name = format!("sscms/{user}");
    let id = login(&m, &name, "pw").await.account.id;
    let first = stored_access(&backend, &id);

    backend.failing.store(true, Ordering::SeqCst);
    let err = m.refresh(&name, true).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::SecretStore);
    assert!(err.message.contains("kept in memory"), "{}", err.message);
    assert_eq!(count(&calls(&user).refresh), 1);
    // The old token is still what the store holds, but the rotated one is what is handed out.
    assert_eq!(stored_access(&backend, &id), first);
    let rotated = m.token(&name, TokenFormat::Raw).await.unwrap();
    assert_ne!(rotated, first);
    assert!(matches!(
        m.get(&name).await.unwrap().state,
        State::Retrying { .. }
    ));

    // The store answers again: the next attempt stores the kept session; nothing is refreshed
    // a second time (the server already rotated once).
    backend.failing.store(false, Ordering::SeqCst);
    let row = m.row_by_id(&id).await.unwrap();
    let next = match &row.session.state {
        StoredState::Retrying { next_attempt, .. } => *next_attempt,
        other => panic!("expected a planned retry, got {other:?}"),
    };
    assert!(next > m.now(), "the retry is planned for later");
    // The keep-alive engine's planned check is what stores it.
    assert_eq!(
        m.keepalive_check(&row, CheckKind::Refresh).await.unwrap(),
        Renewal::Renewed
    );
    assert_eq!(count(&calls(&user).refresh), 1);
    assert_eq!(stored_access(&backend, &id), rotated);
    assert!(lock(&m.unsaved).is_empty());
    assert_eq!(m.get(&name).await.unwrap().state, State::Valid);
    assert_eq!(m.token(&name, TokenFormat::Raw).await.unwrap(), rotated);
}

#[tokio::test]
async fn a_save_that_fails_once_is_retried_from_memory_within_the_renewal() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(StuckSessionWrites::default());
    let secrets = Secrets::from_backend(backend.clone()).with_timeout(Duration::from_millis(100));
    let m = Arc::new(manager_at(dir.path(), secrets));
    let user = unique_user();
    add(&m, ServiceId::Sscms, &user, false).await;
    let name = format!("sscms/{user}");
    let id = login(&m, &name, "pw").await.account.id;
    backend.failing.store(true, Ordering::SeqCst);
    let renewing = tokio::spawn({
        let (m, name) = (m.clone(), name.clone());
        async move { m.refresh(&name, true).await }
    });
    // The first write times out; the store recovers before the retry.
    tokio::time::sleep(Duration::from_millis(150)).await;
    backend.failing.store(false, Ordering::SeqCst);
    renewing.await.unwrap().unwrap();
    let token = m.token(&name, TokenFormat::Raw).await.unwrap();
    assert_eq!(stored_access(&backend, &id), token);
    assert!(lock(&m.unsaved).is_empty());
}
