//! Tauri commands: the UI's whole view of the backend (docs/desktop-ipc.md).
//!
//! Kept in a module rather than at the crate root, where `#[tauri::command]` collides with its
//! own generated macro (E0255). Each command is a few lines: parse, call lanyard-core, and
//! return `Result<T, lanyard_core::Error>`, which reaches the UI as `{code, message,
//! server_message}`. Tokens never cross into the webview: `copy_token` writes the clipboard here.

use std::collections::BTreeMap;

use lanyard_core::manager::unlock::PassphraseRequest;
use lanyard_core::manager::{
    AccountEdit, EventRecord, ExportSummary, ImportReport, LoginStep, NewAccount, TokenFormat,
};
use lanyard_core::model::OptionSpec;
use lanyard_core::secrets::SecretStoreHealth;
use lanyard_core::{
    AccountView, AddDraft, Error, LogoutOutcome, RefreshDone, SecretString, ServiceId, ServiceSpec,
    Settings,
};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Runtime, State};

use crate::autostart::apply_launch_at_login;
use crate::lifecycle::manager_ready;
use crate::state::AppState;
use crate::token_copy::{self, Copied};
use crate::window::{LastView, ViewState};

/// The most event rows one call returns.
const MAX_EVENTS: usize = 1000;

/// A service as the UI sees it: the core spec plus the options every service takes.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct ServiceView {
    #[serde(flatten)]
    spec: &'static ServiceSpec,
    common_options: &'static [OptionSpec],
    /// The form the service expects its token in when it is copied as is (the tray, the row's
    /// copy button): `header` or `query`.
    copy_form: CopyForm,
}

/// The services Lanyard speaks, in display order, with their options and capabilities.
#[tauri::command]
pub fn list_services() -> Vec<ServiceView> {
    lanyard_core::services::specs()
        .into_iter()
        .map(|spec| ServiceView {
            spec,
            common_options: lanyard_core::services::COMMON_OPTIONS,
            copy_form: match TokenFormat::for_service(spec.id) {
                TokenFormat::Query => CopyForm::Query,
                _ => CopyForm::Header,
            },
        })
        .collect()
}

/// The user's language as a BCP 47 tag (e.g. `zh-CN`), read from the operating system
/// (LC_ALL, LC_MESSAGES, LANG on Linux). WebKitGTK's `navigator.language` falls back to
/// English whenever that locale is not generated on the machine, so the UI asks here first.
#[tauri::command]
pub fn system_locale() -> Option<String> {
    sys_locale::get_locale()
}

#[tauri::command]
pub async fn list_accounts(state: State<'_, AppState>) -> Result<Vec<AccountView>, Error> {
    state.manager()?.list().await
}

/// `add_account`'s argument. Option values may be secret: no `Debug`.
#[derive(Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
#[ts(rename = "NewAccount")]
pub struct NewAccountArgs {
    #[serde(default)]
    #[ts(optional)]
    name: Option<String>,
    service: ServiceId,
    user: String,
    #[serde(default)]
    #[ts(optional)]
    endpoint: Option<String>,
    #[serde(default)]
    options: BTreeMap<String, String>,
    #[serde(default)]
    remember_password: bool,
}

#[tauri::command]
pub async fn add_account(
    state: State<'_, AppState>,
    account: NewAccountArgs,
) -> Result<AccountView, Error> {
    let new = NewAccount {
        name: account.name.filter(|n| !n.trim().is_empty()),
        service: account.service,
        user: account.user,
        endpoint: account.endpoint,
        options: account.options,
        remember_password: account.remember_password,
    };
    state.manager()?.add_account(new).await
}

/// `edit_account`'s changes. Option values may be secret: no `Debug`.
#[derive(Deserialize, ts_rs::TS)]
#[serde(deny_unknown_fields)]
#[ts(rename = "AccountEdit")]
pub struct EditArgs {
    #[serde(default)]
    #[ts(optional)]
    name: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    user: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    endpoint: Option<String>,
    /// A value sets the option, `null` unsets it (back to the default).
    #[serde(default)]
    options: BTreeMap<String, Option<String>>,
    #[serde(default)]
    #[ts(optional)]
    remember_password: Option<bool>,
}

