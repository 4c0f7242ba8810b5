//! Keep-alive: one engine keeps every session usable (docs/architecture.md "Keep-alive").
//!
//! - [`clock`]: the [`Clock`] seam (system clock, and a [`TestClock`] that can jump);
//! - [`policy`]: when to look at an account next and what to do then (pure, unit-tested);
//! - [`engine`]: the supervisor task the desktop app runs ([`KeepAlive::spawn`]);
//! - [`host`]: the one interface the engine reaches the Manager through ([`KeepAliveHost`],
//!   implemented in `manager/keepalive.rs`), so the dependency goes one way.
//!
//! The engine does no renewal of its own: it calls the Manager's single-flight path (one
//! renewal per account across threads and processes), the same one `lanyard token` and
//! `lanyard refresh` use on demand.

pub mod clock;
pub mod engine;
pub mod host;
pub mod policy;

pub use clock::{Clock, SystemClock, TestClock};
pub use engine::{KeepAlive, KeepAliveConfig, KeepAliveHandle};
pub use host::{Changes, KeepAliveHost, Renewal, Watched};
pub use policy::{CheckKind, Plan, Policy};
