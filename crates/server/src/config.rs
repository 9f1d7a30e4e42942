//! Configuration: built-in defaults, then a TOML file, then `POSTROOM_*`
//! environment variables. Validated once at start; secrets are wrapped so
//! they never show up in logs or `Debug` output.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The commented default configuration, as printed by `postroom default-config`.
pub const DEFAULT_CONFIG: &str = include_str!("../default-config.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptchaMode {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: String,
    pub public_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub redirect_http: Option<String>,
    pub data_dir: PathBuf,
    pub database_url: Option<SecretString>,
    pub database_max_connections: u32,
    pub secret_key: Option<SecretString>,
    pub smtp_url: Option<SecretString>,
    pub metrics_token: Option<SecretString>,
    pub mail_from: String,
    pub support_email: Option<String>,
    pub operators: Option<String>,
    pub terms_url: Option<String>,
    pub privacy_url: Option<String>,
    pub dns_resolver: Option<String>,
    pub log_format: LogFormat,
    pub trust_proxy: bool,
    pub captcha: CaptchaMode,
    pub captcha_difficulty: u64,
    pub rate_limits: bool,
    pub lockout_threshold: u32,
    pub lockout_minutes: u32,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub max_document_mb: u32,
    pub change_log_days: u32,
    pub password_memory_idle_secs: u64,
    /// OpenID Connect providers people may sign in with (`[[oidc]]` tables).
    #[serde(default)]
    pub oidc: Vec<OidcProviderConfig>,
    pub stripe_secret_key: Option<SecretString>,
    pub stripe_publishable_key: Option<String>,
    pub stripe_webhook_secret: Option<SecretString>,
    pub stripe_api_url: String,
    pub stripe_js_url: String,
    pub billing_currency: String,
    pub trial_days: u32,
    /// Per-seat prices of the paid plans (`[prices.pro]` tables).
    #[serde(default)]
    pub prices: std::collections::BTreeMap<String, PriceConfig>,
}

/// A paid plan's price of one seat, in minor units of `billing_currency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceConfig {
    pub month: i64,
    pub year: i64,
}

/// The payment provider (Stripe, or anything that speaks its API).
#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub secret_key: SecretString,
    pub publishable_key: String,
    /// Signs the provider's webhooks; without it webhooks are refused.
    pub webhook_secret: Option<SecretString>,
    pub api_url: url::Url,
    pub js_url: url::Url,
}

/// One `[[oidc]]` table as written. `id = "google"` with only the client's
/// id and secret is Google (its issuer, its name, trusted addresses).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProviderConfig {
    pub id: String,
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Whether the provider's `email_verified` may be believed.
    pub trusted_email: Option<bool>,
}

/// An OpenID Connect provider, checked.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    /// In URLs (`/auth/oidc/{id}`) and stored with linked identities.
    pub id: String,
    /// What buttons say: "Continue with {name}".
    pub name: String,
    /// The issuer URL exactly as the provider's ID tokens name it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Its `email_verified: true` counts as a confirmed address.
    pub trusted_email: bool,
}

/// Google's issuer, for the `id = "google"` preset.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

