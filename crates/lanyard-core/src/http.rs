//! The one HTTP layer every service uses: rustls, timeouts, bounded bodies, no credential
//! forwarding across origins, proxies from the environment or per account.
//!
//! Services build a request with [`Http::client`] (or [`Http::get`] / [`Http::post`]) and hand it
//! to [`Http::execute`], which
//! - follows redirects **by hand** (at most [`MAX_REDIRECTS`] hops): a same-origin hop keeps
//!   every header; a request that carries anything secret (a body, a credential header, a
//!   credential query parameter; see [`carries_credentials`]) never follows a redirect to another
//!   origin — it fails naming both hosts; a plain GET may cross origins, without credential
//!   headers (see [`is_credential_header`]); https → http is never followed;
//! - enforces one deadline for the whole exchange (redirects and body included) and a bound on
//!   the body size (read chunk by chunk, stopped as soon as it is exceeded);
//! - maps failures to errors a person can act on, naming the host and never the URL's query
//!   (ShopXO carries its token there) nor any body or credential header:
//!   connect refused / DNS / timeouts / resets / truncated answers → [`crate::ErrorCode::Network`],
//!   HTTP 5xx → [`crate::ErrorCode::ServerError`]. 4xx answers are returned: services interpret them.
//!
//! TLS trusts the built-in webpki roots, the system's CA store (rustls-native-certs, which honours
//! `SSL_CERT_FILE` / `SSL_CERT_DIR`) and an account's `ca_file` option ([`CA_FILE_OPTION`]).
//! Reading the system store costs a few milliseconds (every file in /etc/ssl/certs is parsed), so
//! the client that trusts it is built on the first `https://` exchange; plain `http://` without a
//! proxy (a SiYuan kernel, a LAN server, the simulator) goes through a client that trusts no CA.
//!
//! Server text (messages, names, titles) is data: [`clean_server_text`] strips terminal control
//! and bidi characters from it before anything stores or shows it.
//!
//! Logging: one `debug` line per exchange with method, host, path and status. Never the query,
//! headers or bodies.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{self, HeaderMap, HeaderName};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{Error, Result, Said};

/// Redirect hops followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// The account option holding a per-account proxy URL (see `services::COMMON_OPTIONS`).
pub const PROXY_OPTION: &str = "proxy";

/// The account option naming a PEM file of CA certificates to trust for this account's server,
/// on top of the built-in and system roots (see `services::COMMON_OPTIONS`).
pub const CA_FILE_OPTION: &str = "ca_file";

#[derive(Clone)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    /// Whole-request deadline, body included.
    pub timeout: Duration,
    /// Larger answers are cut off and reported as a server error.
    pub max_body_bytes: usize,
    pub user_agent: String,
    /// Explicit proxy URL; `None` uses the environment (HTTP(S)_PROXY, NO_PROXY).
    pub proxy: Option<String>,
    /// A PEM file of extra CA certificates to trust (an account's `ca_file` option).
    pub ca_file: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_body_bytes: 4 * 1024 * 1024,
            user_agent: format!("Lanyard/{}", env!("CARGO_PKG_VERSION")),
            proxy: None,
            ca_file: None,
        }
    }
}

// A proxy URL may carry a password: Debug shows it without.
impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("user_agent", &self.user_agent)
            .field("proxy", &self.proxy.as_deref().map(redact_url))
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// A shared HTTP client. Cheap to clone; clones share the per-proxy client cache.
#[derive(Clone)]
pub struct Http {
    /// Builds every request, and sends those that need no TLS (see [`Http::transport_for`]).
    client: reqwest::Client,
    /// Sends the rest: trusts the system roots, so it is built on first use unless `client`
    /// already trusts them (a proxy or a CA file is configured).
    tls: Arc<OnceLock<reqwest::Client>>,
    config: HttpConfig,
    /// Clients built for per-account proxies and CA files, keyed by (proxy URL, CA file).
    proxied: Arc<Mutex<HashMap<ClientKey, reqwest::Client>>>,
}

type ClientKey = (Option<String>, Option<String>);

/// The certificates of a PEM file, each checked to be one rustls accepts as a trust anchor.
/// Errors are [`crate::ErrorCode::InvalidInput`] naming the file and what to do.
pub fn load_ca_file(path: &str) -> Result<Vec<reqwest::Certificate>> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::invalid_input(format!(
            "cannot read the CA file '{path}' (option '{CA_FILE_OPTION}'): {}",
            io_reason(&e)
        ))
    })?;
    let not_pem = || {
        Error::invalid_input(format!(
            "the CA file '{path}' (option '{CA_FILE_OPTION}') holds no PEM certificate \
             (a file with \"-----BEGIN CERTIFICATE-----\" blocks is expected)"
        ))
    };
    let certs = reqwest::Certificate::from_pem_bundle(&bytes).map_err(|_| not_pem())?;
    if certs.is_empty() {
        return Err(not_pem());
    }
    // reqwest parses the DER only when a client is built: build one with these roots alone.
    let mut probe = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false);
    for cert in &certs {
        probe = probe.add_root_certificate(cert.clone());
    }
    probe.build().map_err(|_| {
        Error::invalid_input(format!(
            "the CA file '{path}' (option '{CA_FILE_OPTION}') holds a certificate that cannot be parsed"
        ))
    })?;
    Ok(certs)
}

