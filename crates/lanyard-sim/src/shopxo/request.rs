//! One `api.php` request: parsing (`$_REQUEST` vs ThinkPHP `input()`), the per-request
//! PHP state, routing to an action and writing the answer with ShopXO's cookies.

use super::*;

// ---------------------------------------------------------------------------------------------
// Requests

pub(super) struct Req {
    pub(super) controller: String,
    pub(super) action: String,
    /// PHP `$_REQUEST`: query + form-encoded POST fields.
    pub(super) request: HashMap<String, String>,
    /// ThinkPHP `input()`: query + POST body (form or JSON).
    pub(super) input: HashMap<String, String>,
    pub(super) cookies: HashMap<String, String>,
    /// `http://host:port`, for avatar URLs.
    pub(super) base_url: String,
}

impl Req {
    pub(super) fn parse(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Req {
        let query = parse_query(uri.query().unwrap_or(""));
        let mut request: HashMap<String, String> = HashMap::new();
        let mut input: HashMap<String, String> = HashMap::new();
        let mut s = String::new();
        for (k, v) in &query {
            if k == "s" {
                s = v.clone();
            }
            request.insert(k.clone(), v.clone());
            input.insert(k.clone(), v.clone());
        }
        let ctype = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let has_body = matches!(
            *method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        );
        if has_body && ctype.starts_with("application/x-www-form-urlencoded") {
            for (k, v) in parse_query(&String::from_utf8_lossy(body)) {
                if *method == Method::POST {
                    request.insert(k.clone(), v.clone());
                }
                input.insert(k, v);
            }
        } else if has_body
            && ctype.contains("json")
            && let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body)
        {
            for (k, v) in m {
                let v = match v {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(true) => "1".into(),
                    Value::Bool(false) | Value::Null => String::new(),
                    _ => continue,
                };
                input.insert(k, v);
            }
        }
        let cookies = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| {
                let (k, v) = kv.trim().split_once('=')?;
                Some((k.to_owned(), urldecode(v)))
            })
            .collect();
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1");
        // `s=user/login`, `/user/login`, `user/login.html` → ("user", "login").
        let s = s.trim_matches('/');
        let s = s.strip_suffix(".html").unwrap_or(s);
        let mut seg = s.split('/');
        let controller = seg
            .next()
            .filter(|c| !c.is_empty())
            .unwrap_or("index")
            .to_ascii_lowercase();
        let action = seg
            .next()
            .filter(|a| !a.is_empty())
            .unwrap_or("index")
            .to_ascii_lowercase();
        Req {
            controller,
            action,
            request,
            input,
            cookies,
            base_url: format!("http://{host}"),
        }
    }

    /// An `input()` parameter ("" when absent).
    pub(super) fn param(&self, k: &str) -> &str {
        self.input.get(k).map(String::as_str).unwrap_or("")
    }
    pub(super) fn request_or(&self, k: &str, default: &'static str) -> String {
        match self.request.get(k) {
            Some(v) if !v.is_empty() => v.clone(),
            _ => default.to_owned(),
        }
    }
    /// `APPLICATION == 'app'`
    pub(super) fn is_app(&self) -> bool {
        self.request.get("application").map(String::as_str) == Some("app")
    }
    /// `APPLICATION_CLIENT_TYPE`
    pub(super) fn client_type(&self) -> String {
        self.request_or("application_client_type", "pc")
    }
    /// `SYSTEM_TYPE`
    pub(super) fn system_type(&self) -> String {
        self.request_or("system_type", "default")
    }
    pub(super) fn msg(&self, zh: &str) -> String {
        if self.param("lang") == "en" {
            english(zh).unwrap_or_else(|| zh.to_owned())
        } else {
            zh.to_owned()
        }
    }
    pub(super) fn fail(&self, zh: &str, code: i64) -> Php {
        fail(self.msg(zh), code)
    }
}

/// Per-request PHP state set up by `SystemService::BaseInit`.
pub(super) struct Ctx {
    pub(super) now: i64,
    pub(super) sessid: String,
    pub(super) uuid: String,
    /// Cookies an action sets (between `user_token_data` and `PHPSESSID`).
    pub(super) extra_cookies: Vec<String>,
}

pub(super) enum Answer {
    /// `ApiDataReturn`: `application/json`, raw UTF-8, cookies.
    Json(Php),
    /// `IsLogin()`'s `exit(json_encode(...))`: `text/html`, ASCII-escaped, no cookies.
    Guard(Php),
    /// The captcha GIF, served (like the real server) as `text/html; charset=utf-8`.
    Gif(Vec<u8>),
    /// The `svg_captcha` switch: an SVG captcha with a script, as `image/svg+xml`.
    Svg(String),
}

