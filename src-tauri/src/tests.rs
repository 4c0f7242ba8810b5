//! The commands through real IPC (tauri's mock runtime: no display), with the app's real
//! context, so the capability's ACL is checked as in the app, over a real Manager (SQLite in a
//! temporary directory, secrets in memory) and a fake clipboard.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use lanyard_core::manager::Config;
use lanyard_core::secrets::SecretStoreKind;
use lanyard_core::{Error, Manager, Session, SessionInfo, SessionTokens};
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{Listener, WebviewWindow, WebviewWindowBuilder};

use crate::clipboard::SecretClipboard;
use crate::clipboard::tests::FakeClipboard;
use crate::state::AppState;

struct TestApp {
    _app: tauri::App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    clipboard: FakeClipboard,
    manager: Option<Arc<Manager>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    fn new() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: Some(dir.path().join("data")),
            secret_store: Some(SecretStoreKind::Memory),
            ..Config::default()
        };
        let manager = tauri::async_runtime::block_on(Manager::open(config))
            .map(Arc::new)
            .unwrap();
        Self::with_core(Ok(manager), dir)
    }

    fn with_core(core: Result<Arc<Manager>, Error>, dir: tempfile::TempDir) -> TestApp {
        let clipboard = FakeClipboard::default();
        let state = AppState::with_core(
            core.clone(),
            SecretClipboard::new(Box::new(clipboard.clone())),
        );
        Self::with_state(state, core.ok(), clipboard, dir)
    }

    /// The app as it starts with `LANYARD_SECRET_STORE=file` and no passphrase in the
    /// environment, on the data dir `dir/data`.
    fn awaiting_passphrase(dir: tempfile::TempDir) -> TestApp {
        let clipboard = FakeClipboard::default();
        let config = Config {
            data_dir: Some(dir.path().join("data")),
            secret_store: Some(SecretStoreKind::File),
            ..Config::default()
        };
        let state = AppState::awaiting_passphrase(
            config,
            SecretClipboard::new(Box::new(clipboard.clone())),
        )
        .unwrap();
        Self::with_state(state, None, clipboard, dir)
    }

    fn with_state(
        state: AppState,
        manager: Option<Arc<Manager>>,
        clipboard: FakeClipboard,
        dir: tempfile::TempDir,
    ) -> TestApp {
        let app = crate::commands::register(mock_builder())
            .manage(state)
            .manage(crate::window::LastView::default())
            .build(tauri::generate_context!())
            .expect("the app builds on the mock runtime");
        // Without a data directory of its own, the webview's would be created in the user's
        // ~/.local/share/<identifier>.
        let window = WebviewWindowBuilder::new(&app, "main", Default::default())
            .data_directory(dir.path().join("webview"))
            .build()
            .unwrap();
        TestApp {
            _app: app,
            window,
            clipboard,
            manager,
            _dir: dir,
        }
    }

    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        get_ipc_response(
            &self.window,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|body| body.deserialize::<Value>().unwrap())
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.invoke(cmd, args)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    fn err(&self, cmd: &str, args: Value) -> Value {
        match self.invoke(cmd, args) {
            Ok(v) => panic!("{cmd} should fail, answered {v}"),
            Err(e) => e,
        }
    }

    /// Stores a session for the account as a login would have.
    fn give_session(&self, name: &str, token: &str) {
        let m = self.manager.as_ref().unwrap();
        tauri::async_runtime::block_on(async {
            let id = m.get(name).await.unwrap().account.id;
            let now = m.now();
            let session = Session {
                tokens: SessionTokens {
                    access: token.into(),
                    ..Default::default()
                },
                info: SessionInfo {
                    obtained_at: Some(now),
                    expires_at: Some(now + chrono::Duration::hours(2)),
                    ..Default::default()
                },
            };
            m.save_session(&id, &session).await.unwrap();
        });
    }
}

fn sscms(user: &str) -> Value {
    json!({"account": {"service": "sscms", "user": user, "endpoint": "http://127.0.0.1:9", "options": {}, "remember_password": false}})
}