/// Checks a `ca_file` option value and returns it as an absolute path without `..` (the
/// desktop app and the CLI run in different directories).
pub fn check_ca_file(value: &str) -> Result<String> {
    let path = std::fs::canonicalize(Path::new(value.trim())).map_err(|e| {
        Error::invalid_input(format!(
            "cannot read the CA file '{value}' (option '{CA_FILE_OPTION}'): {}",
            io_reason(&e)
        ))
    })?;
    let path = path.to_string_lossy().into_owned();
    load_ca_file(&path)?;
    Ok(path)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// Which certificate authorities a client trusts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Trust {
    /// The built-in and system roots (plus a CA file, when given).
    Roots,
    /// None: the client only ever sends plain `http://` directly to the server.
    PlainOnly,
}

fn build_client(
    config: &HttpConfig,
    proxy: Option<&str>,
    ca_file: Option<&str>,
    trust: Trust,
) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(trust == Trust::Roots)
        .connect_timeout(config.connect_timeout)
        .timeout(config.timeout)
        .user_agent(config.user_agent.clone())
        // Redirects are followed by hand so credentials never cross origins.
        .redirect(reqwest::redirect::Policy::none());
    if let Some(proxy) = proxy {
        let shown = redact_url(proxy);
        let parsed = Url::parse(proxy)
            .map_err(|e| Error::invalid_input(format!("invalid proxy URL '{shown}': {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https" | "socks5" | "socks5h") {
            return Err(Error::invalid_input(format!(
                "invalid proxy URL '{shown}': the scheme must be http or https"
            )));
        }
        let proxy = reqwest::Proxy::all(proxy)
            .map_err(|_| Error::invalid_input(format!("invalid proxy URL '{shown}'")))?;
        builder = builder.proxy(proxy);
    }
    if let Some(path) = ca_file {
        for cert in load_ca_file(path)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    // Without an explicit proxy, reqwest reads HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY.
    builder
        .build()
        .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))
}

