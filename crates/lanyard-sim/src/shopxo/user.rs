//! The token endpoints: `user/tokenuserinfo`, `personal/index`, `user/center`,
//! `base/common`.

use super::*;

// ---------------------------------------------------------------------------------------------
// Token endpoints

/// `user/tokenuserinfo`: the DB only, so only a user's *current* tokens are known.
pub(super) fn token_user_info(db: &Db, req: &Req) -> Php {
    let token = req.param("token");
    if token.is_empty() {
        return req.fail("token不能为空", -1);
    }
    let Some(p) = db.platform_by_token(token) else {
        return req.fail("用户信息不存在", -1);
    };
    let Some(user) = db.user(p.user_id) else {
        return req.fail("用户信息不存在", -1);
    };
    let view = UserView {
        user,
        system_type: &p.system_type,
        platform: &p.platform,
        token: &p.token,
        with_user_id: false,
        with_mandatory: false,
    };
    ret(req.msg(MSG_SUCCESS), 0, user_object(&view, &req.base_url))
}

pub(super) fn gender_list(gender: i64) -> Php {
    let item = |id: i64, name: &str| {
        if id == gender {
            obj! { "id" => id, "name" => name, "checked" => true }
        } else {
            obj! { "id" => id, "name" => name }
        }
    };
    Php::List(vec![item(0, "保密"), item(1, "女"), item(2, "男")])
}

/// `personal/index` (behind the guard): the user with the request platform's current row, or
/// (no row for that platform) the cached user the token came from.
pub(super) fn personal_index(db: &Db, req: &Req, auth: &Auth) -> Php {
    let Some(user) = db.user(auth.user_id) else {
        return req.fail(MSG_NOT_LOGGED_IN, -400);
    };
    let (st, pf) = (req.system_type(), req.client_type());
    let view = match db.platform(auth.user_id, &st, &pf) {
        Some(p) => UserView {
            user,
            system_type: &p.system_type,
            platform: &p.platform,
            token: &p.token,
            with_user_id: false,
            with_mandatory: false,
        },
        None => UserView {
            user,
            system_type: &auth.system_type,
            platform: &auth.platform,
            token: &auth.token,
            with_user_id: true,
            with_mandatory: false,
        },
    };
    let data = obj! {
        "data" => user_object(&view, &req.base_url),
        "gender_list" => gender_list(user.gender),
    };
    ret(req.msg(MSG_SUCCESS), 0, data)
}

/// `user/center`: not guarded; zeros and empty strings for guests. The order-status list and
/// the first navigation entries are as observed; the rest of the real page is left out.
pub(super) fn user_center(db: &mut Db, req: &Req, ctx: &Ctx) -> Php {
    let auth = login_user(db, req, ctx);
    let user = auth.as_ref().and_then(|a| db.user(a.user_id));
    let (avatar, nickname, username, name_view) = match user {
        Some(u) => {
            let view = UserView {
                user: u,
                system_type: "",
                platform: "",
                token: "",
                with_user_id: false,
                with_mandatory: false,
            };
            let field = |k: &str| match &user_object(&view, &req.base_url) {
                Php::Obj(kv) => kv
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or(Php::from("")),
                _ => Php::from(""),
            };
            (
                field("avatar"),
                field("nickname"),
                field("username"),
                field("user_name_view"),
            )
        }
        None => ("".into(), "".into(), "".into(), "".into()),
    };
    let statuses: Vec<Php> = [
        ("待确认", 0),
        ("待付款", 1),
        ("待发货", 2),
        ("待收货", 3),
        ("已完成", 4),
        ("已取消", 5),
        ("已关闭", 6),
        ("待评价", 100),
        ("退款/售后", 101),
    ]
    .into_iter()
    .map(|(name, status)| obj! { "name" => name, "status" => status, "count" => 0 })
    .collect();
    let platforms = r#"["ios","android","h5","weixin","alipay","baidu","toutiao","qq","kuaishou"]"#;
    let nav = |id: i64, name: &str, img: &str, event: &str| {
        obj! {
            "id" => id,
            "name" => name,
            "images_url" => format!("{}/static/upload/images/app_center_nav/{img}", req.base_url),
            "event_value" => event,
            "event_type" => 1,
            "desc" => "",
            "platform" => platforms,
        }
    };
    let navigation = vec![
        nav(
            1,
            "我的订单",
            "2019/11/05/1572932149956815.png",
            "/pages/user-order/user-order?id=100",
        ),
        nav(
            2,
            "我的收藏",
            "2019/07/03/1562157390405145.png",
            "/pages/user-favor/user-favor",
        ),
        nav(
            3,
            "我的地址",
            "2019/07/03/1562157391533252.png",
            "/pages/user-address/user-address",
        ),
    ];
    let data = obj! {
        "integral" => 0,
        "avatar" => avatar,
        "nickname" => nickname,
        "username" => username,
        "user_name_view" => name_view,
        "user_order_status" => statuses,
        "user_order_count" => 0,
        "user_goods_favor_count" => 0,
        "user_goods_browse_count" => 0,
        "message_total" => 0,
        "navigation" => navigation,
    };
    ret(req.msg(MSG_SUCCESS), 0, data)
}

/// `base/common`: the switches clients read before logging in.
pub(super) fn base_common(db: &Db, req: &Req) -> Php {
    let cfg = &db.cfg;
    let b = &req.base_url;
    let flag = |on: bool| Php::from(i64::from(on));
    let strings = |v: &[&str]| Php::List(v.iter().map(|s| Php::from(*s)).collect());
    let login_types = Php::List(cfg.login_types.iter().map(Php::from).collect());
    let config = obj! {
        "agreement_userregister_url" =>
            format!("{b}/?s=agreement/index/document/userregister/is_content/1.html"),
        "common_img_verify_state" => flag(cfg.common_captcha),
        "common_register_is_enable_audit" => 0,
        "common_user_verify_bind_mobile_list" => Php::List(vec![]),
        "common_verify_expire_time" => i64::from(cfg.verify_expire_secs),
        "common_verify_interval_time" => i64::from(cfg.verify_interval_secs),
        "home_is_enable_userregister_agreement" => 1,
        "home_search_is_login_required" => strings(&["0"]),
        "home_site_user_register_bg_images" =>
            format!("{b}/static/upload/images/common/2019/05/17/1558025141249118.png"),
        "home_user_login_img_verify_state" => flag(cfg.login_captcha),
        "home_user_login_type" => login_types,
        "home_user_reg_type" => strings(&["username", "sms", "email"]),
        "home_user_register_img_verify_state" => flag(cfg.register_captcha),
    };
    ret(req.msg(MSG_SUCCESS), 0, obj! { "config" => config })
}
