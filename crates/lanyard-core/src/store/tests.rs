use super::*;
use crate::model::{Account, NeedsLoginReason, ServiceId, SessionInfo};

fn account(name: &str, service: ServiceId, endpoint: &str, user: &str) -> Account {
    Account {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        service,
        user: user.to_owned(),
        endpoint: endpoint.to_owned(),
        options: BTreeMap::from([("space_id".to_owned(), "s1".to_owned())]),
        remember_password: false,
        active: false,
        created_at: Utc::now(),
    }
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join(DB_FILE)).unwrap();
    (dir, store)
}

#[test]
fn opens_in_wal_mode_at_the_latest_schema_with_foreign_keys() {
    let (_dir, store) = open();
    assert_eq!(store.schema_version().unwrap(), migrations::LATEST);
    let conn = store.lock();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let busy: i64 = conn
        .pragma_query_value(None, "busy_timeout", |r| r.get(0))
        .unwrap();
    assert_eq!(busy, 5000);
}

#[test]
fn reopening_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let a = account("a", ServiceId::Steedos, "https://x", "u");
    Store::open(&path).unwrap().insert_account(&a).unwrap();
    let store = Store::open(&path).unwrap();
    let row = store.account_by_name("a").unwrap().unwrap();
    assert_eq!(row.account.id, a.id);
    assert_eq!(row.account.options, a.options);
    assert!(row.account.active);
    assert_eq!(row.session.state, StoredState::SignedOut);
    assert_eq!(row.session.info, None);
}