#[test]
fn the_window_reads_back_the_view_it_last_reported() {
    let app = TestApp::new();
    assert_eq!(app.ok("view_state", json!({})), Value::Null);
    let view = json!({"view": "sscms", "selected": "sscms/ann", "filter": "an", "scroll_top": 1234.5, "top_row": "sscms/zed", "top_row_offset": -12.5});
    assert_eq!(
        app.ok("remember_view_state", json!({"view": view.clone()})),
        Value::Null
    );
    assert_eq!(app.ok("view_state", json!({})), view);
    let overview = json!({"view": null, "selected": null, "filter": "", "scroll_top": 0.0, "top_row": null, "top_row_offset": 0.0});
    app.ok("remember_view_state", json!({"view": overview.clone()}));
    assert_eq!(app.ok("view_state", json!({})), overview);
    // A misspelt field is an error, not a silently lost position.
    app.err(
        "remember_view_state",
        json!({"view": {"view": null, "selected": null, "filter": "", "scrollTop": 3, "top_row": null, "top_row_offset": 0}}),
    );
    assert_eq!(app.ok("view_state", json!({})), overview);
}

#[test]
fn every_command_is_built_allowed_and_registered() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let build = std::fs::read_to_string(root.join("build.rs")).unwrap();
    let capability: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("capabilities/main-window.json")).unwrap(),
    )
    .unwrap();
    let allowed: Vec<&str> = capability["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for command in crate::commands::COMMANDS {
        assert!(
            build.contains(&format!("\"{command}\"")),
            "build.rs lists {command}"
        );
        let permission = format!("allow-{}", command.replace('_', "-"));
        assert!(allowed.contains(&permission.as_str()), "{permission}");
    }
    // Nothing else: the app's commands and listening to events.
    let others: Vec<&&str> = allowed
        .iter()
        .filter(|p| {
            !crate::commands::COMMANDS
                .iter()
                .any(|c| **p == format!("allow-{}", c.replace('_', "-")))
        })
        .collect();
    assert_eq!(
        others,
        [&"core:event:allow-listen", &"core:event:allow-unlisten"]
    );
}

#[test]
fn services_carry_their_specs_and_the_common_proxy_option() {
    let app = TestApp::new();
    let services = app.ok("list_services", json!({}));
    let ids: Vec<&str> = services
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["steedos", "sscms", "coolkit", "siyuan", "shopxo"]);
    for service in services.as_array().unwrap() {
        assert!(service["capabilities"].is_object());
        assert_eq!(service["common_options"][0]["key"], "proxy");
        // ShopXO takes its token as a query parameter, the others in a header.
        let form = if service["id"] == "shopxo" {
            "query"
        } else {
            "header"
        };
        assert_eq!(service["copy_form"], form, "{service}");
    }
}

