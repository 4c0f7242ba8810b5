//! shopxo simulator (placeholder until the real one lands).

use crate::common::{DemoUser, Shared};

pub fn router(_shared: Shared) -> axum::Router {
    axum::Router::new()
}

pub fn demo_users() -> Vec<DemoUser> {
    Vec::new()
}
