//! The server's integration tests, one binary (one link) for all of them:
//! each module is one area, against a real server on `127.0.0.1:0` with a
//! fresh database (see `common`).

#[macro_use]
mod common;

mod accounts;
mod authorization;
mod billing;
mod billing_props;
mod browser;
mod browser_billing;
mod browser_collections;
mod browser_sync;
mod browser_teams;
mod cookie_auth;
mod fuzz_bodies;
mod my_data;
mod oauth;
mod oidc;
mod operator;
mod ops;
mod passkeys;
mod sessions;
mod settings;
mod smtp;
mod store_contract;
mod store_teams;
mod stripe;
mod support;
mod sync;
mod sync_model;
mod team_authorization;
mod teams;
mod tls;
mod two_factor;
mod workspace;