#[test]
fn uniqueness_rules_give_clear_errors() {
    let (_dir, store) = open();
    store
        .insert_account(&account("a", ServiceId::Steedos, "https://x", "u"))
        .unwrap();
    let e = store
        .insert_account(&account("a", ServiceId::Sscms, "https://y", "v"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::AlreadyExists);
    assert!(e.message.contains("named 'a'"), "{}", e.message);
    let e = store
        .insert_account(&account("b", ServiceId::Steedos, "https://x", "u"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::AlreadyExists);
    assert!(e.message.contains("account 'a'"), "{}", e.message);
    // Same user at another endpoint, or at another service, is a different account.
    store
        .insert_account(&account("b", ServiceId::Steedos, "https://y", "u"))
        .unwrap();
    store
        .insert_account(&account("c", ServiceId::Sscms, "https://x", "u"))
        .unwrap();
    assert_eq!(store.accounts().unwrap().len(), 3);
}

#[test]
fn first_account_of_a_pair_is_active_and_set_active_switches() {
    let (_dir, store) = open();
    let a = store
        .insert_account(&account("a", ServiceId::Steedos, "https://x", "u1"))
        .unwrap();
    let b = store
        .insert_account(&account("b", ServiceId::Steedos, "https://x", "u2"))
        .unwrap();
    let c = store
        .insert_account(&account("c", ServiceId::Steedos, "https://y", "u1"))
        .unwrap();
    assert!(a.active && !b.active && c.active);
    store.set_active("b").unwrap();
    let active: Vec<_> = store
        .accounts()
        .unwrap()
        .into_iter()
        .filter(|r| r.account.active)
        .map(|r| r.account.name)
        .collect();
    assert_eq!(active, ["b", "c"]);
    // The index backs the rule even against a buggy caller.
    let conn = store.lock();
    assert!(
        conn.execute("UPDATE accounts SET active = 1 WHERE name = 'a'", [])
            .is_err()
    );
}

#[test]
fn removing_the_active_account_promotes_the_oldest_other() {
    let (_dir, store) = open();
    let a = store
        .insert_account(&account("a", ServiceId::Sscms, "https://x", "u1"))
        .unwrap();
    store
        .insert_account(&account("b", ServiceId::Sscms, "https://x", "u2"))
        .unwrap();
    store
        .insert_account(&account("c", ServiceId::Sscms, "https://x", "u3"))
        .unwrap();
    assert!(store.delete_account(&a.id).unwrap());
    assert!(!store.delete_account(&a.id).unwrap());
    assert!(store.account_by_name("b").unwrap().unwrap().account.active);
    assert!(!store.account_by_name("c").unwrap().unwrap().account.active);
}

#[test]
fn list_is_ordered_by_service_endpoint_name() {
    let (_dir, store) = open();
    store
        .insert_account(&account("z", ServiceId::Shopxo, "https://a", "u"))
        .unwrap();
    store
        .insert_account(&account("y", ServiceId::Steedos, "https://b", "u"))
        .unwrap();
    store
        .insert_account(&account("x", ServiceId::Steedos, "https://b", "v"))
        .unwrap();
    store
        .insert_account(&account("w", ServiceId::Steedos, "https://c", "u"))
        .unwrap();
    let names: Vec<_> = store
        .accounts()
        .unwrap()
        .into_iter()
        .map(|r| r.account.name)
        .collect();
    assert_eq!(names, ["x", "y", "w", "z"]);
}

#[test]
fn update_moves_between_endpoints_and_keeps_one_active() {
    let (_dir, store) = open();
    store
        .insert_account(&account("a", ServiceId::Steedos, "https://x", "u1"))
        .unwrap();
    store
        .insert_account(&account("b", ServiceId::Steedos, "https://x", "u2"))
        .unwrap();
    store
        .insert_account(&account("c", ServiceId::Steedos, "https://y", "u3"))
        .unwrap();
    let up = store
        .update_account("a", |a| {
            a.endpoint = "https://y".into();
            a.name = "a2".into();
            a.options.insert("password_mode".into(), "plain".into());
            Ok(())
        })
        .unwrap();
    assert!(up.before.active && !up.after.active);
    assert_eq!(up.after.name, "a2");
    assert!(
        store.account_by_name("b").unwrap().unwrap().account.active,
        "b took over https://x"
    );
    assert!(store.account_by_name("c").unwrap().unwrap().account.active);
    let a2 = store.account_by_name("a2").unwrap().unwrap().account;
    assert_eq!(
        a2.options.get("password_mode").map(String::as_str),
        Some("plain")
    );
    assert!(store.account_by_name("a").unwrap().is_none());
    // Colliding with another account's login is refused and changes nothing.
    let e = store.update_account("a2", |a| {
        a.user = "u3".into();
        Ok(())
    });
    assert_eq!(e.unwrap_err().code, ErrorCode::AlreadyExists);
    // The closure's own error aborts the transaction.
    let e = store.update_account("a2", |a| {
        a.user = "changed".into();
        Err(Error::invalid_input("no"))
    });
    assert_eq!(e.unwrap_err().code, ErrorCode::InvalidInput);
    assert_eq!(
        store.account_by_name("a2").unwrap().unwrap().account.user,
        "u1"
    );
    assert_eq!(
        store.update_account("nope", |_| Ok(())).unwrap_err().code,
        ErrorCode::NotFound
    );
}

#[test]
fn session_facts_and_states_round_trip() {
    let (_dir, store) = open();
    let a = store
        .insert_account(&account("a", ServiceId::Coolkit, "https://{region}-x", "u"))
        .unwrap();
    let now = Utc::now();
    let info = SessionInfo {
        obtained_at: Some(now),
        expires_at: Some(now + chrono::Duration::hours(1)),
        refresh_expires_at: None,
        user_id: Some("42".into()),
        display_name: Some("Ann".into()),
        extra: BTreeMap::from([("api".into(), "v7".into())]),
    };
    let g1 = store.save_session(&a.id, &info, None).unwrap();
    let row = store.account_by_id(&a.id).unwrap().unwrap();
    assert_eq!(row.session.state, StoredState::Valid);
    assert_eq!(row.session.generation, g1);
    let got = row.session.info.unwrap();
    assert_eq!(got.user_id, info.user_id);
    assert_eq!(got.extra, info.extra);
    // Millisecond precision is what the store keeps.
    assert_eq!(
        got.expires_at.unwrap().timestamp_millis(),
        info.expires_at.unwrap().timestamp_millis()
    );

    let attempts = store
        .record_retry(&a.id, now, &Said::from("server said 502"))
        .unwrap();
    assert_eq!(attempts, 1);
    let again = Said::new("error")
        .with("error", "network")
        .with("detail", "again");
    assert_eq!(store.record_retry(&a.id, now, &again).unwrap(), 2);
    match store.account_by_id(&a.id).unwrap().unwrap().session.state {
        StoredState::Retrying {
            attempts,
            last_error,
            ..
        } => {
            assert_eq!(attempts, 2);
            assert_eq!(last_error, again);
        }
        other => panic!("{other:?}"),
    }
    store
        .set_state(
            &a.id,
            &StoredState::NeedsLogin(NeedsLoginReason::PasswordChanged),
        )
        .unwrap();
    let row = store.account_by_id(&a.id).unwrap().unwrap();
    assert_eq!(
        row.session.state,
        StoredState::NeedsLogin(NeedsLoginReason::PasswordChanged)
    );
    assert!(row.session.info.is_some(), "needs_login keeps the facts");
    let g = store.set_state(&a.id, &StoredState::SignedOut).unwrap();
    let row = store.account_by_id(&a.id).unwrap().unwrap();
    assert_eq!(row.session.state, StoredState::SignedOut);
    assert_eq!(row.session.info, None);
    assert!(g > g1);
    let refreshed = store.save_session(&a.id, &info, Some(now)).unwrap();
    let row = store.account_by_id(&a.id).unwrap().unwrap();
    assert_eq!(row.session.generation, refreshed);
    assert_eq!(
        row.session.last_refresh_at.unwrap().timestamp_millis(),
        now.timestamp_millis()
    );
    assert_eq!(
        store.save_session("missing", &info, None).unwrap_err().code,
        ErrorCode::NotFound
    );
}

#[test]
fn events_keep_history_of_removed_accounts_and_follow_renames() {
    let (_dir, store) = open();
    let a = store
        .insert_account(&account("a", ServiceId::Sscms, "https://x", "u"))
        .unwrap();
    let b = store
        .insert_account(&account("b", ServiceId::Sscms, "https://x", "v"))
        .unwrap();
    let now = Utc::now();
    store
        .add_event(Some((&a.id, "a")), now, "login", "ok", "logged in")
        .unwrap();
    store
        .add_event(Some((&b.id, "b")), now, "login", "failed", "wrong password")
        .unwrap();
    store
        .add_event(None, now, "settings", "ok", "changed")
        .unwrap();
    store
        .update_account("a", |x| {
            x.name = "renamed".into();
            Ok(())
        })
        .unwrap();
    store.delete_account(&b.id).unwrap();
    let all = store.events(None, 10).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].kind, "settings", "newest first");
    assert_eq!(
        all[1].account_name.as_deref(),
        Some("b"),
        "removed accounts keep their name"
    );
    assert_eq!(all[2].account_name.as_deref(), Some("renamed"));
    let only_a = store.events(Some(&a.id), 10).unwrap();
    assert_eq!(only_a.len(), 1);
    assert_eq!(only_a[0].message, "logged in");
    assert_eq!(store.events(None, 1).unwrap().len(), 1);
}