#[test]
fn accounts_are_added_listed_switched_and_removed() {
    let app = TestApp::new();
    let added = app.ok("add_account", sscms("demo"));
    assert_eq!(added["name"], "sscms/demo");
    assert_eq!(added["state"]["state"], "signed_out");
    assert_eq!(added["password_required"], true);
    app.ok("add_account", sscms("alice"));
    let code_login = app.ok(
        "add_account",
        json!({"account": {"name": "shop", "service": "shopxo", "user": "13800000001",
            "endpoint": "http://127.0.0.1:9", "options": {"login_type": "sms"}, "remember_password": false}}),
    );
    assert_eq!(code_login["password_required"], false, "{code_login}");

    // The same user on another server: the proposed name is free, the address gets a scheme.
    let draft = app.ok(
        "add_draft",
        json!({"service": "sscms", "user": "demo", "endpoint": "cms.example.com"}),
    );
    assert_eq!(draft["name"], "sscms/demo@cms.example.com", "{draft}");
    assert_eq!(draft["endpoint"], "https://cms.example.com", "{draft}");
    assert_eq!(draft["known_endpoints"], json!(["http://127.0.0.1:9"]));

    let active = app.ok("set_active", json!({"name": "sscms/alice"}));
    assert_eq!(active["active"], true);
    let list = app.ok("list_accounts", json!({}));
    let names: Vec<(&str, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["active"].as_bool().unwrap()))
        .collect();
    assert!(names.contains(&("sscms/alice", true)), "{names:?}");
    assert!(names.contains(&("sscms/demo", false)), "{names:?}");

    let tray = crate::tray::entries(
        &tauri::async_runtime::block_on(app.manager.as_ref().unwrap().list()).unwrap(),
    );
    let in_tray: Vec<&str> = tray.iter().map(|e| e.account.as_str()).collect();
    assert_eq!(
        in_tray,
        ["sscms/alice", "shop"],
        "the active ones, by service"
    );
    assert!(
        tray[0].needs_login,
        "signed out accounts say so in the tray"
    );

    let edited = app.ok(
        "edit_account",
        json!({"name": "sscms/demo", "edit": {"name": "demo", "options": {}}}),
    );
    assert_eq!(edited["name"], "demo");
    assert_eq!(
        app.ok("remove_account", json!({"name": "demo"})),
        json!("no_session")
    );
    let events = app.ok("account_events", json!({"name": null, "limit": 50}));
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"remove"), "newest first: {kinds:?}");
}

#[test]
fn errors_reach_the_ui_as_code_and_message() {
    let app = TestApp::new();
    let e = app.err("set_active", json!({"name": "nobody"}));
    assert_eq!(e["code"], "not_found");
    assert!(e["message"].as_str().unwrap().contains("nobody"));
    assert!(e.get("server_message").is_none());
    app.ok("add_account", sscms("demo"));
    let e = app.err("add_account", sscms("demo"));
    assert_eq!(e["code"], "already_exists", "{e}");
    let e = app.err("begin_login", json!({"name": "sscms/demo"}));
    assert_eq!(e["code"], "invalid_input", "no password given: {e}");
    let e = app.err("copy_token", json!({"name": "sscms/demo", "form": "raw"}));
    assert_eq!(e["code"], "needs_login", "{e}");
    let e = app.err("answer_login", json!({"flow": "nope", "answer": "1234"}));
    assert_eq!(e["code"], "not_found", "{e}");
    assert_eq!(app.ok("cancel_login", json!({"flow": "nope"})), Value::Null);
}

#[test]
fn a_refused_add_or_edit_names_the_form_field_it_concerns() {
    let app = TestApp::new();
    let add = |name: Option<&str>, user: &str, endpoint: &str, options: Value| {
        let mut account = json!({"service": "sscms", "user": user, "endpoint": endpoint,
            "options": options, "remember_password": false});
        if let Some(name) = name {
            account["name"] = json!(name);
        }
        app.err("add_account", json!({ "account": account }))
    };
    let ok_endpoint = "http://127.0.0.1:9";
    let cases = [
        (add(None, "  ", ok_endpoint, json!({})), "user"),
        (add(None, "ann", "ftp://cms.example", json!({})), "endpoint"),
        (add(Some("steedos"), "ann", ok_endpoint, json!({})), "name"),
        (
            add(None, "ann", ok_endpoint, json!({"proxy": "socks5://p:1"})),
            "options.proxy",
        ),
    ];
    for (e, field) in cases {
        assert_eq!(e["code"], "invalid_input", "{e}");
        assert_eq!(e["field"], field, "{e}");
    }
    app.ok("add_account", sscms("demo"));
    let e = app.err(
        "edit_account",
        json!({"name": "sscms/demo", "edit": {"endpoint": "http://a b", "options": {}}}),
    );
    assert_eq!(e["field"], "endpoint", "{e}");
    // Not about a field: none is named.
    let e = app.err("set_active", json!({"name": "nobody"}));
    assert!(e.get("field").is_none(), "{e}");
}

