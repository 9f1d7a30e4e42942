//! Built-in HTTPS (O4). With `tls_cert` and `tls_key` set, the server speaks
//! TLS itself on its listener: rustls with the *ring* provider, HTTP/1.1 and
//! HTTP/2 chosen by ALPN, and WebSockets (the sync socket) over HTTP/1.1.
//!
//! The pair is read at start ([`Certificates::load`], whose errors name the
//! file and what is wrong with it) and again whenever the files change: the
//! [`watch`] task reads them every few seconds and compares them with what
//! it loaded, so a renewed certificate needs no restart. A new pair that
//! does not load is logged once and the old one kept. Connections already
//! open keep the certificate they began with; new handshakes get the new one
//! ([`Certificates`] is the rustls certificate resolver).
//!
//! A failed handshake (a scanner, a plain HTTP request, a client that does
//! not trust the certificate) is the client's problem: it is counted
//! (`postroom_tls_handshake_failures_total`) and logged at debug level only.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch as signal;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How long a client may take over its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the certificate files are looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Where the certificate and its key are, and how often to look at them.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM: the server's certificate first, then any intermediates.
    pub cert: PathBuf,
    /// PEM: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// How often [`watch`] reads the files for a change.
    pub check_every: Duration,
}

/// Why a certificate and key cannot be used; the message names the setting,
/// the file and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadPair(pub String);

/// The provider every TLS connection of the server uses: *ring*, named
/// explicitly, since other crates of the build may enable aws-lc as well.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a file of the pair, with an error that says which and why.
fn read(setting: &str, path: &Path) -> Result<Vec<u8>, BadPair> {
    std::fs::read(path).map_err(|e| {
        let why = match e.kind() {
            io::ErrorKind::NotFound => "does not exist".to_owned(),
            io::ErrorKind::PermissionDenied => {
                "cannot be read: permission denied (the server's user must be able to read it)"
                    .to_owned()
            }
            io::ErrorKind::IsADirectory => "is a directory, not a PEM file".to_owned(),
            _ => format!("cannot be read: {e}"),
        };
        BadPair(format!("{setting}: {} {why}", path.display()))
    })
}

/// The certificate chain and key in these PEM texts, checked to belong
/// together.
fn parse(files: &TlsFiles, cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, BadPair> {
    let cert_path = files.cert.display();
    let key_path = files.key.display();
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BadPair(format!("tls_cert: {cert_path} is not valid PEM: {e}")))?;
    if chain.is_empty() {
        let hint = if PrivateKeyDer::from_pem_slice(cert_pem).is_ok() {
            " (it holds a private key: are tls_cert and tls_key swapped?)"
        } else {
            ""
        };
        return Err(BadPair(format!(
            "tls_cert: {cert_path} holds no certificate (a PEM block \
             \"-----BEGIN CERTIFICATE-----\"){hint}"
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        let text = String::from_utf8_lossy(key_pem);
        BadPair(match e {
            pem::Error::NoItemsFound if text.contains("ENCRYPTED PRIVATE KEY") => format!(
                "tls_key: {key_path} is encrypted with a passphrase; give the key without one \
                 (openssl pkey -in {key_path} -out key.pem)"
            ),
            pem::Error::NoItemsFound if text.contains("BEGIN CERTIFICATE") => format!(
                "tls_key: {key_path} holds a certificate, not a private key (are tls_cert and \
                 tls_key swapped?)"
            ),
            pem::Error::NoItemsFound => format!(
                "tls_key: {key_path} holds no private key (a PEM block \"-----BEGIN PRIVATE \
                 KEY-----\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\")"
            ),
            e => format!("tls_key: {key_path} is not valid PEM: {e}"),
        })
    })?;
    let signing_key = provider().key_provider.load_private_key(key).map_err(|e| {
        BadPair(format!(
            "tls_key: {key_path} is not a key this server can use (RSA of 2048 bits or \
                 more, ECDSA P-256 or P-384, or Ed25519): {e}"
        ))
    })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(certified)
        }
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(BadPair(format!(
                "tls_key: {key_path} does not match the certificate in {cert_path} (the first \
                 certificate must be the server's own, made for this key)"
            )))
        }
        Err(e) => Err(BadPair(format!(
            "tls_cert: {cert_path} does not hold a usable certificate: {e}"
        ))),
    }
}