#[test]
fn event_rows_keep_their_code_and_parameters() {
    let (_dir, store) = open();
    let a = store
        .insert_account(&account("a", ServiceId::Sscms, "https://x", "u"))
        .unwrap();
    let said = super::Said::new("logged_in").with("who", "Ann");
    let written = store
        .add_said_event(
            Some((&a.id, "a")),
            Utc::now(),
            "login",
            "ok",
            "logged in as Ann",
            Some(&said),
        )
        .unwrap();
    assert_eq!(written.said.as_ref(), Some(&said));
    store
        .add_event(Some((&a.id, "a")), Utc::now(), "use", "ok", "in use")
        .unwrap();
    let rows = store.events(Some(&a.id), 10).unwrap();
    assert_eq!(
        rows[0].said, None,
        "a row without a code says only its message"
    );
    assert_eq!(rows[1].said.as_ref(), Some(&said));
    assert_eq!(rows[1].message, "logged in as Ann");
    let json = serde_json::to_value(&rows[1]).unwrap();
    assert_eq!(json["said"]["code"], "logged_in");
    assert_eq!(json["said"]["params"]["who"], "Ann");
    assert!(
        serde_json::to_value(&rows[0])
            .unwrap()
            .get("said")
            .is_none()
    );
}

#[test]
fn settings_round_trip() {
    let (_dir, store) = open();
    assert_eq!(store.setting("warning_window_secs").unwrap(), None);
    store
        .set_setting("warning_window_secs", Some("60"))
        .unwrap();
    store
        .set_setting("warning_window_secs", Some("120"))
        .unwrap();
    assert_eq!(
        store.setting("warning_window_secs").unwrap().as_deref(),
        Some("120")
    );
    store.set_setting("warning_window_secs", None).unwrap();
    assert_eq!(store.setting("warning_window_secs").unwrap(), None);
}

