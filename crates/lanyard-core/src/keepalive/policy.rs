//! When to look at an account next, and what to do then: pure functions of the session's facts,
//! the service's capabilities and the clock, so they can be tested without a server.
//!
//! Numbers (the defaults of [`Policy`]):
//! - **Renewal** (refresh token, or silent re-login with the remembered password) at 75–80 % of
//!   the session's lifetime (uniform jitter), never later than the warning window before
//!   expiry, never earlier than half the lifetime (a warning window wider than half the lifetime
//!   would otherwise renew without pause), and never after the refresh token's own expiry minus
//!   the warning window.
//! - **Re-validation** of sessions without expiry (ShopXO), and of sessions whose service asks
//!   for it despite an expiry (Steedos, whose session token has no server-side expiry): every
//!   4 h ± 10 % after the last check.
//! - **Back-off** after a transient failure: 30 s × 2^failures, capped at 1 h, minus up to 20 %
//!   jitter (never above the cap).
//! - **Unattended** sessions (nothing can renew them without a person): one
//!   "expiring unattended" warning when the warning window starts, then a last look at expiry.
//! - No server check of one account is planned closer than 30 s after the previous one.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::model::{Capabilities, SessionInfo};
use crate::store::StoredState;

/// What the engine does when an account's deadline comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// Renew with the refresh token (falls back to a silent re-login where the Manager can).
    Refresh,
    /// Renew by logging in again with the remembered password.
    Relogin,
    /// Ask the server whether the session still works.
    Validate,
    /// Tell the person the session will die and nothing can renew it unattended.
    Warn,
    /// The session reaches its expiry: no server call, the state changes.
    Expire,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Refresh => "refresh",
            CheckKind::Relogin => "relogin",
            CheckKind::Validate => "validate",
            CheckKind::Warn => "warn",
            CheckKind::Expire => "expire",
        }
    }

    pub fn parse(s: &str) -> Option<CheckKind> {
        [
            CheckKind::Refresh,
            CheckKind::Relogin,
            CheckKind::Validate,
            CheckKind::Warn,
            CheckKind::Expire,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether this check talks to the server.
    pub fn contacts_server(self) -> bool {
        matches!(
            self,
            CheckKind::Refresh | CheckKind::Relogin | CheckKind::Validate
        )
    }
}

/// The next check of one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub at: DateTime<Utc>,
    pub kind: CheckKind,
}

/// What a plan depends on.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The service asks to be re-validated on a schedule although its sessions carry an expiry
    /// ([`crate::services::Service::revalidates_despite_expiry`], Steedos).
    pub revalidates_despite_expiry: bool,
    pub caps: Capabilities,
    pub remember_password: bool,
    pub state: &'a StoredState,
    /// `None`: no session.
    pub info: Option<&'a SessionInfo>,
    /// The last renewal or successful validation (or the login).
    pub last_refresh_at: Option<DateTime<Utc>>,
    /// How long before expiry the session shows as `expiring`.
    pub warning_window: TimeDelta,
    /// The expiry an "expiring unattended" warning was already given for.
    pub warned_for: Option<DateTime<Utc>>,
    /// The expiry a refresh was tried at and gave no later one (Steedos when its
    /// `refreshTokens` is broken): refreshing is no way out for that session.
    pub refresh_stalled_for: Option<DateTime<Utc>>,
    /// The expiry a silent re-login was tried at and met a captcha or code: no more tries for
    /// that session (each would send another SMS).
    pub relogin_blocked_for: Option<DateTime<Utc>>,
}

/// The keep-alive numbers. `Default` is what the app uses.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Renew between these fractions of the lifetime (uniform jitter).
    pub refresh_fraction: (f64, f64),
    /// ...but never before this fraction.
    pub min_fraction: f64,
    pub revalidate_every: TimeDelta,
    /// ± this fraction of `revalidate_every`.
    pub revalidate_jitter: f64,
    pub backoff_base: TimeDelta,
    pub backoff_max: TimeDelta,
    /// Up to this fraction is taken off a back-off delay.
    pub backoff_jitter: f64,
    /// No two server checks of one account closer than this.
    pub min_interval: TimeDelta,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            refresh_fraction: (0.75, 0.80),
            min_fraction: 0.5,
            revalidate_every: TimeDelta::hours(4),
            revalidate_jitter: 0.1,
            backoff_base: TimeDelta::seconds(30),
            backoff_max: TimeDelta::hours(1),
            backoff_jitter: 0.2,
            min_interval: TimeDelta::seconds(30),
        }
    }
}

