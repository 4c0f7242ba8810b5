//! Checks of what a person types: account names, users, endpoints and service options.

use super::*;
use crate::error::Said;

pub(super) fn check_name(raw: &str, registry: &Registry) -> Result<String> {
    name_checked(raw, registry).map_err(|e| e.for_field("name"))
}

fn name_checked(raw: &str, registry: &Registry) -> Result<String> {
    let name = raw.trim();
    // The English for the CLI, the code (`name.<cause>`) for a window's language.
    let bad = |message: String, cause: &str| {
        Err(Error::invalid_input(message)
            .with_said(Said::new("name").with("cause", cause).with("name", name)))
    };
    if name.is_empty() {
        return bad("an account name cannot be empty".into(), "empty");
    }
    if name.chars().count() > 200 {
        return bad(
            "an account name is limited to 200 characters".into(),
            "too_long",
        );
    }
    if name.chars().any(char::is_control) {
        return bad(
            "an account name cannot contain control characters".into(),
            "control",
        );
    }
    if name.starts_with('-') {
        return bad(
            format!("account name '{name}' cannot start with '-'"),
            "dash",
        );
    }
    if registry.resolve(name).is_ok() {
        return bad(
            format!(
                "'{name}' is a service id (it picks the service's active account); choose another account name"
            ),
            "service_id",
        );
    }
    Ok(name.to_owned())
}

pub(super) fn check_user(raw: &str) -> Result<String> {
    let user = raw.trim();
    let bad = |message: &str, cause: &str| {
        Err(Error::invalid_input(message)
            .for_field("user")
            .with_said(Said::new("user").with("cause", cause)))
    };
    if user.is_empty() {
        return bad("the user cannot be empty", "empty");
    }
    if user.chars().count() > 320 || user.chars().any(char::is_control) {
        return bad(
            "the user must be at most 320 characters, without control characters",
            "too_long",
        );
    }
    Ok(user.to_owned())
}

/// `text` with the password of a `user:password@` part replaced by `***`, for error messages.
fn shown_without_password(text: &str) -> String {
    let Ok(mut url) = Url::parse(&with_assumed_scheme(text)) else {
        return text.to_owned();
    };
    if url.password().is_none() || url.set_password(Some("***")).is_err() {
        return text.to_owned();
    }
    let shown = url.to_string();
    match shown.split_once("://") {
        // Typed without a scheme: shown without the one assumed.
        Some((_, rest)) if !text.contains("://") => rest.to_owned(),
        _ => shown,
    }
}

