//! Compiles the Tauri context (config, capabilities, embedded UI assets, icons).

use std::path::Path;

fn main() {
    // `generate_context!` embeds ui/dist at compile time and cannot see when it changes;
    // these lines make a rebuilt UI or a redrawn icon rebuild the app.
    println!("cargo:rerun-if-changed=../ui/dist");
    println!("cargo:rerun-if-changed=../icons");

    // A missing ui/dist otherwise surfaces as a proc-macro panic deep in tauri-codegen.
    if !Path::new("../ui/dist/index.html").exists() {
        panic!(
            "ui/dist/index.html is missing: build the web UI first with `make ui` \
             (`make run` and `make test` do it for you)"
        );
    }

    // The same list as `commands::COMMANDS` (a unit test keeps them and the capability in step).
    let manifest = tauri_build::AppManifest::new().commands(&[
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
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri-build failed to prepare the app context");
}