#[test]
fn event_rows_reach_the_window_as_a_code_and_parameters() {
    let app = TestApp::new();
    app.ok("add_account", sscms("demo"));
    let rows = app.ok("account_events", json!({"name": "sscms/demo", "limit": 10}));
    let added = &rows[0];
    assert_eq!(added["kind"], "add", "{rows}");
    assert_eq!(added["said"]["code"], "added", "{rows}");
    assert_eq!(
        added["said"]["params"]["service"], "SiteServer CMS",
        "{rows}"
    );
    assert_eq!(added["said"]["params"]["user"], "demo", "{rows}");
    // The English stays for the CLI.
    assert!(
        added["message"].as_str().unwrap().contains("demo"),
        "{rows}"
    );
}

#[test]
fn a_failed_renewal_is_logged_as_its_error_code_and_next_attempt() {
    let app = TestApp::new();
    app.ok("add_account", sscms("demo"));
    let m = app.manager.as_ref().unwrap();
    tauri::async_runtime::block_on(async {
        let id = m.get("sscms/demo").await.unwrap().account.id;
        let session = Session {
            tokens: SessionTokens {
                access: "t0k3n".into(),
                ..Default::default()
            },
            info: SessionInfo {
                obtained_at: Some(m.now()),
                user_id: Some("1".into()),
                ..Default::default()
            },
        };
        m.save_session(&id, &session).await.unwrap();
    });
    // Nothing listens on port 9: the check cannot reach the server.
    let _ = app.invoke(
        "refresh_account",
        json!({"name": "sscms/demo", "force": true}),
    );
    let rows = app.ok("account_events", json!({"name": "sscms/demo", "limit": 10}));
    let retrying = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["outcome"] == "retrying")
        .unwrap_or_else(|| panic!("a retrying row: {rows}"));
    assert_eq!(retrying["said"]["code"], "retrying", "{rows}");
    assert_eq!(retrying["said"]["params"]["error"], "network", "{rows}");
    assert!(retrying["said"]["params"]["next"].is_string(), "{rows}");
}

#[test]
fn a_data_dir_that_cannot_open_still_answers_every_command_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let why = Error::storage("database error: file is not a database");
    let app = TestApp::with_core(Err(why), dir);
    // The window has what it needs to draw itself...
    assert!(app.ok("list_services", json!({})).is_array());
    // ...and every account command says why there is nothing.
    for (cmd, args) in [
        ("list_accounts", json!({})),
        ("get_settings", json!({})),
        ("secret_store_health", json!({})),
        ("add_account", sscms("demo")),
    ] {
        let e = app.err(cmd, args);
        assert_eq!(e["code"], "storage", "{cmd}: {e}");
        assert!(e["message"].as_str().unwrap().contains("not a database"));
    }
}

#[test]
fn settings_round_trip_and_bad_values_are_refused() {
    let app = TestApp::new();
    let mut settings = app.ok("get_settings", json!({}));
    assert_eq!(settings["clipboard_clear_secs"], 30);
    assert_eq!(settings["language"], "system");
    settings["theme"] = json!("dark");
    settings["language"] = json!("zh-CN");
    settings["warning_window_secs"] = json!(300);
    let stored = app.ok("set_settings", json!({"settings": settings.clone()}));
    assert_eq!(stored, settings);
    assert_eq!(app.ok("get_settings", json!({})), settings);
    settings["clipboard_clear_secs"] = json!(999_999);
    let e = app.err("set_settings", json!({"settings": settings}));
    assert_eq!(e["code"], "invalid_input", "{e}");
    let e = app.err("set_settings", json!({"settings": {"theme": "pink"}}));
    assert!(e.to_string().contains("settings"), "{e}");
}

#[test]
fn the_secret_store_reports_its_health() {
    let app = TestApp::new();
    let health = app.ok("secret_store_health", json!({}));
    assert_eq!(health["kind"], "memory");
    assert_eq!(health["ok"], true);
    assert!(
        health.get("error").is_none(),
        "a working store names no error: {health}"
    );
}