fn scale(d: TimeDelta, f: f64) -> TimeDelta {
    TimeDelta::milliseconds((d.num_milliseconds() as f64 * f).round() as i64)
}

impl Policy {
    /// When to renew a session obtained at `obtained` that expires at `expires`; `u` in [0, 1)
    /// picks the point inside the jitter range.
    pub fn renewal_deadline(
        &self,
        obtained: DateTime<Utc>,
        expires: DateTime<Utc>,
        window: TimeDelta,
        u: f64,
    ) -> DateTime<Utc> {
        let life = expires - obtained;
        if life <= TimeDelta::zero() {
            return expires;
        }
        let (lo, hi) = self.refresh_fraction;
        let frac = lo + (hi - lo) * u.clamp(0.0, 1.0);
        let at = (obtained + scale(life, frac)).min(expires - window);
        at.max(obtained + scale(life, self.min_fraction))
    }

    /// The next re-validation after a check at `base`.
    pub fn revalidation(&self, base: DateTime<Utc>, u: f64) -> DateTime<Utc> {
        let j = self.revalidate_jitter * (2.0 * u.clamp(0.0, 1.0) - 1.0);
        base + scale(self.revalidate_every, 1.0 + j)
    }

    /// The delay before the next attempt after `failures` transient failures in a row (0 for the
    /// first failure): exponential, capped, with up to `backoff_jitter` taken off.
    pub fn backoff(&self, failures: u32, u: f64) -> TimeDelta {
        let factor = 1_i64 << failures.min(30);
        let raw = self
            .backoff_base
            .checked_mul(factor as i32)
            .unwrap_or(self.backoff_max)
            .min(self.backoff_max);
        raw - scale(raw, self.backoff_jitter * u.clamp(0.0, 1.0))
    }

    /// How the session can be renewed without a person, if at all, and by when.
    fn renewal(&self, f: &Facts<'_>, now: DateTime<Utc>, u: f64) -> Option<Plan> {
        let info = f.info?;
        let expires = info.expires_at?;
        let obtained = info
            .obtained_at
            .filter(|o| *o < expires)
            .unwrap_or_else(|| now.min(expires));
        let deadline = self.renewal_deadline(obtained, expires, f.warning_window, u);
        // A deadline not after the session was obtained cannot extend anything (a refresh token
        // that dies first was already used as late as it could be).
        let useful = |at: DateTime<Utc>| at > obtained;
        let refresh_alive = info.refresh_expires_at.is_none_or(|r| r > now);
        if f.caps.refresh && refresh_alive && f.refresh_stalled_for != Some(expires) {
            let at = match info.refresh_expires_at {
                Some(r) => deadline.min(r - f.warning_window),
                None => deadline,
            };
            if useful(at) {
                return Some(Plan {
                    at,
                    kind: CheckKind::Refresh,
                });
            }
        }
        if f.remember_password && f.relogin_blocked_for != Some(expires) && useful(deadline) {
            return Some(Plan {
                at: deadline,
                kind: CheckKind::Relogin,
            });
        }
        None
    }

