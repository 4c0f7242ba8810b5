//! `lanyard-sim` as a child process: the already built binary of the main workspace, on
//! ephemeral ports, with its control API (docs/simulator-control.md) one call away.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The simulator binary: `$LANYARD_SIM_BINARY`, else the debug build next to the app binary.
pub fn sim_binary() -> PathBuf {
    let path = std::env::var_os("LANYARD_SIM_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            super::app_binary()
                .parent()
                .expect("the app binary has a directory")
                .join("lanyard-sim")
        });
    assert!(
        path.is_file(),
        "simulator binary {} not found: build the workspace first (`make test` does), or set LANYARD_SIM_BINARY",
        path.display()
    );
    path
}

/// The five simulated services. Stopped (SIGTERM) when dropped.
pub struct Sim {
    child: Child,
    // Kept open: the simulator must never write into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    endpoints: Value,
}

impl Sim {
    pub fn start() -> Sim {
        let mut child = Command::new(sim_binary())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start lanyard-sim");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        stdout
            .read_line(&mut line)
            .expect("read the simulator's endpoints");
        let endpoints: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!("lanyard-sim printed {line:?} instead of its endpoints: {e}")
        });
        Sim {
            child,
            _stdout: stdout,
            endpoints,
        }
    }

    /// The base URL of a service (`coolkit` is a template with `{region}`).
    pub fn endpoint(&self, service: &str) -> String {
        self.endpoints[service]
            .as_str()
            .unwrap_or_else(|| panic!("no endpoint for {service} in {}", self.endpoints))
            .to_string()
    }

    /// The listener of a service, where its `/__sim/` routes live.
    fn base(&self, service: &str) -> String {
        self.endpoint(service).replace("/{region}", "")
    }

    pub fn get(&self, service: &str, path: &str) -> Value {
        request("GET", &format!("{}{path}", self.base(service)), None)
    }

    pub fn post(&self, service: &str, path: &str, body: Value) -> Value {
        request("POST", &format!("{}{path}", self.base(service)), Some(body))
    }

    /// The answer to the captcha the service showed last.
    pub fn captcha_answer(&self, service: &str) -> String {
        self.get(service, "/__sim/captcha")["answer"]
            .as_str()
            .expect("a captcha answer")
            .to_string()
    }

    /// The code the service sent to `user` last (or its current TOTP code).
    pub fn last_code(&self, service: &str, user: &str) -> String {
        self.get(service, &format!("/__sim/last-code?user={user}"))["code"]
            .as_str()
            .expect("a code")
            .to_string()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        super::driver::terminate(&mut self.child, Duration::from_secs(5));
    }
}

/// One HTTP/1.0 exchange on loopback (no chunked answers, no client library); panics unless
/// the answer is 2xx, and returns its JSON body.
fn request(method: &str, url: &str, body: Option<Value>) -> Value {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream
        .write_all(format!("{head}{body}").as_bytes())
        .expect("send the request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = answer.split(' ').nth(1).unwrap_or("");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    assert!(
        status.starts_with('2'),
        "{method} {url} answered {status}: {body}"
    );
    serde_json::from_str(body).unwrap_or(Value::Null)
}