#[test]
fn copy_puts_the_token_on_the_clipboard_in_the_asked_form_and_clears_it() {
    let app = TestApp::new();
    app.ok("add_account", sscms("demo"));
    app.give_session("sscms/demo", "jwt.demo.token");
    let mut settings = app.ok("get_settings", json!({}));
    settings["clipboard_clear_secs"] = json!(1);
    app.ok("set_settings", json!({"settings": settings}));
    let (tx, rx) = mpsc::channel();
    app.window
        .listen_any(crate::token_copy::CLIPBOARD_CLEARED, move |event| {
            let _ = tx.send(event.payload().to_owned());
        });

    let copied = app.ok(
        "copy_token",
        json!({"name": "sscms/demo", "form": "header"}),
    );
    assert_eq!(copied, json!({"clear_after_secs": 1}));
    assert_eq!(
        app.clipboard.now().as_deref(),
        Some("X-SS-USER-TOKEN: jwt.demo.token")
    );
    let payload = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the clipboard is cleared after the delay");
    assert_eq!(
        serde_json::from_str::<Value>(&payload).unwrap(),
        json!({"account": "sscms/demo"})
    );
    assert_eq!(app.clipboard.now(), None);

    app.ok("copy_token", json!({"name": "sscms/demo", "form": "raw"}));
    assert_eq!(app.clipboard.now().as_deref(), Some("jwt.demo.token"));
    // SSCMS takes a header: there is no query form to copy, and the token is not in the error.
    let e = app.err("copy_token", json!({"name": "sscms/demo", "form": "query"}));
    assert_eq!(e["code"], "invalid_input");
    assert!(!e.to_string().contains("jwt.demo.token"));
    let e = app.err("copy_token", json!({"name": "sscms/demo", "form": "json"}));
    assert!(
        !e.to_string().contains("jwt.demo.token"),
        "only raw, header and query are offered"
    );
}

#[test]
fn shopxo_tokens_are_copied_as_the_query_parameter() {
    let app = TestApp::new();
    app.ok(
        "add_account",
        json!({"account": {"service": "shopxo", "user": "alice01", "endpoint": "http://127.0.0.1:9", "options": {}, "remember_password": false}}),
    );
    app.give_session("shopxo/alice01", "f00dcafe");
    app.ok(
        "copy_token",
        json!({"name": "shopxo/alice01", "form": "query"}),
    );
    assert_eq!(app.clipboard.now().as_deref(), Some("token=f00dcafe"));
}

/// The file store without a passphrase: every command says the secret file is locked until the
/// window unlocks it; the first passphrase creates the store, a wrong one later is refused (and
/// can be tried again), the right one opens the Manager.
#[test]
fn the_window_chooses_then_unlocks_the_secret_file_passphrase() {
    let app = TestApp::awaiting_passphrase(tempfile::tempdir().unwrap());
    let request = app.ok("passphrase_request", json!({}));
    assert_eq!(request["first_use"], true);
    let secrets_file = request["secrets_file"].as_str().unwrap().to_owned();
    assert!(secrets_file.ends_with("data/secrets.enc"), "{secrets_file}");
    let locked = app.err("list_accounts", json!({}));
    assert_eq!(locked["code"], "secret_store");
    assert!(
        locked["message"].as_str().unwrap().contains("locked"),
        "{locked}"
    );
    let empty = app.err("unlock_secret_store", json!({"passphrase": ""}));
    assert_eq!(empty["code"], "invalid_input");

    app.ok(
        "unlock_secret_store",
        json!({"passphrase": "chosen in the window"}),
    );
    assert_eq!(app.ok("passphrase_request", json!({})), Value::Null);
    app.ok("add_account", sscms("ann"));
    let health = app.ok("secret_store_health", json!({}));
    assert_eq!(health["ok"], true, "{health}");
    assert_eq!(health["kind"], "file");
    // Unlocking an open store changes nothing.
    app.ok("unlock_secret_store", json!({"passphrase": "anything"}));
    let dir = app._dir;
    drop(app._app);

    // The next start: the store exists, so the window asks to unlock it.
    let app = TestApp::awaiting_passphrase(dir);
    let request = app.ok("passphrase_request", json!({}));
    assert_eq!(request["first_use"], false);
    let before = std::fs::read(&secrets_file).unwrap();
    let wrong = app.err("unlock_secret_store", json!({"passphrase": "a guess"}));
    assert_eq!(wrong["code"], "secret_store");
    let message = wrong["message"].as_str().unwrap();
    assert!(message.starts_with("wrong passphrase"), "{message}");
    assert!(!message.contains("a guess"), "{message}");
    assert_eq!(std::fs::read(&secrets_file).unwrap(), before);
    assert_eq!(app.ok("passphrase_request", json!({}))["first_use"], false);

    app.ok(
        "unlock_secret_store",
        json!({"passphrase": "chosen in the window"}),
    );
    let accounts = app.ok("list_accounts", json!({}));
    assert_eq!(accounts[0]["name"], "sscms/ann", "{accounts}");
}

