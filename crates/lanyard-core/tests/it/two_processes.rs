//! Two processes (think: the desktop app and the CLI) write the same data dir at once and lose
//! nothing. The test runs this test binary twice as child processes, each executing the ignored
//! `child_writer` test against a shared, initially empty data dir (so the two also race to
//! create and migrate the database).

use std::collections::BTreeMap;
use std::path::Path;

use lanyard_core::ServiceId;
use lanyard_core::manager::{AccountEdit, NewAccount};

use crate::support::{memory_manager, own_test};

const DIR_VAR: &str = "LANYARD_TEST_CHILD_DIR";
const PREFIX_VAR: &str = "LANYARD_TEST_CHILD_PREFIX";
/// Unix time in milliseconds at which both writers start, so they really overlap.
const START_VAR: &str = "LANYARD_TEST_CHILD_START_MS";

fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}
const PER_PROCESS: usize = 50;
const ENDPOINT: &str = "https://cms.example.com";

#[test]
fn two_processes_add_and_edit_accounts_without_losing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let start = (unix_ms() + 1500).to_string();
    let children: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|prefix| {
            own_test("two_processes::child_writer")
                .env(DIR_VAR, dir.path())
                .env(PREFIX_VAR, prefix)
                .env(START_VAR, &start)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a writer process failed");
    }

    let rt = tokio::runtime::Runtime::new().unwrap();
    let m = memory_manager(dir.path());
    let accounts = rt.block_on(m.list()).unwrap();
    assert_eq!(
        accounts.len(),
        2 * PER_PROCESS,
        "every account of both processes is there"
    );
    for prefix in ["a", "b"] {
        for i in 0..PER_PROCESS {
            let name = format!("{prefix}-{i}-edited");
            let view = accounts
                .iter()
                .find(|v| v.account.name == name)
                .unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(
                view.account.option("proxy"),
                Some(format!("http://{prefix}{i}.example:3128").as_str())
            );
            assert!(
                view.account.remember_password,
                "{name}: the second edit is kept"
            );
        }
    }
    assert_eq!(
        accounts.iter().filter(|v| v.account.active).count(),
        1,
        "one active account per endpoint"
    );
    // Every add and edit wrote its event row.
    let events = rt.block_on(m.events(None, 10_000)).unwrap();
    assert_eq!(
        events.iter().filter(|e| e.kind == "add").count(),
        2 * PER_PROCESS
    );
    assert!(events.iter().filter(|e| e.kind == "edit").count() >= 2 * 2 * PER_PROCESS);
    // The writers really overlapped: in log order, the two processes' rows interleave.
    let owners: Vec<char> = events
        .iter()
        .rev()
        .filter_map(|e| e.account_name.as_deref()?.chars().next())
        .collect();
    let switches = owners.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        switches >= 2,
        "the writers ran one after the other ({switches} switch)"
    );
}

/// One writer: adds its accounts, then edits each twice and makes some active, interleaved
/// with the other process. Only meaningful when started by the test above.
#[test]
#[ignore = "run by two_processes_add_and_edit_accounts_without_losing_anything"]
fn child_writer() {
    let (Some(dir), Some(prefix)) = (std::env::var_os(DIR_VAR), std::env::var(PREFIX_VAR).ok())
    else {
        return;
    };
    let start: u128 = std::env::var(START_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let now = unix_ms();
    if start > now {
        std::thread::sleep(std::time::Duration::from_millis((start - now) as u64));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let m = memory_manager(Path::new(&dir));
        for i in 0..PER_PROCESS {
            m.add_account(NewAccount {
                name: Some(format!("{prefix}-{i}")),
                service: ServiceId::Sscms,
                user: format!("{prefix}-user-{i}"),
                endpoint: Some(ENDPOINT.into()),
                options: BTreeMap::new(),
                remember_password: false,
            })
            .await
            .unwrap();
        }
        for i in 0..PER_PROCESS {
            let edit = AccountEdit {
                name: Some(format!("{prefix}-{i}-edited")),
                options: BTreeMap::from([(
                    "proxy".to_owned(),
                    Some(format!("http://{prefix}{i}.example:3128")),
                )]),
                ..Default::default()
            };
            m.edit_account(&format!("{prefix}-{i}"), edit)
                .await
                .unwrap();
            if i % 10 == 0 {
                m.set_active(&format!("{prefix}-{i}-edited")).await.unwrap();
            }
        }
        for i in 0..PER_PROCESS {
            let edit = AccountEdit {
                remember_password: Some(true),
                ..Default::default()
            };
            m.edit_account(&format!("{prefix}-{i}-edited"), edit)
                .await
                .unwrap();
        }
    });
}
