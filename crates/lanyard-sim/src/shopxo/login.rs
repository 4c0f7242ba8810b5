//! Who is logged in, the image captcha, and the login, code-sending and registration
//! actions.

use super::*;

// ---------------------------------------------------------------------------------------------
// Login state

/// `UserService::LoginUserInfo`: app mode looks the token up in the cache, then the DB; web
/// mode tries the PHP session first.
pub(super) fn login_user(db: &mut Db, req: &Req, ctx: &Ctx) -> Option<Auth> {
    if !req.is_app() {
        let uid = db.sessions.get(&ctx.sessid).and_then(|s| s.user_id);
        if let Some(uid) = uid.filter(|&id| db.user(id).is_some()) {
            let (st, pf) = (req.system_type(), req.client_type());
            let token = db
                .platform(uid, &st, &pf)
                .map(|p| p.token.clone())
                .unwrap_or_default();
            return Some(Auth {
                user_id: uid,
                token,
                system_type: st,
                platform: pf,
            });
        }
    }
    let mut token = req.param("token").to_owned();
    if token.is_empty() && !req.is_app() {
        token = req
            .cookies
            .get("user_token_data")
            .cloned()
            .unwrap_or_default();
    }
    if token.is_empty() {
        return None;
    }
    if let Some(c) = db.cache.get(&token) {
        if db.user(c.user_id).is_some() {
            return Some(Auth {
                user_id: c.user_id,
                token,
                system_type: c.system_type.clone(),
                platform: c.platform.clone(),
            });
        }
        return None;
    }
    let p = db.platform_by_token(&token)?.clone();
    db.user(p.user_id)?;
    db.cache.insert(
        token.clone(),
        Cached {
            user_id: p.user_id,
            system_type: p.system_type.clone(),
            platform: p.platform.clone(),
        },
    );
    Some(Auth {
        user_id: p.user_id,
        token,
        system_type: p.system_type,
        platform: p.platform,
    })
}

/// `ResourcesService::UserUniqueId()`: the logged-in user's id wins, else the client uuid.
pub(super) fn captcha_uid(db: &mut Db, req: &Req, ctx: &Ctx) -> String {
    match login_user(db, req, ctx) {
        Some(a) => format!("user:{}", a.user_id),
        None => ctx.uuid.clone(),
    }
}

/// The user object of `UserHandle` + platform columns (`AppUserInfoHandle`).
pub(super) struct UserView<'a> {
    pub(super) user: &'a User,
    pub(super) system_type: &'a str,
    pub(super) platform: &'a str,
    pub(super) token: &'a str,
    /// The cached-user fallback carries the platform row's `user_id` column.
    pub(super) with_user_id: bool,
    /// Login / register answers end with `is_mandatory_bind_mobile`.
    pub(super) with_mandatory: bool,
}

pub(super) fn user_object(v: &UserView<'_>, base_url: &str) -> Php {
    let u = v.user;
    let avatar = if u.avatar.is_empty() {
        format!("{base_url}/static/common/images/default-user-avatar-md.png")
    } else {
        u.avatar.clone()
    };
    let security = |s: &str| {
        if s.is_empty() {
            String::new()
        } else {
            let chars: Vec<char> = s.chars().collect();
            let head: String = chars.iter().take(3).collect();
            let tail: String = chars[chars.len().saturating_sub(3)..].iter().collect();
            format!("{head}***{tail}")
        }
    };
    let mobile_security = security(&u.mobile);
    let email_security = security(&u.email);
    let name_view = [&u.username, &u.nickname, &mobile_security, &email_security]
        .into_iter()
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_default();
    let gender_text = match u.gender {
        1 => "女",
        2 => "男",
        _ => "保密",
    };
    let mut kv: Vec<(String, Php)> = Vec::with_capacity(44);
    let mut put = |k: &str, x: Php| kv.push((k.to_owned(), x));
    put("id", u.id.into());
    put("number_code", (&u.number_code).into());
    put("status", 0.into());
    put("username", (&u.username).into());
    put("nickname", (&u.nickname).into());
    put("mobile", (&u.mobile).into());
    put("email", (&u.email).into());
    put("gender", u.gender.into());
    put("avatar", avatar.into());
    for k in ["province", "city", "county", "birthday", "address"] {
        put(k, "".into());
    }
    for k in [
        "integral",
        "locking_integral",
        "referrer",
        "is_delete_time",
        "is_logout_time",
    ] {
        put(k, 0.into());
    }
    put("add_time", u.add_time.into());
    put("upd_time", u.upd_time.into());
    if v.with_user_id {
        put("user_id", u.id.into());
    }
    put("system_type", v.system_type.into());
    put("platform", v.platform.into());
    put("token", v.token.into());
    for k in [
        "alipay_openid",
        "weixin_openid",
        "weixin_unionid",
        "weixin_web_openid",
        "baidu_openid",
        "toutiao_openid",
        "toutiao_unionid",
        "qq_openid",
        "qq_unionid",
        "kuaishou_openid",
    ] {
        put(k, "".into());
    }
    put("add_time_text", date_text(u.add_time).into());
    put("upd_time_text", date_text(u.upd_time).into());
    put("gender_text", gender_text.into());
    put("mobile_security", mobile_security.into());
    put("email_security", email_security.into());
    put("address_info", "".into());
    put("user_name_view", name_view.into());
    put("is_setup_pwd", i64::from(!u.pwd.is_empty()).into());
    if v.with_mandatory {
        put("is_mandatory_bind_mobile", 0.into());
    }
    Php::Obj(kv)
}

