//! The `lanyard` binary's integration tests, one test binary (one link) for all of them: the
//! real binary against lanyard-sim over loopback HTTP. Shared helpers live in `support`.

mod support;

mod cli;
mod keepalive;
mod platform;
mod scripts;
mod secret_store;
mod session_cache;
mod terminal_login;
mod transfer;
mod transport;