/// The two files as read, and a digest of both to tell when they change.
struct Files {
    digest: [u8; 32],
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl Files {
    fn read(files: &TlsFiles) -> Result<Files, BadPair> {
        let cert = read("tls_cert", &files.cert)?;
        let key = read("tls_key", &files.key)?;
        let mut digest = Sha256::new();
        digest.update((cert.len() as u64).to_le_bytes());
        digest.update(&cert);
        digest.update(&key);
        Ok(Files {
            digest: digest.finalize().into(),
            cert,
            key,
        })
    }
}

/// Checks that the files hold a certificate and the key that goes with it:
/// the configuration's validation.
pub fn check(files: &TlsFiles) -> Result<(), BadPair> {
    let read = Files::read(files)?;
    parse(files, &read.cert, &read.key).map(|_| ())
}

/// What [`Certificates::reload`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// The files are as they were when last looked at.
    Unchanged,
    /// The files changed and the new pair is in use.
    Replaced,
    /// The files changed, but the new pair cannot be used: the old one stays.
    Refused(BadPair),
}

/// The certificate in use, which new handshakes get, and the files it
/// comes from.
pub struct Certificates {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    /// The digest of the files when last looked at (`None`: they could not
    /// be read), so that a change is acted on, and logged, once.
    seen: Mutex<Option<[u8; 32]>>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates")
            .field("cert", &self.files.cert)
            .field("key", &self.files.key)
            .finish_non_exhaustive()
    }
}

impl Certificates {
    /// Loads the pair, or says why it cannot be used.
    pub fn load(files: &TlsFiles) -> Result<Arc<Certificates>, BadPair> {
        let read = Files::read(files)?;
        let pair = parse(files, &read.cert, &read.key)?;
        Ok(Arc::new(Certificates {
            files: files.clone(),
            current: RwLock::new(Arc::new(pair)),
            seen: Mutex::new(Some(read.digest)),
        }))
    }

    /// The certificate chain new handshakes get (the server's first).
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.current().cert.clone()
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the files and, when they changed since the last look, puts the
    /// new pair in use if it loads.
    pub fn reload(&self) -> Reload {
        let read = Files::read(&self.files);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let digest = read.as_ref().ok().map(|r| r.digest);
        if digest == *seen {
            return Reload::Unchanged;
        }
        *seen = digest;
        match read.and_then(|r| parse(&self.files, &r.cert, &r.key)) {
            Ok(pair) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(pair);
                Reload::Replaced
            }
            Err(e) => Reload::Refused(e),
        }
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Looks at the files every `check_every` until `stop` turns true, and
/// puts a changed pair in use (see [`Certificates::reload`]).
pub async fn watch(certs: Arc<Certificates>, mut stop: signal::Receiver<bool>) {
    let every = certs.files.check_every;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let reloaded = {
            let certs = certs.clone();
            tokio::task::spawn_blocking(move || certs.reload()).await
        };
        match reloaded {
            Ok(Reload::Unchanged) => {}
            Ok(Reload::Replaced) => tracing::info!(
                cert = %certs.files.cert.display(),
                "the TLS certificate changed: new connections get the new one"
            ),
            Ok(Reload::Refused(e)) => tracing::warn!(
                error = %e,
                "the TLS certificate files changed but cannot be used; the one loaded before stays in use"
            ),
            Err(e) => tracing::warn!(error = %e, "reading the TLS certificate files failed"),
        }
    }
}