/// Whether every exchange needs the client trusting the roots: a CA file, or a proxy (set here
/// or in the environment), which may itself be reached over TLS.
fn needs_tls_everywhere(config: &HttpConfig) -> bool {
    const PROXY_VARIABLES: [&str; 6] = [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ];
    config.proxy.is_some()
        || config.ca_file.is_some()
        || PROXY_VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// A URL for messages: no user info (proxy passwords), no query, no fragment.
fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "<unparsable>".to_string(),
    }
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Http {
    pub fn new(config: HttpConfig) -> Result<Self> {
        let tls = Arc::new(OnceLock::new());
        let client = if needs_tls_everywhere(&config) {
            let client = build_client(
                &config,
                config.proxy.as_deref(),
                config.ca_file.as_deref(),
                Trust::Roots,
            )?;
            let _ = tls.set(client.clone());
            client
        } else {
            build_client(&config, None, None, Trust::PlainOnly)?
        };
        Ok(Http {
            client,
            tls,
            config,
            proxied: Arc::default(),
        })
    }

    /// The client that sends a request to `url`: `client` for `http://` (where a proxy or a CA
    /// file is set it already trusts the roots, see [`Http::new`]), else the one trusting the
    /// system roots (built now if needed).
    fn transport_for(&self, url: &Url) -> Result<reqwest::Client> {
        if url.scheme() == "http" {
            return Ok(self.client.clone());
        }
        if let Some(client) = self.tls.get() {
            return Ok(client.clone());
        }
        let client = build_client(&self.config, None, None, Trust::Roots)?;
        Ok(self.tls.get_or_init(|| client).clone())
    }

    /// The client to build requests with; [`Http::execute`] sends them.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// `GET url` on this client (send it with [`Http::execute`]).
    pub fn get(&self, url: Url) -> reqwest::RequestBuilder {
        self.client.get(url)
    }

    /// `POST url` on this client (send it with [`Http::execute`]).
    pub fn post(&self, url: Url) -> reqwest::RequestBuilder {
        self.client.post(url)
    }

    /// The client to use for one account, given its `proxy` and `ca_file` options
    /// ([`PROXY_OPTION`], [`CA_FILE_OPTION`]): the same one when it has neither, else a client
    /// going through that proxy / also trusting those CAs (built once per (proxy, CA file) and
    /// cached).
    pub fn for_account_options(&self, proxy: Option<&str>, ca_file: Option<&str>) -> Result<Http> {
        let option = |value: Option<&str>| {
            value
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let proxy = option(proxy);
        let ca_file = option(ca_file);
        if proxy.is_none() && ca_file.is_none() {
            return Ok(self.clone());
        }
        let proxy = proxy.or_else(|| self.config.proxy.clone());
        let ca_file = ca_file.or_else(|| self.config.ca_file.clone());
        let key: ClientKey = (proxy.clone(), ca_file.clone());
        let mut cache = self
            .proxied
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let client = match cache.get(&key) {
            Some(c) => c.clone(),
            None => {
                let c = build_client(
                    &self.config,
                    proxy.as_deref(),
                    ca_file.as_deref(),
                    Trust::Roots,
                )?;
                cache.insert(key, c.clone());
                c
            }
        };
        let mut config = self.config.clone();
        config.proxy = proxy;
        config.ca_file = ca_file;
        Ok(Http {
            tls: Arc::new(OnceLock::from(client.clone())),
            client,
            config,
            proxied: self.proxied.clone(),
        })
    }

    /// Send a request: redirects by hand, one deadline, bounded body, clear errors.
    ///
    /// Returns every answer below 500 (services interpret 4xx); 5xx is a
    /// [`crate::ErrorCode::ServerError`] carrying the status (and the server's `message`/`msg` text
    /// when the body has one).
    pub async fn execute(&self, rb: reqwest::RequestBuilder) -> Result<Response> {
        let request = rb.build().map_err(|e| {
            Error::invalid_input(format!(
                "cannot build the HTTP request: {}",
                describe_builder_error(&e)
            ))
        })?;
        let host = host_of(request.url());
        let deadline = request.timeout().copied().unwrap_or(self.config.timeout);
        match tokio::time::timeout(deadline, self.execute_inner(request)).await {
            Ok(result) => result,
            Err(_) => Err(no_answer(&host, deadline)),
        }
    }

    async fn execute_inner(&self, mut request: reqwest::Request) -> Result<Response> {
        let mut hops = 0usize;
        // Decided on the request as the service built it: a 303 turning it into a bodiless GET
        // does not make what it carried any less secret.
        let sensitive = carries_credentials(&request);
        loop {
            let method = request.method().clone();
            let url = request.url().clone();
            let host = host_of(&url);
            // Kept to re-send on a 307/308 (our bodies are in memory, so this always works).
            let retry = request.try_clone();
            let response = self
                .transport_for(&url)?
                .execute(request)
                .await
                .map_err(|e| self.map_error(&e, &url))?;
            let status = response.status();
            tracing::debug!(method = %method, host = %host, path = url.path(), status = status.as_u16(), "http");

            if status.is_redirection()
                && let Some(location) = response.headers().get(header::LOCATION)
            {
                if hops >= MAX_REDIRECTS {
                    return Err(Error::server(format!(
                        "{host} redirected more than {MAX_REDIRECTS} times"
                    )));
                }
                let next_url = location
                    .to_str()
                    .ok()
                    .and_then(|l| url.join(l).ok())
                    .ok_or_else(|| {
                        Error::server(format!(
                            "{host} answered a redirect with an invalid Location"
                        ))
                    })?;
                if !matches!(next_url.scheme(), "http" | "https") {
                    return Err(Error::server(format!(
                        "{host} redirected to an unsupported address"
                    )));
                }
                check_redirect(&url, &next_url, sensitive)?;
                let Some(mut next) = retry else {
                    return Err(Error::internal(
                        "cannot repeat a streamed request body for a redirect",
                    ));
                };
                redirect_request(&mut next, status, next_url);
                request = next;
                hops += 1;
                continue;
            }

            let headers = response.headers().clone();
            let body = self.read_body(response, &url).await?;
            let resp = Response {
                status: status.as_u16(),
                headers,
                url,
                body,
            };
            if status.is_server_error() {
                return Err(resp.status_error());
            }
            return Ok(resp);
        }
    }

    async fn read_body(&self, mut response: reqwest::Response, url: &Url) -> Result<Bytes> {
        let max = self.config.max_body_bytes;
        let too_large = || {
            Error::server(format!(
                "{}: answer larger than {}",
                host_of(url),
                size_text(max)
            ))
        };
        if let Some(len) = response.content_length()
            && len > max as u64
        {
            return Err(too_large());
        }
        let mut buf = BytesMut::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.map_error(&e, url))?
        {
            if buf.len() + chunk.len() > max {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    /// A transport error as one line naming the host. reqwest's own Display includes the full
    /// URL (query tokens!), so only the causes below it are looked at.
    fn map_error(&self, e: &reqwest::Error, url: &Url) -> Error {
        let host = host_of(url);
        let reason = transport_reason(e);
        if e.is_timeout() || reason == Reason::TimedOut {
            if e.is_connect() {
                return Error::network(format!(
                    "could not connect to {host}: no answer within {}",
                    secs(self.config.connect_timeout)
                ))
                .with_said(
                    Said::new("connect_timed_out")
                        .with("host", host.clone())
                        .with("secs", secs_number(self.config.connect_timeout)),
                );
            }
            return no_answer(&host, self.config.timeout);
        }
        if e.is_connect() {
            // An answer cut short is no cause of a failed connect (its text is the generic one).
            let cause = reason.code().filter(|cause| *cause != "incomplete");
            let why = match reason {
                Reason::Refused => "connection refused".to_string(),
                Reason::Dns => "the host name could not be resolved".to_string(),
                Reason::Reset => "connection reset".to_string(),
                Reason::Tls(t) => format!("TLS handshake failed ({t}){}", tls_hint(&t)),
                Reason::Other(t) => t,
                _ => "connection failed".to_string(),
            };
            let e = Error::network(format!("could not connect to {host}: {why}"));
            return match cause {
                Some(cause) => e.with_said(
                    Said::new("connect_failed")
                        .with("host", host)
                        .with("cause", cause),
                ),
                None => e,
            };
        }
        if e.is_builder() {
            return Error::invalid_input(format!(
                "cannot send a request to {host}: {}",
                describe_builder_error(e)
            ));
        }
        let cause = reason.code();
        let why = match reason {
            Reason::Reset => "the connection was reset".to_string(),
            Reason::Incomplete => {
                "the connection closed before the answer was complete".to_string()
            }
            Reason::Refused => "connection refused".to_string(),
            Reason::Dns => "the host name could not be resolved".to_string(),
            Reason::Tls(t) => format!("TLS error ({t}){}", tls_hint(&t)),
            Reason::Other(t) => t,
            Reason::TimedOut | Reason::Unknown => "the connection failed".to_string(),
        };
        let e = Error::network(format!("{host}: {why}"));
        match cause {
            Some(cause) => e.with_said(
                Said::new("connection_failed")
                    .with("host", host)
                    .with("cause", cause),
            ),
            None => e,
        }
    }
}

/// A request that got no answer in time.
fn no_answer(host: &str, deadline: Duration) -> Error {
    Error::network(format!("{host} did not answer within {}", secs(deadline))).with_said(
        Said::new("no_answer")
            .with("host", host)
            .with("secs", secs_number(deadline)),
    )
}

#[derive(Debug, PartialEq)]
enum Reason {
    Refused,
    Dns,
    Reset,
    Incomplete,
    TimedOut,
    Tls(String),
    Other(String),
    Unknown,
}

impl Reason {
    /// The cause as a code a window words itself (`Said` parameter `cause`); `None` where the
    /// cause is the library's own text.
    fn code(&self) -> Option<&'static str> {
        match self {
            Reason::Refused => Some("refused"),
            Reason::Dns => Some("dns"),
            Reason::Reset => Some("reset"),
            Reason::Incomplete => Some("incomplete"),
            Reason::TimedOut | Reason::Tls(_) | Reason::Other(_) | Reason::Unknown => None,
        }
    }
}

fn transport_reason(e: &reqwest::Error) -> Reason {
    use std::error::Error as _;
    let mut texts = Vec::new();
    let mut originals = Vec::new();
    let mut source = e.source();
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return Reason::Refused,
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                    return Reason::Reset;
                }
                std::io::ErrorKind::TimedOut => return Reason::TimedOut,
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::BrokenPipe => {
                    return Reason::Incomplete;
                }
                _ => {}
            }
        }
        originals.push(err.to_string());
        texts.push(err.to_string().to_lowercase());
        source = err.source();
    }
    let all = texts.join(" | ");
    if all.contains("dns error")
        || all.contains("failed to lookup")
        || all.contains("name or service not known")
    {
        Reason::Dns
    } else if all.contains("connection refused") {
        Reason::Refused
    } else if all.contains("connection reset") {
        Reason::Reset
    } else if all.contains("incomplete")
        || all.contains("connection closed before message completed")
        || all.contains("unexpected eof")
        || all.contains("end of file before message length reached")
    {
        Reason::Incomplete
    } else if all.contains("timed out") {
        Reason::TimedOut
    } else if all.contains("certificate") || all.contains("tls") || all.contains("handshake") {
        // rustls messages name the problem (unknown issuer, expired...), never a credential.
        Reason::Tls(originals.last().cloned().unwrap_or_default())
    } else if let Some(last) = texts.last() {
        // The innermost cause (an io error or hyper's kind), without reqwest's URL.
        Reason::Other(last.clone())
    } else {
        Reason::Unknown
    }
}