/// Who is logged in for this request, and through which token.
#[derive(Debug, Clone)]
pub(super) struct Auth {
    pub(super) user_id: u64,
    pub(super) token: String,
    pub(super) system_type: String,
    pub(super) platform: String,
}

// ---------------------------------------------------------------------------------------------
// The api.php entry point

pub(super) async fn api(
    State(sx): State<Arc<Sx>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = Req::parse(&method, &uri, &headers, &body);
    sx.shared
        .stats
        .hit(&format!("shopxo.{}.{}", req.controller, req.action));
    let now = sx.shared.clock.unix();
    let mut db = sx.db();
    let mut ctx = base_init(&mut db, &req, now);
    let answer = dispatch(&mut db, &req, &mut ctx);
    drop(db);
    respond(&req, &ctx, answer)
}

/// `SystemService::BaseInit`: PHP session and the client `uuid`.
pub(super) fn base_init(db: &mut Db, req: &Req, now: i64) -> Ctx {
    db.prune_sessions(now);
    let sessid = req
        .cookies
        .get("PHPSESSID")
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_alphanumeric()))
        .cloned()
        .unwrap_or_else(|| random_hex(16));
    let session = db.sessions.entry(sessid.clone()).or_default();
    session.seen = now;
    // The plain `uuid` cookie is ignored: the server reads it back through a decrypting
    // cookie helper, so it never matches (observed).
    let uuid = match req.param("uuid") {
        u if !u.is_empty() => u.to_owned(),
        _ if !session.uuid.is_empty() => session.uuid.clone(),
        _ => new_uuid(),
    };
    session.uuid = uuid.clone();
    Ctx {
        now,
        sessid,
        uuid,
        extra_cookies: Vec::new(),
    }
}

pub(super) fn respond(req: &Req, ctx: &Ctx, answer: Answer) -> Response {
    let (ctype, body, cookies) = match answer {
        Answer::Guard(v) => (
            "text/html; charset=UTF-8",
            v.encode(true).into_bytes(),
            false,
        ),
        Answer::Json(v) => (
            "application/json; charset=utf-8",
            v.encode(false).into_bytes(),
            true,
        ),
        Answer::Gif(b) => ("text/html; charset=utf-8", b, true),
        Answer::Svg(svg) => ("image/svg+xml", svg.into_bytes(), true),
    };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if cookies {
        let mut set = vec![format!("uuid={}; path=/", rawurlencode(&ctx.uuid))];
        let token = req.param("token");
        if !token.is_empty() {
            set.push(format!("user_token_data={}; path=/", rawurlencode(token)));
        }
        set.extend(ctx.extra_cookies.iter().cloned());
        let expires = DateTime::from_timestamp(ctx.now, 0).unwrap_or_default()
            + TimeDelta::seconds(SESSION_SECS);
        set.push(format!(
            "PHPSESSID={}; expires={}; Max-Age={SESSION_SECS}; path=/",
            ctx.sessid,
            expires.format("%a, %d %b %Y %H:%M:%S GMT")
        ));
        for c in set {
            if let Ok(v) = HeaderValue::from_str(&c) {
                h.append(header::SET_COOKIE, v);
            }
        }
    }
    resp
}

pub(super) fn dispatch(db: &mut Db, req: &Req, ctx: &mut Ctx) -> Answer {
    let unknown_action = || Answer::Json(fail(format!("非法访问({})", req.action), -1000));
    match req.controller.as_str() {
        "user" => match req.action.as_str() {
            "login" => Answer::Json(user_login(db, req, ctx)),
            "reg" => Answer::Json(user_reg(db, req, ctx)),
            "userverifyentry" => user_verify_entry(db, req, ctx),
            "loginverifysend" => Answer::Json(login_verify_send(db, req, ctx)),
            "tokenuserinfo" => Answer::Json(token_user_info(db, req)),
            "center" => Answer::Json(user_center(db, req, ctx)),
            _ => unknown_action(),
        },
        // Controllers whose constructor calls IsLogin(): the guard runs before the action.
        "personal" | "useraddress" | "order" | "cart" => {
            let Some(auth) = login_user(db, req, ctx) else {
                return Answer::Guard(req.fail(MSG_NOT_LOGGED_IN, -400));
            };
            match (req.controller.as_str(), req.action.as_str()) {
                ("personal", "index") => Answer::Json(personal_index(db, req, &auth)),
                _ => unknown_action(),
            }
        }
        "base" => match req.action.as_str() {
            "common" => Answer::Json(base_common(db, req)),
            _ => unknown_action(),
        },
        "index" => match req.action.as_str() {
            "index" => Answer::Json(ret(MSG_SUCCESS, 0, Php::from(""))),
            _ => unknown_action(),
        },
        other => Answer::Json(fail(format!("控制器不存在({other})"), -1000)),
    }
}