/// The rustls configuration: TLS 1.2 and 1.3, the certificate from
/// `certs`, HTTP/2 preferred to HTTP/1.1.
pub fn server_config(certs: Arc<Certificates>) -> rustls::ServerConfig {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// Serves `router` over TLS on `listener` until `shutdown` resolves, then
/// stops accepting and waits for open requests to finish, as
/// `axum::serve(...).with_graceful_shutdown` does for plain HTTP.
///
/// Each connection's handshake runs in its own task (with a time limit), so
/// a slow or silent client holds up nobody else. HTTP/2 is offered without
/// the extended CONNECT of WebSockets over HTTP/2, so browsers open the
/// sync socket on an HTTP/1.1 connection of its own.
pub async fn serve(
    listener: TcpListener,
    certs: Arc<Certificates>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let acceptor = TlsAcceptor::from(Arc::new(server_config(certs)));
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Watched from the start, so that shutdown waits for a connection
        // whose handshake is under way.
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        let builder = builder.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return handshake_failed(peer, &e),
                Err(_) => return handshake_failed(peer, &io::Error::from(io::ErrorKind::TimedOut)),
            };
            let service = router.map_request(move |request: Request<Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(tls),
                TowerToHyperService::new(service),
            );
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(%peer, error = %e, "TLS connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

fn handshake_failed(peer: SocketAddr, e: &io::Error) {
    metrics::counter!("postroom_tls_handshake_failures_total").increment(1);
    tracing::debug!(%peer, error = %e, "TLS handshake failed");
}

/// A failed `accept`: a connection that went away before it was taken is
/// nothing; anything else (out of file descriptors) is worth saying, and
/// waiting a little before trying again, as hyper's server did.
async fn accept_failed(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::Layer;

    use super::*;

    /// Keeps the level and message of every event.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<(tracing::Level, String)>>>);

    impl<S: tracing::Subscriber> Layer<S> for Captured {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            struct Message(String);
            impl tracing::field::Visit for Message {
                fn record_debug(&mut self, field: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                    if field.name() == "message" {
                        self.0 = format!("{v:?}");
                    }
                }
            }
            let mut message = Message(String::new());
            event.record(&mut message);
            let level = *event.metadata().level();
            self.0.lock().unwrap().push((level, message.0));
        }
    }

    fn self_signed(dir: &Path) -> TlsFiles {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let files = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            check_every: CHECK_EVERY,
        };
        std::fs::write(&files.cert, cert.cert.pem()).unwrap();
        std::fs::write(&files.key, cert.signing_key.serialize_pem()).unwrap();
        files
    }

    /// Clients that fail their handshake (plain HTTP, a stranger's TLS, a
    /// connection closed at once) are logged at debug level, not as
    /// warnings or errors, and the server goes on to shut down cleanly.
    #[test]
    fn failed_handshakes_are_not_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let certs = Certificates::load(&self_signed(dir.path())).unwrap();
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry().with(captured.clone());
        // One thread: the server's tasks log to this thread's subscriber.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tracing::subscriber::with_default(subscriber, || {
            runtime.block_on(async {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let router = Router::new().route("/", axum::routing::get(|| async { "hi" }));
                let server = tokio::spawn(serve(listener, certs, router, async {
                    let _ = stopped.await;
                }));
                for junk in [
                    &b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
                    &[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5][..],
                    &b""[..],
                ] {
                    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                    tcp.write_all(junk).await.unwrap();
                    tcp.shutdown().await.unwrap();
                    let mut answer = Vec::new();
                    let _ = tcp.read_to_end(&mut answer).await;
                    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
                }
                let _ = stop.send(());
                server.await.unwrap().unwrap();
            })
        });
        let events = captured.0.lock().unwrap();
        let failures = events
            .iter()
            .filter(|(level, m)| *level == tracing::Level::DEBUG && m == "TLS handshake failed")
            .count();
        assert_eq!(failures, 3, "{events:?}");
        assert!(
            events
                .iter()
                .all(|(level, _)| *level > tracing::Level::INFO),
            "only debug and trace: {events:?}"
        );
    }
}