    /// The next check of an account, or `None` when there is nothing to watch (signed out,
    /// needs a login, or a session that neither expires nor can be checked). `u` in [0, 1) is
    /// the jitter draw.
    pub fn plan(&self, f: &Facts<'_>, now: DateTime<Utc>, u: f64) -> Option<Plan> {
        let info = f.info?;
        let last = f
            .last_refresh_at
            .or(info.obtained_at)
            .unwrap_or(now)
            .min(now);
        let plan = match f.state {
            StoredState::SignedOut | StoredState::NeedsLogin(_) => return None,
            StoredState::Retrying { next_attempt, .. } => {
                let kind = match self.renewal(f, now, u) {
                    Some(p) => p.kind,
                    None if info.expires_at.is_some() && f.caps.refresh => CheckKind::Refresh,
                    None => CheckKind::Validate,
                };
                Some(Plan {
                    at: *next_attempt,
                    kind,
                })
            }
            StoredState::Valid => {
                let validate = f.caps.validate.then(|| Plan {
                    at: self.revalidation(last, u),
                    kind: CheckKind::Validate,
                });
                match info.expires_at {
                    None => validate,
                    Some(expires) => {
                        let announced = f.warned_for == Some(expires);
                        let main = self.renewal(f, now, u).or_else(|| {
                            if !announced && now < expires {
                                // Announce once when the warning window starts...
                                Some(Plan {
                                    at: expires - f.warning_window,
                                    kind: CheckKind::Warn,
                                })
                            } else if !announced || now < expires {
                                // ... then once more when it dies (or only that, when it died
                                // unseen, e.g. while the app was closed).
                                Some(Plan {
                                    at: expires,
                                    kind: CheckKind::Expire,
                                })
                            } else {
                                None
                            }
                        });
                        match (main, validate) {
                            (Some(m), Some(v)) if f.revalidates_despite_expiry && v.at < m.at => {
                                Some(v)
                            }
                            (None, Some(v)) if f.revalidates_despite_expiry => Some(v),
                            (m, _) => m,
                        }
                    }
                }
            }
        }?;
        // Never two server checks closer than `min_interval` (a retry follows its back-off).
        let at = if plan.kind.contacts_server() && !matches!(f.state, StoredState::Retrying { .. })
        {
            plan.at.max(last + self.min_interval)
        } else {
            plan.at
        };
        Some(Plan { at, ..plan })
    }

    /// Why a session cannot be renewed without a person, for the "expiring unattended" warning.
    pub fn unattended_reason(&self, f: &Facts<'_>) -> &'static str {
        let expires = f.info.and_then(|i| i.expires_at);
        let refresh_dies_first = f
            .info
            .and_then(|i| i.refresh_expires_at)
            .zip(expires)
            .is_some_and(|(r, e)| r < e);
        if f.remember_password && expires.is_some() && f.relogin_blocked_for == expires {
            "a silent re-login asks for a captcha or a code"
        } else if f.caps.refresh && expires.is_some() && f.refresh_stalled_for == expires {
            "renewing gives no later expiry and no password is remembered"
        } else if f.caps.refresh && refresh_dies_first {
            "its refresh token expires first and no password is remembered"
        } else {
            "the service cannot renew it and no password is remembered"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NeedsLoginReason, ServiceId};

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    const CAPS: Capabilities = Capabilities {
        refresh: true,
        validate: true,
        logout: true,
        captcha: false,
        second_factor: false,
        code_login: false,
        expires: true,
    };

    fn caps(refresh: bool, validate: bool) -> Capabilities {
        Capabilities {
            refresh,
            validate,
            ..CAPS
        }
    }

    fn info(obtained: DateTime<Utc>, life: TimeDelta) -> SessionInfo {
        SessionInfo {
            obtained_at: Some(obtained),
            expires_at: Some(obtained + life),
            ..Default::default()
        }
    }

    fn facts<'a>(
        service: ServiceId,
        caps: Capabilities,
        remember: bool,
        state: &'a StoredState,
        info: &'a SessionInfo,
    ) -> Facts<'a> {
        Facts {
            revalidates_despite_expiry: service.service().revalidates_despite_expiry(),
            caps,
            remember_password: remember,
            state,
            info: Some(info),
            last_refresh_at: info.obtained_at,
            warning_window: TimeDelta::hours(24),
            warned_for: None,
            refresh_stalled_for: None,
            relogin_blocked_for: None,
        }
    }

