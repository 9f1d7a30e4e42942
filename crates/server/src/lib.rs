//! The Postroom server. `postroom serve` (in the `postroom` crate) builds an
//! [`startup::Application`] from a validated [`config::Settings`] and runs it.
//! See `docs/ARCHITECTURE.md` for the map.

pub mod billing;
pub mod clock;
pub mod config;
pub mod deferred;
pub mod domain;
pub mod error;
pub mod files;
pub mod http;
pub mod hub;
pub mod mail;
pub mod outbound;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tls;

pub use clock::Clock;
pub use config::{Config, Settings};
pub use startup::Application;
pub use state::App;
