//! What the CLI prints: human tables (colour only on a terminal, never with NO_COLOR) and the
//! JSON shapes of the contract.

use std::io::IsTerminal;

use chrono::{DateTime, Utc};
use lanyard_core::{AccountView, ServiceSpec, State};
use serde_json::{Value, json};

/// Whether the console shows ANSI colour codes. A Windows console does once its
/// virtual-terminal processing is on, which this turns on (once); a console that cannot (before
/// Windows 10) gets plain text rather than escape codes.
#[cfg(windows)]
pub fn console_shows_colours() -> bool {
    static SHOWS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SHOWS.get_or_init(|| anstyle_query::windows::enable_ansi_colors().unwrap_or(false))
}

#[cfg(not(windows))]
pub fn console_shows_colours() -> bool {
    true
}

pub struct Style {
    colour: bool,
}

impl Style {
    pub fn for_stdout() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            colour: !no_color && std::io::stdout().is_terminal() && console_shows_colours(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn state(&self, state: &State) -> String {
        let code = match state {
            State::Valid => "32",
            State::Expiring
            | State::Refreshing
            | State::Retrying { .. }
            | State::AwaitingChallenge => "33",
            State::NeedsLogin { .. } => "31",
            State::SignedOut => "2",
        };
        self.paint(code, state.name())
    }
}

/// `list --json`: at least name, service, user, endpoint, active, state, expires_at,
/// refresh_expires_at (RFC 3339 or null).
pub fn account_json(view: &AccountView) -> Value {
    let session = view.session.as_ref();
    let mut value = json!({
        "name": view.account.name,
        "service": view.account.service,
        "user": view.account.user,
        "endpoint": view.account.endpoint,
        "active": view.account.active,
        // The account a service id resolves to (`token <service>`, `exec`, `api`).
        "default_for_service": view.default_for_service,
        "state": view.state.name(),
        "expires_at": session.and_then(|s| s.expires_at).map(rfc3339),
        "refresh_expires_at": session.and_then(|s| s.refresh_expires_at).map(rfc3339),
        "display_name": session.and_then(|s| s.display_name.clone()),
        "last_refresh_at": view.last_refresh_at.map(rfc3339),
        // Password and tokens go unencrypted to another machine (plain http, not loopback).
        "plaintext_remote": view.plaintext_remote,
    });
    match &view.state {
        State::NeedsLogin { reason } => {
            value["reason"] = json!(reason);
        }
        State::Retrying {
            next_attempt,
            attempts,
            last_error,
        } => {
            value["next_attempt"] = json!(rfc3339(*next_attempt));
            value["attempts"] = json!(attempts);
            value["last_error"] = json!(last_error.error_line());
        }
        _ => {}
    }
    value
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// "6d 23h", "42m", "59s"; negative durations as "expired 3m ago".
pub fn time_left(until: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (until - now).num_seconds();
    if secs < 0 {
        format!("expired {} ago", short_duration(-secs))
    } else {
        short_duration(secs)
    }
}

fn short_duration(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

fn state_detail(state: &State, now: DateTime<Utc>) -> Option<String> {
    match state {
        State::NeedsLogin { reason } => Some(reason.describe().to_string()),
        State::Retrying {
            next_attempt,
            last_error,
            ..
        } => Some(format!(
            "{}; next attempt in {}",
            last_error.error_line(),
            time_left(*next_attempt, now)
        )),
        _ => None,
    }
}

/// The human table of `list`.
pub fn accounts_table(views: &[AccountView], now: DateTime<Utc>, style: &Style) -> String {
    if views.is_empty() {
        return "No accounts yet. Add one with `lanyard add <service> --user USER`.\n".to_string();
    }
    let header = [
        "",
        "NAME",
        "SERVICE",
        "USER",
        "ENDPOINT",
        "STATE",
        "EXPIRES IN",
    ];
    let rows: Vec<[String; 7]> = views
        .iter()
        .map(|v| {
            let expires = v
                .session
                .as_ref()
                .and_then(|s| s.expires_at)
                .map(|t| time_left(t, now))
                .unwrap_or_else(|| "-".into());
            [
                if v.default_for_service {
                    "**".into()
                } else if v.account.active {
                    "*".into()
                } else {
                    " ".into()
                },
                v.account.name.clone(),
                v.account.service.to_string(),
                v.account.user.clone(),
                v.account.endpoint.clone(),
                v.state.name().to_string(),
                expires,
            ]
        })
        .collect();
    let mut widths = header.map(display_width);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(display_width(cell));
        }
    }
    let mut out = String::new();
    push_row(&mut out, &header.map(String::from), &widths, |_, c| {
        c.to_string()
    });
    for (row, view) in rows.iter().zip(views) {
        push_row(&mut out, row, &widths, |i, c| {
            if i == 5 {
                style.state(&view.state)
            } else {
                c.to_string()
            }
        });
    }
    out.push_str(
        "** the account a service id stands for (chosen last with `use`)   * active account of its service endpoint\n",
    );
    out
}

fn push_row(
    out: &mut String,
    cells: &[String; 7],
    widths: &[usize; 7],
    paint: impl Fn(usize, &str) -> String,
) {
    let last = cells.len() - 1;
    for (i, cell) in cells.iter().enumerate() {
        out.push_str(&paint(i, cell));
        if i < last {
            out.push_str(&" ".repeat(widths[i] - display_width(cell) + 2));
        }
    }
    out.push('\n');
}

/// Terminal columns taken by a string: CJK characters take two.
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

fn is_wide(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// `status`: one line per account.
pub fn status_lines(views: &[AccountView], now: DateTime<Utc>, style: &Style) -> String {
    let mut out = String::new();
    for v in views {
        let mut line = format!("{}: {}", v.account.name, style.state(&v.state));
        if let Some(expires) = v.session.as_ref().and_then(|s| s.expires_at) {
            line.push_str(&format!(", {} left", time_left(expires, now)));
        }
        if let Some(detail) = state_detail(&v.state, now) {
            line.push_str(&format!(" ({detail})"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

pub fn services_text(specs: &[&ServiceSpec]) -> String {
    let mut out = String::new();
    for spec in specs {
        out.push_str(&format!("{} — {}\n", spec.id, spec.description));
        out.push_str(&format!("  user:     {}\n", spec.user_label));
        match spec.default_endpoint {
            Some(default) => out.push_str(&format!(
                "  endpoint: {} (default {default})\n",
                spec.endpoint_help
            )),
            None => out.push_str(&format!("  endpoint: {} (required)\n", spec.endpoint_help)),
        }
        for option in spec.options {
            let mut line = format!("  --opt {}=…", option.key);
            if let Some(default) = option.default {
                line.push_str(&format!(" (default {default})"));
            }
            if option.secret {
                line.push_str(" [secret]");
            }
            out.push_str(&format!("{line}\n      {}\n", option.help));
        }
        let c = spec.capabilities;
        let caps: Vec<&str> = [
            (c.refresh, "refresh"),
            (c.validate, "validate"),
            (c.logout, "logout"),
            (c.captcha, "captcha"),
            (c.second_factor, "second factor"),
            (c.code_login, "code login"),
            (c.expires, "expiring sessions"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        out.push_str(&format!(
            "  can:      {}\n  token:    {}\n\n",
            caps.join(", "),
            spec.token_form
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use lanyard_core::model::Said;

    #[test]
    fn time_left_reads_naturally() {
        let now = Utc::now();
        assert_eq!(time_left(now + TimeDelta::seconds(42), now), "42s");
        assert_eq!(time_left(now + TimeDelta::minutes(42), now), "42m");
        assert_eq!(time_left(now + TimeDelta::minutes(125), now), "2h 5m");
        assert_eq!(
            time_left(now + TimeDelta::hours(24 * 6 + 23), now),
            "6d 23h"
        );
        assert_eq!(
            time_left(now - TimeDelta::minutes(3), now),
            "expired 3m ago"
        );
    }

    #[test]
    fn a_retry_reason_is_printed_in_english_from_its_code_and_parameters() {
        let now = Utc::now();
        let retrying = |last_error: Said| State::Retrying {
            next_attempt: now + TimeDelta::minutes(5),
            attempts: 2,
            last_error,
        };
        let coded = Said::new("error")
            .with("error", "server_error")
            .with("detail", "x.example answered HTTP 502 Bad Gateway")
            .with("server", "upstream down");
        assert_eq!(
            state_detail(&retrying(coded), now).unwrap(),
            "x.example answered HTTP 502 Bad Gateway (server said: upstream down); next attempt in 5m"
        );
        // A reason stored before reasons had codes: its words, verbatim.
        assert_eq!(
            state_detail(
                &retrying(Said::uncoded("x.example: connection refused")),
                now
            )
            .unwrap(),
            "x.example: connection refused; next attempt in 5m"
        );
    }

    #[test]
    fn chinese_names_take_two_columns() {
        assert_eq!(display_width("演示"), 4);
        assert_eq!(display_width("demo"), 4);
    }
}
