//! The simulator's `/__sim/*` routes for ShopXO.

use super::*;

// ---------------------------------------------------------------------------------------------
// Control routes

pub(super) async fn config_get(State(sx): State<Arc<Sx>>) -> Response {
    axum::Json(json!(sx.db().cfg)).into_response()
}

pub(super) async fn config_post(
    State(sx): State<Arc<Sx>>,
    axum::Json(p): axum::Json<ConfigPatch>,
) -> Response {
    let mut db = sx.db();
    if let Some(types) = &p.login_types
        && let Some(bad) = types.iter().find(|t| !LOGIN_TYPES.contains(&t.as_str()))
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": format!("unknown login type {bad:?}") })),
        )
            .into_response();
    }
    let c = &mut db.cfg;
    if let Some(v) = p.login_captcha {
        c.login_captcha = v;
    }
    if let Some(v) = p.common_captcha {
        c.common_captcha = v;
    }
    if let Some(v) = p.register_captcha {
        c.register_captcha = v;
    }
    if let Some(v) = p.svg_captcha {
        c.svg_captcha = v;
    }
    if let Some(v) = p.login_types {
        c.login_types = v;
    }
    if let Some(v) = p.verify_interval_secs {
        c.verify_interval_secs = v;
    }
    if let Some(v) = p.verify_expire_secs {
        c.verify_expire_secs = v;
    }
    axum::Json(json!(db.cfg)).into_response()
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