impl OidcProviderConfig {
    fn validate(self) -> Result<OidcProvider, ConfigError> {
        let id = self.id.trim().to_owned();
        let valid_id = !id.is_empty()
            && id.len() <= 32
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !id.starts_with('-');
        if !valid_id {
            return Err(ConfigError(format!(
                "oidc: id {:?} must be 1-32 characters of a-z, 0-9 and -, not starting with -",
                self.id
            )));
        }
        let google = id == "google";
        let issuer = match (self.issuer, google) {
            (Some(i), _) => i.trim().to_owned(),
            (None, true) => GOOGLE_ISSUER.to_owned(),
            (None, false) => {
                return Err(ConfigError(format!(
                    "oidc {id}: issuer is missing (the provider's issuer URL, like https://login.example.com)"
                )))
            }
        };
        check_issuer(&issuer).map_err(|e| ConfigError(format!("oidc {id}: issuer {e}")))?;
        let name = match (self.name, google) {
            (Some(n), _) if !n.trim().is_empty() && n.trim().chars().count() <= 64 => {
                n.trim().to_owned()
            }
            (Some(_), _) => {
                return Err(ConfigError(format!(
                    "oidc {id}: name must be 1-64 characters"
                )))
            }
            (None, true) => "Google".to_owned(),
            (None, false) => {
                return Err(ConfigError(format!(
                    "oidc {id}: name is missing (what the button says: \"Continue with <name>\")"
                )))
            }
        };
        if self.client_id.trim().is_empty() {
            return Err(ConfigError(format!("oidc {id}: client_id is empty")));
        }
        if self.client_secret.expose_secret().is_empty() {
            return Err(ConfigError(format!(
                "oidc {id}: client_secret is empty (value hidden)"
            )));
        }
        Ok(OidcProvider {
            id,
            name,
            issuer,
            client_id: self.client_id.trim().to_owned(),
            client_secret: self.client_secret,
            trusted_email: self.trusted_email.unwrap_or(google),
        })
    }
}

/// An issuer must be an https URL (http only on the loopback, for a
/// provider on the same machine) without a query or fragment.
pub fn check_issuer(issuer: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(issuer).map_err(|e| format!("{issuer:?} is not a URL: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(format!("{issuer:?} must be an https:// URL")),
    }
    if url.query().is_some() || url.fragment().is_some() || url.host().is_none() {
        return Err(format!(
            "{issuer:?} must have a host and no query or fragment"
        ));
    }
    Ok(url)
}

/// A configuration that passed validation, with derived values filled in.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Where people reach the server; https:// whenever `tls` is set.
    pub public_url: url::Url,
    /// Built-in HTTPS: the certificate and key files (checked to load).
    pub tls: Option<crate::tls::TlsFiles>,
    /// With built-in HTTPS: where plain HTTP is answered with a redirect to
    /// `public_url`.
    pub redirect_http: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub database_url: SecretString,
    pub database_max_connections: u32,
    pub secret_key: Option<SecretString>,
    pub smtp_url: Option<SecretString>,
    /// When set, `GET /metrics` asks for it as a bearer token.
    pub metrics_token: Option<SecretString>,
    pub mail_from: lettre::message::Mailbox,
    pub support_email: Option<lettre::message::Mailbox>,
    /// The operators, by their confirmed address (lower-case); accounts made
    /// operators with `postroom admin create-user --operator` are too.
    pub operators: Vec<String>,
    /// The terms of service people accept when they sign up; without it,
    /// sign-up asks for no acceptance.
    pub terms_url: Option<url::Url>,
    /// The privacy policy, linked from sign-up.
    pub privacy_url: Option<url::Url>,
    /// The DNS server for domain verification; `None`: the system's.
    pub dns_resolver: Option<SocketAddr>,
    pub log_format: LogFormat,
    pub trust_proxy: bool,
    pub captcha: CaptchaMode,
    pub captcha_difficulty: u64,
    pub rate_limits: bool,
    pub lockout_threshold: u32,
    pub lockout_minutes: u32,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// The largest document or import file, in bytes.
    pub max_document_bytes: u64,
    /// How long the sync change log keeps a change.
    pub change_log_days: u32,
    /// How long a hashing thread keeps its argon2 working memory without a hash.
    pub password_memory_idle: std::time::Duration,
    /// OpenID Connect providers, in the order the file lists them.
    pub oidc: Vec<OidcProvider>,
    /// The payment provider; `None`: billing is off and the operator sets
    /// plans (B10).
    pub stripe: Option<StripeSettings>,
    /// The plans, their prices and the trial.
    pub catalogue: crate::domain::plans::Catalogue,
}