/// "Copy as curl command": the service's own form, built in lanyard-core, through the same
/// copy path as a token (so the clipboard is marked secret and cleared the same way).
#[test]
fn a_curl_command_is_copied_in_the_services_form() {
    let app = TestApp::new();
    app.ok("add_account", sscms("demo"));
    app.give_session("sscms/demo", "jwt.demo.token");
    app.ok("copy_token", json!({"name": "sscms/demo", "form": "curl"}));
    let copied = app.clipboard.now().unwrap_or_default();
    assert!(
        copied == "curl -H 'X-SS-USER-TOKEN: jwt.demo.token' http://127.0.0.1:9/api/v1/users/1",
        "{copied}"
    );
    app.ok(
        "add_account",
        json!({"account": {"service": "shopxo", "user": "alice01", "endpoint": "http://127.0.0.1:9", "options": {}, "remember_password": false}}),
    );
    app.give_session("shopxo/alice01", "f00dcafe");
    app.ok(
        "copy_token",
        json!({"name": "shopxo/alice01", "form": "curl"}),
    );
    let copied = app.clipboard.now().unwrap_or_default();
    assert!(
        copied.starts_with("curl 'http://127.0.0.1:9/api.php?s=personal%2Findex&application=app&")
            && copied.ends_with("&token=f00dcafe'"),
        "{copied}"
    );
}

#[test]
fn accounts_are_exported_to_a_file_and_imported_into_another_app() {
    let old = TestApp::new();
    old.ok("add_account", sscms("demo"));
    old.ok("add_account", sscms("alice"));
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("accounts.age");
    let path = file.to_str().unwrap();
    let summary = old.ok(
        "export_accounts",
        json!({"path": path, "passphrase": "moving day", "replace": false}),
    );
    assert_eq!(summary["accounts"], 2);
    assert!(
        std::fs::read(&file)
            .unwrap()
            .starts_with(b"age-encryption.org/v1\n")
    );
    // Not over an existing file unless asked; a relative path is refused.
    let e = old.err(
        "export_accounts",
        json!({"path": path, "passphrase": "moving day", "replace": false}),
    );
    assert_eq!(e["code"], "already_exists", "{e}");
    let e = old.err(
        "export_accounts",
        json!({"path": "accounts.age", "passphrase": "moving day", "replace": true}),
    );
    assert_eq!(e["code"], "invalid_input", "{e}");

    let new = TestApp::new();
    new.ok("add_account", sscms("alice"));
    let e = new.err(
        "import_accounts",
        json!({"path": path, "passphrase": "wrong"}),
    );
    assert_eq!(e["code"], "credentials_rejected", "{e}");
    assert_eq!(
        new.ok("list_accounts", json!({})).as_array().unwrap().len(),
        1
    );
    let report = new.ok(
        "import_accounts",
        json!({"path": path, "passphrase": "moving day"}),
    );
    assert_eq!(report["imported"], json!(["sscms/demo"]), "{report}");
    assert_eq!(report["skipped"][0]["name"], "sscms/alice", "{report}");
    assert_eq!(report["skipped"][0]["code"], "already_exists", "{report}");
    assert_eq!(
        new.ok("list_accounts", json!({})).as_array().unwrap().len(),
        2
    );
}