/// The user object answered by a login / register on the request's platform.
pub(super) fn login_answer(db: &mut Db, req: &Req, ctx: &mut Ctx, user_id: u64, msg: &str) -> Php {
    let (st, pf) = (req.system_type(), req.client_type());
    let token = db.new_token(user_id, &st, &pf, ctx.now);
    let Some(user) = db.user(user_id) else {
        return fail("登录失效，请重新登录", -100);
    };
    let view = UserView {
        user,
        system_type: &st,
        platform: &pf,
        token: &token,
        with_user_id: false,
        with_mandatory: true,
    };
    if req.is_app() {
        return ret(req.msg(msg), 0, user_object(&view, &req.base_url));
    }
    // Web mode: the login lives in the PHP session and a `user_info` cookie.
    let cookie_user = user_object(
        &UserView {
            with_mandatory: false,
            ..view
        },
        &req.base_url,
    );
    ctx.extra_cookies.push(format!(
        "user_info={}; path=/",
        rawurlencode(&cookie_user.encode(false))
    ));
    if let Some(s) = db.sessions.get_mut(&ctx.sessid) {
        s.user_id = Some(user_id);
    }
    ret(
        req.msg(msg),
        0,
        obj! { "body_html" => "", "user_id" => user_id },
    )
}

// ---------------------------------------------------------------------------------------------
// Image captcha

/// `user/userverifyentry`: a fresh 4-digit GIF captcha bound to (type, uid).
pub(super) fn user_verify_entry(db: &mut Db, req: &Req, ctx: &Ctx) -> Answer {
    let ty = match req.param("type") {
        "" => "user_reg".to_owned(),
        t => t.to_owned(),
    };
    let uid = captcha_uid(db, req, ctx);
    let answer = captcha::random_answer(captcha::SHOPXO_DIGITS, 4);
    let image = if db.cfg.svg_captcha {
        Answer::Svg(svg_captcha(&answer))
    } else {
        Answer::Gif(captcha::render_gif(&answer))
    };
    let key = (ty, uid);
    db.captchas.insert(
        key.clone(),
        ImageCaptcha {
            answer,
            time: ctx.now,
        },
    );
    db.last_captcha = Some(key);
    image
}

/// The answer as SVG text, with a script that would run wherever the image is shown inline.
pub(super) fn svg_captcha(answer: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\" height=\"40\">\
         <script>document.title = 'captcha script ran'</script>\
         <text x=\"10\" y=\"28\" font-size=\"24\">{answer}</text></svg>"
    )
}

/// `IsImaVerify`: -10 empty, -11 none/expired, -12 wrong. Ok(key) so the caller can remove it.
pub(super) fn image_verify(
    db: &mut Db,
    req: &Req,
    ctx: &Ctx,
    ty: &str,
) -> Result<(String, String), Php> {
    let verify = req.param("verify");
    if php_empty(verify) {
        return Err(req.fail(MSG_IMG_VERIFY_EMPTY, -10));
    }
    let key = (ty.to_owned(), captcha_uid(db, req, ctx));
    let expire = i64::from(db.cfg.verify_expire_secs);
    match db.captchas.get(&key) {
        Some(c) if ctx.now <= c.time + expire => {
            if c.answer.to_lowercase() == verify.to_lowercase() {
                Ok(key)
            } else {
                Err(req.fail(MSG_VERIFY_WRONG, -12))
            }
        }
        _ => Err(req.fail(MSG_VERIFY_EXPIRED, -11)),
    }
}

