//! One app per desktop session: a second launch hands over to the running one, which shows its
//! window, and exits.

use tauri::Runtime;
use tauri::plugin::TauriPlugin;

use crate::window::show_main_window;

/// The plugin; it must be registered before any other, as it asks, so a second launch hands
/// over before anything else starts.
pub fn plugin<R: Runtime>() -> TauriPlugin<R> {
    tauri_plugin_single_instance::init(|app, _argv, _cwd| show_main_window(app))
}