impl Config {
    /// Reads defaults, then the file (if it exists), then the environment.
    pub fn load(file: Option<PathBuf>) -> Result<Config, ConfigError> {
        let file = file
            .or_else(|| std::env::var_os("POSTROOM_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("postroom.toml"));
        Figment::from(Toml::string(DEFAULT_CONFIG))
            .merge(Toml::file(file))
            .merge(Env::prefixed("POSTROOM_").ignore(&[
                "CONFIG",
                "TEST_DATABASE_URL",
                "TEST_SMTP_URL",
                "TEST_MAILDIR",
            ]))
            .extract()
            .map_err(|e| ConfigError(e.to_string()))
    }

    /// The built-in defaults alone: for tests and tools.
    pub fn defaults() -> Config {
        Figment::from(Toml::string(DEFAULT_CONFIG))
            .extract()
            .expect("the default configuration is valid")
    }

    pub fn validate(self) -> Result<Settings, ConfigError> {
        let listen: SocketAddr = self.listen.parse().map_err(|_| {
            ConfigError(format!(
                "listen: {:?} is not an address like 127.0.0.1:8080",
                self.listen
            ))
        })?;
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                let files = crate::tls::TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    check_every: crate::tls::CHECK_EVERY,
                };
                crate::tls::check(&files).map_err(|e| ConfigError(e.0))?;
                Some(files)
            }
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError(
                    "tls_cert and tls_key: set both (POSTROOM_TLS_CERT and POSTROOM_TLS_KEY) \
                     for built-in HTTPS, or neither"
                        .into(),
                ))
            }
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let public_url = match &self.public_url {
            Some(u) => url::Url::parse(u).map_err(|e| ConfigError(format!("public_url: {e}")))?,
            None => url::Url::parse(&format!("{scheme}://{listen}"))
                .expect("a socket address makes a valid URL"),
        };
        if !matches!(public_url.scheme(), "http" | "https") {
            return Err(ConfigError(
                "public_url: must be an http:// or https:// URL".into(),
            ));
        }
        if tls.is_some() && public_url.scheme() != "https" {
            return Err(ConfigError(format!(
                "public_url: {public_url} is http://, but with tls_cert and tls_key set the \
                 server speaks only HTTPS: make it https://"
            )));
        }
        let redirect_http = match &self.redirect_http {
            None => None,
            Some(_) if tls.is_none() => return Err(ConfigError(
                "redirect_http: sends plain HTTP on to built-in HTTPS, so it needs tls_cert and \
                     tls_key; behind a proxy, let the proxy redirect"
                    .into(),
            )),
            Some(a) => Some(a.parse::<SocketAddr>().map_err(|_| {
                ConfigError(format!(
                    "redirect_http: {a:?} is not an address like 0.0.0.0:80"
                ))
            })?),
        };
        let database_url = match &self.database_url {
            Some(u) => {
                let s = u.expose_secret();
                if !(s.starts_with("postgres://")
                    || s.starts_with("postgresql://")
                    || s.starts_with("sqlite:"))
                {
                    return Err(ConfigError(
                        "database_url: must start with postgres:// or sqlite:".into(),
                    ));
                }
                u.clone()
            }
            None => {
                let path = self.data_dir.join("postroom.db");
                SecretString::from(format!("sqlite://{}?mode=rwc", path.display()))
            }
        };
        if let Some(smtp) = &self.smtp_url {
            let parsed = url::Url::parse(smtp.expose_secret())
                .map_err(|_| ConfigError("smtp_url: not a valid URL (value hidden)".into()))?;
            if !matches!(parsed.scheme(), "smtp" | "smtps") {
                return Err(ConfigError(
                    "smtp_url: must start with smtp:// or smtps://".into(),
                ));
            }
        }
        let mail_from = self.mail_from.parse().map_err(|e| {
            ConfigError(format!(
                "mail_from: {:?} is not a mail address: {e}",
                self.mail_from
            ))
        })?;
        let support_email = match &self.support_email {
            Some(s) => Some(
                s.parse()
                    .map_err(|e| ConfigError(format!("support_email: {e}")))?,
            ),
            None => None,
        };
        let mut operators = Vec::new();
        for entry in self.operators.iter().flat_map(|list| list.split(',')) {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let email = postroom_core::Email::parse(entry).map_err(|e| {
                ConfigError(format!(
                    "operators: {entry:?} is not a mail address: {}",
                    e.0
                ))
            })?;
            operators.push(email.as_str().to_lowercase());
        }
        let page_url = |name: &str, value: &Option<String>| match value {
            Some(s) => match url::Url::parse(s) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(Some(u)),
                _ => Err(ConfigError(format!(
                    "{name}: {s:?} is not an http:// or https:// URL"
                ))),
            },
            None => Ok(None),
        };
        let terms_url = page_url("terms_url", &self.terms_url)?;
        let privacy_url = page_url("privacy_url", &self.privacy_url)?;
        let dns_resolver = match &self.dns_resolver {
            Some(s) => Some(s.parse::<SocketAddr>().map_err(|_| {
                ConfigError(format!(
                    "dns_resolver: {s:?} is not an address like 127.0.0.1:53"
                ))
            })?),
            None => None,
        };
        if let Some(k) = &self.secret_key {
            let k = k.expose_secret();
            if k.len() != 64 || hex::decode(k).is_err() {
                return Err(ConfigError(
                    "secret_key: must be 64 hex characters (32 bytes; value hidden)".into(),
                ));
            }
        }
        if let Some(t) = &self.metrics_token {
            let t = t.expose_secret();
            if t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ConfigError(
                    "metrics_token: must be at least 16 visible ASCII characters, no spaces (value hidden)"
                        .into(),
                ));
            }
        }
        if self.database_max_connections == 0 {
            return Err(ConfigError(
                "database_max_connections: must be at least 1".into(),
            ));
        }
        if !(1_000..=10_000_000).contains(&self.captcha_difficulty) {
            return Err(ConfigError(
                "captcha_difficulty: must be between 1000 and 10000000".into(),
            ));
        }
        if self.lockout_minutes == 0 || self.lockout_minutes > 7 * 24 * 60 {
            return Err(ConfigError(
                "lockout_minutes: must be between 1 and 10080 (a week)".into(),
            ));
        }
        if self.lockout_threshold == 0 || self.lockout_threshold > 100 {
            return Err(ConfigError(
                "lockout_threshold: must be between 1 and 100".into(),
            ));
        }
        if self.argon2_memory_kib < 19_456 || self.argon2_iterations < 2 {
            return Err(ConfigError(
                "argon2_memory_kib and argon2_iterations: must be at least 19456 and 2 (OWASP minimum)".into(),
            ));
        }
        if !(1..=3650).contains(&self.change_log_days) {
            return Err(ConfigError(
                "change_log_days: must be between 1 and 3650".into(),
            ));
        }
        if !(1..=2048).contains(&self.max_document_mb) {
            return Err(ConfigError(
                "max_document_mb: must be between 1 and 2048".into(),
            ));
        }
        if !(1..=86_400).contains(&self.password_memory_idle_secs) {
            return Err(ConfigError(
                "password_memory_idle_secs: must be between 1 and 86400 (a day)".into(),
            ));
        }
        let stripe = self.stripe_settings()?;
        let catalogue = crate::domain::plans::Catalogue::from_config(
            &self.billing_currency,
            self.trial_days,
            &self.prices,
        )
        .map_err(ConfigError)?;
        let mut oidc: Vec<OidcProvider> = Vec::new();
        for provider in self.oidc {
            let provider = provider.validate()?;
            if oidc.iter().any(|p| p.id == provider.id) {
                return Err(ConfigError(format!(
                    "oidc: the id {:?} is used twice",
                    provider.id
                )));
            }
            oidc.push(provider);
        }
        Ok(Settings {
            oidc,
            stripe,
            catalogue,
            listen,
            public_url,
            tls,
            redirect_http,
            data_dir: self.data_dir,
            database_url,
            database_max_connections: self.database_max_connections,
            secret_key: self.secret_key,
            smtp_url: self.smtp_url,
            metrics_token: self.metrics_token,
            mail_from,
            support_email,
            operators,
            terms_url,
            privacy_url,
            dns_resolver,
            log_format: self.log_format,
            trust_proxy: self.trust_proxy,
            captcha: self.captcha,
            captcha_difficulty: self.captcha_difficulty,
            rate_limits: self.rate_limits,
            lockout_threshold: self.lockout_threshold,
            lockout_minutes: self.lockout_minutes,
            argon2_memory_kib: self.argon2_memory_kib,
            argon2_iterations: self.argon2_iterations,
            max_document_bytes: u64::from(self.max_document_mb) * 1024 * 1024,
            change_log_days: self.change_log_days,
            password_memory_idle: std::time::Duration::from_secs(self.password_memory_idle_secs),
        })
    }
}

