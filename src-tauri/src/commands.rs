//! Tauri commands: the UI's whole view of the backend.
//!
//! Kept in a module rather than at the crate root, where `#[tauri::command]` collides with its
//! own generated macro (E0255). Each command is a few lines: parse, call lanyard-core, and
//! return `Result<T, lanyard_core::Error>`, which reaches the UI as `{code, message,
//! server_message}`.

use lanyard_core::ServiceSpec;

/// The services Lanyard speaks, in display order, with their options and capabilities.
#[tauri::command]
pub fn list_services() -> [&'static ServiceSpec; 5] {
    lanyard_core::services::specs()
}

/// The user's language as a BCP 47 tag (e.g. `zh-CN`), read from the operating system
/// (LC_ALL, LC_MESSAGES, LANG on Linux). WebKitGTK's `navigator.language` falls back to
/// English whenever that locale is not generated on the machine, so the UI asks here first.
#[tauri::command]
pub fn system_locale() -> Option<String> {
    sys_locale::get_locale()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_services_serializes_every_service_for_the_ui() {
        let json = serde_json::to_value(list_services()).expect("specs serialize");
        let ids: Vec<&str> = json
            .as_array()
            .expect("an array of specs")
            .iter()
            .map(|spec| spec["id"].as_str().expect("each spec has a string id"))
            .collect();
        assert_eq!(ids, ["steedos", "sscms", "coolkit", "siyuan", "shopxo"]);
        for spec in json.as_array().unwrap() {
            assert!(
                spec["display_name"]
                    .as_str()
                    .is_some_and(|name| !name.is_empty())
            );
            assert!(spec["capabilities"].is_object());
        }
    }
}