#[tauri::command]
pub async fn edit_account(
    state: State<'_, AppState>,
    name: String,
    edit: EditArgs,
) -> Result<AccountView, Error> {
    let edit = AccountEdit {
        name: edit.name,
        user: edit.user,
        endpoint: edit.endpoint,
        options: edit.options,
        remember_password: edit.remember_password,
    };
    state.manager()?.edit_account(&name, edit).await
}

/// The outcome says whether the session was ended on the server or only forgotten here.
#[tauri::command]
pub async fn remove_account(
    state: State<'_, AppState>,
    name: String,
) -> Result<LogoutOutcome, Error> {
    state.manager()?.remove_account(&name).await
}

/// What the add form proposes as a person types (a free name, the stored endpoint, the known
/// endpoints).
#[tauri::command]
pub async fn add_draft(
    state: State<'_, AppState>,
    service: ServiceId,
    user: String,
    endpoint: Option<String>,
) -> Result<AddDraft, Error> {
    state
        .manager()?
        .add_draft(service, &user, endpoint.as_deref())
        .await
}

#[tauri::command]
pub async fn set_active(state: State<'_, AppState>, name: String) -> Result<AccountView, Error> {
    state.manager()?.set_active(&name).await
}

#[tauri::command]
pub async fn begin_login(
    state: State<'_, AppState>,
    name: String,
    password: Option<SecretString>,
) -> Result<LoginStep, Error> {
    let password = password.filter(|p| !p.is_empty());
    state.manager()?.begin_login(&name, password).await
}

#[tauri::command]
pub async fn answer_login(
    state: State<'_, AppState>,
    flow: String,
    answer: SecretString,
) -> Result<LoginStep, Error> {
    state.manager()?.answer_login(&flow, answer).await
}

#[tauri::command]
pub async fn reload_captcha(state: State<'_, AppState>, flow: String) -> Result<LoginStep, Error> {
    state.manager()?.reload_captcha(&flow).await
}

#[tauri::command]
pub fn cancel_login(state: State<'_, AppState>, flow: String) -> Result<(), Error> {
    state.manager()?.cancel_login(&flow);
    Ok(())
}

#[tauri::command]
pub async fn refresh_account(
    state: State<'_, AppState>,
    name: String,
    force: bool,
) -> Result<Refreshed, Error> {
    let (account, done) = state.manager()?.refresh_report(&name, force).await?;
    Ok(Refreshed { account, done })
}

/// The account after "refresh now", and what was done to it.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct Refreshed {
    account: AccountView,
    done: RefreshDone,
}

#[tauri::command]
pub async fn logout_account(
    state: State<'_, AppState>,
    name: String,
) -> Result<LogoutOutcome, Error> {
    state.manager()?.logout(&name).await
}

/// The forms the UI may copy a token in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum CopyForm {
    Raw,
    Header,
    Query,
    /// A curl command line for the service's API (`lanyard_core::token::curl_command`).
    Curl,
}

impl From<CopyForm> for TokenFormat {
    fn from(form: CopyForm) -> TokenFormat {
        match form {
            CopyForm::Raw => TokenFormat::Raw,
            CopyForm::Header => TokenFormat::Header,
            CopyForm::Query => TokenFormat::Query,
            CopyForm::Curl => TokenFormat::Curl,
        }
    }
}

#[tauri::command]
pub async fn copy_token<R: Runtime>(
    app: AppHandle<R>,
    name: String,
    form: CopyForm,
) -> Result<Copied, Error> {
    token_copy::copy_token(&app, &name, form.into()).await
}

#[tauri::command]
pub async fn account_events(
    state: State<'_, AppState>,
    name: Option<String>,
    limit: usize,
) -> Result<Vec<EventRecord>, Error> {
    state
        .manager()?
        .events(name.as_deref(), limit.min(MAX_EVENTS))
        .await
}

