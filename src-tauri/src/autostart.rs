//! Launch at login: the autostart plugin's desktop entry, kept in line with the setting.

use lanyard_core::Error;
use tauri::plugin::TauriPlugin;
use tauri::{AppHandle, Manager as _, Runtime};

/// The autostart plugin (a desktop entry in ~/.config/autostart on Linux).
pub fn plugin<R: Runtime>() -> TauriPlugin<R> {
    tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, None)
}

/// Makes launch-at-login match the setting (the autostart plugin's desktop entry).
pub fn apply_launch_at_login<R: Runtime>(app: &AppHandle<R>, enabled: bool) -> Result<(), Error> {
    let Some(autostart) = app.try_state::<tauri_plugin_autostart::AutoLaunchManager>() else {
        return Ok(());
    };
    let now = autostart.is_enabled().unwrap_or(!enabled);
    if now == enabled {
        return Ok(());
    }
    // The plugin writes ~/.config/autostart/<app>.desktop but creates only the last directory;
    // a fresh home may not have ~/.config yet.
    #[cfg(target_os = "linux")]
    if enabled && let Some(home) = std::env::var_os("HOME") {
        let _ = std::fs::create_dir_all(std::path::Path::new(&home).join(".config"));
    }
    let result = if enabled {
        autostart.enable()
    } else {
        autostart.disable()
    };
    result.map_err(|e| Error::internal(format!("could not change launch at login: {e}")))
}