    #[test]
    fn renewal_is_at_75_to_80_percent_of_the_lifetime() {
        let p = Policy::default();
        let life = TimeDelta::days(30);
        let window = TimeDelta::hours(24);
        let at = |u| p.renewal_deadline(t0(), t0() + life, window, u);
        assert_eq!(at(0.0), t0() + TimeDelta::hours(540)); // 22.5 days
        assert_eq!(at(1.0), t0() + TimeDelta::days(24));
        assert_eq!(at(0.5), t0() + TimeDelta::hours(558));
        // Every draw stays in the range.
        for i in 0..1000 {
            let d = at(rand::random::<f64>()) - t0();
            assert!(
                d >= TimeDelta::hours(540) && d <= TimeDelta::days(24),
                "draw {i}: {d}"
            );
        }
    }

    #[test]
    fn renewal_is_never_inside_the_warning_window_nor_before_half_life() {
        let p = Policy::default();
        let life = TimeDelta::days(7);
        // A 3-day window: 7 d − 3 d = day 4 comes before the 75 % point (day 5.25).
        assert_eq!(
            p.renewal_deadline(t0(), t0() + life, TimeDelta::days(3), 0.9),
            t0() + TimeDelta::days(4)
        );
        // A window wider than half the lifetime: half-life, not a renewal storm.
        assert_eq!(
            p.renewal_deadline(t0(), t0() + life, TimeDelta::days(6), 0.3),
            t0() + TimeDelta::hours(84)
        );
        // A lifetime already over (or none) renews at expiry.
        assert_eq!(p.renewal_deadline(t0(), t0(), TimeDelta::zero(), 0.5), t0());
    }

