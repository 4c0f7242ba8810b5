//! Unit tests of the façade over a real SQLite file and the in-memory secret store. The login,
//! refresh and validation paths run against a small fake service (this module only); the real
//! services are tested against the simulators.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::*;
use crate::model::Capabilities;
use crate::services::{CodeChannel, Credential, RefreshOutcome};

// ----- the fake service -----

#[derive(Clone, Copy, Default, PartialEq)]
enum Outcome {
    #[default]
    Ok,
    Lost,
    Down,
}

#[derive(Clone, Default)]
struct Behavior {
    /// Session lifetime in seconds (default one hour).
    lifetime: Option<i64>,
    refresh: Outcome,
    validate: Outcome,
    captcha: bool,
    refresh_delay_ms: u64,
}

#[derive(Default)]
struct Calls {
    login: AtomicUsize,
    answer: AtomicUsize,
    refresh: AtomicUsize,
    validate: AtomicUsize,
    logout: AtomicUsize,
    issued: AtomicUsize,
}

static BEHAVIOR: LazyLock<Mutex<HashMap<String, Behavior>>> = LazyLock::new(Mutex::default);
static CALLS: LazyLock<Mutex<HashMap<String, Arc<Calls>>>> = LazyLock::new(Mutex::default);

fn behavior(user: &str) -> Behavior {
    lock(&BEHAVIOR).get(user).cloned().unwrap_or_default()
}
fn set_behavior(user: &str, f: impl FnOnce(&mut Behavior)) {
    f(lock(&BEHAVIOR).entry(user.to_owned()).or_default());
}
fn calls(user: &str) -> Arc<Calls> {
    lock(&CALLS).entry(user.to_owned()).or_default().clone()
}
fn count(c: &AtomicUsize) -> usize {
    c.load(Ordering::SeqCst)
}

fn fake_session(user: &str) -> Session {
    let n = calls(user).issued.fetch_add(1, Ordering::SeqCst) + 1;
    let now = Utc::now();
    Session {
        tokens: SessionTokens {
            access: SecretString::new(format!("tok-{user}-{n}")),
            refresh: Some(SecretString::new(format!("rt-{user}-{n}"))),
            extra: BTreeMap::new(),
        },
        info: SessionInfo {
            obtained_at: Some(now),
            expires_at: Some(
                now + chrono::Duration::seconds(behavior(user).lifetime.unwrap_or(3600)),
            ),
            refresh_expires_at: None,
            user_id: Some("7".into()),
            display_name: Some(format!("User {user}")),
            extra: BTreeMap::new(),
        },
    }
}

const fn caps(refresh: bool, expires: bool) -> Capabilities {
    Capabilities {
        refresh,
        validate: true,
        logout: true,
        captcha: true,
        second_factor: true,
        code_login: false,
        expires,
    }
}

const fn fake_spec(
    id: ServiceId,
    capabilities: Capabilities,
    token_form: &'static str,
) -> ServiceSpec {
    ServiceSpec {
        id,
        display_name: "Fake",
        description: "a fake service for unit tests",
        user_label: "User",
        default_endpoint: None,
        endpoint_help: "Base URL",
        options: &[],
        capabilities,
        token_form,
    }
}

/// Refresh-capable (stands in for sscms accounts).
static REFRESHING: ServiceSpec =
    fake_spec(ServiceId::Sscms, caps(true, true), "X-Test-Token: <token>");
/// No refresh, sessions expire (steedos accounts).
static PLAIN: ServiceSpec = fake_spec(
    ServiceId::Steedos,
    caps(false, true),
    "X-Test-Token: <token>",
);
/// No refresh, no expiry, no logout call, token as a query parameter (shopxo accounts).
static QUERY: ServiceSpec = fake_spec(
    ServiceId::Shopxo,
    Capabilities {
        logout: false,
        ..caps(false, false)
    },
    "token=<token>",
);

