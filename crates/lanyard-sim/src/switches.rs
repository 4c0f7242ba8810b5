//! `GET|POST /__sim/config`, one generic handler for every simulator's switches. A service
//! states its switches as a typed struct ([`Switches`]) with the partial patch of
//! [`crate::wire`] that changes them, and says where its state keeps them ([`HasSwitches`]);
//! reading the body, refusing a malformed one and answering the full configuration happen here
//! once.
//!
//! Wire: `GET` answers the configuration; `POST` takes a patch (unset fields keep their value)
//! and answers the configuration after it; a body the service cannot take is `400
//! {"error": "..."}` and changes nothing.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A simulator's switches: what `POST /__sim/config` changes.
pub(crate) trait Switches: Serialize {
    /// The partial body that changes them (a [`crate::wire::ConfigPatch`]).
    type Patch: crate::wire::ConfigPatch + DeserializeOwned;

    /// Applies `patch`, all or nothing: `Err` names the value the simulator cannot take, and
    /// then nothing changed.
    fn apply(&mut self, patch: Self::Patch) -> Result<(), String>;
}

/// A simulator's state, as its router holds it, that keeps [`Switches`].
pub(crate) trait HasSwitches: Clone + Send + Sync + 'static {
    type Switches: Switches;

    /// Runs `change` on the switches under the simulator's lock and answers its result with
    /// the configuration as `/__sim/config` shows it afterwards (by default the switches
    /// themselves; a service may add facts that are not switches).
    fn with_switches<R>(&self, change: impl FnOnce(&mut Self::Switches) -> R) -> (R, Value);
}

/// The configuration as answered when it is just the switches.
pub(crate) fn shown<S: Switches>(switches: &S) -> Value {
    serde_json::to_value(switches).unwrap_or_default()
}

/// The `/__sim/config` route of a simulator whose router state is `S`.
pub(crate) fn config_route<S: HasSwitches>() -> MethodRouter<S> {
    get(config_get::<S>).post(config_post::<S>)
}

async fn config_get<S: HasSwitches>(State(sim): State<S>) -> Response {
    Json(sim.with_switches(|_| ()).1).into_response()
}

async fn config_post<S: HasSwitches>(State(sim): State<S>, body: Bytes) -> Response {
    let patch: <S::Switches as Switches>::Patch = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(e) => return refused(e.to_string()),
    };
    match sim.with_switches(|switches| switches.apply(patch)) {
        (Ok(()), config) => Json(config).into_response(),
        (Err(problem), _) => refused(problem),
    }
}

fn refused(problem: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": problem }))).into_response()
}
