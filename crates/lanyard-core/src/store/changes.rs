//! What changed since a given point, for the keep-alive engine (schema version 7): every write
//! of an account, its session's facts or state, or its lease stamps the account with the next
//! value of one counter (triggers, so writes by any process count); the engine remembers the
//! highest value it saw and asks only for what is newer.

use std::collections::HashMap;

use rusqlite::OptionalExtension;

use super::{
    ACCOUNT_COLUMNS, ACCOUNT_FROM, AccountRow, Schedule, Store, account_row, schedule_row,
};
use crate::error::Result;

/// The `changes` key a change of the warning window is recorded under (no account id is empty).
pub const EVERY_ACCOUNT: &str = "";

/// One account as the keep-alive engine reads it: the row, its schedule and the change number
/// it had when read.
#[derive(Debug, Clone)]
pub struct WatchRow {
    pub row: AccountRow,
    pub schedule: Schedule,
    /// The account's change number when this was read (0: not changed since version 7).
    pub seq: i64,
}

/// What changed after a given change number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeList {
    /// The accounts (also removed ones) changed since, with their change numbers.
    pub accounts: Vec<(String, i64)>,
    /// Something that moves every account's shown state changed (the warning window).
    pub every_account: bool,
    /// The highest change number now.
    pub seq: i64,
}

const SCHEDULE_COLUMNS: &str = "account_id, next_check_at, check_kind, planned_generation, \
     warned_for, refresh_stalled_for, relogin_blocked_for";