/// Trims, checks it is an http(s) URL without credentials, query or fragment, and writes it in
/// one canonical form without a trailing `/`. A service's own placeholder
/// ([`crate::services::Service::endpoint_placeholder`], CoolKit's `{region}`) is kept.
pub(crate) fn normalize_endpoint(service: &dyn Service, raw: &str) -> Result<String> {
    const PLACEHOLDER: &str = "lanyard-region-placeholder";
    let placeholder = service.endpoint_placeholder();
    let with_scheme = with_assumed_scheme(raw.trim());
    let trimmed = with_scheme.trim_end_matches('/');
    // What the errors repeat of the endpoint: as typed, but a password in it is not echoed.
    let shown = shown_without_password(raw.trim());
    let bad = |why: &str| {
        Error::invalid_input(format!("invalid endpoint '{shown}': {why}")).for_field("endpoint")
    };
    // The reasons a window words itself (`endpoint.<cause>`).
    let coded = |why: &str, cause: &str| {
        bad(why).with_said(
            Said::new("endpoint")
                .with("cause", cause)
                .with("endpoint", shown.as_str()),
        )
    };
    if trimmed.is_empty() {
        return Err(coded("it is empty", "empty"));
    }
    let probe = match placeholder {
        Some(p) => trimmed.replace(p, PLACEHOLDER),
        None => trimmed.to_owned(),
    };
    let templated = probe != trimmed;
    if probe.contains(['{', '}']) {
        return Err(bad(&match placeholder {
            Some(p) => format!("the only template it may hold is {p}"),
            None => "templates like {region} are for CoolKit endpoints only".to_owned(),
        }));
    }
    let url = Url::parse(&probe)
        .map_err(|e| bad(&format!("{e}; expected an http:// or https:// URL")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(coded("use an http:// or https:// URL", "scheme"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(coded("it has no host", "no_host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(coded(
            "put no user name or password in the URL",
            "credentials",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(coded(
            "it must not have a query (?…) or fragment (#…)",
            "query",
        ));
    }
    let text = url.as_str().trim_end_matches('/').to_owned();
    Ok(match placeholder {
        Some(p) if templated => text.replace(PLACEHOLDER, p),
        _ => text,
    })
}

pub(super) fn option_spec(spec: &ServiceSpec, key: &str) -> Result<&'static OptionSpec> {
    services::option_spec(spec, key).ok_or_else(|| {
        let known: Vec<&str> = services::all_options(spec).map(|o| o.key).collect();
        Error::invalid_input(format!(
            "unknown option '{key}' for {}; it takes: {}",
            spec.display_name,
            known.join(", ")
        ))
        .for_option(key)
    })
}

pub(super) fn check_option_value(
    spec: &ServiceSpec,
    opt: &OptionSpec,
    value: &str,
) -> Result<String> {
    option_value_checked(spec, opt, value).map_err(|e| e.for_option(opt.key))
}

fn option_value_checked(spec: &ServiceSpec, opt: &OptionSpec, value: &str) -> Result<String> {
    let v = if opt.secret {
        value.to_owned()
    } else {
        value.trim().to_owned()
    };
    if v.is_empty() {
        return Err(Error::invalid_input(format!(
            "option '{}' needs a value",
            opt.key
        )));
    }
    match opt.kind {
        OptionKind::Choice(choices) if !choices.contains(&v.as_str()) => {
            Err(Error::invalid_input(format!(
                "option '{}' of {} must be one of: {}",
                opt.key,
                spec.display_name,
                choices.join(", ")
            )))
        }
        OptionKind::Url => {
            // The value is not repeated: the person sees what they typed.
            let url = Url::parse(&v).map_err(|e| {
                Error::invalid_input(format!(
                    "option '{}' must be an http:// or https:// URL ({e})",
                    opt.key
                ))
            })?;
            // Every URL option (proxy, captcha host) is reached over HTTP(S); file://, ftp://
            // or socks:// would fail only at the first login, or do something else entirely.
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty)
            {
                return Err(Error::invalid_input(format!(
                    "option '{}' must be an http:// or https:// URL with a host, not a {}: URL",
                    opt.key,
                    url.scheme()
                )));
            }
            if url.password().is_some() {
                // It would be stored in plain text.
                return Err(Error::invalid_input(format!(
                    "option '{}' must not contain a password (it would be stored in plain text)",
                    opt.key
                )));
            }
            Ok(v.trim_end_matches('/').to_owned())
        }
        _ if !opt.secret && v.chars().any(char::is_control) => Err(Error::invalid_input(format!(
            "option '{}' cannot contain control characters",
            opt.key
        ))),
        // Must exist and hold at least one certificate; kept as an absolute path.
        _ if opt.key == crate::http::CA_FILE_OPTION => crate::http::check_ca_file(&v),
        _ => Ok(v),
    }
}

/// Checks the options against the spec and splits them: non-secret ones (defaults filled in)
/// for the database, secret ones for the secret store.
pub(super) fn split_options(
    spec: &ServiceSpec,
    given: BTreeMap<String, String>,
) -> Result<(BTreeMap<String, String>, BTreeMap<String, SecretString>)> {
    let mut plain = BTreeMap::new();
    let mut secret = BTreeMap::new();
    for (key, value) in given {
        let opt = option_spec(spec, &key)?;
        let value = check_option_value(spec, opt, &value)?;
        if opt.secret {
            secret.insert(key, SecretString::new(value));
        } else {
            plain.insert(key, value);
        }
    }
    for opt in services::all_options(spec) {
        let present = if opt.secret {
            secret.contains_key(opt.key)
        } else {
            plain.contains_key(opt.key)
        };
        if present {
            continue;
        }
        match opt.default {
            Some(d) if !opt.secret => {
                plain.insert(opt.key.to_owned(), d.to_owned());
            }
            _ if opt.required => {
                return Err(Error::invalid_input(format!(
                    "{} needs option '{}' ({}): {}",
                    spec.display_name, opt.key, opt.label, opt.help
                ))
                .for_option(opt.key));
            }
            _ => {}
        }
    }
    Ok((plain, secret))
}

/// An address typed without a scheme gets the one its intent makes clear: plain http for this
/// machine (`localhost:8080`, `127.0.0.1:9000`, `[::1]`), where servers under test and
/// development run without TLS; https for everything else (`shop.example.com`).
fn with_assumed_scheme(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.is_empty() || raw.contains("://") {
        return raw.into();
    }
    let host_port = raw.split('/').next().unwrap_or(raw);
    let host = match host_port.find(']') {
        Some(end) if host_port.starts_with('[') => &host_port[..=end],
        _ => host_port.split(':').next().unwrap_or(host_port),
    }
    .to_ascii_lowercase();
    let loopback = host == "localhost"
        || host.ends_with(".localhost")
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    let scheme = if loopback { "http" } else { "https" };
    format!("{scheme}://{raw}").into()
}