#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> Result<Settings, Error> {
    state.manager()?.settings().await
}

/// Stores the settings and applies what the backend owns (launch at login, the tray's
/// language).
#[tauri::command]
pub async fn set_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<Settings, Error> {
    let manager = state.manager()?;
    settings.validate()?;
    let before = manager.settings().await?;
    if before.launch_at_login != settings.launch_at_login {
        apply_launch_at_login(&app, settings.launch_at_login)?;
    }
    let stored = manager.set_settings(settings).await?;
    if before.language != stored.language {
        crate::tray::refresh(&app).await;
    }
    Ok(stored)
}

#[tauri::command]
pub async fn secret_store_health(state: State<'_, AppState>) -> Result<SecretStoreHealth, Error> {
    Ok(state.manager()?.secret_store_health().await)
}

/// What the window must ask for before anything else works: the encrypted secret file's
/// passphrase (to choose, on first use, or to unlock); `null` when nothing is needed.
#[tauri::command]
pub fn passphrase_request(state: State<'_, AppState>) -> Option<PassphraseRequest> {
    state.passphrase_request()
}

/// Opens the Manager with the passphrase the person typed; a wrong one is an error and they can
/// try again. Then starts keep-alive, events and the tray as at startup.
#[tauri::command]
pub async fn unlock_secret_store<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    passphrase: SecretString,
) -> Result<(), Error> {
    if state.unlock(passphrase).await? {
        manager_ready(&app).await;
    }
    Ok(())
}

/// Writes every account (options, remembered passwords, secret options; no sessions) to
/// `path`, encrypted with `passphrase` in the age format (`lanyard export`).
#[tauri::command]
pub async fn export_accounts(
    state: State<'_, AppState>,
    path: String,
    passphrase: SecretString,
    replace: bool,
) -> Result<ExportSummary, Error> {
    let path = lanyard_core::manager::typed_path(&path)?;
    state
        .manager()?
        .export_to_file(&path, &passphrase, replace)
        .await
}

/// Adds the accounts of an export; existing ones are skipped and listed (`lanyard import`).
#[tauri::command]
pub async fn import_accounts(
    state: State<'_, AppState>,
    path: String,
    passphrase: SecretString,
) -> Result<ImportReport, Error> {
    let path = lanyard_core::manager::typed_path(&path)?;
    state.manager()?.import_from_file(&path, &passphrase).await
}

/// Where the person left the window (`None` until a page said so): a window rebuilt after it
/// was closed to the tray starts there.
#[tauri::command]
pub fn view_state(last: State<'_, LastView>) -> Option<ViewState> {
    last.get()
}

/// The page reports where the person is (what the list shows, how far it is scrolled).
#[tauri::command]
pub fn remember_view_state(last: State<'_, LastView>, view: ViewState) {
    last.set(view);
}

/// Registers every command above (and nothing else) with the builder.
pub fn register<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        list_services,
        system_locale,
        list_accounts,
        add_account,
        edit_account,
        remove_account,
        add_draft,
        set_active,
        begin_login,
        answer_login,
        reload_captcha,
        cancel_login,
        refresh_account,
        logout_account,
        copy_token,
        account_events,
        get_settings,
        set_settings,
        secret_store_health,
        passphrase_request,
        unlock_secret_store,
        export_accounts,
        import_accounts,
        view_state,
        remember_view_state,
    ])
}

/// The command names, for the build script's app manifest and the capability (a unit test
/// checks all three agree).
#[cfg(test)]
pub const COMMANDS: &[&str] = &[
    "list_services",
    "system_locale",
    "list_accounts",
    "add_account",
    "edit_account",
    "remove_account",
    "add_draft",
    "set_active",
    "begin_login",
    "answer_login",
    "reload_captcha",
    "cancel_login",
    "refresh_account",
    "logout_account",
    "copy_token",
    "account_events",
    "get_settings",
    "set_settings",
    "secret_store_health",
    "passphrase_request",
    "unlock_secret_store",
    "export_accounts",
    "import_accounts",
    "view_state",
    "remember_view_state",
];
