//! The window's side of the IPC contract, generated from the Rust types: the TypeScript types
//! in `ui/src/lib/ipc/types.ts` (ts-rs) and the service registry the browser mock serves,
//! `ui/dev/services.json`. Both files are checked in; the test below fails when either differs
//! from what the Rust types and the registry give now, and `make ipc-types` rewrites them
//! (`LANYARD_WRITE_IPC_TYPES=1`, the way snapshot tools update their expectations).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use lanyard_core::error::{Error, ErrorCode};
use lanyard_core::manager::unlock::PassphraseRequest;
use lanyard_core::manager::{Event, EventRecord, ExportSummary, ImportReport, ImportSkip};
use lanyard_core::model::{
    Account, Capabilities, NeedsLoginReason, OptionKind, OptionSpec, SessionInfo, State,
};
use lanyard_core::secrets::{SecretStoreHealth, SecretStoreKind};
use lanyard_core::services::{Challenge, CodeChannel};
use lanyard_core::settings::{Language, Theme};
use lanyard_core::store::Said;
use lanyard_core::{
    AccountView, AddDraft, LogoutOutcome, RefreshDone, ServiceId, ServiceSpec, Settings,
};
use ts_rs::{Config, TS};

use crate::commands::{CopyForm, EditArgs, NewAccountArgs, Refreshed, ServiceView};
use crate::token_copy::Copied;
use crate::window::{AccountPayload, ViewState};

/// Where the generated files live, relative to this crate.
const TYPES_FILE: &str = "../ui/src/lib/ipc/types.ts";
const SERVICES_FILE: &str = "../ui/dev/services.json";

/// `LoginStep`'s wire shape. Core serializes it by hand (the captcha image becomes a data URL),
/// so this mirror states that shape for ts-rs; `login_step_mirror_matches_the_wire` below
/// checks the two agree.
#[derive(TS)]
#[ts(rename = "LoginStep", tag = "step", rename_all = "snake_case")]
#[allow(dead_code, clippy::large_enum_variant)] // Only its TypeScript declaration is used.
enum LoginStepWire {
    Done {
        account: AccountView,
    },
    Challenge {
        flow: String,
        challenge: Challenge,
        /// A `data:` URL of the captcha image (captchas only).
        #[ts(optional)]
        image: Option<String>,
    },
}

/// The TypeScript declarations, in one file, in the order a reader meets them.
fn types_ts() -> String {
    // Every integer the contract carries (ids, counts, seconds) fits a JS number.
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from the Rust types by src-tauri/src/ipc_types.rs: do not edit; run\n\
         // `make ipc-types` after changing a type the window receives or sends.\n\n",
    );
    macro_rules! declare {
        ($($ty:ty),* $(,)?) => {$(
            if let Some(docs) = <$ty as TS>::docs() {
                out.push_str(&docs);
            }
            let _ = write!(out, "export {}\n\n", <$ty as TS>::decl(&cfg));
        )*};
    }
    declare!(
        // services (ServiceId is inlined: the union of the built-in ids)
        OptionKind,
        OptionSpec,
        Capabilities,
        ServiceSpec,
        ServiceView,
        // accounts
        Account,
        NeedsLoginReason,
        State,
        SessionInfo,
        AccountView,
        NewAccountArgs,
        EditArgs,
        AddDraft,
        // login, renewal, logout
        CodeChannel,
        Challenge,
        LoginStepWire,
        RefreshDone,
        Refreshed,
        LogoutOutcome,
        CopyForm,
        Copied,
        // events
        Said,
        EventRecord,
        Event,
        AccountPayload,
        // settings, secret store, transfer
        Language,
        Theme,
        Settings,
        SecretStoreKind,
        SecretStoreHealth,
        PassphraseRequest,
        ExportSummary,
        ImportSkip,
        ImportReport,
        // the window's place, kept across a close to the tray
        ViewState,
        // errors
        ErrorCode,
        Error,
    );
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// What `list_services` answers, as the browser mock serves it.
fn services_json() -> String {
    let services = serde_json::to_value(crate::commands::list_services())
        .expect("the service registry serializes");
    let mut text = serde_json::to_string_pretty(&services).expect("JSON prints");
    text.push('\n');
    text
}

fn generated() -> Vec<(PathBuf, String)> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    vec![
        (here.join(TYPES_FILE), types_ts()),
        (here.join(SERVICES_FILE), services_json()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_in_ipc_types_are_current() {
        let write = std::env::var_os("LANYARD_WRITE_IPC_TYPES").is_some();
        for (path, fresh) in generated() {
            if write {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &fresh).unwrap();
                continue;
            }
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                current == fresh,
                "{} is stale: run make ipc-types",
                path.display()
            );
        }
    }

    /// The keys of a JSON object, sorted.
    fn keys(value: &serde_json::Value) -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    #[test]
    fn login_step_mirror_matches_the_wire() {
        use lanyard_core::manager::LoginStep;
        let account = Account {
            id: "id".into(),
            name: "steedos/ann".into(),
            service: ServiceId::Steedos,
            user: "ann".into(),
            endpoint: "http://127.0.0.1:1".into(),
            options: Default::default(),
            remember_password: false,
            active: true,
            created_at: chrono::Utc::now(),
        };
        let view = AccountView {
            account,
            state: State::SignedOut,
            session: None,
            last_refresh_at: None,
            password_required: true,
            plaintext_remote: false,
            default_for_service: true,
        };
        let done = serde_json::to_value(LoginStep::Done(view)).unwrap();
        assert_eq!(keys(&done), ["account", "step"]);
        assert_eq!(done["step"], "done");
        let captcha = serde_json::to_value(LoginStep::Challenge {
            flow: "f1".into(),
            challenge: Challenge::Captcha {
                image: vec![0x89, b'P', b'N', b'G'],
                media_type: "image/png".into(),
                reloadable: true,
            },
        })
        .unwrap();
        assert_eq!(keys(&captcha), ["challenge", "flow", "image", "step"]);
        assert_eq!(captcha["step"], "challenge");
        assert!(
            captcha["image"]
                .as_str()
                .unwrap()
                .starts_with("data:image/png;base64,")
        );
        // The mirror's declaration names the same keys and tags.
        let decl = <LoginStepWire as TS>::decl(&Config::new());
        for key in [
            "\"step\": \"done\"",
            "account: AccountView",
            "flow: string",
            "challenge: Challenge",
            "image?: string",
            "\"step\": \"challenge\"",
        ] {
            assert!(decl.contains(key), "{key} missing from {decl}");
        }
    }
}
