//! lanyard-sim: faithful simulators of the five services (docs/architecture.md, "Simulator and
//! tests").
//!
//! One listener per service on 127.0.0.1. Each service module exposes `router(shared) -> Router`
//! holding its protocol routes and its own `/__sim/*` control routes, and `demo_users()` for
//! the banner. Cross-cutting pieces (the clock, fault injection, request stats) live in
//! [`common`]; the accept loop (faults, connection drops, graceful shutdown) in `server`.
//! The control API is specified in `docs/simulator-control.md`; its bodies and answers are
//! the types in [`wire`], and [`control`] is the typed client every test, the e2e suite, the
//! bench and the demo use.
//!
//! Features: `server` (the simulators and the binary) and `control` (the client), both on by
//! default; `default-features = false, features = ["control"]` builds the client without axum.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = lanyard_sim::start(lanyard_sim::SimConfig { port_base: None }).await?;
//! println!("{}", sim.endpoints().steedos);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

#[cfg(feature = "control")]
pub mod control;
pub mod wire;

#[cfg(feature = "server")]
pub mod captcha;
#[cfg(feature = "server")]
pub mod common;
#[cfg(feature = "server")]
pub mod coolkit;
#[cfg(feature = "server")]
pub mod shopxo;
#[cfg(feature = "server")]
pub mod siyuan;
#[cfg(feature = "server")]
pub mod sscms;
#[cfg(feature = "server")]
pub mod steedos;
#[cfg(feature = "server")]
mod switches;
#[cfg(feature = "server")]
pub mod tls_fixture;

#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod simulators;

#[cfg(feature = "server")]
pub use common::{DemoUser, Shared};
#[cfg(feature = "server")]
pub use simulators::{Running, SimConfig, demo_users, start};

/// Base URLs of the running simulators (no trailing slash).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Endpoints {
    pub steedos: String,
    pub sscms: String,
    /// Template: `http://127.0.0.1:P/{region}`, region one of cn, as, eu, us.
    pub coolkit: String,
    /// The SiYuan kernel.
    pub siyuan: String,
    /// The SiYuan cloud host serving `/captcha/login`; same listener as `siyuan`.
    pub siyuan_captcha: String,
    pub shopxo: String,
}