#[test]
fn leases_are_exclusive_expire_and_release_only_by_their_holder() {
    let (_dir, store) = open();
    let a = store
        .insert_account(&account("a", ServiceId::Sscms, "https://x", "u"))
        .unwrap();
    let long = Duration::from_secs(60);
    assert!(store.try_acquire_lease(&a.id, "p1", long).unwrap());
    assert!(
        store
            .account_by_id(&a.id)
            .unwrap()
            .unwrap()
            .session
            .lease_until
            .is_some()
    );
    assert!(!store.try_acquire_lease(&a.id, "p2", long).unwrap());
    assert!(
        store.try_acquire_lease(&a.id, "p1", long).unwrap(),
        "the holder may extend"
    );
    store.release_lease(&a.id, "p2").unwrap();
    assert!(
        !store.try_acquire_lease(&a.id, "p2", long).unwrap(),
        "only the holder releases"
    );
    store.release_lease(&a.id, "p1").unwrap();
    assert!(
        store
            .account_by_id(&a.id)
            .unwrap()
            .unwrap()
            .session
            .lease_until
            .is_none()
    );
    assert!(
        store
            .try_acquire_lease(&a.id, "p2", Duration::from_millis(1))
            .unwrap()
    );
    std::thread::sleep(Duration::from_millis(20));
    assert!(
        store
            .account_by_id(&a.id)
            .unwrap()
            .unwrap()
            .session
            .lease_until
            .is_none(),
        "expired"
    );
    assert!(
        store
            .acquire_lease(&a.id, "p3", long, Duration::from_millis(10))
            .unwrap(),
        "an expired lease is free"
    );
    assert!(
        !store
            .acquire_lease(&a.id, "p4", long, Duration::from_millis(250))
            .unwrap()
    );
    assert_eq!(
        store
            .try_acquire_lease("missing", "p1", long)
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
    // The lease goes with its account.
    store.delete_account(&a.id).unwrap();
    let n: i64 = store
        .lock()
        .query_row("SELECT COUNT(*) FROM leases", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn a_version_1_file_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    {
        let v1 = Store::open_with(&path, &[migrations::V1]).unwrap();
        assert_eq!(v1.schema_version().unwrap(), 1);
        let conn = v1.lock();
        // Version 1 had no leases table and no index: two active accounts in one pair could
        // happen (the rule lived in code only). The upgrade must keep the older one active.
        conn.execute_batch(
            r#"
            INSERT INTO accounts VALUES ('id-a', 'a', 'steedos', 'u1', 'https://x', '{"space_id":"s"}', 1, 1, '2024-01-01T00:00:00.000Z');
            INSERT INTO accounts VALUES ('id-b', 'b', 'steedos', 'u2', 'https://x', '{}', 0, 1, '2024-02-01T00:00:00.000Z');
            INSERT INTO accounts VALUES ('id-c', 'c', 'sscms', 'u1', 'https://y', '{}', 0, 1, '2024-03-01T00:00:00.000Z');
            INSERT INTO sessions (account_id, obtained_at, expires_at, display_name, state, generation)
                VALUES ('id-a', '2024-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z', 'Ann', 'valid', 7);
            INSERT INTO sessions (account_id) VALUES ('id-b');
            INSERT INTO sessions (account_id) VALUES ('id-c');
            INSERT INTO events (account_id, account_name, at, kind, outcome, message)
                VALUES ('id-a', 'a', '2024-01-01T00:00:00.000Z', 'login', 'ok', 'logged in');
            INSERT INTO settings VALUES ('warning_window_secs', '600');
            "#,
        )
        .unwrap();
        let has_leases: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'leases')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!has_leases);
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), migrations::LATEST);
    let rows = store.accounts().unwrap();
    assert_eq!(rows.len(), 3);
    let a = store.account_by_name("a").unwrap().unwrap();
    assert!(a.account.active && a.account.remember_password);
    assert_eq!(
        a.account.options.get("space_id").map(String::as_str),
        Some("s")
    );
    assert_eq!(a.session.state, StoredState::Valid);
    assert_eq!(a.session.generation, 7);
    assert_eq!(a.session.info.unwrap().display_name.as_deref(), Some("Ann"));
    assert!(
        !store.account_by_name("b").unwrap().unwrap().account.active,
        "one active per pair"
    );
    assert!(store.account_by_name("c").unwrap().unwrap().account.active);
    assert_eq!(store.events(None, 10).unwrap().len(), 1);
    assert_eq!(
        store.setting("warning_window_secs").unwrap().as_deref(),
        Some("600")
    );
    assert!(
        store
            .try_acquire_lease("id-a", "me", Duration::from_secs(5))
            .unwrap(),
        "v2's leases table works"
    );
    // Opening again is a no-op.
    drop(store);
    assert_eq!(
        Store::open(&path).unwrap().schema_version().unwrap(),
        migrations::LATEST
    );
}

