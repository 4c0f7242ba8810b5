//! The simulator's `/__sim/*` routes for ShopXO.

use super::*;
use crate::switches::{self, HasSwitches, Switches};

// ---------------------------------------------------------------------------------------------
// Control routes

impl Switches for Config {
    type Patch = ConfigPatch;
    fn apply(&mut self, p: ConfigPatch) -> Result<(), String> {
        if let Some(types) = &p.login_types
            && let Some(bad) = types.iter().find(|t| !LOGIN_TYPES.contains(&t.as_str()))
        {
            return Err(format!("unknown login type {bad:?}"));
        }
        if let Some(v) = p.login_captcha {
            self.login_captcha = v;
        }
        if let Some(v) = p.common_captcha {
            self.common_captcha = v;
        }
        if let Some(v) = p.register_captcha {
            self.register_captcha = v;
        }
        if let Some(v) = p.svg_captcha {
            self.svg_captcha = v;
        }
        if let Some(v) = p.login_types {
            self.login_types = v;
        }
        if let Some(v) = p.verify_interval_secs {
            self.verify_interval_secs = v;
        }
        if let Some(v) = p.verify_expire_secs {
            self.verify_expire_secs = v;
        }
        Ok(())
    }
}

impl HasSwitches for Arc<Sx> {
    type Switches = Config;
    fn with_switches<R>(&self, change: impl FnOnce(&mut Config) -> R) -> (R, Value) {
        let mut db = self.db();
        let result = change(&mut db.cfg);
        (result, switches::shown(&db.cfg))
    }
}

pub(super) fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, axum::Json(json!({ "error": what }))).into_response()
}

#[derive(Deserialize)]
pub(super) struct CaptchaQuery {
    pub(super) key: Option<String>,
    #[serde(rename = "type")]
    pub(super) ty: Option<String>,
}

/// `GET /__sim/captcha?key=<uuid>[&type=user_login]`: the current answer for that client.
pub(super) async fn sim_captcha(
    State(sx): State<Arc<Sx>>,
    Query(q): Query<CaptchaQuery>,
) -> Response {
    let db = sx.db();
    let found = match q.key {
        None => db.last_captcha.as_ref().and_then(|k| db.captchas.get(k)),
        Some(key) => {
            let ty = q.ty.unwrap_or_else(|| "user_login".into());
            db.captchas.get(&(ty, key.clone())).or_else(|| {
                db.captchas
                    .iter()
                    .filter(|((_, uid), _)| *uid == key)
                    .max_by_key(|(_, c)| c.time)
                    .map(|(_, c)| c)
            })
        }
    };
    match found {
        Some(c) => axum::Json(json!({ "answer": c.answer })).into_response(),
        None => not_found("no captcha for that key"),
    }
}

#[derive(Deserialize)]
pub(super) struct UserQuery {
    pub(super) user: String,
}

/// `GET /__sim/last-code?user=<accounts>`: the last login code sent to that mobile/email (or,
/// by username, to any of that user's addresses).
pub(super) async fn sim_last_code(
    State(sx): State<Arc<Sx>>,
    Query(q): Query<UserQuery>,
) -> Response {
    let db = sx.db();
    let exact = db.last_codes.iter().rev().find(|l| l.accounts == q.user);
    let found = exact.or_else(|| {
        let id = db.find_account("any", &q.user)?;
        let u = db.user(id)?;
        db.last_codes
            .iter()
            .filter(|l| l.accounts == u.mobile || l.accounts == u.email)
            .max_by_key(|l| l.seq)
    });
    match found {
        Some(l) => axum::Json(json!({ "code": l.code, "destination": l.accounts })).into_response(),
        None => not_found("no code sent to that user"),
    }
}

#[derive(Deserialize)]
pub(super) struct UserBody {
    pub(super) user: String,
}

/// `POST /__sim/revoke` (and `/__sim/expire`: ShopXO tokens have no expiry, so "expired" is
/// modelled as the same thing): clears the user's cached tokens and replaces their DB tokens.
pub(super) async fn sim_revoke(
    State(sx): State<Arc<Sx>>,
    axum::Json(b): axum::Json<UserBody>,
) -> Response {
    let now = sx.shared.clock.unix();
    let mut db = sx.db();
    let Some(id) = db.find_account("any", &b.user) else {
        return not_found("unknown user");
    };
    db.revoke(id, now);
    axum::Json(json!({ "user": b.user, "revoked": true })).into_response()
}

#[derive(Deserialize)]
pub(super) struct PasswordBody {
    pub(super) user: String,
    pub(super) password: String,
}

/// `POST /__sim/password`: a new password; existing tokens stay valid, as in ShopXO.
pub(super) async fn sim_password(
    State(sx): State<Arc<Sx>>,
    axum::Json(b): axum::Json<PasswordBody>,
) -> Response {
    let mut db = sx.db();
    let Some(id) = db.find_account("any", &b.user) else {
        return not_found("unknown user");
    };
    if let Some(u) = db.user_mut(id) {
        u.set_password(&b.password);
    }
    axum::Json(json!({ "user": b.user, "changed": true })).into_response()
}
