//! `lanyard api <name|service> PATH [-X METHOD] [-f KEY=VALUE]... [--input FILE|-]
//! [-H 'Name: value']... [--include]`: one authenticated request through the core
//! (`Manager::api`), the answer on stdout: JSON pretty-printed on a terminal, the bytes as they
//! came otherwise. Server text never reaches a terminal with its control characters.

use std::io::{IsTerminal, Read, Write};

use lanyard_core::api::ApiCall;
use lanyard_core::http::{Response, clean_server_text, is_unsafe_char};
use lanyard_core::manager::Manager;
use lanyard_core::{Error, ErrorCode, Result};

/// What the command line asked for.
pub struct Request {
    pub target: String,
    pub path: String,
    pub method: Option<String>,
    pub fields: Vec<String>,
    pub input: Option<String>,
    pub headers: Vec<String>,
    pub include: bool,
}

/// Sends the request and prints the answer. An error status is printed too, then reported as
/// an error (exit 4 for 401/403, 5 for the others).
pub async fn run(manager: &Manager, request: Request) -> Result<()> {
    let call = build_call(&request)?;
    let response = manager.api(&request.target, &call).await?;
    let terminal = std::io::stdout().is_terminal();
    let mut out = Vec::new();
    if request.include {
        out.extend_from_slice(head(&response).as_bytes());
    }
    out.extend_from_slice(&body(&response.body, terminal));
    if terminal && !out.ends_with(b"\n") && !out.is_empty() {
        out.push(b'\n');
    }
    write_stdout(&out)?;
    match response.status {
        s if s < 400 => Ok(()),
        s @ (401 | 403) => Err(Error::new(
            ErrorCode::CredentialsRejected,
            format!(
                "{} refused the request (HTTP {s}{})",
                response.host(),
                reason(s)
            ),
        )),
        s => Err(Error::server(format!(
            "{} answered HTTP {s}{}",
            response.host(),
            reason(s)
        ))),
    }
}

fn build_call(request: &Request) -> Result<ApiCall> {
    let mut headers = Vec::new();
    for line in &request.headers {
        let (name, value) = line.split_once(':').ok_or_else(|| {
            Error::invalid_input(format!(
                "-H wants 'Name: value', not '{}'",
                header_name(line)
            ))
        })?;
        if name.trim().is_empty() {
            return Err(Error::invalid_input("-H: the header name is empty"));
        }
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut fields = Vec::new();
    for field in &request.fields {
        let (key, value) = field.split_once('=').ok_or_else(|| {
            Error::invalid_input(format!(
                "-f wants KEY=VALUE, not '{}'",
                field.split('=').next().unwrap_or("")
            ))
        })?;
        fields.push((key.to_owned(), value.to_owned()));
    }
    let has_body = request.input.is_some() || !fields.is_empty();
    let method = request
        .method
        .as_deref()
        .map(|m| m.trim().to_ascii_uppercase())
        .unwrap_or_else(|| if has_body { "POST" } else { "GET" }.to_owned());
    let mut call = ApiCall {
        method: method.clone(),
        path: request.path.clone(),
        headers,
        ..ApiCall::default()
    };
    let wants_json = |call: &ApiCall| {
        !call
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    };
    if method == "GET" || method == "HEAD" {
        if request.input.is_some() {
            return Err(Error::invalid_input(format!(
                "--input sends a body, which a {method} request has not; add -X POST"
            )));
        }
        call.query = fields;
    } else if !fields.is_empty() {
        let object: serde_json::Map<String, serde_json::Value> = fields
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        call.body = Some(serde_json::to_vec(&object).map_err(|e| Error::internal(e.to_string()))?);
        if wants_json(&call) {
            call.headers
                .push(("Content-Type".into(), "application/json".into()));
        }
    } else if let Some(input) = &request.input {
        let bytes = read_input(input)?;
        if wants_json(&call) && serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() {
            call.headers
                .push(("Content-Type".into(), "application/json".into()));
        }
        call.body = Some(bytes);
    }
    Ok(call)
}

/// The name part of a `-H` argument, for messages (its value may be a secret).
fn header_name(line: &str) -> String {
    line.split([':', '=', ' ']).next().unwrap_or("").to_owned()
}

fn read_input(input: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if input == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Error::invalid_input(format!("cannot read standard input: {e}")))?;
    } else {
        bytes = std::fs::read(input)
            .map_err(|e| Error::invalid_input(format!("cannot read {input}: {e}")))?;
    }
    Ok(bytes)
}