struct Fake(&'static ServiceSpec);
static FAKE_REFRESHING: Fake = Fake(&REFRESHING);
static FAKE_PLAIN: Fake = Fake(&PLAIN);
static FAKE_QUERY: Fake = Fake(&QUERY);

/// The built-in services with fakes in place of SSCMS, Steedos and ShopXO.
fn fake_registry() -> Registry {
    Registry::builtin()
        .with(ServiceId::new("sscms", &FAKE_REFRESHING))
        .with(ServiceId::new("steedos", &FAKE_PLAIN))
        .with(ServiceId::new("shopxo", &FAKE_QUERY))
}

#[derive(Clone)]
struct Waiting(#[allow(dead_code)] SecretString);

#[async_trait]
impl Service for Fake {
    fn spec(&self) -> &'static ServiceSpec {
        self.0
    }
    async fn begin_login(
        &self,
        ctx: &Ctx<'_>,
        password: Option<&SecretString>,
    ) -> Result<Progress> {
        let user = &ctx.account.user;
        calls(user).login.fetch_add(1, Ordering::SeqCst);
        match password.map(SecretString::expose) {
            None => return Err(Error::invalid_input("a password is needed")),
            Some("wrong") => {
                return Err(Error::credentials_rejected("wrong user name or password"));
            }
            Some("down") => return Err(Error::network("fake.example: connection refused")),
            Some(_) => {}
        }
        if behavior(user).captcha {
            return Ok(Progress::Challenge {
                challenge: Challenge::Captcha {
                    image: b"GIF89a".to_vec(),
                    media_type: "image/gif".into(),
                    reloadable: true,
                },
                pending: Pending::retryable(Waiting(password.cloned().unwrap_or_default())),
            });
        }
        let mut outcome = LoginOutcome::new(fake_session(user));
        outcome
            .remember_options
            .insert("proxy".into(), "http://learnt.example:3128".into());
        Ok(Progress::Done(Box::new(outcome)))
    }
    async fn answer(
        &self,
        ctx: &Ctx<'_>,
        pending: Pending,
        answer: &SecretString,
    ) -> Result<Progress> {
        let user = &ctx.account.user;
        calls(user).answer.fetch_add(1, Ordering::SeqCst);
        let _waiting: Waiting = pending.into_inner()?;
        match answer.expose() {
            "right" => Ok(Progress::Done(Box::new(LoginOutcome::new(fake_session(
                user,
            ))))),
            "sms" => Ok(Progress::Challenge {
                challenge: Challenge::Code {
                    channel: CodeChannel::Sms,
                    destination: Some("138****0000".into()),
                },
                pending: Pending::new(()),
            }),
            _ => Err(Error::challenge_failed("wrong captcha")),
        }
    }
    async fn reload_captcha(&self, _ctx: &Ctx<'_>, pending: Pending) -> Result<Progress> {
        Ok(Progress::Challenge {
            challenge: Challenge::Captcha {
                image: b"GIF89a-2".to_vec(),
                media_type: "image/gif".into(),
                reloadable: true,
            },
            pending,
        })
    }
    async fn refresh(&self, ctx: &Ctx<'_>, _session: &Session) -> Result<RefreshOutcome> {
        let user = &ctx.account.user;
        calls(user).refresh.fetch_add(1, Ordering::SeqCst);
        let b = behavior(user);
        tokio::time::sleep(Duration::from_millis(b.refresh_delay_ms)).await;
        match b.refresh {
            Outcome::Ok => Ok(LoginOutcome::new(fake_session(user))),
            Outcome::Lost => Err(Error::needs_login("the refresh token was rejected")),
            Outcome::Down => Err(Error::server("fake.example answered 502")),
        }
    }
    async fn validate(&self, ctx: &Ctx<'_>, _session: &Session) -> Result<Validation> {
        let user = &ctx.account.user;
        calls(user).validate.fetch_add(1, Ordering::SeqCst);
        match behavior(user).validate {
            Outcome::Ok => Ok(Validation::Valid(Some(SessionInfo {
                display_name: Some("Validated".into()),
                ..Default::default()
            }))),
            Outcome::Lost => Ok(Validation::Invalid(NeedsLoginReason::Revoked)),
            Outcome::Down => Err(Error::network("fake.example: timed out")),
        }
    }
    async fn logout(&self, ctx: &Ctx<'_>, _session: &Session) -> Result<()> {
        calls(&ctx.account.user)
            .logout
            .fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn credential(&self, _account: &Account, session: &Session) -> Credential {
        match self.0.id.as_str() {
            "shopxo" => Credential::Query {
                name: "token".into(),
                value: session.tokens.access.clone(),
            },
            _ => Credential::Header {
                name: "X-Test-Token".into(),
                value: session.tokens.access.clone(),
            },
        }
    }
}

// ----- helpers -----

fn manager_at(dir: &Path, secrets: Secrets) -> Manager {
    let mut m =
        Manager::with_parts(&dir.join(store::DB_FILE), secrets, HttpConfig::default()).unwrap();
    m.services = fake_registry();
    m
}

fn manager() -> (tempfile::TempDir, Manager) {
    let dir = tempfile::tempdir().unwrap();
    let m = manager_at(dir.path(), Secrets::memory());
    (dir, m)
}

fn unique_user() -> String {
    format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

fn new_account(service: ServiceId, user: &str) -> NewAccount {
    NewAccount {
        name: None,
        service,
        user: user.to_owned(),
        endpoint: Some("https://fake.example/".into()),
        options: BTreeMap::new(),
        remember_password: false,
    }
}

async fn add(m: &Manager, service: ServiceId, user: &str, remember: bool) -> AccountView {
    m.add_account(NewAccount {
        remember_password: remember,
        ..new_account(service, user)
    })
    .await
    .unwrap()
}

async fn login(m: &Manager, name: &str, password: &str) -> AccountView {
    match m.begin_login(name, Some(password.into())).await.unwrap() {
        LoginStep::Done(view) => view,
        other => panic!("expected done, got {other:?}"),
    }
}

/// Stores a session for the account that expires `expires_in` from now (negative: expired).
async fn store_session(m: &Manager, name: &str, token: &str, lifetime: i64, expires_in: i64) {
    let account = m.get(name).await.unwrap().account;
    let now = Utc::now();
    let session = Session {
        tokens: SessionTokens {
            access: token.into(),
            refresh: Some("rt".into()),
            extra: BTreeMap::new(),
        },
        info: SessionInfo {
            obtained_at: Some(now + chrono::Duration::seconds(expires_in - lifetime)),
            expires_at: Some(now + chrono::Duration::seconds(expires_in)),
            ..Default::default()
        },
    };
    m.save_session(&account.id, &session).await.unwrap();
}

fn code(r: Result<impl std::fmt::Debug>) -> ErrorCode {
    r.unwrap_err().code
}

// ----- accounts -----

#[tokio::test]
async fn add_validates_options_against_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manager::with_parts(
        &dir.path().join("x.db"),
        Secrets::memory(),
        HttpConfig::default(),
    )
    .unwrap();
    let opts = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let ck = |pairs: &[(&str, &str)]| NewAccount {
        name: None,
        service: ServiceId::Coolkit,
        user: "ann@example.com".into(),
        endpoint: None,
        options: opts(pairs),
        remember_password: false,
    };
    let e = m
        .add_account(ck(&[
            ("appid", "id"),
            ("appsecret", "s"),
            ("colour", "red"),
        ]))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(
        e.message.contains("unknown option 'colour'") && e.message.contains("appid"),
        "{}",
        e.message
    );
    let e = m
        .add_account(ck(&[("appid", "id"), ("appsecret", "s"), ("api", "v3")]))
        .await
        .unwrap_err();
    assert!(
        e.message.contains("must be one of: v2, v1"),
        "{}",
        e.message
    );
    let e = m.add_account(ck(&[("appid", "id")])).await.unwrap_err();
    assert!(
        e.message.contains("needs option 'appsecret'"),
        "{}",
        e.message
    );
    let e = m
        .add_account(ck(&[("appid", " "), ("appsecret", "s")]))
        .await
        .unwrap_err();
    assert!(e.message.contains("'appid' needs a value"), "{}", e.message);
    let e = m
        .add_account(ck(&[
            ("appid", "id"),
            ("appsecret", "s"),
            ("proxy", "http://u:pw@proxy:1"),
        ]))
        .await;
    assert!(
        e.unwrap_err()
            .message
            .contains("must not contain a password")
    );

    let view = m
        .add_account(ck(&[("appid", "id"), ("appsecret", "app-secret-value")]))
        .await
        .unwrap();
    let a = &view.account;
    assert_eq!(a.name, "coolkit/ann@example.com");
    assert_eq!(
        a.endpoint, "https://{region}-apia.coolkit.cc",
        "CoolKit keeps its template"
    );
    assert!(a.active, "the first account of its endpoint is active");
    assert_eq!(view.state, State::SignedOut);
    // Defaults filled in; the secret option is not among the stored options.
    assert_eq!(a.option("api"), Some("v2"));
    assert_eq!(a.option("region"), Some("us"));
    assert_eq!(a.option("appid"), Some("id"));
    assert_eq!(a.option("appsecret"), None);
    let stored = m
        .secrets
        .get(&key_option(&a.id, "appsecret"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.expose(), "app-secret-value");

    // SiYuan has a default endpoint; self-hosted services need one.
    let sy = m
        .add_account(NewAccount {
            name: Some("notes".into()),
            service: ServiceId::Siyuan,
            user: "me".into(),
            endpoint: None,
            options: BTreeMap::new(),
            remember_password: false,
        })
        .await
        .unwrap();
    assert_eq!(sy.account.endpoint, "http://127.0.0.1:6806");
    let e = m
        .add_account(NewAccount {
            name: None,
            service: ServiceId::Sscms,
            user: "me".into(),
            endpoint: None,
            options: BTreeMap::new(),
            remember_password: false,
        })
        .await
        .unwrap_err();
    assert!(e.message.contains("needs an endpoint"), "{}", e.message);
}

#[test]
fn endpoints_are_normalized() {
    let sscms = services::service(ServiceId::Sscms);
    let coolkit = services::service(ServiceId::Coolkit);
    assert_eq!(
        normalize_endpoint(sscms, " HTTPS://CMS.Example.com/ ").unwrap(),
        "https://cms.example.com"
    );
    assert_eq!(
        normalize_endpoint(sscms, "http://127.0.0.1:8080/sub/").unwrap(),
        "http://127.0.0.1:8080/sub"
    );
    assert_eq!(
        normalize_endpoint(sscms, "https://x.example:443").unwrap(),
        "https://x.example"
    );
    // Without a scheme: http for this machine, https for any other.
    for (typed, stored) in [
        ("cms.example.com", "https://cms.example.com"),
        ("Shop.Example.com/api/", "https://shop.example.com/api"),
        ("localhost:8080", "http://localhost:8080"),
        ("127.0.0.1:9000/sub", "http://127.0.0.1:9000/sub"),
        ("[::1]:8080", "http://[::1]:8080"),
        ("192.168.1.5:8080", "https://192.168.1.5:8080"),
    ] {
        assert_eq!(normalize_endpoint(sscms, typed).unwrap(), stored, "{typed}");
    }
    for (bad, cause) in [
        ("", Some("empty")),
        ("ftp://x", Some("scheme")),
        ("https://u:p@x", Some("credentials")),
        ("https://x/?a=1", Some("query")),
        ("https://x/#f", Some("query")),
        ("https://{region}.x", None),
    ] {
        let e = normalize_endpoint(sscms, bad).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
        // A password typed into the URL is not echoed back.
        if bad.contains("u:p@") {
            let params = e
                .said
                .as_ref()
                .map(|s| format!("{:?}", s.params))
                .unwrap_or_default();
            assert!(
                !e.message.contains(":p@") && !params.contains(":p@"),
                "{} {params}",
                e.message
            );
            assert!(e.message.contains("u:***@x"), "{}", e.message);
        }
        // The reason as a code a window words in its language, where it has one.
        let said = e
            .said
            .as_ref()
            .map(|s| (s.code.as_str(), s.params["cause"].as_str()));
        assert_eq!(said, cause.map(|c| ("endpoint", c)), "{bad}");
    }
    assert_eq!(
        normalize_endpoint(coolkit, "https://{region}-apia.coolkit.cc/").unwrap(),
        "https://{region}-apia.coolkit.cc"
    );
    assert_eq!(
        normalize_endpoint(coolkit, "http://127.0.0.1:9000/{region}").unwrap(),
        "http://127.0.0.1:9000/{region}"
    );
    assert_eq!(
        normalize_endpoint(coolkit, "https://eu-apia.coolkit.cc").unwrap(),
        "https://eu-apia.coolkit.cc"
    );
}

#[tokio::test]
async fn the_add_draft_proposes_a_free_name_and_the_known_endpoints() {
    let (_d, m) = manager();
    let first = m
        .add_account(NewAccount {
            endpoint: Some("https://one.example".into()),
            ..new_account(ServiceId::Sscms, "alice")
        })
        .await
        .unwrap();
    assert_eq!(first.account.name, "sscms/alice");
    let draft = m
        .add_draft(ServiceId::Sscms, "alice", Some("two.example:8443"))
        .await
        .unwrap();
    assert_eq!(draft.endpoint.as_deref(), Some("https://two.example:8443"));
    assert_eq!(draft.name.as_deref(), Some("sscms/alice@two.example"));
    assert_eq!(
        draft.known_endpoints,
        vec!["https://one.example".to_owned()]
    );
    // The proposal is accepted as it is.
    let second = m
        .add_account(NewAccount {
            name: draft.name.clone(),
            endpoint: draft.endpoint.clone(),
            ..new_account(ServiceId::Sscms, "alice")
        })
        .await
        .unwrap();
    assert_eq!(second.account.name, "sscms/alice@two.example");
    // Taken too: a number.
    let third = m
        .add_draft(ServiceId::Sscms, "alice", Some("https://two.example:8443"))
        .await
        .unwrap();
    assert_eq!(third.name.as_deref(), Some("sscms/alice-2"));
    assert_eq!(third.known_endpoints.len(), 2);
    // A bad address says why, and a free user keeps the plain name.
    let bad = m
        .add_draft(ServiceId::Sscms, "bob", Some("ftp://x"))
        .await
        .unwrap();
    assert!(bad.endpoint.is_none());
    assert!(bad.endpoint_error.unwrap().contains("http"));
    assert_eq!(bad.name.as_deref(), Some("sscms/bob"));
}

#[tokio::test]
async fn names_users_and_duplicates() {
    let (_d, m) = manager();
    let e = m
        .add_account(NewAccount {
            name: Some("sscms".into()),
            ..new_account(ServiceId::Sscms, "a")
        })
        .await;
    assert!(e.unwrap_err().message.contains("is a service id"));
    assert_eq!(
        code(m.add_account(new_account(ServiceId::Sscms, " ")).await),
        ErrorCode::InvalidInput
    );
    m.add_account(new_account(ServiceId::Sscms, "a"))
        .await
        .unwrap();
    // Same login with another name, or the same name: refused.
    let e = m
        .add_account(NewAccount {
            name: Some("other".into()),
            ..new_account(ServiceId::Sscms, "a")
        })
        .await;
    assert_eq!(e.unwrap_err().code, ErrorCode::AlreadyExists);
    let e = m
        .add_account(NewAccount {
            endpoint: Some("https://fake.example".into()),
            ..new_account(ServiceId::Sscms, "a")
        })
        .await;
    assert_eq!(
        e.unwrap_err().code,
        ErrorCode::AlreadyExists,
        "the trailing slash does not make another endpoint"
    );
    let b = m
        .add_account(new_account(ServiceId::Sscms, "b"))
        .await
        .unwrap();
    assert!(!b.account.active);
    assert_eq!(code(m.get("nope").await), ErrorCode::NotFound);
}

#[tokio::test]
async fn edit_changes_fields_and_forgets_sessions_of_another_login() {
    let (_d, m) = manager();
    let user = unique_user();
    add(&m, ServiceId::Sscms, &user, true).await;
    let name = format!("sscms/{user}");
    login(&m, &name, "pw").await;
    let id = m.get(&name).await.unwrap().account.id;
    assert!(m.secrets.get(&key_password(&id)).await.unwrap().is_some());

    let mut events = m.subscribe();
    let edit = AccountEdit {
        name: Some("work".into()),
        ..Default::default()
    };
    let view = m.edit_account(&name, edit).await.unwrap();
    assert_eq!(view.account.name, "work");
    assert_eq!(view.state, State::Valid, "a rename keeps the session");
    let mut renamed = false;
    while let Ok(e) = events.try_recv() {
        renamed |= matches!(e, Event::AccountRenamed { ref from, ref to } if *from == name && to == "work");
    }
    assert!(renamed);

    let opts = BTreeMap::from([("proxy".to_owned(), Some("http://p.example:1".to_owned()))]);
    let view = m
        .edit_account(
            "work",
            AccountEdit {
                options: opts,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(view.account.option("proxy"), Some("http://p.example:1"));
    let opts = BTreeMap::from([("proxy".to_owned(), None)]);
    let view = m
        .edit_account(
            "work",
            AccountEdit {
                options: opts,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(view.account.option("proxy"), None);
    let opts = BTreeMap::from([("nope".to_owned(), None)]);
    assert_eq!(
        code(
            m.edit_account(
                "work",
                AccountEdit {
                    options: opts,
                    ..Default::default()
                }
            )
            .await
        ),
        ErrorCode::InvalidInput
    );

    // Another endpoint: the session and the password are for the old server.
    let edit = AccountEdit {
        endpoint: Some("https://elsewhere.example".into()),
        ..Default::default()
    };
    let view = m.edit_account("work", edit).await.unwrap();
    assert_eq!(view.state, State::SignedOut);
    assert!(view.session.is_none());
    assert!(m.secrets.get(&key_session(&id)).await.unwrap().is_none());
    assert!(m.secrets.get(&key_password(&id)).await.unwrap().is_none());
    assert!(view.account.remember_password, "the setting stays");
}

#[tokio::test]
async fn required_secret_options_cannot_be_unset_and_secret_edits_go_to_the_store() {
    let (_d, m) = manager();
    let opts = BTreeMap::from([
        ("appid".to_owned(), "id".to_owned()),
        ("appsecret".to_owned(), "s1".to_owned()),
    ]);
    let v = m
        .add_account(NewAccount {
            options: opts,
            ..new_account(ServiceId::Coolkit, "c@example.com")
        })
        .await
        .unwrap();
    let id = v.account.id.clone();
    let unset = BTreeMap::from([("appsecret".to_owned(), None)]);
    let e = m
        .edit_account(
            &v.account.name,
            AccountEdit {
                options: unset,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(e.message.contains("cannot be unset"), "{}", e.message);
    let set = BTreeMap::from([("appsecret".to_owned(), Some("s2".to_owned()))]);
    let v = m
        .edit_account(
            &v.account.name,
            AccountEdit {
                options: set,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(v.account.option("appsecret"), None);
    assert_eq!(
        m.secrets
            .get(&key_option(&id, "appsecret"))
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "s2"
    );
    // Unsetting an option with a default restores it.
    let set = BTreeMap::from([("region".to_owned(), Some("eu".to_owned()))]);
    let v = m
        .edit_account(
            &v.account.name,
            AccountEdit {
                options: set,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(v.account.option("region"), Some("eu"));
    let unset = BTreeMap::from([("region".to_owned(), None)]);
    let v = m
        .edit_account(
            &v.account.name,
            AccountEdit {
                options: unset,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(v.account.option("region"), Some("us"));
}

#[tokio::test]
async fn remove_deletes_every_secret_and_promotes_another_account() {
    let (_d, m) = manager();
    let opts = BTreeMap::from([
        ("appid".to_owned(), "id".to_owned()),
        ("appsecret".to_owned(), "s".to_owned()),
    ]);
    let a = m
        .add_account(NewAccount {
            options: opts.clone(),
            remember_password: true,
            ..new_account(ServiceId::Coolkit, "a")
        })
        .await
        .unwrap();
    let b = m
        .add_account(NewAccount {
            options: opts,
            ..new_account(ServiceId::Coolkit, "b")
        })
        .await
        .unwrap();
    let id = a.account.id.clone();
    m.secrets
        .set(&key_password(&id), &"pw".into())
        .await
        .unwrap();
    m.save_session(&id, &fake_session("a")).await.unwrap();
    m.remove_account(&a.account.name).await.unwrap();
    for key in [
        key_password(&id),
        key_session(&id),
        key_option(&id, "appsecret"),
    ] {
        assert!(m.secrets.get(&key).await.unwrap().is_none(), "{key}");
    }
    assert_eq!(code(m.get(&a.account.name).await), ErrorCode::NotFound);
    assert!(m.get(&b.account.name).await.unwrap().account.active);
    assert_eq!(
        code(m.remove_account(&a.account.name).await),
        ErrorCode::NotFound
    );
    // Its history stays readable.
    let events = m.events(None, 50).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "remove"
                && e.account_name.as_deref() == Some(a.account.name.as_str()))
    );
}

#[tokio::test]
async fn resolve_by_name_or_by_service() {
    let (_d, m) = manager();
    assert!(
        m.resolve("sscms")
            .await
            .unwrap_err()
            .message
            .contains("there is no sscms account")
    );
    add(&m, ServiceId::Sscms, "a", false).await;
    add(&m, ServiceId::Sscms, "b", false).await;
    assert_eq!(m.resolve("sscms").await.unwrap().account.name, "sscms/a");
    assert_eq!(m.resolve("sscms/b").await.unwrap().account.name, "sscms/b");
    m.set_active("sscms/b").await.unwrap();
    assert_eq!(m.resolve("sscms").await.unwrap().account.name, "sscms/b");
    assert!(!m.get("sscms/a").await.unwrap().account.active);
    // A second endpoint's account is active there, but the service id keeps standing for the
    // account chosen last, until another is chosen (docs/architecture.md, CLI contract).
    let other = m
        .add_account(NewAccount {
            name: Some("other".into()),
            endpoint: Some("https://two.example".into()),
            ..new_account(ServiceId::Sscms, "a")
        })
        .await
        .unwrap();
    assert!(other.account.active && !other.default_for_service);
    assert_eq!(m.resolve("sscms").await.unwrap().account.name, "sscms/b");
    assert!(m.get("sscms/b").await.unwrap().default_for_service);
    m.set_active("other").await.unwrap();
    assert_eq!(m.resolve("sscms").await.unwrap().account.name, "other");
    assert!(m.get("sscms/b").await.unwrap().account.active);
    assert!(!m.get("sscms/b").await.unwrap().default_for_service);
    m.set_active("sscms/b").await.unwrap();
    assert_eq!(m.resolve("sscms").await.unwrap().account.name, "sscms/b");
    assert_eq!(code(m.resolve("nothing").await), ErrorCode::NotFound);
    let names: Vec<_> = m
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.account.name)
        .collect();
    assert_eq!(names, ["sscms/a", "sscms/b", "other"]);
}

// ----- login flows -----

#[tokio::test]
async fn login_persists_the_session_password_and_learnt_options() {
    let (_d, m) = manager();
    let user = unique_user();
    add(&m, ServiceId::Sscms, &user, true).await;
    let name = format!("sscms/{user}");
    let mut events = m.subscribe();
    let view = login(&m, &name, "secret-pw").await;
    assert_eq!(view.state, State::Valid);
    assert_eq!(
        view.session.as_ref().unwrap().display_name.as_deref(),
        Some(format!("User {user}").as_str())
    );
    assert_eq!(
        view.account.option("proxy"),
        Some("http://learnt.example:3128"),
        "remember_options kept"
    );
    let id = view.account.id.clone();
    assert_eq!(
        m.secrets
            .get(&key_password(&id))
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "secret-pw"
    );
    let session = m.session(&name).await.unwrap().unwrap();
    assert_eq!(session.tokens.access.expose(), format!("tok-{user}-1"));
    assert_eq!(
        session.tokens.refresh.as_ref().unwrap().expose(),
        format!("rt-{user}-1")
    );
    let log = m.events(Some(&name), 10).await.unwrap();
    assert!(
        log.iter().any(|e| e.kind == "login" && e.outcome == "ok"),
        "{log:?}"
    );
    assert!(
        log.iter()
            .all(|e| !e.message.contains("secret-pw") && !e.message.contains("tok-"))
    );
    let mut changed = false;
    while let Ok(e) = events.try_recv() {
        changed |= matches!(e, Event::AccountChanged { ref account } if *account == name);
    }
    assert!(changed);

    // A rejected password is an error, logged, and the old session stays.
    let e = m
        .begin_login(&name, Some("wrong".into()))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::CredentialsRejected);
    assert_eq!(m.get(&name).await.unwrap().state, State::Valid);
    let log = m.events(Some(&name), 1).await.unwrap();
    assert_eq!(
        (log[0].kind.as_str(), log[0].outcome.as_str()),
        ("login", "failed")
    );
}

#[tokio::test]
async fn without_remember_password_nothing_is_kept() {
    let (_d, m) = manager();
    let user = unique_user();
    let v = add(&m, ServiceId::Sscms, &user, false).await;
    login(&m, &v.account.name, "pw").await;
    assert!(
        m.secrets
            .get(&key_password(&v.account.id))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn captcha_flow_retries_reloads_and_finishes() {
    let (_d, m) = manager();
    let user = unique_user();
    set_behavior(&user, |b| b.captcha = true);
    let v = add(&m, ServiceId::Sscms, &user, true).await;
    let name = v.account.name.clone();
    let LoginStep::Challenge { flow, challenge } =
        m.begin_login(&name, Some("pw".into())).await.unwrap()
    else {
        panic!("expected a challenge")
    };
    assert!(matches!(challenge, Challenge::Captcha { .. }));
    assert_eq!(m.get(&name).await.unwrap().state, State::AwaitingChallenge);
    let json = serde_json::to_value(LoginStep::Challenge {
        flow: flow.clone(),
        challenge,
    })
    .unwrap();
    assert_eq!(json["step"], "challenge");
    assert_eq!(json["challenge"]["kind"], "captcha");
    assert_eq!(json["image"], "data:image/gif;base64,R0lGODlh");

    // A wrong answer keeps the flow (the fake's pending state is retryable).
    assert_eq!(
        code(m.answer_login(&flow, "nope".into()).await),
        ErrorCode::ChallengeFailed
    );
    let LoginStep::Challenge {
        flow: same,
        challenge,
    } = m.reload_captcha(&flow).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(same, flow);
    assert!(matches!(challenge, Challenge::Captcha { ref image, .. } if image == b"GIF89a-2"));
    // A new image is not another request for verification: the log says it once.
    let asked = m
        .events(Some(&name), 50)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.outcome == "challenge")
        .count();
    assert_eq!(
        asked, 1,
        "one 'asked for verification' for one captcha step"
    );
    let LoginStep::Done(view) = m.answer_login(&flow, "right".into()).await.unwrap() else {
        panic!()
    };
    assert_eq!(view.state, State::Valid);
    assert_eq!(
        m.secrets
            .get(&key_password(&view.account.id))
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "pw"
    );
    assert_eq!(
        code(m.answer_login(&flow, "right".into()).await),
        ErrorCode::NotFound,
        "the flow is over"
    );
}

#[tokio::test]
async fn code_steps_and_cancel() {
    let (_d, m) = manager();
    let user = unique_user();
    set_behavior(&user, |b| b.captcha = true);
    let v = add(&m, ServiceId::Sscms, &user, false).await;
    let LoginStep::Challenge { flow, .. } = m
        .begin_login(&v.account.name, Some("pw".into()))
        .await
        .unwrap()
    else {
        panic!()
    };
    let LoginStep::Challenge {
        flow: next,
        challenge,
    } = m.answer_login(&flow, "sms".into()).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(next, flow);
    assert!(matches!(
        challenge,
        Challenge::Code {
            channel: CodeChannel::Sms,
            ..
        }
    ));
    assert_eq!(
        code(m.reload_captcha(&flow).await),
        ErrorCode::InvalidInput,
        "a code step has no captcha"
    );
    m.cancel_login(&flow);
    assert_eq!(
        m.get(&v.account.name).await.unwrap().state,
        State::SignedOut
    );
    assert_eq!(
        code(m.answer_login(&flow, "right".into()).await),
        ErrorCode::NotFound
    );
    m.cancel_login(&"unknown".to_owned());
    // A new login supersedes a waiting one.
    let LoginStep::Challenge { flow: first, .. } = m
        .begin_login(&v.account.name, Some("pw".into()))
        .await
        .unwrap()
    else {
        panic!()
    };
    let LoginStep::Challenge { .. } = m
        .begin_login(&v.account.name, Some("pw".into()))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        code(m.answer_login(&first, "right".into()).await),
        ErrorCode::NotFound
    );
}

// ----- tokens -----

#[tokio::test]
async fn token_in_every_format() {
    let (_d, m) = manager();
    add(&m, ServiceId::Steedos, "ann", false).await;
    store_session(&m, "steedos/ann", "tok-123", 3600, 3000).await;
    assert_eq!(
        m.token("steedos/ann", TokenFormat::Raw).await.unwrap(),
        "tok-123"
    );
    assert_eq!(
        m.token("steedos", TokenFormat::Header).await.unwrap(),
        "X-Test-Token: tok-123"
    );
    let json: serde_json::Value =
        serde_json::from_str(&m.token("steedos", TokenFormat::Json).await.unwrap()).unwrap();
    assert_eq!(json["account"], "steedos/ann");
    assert_eq!(json["service"], "steedos");
    assert_eq!(json["token"], "tok-123");
    assert_eq!(
        json["header"],
        serde_json::json!({"name": "X-Test-Token", "value": "tok-123"})
    );
    assert_eq!(json["query"], serde_json::Value::Null);
    assert!(json["expires_at"].as_str().unwrap().ends_with('Z'));
    let env = m.token("steedos", TokenFormat::Env).await.unwrap();
    assert!(env.lines().any(|l| l == "LANYARD_TOKEN=tok-123"), "{env}");
    assert!(
        env.lines()
            .any(|l| l == "LANYARD_TOKEN_HEADER='X-Test-Token: tok-123'"),
        "{env}"
    );

    add(&m, ServiceId::Shopxo, "bob", false).await;
    store_session(&m, "shopxo/bob", "f00d", 3600, 3000).await;
    let e = m.token("shopxo", TokenFormat::Header).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(
        e.message.contains("query parameter `token`"),
        "{}",
        e.message
    );
    let json: serde_json::Value =
        serde_json::from_str(&m.token("shopxo", TokenFormat::Json).await.unwrap()).unwrap();
    assert_eq!(json["header"], serde_json::Value::Null);
    assert_eq!(
        json["query"],
        serde_json::json!({"name": "token", "value": "f00d"})
    );

    add(&m, ServiceId::Steedos, "never", false).await;
    let e = m
        .token("steedos/never", TokenFormat::Raw)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NeedsLogin);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_the_rotated_one_persisted_first() {
    let (_d, m) = manager();
    let user = unique_user();
    let v = add(&m, ServiceId::Sscms, &user, false).await;
    store_session(&m, &v.account.name, "old", 3600, -10).await;
    assert_eq!(
        m.get(&v.account.name).await.unwrap().state,
        State::Expiring,
        "renewable on next use"
    );
    let token = m.token(&v.account.name, TokenFormat::Raw).await.unwrap();
    assert_eq!(token, format!("tok-{user}-1"));
    assert_eq!(count(&calls(&user).refresh), 1);
    // What was handed out is what is stored.
    assert_eq!(
        m.session(&v.account.name)
            .await
            .unwrap()
            .unwrap()
            .tokens
            .access
            .expose(),
        token
    );
    let view = m.get(&v.account.name).await.unwrap();
    assert_eq!(view.state, State::Valid);
    assert!(view.last_refresh_at.is_some());
    // A fresh token is not refreshed again.
    m.token(&v.account.name, TokenFormat::Raw).await.unwrap();
    assert_eq!(count(&calls(&user).refresh), 1);
    let log = m.events(Some(&v.account.name), 5).await.unwrap();
    assert!(log.iter().any(|e| e.kind == "refresh" && e.outcome == "ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_token_calls_refresh_once() {
    let (_d, m) = manager();
    let m = Arc::new(m);
    let user = unique_user();
    set_behavior(&user, |b| b.refresh_delay_ms = 300);
    let v = add(&m, ServiceId::Sscms, &user, false).await;
    store_session(&m, &v.account.name, "old", 3600, -10).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (m, name) = (m.clone(), v.account.name.clone());
            tokio::spawn(async move { m.token(&name, TokenFormat::Raw).await.unwrap() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), format!("tok-{user}-1"));
    }
    assert_eq!(count(&calls(&user).refresh), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_managers_on_one_data_dir_refresh_once() {
    // Two façades over the same file and secret store stand in for the app and the CLI: they
    // share nothing in memory, only the database lease.
    let dir = tempfile::tempdir().unwrap();
    let secrets = Secrets::memory();
    let a = Arc::new(manager_at(dir.path(), secrets.clone()));
    let b = Arc::new(manager_at(dir.path(), secrets));
    let user = unique_user();
    set_behavior(&user, |x| x.refresh_delay_ms = 300);
    let v = add(&a, ServiceId::Sscms, &user, false).await;
    store_session(&a, &v.account.name, "old", 3600, -10).await;
    let tasks: Vec<_> = [a.clone(), b.clone(), a, b]
        .into_iter()
        .map(|m| {
            let name = v.account.name.clone();
            tokio::spawn(async move { m.token(&name, TokenFormat::Raw).await.unwrap() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), format!("tok-{user}-1"));
    }
    assert_eq!(count(&calls(&user).refresh), 1);
}

#[tokio::test]
async fn a_lost_refresh_token_means_needs_login_unless_a_password_is_remembered() {
    let (_d, m) = manager();
    let user = unique_user();
    set_behavior(&user, |b| b.refresh = Outcome::Lost);
    let v = add(&m, ServiceId::Sscms, &user, false).await;
    store_session(&m, &v.account.name, "old", 3600, -10).await;
    let e = m
        .token(&v.account.name, TokenFormat::Raw)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NeedsLogin);
    assert_eq!(
        m.get(&v.account.name).await.unwrap().state,
        State::NeedsLogin {
            reason: NeedsLoginReason::RefreshTokenExpired
        }
    );
    // Now it stops asking the server.
    assert_eq!(
        code(m.token(&v.account.name, TokenFormat::Raw).await),
        ErrorCode::NeedsLogin
    );
    assert_eq!(count(&calls(&user).refresh), 1);

    // With a remembered password, a silent re-login saves the day.
    let user = unique_user();
    set_behavior(&user, |b| b.refresh = Outcome::Lost);
    let v = add(&m, ServiceId::Sscms, &user, true).await;
    login(&m, &v.account.name, "pw").await;
    store_session(&m, &v.account.name, "old", 3600, -10).await;
    let token = m.token(&v.account.name, TokenFormat::Raw).await.unwrap();
    assert_eq!(token, format!("tok-{user}-2"));
    assert_eq!(count(&calls(&user).login), 2);
    let log = m.events(Some(&v.account.name), 10).await.unwrap();
    assert!(
        log.iter().any(|e| e.kind == "relogin" && e.outcome == "ok"),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|e| e.kind == "refresh" && e.outcome == "failed"),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_changed_password_is_reported() {
    let (_d, m) = manager();
    let user = unique_user();
    let v = add(&m, ServiceId::Steedos, &user, true).await;
    m.secrets
        .set(&key_password(&v.account.id), &"wrong".into())
        .await
        .unwrap();
    store_session(&m, &v.account.name, "old", 3600, -10).await;
    assert_eq!(
        code(m.token(&v.account.name, TokenFormat::Raw).await),
        ErrorCode::NeedsLogin
    );
    assert_eq!(
        m.get(&v.account.name).await.unwrap().state,
        State::NeedsLogin {
            reason: NeedsLoginReason::PasswordChanged
        }
    );
}

#[tokio::test]
async fn transient_failures_retry_and_a_still_valid_token_is_handed_out() {
    let (_d, m) = manager();
    let user = unique_user();
    set_behavior(&user, |b| b.refresh = Outcome::Down);
    let v = add(&m, ServiceId::Sscms, &user, false).await;
    // Inside the refresh margin, not yet expired.
    store_session(&m, &v.account.name, "still-good", 3600, 60).await;
    assert_eq!(
        m.token(&v.account.name, TokenFormat::Raw).await.unwrap(),
        "still-good"
    );
    let view = m.get(&v.account.name).await.unwrap();
    let State::Retrying {
        attempts,
        last_error,
        next_attempt,
    } = view.state
    else {
        panic!("{:?}", view.state)
    };
    assert_eq!(attempts, 1);
    assert!(last_error.error_line().contains("502"));
    assert_eq!(last_error.code, "error");
    assert_eq!(last_error.params["error"], "server_error");
    assert!(next_attempt > Utc::now());
    // Expired: the failure is the answer.
    store_session(&m, &v.account.name, "old", 3600, -10).await;
    let e = m
        .token(&v.account.name, TokenFormat::Raw)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ServerError);
    assert_eq!(
        code(m.refresh(&v.account.name, true).await),
        ErrorCode::ServerError
    );
    let log = m.events(Some(&v.account.name), 10).await.unwrap();
    assert!(log.iter().filter(|e| e.outcome == "retrying").count() >= 2);
}

#[tokio::test]
async fn validate_only_services_are_checked_on_refresh() {
    let (_d, m) = manager();
    let user = unique_user();
    let v = add(&m, ServiceId::Shopxo, &user, false).await;
    let name = v.account.name.clone();
    let account = m.get(&name).await.unwrap().account;
    let session = Session {
        tokens: SessionTokens {
            access: "qt".into(),
            ..Default::default()
        },
        info: SessionInfo::default(),
    };
    m.save_session(&account.id, &session).await.unwrap();
    assert_eq!(
        m.get(&name).await.unwrap().state,
        State::Valid,
        "no expiry: valid until the server says otherwise"
    );
    // No expiry: token() hands it out without asking.
    assert_eq!(m.token(&name, TokenFormat::Raw).await.unwrap(), "qt");
    assert_eq!(count(&calls(&user).validate), 0);
    let view = m.refresh(&name, false).await.unwrap();
    assert_eq!(count(&calls(&user).validate), 1);
    assert_eq!(
        view.session.unwrap().display_name.as_deref(),
        Some("Validated")
    );
    assert!(view.last_refresh_at.is_some());
    set_behavior(&user, |b| b.validate = Outcome::Lost);
    assert_eq!(code(m.refresh(&name, false).await), ErrorCode::NeedsLogin);
    assert_eq!(
        m.get(&name).await.unwrap().state,
        State::NeedsLogin {
            reason: NeedsLoginReason::Revoked
        }
    );
}

#[tokio::test]
async fn refresh_without_force_skips_a_fresh_session() {
    let (_d, m) = manager();
    let user = unique_user();
    let v = add(&m, ServiceId::Sscms, &user, false).await;
    store_session(&m, &v.account.name, "fresh", 3600, 3500).await;
    m.refresh(&v.account.name, false).await.unwrap();
    assert_eq!(count(&calls(&user).refresh), 0);
    let (view, done) = m.refresh_report(&v.account.name, true).await.unwrap();
    assert_eq!(done, RefreshDone::Renewed);
    assert_eq!(count(&calls(&user).refresh), 1);
    assert_eq!(view.state, State::Valid);
    assert_eq!(
        m.session(&v.account.name)
            .await
            .unwrap()
            .unwrap()
            .tokens
            .access
            .expose(),
        format!("tok-{user}-1")
    );
    add(&m, ServiceId::Sscms, "nobody", false).await;
    assert_eq!(
        code(m.refresh("sscms/nobody", true).await),
        ErrorCode::NeedsLogin
    );
}

#[tokio::test]
async fn a_forced_refresh_says_what_it_did() {
    let (_d, m) = manager();
    // No refresh call, a remembered password: a silent login.
    let user = unique_user();
    let plain = add(&m, ServiceId::Steedos, &user, true).await;
    login(&m, &plain.account.name, "pw").await;
    let (_, done) = m.refresh_report(&plain.account.name, true).await.unwrap();
    assert_eq!(done, RefreshDone::Relogged);
    // No refresh call, no password: the server is asked whether the token still works.
    let other = unique_user();
    let query = add(&m, ServiceId::Shopxo, &other, false).await;
    login(&m, &query.account.name, "pw").await;
    let (_, done) = m.refresh_report(&query.account.name, true).await.unwrap();
    assert_eq!(done, RefreshDone::Checked);
    assert_eq!(count(&calls(&other).validate), 1);
}

#[tokio::test]
async fn logout_tells_the_server_and_forgets_the_session() {
    let (_d, m) = manager();
    let user = unique_user();
    let v = add(&m, ServiceId::Sscms, &user, true).await;
    login(&m, &v.account.name, "pw").await;
    assert_eq!(
        m.logout(&v.account.name).await.unwrap(),
        LogoutOutcome::EndedOnServer
    );
    assert_eq!(count(&calls(&user).logout), 1);
    let logged = m.events(Some(&v.account.name), 1).await.unwrap();
    assert_eq!(logged[0].outcome, "ended_on_server");
    let view = m.get(&v.account.name).await.unwrap();
    assert_eq!(view.state, State::SignedOut);
    assert!(view.session.is_none());
    assert!(m.session(&v.account.name).await.unwrap().is_none());
    assert!(
        m.secrets
            .get(&key_session(&v.account.id))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        code(m.token(&v.account.name, TokenFormat::Raw).await),
        ErrorCode::NeedsLogin
    );
    // Logging out twice is fine; the server is not asked without a session.
    assert_eq!(
        m.logout(&v.account.name).await.unwrap(),
        LogoutOutcome::NoSession
    );
    assert_eq!(count(&calls(&user).logout), 1);
}

#[tokio::test]
async fn without_a_logout_call_the_session_is_only_forgotten_here_and_removal_ends_it_where_it_can()
{
    let (_d, m) = manager();
    // ShopXO's spec has no logout call: the server is not asked, and the outcome says so.
    let user = unique_user();
    let shop = add(&m, ServiceId::Shopxo, &user, true).await;
    login(&m, &shop.account.name, "pw").await;
    assert_eq!(
        m.logout(&shop.account.name).await.unwrap(),
        LogoutOutcome::ForgottenHere
    );
    assert_eq!(count(&calls(&user).logout), 0);
    let logged = m.events(Some(&shop.account.name), 1).await.unwrap();
    assert_eq!(logged[0].outcome, "forgotten_here");
    assert!(logged[0].message.contains("stays valid on the server"));
    // Removing a signed-in SiteServer account ends its session on the server first.
    let other = unique_user();
    let cms = add(&m, ServiceId::Sscms, &other, true).await;
    login(&m, &cms.account.name, "pw").await;
    assert_eq!(
        m.remove_account(&cms.account.name).await.unwrap(),
        LogoutOutcome::EndedOnServer
    );
    assert_eq!(count(&calls(&other).logout), 1);
}

// ----- state -----

#[test]
fn states_follow_the_clock() {
    let now = Utc::now();
    let row = |state: StoredState, obtained: i64, expires: Option<i64>| SessionRow {
        info: Some(SessionInfo {
            obtained_at: Some(now + chrono::Duration::seconds(obtained)),
            expires_at: expires.map(|e| now + chrono::Duration::seconds(e)),
            ..Default::default()
        }),
        state,
        last_refresh_at: None,
        generation: 1,
        lease_until: None,
    };
    let plain = caps(false, true);
    let refresh = caps(true, true);
    let st =
        |r: &SessionRow, c, remember, window| compute_state(r, c, remember, false, window, now);
    // 1 h session: warning window 6 min.
    assert_eq!(
        st(
            &row(StoredState::Valid, -60, Some(3540)),
            plain,
            false,
            None
        ),
        State::Valid
    );
    assert_eq!(
        st(
            &row(StoredState::Valid, -3300, Some(300)),
            plain,
            false,
            None
        ),
        State::Expiring
    );
    // The setting overrides the window.
    assert_eq!(
        st(
            &row(StoredState::Valid, -3300, Some(300)),
            plain,
            false,
            Some(60)
        ),
        State::Valid
    );
    assert_eq!(
        st(
            &row(StoredState::Valid, -60, Some(3540)),
            plain,
            false,
            Some(7200)
        ),
        State::Expiring
    );
    // A 30-day session warns a day ahead at most.
    let month = 30 * 86400;
    assert_eq!(
        st(
            &row(StoredState::Valid, -(month - 2 * 86400), Some(2 * 86400)),
            plain,
            false,
            None
        ),
        State::Valid
    );
    assert_eq!(
        st(
            &row(StoredState::Valid, -(month - 3600), Some(3600)),
            plain,
            false,
            None
        ),
        State::Expiring
    );
    // Expired: renewable or not.
    let expired = row(StoredState::Valid, -3700, Some(-100));
    assert_eq!(st(&expired, refresh, false, None), State::Expiring);
    assert_eq!(st(&expired, plain, true, None), State::Expiring);
    assert_eq!(
        st(&expired, plain, false, None),
        State::NeedsLogin {
            reason: NeedsLoginReason::Expired
        }
    );
    let mut rt_gone = expired.clone();
    rt_gone.info.as_mut().unwrap().refresh_expires_at = Some(now - chrono::Duration::seconds(1));
    assert_eq!(
        st(&rt_gone, refresh, false, None),
        State::NeedsLogin {
            reason: NeedsLoginReason::RefreshTokenExpired
        }
    );
    // No expiry.
    assert_eq!(
        st(&row(StoredState::Valid, -60, None), plain, false, None),
        State::Valid
    );
    // Stored states win; a live lease shows as refreshing; a waiting flow as awaiting.
    let lost = row(
        StoredState::NeedsLogin(NeedsLoginReason::LoggedInElsewhere),
        -60,
        Some(3540),
    );
    assert_eq!(
        st(&lost, plain, false, None),
        State::NeedsLogin {
            reason: NeedsLoginReason::LoggedInElsewhere
        }
    );
    let mut leased = row(StoredState::Valid, -60, Some(3540));
    leased.lease_until = Some(now + chrono::Duration::seconds(5));
    assert_eq!(st(&leased, plain, false, None), State::Refreshing);
    assert_eq!(
        compute_state(&leased, plain, false, true, None, now),
        State::AwaitingChallenge
    );
    let out = SessionRow {
        info: None,
        state: StoredState::SignedOut,
        last_refresh_at: None,
        generation: 0,
        lease_until: None,
    };
    assert_eq!(st(&out, plain, false, None), State::SignedOut);
}

#[tokio::test]
async fn the_warning_window_setting_is_read_from_the_store() {
    let (_d, m) = manager();
    add(&m, ServiceId::Steedos, "ann", false).await;
    store_session(&m, "steedos/ann", "t", 3600, 3000).await;
    assert_eq!(m.get("steedos/ann").await.unwrap().state, State::Valid);
    m.store
        .set_setting(WARNING_WINDOW_SETTING, Some("3500"))
        .unwrap();
    assert_eq!(m.get("steedos/ann").await.unwrap().state, State::Expiring);
}

// ----- the façade's shape -----

#[test]
fn manager_and_its_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Manager>();
    send_sync::<Event>();
    let (_d, m) = manager();
    send(&m.token("x", TokenFormat::Raw));
    send(&m.begin_login("x", None));
    send(&m.answer_login(&String::new(), "a".into()));
    send(&m.refresh("x", true));
    send(&m.logout("x"));
    send(&m.add_account(new_account(ServiceId::Sscms, "x")));
    send(&m.edit_account("x", AccountEdit::default()));
}

#[test]
fn debug_output_hides_secret_options() {
    let new = NewAccount {
        options: BTreeMap::from([("appsecret".to_owned(), "hush".to_owned())]),
        ..new_account(ServiceId::Coolkit, "x")
    };
    assert!(!format!("{new:?}").contains("hush"));
    let edit = AccountEdit {
        options: BTreeMap::from([("appsecret".to_owned(), Some("hush".to_owned()))]),
        ..Default::default()
    };
    assert!(!format!("{edit:?}").contains("hush"));
    let config = Config {
        passphrase: Some("hush".into()),
        ..Default::default()
    };
    assert!(!format!("{config:?}").contains("hush"));
}

#[tokio::test]
async fn open_creates_the_data_dir_and_survives_an_unusable_secret_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/lanyard");
    let config = Config {
        data_dir: Some(data.clone()),
        secret_store: Some(SecretStoreKind::File),
        passphrase: None,
        http: HttpConfig::default(),
    };
    let m = Manager::open(config).await.unwrap();
    assert_eq!(m.data_dir(), data);
    assert!(data.join(store::DB_FILE).is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    // Listing works without secrets; a secret access says what to do.
    assert!(m.list().await.unwrap().is_empty());
    let health = m.secret_store_health().await;
    assert!(!health.ok);
    assert!(
        health.message.contains("LANYARD_PASSPHRASE"),
        "{}",
        health.message
    );
    let opts = BTreeMap::from([
        ("appid".to_owned(), "id".to_owned()),
        ("appsecret".to_owned(), "s".to_owned()),
    ]);
    let e = m
        .add_account(NewAccount {
            options: opts,
            ..new_account(ServiceId::Coolkit, "x")
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::SecretStore);
    assert!(
        m.list().await.unwrap().is_empty(),
        "no account without its secrets"
    );
}

// ----- options checked when given (issue 11, item 12) -----

#[tokio::test]
async fn url_options_take_only_http_urls_at_add_and_at_edit() {
    let (_d, m) = manager();
    let with_proxy = |proxy: &str| NewAccount {
        options: BTreeMap::from([("proxy".to_owned(), proxy.to_owned())]),
        ..new_account(ServiceId::Sscms, "p")
    };
    for bad in [
        "file:///etc/passwd",
        "ftp://proxy.example:21",
        "socks5://proxy.example:1080",
        "garbage",
        "http://",
    ] {
        let e = m.add_account(with_proxy(bad)).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
        assert!(e.message.contains("option 'proxy'"), "{bad}: {}", e.message);
        assert!(
            e.message.contains("http:// or https://"),
            "{bad}: {}",
            e.message
        );
    }
    assert!(m.list().await.unwrap().is_empty(), "nothing was added");
    let view = m
        .add_account(with_proxy("http://proxy.example:3128/"))
        .await
        .unwrap();
    assert_eq!(
        view.account.option("proxy"),
        Some("http://proxy.example:3128")
    );
    let edit = |proxy: &str| AccountEdit {
        name: None,
        user: None,
        endpoint: None,
        options: BTreeMap::from([("proxy".to_owned(), Some(proxy.to_owned()))]),
        remember_password: None,
    };
    let e = m
        .edit_account(&view.account.name, edit("file:///x"))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.contains("option 'proxy'"), "{}", e.message);
    let kept = m.get(&view.account.name).await.unwrap();
    assert_eq!(
        kept.account.option("proxy"),
        Some("http://proxy.example:3128"),
        "a refused edit changes nothing"
    );
}

#[tokio::test]
async fn undo_add_leaves_no_row_secret_or_event() {
    let (_d, m) = manager();
    let view = m
        .add_account(NewAccount {
            options: BTreeMap::from([
                ("appid".to_owned(), "id".to_owned()),
                ("appsecret".to_owned(), "s".to_owned()),
            ]),
            remember_password: true,
            ..new_account(ServiceId::Coolkit, "undo")
        })
        .await
        .unwrap();
    let id = view.account.id.clone();
    let secret_key = key_option(&id, "appsecret");
    assert!(m.secrets.get(&secret_key).await.unwrap().is_some());
    assert!(!m.events(None, 50).await.unwrap().is_empty());
    m.undo_add(&view.account.name).await.unwrap();
    assert!(m.list().await.unwrap().is_empty());
    for key in [secret_key, key_password(&id), key_session(&id)] {
        assert!(m.secrets.get(&key).await.unwrap().is_none(), "{key}");
    }
    assert_eq!(m.events(None, 50).await.unwrap(), vec![], "no event stays");
}

/// Edits, removals, abandoned logins and unsaved renewals (issue 11, items 8–10).
mod races;
