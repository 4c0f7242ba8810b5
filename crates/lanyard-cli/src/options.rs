//! `--opt KEY=VALUE`, `--opt KEY=@FILE` and `--opt KEY=@-`.
//!
//! Parsed here rather than by clap so that no error repeats what was typed: an option's value
//! may be a secret (CoolKit `appsecret`, SiYuan `api_token`). Secret options never have to be
//! on the command line, where other local users read them in `/proc/*/cmdline` and where they
//! land in shell history: they can come from a file, from one line of stdin, or from a prompt.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;

use lanyard_core::model::{OptionSpec, ServiceSpec};
use lanyard_core::services;
use lanyard_core::{Error, Result};
use zeroize::Zeroizing;

use crate::prompt::Prompter;

/// Where one `--opt` takes its value from.
pub enum Source {
    /// Typed on the command line.
    Inline(String),
    /// `@FILE`: the file's first line.
    File(PathBuf),
    /// `@-`: one line of standard input, before the password.
    Stdin,
}

pub struct Given {
    pub spec: &'static OptionSpec,
    pub source: Source,
}

/// Checks the `--opt` arguments against the service's options, without reading anything yet.
pub fn parse(service: &ServiceSpec, raw: &[String]) -> Result<Vec<Given>> {
    let mut given: Vec<Given> = Vec::new();
    for (i, arg) in raw.iter().enumerate() {
        let nth = ordinal(i + 1);
        let Some((key, value)) = arg.split_once('=') else {
            return Err(missing_equals(service, arg, &nth));
        };
        if key.trim().is_empty() {
            return Err(Error::invalid_input(format!(
                "the {nth} --opt has no option name before '='; write --opt KEY=VALUE"
            )));
        }
        let Some(spec) = services::option_spec(service, key) else {
            return Err(unknown_option(service, key, &nth));
        };
        if given.iter().any(|g| g.spec.key == spec.key) {
            return Err(Error::invalid_input(format!(
                "--opt {} is given more than once",
                spec.key
            )));
        }
        let source = match value.strip_prefix('@') {
            Some("-") => {
                if let Some(other) = given.iter().find(|g| matches!(g.source, Source::Stdin)) {
                    return Err(Error::invalid_input(format!(
                        "only one --opt may read standard input, but {} and {} both use @-",
                        other.spec.key, spec.key
                    )));
                }
                Source::Stdin
            }
            Some("") => {
                return Err(Error::invalid_input(format!(
                    "--opt {}=@ names no file; write --opt {0}=@FILE, or {0}=@- for standard input",
                    spec.key
                )));
            }
            Some(path) => Source::File(PathBuf::from(path)),
            None => Source::Inline(value.to_owned()),
        };
        given.push(Given { spec, source });
    }
    Ok(given)
}

/// The one-line warning for secrets typed on the command line, if any were.
pub fn inline_secret_warning(given: &[Given]) -> Option<String> {
    let keys: Vec<&str> = given
        .iter()
        .filter(|g| g.spec.secret && matches!(g.source, Source::Inline(_)))
        .map(|g| g.spec.key)
        .collect();
    let first = *keys.first()?;
    let inline: Vec<String> = keys.iter().map(|k| format!("--opt {k}=…")).collect();
    Some(format!(
        "warning: {} puts a secret on the command line, where other local users and your shell \
         history can read it; use --opt {first}=@FILE or --opt {first}=@- instead",
        inline.join(" and ")
    ))
}

/// Every option's value: files read first, then, in the service's option order, the one `@-`
/// line and a prompt for each required secret option that was not given (the contract's order:
/// secret options before the password, captcha and codes).
pub async fn resolve(
    service: &ServiceSpec,
    given: Vec<Given>,
    prompter: &mut Prompter,
    account: &str,
) -> Result<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    let mut from_stdin = None;
    for g in given {
        match g.source {
            Source::Inline(value) => {
                values.insert(g.spec.key.to_owned(), value);
            }
            Source::File(path) => {
                let value = first_line_of(&path).map_err(|e| {
                    Error::invalid_input(format!(
                        "cannot read --opt {}=@{}: {e}",
                        g.spec.key,
                        path.display()
                    ))
                })?;
                if g.spec.secret
                    && let Some(warning) = readable_by_others(&path, g.spec.key)
                {
                    crate::prompt::notice(&warning);
                }
                values.insert(g.spec.key.to_owned(), value.to_string());
            }
            Source::Stdin => from_stdin = Some(g.spec.key),
        }
    }
    for opt in services::all_options(service) {
        let asked = from_stdin == Some(opt.key)
            || (opt.secret && opt.required && !values.contains_key(opt.key));
        if asked {
            let value = prompter.option_value(opt, account).await?;
            values.insert(opt.key.to_owned(), value.expose().to_owned());
        }
    }
    Ok(values)
}

/// The first line of a file, without its line ending.
fn first_line_of(path: &std::path::Path) -> std::io::Result<Zeroizing<String>> {
    let file = std::fs::File::open(path)?;
    let mut line = Zeroizing::new(String::new());
    std::io::BufReader::new(file).read_line(&mut line)?;
    let end = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(end);
    Ok(line)
}

