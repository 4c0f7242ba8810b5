//! What a renewal does next, as a pure function of the facts (the session's times, the
//! service's capabilities, a remembered password, why the renewal runs) and of what the server
//! answered so far: refresh → validation → silent re-login → a person must log in. `renewal.rs`
//! asks the service, stores, logs and emits; it asks [`Decision::next`] which step comes next.

use chrono::{DateTime, Utc};

use super::login::Intent;
use super::settings::warning_window;
use crate::error::ErrorCode;
use crate::keepalive::Renewal;
use crate::model::{Capabilities, NeedsLoginReason, SessionInfo};

/// What a renewal knows before it asks the server anything.
#[derive(Debug, Clone, Copy)]
pub(super) struct Facts {
    pub caps: Capabilities,
    pub intent: Intent,
    /// The session's tokens could be read.
    pub has_session: bool,
    pub has_password: bool,
    pub expired: bool,
    pub refresh_expired: bool,
    /// Inside the warning window before expiry.
    pub near_expiry: bool,
}

impl Facts {
    pub fn new(
        info: &SessionInfo,
        window_setting: Option<i64>,
        now: DateTime<Utc>,
        caps: Capabilities,
        intent: Intent,
        has_session: bool,
        has_password: bool,
    ) -> Facts {
        Facts {
            caps,
            intent,
            has_session,
            has_password,
            expired: info.expires_at.is_some_and(|t| t <= now),
            refresh_expired: info.refresh_expires_at.is_some_and(|t| t <= now),
            near_expiry: info
                .expires_at
                .is_some_and(|t| now >= t - warning_window(info, window_setting)),
        }
    }

    /// Renew now even if the session is not near its end yet.
    fn early(&self) -> bool {
        matches!(self.intent, Intent::Force | Intent::Renew)
    }
}

/// A call to the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    Refresh,
    Validate,
    Relogin,
}

/// What the service answered to the last [`Call`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Heard {
    /// A new session; `later`: its expiry is later than the old one (or one of them is unknown).
    Refreshed { later: bool },
    /// The server accepts the session.
    Valid,
    /// The server refuses the session.
    Invalid(NeedsLoginReason),
    /// The server cannot tell for this kind of token.
    Unverifiable,
    /// A new session from the remembered password.
    LoggedIn,
    /// The login asks for a captcha or a code.
    Challenge,
    /// The call failed with this code.
    Failed(ErrorCode),
}

/// The next thing a renewal does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Next {
    Ask(Call),
    /// Done: store what the last call gave (a refreshed or logged-in session, fresher facts),
    /// or, for `Unattended`, nothing.
    Finish(Renewal),
    /// A transient failure: record a retry and return the error.
    Retry,
    /// Return the last call's error as it is; the session is not known to be lost.
    Fail,
    /// The session is lost: a person must log in.
    NeedsLogin(NeedsLoginReason),
}

/// One renewal's decisions, fed what the server answered.
#[derive(Debug, Clone)]
pub(super) struct Decision {
    facts: Facts,
    /// Why the session cannot be used any more, once that is known.
    lost: Option<NeedsLoginReason>,
    /// A refresh answered without a later expiry (Steedos when its refreshTokens is broken):
    /// a re-login is the way to renew.
    refresh_stalled: bool,
}

impl Decision {
    pub fn new(facts: Facts) -> Decision {
        Decision {
            facts,
            lost: (!facts.has_session).then_some(NeedsLoginReason::Revoked),
            refresh_stalled: false,
        }
    }

    /// The first step.
    pub fn start(&mut self) -> Next {
        let f = self.facts;
        // 1. Refresh, where the service can (a scheduled validation only when the session is
        //    at its end anyway).
        if f.has_session
            && f.caps.refresh
            && (f.intent != Intent::Validate || f.expired || f.near_expiry)
        {
            if !f.refresh_expired {
                return Next::Ask(Call::Refresh);
            }
            self.lost = Some(NeedsLoginReason::RefreshTokenExpired);
        }
        self.after_refresh()
    }