fn describe_builder_error(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(s) => s.to_string(),
        None => "invalid request".to_string(),
    }
}

/// Rewrite a request for the next hop of a redirect, browser-style:
/// - 303 (and 301/302 for anything but GET/HEAD) become a GET without body;
/// - 307/308 keep method and body;
/// - a cross-origin hop drops every credential header.
fn redirect_request(request: &mut reqwest::Request, status: StatusCode, next_url: Url) {
    let to_get = match status {
        StatusCode::SEE_OTHER => request.method() != Method::HEAD,
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => {
            request.method() != Method::GET && request.method() != Method::HEAD
        }
        _ => false,
    };
    if to_get {
        *request.method_mut() = Method::GET;
        *request.body_mut() = None;
        let headers = request.headers_mut();
        headers.remove(header::CONTENT_TYPE);
        headers.remove(header::CONTENT_LENGTH);
        headers.remove(header::CONTENT_ENCODING);
    }
    if !same_origin(request.url(), &next_url) {
        strip_credential_headers(request.headers_mut());
    }
    *request.url_mut() = next_url;
}

/// Scheme, host and port all equal.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Whether following a redirect from `from` to `to` is allowed for a request that does
/// (`sensitive`) or does not carry credentials; the error names both hosts.
fn check_redirect(from: &Url, to: &Url, sensitive: bool) -> Result<()> {
    let (from_host, to_host) = (host_of(from), host_of(to));
    if from.scheme() == "https" && to.scheme() == "http" {
        return Err(Error::server(format!(
            "the server at {from_host} redirected to plain http at {to_host}; Lanyard does not \
             leave https for http — check the endpoint"
        )));
    }
    if sensitive && !same_origin(from, to) {
        let hint = if from.scheme() == "http"
            && to.scheme() == "https"
            && from.host_str() == to.host_str()
        {
            " (the server wants https: use an https:// endpoint)"
        } else {
            ""
        };
        return Err(Error::server(format!(
            "the server at {from_host} redirected a request carrying credentials to {to_host}; \
             Lanyard does not send credentials to another host — check the endpoint{hint}"
        )));
    }
    Ok(())
}

/// Whether a request carries something that must not reach another origin: a body (every
/// body Lanyard sends is a login form, a code or a token exchange), a credential header, or a
/// credential query parameter (ShopXO's `token`).
pub fn carries_credentials(request: &reqwest::Request) -> bool {
    request.body().is_some()
        || request.headers().keys().any(is_credential_header)
        || request
            .url()
            .query_pairs()
            .any(|(name, _)| is_credential_query_name(&name))
}

/// Whether a query parameter name may carry a credential (`token`, `access_token`, `api_key`,
/// `sign`, `password`, `code`…).
pub fn is_credential_query_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(n.as_str(), "code" | "pwd" | "sid" | "jwt")
        || CREDENTIAL_WORDS
            .iter()
            .chain(&["passwd", "ticket"])
            .any(|w| n.contains(w))
}

/// Words that mark a query parameter or an `X-` header as carrying a credential.
const CREDENTIAL_WORDS: [&str; 9] = [
    "token",
    "auth",
    "key",
    "secret",
    "sign",
    "session",
    "password",
    "nonce",
    "credential",
];

/// What to do about a certificate the server's chain does not satisfy.
fn tls_hint(reason: &str) -> &'static str {
    if reason.to_ascii_lowercase().contains("certificate") {
        "; if the server uses a private or company CA, set the account option ca_file to that \
         CA's PEM file, or add the CA to the system's certificate store"
    } else {
        ""
    }
}

