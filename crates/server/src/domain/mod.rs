//! The rules. Handlers (API and web) parse input, call one function here, and
//! map the result; these functions decide what is allowed, write through
//! `store/`, record events and queue mail.

pub mod accounts;
pub mod actor;
pub mod api_keys;
pub mod billing;
pub mod captcha;
pub mod dns;
pub mod limits;
pub mod notify;
pub mod oauth;
pub mod oidc;
pub mod operator;
pub mod passkeys;
pub mod passwords;
pub mod plans;
pub mod policy;
pub mod profile;
pub mod sessions;
pub mod support;
pub mod teams;
pub mod tokens;
pub mod two_factor;
pub mod views;
pub mod workspace;

pub use actor::{Actor, Client};