#[test]
fn a_file_from_a_newer_lanyard_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    {
        let store = Store::open(&path).unwrap();
        store
            .lock()
            .pragma_update(None, "user_version", migrations::LATEST + 1)
            .unwrap();
    }
    let e = Store::open(&path).unwrap_err();
    assert_eq!(e.code, ErrorCode::Storage);
    assert!(e.message.contains("newer Lanyard"), "{}", e.message);
}

#[test]
fn two_connections_writing_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    Store::open(&path).unwrap();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let store = Store::open(&path).unwrap();
                for i in 0..25 {
                    let name = format!("w{w}-{i}");
                    store
                        .insert_account(&account(&name, ServiceId::Sscms, "https://x", &name))
                        .unwrap();
                    store
                        .update_account(&name, |a| {
                            a.options.insert("n".into(), i.to_string());
                            Ok(())
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let store = Store::open(&path).unwrap();
    let rows = store.accounts().unwrap();
    assert_eq!(rows.len(), 100);
    assert!(rows.iter().all(|r| r.account.options.contains_key("n")));
    assert_eq!(rows.iter().filter(|r| r.account.active).count(), 1);
}

#[test]
fn data_dir_is_created_private() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("a/b/lanyard");
    ensure_data_dir(&target).unwrap();
    assert!(target.is_dir());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}

#[test]
fn keepalive_schedules_round_trip_without_touching_the_generation() {
    let (_dir, store) = open();
    let a = store
        .insert_account(&account("a", ServiceId::Sscms, "https://x", "u"))
        .unwrap();
    assert_eq!(store.schedule(&a.id).unwrap(), Some(Schedule::default()));
    let info = SessionInfo {
        obtained_at: Some(Utc::now()),
        ..Default::default()
    };
    let generation = store.save_session(&a.id, &info, None).unwrap();
    let at = DateTime::from_timestamp(1_900_000_000, 123_000_000).unwrap();
    let s = Schedule {
        next_check_at: Some(at),
        kind: Some("refresh".into()),
        generation: Some(generation),
        warned_for: Some(at),
        refresh_stalled_for: None,
        relogin_blocked_for: Some(at),
    };
    store.set_schedule(&a.id, &s).unwrap();
    assert_eq!(store.schedule(&a.id).unwrap(), Some(s.clone()));
    assert_eq!(store.schedules().unwrap().get(&a.id), Some(&s));
    let row = store.account_by_id(&a.id).unwrap().unwrap();
    assert_eq!(
        row.session.generation, generation,
        "a plan is not a session change"
    );
    // A removed account is ignored.
    store.set_schedule("missing", &s).unwrap();
    assert_eq!(store.schedule("missing").unwrap(), None);
}

#[cfg(target_os = "linux")]
#[test]
fn a_lease_of_a_dead_process_is_taken_over_at_once() {
    let (_dir, store) = open();
    let a = store
        .insert_account(&account("a", ServiceId::Sscms, "https://x", "u"))
        .unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let holder = format!("{}:abc", child.id());
    let long = Duration::from_secs(600);
    assert!(store.try_acquire_lease(&a.id, &holder, long).unwrap());
    assert!(
        !store.try_acquire_lease(&a.id, "p2", long).unwrap(),
        "a live holder keeps it"
    );
    child.kill().unwrap();
    // Not reaped yet: a zombie holds nothing either.
    std::thread::sleep(Duration::from_millis(50));
    assert!(store.try_acquire_lease(&a.id, "p2", long).unwrap());
    child.wait().unwrap();
    // Our own pid and foreign shapes are never judged dead.
    let mine = format!("{}:x", std::process::id());
    store.release_lease(&a.id, "p2").unwrap();
    assert!(store.try_acquire_lease(&a.id, &mine, long).unwrap());
    assert!(!store.try_acquire_lease(&a.id, "p3", long).unwrap());
}

#[cfg(target_os = "linux")]
#[test]
fn a_lease_of_a_dead_or_replaced_holder_process_is_taken_over_at_once() {
    let (_dir, store) = open();
    let a = store
        .insert_account(&account("a", ServiceId::Sscms, "https://x", "u"))
        .unwrap();
    let long = Duration::from_secs(3600);
    let ours = new_lease_holder();

    // A holder whose process exited (killed mid-renewal).
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let dead = format!(
        "{gone_pid}:{}:n1",
        process_start(std::process::id()).unwrap()
    );
    assert!(store.try_acquire_lease(&a.id, &dead, long).unwrap());
    assert!(
        store.try_acquire_lease(&a.id, &ours, long).unwrap(),
        "a dead holder's lease is taken over before its expiry"
    );
    store.release_lease(&a.id, &ours).unwrap();

    // A live process holds it: it stays, in the new and the old holder shape.
    let mut alive = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = alive.id();
    let started = process_start(pid).expect("a running process has a start time");
    for holder in [format!("{pid}:{started}:n2"), format!("{pid}:n3")] {
        assert!(store.try_acquire_lease(&a.id, &holder, long).unwrap());
        assert!(
            !store.try_acquire_lease(&a.id, &ours, long).unwrap(),
            "{holder} is alive"
        );
        store.release_lease(&a.id, &holder).unwrap();
    }

    // The pid now belongs to another process than the one that took the lease.
    let reused = format!("{pid}:{}:n4", started + 1);
    assert!(store.try_acquire_lease(&a.id, &reused, long).unwrap());
    assert!(
        store.try_acquire_lease(&a.id, &ours, long).unwrap(),
        "a reused pid does not keep a lease alive"
    );
    alive.kill().unwrap();
    alive.wait().unwrap();
    assert!(holder_is_dead(&format!("{pid}:{started}:n2")));
    assert!(!holder_is_dead(&ours), "this process is alive");
}

#[test]
fn version_8_keeps_an_english_retry_reason_as_words_without_a_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let before: Vec<_> = migrations::MIGRATIONS
        .iter()
        .filter(|m| m.version < migrations::V8.version)
        .map(|m| migrations::Migration { ..*m })
        .collect();
    {
        let old = Store::open_with(&path, &before).unwrap();
        old.lock()
            .execute_batch(
                r#"
                INSERT INTO accounts (id, name, service, user, endpoint, created_at)
                    VALUES ('id-a', 'a', 'sscms', 'u1', 'https://x', '2024-01-01T00:00:00.000Z');
                INSERT INTO sessions (account_id, state, next_attempt, attempts, last_error)
                    VALUES ('id-a', 'retrying', '2030-01-01T00:00:00.000Z', 2, 'x.example: connection refused');
                "#,
            )
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let row = store.account_by_name("a").unwrap().unwrap();
    let StoredState::Retrying {
        attempts,
        last_error,
        ..
    } = row.session.state
    else {
        panic!("{:?}", row.session.state)
    };
    assert_eq!(attempts, 2);
    assert_eq!(last_error.code, "failed");
    assert_eq!(last_error.params["server"], "x.example: connection refused");
    assert_eq!(last_error.error_line(), "x.example: connection refused");
}