    /// The step after the service answered `heard` to `call`.
    pub fn next(&mut self, call: Call, heard: Heard) -> Next {
        let f = self.facts;
        match (call, heard) {
            (Call::Refresh, Heard::Refreshed { later }) => {
                if later || !f.has_password || !(f.early() || f.expired || f.near_expiry) {
                    return Next::Finish(Renewal::Renewed);
                }
                self.refresh_stalled = true;
                self.after_refresh()
            }
            // Treated like a service without refresh.
            (Call::Refresh, Heard::Failed(ErrorCode::Unsupported)) => self.after_refresh(),
            (Call::Refresh, Heard::Failed(code)) if code.is_transient() => Next::Retry,
            (Call::Refresh, Heard::Failed(code)) => {
                self.lost = Some(if code == ErrorCode::NeedsLogin {
                    NeedsLoginReason::RefreshTokenExpired
                } else {
                    NeedsLoginReason::Revoked
                });
                self.after_refresh()
            }

            (Call::Validate, Heard::Valid) => Next::Finish(Renewal::Validated),
            (Call::Validate, Heard::Invalid(reason)) => {
                self.lost = Some(reason);
                self.relogin()
            }
            // Not a revocation: the session stays until its known expiry.
            (Call::Validate, Heard::Unverifiable | Heard::Failed(ErrorCode::Unsupported)) => {
                Next::Finish(Renewal::Unattended)
            }
            (Call::Validate, Heard::Failed(code)) if code.is_transient() => Next::Retry,
            (
                Call::Validate,
                Heard::Failed(ErrorCode::NeedsLogin | ErrorCode::CredentialsRejected),
            ) => {
                self.lost = Some(NeedsLoginReason::Revoked);
                self.relogin()
            }
            (Call::Validate, Heard::Failed(_)) => Next::Fail,

            (Call::Relogin, Heard::LoggedIn) => Next::Finish(Renewal::Relogged),
            // An early renewal met a person's step: the session still works; keep it and let
            // keep-alive warn before it ends.
            (Call::Relogin, Heard::Challenge) if self.lost.is_none() && !f.expired => {
                Next::Finish(Renewal::Unattended)
            }
            (Call::Relogin, Heard::Challenge) => {
                Next::NeedsLogin(NeedsLoginReason::ChallengeRequired)
            }
            (Call::Relogin, Heard::Failed(code)) if code.is_transient() => Next::Retry,
            (Call::Relogin, Heard::Failed(code)) => match (code, self.lost.clone()) {
                (ErrorCode::CredentialsRejected, _) => {
                    Next::NeedsLogin(NeedsLoginReason::PasswordChanged)
                }
                (ErrorCode::ChallengeFailed, _) => {
                    Next::NeedsLogin(NeedsLoginReason::ChallengeRequired)
                }
                (ErrorCode::NeedsLogin, known) => {
                    Next::NeedsLogin(known.unwrap_or(NeedsLoginReason::Revoked))
                }
                (_, Some(known)) => Next::NeedsLogin(known),
                // The session is not known to be lost (it was only due): keep it.
                (_, None) => Next::Fail,
            },

            // An answer that does not belong to the call: nothing is known to be lost.
            _ => Next::Fail,
        }
    }

    /// 2. No refresh (or it did not renew): re-login when due and a password is remembered;
    ///    otherwise ask the server whether the session still works (services without expiry,
    ///    forced checks).
    fn after_refresh(&mut self) -> Next {
        let f = self.facts;
        if f.has_session && self.lost.is_none() {
            let relogin_now =
                f.has_password && (f.expired || f.near_expiry || f.early() || self.refresh_stalled);
            if !relogin_now {
                if f.expired {
                    self.lost = Some(NeedsLoginReason::Expired);
                } else if !f.caps.validate {
                    // Still valid and nothing can renew it unattended: nothing to do yet.
                    return Next::Finish(Renewal::Unattended);
                } else {
                    return Next::Ask(Call::Validate);
                }
            }
        }
        self.relogin()
    }

