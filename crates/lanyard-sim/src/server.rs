//! The accept loop: one loopback listener per service, hyper http1 per connection, faults
//! applied in front of the service's router, graceful shutdown.
//!
//! Dropping a connection without answering (the `drop` fault) needs control over the
//! connection task, which `axum::serve` does not give: each connection gets a `Notify`; the
//! request handler signals it and parks, and the connection task then drops the hyper
//! connection future, so the socket closes with no response written.
//!
//! Slow and endless bodies (`drip`, `endless`) are hyper bodies polled by the connection: they
//! stop as soon as the client hangs up, so a client that gives up costs the simulator nothing.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower::Service;

use crate::common::{
    FaultBody, FaultSpec, HOSTILE_KEYS, HOSTILE_PREFIX, HOSTILE_SUFFIX, HUGE_BODY_LEN, Shared,
};

/// How long shutdown waits for in-flight requests before cutting connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves `app` on `listener` until `shutdown` flips to true, then drains connections.
pub(crate) async fn serve(
    name: &'static str,
    listener: TcpListener,
    app: Router,
    shared: Shared,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_conn(name, stream, app.clone(), shared.clone(), shutdown.clone()));
                }
                Err(e) => {
                    tracing::warn!(service = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = shutdown.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        conns.abort_all();
    }
    tracing::debug!(service = name, "listener stopped");
}

async fn serve_conn(
    name: &'static str,
    stream: tokio::net::TcpStream,
    app: Router,
    shared: Shared,
    mut shutdown: watch::Receiver<bool>,
) {
    let kill = Arc::new(Notify::new());
    let kill_for_svc = kill.clone();
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        handle(name, req, app.clone(), shared.clone(), kill_for_svc.clone())
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    if *shutdown.borrow() {
        conn.as_mut().graceful_shutdown();
    }
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::trace!(service = name, error = %e, "connection ended with error");
            }
            return;
        }
        _ = kill.notified() => {
            tracing::debug!(service = name, "fault: dropping connection");
            return; // dropping `conn` closes the socket without an answer
        }
        _ = shutdown.changed() => {}
    }
    conn.as_mut().graceful_shutdown();
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = kill.notified() => {}
    }
}

async fn handle(
    name: &'static str,
    req: Request<Incoming>,
    mut app: Router,
    shared: Shared,
    kill: Arc<Notify>,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let fault = if path.starts_with("/__sim/") {
        None
    } else {
        shared.faults.take(&target)
    };
    let resp = match fault {
        Some(ref f) => match apply_fault(f, &kill).await {
            Some(r) => r,
            None => app.call(req).await?,
        },
        None => app.call(req).await?,
    };
    let resp = match fault {
        Some(ref f) if f.hostile_text => hostile(resp).await,
        _ => resp,
    };
    tracing::debug!(
        service = name,
        %method,
        path = %path,
        status = resp.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        faulted = fault.is_some(),
        "request"
    );
    Ok(resp)
}

/// Applies `f`; `None` means "now answer normally" (latency-only faults).
async fn apply_fault(f: &FaultSpec, kill: &Notify) -> Option<Response<Body>> {
    if let Some(ms) = f.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if f.drop {
        kill.notify_one();
        // The connection task drops this future together with the connection.
        std::future::pending::<()>().await;
    }
    let status = f.status.and_then(|s| StatusCode::from_u16(s).ok());
    if let Some(location) = &f.location {
        let st = status
            .filter(StatusCode::is_redirection)
            .unwrap_or(StatusCode::TEMPORARY_REDIRECT);
        let Ok(value) = HeaderValue::from_str(location) else {
            let text = "simulated fault: the location cannot be a header value\n";
            return Some(with_type(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                Body::from(text),
            ));
        };
        let mut r = with_type(st, "text/plain; charset=utf-8", Body::empty());
        r.headers_mut().insert(header::LOCATION, value);
        return Some(r);
    }
    match f.body {
        Some(FaultBody::Malformed) => Some(with_type(
            status.unwrap_or(StatusCode::OK),
            "application/json; charset=utf-8",
            Body::from(MALFORMED_JSON),
        )),
        Some(FaultBody::Html) => {
            let st = status.unwrap_or(StatusCode::OK);
            Some(with_type(st, "text/html", Body::from(nginx_page(st))))
        }
        Some(FaultBody::Huge) => Some(with_type(
            status.unwrap_or(StatusCode::OK),
            "application/json",
            Body::new(HugeBody { pos: 0 }),
        )),
        Some(FaultBody::Drip) => Some(with_type(
            status.unwrap_or(StatusCode::OK),
            "application/json",
            drip_body(Duration::from_millis(f.drip_ms.unwrap_or(200))),
        )),
        Some(FaultBody::Endless) => Some(with_type(
            status.unwrap_or(StatusCode::OK),
            "application/json",
            Body::new(EndlessBody { started: false }),
        )),
        None => status.map(|st| {
            let text = format!(
                "simulated fault: {} {}\n",
                st.as_u16(),
                st.canonical_reason().unwrap_or("")
            );
            with_type(st, "text/plain; charset=utf-8", Body::from(text))
        }),
    }
}