/// Server text made safe to store and show: C0 and C1 control characters and the bidi
/// embedding/override/isolate/mark characters are removed, whole terminal escape sequences
/// (CSI `ESC [ … final`, OSC `ESC ] … BEL|ST`, and their C1 forms) with them, so neither the
/// terminal nor the reader is steered by a hostile server. Tabs and line breaks become one
/// space; the result is trimmed.
pub fn clean_server_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' | '\n' | '\r' => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            // CSI: parameters and intermediates up to a final byte in @..~.
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                skip_csi(&mut chars);
            }
            '\u{9b}' => skip_csi(&mut chars),
            // OSC (and DCS/SOS/PM/APC, same shape): up to BEL or ST.
            '\u{1b}' if matches!(chars.peek(), Some(']' | 'P' | 'X' | '^' | '_')) => {
                chars.next();
                skip_string(&mut chars);
            }
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            // Any other escape: ESC plus the one character it introduces.
            '\u{1b}' => {
                chars.next();
            }
            c if is_unsafe_char(c) => {}
            c => out.push(c),
        }
    }
    out.trim().to_string()
}

/// The server's own error text from a JSON answer: the first non-empty string among
/// `message`, `msg`, `Message`, `error`, `info`, `errmsg` (top level, or inside `error`),
/// cleaned of control and bidi characters ([`clean_server_text`]) and capped at 300 characters.
/// Never call it on a success body (it holds tokens).
pub fn server_message(json: &serde_json::Value) -> Option<String> {
    const KEYS: [&str; 6] = ["message", "msg", "Message", "error", "info", "errmsg"];
    let obj = json.as_object()?;
    for key in KEYS {
        match obj.get(key) {
            Some(serde_json::Value::String(s)) if !clean_server_text(s).is_empty() => {
                return Some(clean_server_text(s).chars().take(300).collect());
            }
            Some(inner @ serde_json::Value::Object(_)) if key == "error" => {
                if let Some(s) = server_message(inner) {
                    return Some(s);
                }
            }
            _ => {}
        }
    }
    None
}

/// Control characters (C0, DEL, C1) and the bidi formatting characters.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    // Parameter and intermediate bytes (0x20..0x3f), then one final byte (0x40..0x7e); a
    // character outside that range ends a broken sequence and is kept.
    while let Some(&c) = chars.peek() {
        if !('\u{20}'..='\u{7e}').contains(&c) {
            return;
        }
        chars.next();
        if c >= '\u{40}' {
            return;
        }
    }
}

fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

/// Whether a URL host is this machine: `localhost`, 127.0.0.0/8, `::1` (or `::ffff:127.x`).
/// Decided on the name as written, never by resolving it.
pub fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.');
            d.eq_ignore_ascii_case("localhost")
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether what this account sends (its password at login, then its tokens) crosses a network
/// unencrypted: the endpoint is plain `http://` and either its host or the account's proxy is
/// not this machine. An unparsable endpoint counts as not plain (logins fail on it anyway).
pub fn plaintext_remote(endpoint: &str, proxy: Option<&str>) -> bool {
    // An endpoint may be a template (a service's placeholder such as CoolKit's `{region}`,
    // see `Service::endpoint_placeholder`): the placeholder's name stands in for its value.
    let endpoint = endpoint.trim().replace(['{', '}'], "");
    let Ok(url) = Url::parse(&endpoint) else {
        return false;
    };
    if url.scheme() != "http" {
        return false;
    }
    let remote = |u: &Url| u.host().is_none_or(|h| !is_loopback_host(&h));
    if remote(&url) {
        return true;
    }
    match proxy.map(str::trim) {
        Some(p) if !p.is_empty() => Url::parse(p).map_or(true, |p| remote(&p)),
        _ => false,
    }
}

/// Whether a header may carry a credential and must not follow a cross-origin redirect:
/// `Authorization`, `Proxy-Authorization`, `Cookie`, and any `X-…` header naming a token, an
/// auth value, a key, a secret, a signature, a session or a user id (`X-Auth-Token`,
/// `X-SS-USER-TOKEN`, `X-CK-Appid`, `X-CK-Nonce`, `X-Space-Id`…).
pub fn is_credential_header(name: &HeaderName) -> bool {
    let n = name.as_str(); // header names are lowercase
    if matches!(
        n,
        "authorization" | "proxy-authorization" | "cookie" | "cookie2"
    ) {
        return true;
    }
    if let Some(rest) = n.strip_prefix("x-") {
        return rest.starts_with("ck-")
            || rest.starts_with("auth")
            || rest.starts_with("space")
            || rest.starts_with("user")
            || CREDENTIAL_WORDS.iter().any(|w| rest.contains(w));
    }
    false
}

/// Remove every credential header (see [`is_credential_header`]).
pub fn strip_credential_headers(headers: &mut HeaderMap) {
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|k| is_credential_header(k))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// `host:port` for messages ("127.0.0.1:1234", "cms.example.com:443").
pub fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

fn secs(d: Duration) -> String {
    format!("{} s", secs_number(d))
}

/// Seconds as a person reads them: `10`, `0.5`.
fn secs_number(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        d.as_secs().to_string()
    } else {
        format!("{s:.1}")
    }
}

fn size_text(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB / 10 {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else {
        format!("{bytes} bytes")
    }
}

/// A complete answer: status, headers, final URL (after redirects) and the whole body.
#[derive(Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub url: Url,
    pub body: Bytes,
}

impl std::fmt::Debug for Response {
    // Bodies and headers may hold tokens: show only their size.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("host", &host_of(&self.url))
            .field("path", &self.url.path())
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `host:port` of the final URL, for messages.
    pub fn host(&self) -> String {
        host_of(&self.url)
    }

