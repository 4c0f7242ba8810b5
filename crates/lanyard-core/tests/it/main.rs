//! lanyard-core's integration tests, one test binary (one link) for all of them: the services,
//! keep-alive and storage against lanyard-sim over loopback HTTP, real SQLite files and a real
//! Secret Service. Shared helpers live in `support`. Tests that start this binary again as a
//! child name the child by its full path (`module::name`).

mod support;

mod data_dir_permissions;
mod edit_remove_races;
mod keepalive;
mod keyring;
mod services_coolkit;
mod services_faults;
mod services_shopxo;
mod services_siyuan;
mod services_sscms;
mod services_steedos;
mod sixth_service;
mod storage;
mod tls;
mod two_processes;