impl Store {
    /// The accounts changed after change number `since`.
    pub fn changes_since(&self, since: i64) -> Result<ChangeList> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT key, seq FROM changes WHERE seq > ?1 ORDER BY seq")?;
            let mut list = ChangeList {
                seq: since,
                ..ChangeList::default()
            };
            let rows = stmt.query_map([since], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
            for row in rows {
                let (key, seq): (String, i64) = row?;
                list.seq = list.seq.max(seq);
                if key == EVERY_ACCOUNT {
                    list.every_account = true;
                } else {
                    list.accounts.push((key, seq));
                }
            }
            Ok(list)
        })
    }

    /// Every account with its schedule and change number, and the highest change number, all
    /// from one consistent read (a change made after it has a higher number).
    pub fn watch_all(&self) -> Result<(Vec<WatchRow>, i64)> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} {ACCOUNT_FROM}");
        let sched_sql = format!("SELECT {SCHEDULE_COLUMNS} FROM sessions");
        self.read(|c| {
            let tx = c.unchecked_transaction()?;
            let top: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
                r.get(0)
            })?;
            let mut seqs: HashMap<String, i64> = HashMap::new();
            {
                let mut stmt = tx.prepare_cached("SELECT key, seq FROM changes")?;
                for row in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
                    let (k, s) = row?;
                    seqs.insert(k, s);
                }
            }
            let mut schedules: HashMap<String, Schedule> = HashMap::new();
            {
                let mut stmt = tx.prepare_cached(&sched_sql)?;
                for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, schedule_row(r)?)))? {
                    let (id, s) = row?;
                    schedules.insert(id, s);
                }
            }
            let rows = {
                let mut stmt = tx.prepare_cached(&sql)?;
                stmt.query_map([], |r| account_row(r, &self.services))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.commit()?;
            let out = rows
                .into_iter()
                .map(|row| {
                    let id = &row.account.id;
                    WatchRow {
                        schedule: schedules.remove(id).unwrap_or_default(),
                        seq: seqs.get(id).copied().unwrap_or(0),
                        row,
                    }
                })
                .collect();
            Ok((out, top))
        })
    }

    /// These accounts (those that still exist), each with its schedule and change number, from
    /// one consistent read.
    pub fn watch_some(&self, ids: &[String]) -> Result<Vec<WatchRow>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} {ACCOUNT_FROM} WHERE a.id = ?1");
        let sched_sql = format!("SELECT {SCHEDULE_COLUMNS} FROM sessions WHERE account_id = ?1");
        self.read(|c| {
            let tx = c.unchecked_transaction()?;
            let mut out = Vec::with_capacity(ids.len());
            {
                let mut account = tx.prepare_cached(&sql)?;
                let mut schedule = tx.prepare_cached(&sched_sql)?;
                let mut seq = tx.prepare_cached("SELECT seq FROM changes WHERE key = ?1")?;
                for id in ids {
                    let Some(row) = account
                        .query_row([id], |r| account_row(r, &self.services))
                        .optional()?
                    else {
                        continue;
                    };
                    let schedule = schedule
                        .query_row([id], schedule_row)
                        .optional()?
                        .unwrap_or_default();
                    let seq = seq.query_row([id], |r| r.get(0)).optional()?.unwrap_or(0);
                    out.push(WatchRow { row, schedule, seq });
                }
            }
            tx.commit()?;
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use chrono::Utc;

    use super::*;
    use crate::model::{Account, ServiceId, SessionInfo};
    use crate::store::{DB_FILE, migrations};

    fn account(name: &str) -> Account {
        Account {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            service: ServiceId::Coolkit,
            user: format!("{name}@example.com"),
            endpoint: "http://127.0.0.1:1/{region}".to_owned(),
            options: BTreeMap::new(),
            remember_password: false,
            active: false,
            created_at: Utc::now(),
        }
    }

    fn info() -> SessionInfo {
        SessionInfo {
            obtained_at: Some(Utc::now()),
            expires_at: Some(Utc::now() + chrono::Duration::hours(1)),
            refresh_expires_at: None,
            user_id: None,
            display_name: None,
            extra: BTreeMap::new(),
        }
    }

    fn ids(list: &ChangeList) -> Vec<&str> {
        list.accounts.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// Two connections on one file stand for two processes: what one writes, the other is told
    /// about, by account; the engine's own plan writes are not news.
    #[test]
    fn every_write_of_an_account_is_numbered_whichever_connection_made_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let app = Store::open(&path).unwrap();
        let other = Store::open(&path).unwrap();

        let a = app.insert_account(&account("a")).unwrap();
        let b = app.insert_account(&account("b")).unwrap();
        let all = app.changes_since(0).unwrap();
        assert_eq!(ids(&all), [a.id.as_str(), b.id.as_str()]);
        assert!(!all.every_account);
        let (rows, top) = app.watch_all().unwrap();
        assert_eq!(top, all.seq);
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.seq > 0 && r.seq <= top));

        // Another connection saves a session: only that account is reported, numbered higher.
        other.save_session(&b.id, &info(), None).unwrap();
        let after = app.changes_since(top).unwrap();
        assert_eq!(ids(&after), [b.id.as_str()]);
        assert!(after.seq > top);
        let read = app.watch_some(std::slice::from_ref(&b.id)).unwrap();
        assert_eq!(read[0].seq, after.seq);
        assert!(read[0].row.session.info.is_some());

        // A plan written by the engine is not a change.
        let top = after.seq;
        let schedule = Schedule {
            next_check_at: Some(Utc::now()),
            kind: Some("refresh".into()),
            generation: Some(1),
            ..Schedule::default()
        };
        app.set_schedule(&a.id, &schedule).unwrap();
        assert_eq!(
            app.changes_since(top).unwrap(),
            ChangeList {
                seq: top,
                ..ChangeList::default()
            }
        );
        let stored = &app.watch_some(std::slice::from_ref(&a.id)).unwrap()[0].schedule;
        assert_eq!(
            (&stored.kind, stored.generation),
            (&schedule.kind, schedule.generation)
        );

        // A lease (shown as "refreshing") is a change, taken and given back.
        assert!(
            other
                .try_acquire_lease(&a.id, "h", Duration::from_secs(5))
                .unwrap()
        );
        let leased = app.changes_since(top).unwrap();
        assert_eq!(ids(&leased), [a.id.as_str()]);
        other.release_lease(&a.id, "h").unwrap();
        assert!(app.changes_since(leased.seq).unwrap().seq > leased.seq);

        // The warning window moves every account's state; other settings move none.
        let top = app.changes_since(0).unwrap().seq;
        other.set_setting("theme", Some("dark")).unwrap();
        assert_eq!(app.changes_since(top).unwrap().seq, top);
        other
            .set_setting("warning_window_secs", Some("600"))
            .unwrap();
        let window = app.changes_since(top).unwrap();
        assert!(window.every_account && window.accounts.is_empty());

        // A removal is reported (with the account that became active in its place), and the
        // account is gone from a read.
        let top = window.seq;
        other.delete_account(&a.id).unwrap();
        assert_eq!(
            ids(&app.changes_since(top).unwrap()),
            [a.id.as_str(), b.id.as_str()]
        );
        assert!(
            app.watch_some(std::slice::from_ref(&a.id))
                .unwrap()
                .is_empty()
        );
        let (rows, _) = app.watch_all().unwrap();
        assert_eq!(rows.len(), 1);
    }

    /// Accounts from before version 7 carry number 0 and are numbered from their first change.
    #[test]
    fn accounts_from_before_version_7_are_numbered_from_their_next_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let before = migrations::MIGRATIONS
            .iter()
            .position(|m| m.version == migrations::V7.version)
            .unwrap();
        let old = Store::open_with(&path, &migrations::MIGRATIONS[..before]).unwrap();
        let a = old.insert_account(&account("old")).unwrap();
        drop(old);

        let store = Store::open(&path).unwrap();
        assert_eq!(store.changes_since(0).unwrap(), ChangeList::default());
        let (rows, top) = store.watch_all().unwrap();
        assert_eq!((rows.len(), rows[0].seq, top), (1, 0, 0));
        store.save_session(&a.id, &info(), None).unwrap();
        let c = store.changes_since(0).unwrap();
        assert_eq!((ids(&c), c.seq), (vec![a.id.as_str()], 1));
    }
}