// ---------------------------------------------------------------------------------------------
// Login

/// `UserLoginAccountsCheck`: Ok(user id) or the -2/-3 answer.
pub(super) fn accounts_check(db: &Db, req: &Req, ty: &str, accounts: &str) -> Result<u64, Php> {
    let (field, format_ok, format_msg, missing_msg) = match ty {
        "sms" => (
            "mobile",
            check_mobile(accounts),
            MSG_MOBILE_FORMAT,
            MSG_MOBILE_MISSING,
        ),
        "email" => (
            "email",
            check_email(accounts),
            MSG_EMAIL_FORMAT,
            MSG_EMAIL_MISSING,
        ),
        _ => ("any", true, "", MSG_ACCOUNT_MISSING),
    };
    if !format_ok {
        return Err(req.fail(format_msg, -2));
    }
    db.find_account(field, accounts)
        .ok_or_else(|| req.fail(missing_msg, -3))
}

/// `user/login`, in `UserService::Login`'s order.
pub(super) fn user_login(db: &mut Db, req: &Req, ctx: &mut Ctx) -> Php {
    let ty = req.param("type");
    if !LOGIN_TYPES.contains(&ty) {
        return req.fail(MSG_LOGIN_TYPE, -1);
    }
    let accounts = req.param("accounts");
    if php_empty(accounts) {
        return req.fail(MSG_ACCOUNTS_EMPTY, -1);
    }
    if !db.cfg.login_types.iter().any(|t| t == ty) {
        return req.fail(MSG_LOGIN_CLOSED, -1);
    }
    let user_id = match accounts_check(db, req, ty, accounts) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let mut used_captcha = None;
    if ty == "username" {
        if !check_login_pwd(req.param("pwd")) {
            return req.fail(MSG_PWD_FORMAT, -1);
        }
        if db.cfg.login_captcha {
            match image_verify(db, req, ctx, "user_login") {
                Ok(key) => used_captcha = Some(key),
                Err(e) => return e,
            }
        }
    } else {
        // Sms/Email::CheckExpire then CheckCorrect on "user_login_{md5(accounts)}_{ty}_code".
        let key = (ty.to_owned(), accounts.to_owned());
        let expire = i64::from(db.cfg.verify_expire_secs);
        match db.codes.get(&key) {
            Some(c) if ctx.now <= c.time + expire => {}
            _ => return req.fail(MSG_VERIFY_EXPIRED, -10),
        }
        if !check_code(db, &key, req.param("verify")) {
            return req.fail(MSG_VERIFY_WRONG, -11);
        }
    }
    let Some(user) = db.user_mut(user_id) else {
        return req.fail(MSG_ACCOUNT_MISSING, -3);
    };
    if ty == "username" {
        if pwd_hash(req.param("pwd"), &user.salt) != user.pwd {
            return req.fail(MSG_PWD_WRONG, -4);
        }
        // Each password login re-salts the stored hash.
        user.set_password(req.param("pwd"));
    }
    user.upd_time = ctx.now;
    // The image captcha is gone after a successful login; an SMS/email code is not.
    if let Some(key) = used_captcha {
        db.captchas.remove(&key);
    }
    login_answer(db, req, ctx, user_id, MSG_LOGIN_OK)
}

/// `Sms::CheckCorrect` with `SecurityPreventViolence`: every check counts; the check after the
/// sixth wipes the code.
pub(super) fn check_code(db: &mut Db, key: &(String, String), verify: &str) -> bool {
    let Some(c) = db.codes.get_mut(key) else {
        return false;
    };
    let count = c.checks;
    c.checks += 1;
    if count >= CODE_MAX_CHECKS {
        db.codes.remove(key);
        return false;
    }
    !verify.is_empty() && c.code == verify
}

