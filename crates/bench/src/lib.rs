//! Instruments for Postroom's speed and durability, run against the real
//! `postroom` binary: the `postroom-bench` tool (see `main.rs` and
//! `docs/PERFORMANCE.md`) and the crash test in `crates/cli/tests/crash.rs`.

pub mod crash;
pub mod seed;
pub mod server;
pub mod wrk;