    /// A header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (lossy UTF-8, BOM removed).
    pub fn text(&self) -> String {
        let bytes = self
            .body
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(&self.body);
        String::from_utf8_lossy(bytes).into_owned()
    }

    /// Parse the body as JSON, whatever the Content-Type says (PHP servers send `text/html`).
    /// Anything else is a [`crate::ErrorCode::ServerError`] "unexpected answer from <host>: <reason>";
    /// the reason never quotes the body (it may hold a token): an HTML page is named by its
    /// `<title>`, other text by its media type and size, bad JSON by line and column.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        let bytes = self
            .body
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(&self.body);
        serde_json::from_slice(bytes).map_err(|e| self.unexpected(&self.json_failure(bytes, &e)))
    }

    /// `ErrorCode::ServerError` "unexpected answer from <host>: <reason>".
    pub fn unexpected(&self, reason: &str) -> Error {
        Error::server(format!("unexpected answer from {}: {reason}", self.host()))
    }

    fn json_failure(&self, bytes: &[u8], e: &serde_json::Error) -> String {
        let trimmed = bytes.trim_ascii_start();
        let status = if self.is_success() {
            String::new()
        } else {
            format!(" (HTTP {})", self.status)
        };
        if trimmed.is_empty() {
            return format!("an empty body{status}");
        }
        if trimmed.first() == Some(&b'<') {
            return match html_title(trimmed) {
                Some(title) => format!("an HTML page \"{title}\" instead of JSON{status}"),
                None => format!("an HTML page instead of JSON{status}"),
            };
        }
        match e.classify() {
            serde_json::error::Category::Data => {
                format!(
                    "JSON of an unexpected shape at line {} column {}{status}",
                    e.line(),
                    e.column()
                )
            }
            serde_json::error::Category::Eof => {
                format!("truncated JSON ({} bytes){status}", bytes.len())
            }
            _ if !matches!(trimmed.first(), Some(b'{' | b'[' | b'"')) => {
                let media = self.header("content-type").unwrap_or("no content type");
                let media = media.split(';').next().unwrap_or(media).trim();
                format!("not JSON ({media}, {} bytes){status}", bytes.len())
            }
            _ => format!(
                "malformed JSON at line {} column {}{status}",
                e.line(),
                e.column()
            ),
        }
    }

    /// The error for an unwanted status: 5xx → ServerError "… answered HTTP 503 Service
    /// Unavailable", keeping the server's `message`/`msg`/`error` text when the body is JSON.
    pub fn status_error(&self) -> Error {
        let reason = StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let mut err = Error::server(
            format!("{} answered HTTP {} {reason}", self.host(), self.status)
                .trim_end()
                .to_string(),
        )
        .with_said(
            Said::new("http_status")
                .with("host", self.host())
                .with("status", self.status.to_string()),
        );
        if let Some(text) = self.server_text() {
            err = err.with_server_message(text);
        }
        err
    }

    /// The server's own error text from a JSON body (`message`, `msg`, `Message`, `error`),
    /// if short and textual.
    pub fn server_text(&self) -> Option<String> {
        let v: serde_json::Value = self.json().ok()?;
        server_message(&v)
    }
}

