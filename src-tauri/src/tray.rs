//! The tray: the active account of each service (a click copies its token in the form the
//! service expects), "Open Lanyard" and "Quit". Rebuilt when what it shows changes.

use lanyard_core::{AccountView, State};
use tauri::menu::{Menu, MenuBuilder, MenuEvent, MenuItemBuilder};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager as _, Runtime};

use crate::state::AppState;
use crate::texts::{Lang, lang_for};
use crate::token_copy::copy_from_tray;
use crate::window::show_main_window;

pub const TRAY_ID: &str = "main";
const OPEN: &str = "open";
const QUIT: &str = "quit";
const COPY_PREFIX: &str = "copy:";

/// What the tray menu shows now (rebuilt only when this changes); app state of its own.
#[derive(Default)]
struct Shown(std::sync::Mutex<Option<(Lang, Vec<TrayEntry>)>>);

/// One line of the tray menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayEntry {
    pub account: String,
    pub service: &'static str,
    pub user: String,
    pub needs_login: bool,
}

/// The active accounts, in the Manager's order (service, endpoint, name).
pub fn entries(accounts: &[AccountView]) -> Vec<TrayEntry> {
    accounts
        .iter()
        .filter(|v| v.account.active)
        .map(|v| TrayEntry {
            account: v.account.name.clone(),
            service: lanyard_core::services::spec(v.account.service).display_name,
            user: v.account.user.clone(),
            needs_login: matches!(v.state, State::SignedOut | State::NeedsLogin { .. }),
        })
        .collect()
}

/// What a click on a menu item asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<'a> {
    Open,
    Quit,
    Copy(&'a str),
    Nothing,
}

pub fn action(id: &str) -> Action<'_> {
    match id {
        OPEN => Action::Open,
        QUIT => Action::Quit,
        _ => match id.strip_prefix(COPY_PREFIX) {
            Some(account) => Action::Copy(account),
            None => Action::Nothing,
        },
    }
}

fn menu<R: Runtime>(
    app: &AppHandle<R>,
    lang: Lang,
    entries: &[TrayEntry],
) -> tauri::Result<Menu<R>> {
    let mut builder = MenuBuilder::new(app);
    if entries.is_empty() {
        let none = MenuItemBuilder::with_id("none", lang.no_active_accounts())
            .enabled(false)
            .build(app)?;
        builder = builder.item(&none);
    }
    for entry in entries {
        builder = builder.text(
            format!("{COPY_PREFIX}{}", entry.account),
            lang.copy_entry(entry.service, &entry.user, entry.needs_login),
        );
    }
    builder
        .separator()
        .text(OPEN, lang.open_lanyard())
        .text(QUIT, lang.quit())
        .build()
}

/// Creates the tray icon (empty menu until the first refresh). A desktop without a tray is
/// no reason to stop: the failure is logged.
pub fn create<R: Runtime>(app: &AppHandle<R>, lang: Lang) {
    app.manage(Shown::default());
    let built = menu(app, lang, &[]).and_then(|menu| {
        let mut tray = TrayIconBuilder::with_id(TRAY_ID)
            .menu(&menu)
            .tooltip(lang.tray_tooltip())
            .show_menu_on_left_click(true)
            .on_menu_event(|app, event: MenuEvent| on_menu(app, event.id().as_ref()));
        if let Some(icon) = app.default_window_icon() {
            tray = tray.icon(icon.clone());
        }
        tray.build(app)
    });
    if let Err(e) = built {
        tracing::warn!(error = %e, "no tray icon on this desktop");
    }
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    match action(id) {
        Action::Open => show_main_window(app),
        Action::Quit => app.exit(0),
        Action::Copy(account) => {
            let (app, account) = (app.clone(), account.to_owned());
            tauri::async_runtime::spawn(async move {
                copy_from_tray(&app, &account).await;
            });
        }
        Action::Nothing => {}
    }
}

/// Re-reads the accounts and rebuilds the menu if what it shows changed.
pub async fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let Ok(manager) = app.state::<AppState>().manager() else {
        return;
    };
    let Some(shown) = app.try_state::<Shown>() else {
        return;
    };
    let Ok(accounts) = manager.list().await else {
        return;
    };
    let settings = manager.settings().await.unwrap_or_default();
    let lang = lang_for(settings.language);
    let wanted = (lang, entries(&accounts));
    {
        let mut shown = shown.0.lock().unwrap_or_else(|p| p.into_inner());
        if shown.as_ref() == Some(&wanted) {
            return;
        }
        *shown = Some(wanted.clone());
    }
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    match menu(app, lang, &wanted.1) {
        Ok(menu) => {
            if let Err(e) = tray.set_menu(Some(menu)) {
                tracing::warn!(error = %e, "could not update the tray menu");
            }
            let _ = tray.set_tooltip(Some(lang.tray_tooltip()));
        }
        Err(e) => tracing::warn!(error = %e, "could not build the tray menu"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_ids_round_trip() {
        assert_eq!(action("open"), Action::Open);
        assert_eq!(action("quit"), Action::Quit);
        assert_eq!(action("copy:steedos/a:b"), Action::Copy("steedos/a:b"));
        assert_eq!(action("none"), Action::Nothing);
    }
}