/// A JSON answer cut off mid-token.
pub(crate) const MALFORMED_JSON: &str =
    r#"{"error":0,"code":0,"data":{"at":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoi"#;

fn with_type(status: StatusCode, ctype: &'static str, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r.headers_mut()
        .insert(header::SERVER, HeaderValue::from_static("nginx/1.24.0"));
    r
}

/// What nginx answers itself: its error page for non-200, its welcome page (a captive portal
/// or misrouted vhost) for 200.
fn nginx_page(st: StatusCode) -> String {
    if st == StatusCode::OK {
        return "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed and\nworking. Further configuration is required.</p>\n</body>\n</html>\n".to_owned();
    }
    let line = format!("{} {}", st.as_u16(), st.canonical_reason().unwrap_or(""));
    format!(
        "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// `HUGE_BODY_LEN` bytes of syntactically valid JSON (`{"data":"aaaa…"}`), streamed in 64 KiB
/// chunks without allocating the whole thing.
struct HugeBody {
    pos: usize,
}

const HUGE_PREFIX: &[u8] = br#"{"error":0,"data":""#;
const HUGE_SUFFIX: &[u8] = br#""}"#;
static FILLER: [u8; 64 * 1024] = [b'a'; 64 * 1024];

impl hyper::body::Body for HugeBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let total = HUGE_BODY_LEN;
        let filler_end = total - HUGE_SUFFIX.len();
        let pos = self.pos;
        let chunk = if pos >= total {
            return Poll::Ready(None);
        } else if pos == 0 {
            Bytes::from_static(HUGE_PREFIX)
        } else if pos < filler_end {
            let n = FILLER.len().min(filler_end - pos);
            Bytes::from_static(&FILLER[..n])
        } else {
            Bytes::from_static(HUGE_SUFFIX)
        };
        self.pos += chunk.len();
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.pos >= HUGE_BODY_LEN
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact((HUGE_BODY_LEN - self.pos.min(HUGE_BODY_LEN)) as u64)
    }
}

/// What a `drip` body sends, one byte per tick: a plausible JSON answer, padded so that even a
/// patient client waits a long time.
const DRIP_JSON: &str = concat!(
    r#"{"error":0,"code":0,"msg":"ok","data":{"note":""#,
    "................................................................",
    "................................................................",
    "................................................................",
    "................................................................",
    r#""}}"#
);

/// A body that sends [`DRIP_JSON`] one byte every `every`; the feeding task ends when the
/// client hangs up (the receiver is dropped with the connection).
fn drip_body(every: Duration) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    tokio::spawn(async move {
        for byte in DRIP_JSON.bytes() {
            tokio::time::sleep(every).await;
            if tx.send(Bytes::copy_from_slice(&[byte])).await.is_err() {
                return;
            }
        }
    });
    Body::new(ChannelBody { rx })
}

struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// JSON-looking data that never ends: the huge body's prefix, then filler forever, with no
/// length (chunked). Allocates nothing per chunk.
struct EndlessBody {
    started: bool,
}

impl hyper::body::Body for EndlessBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let chunk = if self.started {
            Bytes::from_static(&FILLER)
        } else {
            self.started = true;
            Bytes::from_static(HUGE_PREFIX)
        };
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        false
    }
}

/// Largest answer the `hostile_text` fault rewrites (bigger ones pass unchanged).
const HOSTILE_MAX_BODY: usize = 1 << 20;

/// The `hostile_text` fault: a JSON answer with every [`HOSTILE_KEYS`] string wrapped in
/// [`HOSTILE_PREFIX`] … [`HOSTILE_SUFFIX`]; anything else unchanged.
async fn hostile(resp: Response<Body>) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, HOSTILE_MAX_BODY).await else {
        let text = "simulated fault: the answer was too large to rewrite\n";
        return with_type(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            Body::from(text),
        );
    };
    let rewritten = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .map(|mut v| {
            decorate(&mut v);
            Bytes::from(v.to_string())
        });
    let bytes = rewritten.unwrap_or(bytes);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

fn decorate(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    serde_json::Value::String(s) if HOSTILE_KEYS.contains(&key.as_str()) => {
                        *s = format!("{HOSTILE_PREFIX}{s}{HOSTILE_SUFFIX}");
                    }
                    other => decorate(other),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(decorate),
        _ => {}
    }
}