    /// 3. Silent re-login with the remembered password; 4. else a person must log in.
    fn relogin(&mut self) -> Next {
        if self.facts.has_password {
            Next::Ask(Call::Relogin)
        } else {
            Next::NeedsLogin(self.lost.clone().unwrap_or(NeedsLoginReason::Expired))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NeedsLoginReason as R;

    fn caps(refresh: bool, validate: bool) -> Capabilities {
        Capabilities {
            refresh,
            validate,
            logout: false,
            captcha: false,
            second_factor: false,
            code_login: false,
            expires: true,
        }
    }

    /// A session that works, is not near its end, with a refresh token and a password.
    fn facts() -> Facts {
        Facts {
            caps: caps(true, true),
            intent: Intent::OnDemand,
            has_session: true,
            has_password: true,
            expired: false,
            refresh_expired: false,
            near_expiry: false,
        }
    }

    /// Runs a renewal whose calls are answered in turn by `answers`; returns the calls made
    /// and where it ended.
    fn run(f: Facts, answers: &[Heard]) -> (Vec<Call>, Next) {
        let mut d = Decision::new(f);
        let mut next = d.start();
        let mut calls = vec![];
        let mut answers = answers.iter();
        while let Next::Ask(call) = next {
            calls.push(call);
            let heard = answers
                .next()
                .unwrap_or_else(|| panic!("no answer for {call:?} after {calls:?}"))
                .clone();
            next = d.next(call, heard);
        }
        assert!(answers.next().is_none(), "answers left over: {calls:?}");
        (calls, next)
    }

    use Call::{Refresh, Relogin, Validate};
    use Heard::{Challenge, Failed, Invalid, LoggedIn, Refreshed, Unverifiable, Valid};

    /// What, the facts, the server's answers in turn, the calls made, where it ends.
    type Case = (&'static str, Facts, Vec<Heard>, Vec<Call>, Next);

    #[test]
    fn the_table() {
        let f = facts();
        let near = Facts {
            near_expiry: true,
            ..f
        };
        let expired = Facts {
            expired: true,
            near_expiry: true,
            ..f
        };
        let no_password = Facts {
            has_password: false,
            ..f
        };
        let no_refresh = Facts {
            caps: caps(false, true),
            ..f
        };
        let planned_validation = Facts {
            intent: Intent::Validate,
            ..f
        };
        let cases: Vec<Case> = vec![
            (
                "a refresh that gives a later expiry is kept",
                f,
                vec![Refreshed { later: true }],
                vec![Refresh],
                Next::Finish(Renewal::Renewed),
            ),
            (
                "a refresh without a later expiry is kept when nothing is due",
                f,
                vec![Refreshed { later: false }],
                vec![Refresh],
                Next::Finish(Renewal::Renewed),
            ),
            (
                "a stalled refresh near expiry logs in again with the password",
                near,
                vec![Refreshed { later: false }, LoggedIn],
                vec![Refresh, Relogin],
                Next::Finish(Renewal::Relogged),
            ),
            (
                "a stalled refresh without a password is kept",
                Facts {
                    near_expiry: true,
                    ..no_password
                },
                vec![Refreshed { later: false }],
                vec![Refresh],
                Next::Finish(Renewal::Renewed),
            ),
            (
                "a transient refresh failure is retried later",
                f,
                vec![Failed(ErrorCode::Network)],
                vec![Refresh],
                Next::Retry,
            ),
            (
                "a refused refresh token: re-login with the password",
                f,
                vec![Failed(ErrorCode::NeedsLogin), LoggedIn],
                vec![Refresh, Relogin],
                Next::Finish(Renewal::Relogged),
            ),
            (
                "a refused refresh token and no password: refresh token expired",
                no_password,
                vec![Failed(ErrorCode::NeedsLogin)],
                vec![Refresh],
                Next::NeedsLogin(R::RefreshTokenExpired),
            ),
            (
                "another refresh error and no password: revoked",
                no_password,
                vec![Failed(ErrorCode::InvalidInput)],
                vec![Refresh],
                Next::NeedsLogin(R::Revoked),
            ),
            (
                "an unsupported refresh falls through to validation",
                no_password,
                vec![Failed(ErrorCode::Unsupported), Valid],
                vec![Refresh, Validate],
                Next::Finish(Renewal::Validated),
            ),
            (
                "an expired refresh token skips the refresh",
                Facts {
                    refresh_expired: true,
                    ..no_password
                },
                vec![],
                vec![],
                Next::NeedsLogin(R::RefreshTokenExpired),
            ),
            (
                "an expired refresh token with a password logs in again",
                Facts {
                    refresh_expired: true,
                    ..f
                },
                vec![LoggedIn],
                vec![Relogin],
                Next::Finish(Renewal::Relogged),
            ),
            (
                "a planned validation does not refresh a session far from its end",
                planned_validation,
                vec![Valid],
                vec![Validate],
                Next::Finish(Renewal::Validated),
            ),
            (
                "a planned validation refreshes a session at its end",
                Facts {
                    near_expiry: true,
                    ..planned_validation
                },
                vec![Refreshed { later: true }],
                vec![Refresh],
                Next::Finish(Renewal::Renewed),
            ),
            (
                "without refresh, not due: validate",
                no_refresh,
                vec![Valid],
                vec![Validate],
                Next::Finish(Renewal::Validated),
            ),
            (
                "without refresh, near expiry: re-login",
                Facts {
                    near_expiry: true,
                    ..no_refresh
                },
                vec![LoggedIn],
                vec![Relogin],
                Next::Finish(Renewal::Relogged),
            ),
            (
                "without refresh or validation, not due: unattended, nothing asked",
                Facts {
                    caps: caps(false, false),
                    ..no_password
                },
                vec![],
                vec![],
                Next::Finish(Renewal::Unattended),
            ),
            (
                "expired without refresh or password: expired",
                Facts {
                    expired: true,
                    caps: caps(false, true),
                    ..no_password
                },
                vec![],
                vec![],
                Next::NeedsLogin(R::Expired),
            ),
            (
                "a validation that says revoked, then the password works",
                no_refresh,
                vec![Invalid(R::LoggedInElsewhere), LoggedIn],
                vec![Validate, Relogin],
                Next::Finish(Renewal::Relogged),
            ),
            (
                "a validation that says revoked, no password: that reason",
                Facts {
                    caps: caps(false, true),
                    ..no_password
                },
                vec![Invalid(R::LoggedInElsewhere)],
                vec![Validate],
                Next::NeedsLogin(R::LoggedInElsewhere),
            ),
            (
                "an unverifiable session is kept",
                no_refresh,
                vec![Unverifiable],
                vec![Validate],
                Next::Finish(Renewal::Unattended),
            ),
            (
                "a validation refused as credentials: revoked",
                Facts {
                    caps: caps(false, true),
                    ..no_password
                },
                vec![Failed(ErrorCode::CredentialsRejected)],
                vec![Validate],
                Next::NeedsLogin(R::Revoked),
            ),
            (
                "a validation that failed otherwise returns its error",
                no_refresh,
                vec![Failed(ErrorCode::InvalidInput)],
                vec![Validate],
                Next::Fail,
            ),
            (
                "a transient validation failure is retried",
                no_refresh,
                vec![Failed(ErrorCode::Network)],
                vec![Validate],
                Next::Retry,
            ),
            (
                "an early re-login that meets a challenge keeps the session",
                Facts {
                    intent: Intent::Renew,
                    ..no_refresh
                },
                vec![Challenge],
                vec![Relogin],
                Next::Finish(Renewal::Unattended),
            ),
            (
                "an expired session whose re-login meets a challenge needs a person",
                Facts {
                    caps: caps(false, true),
                    ..expired
                },
                vec![Challenge],
                vec![Relogin],
                Next::NeedsLogin(R::ChallengeRequired),
            ),
            (
                "a rejected remembered password: password changed",
                Facts {
                    caps: caps(false, true),
                    ..expired
                },
                vec![Failed(ErrorCode::CredentialsRejected)],
                vec![Relogin],
                Next::NeedsLogin(R::PasswordChanged),
            ),
            (
                "a failed challenge at re-login: challenge required",
                Facts {
                    caps: caps(false, true),
                    ..expired
                },
                vec![Failed(ErrorCode::ChallengeFailed)],
                vec![Relogin],
                Next::NeedsLogin(R::ChallengeRequired),
            ),
            (
                "a re-login error after a known loss keeps that reason",
                expired,
                vec![
                    Failed(ErrorCode::NeedsLogin),
                    Failed(ErrorCode::InvalidInput),
                ],
                vec![Refresh, Relogin],
                Next::NeedsLogin(R::RefreshTokenExpired),
            ),
            (
                "a re-login error when only due returns the error",
                Facts {
                    intent: Intent::Force,
                    ..no_refresh
                },
                vec![Failed(ErrorCode::InvalidInput)],
                vec![Relogin],
                Next::Fail,
            ),
            (
                "a transient re-login failure is retried",
                Facts {
                    caps: caps(false, true),
                    ..expired
                },
                vec![Failed(ErrorCode::Network)],
                vec![Relogin],
                Next::Retry,
            ),
            (
                "no readable session: revoked, re-login with the password",
                Facts {
                    has_session: false,
                    ..f
                },
                vec![LoggedIn],
                vec![Relogin],
                Next::Finish(Renewal::Relogged),
            ),
            (
                "no readable session and no password: revoked",
                Facts {
                    has_session: false,
                    ..no_password
                },
                vec![],
                vec![],
                Next::NeedsLogin(R::Revoked),
            ),
        ];
        for (what, facts, answers, calls, end) in cases {
            assert_eq!(run(facts, &answers), (calls, end), "{what}");
        }
    }

    #[test]
    fn facts_from_the_session_times() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let info = |life_left: i64| SessionInfo {
            obtained_at: Some(now - chrono::Duration::days(10)),
            expires_at: Some(now + chrono::Duration::seconds(life_left)),
            refresh_expires_at: Some(now - chrono::Duration::seconds(1)),
            ..SessionInfo::default()
        };
        let at = |left: i64, setting: Option<i64>| {
            Facts::new(
                &info(left),
                setting,
                now,
                caps(true, true),
                Intent::OnDemand,
                true,
                false,
            )
        };
        let f = at(3600, Some(60));
        assert!(!f.expired && !f.near_expiry && f.refresh_expired);
        assert!(at(30, Some(60)).near_expiry);
        let gone = at(0, Some(60));
        assert!(gone.expired && gone.near_expiry);
        assert!(
            !Facts::new(
                &SessionInfo::default(),
                None,
                now,
                caps(true, true),
                Intent::OnDemand,
                true,
                false
            )
            .near_expiry
        );
    }
}
