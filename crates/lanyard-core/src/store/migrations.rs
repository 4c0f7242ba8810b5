//! Versioned schema migrations. The database's `PRAGMA user_version` says which of these ran.
//!
//! Rules: a released migration is never edited, only followed by a new one; each runs in its own
//! `BEGIN IMMEDIATE` transaction together with the `user_version` bump, so a crash or a second
//! process mid-upgrade leaves the file at one version or the next, never in between.

/// One step of the schema's history.
pub struct Migration {
    /// The `user_version` after this step.
    pub version: u32,
    pub description: &'static str,
    pub sql: &'static str,
}

/// Version 1: the first release's schema.
pub const V1: Migration = Migration {
    version: 1,
    description: "accounts, sessions, events, settings",
    sql: r#"
CREATE TABLE accounts (
    id                TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL UNIQUE,
    service           TEXT NOT NULL,
    user              TEXT NOT NULL,
    endpoint          TEXT NOT NULL,
    options           TEXT NOT NULL DEFAULT '{}',   -- JSON object, non-secret options only
    remember_password INTEGER NOT NULL DEFAULT 0,
    active            INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL,
    UNIQUE (service, endpoint, user)
);

-- Non-secret facts of an account's session and its keep-alive state. The tokens themselves
-- live in the secret store. One row per account, created with the account.
CREATE TABLE sessions (
    account_id         TEXT PRIMARY KEY NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    obtained_at        TEXT,
    expires_at         TEXT,
    refresh_expires_at TEXT,
    user_id            TEXT,
    display_name       TEXT,
    extra              TEXT NOT NULL DEFAULT '{}',  -- JSON object, non-secret
    state              TEXT NOT NULL DEFAULT 'signed_out',
    state_reason       TEXT,
    next_attempt       TEXT,
    attempts           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    last_refresh_at    TEXT,
    generation         INTEGER NOT NULL DEFAULT 0   -- bumped by every change of the session
);

-- The log the UI shows. account_id is not a foreign key: the history of a removed account stays.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   TEXT,
    account_name TEXT,
    at           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    message      TEXT NOT NULL
);
CREATE INDEX events_by_account ON events (account_id, id);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
"#,
};

/// Version 2: cross-process single flight and the one-active-account rule in the schema.
pub const V2: Migration = Migration {
    version: 2,
    description: "leases; at most one active account per (service, endpoint) as an index",
    sql: r#"
CREATE TABLE leases (
    account_id TEXT PRIMARY KEY NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Version 1 enforced the rule in code only; keep the oldest active account of each pair.
UPDATE accounts SET active = 0
WHERE active = 1 AND EXISTS (
    SELECT 1 FROM accounts AS other
    WHERE other.active = 1 AND other.service = accounts.service AND other.endpoint = accounts.endpoint
      AND (other.created_at < accounts.created_at
           OR (other.created_at = accounts.created_at AND other.rowid < accounts.rowid))
);
CREATE UNIQUE INDEX accounts_one_active ON accounts (service, endpoint) WHERE active = 1;
"#,
};

/// Version 3: the keep-alive engine's per-account schedule. None of it is secret. A plan is
/// made for one `generation` of the session; any change of the session makes it stale.
pub const V3: Migration = Migration {
    version: 3,
    description: "keep-alive schedule: next check time and kind per account",
    sql: r#"
ALTER TABLE sessions ADD COLUMN next_check_at TEXT;             -- wall-clock deadline (RFC 3339 UTC)
ALTER TABLE sessions ADD COLUMN check_kind TEXT;                -- refresh | relogin | validate | warn | expire
ALTER TABLE sessions ADD COLUMN planned_generation INTEGER;     -- the session generation the plan is for
ALTER TABLE sessions ADD COLUMN warned_for TEXT;                -- expiry an "expiring unattended" warning was given for
ALTER TABLE sessions ADD COLUMN refresh_stalled_for TEXT;       -- expiry a refresh could not move
ALTER TABLE sessions ADD COLUMN relogin_blocked_for TEXT;       -- expiry a silent re-login met a challenge at
CREATE INDEX sessions_next_check ON sessions (next_check_at);
"#,
};

/// Version 4: the names (never the values) of the secret-store keys written for each account,
/// so removing an account deletes every one of them, also options a later version no longer
/// knows. No foreign key: the secrets are written before the account row exists, and the rows
/// must outlive a removal that failed half-way.
pub const V4: Migration = Migration {
    version: 4,
    description: "secret keys written per account",
    sql: r#"
CREATE TABLE secret_keys (
    account_id TEXT NOT NULL,
    key        TEXT NOT NULL,
    PRIMARY KEY (account_id, key)
);
"#,
};

/// Version 5: the user's last choice per service. `use` (or the star in the window) stamps the
/// account with the next number of one counter shared by all accounts; a service id given where
/// a name is expected resolves to the active account with the highest stamp (unstamped ones,
/// like every account before this version, rank by age, oldest first). A counter, not a time:
/// two choices in one clock tick, or a clock set back, still keep their order.
pub const V5: Migration = Migration {
    version: 5,
    description: "the account chosen last per service (use / the star)",
    sql: r#"
ALTER TABLE accounts ADD COLUMN chosen_seq INTEGER;
"#,
};

/// Version 6: what an event-log row says as a code and its parameters (JSON `{code, params}`),
/// so each window renders it in its own language; rows from before keep only their message.
pub const V6: Migration = Migration {
    version: 6,
    description: "event-log rows as a code and parameters",
    sql: r#"
ALTER TABLE events ADD COLUMN said TEXT;
"#,
};

/// Version 7: a change number per account, so the keep-alive engine reads only the accounts
/// that changed since its last look, whichever process changed them. One counter for the whole
/// file: every write of an account, of its session's facts or state, or of its lease (the
/// "refreshing" state) stamps the account's row in `changes` with the counter's next value; so
/// does a change of the warning window (key `''`: every account's shown state moves). Triggers,
/// so that every writer (this build's or an older one's, any process) is counted. The engine's
/// own schedule columns are left out on purpose: writing a plan is not news to the engine.
pub const V7: Migration = Migration {
    version: 7,
    description: "a change number per account for the keep-alive engine",
    sql: r#"
CREATE TABLE changes (
    key TEXT PRIMARY KEY NOT NULL,   -- an account id, or '' for the warning window setting
    seq INTEGER NOT NULL             -- the counter's value at the key's last change
);
CREATE INDEX changes_by_seq ON changes (seq);

CREATE TRIGGER changes_account_insert AFTER INSERT ON accounts BEGIN
    INSERT INTO changes (key, seq) VALUES (NEW.id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM changes))
    ON CONFLICT (key) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER changes_account_update AFTER UPDATE ON accounts BEGIN
    INSERT INTO changes (key, seq) VALUES (NEW.id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM changes))
    ON CONFLICT (key) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER changes_account_delete AFTER DELETE ON accounts BEGIN
    INSERT INTO changes (key, seq) VALUES (OLD.id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM changes))
    ON CONFLICT (key) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER changes_session_update