fn reason(status: u16) -> String {
    lanyard_core::api::reason_phrase(status)
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

/// The status line and the headers, each cleaned of control characters (server text).
fn head(response: &Response) -> String {
    let mut text = format!("HTTP/1.1 {}{}\n", response.status, reason(response.status));
    for (name, value) in &response.headers {
        let value = clean_server_text(&String::from_utf8_lossy(value.as_bytes()));
        text.push_str(&format!("{}: {value}\n", name.as_str()));
    }
    text.push('\n');
    text
}

/// The body: on a terminal, JSON pretty-printed and any other text cleaned line by line; else
/// the bytes as they came.
fn body(bytes: &[u8], terminal: bool) -> Vec<u8> {
    if !terminal {
        return bytes.to_vec();
    }
    let trimmed = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(trimmed)
        && let Ok(pretty) = serde_json::to_string_pretty(&value)
    {
        // serde_json escapes control characters, not the bidi ones: escape those too, so the
        // output stays JSON and cannot reorder what the terminal shows.
        return escape_unsafe(&pretty).into_bytes();
    }
    String::from_utf8_lossy(trimmed)
        .lines()
        .map(clean_server_text)
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

fn escape_unsafe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c != '\n' && is_unsafe_char(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if crate::reader_gone(&e) => std::process::exit(0),
        Err(e) => Err(Error::internal(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Option<&str>, fields: &[&str], headers: &[&str]) -> Request {
        Request {
            target: "sscms".into(),
            path: "/api/v1/users/2".into(),
            method: method.map(str::to_owned),
            fields: fields.iter().map(|s| s.to_string()).collect(),
            input: None,
            headers: headers.iter().map(|s| s.to_string()).collect(),
            include: false,
        }
    }

    #[test]
    fn fields_are_a_query_for_get_and_a_json_body_otherwise() {
        let get = build_call(&request(Some("get"), &["a=1", "b=x=y"], &[])).unwrap();
        assert_eq!(get.method, "GET");
        assert_eq!(
            get.query,
            [("a".into(), "1".into()), ("b".into(), "x=y".into())]
        );
        assert!(get.body.is_none());
        let post = build_call(&request(None, &["a=1"], &["X-Trace: 7"])).unwrap();
        assert_eq!(post.method, "POST");
        assert_eq!(post.body.as_deref(), Some(&br#"{"a":"1"}"#[..]));
        assert!(post.headers.contains(&("X-Trace".into(), "7".into())));
        assert!(
            post.headers
                .contains(&("Content-Type".into(), "application/json".into()))
        );
        let plain = build_call(&request(None, &[], &[])).unwrap();
        assert_eq!(plain.method, "GET");
    }

    #[test]
    fn bad_arguments_do_not_echo_values() {
        let e = build_call(&request(None, &[], &["Authorization=SEKRIT"]))
            .err()
            .unwrap();
        assert!(!e.message.contains("SEKRIT"), "{}", e.message);
        let e = build_call(&request(None, &["SEKRIT"], &[])).err().unwrap();
        assert_eq!(e.code, ErrorCode::InvalidInput);
    }

    #[test]
    fn a_terminal_gets_pretty_json_and_clean_text() {
        let pretty = body(br#"{"a":"x\u202ey","b":[1]}"#, true);
        let text = String::from_utf8(pretty).unwrap();
        assert!(text.contains("\n  \"a\""), "{text}");
        assert!(
            text.contains("\\u202e") && !text.contains('\u{202e}'),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["a"], "x\u{202e}y");
        let raw = b"\x1b]52;c;cHduZWQ=\x07hello\n";
        assert_eq!(body(raw, false), raw.to_vec());
        assert_eq!(body(raw, true), b"hello".to_vec());
    }
}
