//! Starting and stopping the simulators: one loopback listener per service.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::common::{self, DemoUser, Shared};
use crate::{Endpoints, coolkit, server, shopxo, siyuan, sscms, steedos};

/// How to start the simulators.
#[derive(Debug, Clone, Default)]
pub struct SimConfig {
    /// `None` (or `Some(0)`): ephemeral ports. `Some(b)`: steedos b, sscms b+1, coolkit b+2, siyuan b+3, shopxo b+4.
    pub port_base: Option<u16>,
}

/// The running simulators. Dropping it also stops them (without waiting).
pub struct Running {
    endpoints: Endpoints,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Stops accepting, lets in-flight requests finish (up to a few seconds), closes idle
    /// keep-alive connections, and returns when every listener is gone.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

type RouterFn = fn(Shared) -> axum::Router;

/// The services in port order.
const SERVICES: [(&str, RouterFn); 5] = [
    ("steedos", steedos::router),
    ("sscms", sscms::router),
    ("coolkit", coolkit::router),
    ("siyuan", siyuan::router),
    ("shopxo", shopxo::router),
];

/// Binds one loopback listener per service and starts serving. Must be called inside a tokio
/// runtime (multi-thread recommended).
pub async fn start(config: SimConfig) -> std::io::Result<Running> {
    let (tx, rx) = watch::channel(false);
    let mut bases = Vec::with_capacity(SERVICES.len());
    let mut listeners = Vec::with_capacity(SERVICES.len());
    for (i, (name, _)) in SERVICES.iter().enumerate() {
        let port = match config.port_base {
            None | Some(0) => 0,
            Some(b) => b.checked_add(i as u16).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "port_base too high")
            })?,
        };
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("{name}: bind port {port}: {e}")))?;
        let addr = listener.local_addr()?;
        bases.push(format!("http://{addr}"));
        listeners.push(listener);
    }
    let mut tasks = Vec::with_capacity(SERVICES.len());
    for ((name, make), listener) in SERVICES.iter().zip(listeners) {
        let shared = Shared::new();
        let app = make(shared.clone()).merge(common::control_router(shared.clone()));
        tasks.push(tokio::spawn(server::serve(
            name,
            listener,
            app,
            shared,
            rx.clone(),
        )));
    }
    let endpoints = Endpoints {
        steedos: bases[0].clone(),
        sscms: bases[1].clone(),
        coolkit: format!("{}/{{region}}", bases[2]),
        siyuan: bases[3].clone(),
        siyuan_captcha: bases[3].clone(),
        shopxo: bases[4].clone(),
    };
    tracing::info!(?endpoints, "simulators listening");
    Ok(Running {
        endpoints,
        shutdown: tx,
        tasks,
    })
}

/// Every seeded demo user of every simulator.
pub fn demo_users() -> Vec<DemoUser> {
    let mut v = steedos::demo_users();
    v.extend(sscms::demo_users());
    v.extend(coolkit::demo_users());
    v.extend(siyuan::demo_users());
    v.extend(shopxo::demo_users());
    v
}