    #[test]
    fn revalidation_every_four_hours_plus_minus_ten_percent() {
        let p = Policy::default();
        assert_eq!(p.revalidation(t0(), 0.5), t0() + TimeDelta::hours(4));
        assert_eq!(p.revalidation(t0(), 0.0), t0() + TimeDelta::minutes(216));
        assert_eq!(p.revalidation(t0(), 1.0), t0() + TimeDelta::minutes(264));
        for _ in 0..1000 {
            let d = p.revalidation(t0(), rand::random()) - t0();
            assert!(d >= TimeDelta::minutes(216) && d <= TimeDelta::minutes(264));
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_below() {
        let p = Policy::default();
        let secs = |n, u| p.backoff(n, u).num_milliseconds() as f64 / 1000.0;
        assert_eq!(secs(0, 0.0), 30.0);
        assert_eq!(secs(1, 0.0), 60.0);
        assert_eq!(secs(2, 0.0), 120.0);
        assert_eq!(secs(6, 0.0), 1920.0);
        assert_eq!(secs(7, 0.0), 3600.0, "capped at 1 h");
        assert_eq!(secs(40, 0.0), 3600.0, "no overflow");
        assert_eq!(secs(u32::MAX, 0.0), 3600.0);
        assert_eq!(secs(0, 1.0), 24.0, "at most 20 % off");
        let mut previous_max = 0.0;
        for n in 0..12 {
            for _ in 0..200 {
                let s = secs(n, rand::random());
                let raw = (30.0 * 2f64.powi(n as i32)).min(3600.0);
                assert!(s <= raw && s >= raw * 0.8 - 0.001, "n={n}: {s}");
                assert!(s <= 3600.0);
            }
            let top = secs(n, 0.0);
            assert!(top >= previous_max, "grows until the cap");
            previous_max = top;
        }
    }

    #[test]
    fn coolkit_plans_a_refresh_and_the_refresh_token_expiry_caps_it() {
        let p = Policy::default();
        let valid = StoredState::Valid;
        let mut i = info(t0(), TimeDelta::days(30));
        i.refresh_expires_at = Some(t0() + TimeDelta::days(60));
        let f = facts(ServiceId::Coolkit, CAPS, false, &valid, &i);
        let plan = p.plan(&f, t0(), 0.0).unwrap();
        assert_eq!(plan.kind, CheckKind::Refresh);
        assert_eq!(plan.at, t0() + TimeDelta::hours(540));

        // The rt (not rotated) dies at day 60; the at of a refresh at day 45 lives to day 75:
        // refresh before the rt's own warning window.
        let later = t0() + TimeDelta::days(45);
        let mut i2 = info(later, TimeDelta::days(30));
        i2.refresh_expires_at = Some(t0() + TimeDelta::days(60));
        let f = facts(ServiceId::Coolkit, CAPS, false, &valid, &i2);
        let plan = p.plan(&f, later, 0.0).unwrap();
        assert_eq!(plan.kind, CheckKind::Refresh);
        assert_eq!(plan.at, t0() + TimeDelta::days(59));

        // Refreshed at day 59 without a new rt: refreshing again cannot help; nothing
        // remembered → warn when the window starts.
        let at59 = t0() + TimeDelta::days(59);
        let mut i3 = info(at59, TimeDelta::days(30));
        i3.refresh_expires_at = Some(t0() + TimeDelta::days(60));
        let f = facts(ServiceId::Coolkit, CAPS, false, &valid, &i3);
        let plan = p.plan(&f, at59, 0.0).unwrap();
        assert_eq!(plan.kind, CheckKind::Warn);
        assert_eq!(plan.at, at59 + TimeDelta::days(29));
        // ... or re-login silently when the password is remembered.
        let f = facts(ServiceId::Coolkit, CAPS, true, &valid, &i3);
        let plan = p.plan(&f, at59, 0.0).unwrap();
        assert_eq!(plan.kind, CheckKind::Relogin);
    }

    #[test]
    fn sessions_without_refresh_relogin_or_warn() {
        let p = Policy::default();
        let valid = StoredState::Valid;
        let i = info(t0(), TimeDelta::days(7));
        let sscms = caps(false, true);
        let f = facts(ServiceId::Sscms, sscms, true, &valid, &i);
        let plan = p.plan(&f, t0(), 1.0).unwrap();
        assert_eq!(plan.kind, CheckKind::Relogin);
        assert_eq!(
            plan.at,
            t0() + TimeDelta::hours(134) + TimeDelta::minutes(24)
        ); // 80 %

        let f = facts(ServiceId::Sscms, sscms, false, &valid, &i);
        let plan = p.plan(&f, t0(), 0.5).unwrap();
        assert_eq!(plan.kind, CheckKind::Warn);
        assert_eq!(plan.at, t0() + TimeDelta::days(6));
        // Warned already: only the expiry is left to watch, and nothing once it passed.
        let f = Facts {
            warned_for: i.expires_at,
            ..f
        };
        let plan = p.plan(&f, t0() + TimeDelta::days(6), 0.5).unwrap();
        assert_eq!(
            (plan.kind, plan.at),
            (CheckKind::Expire, t0() + TimeDelta::days(7))
        );
        assert_eq!(p.plan(&f, t0() + TimeDelta::days(8), 0.5), None);
        // Died unseen (the app was closed): no warning any more, only the expiry, once.
        let unseen = Facts {
            warned_for: None,
            ..f
        };
        let plan = p.plan(&unseen, t0() + TimeDelta::days(8), 0.5).unwrap();
        assert_eq!(
            (plan.kind, plan.at),
            (CheckKind::Expire, t0() + TimeDelta::days(7))
        );
    }

    #[test]
    fn sessions_without_expiry_are_revalidated() {
        let p = Policy::default();
        let valid = StoredState::Valid;
        let i = SessionInfo {
            obtained_at: Some(t0()),
            ..Default::default()
        };
        let shopxo = caps(false, true);
        let mut f = facts(ServiceId::Shopxo, shopxo, true, &valid, &i);
        f.last_refresh_at = Some(t0() + TimeDelta::hours(1));
        let plan = p.plan(&f, t0() + TimeDelta::hours(2), 0.5).unwrap();
        assert_eq!(plan.kind, CheckKind::Validate);
        assert_eq!(plan.at, t0() + TimeDelta::hours(5));
        // Neither expiry nor validation: nothing to watch.
        let f = facts(ServiceId::Shopxo, caps(false, false), true, &valid, &i);
        assert_eq!(p.plan(&f, t0(), 0.5), None);
    }

    #[test]
    fn steedos_is_revalidated_and_renewed_before_its_expiry() {
        let p = Policy::default();
        let valid = StoredState::Valid;
        let i = info(t0(), TimeDelta::days(90));
        let f = facts(ServiceId::Steedos, CAPS, true, &valid, &i);
        let plan = p.plan(&f, t0(), 0.5).unwrap();
        assert_eq!(
            (plan.kind, plan.at),
            (CheckKind::Validate, t0() + TimeDelta::hours(4))
        );
        // Near the end (validated an hour ago) the renewal comes first.
        let mut f2 = f;
        f2.last_refresh_at = Some(t0() + TimeDelta::days(69));
        let now = t0() + TimeDelta::days(69) + TimeDelta::hours(1);
        let plan = p.plan(&f2, now, 0.0).unwrap();
        assert_eq!(
            (plan.kind, plan.at),
            (
                CheckKind::Refresh,
                t0() + TimeDelta::days(69) + TimeDelta::seconds(30)
            ),
            "due at day 67.5: right away (30 s after the last check)"
        );
        // A refresh that gave no later expiry is no way out: re-login silently...
        f2.refresh_stalled_for = i.expires_at;
        assert_eq!(p.plan(&f2, now, 0.0).unwrap().kind, CheckKind::Relogin);
        // ... unless that met a captcha or code: then warn, and validation goes on.
        f2.relogin_blocked_for = i.expires_at;
        assert_eq!(p.plan(&f2, now, 0.0).unwrap().kind, CheckKind::Validate);
        assert_eq!(
            p.unattended_reason(&f2),
            "a silent re-login asks for a captcha or a code"
        );
        let late = t0() + TimeDelta::days(89) + TimeDelta::hours(1);
        f2.last_refresh_at = Some(late);
        let plan = p.plan(&f2, late, 0.5).unwrap();
        assert_eq!(
            (plan.kind, plan.at),
            (CheckKind::Warn, t0() + TimeDelta::days(89))
        );
        // Other services with an expiry are not revalidated on a schedule.
        let f4 = facts(ServiceId::Coolkit, CAPS, false, &valid, &i);
        assert_eq!(p.plan(&f4, t0(), 0.5).unwrap().kind, CheckKind::Refresh);
    }

    #[test]
    fn retries_follow_the_stored_next_attempt_and_nothing_is_planned_for_lost_sessions() {
        let p = Policy::default();
        let i = info(t0(), TimeDelta::days(30));
        let next = t0() + TimeDelta::seconds(45);
        let retrying = StoredState::Retrying {
            next_attempt: next,
            attempts: 1,
            last_error: "x".into(),
        };
        let f = facts(ServiceId::Coolkit, CAPS, false, &retrying, &i);
        assert_eq!(
            p.plan(&f, t0() + TimeDelta::seconds(1), 0.5),
            Some(Plan {
                at: next,
                kind: CheckKind::Refresh
            })
        );
        let lost = StoredState::NeedsLogin(NeedsLoginReason::Revoked);
        assert_eq!(
            p.plan(&facts(ServiceId::Coolkit, CAPS, true, &lost, &i), t0(), 0.5),
            None
        );
        let out = StoredState::SignedOut;
        assert_eq!(
            p.plan(&facts(ServiceId::Coolkit, CAPS, true, &out, &i), t0(), 0.5),
            None
        );
    }

    #[test]
    fn server_checks_keep_a_minimum_interval() {
        let p = Policy::default();
        let valid = StoredState::Valid;
        // A 10-second session: renewal would be due after 7.5 s; 30 s apart at the least.
        let i = info(t0(), TimeDelta::seconds(10));
        let f = facts(ServiceId::Sscms, caps(false, true), true, &valid, &i);
        let plan = p.plan(&f, t0(), 0.0).unwrap();
        assert_eq!(plan.at, t0() + TimeDelta::seconds(30));
    }

    #[test]
    fn kinds_round_trip_through_text() {
        for k in [
            CheckKind::Refresh,
            CheckKind::Relogin,
            CheckKind::Validate,
            CheckKind::Warn,
            CheckKind::Expire,
        ] {
            assert_eq!(CheckKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(CheckKind::parse("nope"), None);
    }
}
