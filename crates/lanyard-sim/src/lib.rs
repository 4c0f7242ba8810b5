//! lanyard-sim: faithful simulators of the five services (DESIGN.md "Simulators").
//!
//! One listener per service. Each service module exposes `router(shared) -> Router` holding its
//! protocol routes and its own `/__sim/*` control routes, and `demo_users()` for the banner.
//! Cross-cutting pieces (the clock, fault injection) live in [`common`].

pub mod common;