AFTER UPDATE OF obtained_at, expires_at, refresh_expires_at, user_id, display_name, extra, state,
    state_reason, next_attempt, attempts, last_error, last_refresh_at, generation ON sessions
BEGIN
    INSERT INTO changes (key, seq) VALUES (NEW.account_id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM changes))
    ON CONFLICT (key) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER changes_lease_insert AFTER INSERT ON leases BEGIN
    INSERT INTO changes (key, seq) VALUES (NEW.account_id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM changes))
    ON CONFLICT (key) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER changes_lease_update AFTER UPDATE ON leases BEGIN
    INSERT INTO changes (key, seq) VALUES (NEW.account_id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM changes))
    ON CONFLICT (key) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER changes_lease_delete AFTER DELETE ON leases BEGIN
    INSERT INTO changes (key, seq) VALUES (OLD.account_id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM changes))
    ON CONFLICT (key) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER changes_setting_insert AFTER INSERT ON settings
WHEN NEW.key = 'warning_window_secs' BEGIN
    INSERT INTO changes (key, seq) VALUES ('', (SELECT COALESCE(MAX(seq), 0) + 1 FROM changes))
    ON CONFLICT (key) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER changes_setting_update AFTER UPDATE ON settings
WHEN NEW.key = 'warning_window_secs' OR OLD.key = 'warning_window_secs' BEGIN
    INSERT INTO changes (key, seq) VALUES ('', (SELECT COALESCE(MAX(seq), 0) + 1 FROM changes))
    ON CONFLICT (key) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER changes_setting_delete AFTER DELETE ON settings
WHEN OLD.key = 'warning_window_secs' BEGIN
    INSERT INTO changes (key, seq) VALUES ('', (SELECT COALESCE(MAX(seq), 0) + 1 FROM changes))
    ON CONFLICT (key) DO UPDATE SET seq = excluded.seq;
END;
"#,
};

/// Version 8: a retrying session's last error as a code and parameters (JSON `{code, params}`,
/// like an event row's `said`), so each window words it in its own language. Older rows held an
/// English sentence: it becomes the generic code `failed` with the sentence kept verbatim as
/// the words (`model::Said::uncoded`).
pub const V8: Migration = Migration {
    version: 8,
    description: "a retrying session's last error as a code and parameters",
    sql: r#"
UPDATE sessions
SET last_error = json_object('code', 'failed', 'params', json_object('server', last_error))
WHERE last_error IS NOT NULL;
"#,
};

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[V1, V2, V3, V4, V5, V6, V7, V8];

/// The schema version this build writes.
pub const LATEST: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;
