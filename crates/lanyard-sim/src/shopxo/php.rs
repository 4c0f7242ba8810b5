//! PHP as ShopXO runs it: `json_encode` with PHP key order, its URL coding, and the
//! helpers ShopXO builds answers with (number codes, password hashes, tokens, format checks).

use super::*;

// ---------------------------------------------------------------------------------------------
// PHP json_encode

/// A value with PHP's key order, encoded like `json_encode`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Php {
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Php>),
    Obj(Vec<(String, Php)>),
}

impl From<&str> for Php {
    fn from(s: &str) -> Self {
        Php::Str(s.to_owned())
    }
}
impl From<String> for Php {
    fn from(s: String) -> Self {
        Php::Str(s)
    }
}
impl From<&String> for Php {
    fn from(s: &String) -> Self {
        Php::Str(s.clone())
    }
}
impl From<i64> for Php {
    fn from(n: i64) -> Self {
        Php::Int(n)
    }
}
impl From<i32> for Php {
    fn from(n: i32) -> Self {
        Php::Int(n.into())
    }
}
impl From<u64> for Php {
    fn from(n: u64) -> Self {
        Php::Int(n as i64)
    }
}
impl From<bool> for Php {
    fn from(b: bool) -> Self {
        Php::Bool(b)
    }
}
impl From<Vec<Php>> for Php {
    fn from(v: Vec<Php>) -> Self {
        Php::List(v)
    }
}

macro_rules! obj {
    ($($k:expr => $v:expr),* $(,)?) => {
        Php::Obj(vec![$(($k.to_string(), Php::from($v))),*])
    };
}

impl Php {
    /// `json_encode($v, JSON_UNESCAPED_UNICODE)` (ThinkPHP's `json()`) when `ascii` is false,
    /// plain `json_encode($v)` (`\uXXXX` for every non-ASCII character) when true.
    pub(super) fn encode(&self, ascii: bool) -> String {
        let mut out = String::new();
        self.write(&mut out, ascii);
        out
    }

    pub(super) fn write(&self, out: &mut String, ascii: bool) {
        match self {
            Php::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Php::Int(n) => out.push_str(&n.to_string()),
            Php::Str(s) => write_php_str(out, s, ascii),
            Php::List(v) => {
                out.push('[');
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write(out, ascii);
                }
                out.push(']');
            }
            Php::Obj(kv) => {
                out.push('{');
                for (i, (k, x)) in kv.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_php_str(out, k, ascii);
                    out.push(':');
                    x.write(out, ascii);
                }
                out.push('}');
            }
        }
    }
}

pub(super) fn write_php_str(out: &mut String, s: &str, ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            // PHP escapes these two even with JSON_UNESCAPED_UNICODE.
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if ascii && !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `DataReturn($msg, $code, $data)`.
pub(super) fn ret(msg: impl Into<String>, code: i64, data: Php) -> Php {
    obj! { "msg" => msg.into(), "code" => code, "data" => data }
}
pub(super) fn fail(msg: impl Into<String>, code: i64) -> Php {
    ret(msg, code, Php::from(""))
}

/// PHP's `empty()` on a request string.
pub(super) fn php_empty(s: &str) -> bool {
    s.is_empty() || s == "0"
}

// ---------------------------------------------------------------------------------------------
// Helpers: hashing, tokens, formats

/// `GetNumberCode(n)`: n digits, each 1–9 (ShopXO's `rand(1, 9)`).
pub(super) fn number_code(n: usize) -> String {
    captcha::random_answer("123456789", n)
}

/// `LoginPwdEncryption`: `md5(salt . trim(pwd))`.
pub(super) fn pwd_hash(pwd: &str, salt: &str) -> String {
    let trimmed = pwd.trim_matches([' ', '\t', '\n', '\r', '\0', '\x0B']);
    md5_hex(format!("{salt}{trimmed}"))
}

/// `ApiService::CreatedUserToken` with the default rules `2,3,4`.
pub(super) fn make_token(user_id: u64, system_type: &str, platform: &str, now: i64) -> String {
    let parts = format!("{platform}{system_type}{now}{}", number_code(6));
    md5_hex(format!(
        "{}{}",
        md5_hex(md5_hex(parts)),
        md5_hex(user_id.to_string())
    ))
}

/// `^1((3|4|5|6|7|8|9){1}\d{1})\d{8}$`
pub(super) fn check_mobile(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
}

/// ShopXO's `common_regex_email`: `^[_\.0-9a-zA-Z-]+@([0-9a-zA-Z][0-9a-zA-Z-]+\.)+[a-zA-Z]{2,6}$`.
pub(super) fn check_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((tld, rest)) = labels.split_last() else {
        return false;
    };
    let tld_ok = (2..=6).contains(&tld.len()) && tld.chars().all(|c| c.is_ascii_alphabetic());
    let rest_ok = !rest.is_empty()
        && rest.iter().all(|l| {
            l.len() >= 2
                && l.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    local_ok && tld_ok && rest_ok
}

/// `CheckLoginPwd`: `^.{6,18}$` without the `u` flag, so bytes; `.` does not match `\n`.
pub(super) fn check_login_pwd(s: &str) -> bool {
    let s = s.strip_suffix('\n').unwrap_or(s);
    (6..=18).contains(&s.len()) && !s.contains('\n')
}

/// `CheckUserName`: `^[A-Za-z0-9_]{2,18}$`.
pub(super) fn check_username(s: &str) -> bool {
    (2..=18).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `date('Y-m-d H:i:s')` in the server's zone (Asia/Shanghai, as the observed server).
pub(super) fn date_text(ts: i64) -> String {
    let tz = FixedOffset::east_opt(8 * 3600).expect("valid offset");
    DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A UUID-looking id like ShopXO's `UUId()` (8-4-4-4-12 lowercase hex).
pub(super) fn new_uuid() -> String {
    let h = random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// PHP `rawurlencode`, as `setcookie()` encodes values.
pub(super) fn rawurlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// PHP `parse_str` / `$_GET` decoding of one component (`+` is a space).
pub(super) fn urldecode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len()
                && b[i + 1].is_ascii_hexdigit()
                && b[i + 2].is_ascii_hexdigit() =>
            {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn parse_query(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (urldecode(k), urldecode(v)),
            None => (urldecode(p), String::new()),
        })
        .collect()
}
