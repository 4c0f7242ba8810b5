//! The data dir is private while the Manager has it open: the directory 0700 and every file in
//! it 0600, the SQLite -wal and -shm files and the secret file's lock included; a looser dir or
//! database found at open is tightened.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use lanyard_core::manager::{Config, Manager};
use lanyard_core::secrets::SecretStoreKind;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

fn config(data: &Path) -> Config {
    Config {
        data_dir: Some(data.to_path_buf()),
        secret_store: Some(SecretStoreKind::File),
        passphrase: Some("data dir permissions".into()),
        ..Config::default()
    }
}

/// Every file in `data`, with its mode, while the Manager is open.
fn files_and_modes(data: &Path) -> Vec<(String, u32)> {
    let mut found: Vec<(String, u32)> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                mode(&e.path()),
            )
        })
        .collect();
    found.sort();
    found
}

async fn write_something(manager: &Manager) {
    manager.set_warning_window(None).await.unwrap();
    assert!(manager.secret_store_health().await.ok);
}

#[tokio::test]
async fn a_new_data_dir_and_every_file_in_it_are_private_while_open() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let manager = Manager::open(config(&data)).await.unwrap();
    write_something(&manager).await;

    assert_eq!(mode(&data), 0o700);
    let found = files_and_modes(&data);
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "lanyard.db",
        "lanyard.db-shm",
        "lanyard.db-wal",
        "secrets.enc",
        "secrets.enc.lock",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    for (name, mode) in &found {
        assert_eq!(*mode, 0o600, "{name} has mode {mode:o}");
    }
}

#[tokio::test]
async fn a_looser_dir_and_database_are_tightened_at_open() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    drop(Manager::open(config(&data)).await.unwrap());
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        data.join("lanyard.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::set_permissions(
        data.join("secrets.enc"),
        std::fs::Permissions::from_mode(0o664),
    )
    .unwrap();

    let manager = Manager::open(config(&data)).await.unwrap();
    write_something(&manager).await;
    assert_eq!(mode(&data), 0o700);
    for (name, mode) in files_and_modes(&data) {
        assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
    }
}
