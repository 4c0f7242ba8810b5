//! The event log and the events broadcast to subscribers. No secret ever appears in a message.

use super::*;
use crate::store::Said;

/// What changed, broadcast to the UI.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(rename = "CoreEvent")]
pub enum Event {
    AccountAdded {
        account: String,
    },
    /// State, session, options or the active flag changed.
    AccountChanged {
        account: String,
    },
    AccountRenamed {
        from: String,
        to: String,
    },
    AccountRemoved {
        account: String,
    },
    /// A row was added to the event log.
    Logged {
        event: EventRecord,
    },
    /// The state an account shows changed (a renewal, a failure, or the clock alone: valid →
    /// expiring → expired). Sent by the keep-alive engine.
    StateChanged {
        account: String,
        state: State,
    },
    /// A session was renewed without a person (`how`: `refresh` or `relogin`).
    Refreshed {
        account: String,
        how: String,
        expires_at: Option<DateTime<Utc>>,
    },
    /// A renewal failed. `permanent`: the account needs a login now (the message says why);
    /// otherwise it is tried again at `next_attempt`.
    RefreshFailed {
        account: String,
        permanent: bool,
        message: String,
        next_attempt: Option<DateTime<Utc>>,
        /// Why a person must log in, for a window or notification to say in its language.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        reason: Option<NeedsLoginReason>,
    },
    /// "This session will die in X and cannot be renewed without you": the desktop app turns
    /// it into a notification.
    ExpiringUnattended {
        account: String,
        expires_at: DateTime<Utc>,
        remaining_secs: i64,
        message: String,
    },
}

impl Manager {
    /// The newest `limit` events, newest first; of one account when a name is given.
    pub async fn events(&self, name: Option<&str>, limit: usize) -> Result<Vec<EventRecord>> {
        let id = match name {
            Some(n) => Some(self.account(n).await?.id),
            None => None,
        };
        self.db(move |s| s.events(id.as_deref(), limit)).await
    }

    pub(crate) fn emit_event(&self, event: Event) {
        self.emit(event);
    }

    /// Writes an event row and broadcasts it. A failure to log is reported, never fatal.
    pub(super) async fn log(
        &self,
        account: Option<&Account>,
        kind: &str,
        outcome: &str,
        message: String,
    ) {
        self.write_event(account, kind, outcome, None, message)
            .await;
    }

    /// Writes an event row that says what happened as a code and parameters too (the window
    /// renders those in its language; `message` is the English the CLI prints), and
    /// broadcasts it.
    pub(crate) async fn log_said(
        &self,
        account: Option<&Account>,
        kind: &str,
        outcome: &str,
        said: Said,
        message: String,
    ) {
        self.write_event(account, kind, outcome, Some(said), message)
            .await;
    }

    /// A failed call, said as its error (code, detail, the server's words).
    pub(super) async fn log_error(&self, account: &Account, kind: &str, e: &Error) {
        self.log_said(
            Some(account),
            kind,
            "failed",
            Said::error("error", e),
            e.display_line(),
        )
        .await;
    }

    async fn write_event(
        &self,
        account: Option<&Account>,
        kind: &str,
        outcome: &str,
        said: Option<Said>,
        message: String,
    ) {
        let ids = account.map(|a| (a.id.clone(), a.name.clone()));
        let (kind, outcome) = (kind.to_owned(), outcome.to_owned());
        let at = self.now();
        let written = self
            .db(move |s| {
                let account = ids.as_ref().map(|(id, name)| (id.as_str(), name.as_str()));
                s.add_said_event(account, at, &kind, &outcome, &message, said.as_ref())
            })
            .await;
        match written {
            Ok(event) => self.emit(Event::Logged { event }),
            Err(e) => tracing::warn!(error = %e.message, "cannot write an event"),
        }
    }

    pub(super) fn emit(&self, event: Event) {
        // No receiver is fine (the CLI never subscribes).
        let _ = self.events.send(event);
    }
}
