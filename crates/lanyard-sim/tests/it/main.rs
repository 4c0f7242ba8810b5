//! The simulators' integration tests, one test binary (one link) for all of them: hand-built
//! requests over loopback HTTP. Shared helpers live in `support`.

mod support;

mod control;
mod coolkit;
mod framework;
mod shopxo;
mod siyuan;
mod sscms;
mod steedos;