/// `user/loginverifysend`: sends a 4-digit code bound to the account.
pub(super) fn login_verify_send(db: &mut Db, req: &Req, ctx: &Ctx) -> Php {
    let accounts = req.param("accounts");
    if php_empty(accounts) {
        return req.fail(MSG_ACCOUNTS_EMPTY, -1);
    }
    let ty = req.param("type");
    if !LOGIN_TYPES.contains(&ty) {
        return req.fail(MSG_LOGIN_TYPE, -1);
    }
    if !db.cfg.login_types.iter().any(|t| t == ty) {
        return req.fail(MSG_LOGIN_CLOSED, -1);
    }
    let mut used_captcha = None;
    if db.cfg.common_captcha {
        match image_verify(db, req, ctx, "user_login") {
            Ok(key) => used_captcha = Some(key),
            Err(e) => return e,
        }
    }
    if let Err(e) = accounts_check(db, req, ty, accounts) {
        return e;
    }
    if ty == "username" {
        return req.fail(MSG_SEND_UNSUPPORTED, -2);
    }
    let key = (ty.to_owned(), accounts.to_owned());
    let (interval, expire) = (
        i64::from(db.cfg.verify_interval_secs),
        i64::from(db.cfg.verify_expire_secs),
    );
    // IntervalTimeCheck: a stored (unexpired) code younger than the interval blocks a resend.
    if let Some(c) = db.codes.get(&key)
        && ctx.now <= c.time + expire
        && ctx.now <= c.time + interval
    {
        return req.fail(MSG_SEND_TOO_OFTEN, -100);
    }
    let code = number_code(4);
    db.codes.insert(
        key,
        SentCode {
            code: code.clone(),
            time: ctx.now,
            checks: 0,
        },
    );
    db.seq += 1;
    let seq = db.seq;
    db.last_codes.retain(|l| l.accounts != accounts);
    db.last_codes.push(LastCode {
        accounts: accounts.to_owned(),
        code,
        seq,
    });
    if let Some(key) = used_captcha {
        db.captchas.remove(&key);
    }
    ret(req.msg(MSG_SEND_OK), 0, Php::from(""))
}

/// `user/reg` for `type=username` (sms/email registration needs a code from `regverifysend`,
/// which is not simulated, so it ends at "验证码已过期").
pub(super) fn user_reg(db: &mut Db, req: &Req, ctx: &mut Ctx) -> Php {
    let accounts = req.param("accounts");
    if php_empty(accounts) {
        return req.fail(MSG_ACCOUNTS_EMPTY, -1);
    }
    if php_empty(req.param("pwd")) {
        return req.fail("密码不能为空", -1);
    }
    let ty = req.param("type");
    if !LOGIN_TYPES.contains(&ty) {
        return req.fail("注册类型有误", -1);
    }
    match ty {
        "sms" => {
            if !check_mobile(accounts) {
                return req.fail(MSG_MOBILE_FORMAT, -2);
            }
            if db.find_account("mobile", accounts).is_some() {
                return req.fail("手机号码已存在", -3);
            }
            return req.fail(MSG_VERIFY_EXPIRED, -10);
        }
        "email" => {
            if !check_email(accounts) {
                return req.fail(MSG_EMAIL_FORMAT, -2);
            }
            if db.find_account("email", accounts).is_some() {
                return req.fail("电子邮箱已存在", -3);
            }
            return req.fail(MSG_VERIFY_EXPIRED, -10);
        }
        _ => {}
    }
    if !check_username(accounts) {
        return req.fail("用户名格式由 字母数字下划线 2~18 个字符", -2);
    }
    if db.find_account("username", accounts).is_some() {
        return req.fail(&format!("用户已存在[{accounts}]"), -3);
    }
    if db.cfg.register_captcha {
        // Reg checks the image captcha but does not remove it afterwards (only SMS/email codes).
        if let Err(e) = image_verify(db, req, ctx, "user_reg") {
            return e;
        }
    }
    if !check_login_pwd(req.param("pwd")) {
        return req.fail(MSG_PWD_FORMAT, -1);
    }
    let id = db.users.iter().map(|u| u.id).max().unwrap_or(0) + 1;
    let mut user = User {
        id,
        number_code: format!("8888{}", number_code(10)),
        username: accounts.to_owned(),
        nickname: String::new(),
        mobile: String::new(),
        email: String::new(),
        gender: 0,
        avatar: String::new(),
        salt: String::new(),
        pwd: String::new(),
        add_time: ctx.now,
        upd_time: ctx.now,
    };
    user.set_password(req.param("pwd"));
    db.users.push(user);
    if req.is_app() {
        login_answer(db, req, ctx, id, "注册成功")
    } else {
        if let Some(s) = db.sessions.get_mut(&ctx.sessid) {
            s.user_id = Some(id);
        }
        ret(req.msg("注册成功"), 0, obj! { "user_id" => id })
    }
}