/// A warning when a file holding a secret option can be read by other users.
#[cfg(unix)]
fn readable_by_others(path: &std::path::Path, key: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "warning: {} (--opt {key}=@…) can be read by other users (mode {mode:04o}); \
             chmod 600 it to keep the secret yours",
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn readable_by_others(_path: &std::path::Path, _key: &str) -> Option<String> {
    None
}

/// `--opt appsecretSEKRIT`: says what is wrong without repeating the text, which may be the
/// secret itself.
fn missing_equals(service: &ServiceSpec, arg: &str, nth: &str) -> Error {
    match known_prefix(service, arg) {
        Some(key) => Error::invalid_input(format!(
            "the {nth} --opt starts with '{key}' but has no '=' after it; write --opt {key}=VALUE, \
             --opt {key}=@FILE or --opt {key}=@- (the rest is not shown: it may be a secret)"
        )),
        None => Error::invalid_input(format!(
            "the {nth} --opt has no '='; write --opt KEY=VALUE (it is not shown: it may be a \
             secret); {} takes: {}",
            service.display_name,
            option_keys(service)
        )),
    }
}

fn unknown_option(service: &ServiceSpec, key: &str, nth: &str) -> Error {
    // A name glued to its value (`appsecretSEKRIT=…`) is not repeated.
    if let Some(known) = known_prefix(service, key) {
        return Error::invalid_input(format!(
            "the {nth} --opt starts with '{known}' but has no '=' right after it; write --opt \
             {known}=VALUE (the rest is not shown: it may be a secret)"
        ));
    }
    let looks_like_a_name =
        key.len() <= 24 && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    let shown = if looks_like_a_name {
        format!("'{key}'")
    } else {
        "(not shown: it may be a secret)".to_owned()
    };
    Error::invalid_input(format!(
        "the {nth} --opt names an option {} does not take {shown}; it takes: {}",
        service.display_name,
        option_keys(service)
    ))
}

/// The longest option name `text` starts with.
fn known_prefix(service: &ServiceSpec, text: &str) -> Option<&'static str> {
    services::all_options(service)
        .map(|o| o.key)
        .filter(|k| text.starts_with(k))
        .max_by_key(|k| k.len())
}

fn option_keys(service: &ServiceSpec) -> String {
    services::all_options(service)
        .map(|o| o.key)
        .collect::<Vec<_>>()
        .join(", ")
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lanyard_core::ServiceId;

    fn coolkit() -> &'static ServiceSpec {
        services::spec(ServiceId::Coolkit)
    }

    fn parse_err(args: &[&str]) -> String {
        let raw: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        match parse(coolkit(), &raw) {
            Ok(_) => panic!("{args:?} parsed"),
            Err(e) => {
                assert_eq!(e.code.exit_code(), 2, "a usage error");
                e.message
            }
        }
    }

    #[test]
    fn no_error_repeats_a_value() {
        for (args, says) in [
            (&["appsecretSEKRIT"][..], "starts with 'appsecret'"),
            (&["appsecretSEKRIT==="], "starts with 'appsecret'"),
            (&["SEKRIT"], "has no '='"),
            (&["SEKRIT=x"], "not shown"),
            (&["=SEKRIT"], "no option name"),
            (&["appsecret=@-", "appid=@-"], "both use @-"),
            (&["appsecret=SEKRIT", "appsecret=SEKRIT"], "more than once"),
        ] {
            let message = parse_err(args);
            assert!(!message.contains("SEKRIT"), "{args:?}: {message}");
            assert!(message.contains(says), "{args:?}: {message}");
        }
        // A plain typo is shown, to help.
        assert!(parse_err(&["regoin=eu"]).contains("'regoin'"));
        assert_eq!(ordinal(2), "2nd");
        assert_eq!(ordinal(12), "12th");
    }

    #[test]
    fn sources_and_the_inline_warning() {
        let raw: Vec<String> = ["appid=A", "appsecret=@-", "region=@/tmp/region"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        let given = parse(coolkit(), &raw).unwrap();
        assert!(matches!(given[0].source, Source::Inline(ref v) if v == "A"));
        assert!(matches!(given[1].source, Source::Stdin));
        assert!(matches!(given[2].source, Source::File(ref p) if p.as_os_str() == "/tmp/region"));
        assert_eq!(inline_secret_warning(&given), None);
        let given = parse(coolkit(), &["appsecret=SEKRIT".to_string()]).unwrap();
        let warning = inline_secret_warning(&given).unwrap();
        assert!(warning.contains("--opt appsecret=…"), "{warning}");
        assert!(!warning.contains("SEKRIT"), "{warning}");
    }

    #[test]
    fn a_file_gives_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "line one\r\nline two\n").unwrap();
        assert_eq!(first_line_of(&path).unwrap().as_str(), "line one");
        std::fs::write(&path, "no newline").unwrap();
        assert_eq!(first_line_of(&path).unwrap().as_str(), "no newline");
        assert!(first_line_of(&dir.path().join("missing")).is_err());
    }
}