fn html_title(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    let lower = text.to_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let title: String = clean_server_text(text.get(open_end..close)?)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if title.is_empty() {
        None
    } else {
        Some(title.chars().take(80).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn server_message_picks_the_text() {
        use serde_json::json;
        assert_eq!(
            server_message(&json!({"message":"accounts.invalid_credentials"})).as_deref(),
            Some("accounts.invalid_credentials")
        );
        assert_eq!(
            server_message(&json!({"msg":"密码错误","code":-4})).as_deref(),
            Some("密码错误")
        );
        assert_eq!(
            server_message(&json!({"error":{"message":"x"}})).as_deref(),
            Some("x")
        );
        assert_eq!(
            server_message(&json!({"error":406,"msg":"sign"})).as_deref(),
            Some("sign")
        );
        assert_eq!(server_message(&json!({"message":""})), None);
        assert_eq!(server_message(&json!(null)), None);
    }

    fn resp(status: u16, ct: &str, body: &'static [u8]) -> Response {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, ct.parse().unwrap());
        Response {
            status,
            headers,
            url: Url::parse("http://127.0.0.1:8080/api.php?s=x&token=sekrit").unwrap(),
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn json_ignores_content_type_and_bom() {
        let r = resp(
            200,
            "text/html; charset=UTF-8",
            b"\xEF\xBB\xBF{\"code\":-400,\"msg\":\"\\u767b\"}",
        );
        let v: serde_json::Value = r.json().unwrap();
        assert_eq!(v["code"], -400);
    }

    #[test]
    fn json_errors_name_the_host_not_the_body() {
        let r = resp(
            200,
            "text/html",
            b"<html><head><title>502 Bad Gateway</title></head><body>tok_abc</body></html>",
        );
        let e = r.json::<serde_json::Value>().unwrap_err();
        assert_eq!(e.code, ErrorCode::ServerError);
        assert!(
            e.message
                .starts_with("unexpected answer from 127.0.0.1:8080: an HTML page"),
            "{}",
            e.message
        );
        assert!(e.message.contains("502 Bad Gateway"));
        assert!(!e.message.contains("tok_abc") && !e.message.contains("sekrit"));

        let r = resp(200, "application/json", b"{\"token\": \"abcdef\", ");
        let e = r.json::<serde_json::Value>().unwrap_err();
        assert!(e.message.contains("truncated JSON"), "{}", e.message);
        assert!(!e.message.contains("abcdef"));

        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            token: u32,
        }
        let r = resp(200, "application/json", b"{\"token\": \"supersecret\"}");
        let e = r.json::<T>().unwrap_err();
        assert!(e.message.contains("unexpected shape"), "{}", e.message);
        assert!(!e.message.contains("supersecret"));

        let r = resp(200, "text/plain", b"token=supersecret");
        let e = r.json::<serde_json::Value>().unwrap_err();
        assert!(
            e.message.contains("not JSON (text/plain, 17 bytes)"),
            "{}",
            e.message
        );

        let r = resp(200, "application/json", b"{\"a\": tru}");
        let e = r.json::<serde_json::Value>().unwrap_err();
        assert!(
            e.message.contains("malformed JSON at line 1"),
            "{}",
            e.message
        );

        let r = resp(200, "application/json", b"  ");
        assert!(
            r.json::<serde_json::Value>()
                .unwrap_err()
                .message
                .contains("empty body")
        );
    }

    #[test]
    fn status_error_keeps_server_message() {
        let r = resp(503, "application/json", b"{\"message\":\"maintenance\"}");
        let e = r.status_error();
        assert_eq!(e.code, ErrorCode::ServerError);
        assert_eq!(
            e.message,
            "127.0.0.1:8080 answered HTTP 503 Service Unavailable"
        );
        assert_eq!(e.server_message.as_deref(), Some("maintenance"));
        // The same as a code a window words itself.
        let said = e.said.expect("an HTTP status has a code");
        assert_eq!(said.code, "http_status");
        assert_eq!(said.params["host"], "127.0.0.1:8080");
        assert_eq!(said.params["status"], "503");
    }

    #[test]
    fn credential_headers() {
        for h in [
            "authorization",
            "cookie",
            "proxy-authorization",
            "x-auth-token",
            "x-ss-user-token",
            "x-ck-appid",
            "x-ck-nonce",
            "x-user-id",
            "x-space-id",
            "x-access-token",
            "x-ss-api-key",
            "x-api-key",
        ] {
            assert!(is_credential_header(&HeaderName::from_static(h)), "{h}");
        }
        for h in [
            "accept",
            "content-type",
            "user-agent",
            "x-requested-with",
            "accept-language",
        ] {
            assert!(!is_credential_header(&HeaderName::from_static(h)), "{h}");
        }
    }

    #[test]
    fn redirect_rewrites() {
        let client = reqwest::Client::new();
        let mut req = client
            .post("http://a.example:80/login")
            .header("authorization", "Bearer t")
            .header("x-auth-token", "t")
            .header("accept", "application/json")
            .json(&serde_json::json!({"a": 1}))
            .build()
            .unwrap();
        // Same origin (default port spelled out), 307: everything kept.
        let mut same = req.try_clone().unwrap();
        redirect_request(
            &mut same,
            StatusCode::TEMPORARY_REDIRECT,
            Url::parse("http://a.example/next").unwrap(),
        );
        assert_eq!(same.method(), Method::POST);
        assert!(same.headers().contains_key("authorization"));
        assert!(same.body().is_some());
        // Cross origin 302 from a POST: GET, no body, no credentials.
        redirect_request(
            &mut req,
            StatusCode::FOUND,
            Url::parse("http://b.example/next").unwrap(),
        );
        assert_eq!(req.method(), Method::GET);
        assert!(req.body().is_none());
        assert!(!req.headers().contains_key("authorization"));
        assert!(!req.headers().contains_key("x-auth-token"));
        assert!(!req.headers().contains_key("content-type"));
        assert!(req.headers().contains_key("accept"));
        // Other port or scheme = other origin.
        assert!(!same_origin(
            &Url::parse("http://a/").unwrap(),
            &Url::parse("http://a:81/").unwrap()
        ));
        assert!(!same_origin(
            &Url::parse("http://a/").unwrap(),
            &Url::parse("https://a/").unwrap()
        ));
    }

    #[test]
    fn credentials_never_cross_origins_and_https_never_drops_to_http() {
        let u = |s: &str| Url::parse(s).unwrap();
        // Same origin: allowed, secret or not.
        assert!(
            check_redirect(
                &u("https://a.example/x"),
                &u("https://a.example:443/y"),
                true
            )
            .is_ok()
        );
        // A plain GET may cross origins; a request with credentials may not.
        assert!(check_redirect(&u("http://a.example/x"), &u("http://b.example/y"), false).is_ok());
        let e = check_redirect(
            &u("https://a.example/login"),
            &u("https://b.example:8080/"),
            true,
        )
        .unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::ServerError);
        assert_eq!(
            e.message,
            "the server at a.example:443 redirected a request carrying credentials to \
             b.example:8080; Lanyard does not send credentials to another host — check the endpoint"
        );
        // Other port, other scheme: other origin. http → https on the same host says so.
        assert!(check_redirect(&u("http://a/"), &u("http://a:81/"), true).is_err());
        let e =
            check_redirect(&u("http://a.example/"), &u("https://a.example/"), true).unwrap_err();
        assert!(
            e.message.contains("use an https:// endpoint"),
            "{}",
            e.message
        );
        // https → http: never, even for a request with nothing secret, even on the same host.
        for sensitive in [false, true] {
            let e = check_redirect(&u("https://a.example/"), &u("http://a.example/"), sensitive)
                .unwrap_err();
            assert!(
                e.message.contains("a.example:443") && e.message.contains("a.example:80"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn what_counts_as_carrying_credentials() {
        let client = reqwest::Client::new();
        let get = |url: &str| client.get(url).build().unwrap();
        assert!(!carries_credentials(&get(
            "http://a/x?s=user%2Flogin&uuid=1&application=app"
        )));
        assert!(carries_credentials(&get(
            "http://a/x?s=user%2Fcenter&token=t"
        )));
        assert!(carries_credentials(&get("http://a/x?access_token=t")));
        assert!(carries_credentials(&get("http://a/x?code=1234")));
        let with_header = client
            .get("http://a/")
            .header("X-Auth-Token", "t")
            .build()
            .unwrap();
        assert!(carries_credentials(&with_header));
        let with_body = client.post("http://a/").body("user=x").build().unwrap();
        assert!(carries_credentials(&with_body));
        for name in ["needCaptcha", "t", "s", "uuid", "application_client_type"] {
            assert!(!is_credential_query_name(name), "{name}");
        }
    }

    #[test]
    fn server_text_loses_control_and_bidi_characters() {
        let hostile = "\u{1b}[2J\u{1b}]52;c;ZXZpbA==\u{7}Wrong\u{202e}drowssap\u{202c} \
                       \u{9b}31mpassword\u{1b}[0m\r\n\tagain\u{200f}\u{2066}!\u{2069}\u{0}\u{7f}\u{85}";
        let clean = clean_server_text(hostile);
        assert_eq!(clean, "Wrongdrowssap password again!");
        assert!(!clean.chars().any(is_unsafe_char));
        // An ST-terminated OSC, a bare ESC, C1 OSC; ordinary text (CJK, emoji) untouched.
        assert_eq!(
            clean_server_text("\u{1b}]0;title\u{1b}\\密码错误"),
            "密码错误"
        );
        assert_eq!(clean_server_text("a\u{1b}7b\u{9d}8;;x\u{9c}c 🙂"), "abc 🙂");
        // A broken CSI keeps the character that ended it.
        assert_eq!(clean_server_text("\u{1b}[12密码"), "密码");
        assert_eq!(clean_server_text("  plain  "), "plain");
        // HTML titles too.
        assert_eq!(
            html_title(b"<title>\x1b[31mBad\xe2\x80\xae Gateway</title>").as_deref(),
            Some("Bad Gateway")
        );
    }

    #[test]
    fn loopback_is_decided_on_the_name_as_written() {
        let loopback = |s: &str| is_loopback_host(&Url::parse(s).unwrap().host().unwrap());
        for url in [
            "http://localhost:8080/",
            "http://LOCALHOST./",
            "http://127.0.0.1/",
            "http://127.8.9.10:1/",
            "http://[::1]:9/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert!(loopback(url), "{url}");
        }
        for url in [
            "http://192.0.2.1/",
            "http://10.0.0.1/",
            "http://[::2]/",
            "http://localhost.example/",
            "http://mylocalhost/",
            "http://lanyard-test.invalid/",
            "http://128.0.0.1/",
        ] {
            assert!(!loopback(url), "{url}");
        }
    }

    #[test]
    fn plaintext_remote_accounts() {
        let account = |endpoint: &'static str, proxy: Option<&'static str>| (endpoint, proxy);
        let plaintext_remote =
            |(endpoint, proxy): &(&str, Option<&str>)| plaintext_remote(endpoint, *proxy);
        assert!(plaintext_remote(&account("http://cms.example.com", None)));
        assert!(plaintext_remote(&account(
            "http://192.0.2.1:8080/cms",
            None
        )));
        assert!(plaintext_remote(&account(
            "http://{region}.example:8080",
            None
        )));
        assert!(!plaintext_remote(&account("https://cms.example.com", None)));
        assert!(!plaintext_remote(&account(
            "https://{region}-apia.coolkit.cc",
            None
        )));
        assert!(!plaintext_remote(&account("http://127.0.0.1:6806", None)));
        assert!(!plaintext_remote(&account("http://localhost:6806", None)));
        assert!(!plaintext_remote(&account(
            "http://127.0.0.1:1/{region}",
            None
        )));
        // Through a proxy: plain text beyond this machine unless the proxy is local too.
        assert!(plaintext_remote(&account(
            "http://127.0.0.1:1",
            Some("http://proxy.example:3128")
        )));
        assert!(!plaintext_remote(&account(
            "http://127.0.0.1:1",
            Some("http://127.0.0.1:3128")
        )));
        assert!(plaintext_remote(&account(
            "http://cms.example.com",
            Some("http://127.0.0.1:3128")
        )));
        assert!(!plaintext_remote(&account(
            "https://cms.example.com",
            Some("http://proxy.example:1")
        )));
    }

    #[test]
    fn ca_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = check_ca_file(missing.to_str().unwrap()).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidInput);
        assert!(
            e.message.contains("no such file") && e.message.contains("ca_file"),
            "{}",
            e.message
        );
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let e = check_ca_file(junk.to_str().unwrap()).unwrap_err();
        assert!(
            e.message.contains("holds no PEM certificate"),
            "{}",
            e.message
        );
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(check_ca_file(broken.to_str().unwrap()).is_err());
    }

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(size_text(4 * 1024 * 1024), "4 MiB");
        assert_eq!(size_text(1024), "1024 bytes");
        assert_eq!(secs(Duration::from_secs(30)), "30 s");
        assert_eq!(secs(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(
            redact_url("http://user:pw@proxy.local:3128/?x=1"),
            "http://proxy.local:3128/"
        );
        let config = HttpConfig {
            proxy: Some("http://user:pw@proxy.local:3128".into()),
            ..Default::default()
        };
        let shown = format!("{:?}", Http::new(config).unwrap());
        assert!(
            shown.contains("proxy.local:3128") && !shown.contains("pw@"),
            "{shown}"
        );
    }
}
