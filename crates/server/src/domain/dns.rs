//! DNS TXT lookups for team domain verification (T8). Verification asks a
//! [`TxtResolver`]; the server's is [`HickoryResolver`], which queries the
//! resolver named by the `dns_resolver` setting (an `ip:port`) or, when
//! unset, the system's (`/etc/resolv.conf`). Tests either point
//! `dns_resolver` at a small UDP responder of their own, or swap the resolver
//! with [`Dns::replace`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::Resolver;

/// Why a lookup found nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The name does not exist or has no TXT records.
    #[error("no TXT record found")]
    NotFound,
    /// The resolver could not answer (timeout, refused, server failure).
    #[error("the DNS lookup failed: {0}")]
    Failed(String),
}

pub type LookupFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<String>, LookupError>> + Send + 'a>>;

/// Looks up the TXT records of a name. Each record's strings are joined,
/// as RFC 7208 does for long values.
pub trait TxtResolver: Send + Sync + 'static {
    fn lookup_txt<'a>(&'a self, name: &'a str) -> LookupFuture<'a>;
}

/// The resolver the server uses; swappable so tests can answer themselves.
pub struct Dns(RwLock<Arc<dyn TxtResolver>>);

impl Dns {
    pub fn new(resolver: Arc<dyn TxtResolver>) -> Dns {
        Dns(RwLock::new(resolver))
    }

    pub fn get(&self) -> Arc<dyn TxtResolver> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the resolver (for tests and embedders).
    pub fn replace(&self, resolver: Arc<dyn TxtResolver>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = resolver;
    }
}

/// Real DNS through hickory. A resolver is built for each lookup, without a
/// cache, so a record published a moment ago is seen at the next attempt.
pub struct HickoryResolver {
    nameserver: Option<SocketAddr>,
}

impl HickoryResolver {
    /// `nameserver`: the `dns_resolver` setting; `None` uses the system's.
    pub fn new(nameserver: Option<SocketAddr>) -> HickoryResolver {
        HickoryResolver { nameserver }
    }

    async fn lookup(&self, name: &str) -> Result<Vec<String>, LookupError> {
        let mut builder = match self.nameserver {
            Some(addr) => {
                // UDP, and TCP for answers too long for a datagram, both on
                // the configured port; an NXDOMAIN from it is final.
                let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
                    .into_iter()
                    .map(|mut c| {
                        c.port = addr.port();
                        c
                    })
                    .collect();
                Resolver::builder_with_config(
                    ResolverConfig::from_parts(
                        None,
                        vec![],
                        vec![NameServerConfig::new(addr.ip(), true, connections)],
                    ),
                    TokioRuntimeProvider::default(),
                )
            }
            None => Resolver::builder_tokio().map_err(|e| {
                LookupError::Failed(format!("reading the system's DNS configuration: {e}"))
            })?,
        };
        let options = builder.options_mut();
        options.cache_size = 0;
        options.timeout = Duration::from_secs(5);
        options.attempts = 2;
        let resolver = builder
            .build()
            .map_err(|e| LookupError::Failed(format!("starting the DNS resolver: {e}")))?;
        // A fully qualified name: no search domains are tried.
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match resolver.txt_lookup(fqdn.as_str()).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|part| String::from_utf8_lossy(part))
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Err(LookupError::NotFound),
            Err(e) => Err(LookupError::Failed(e.to_string())),
        }
    }
}

impl TxtResolver for HickoryResolver {
    fn lookup_txt<'a>(&'a self, name: &'a str) -> LookupFuture<'a> {
        Box::pin(self.lookup(name))
    }
}

/// A resolver with fixed answers, for tests.
#[derive(Default)]
pub struct StaticResolver {
    records: RwLock<std::collections::HashMap<String, Vec<String>>>,
}

impl StaticResolver {
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }

    /// Publishes a TXT record (names are compared without a trailing dot, in lower case).
    pub fn add(&self, name: &str, value: &str) {
        self.records
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.trim_end_matches('.').to_ascii_lowercase())
            .or_default()
            .push(value.to_owned());
    }
}

impl TxtResolver for StaticResolver {
    fn lookup_txt<'a>(&'a self, name: &'a str) -> LookupFuture<'a> {
        let found = self
            .records
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&name.trim_end_matches('.').to_ascii_lowercase())
            .cloned();
        Box::pin(async move { found.ok_or(LookupError::NotFound) })
    }
}