impl Config {
    fn stripe_settings(&self) -> Result<Option<StripeSettings>, ConfigError> {
        let url = |name: &str, value: &str| match url::Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
            _ => Err(ConfigError(format!(
                "{name}: {value:?} is not an http:// or https:// URL"
            ))),
        };
        let api_url = url("stripe_api_url", &self.stripe_api_url)?;
        let js_url = url("stripe_js_url", &self.stripe_js_url)?;
        let Some(secret_key) = self.stripe_secret_key.clone() else {
            return Ok(None);
        };
        if secret_key.expose_secret().trim().is_empty() {
            return Ok(None);
        }
        let Some(publishable_key) = self.stripe_publishable_key.clone() else {
            return Err(ConfigError(
                "stripe_publishable_key: needed with stripe_secret_key (the card form uses it)"
                    .into(),
            ));
        };
        Ok(Some(StripeSettings {
            secret_key,
            publishable_key,
            webhook_secret: self.stripe_webhook_secret.clone(),
            api_url,
            js_url,
        }))
    }
}

impl Settings {
    /// A link to `path` (with its query) on this server.
    pub fn link(&self, path_and_query: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{path_and_query}")
    }

    /// The SQLite database file, when the database is one.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        crate::store::sqlite_file(self.database_url.expose_secret()).map(|(path, _)| path)
    }

    /// Whether people reach the server over HTTPS (always so with built-in
    /// TLS): cookies are then `Secure` and browsers are told to keep to it.
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.expose_secret().starts_with("postgres")
    }

    /// The configured OpenID Connect provider with this id.
    pub fn oidc_provider(&self, id: &str) -> Option<&OidcProvider> {
        self.oidc.iter().find(|p| p.id == id)
    }

    /// The effective configuration with secrets replaced, for `postroom check-config`.
    pub fn redacted(&self) -> String {
        let mut out = self.redacted_main();
        match &self.stripe {
            Some(s) => out.push_str(&format!(
                "stripe_secret_key = \"<redacted>\"\nstripe_publishable_key = {:?}\nstripe_webhook_secret = {:?}\nstripe_api_url = {:?}\nstripe_js_url = {:?}\n",
                s.publishable_key,
                s.webhook_secret.as_ref().map(|_| "<redacted>"),
                s.api_url.as_str(),
                s.js_url.as_str()
            )),
            None => out.push_str("# billing is off: no stripe_secret_key\n"),
        }
        out.push_str(&self.catalogue.to_toml());
        for p in &self.oidc {
            out.push_str(&format!(
                "\n[[oidc]]\nid = {:?}\nname = {:?}\nissuer = {:?}\nclient_id = {:?}\nclient_secret = \"<redacted>\"\ntrusted_email = {}\n",
                p.id, p.name, p.issuer, p.client_id, p.trusted_email
            ));
        }
        out
    }

    fn redacted_main(&self) -> String {
        let hide = |s: &Option<SecretString>| s.as_ref().map(|_| "<redacted>".to_owned());
        let db = if self.is_postgres() {
            "<redacted postgres URL>".to_owned()
        } else {
            self.database_url.expose_secret().to_owned()
        };
        format!(
            "listen = {:?}\npublic_url = {:?}\ntls_cert = {:?}\ntls_key = {:?}\nredirect_http = {:?}\ndata_dir = {:?}\ndatabase_url = {:?}\nsecret_key = {:?}\nsmtp_url = {:?}\nmetrics_token = {:?}\nmail_from = {:?}\nsupport_email = {:?}\noperators = {:?}\nterms_url = {:?}\nprivacy_url = {:?}\nlog_format = {:?}\ntrust_proxy = {}\ncaptcha = {:?}\nrate_limits = {}\n",
            self.listen.to_string(),
            self.public_url.as_str(),
            self.tls.as_ref().map(|t| t.cert.display().to_string()),
            self.tls.as_ref().map(|t| t.key.display().to_string()),
            self.redirect_http.map(|a| a.to_string()),
            self.data_dir.display().to_string(),
            db,
            hide(&self.secret_key),
            hide(&self.smtp_url),
            hide(&self.metrics_token),
            self.mail_from.to_string(),
            self.support_email.as_ref().map(|m| m.to_string()),
            self.operators.join(","),
            self.terms_url.as_ref().map(|u| u.as_str()),
            self.privacy_url.as_ref().map(|u| u.as_str()),
            self.log_format,
            self.trust_proxy,
            self.captcha,
            self.rate_limits,
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let s = Config::defaults().validate().unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:8080/");
        assert!(!s.is_postgres());
    }

    #[test]
    fn bad_values_are_named() {
        let mut c = Config::defaults();
        c.listen = "nowhere".into();
        assert!(c.validate().unwrap_err().to_string().contains("listen"));
        let mut c = Config::defaults();
        c.smtp_url = Some(SecretString::from("http://user:hunter2@x"));
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("smtp_url") && !err.contains("hunter2"));
        for secs in [0, 86_401] {
            let mut c = Config::defaults();
            c.password_memory_idle_secs = secs;
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains("password_memory_idle_secs"), "{err}");
        }
    }

    fn provider(id: &str, issuer: Option<&str>) -> OidcProviderConfig {
        OidcProviderConfig {
            id: id.into(),
            name: None,
            issuer: issuer.map(Into::into),
            client_id: "client".into(),
            client_secret: SecretString::from("hunter2-secret"),
            trusted_email: None,
        }
    }

    #[test]
    fn oidc_providers_are_checked_and_google_is_a_preset() {
        let mut c = Config::defaults();
        c.oidc = vec![provider("google", None)];
        let s = c.validate().unwrap();
        let g = s.oidc_provider("google").unwrap();
        assert_eq!(
            (g.name.as_str(), g.issuer.as_str(), g.trusted_email),
            ("Google", GOOGLE_ISSUER, true)
        );
        let printed = format!("{s:?}\n{}", s.redacted());
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(s.redacted().contains("[[oidc]]"));

        let cases: Vec<(OidcProviderConfig, &str)> = vec![
            (provider("corp", None), "issuer is missing"),
            (
                provider("corp", Some("https://id.example.com")),
                "name is missing",
            ),
            (provider("Bad Id", None), "must be 1-32 characters"),
            (
                OidcProviderConfig {
                    name: Some("Corp".into()),
                    ..provider("corp", Some("http://id.example.com"))
                },
                "must be an https:// URL",
            ),
            (
                OidcProviderConfig {
                    client_secret: SecretString::from(""),
                    ..provider("google", None)
                },
                "client_secret is empty",
            ),
        ];
        for (p, expected) in cases {
            let mut c = Config::defaults();
            c.oidc = vec![p];
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
        let mut c = Config::defaults();
        c.oidc = vec![provider("google", None), provider("google", None)];
        assert!(c.validate().unwrap_err().to_string().contains("used twice"));
        // A provider on the loopback may speak plain HTTP (tests, a local one).
        let mut c = Config::defaults();
        c.oidc = vec![OidcProviderConfig {
            name: Some("Local".into()),
            trusted_email: Some(false),
            ..provider("local", Some("http://127.0.0.1:9400"))
        }];
        let s = c.validate().unwrap();
        assert!(!s.oidc[0].trusted_email);
    }

    #[test]
    fn password_memory_idle_delay_is_read() {
        let s = Config::defaults().validate().unwrap();
        assert_eq!(s.password_memory_idle, std::time::Duration::from_secs(30));
    }
}
