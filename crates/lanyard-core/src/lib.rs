//! lanyard-core: the domain of Lanyard, with no GUI and no terminal.
//!
//! Both the desktop app and the `lanyard` CLI are thin clients of [`Manager`].

pub mod api;
pub mod data_dir;
pub mod error;
pub mod http;
pub mod keepalive;
pub mod manager;
pub mod model;
pub mod secret;
pub mod secrets;
pub mod services;
pub mod settings;
pub mod store;
pub mod token;

pub use error::{Error, ErrorCode, Result};
pub use keepalive::{KeepAlive, KeepAliveHandle};
pub use manager::{AddDraft, Config, LogoutOutcome, Manager, RefreshDone};
pub use model::{
    Account, AccountView, ServiceId, ServiceSpec, Session, SessionInfo, SessionTokens, State,
};
pub use secret::SecretString;
pub use settings::Settings;
