//! The command-line tests, one binary: each module runs the real `postroom`
//! binary against a data directory (or a database).

mod common;

mod admin;
mod backup;
mod client;
mod crash;
mod help;
mod login;
mod restore;
mod verify_domain;
