//! Speaking to OpenID providers: discovery (cached in memory), the
//! authorization URL, and the code exchange with the ID token verified
//! against the provider's keys, all through the `openidconnect` crate.
//!
//! Its HTTP goes through our own `reqwest` client ([`Http`]): TLS by rustls
//! with the *ring* provider and the system's roots, no redirects followed
//! (a provider's endpoints are named by its discovery document, and a
//! redirect could lead a request elsewhere), short timeouts and a cap on
//! what an answer may weigh.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest,
    HttpResponse, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use secrecy::ExposeSecret;

use crate::error::Error;

/// How long a discovery document (with the provider's keys) is kept.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// The most an answer from a provider may weigh.
const MAX_ANSWER: usize = 1024 * 1024;

/// A provider as the flow needs it.
#[derive(Clone)]
pub struct Endpoint<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a secrecy::SecretString,
    /// Our callback URL, as registered with the provider.
    pub redirect_uri: String,
}

/// What a verified ID token says about the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub subject: String,
    pub email: Option<String>,
    /// The provider's `email_verified` (absent counts as false).
    pub email_verified: bool,
    pub name: Option<String>,
}

/// The HTTP client handed to `openidconnect`.
pub struct Http(reqwest::Client);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| HttpError(format!("{e:#}")))?;
            let mut out = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                out = out.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| HttpError(format!("{e:#}")))?
            {
                if body.len() + chunk.len() > MAX_ANSWER {
                    return Err(HttpError("the answer is larger than 1 MiB".into()));
                }
                body.extend_from_slice(&chunk);
            }
            out.body(body).map_err(|e| HttpError(e.to_string()))
        })
    }
}

/// The providers' HTTP client and the discovery documents read lately.
pub struct Providers {
    http: Http,
    discovered: Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

fn unreachable(issuer: &str, why: impl std::fmt::Display) -> Error {
    tracing::warn!(issuer, error = %why, "an OpenID provider could not be used");
    Error::Upstream {
        code: "provider_unreachable",
        message: format!(
            "the sign-in provider at {issuer} could not be reached or gave an answer we could not use; try again later"
        ),
    }
}

fn invalid_answer(why: impl std::fmt::Display) -> Error {
    tracing::warn!(error = %why, "an OpenID provider's answer was refused");
    Error::bad_request(
        "provider_answer_invalid",
        "the sign-in provider's answer could not be verified; start again",
    )
}

impl Providers {
    pub fn new() -> anyhow::Result<Providers> {
        let client = crate::outbound::client(Duration::from_secs(5), Duration::from_secs(10))?;
        Ok(Providers {
            http: Http(client),
            discovered: Mutex::new(HashMap::new()),
        })
    }

    /// The provider's discovery document, from memory when read within the
    /// hour.
    async fn metadata(&self, issuer: &str) -> Result<CoreProviderMetadata, Error> {
        if let Some((at, m)) = self.discovered.lock().expect("lock").get(issuer) {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(m.clone());
            }
        }
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| unreachable(issuer, e))?;
        let metadata = CoreProviderMetadata::discover_async(url, &self.http)
            .await
            .map_err(|e| unreachable(issuer, error_chain(&e)))?;
        self.discovered
            .lock()
            .expect("lock")
            .insert(issuer.to_owned(), (Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    /// Forgets a provider's document: its keys may have changed.
    fn forget(&self, issuer: &str) {
        self.discovered.lock().expect("lock").remove(issuer);
    }

    async fn client(
        &self,
        p: &Endpoint<'_>,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        Error,
    > {
        let metadata = self.metadata(p.issuer).await?;
        let redirect = RedirectUrl::new(p.redirect_uri.clone())
            .map_err(|e| Error::Internal(anyhow::anyhow!("redirect URI: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(p.client_id.to_owned()),
            Some(ClientSecret::new(
                p.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(redirect))
    }

    /// The provider's authorization URL for a request whose `state`,
    /// `nonce` and PKCE verifier the caller chose.
    pub async fn authorize_url(
        &self,
        p: &Endpoint<'_>,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
        login_hint: Option<&str>,
    ) -> Result<String, Error> {
        let client = self.client(p).await?;
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            pkce_verifier.to_owned(),
        ));
        let (state, nonce) = (state.to_owned(), nonce.to_owned());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, _, _) = request.url();
        Ok(url.to_string())
    }

    /// Exchanges the code (with the PKCE verifier) and verifies the ID
    /// token: its signature by the provider's keys, issuer, audience,
    /// expiry and nonce. Times in the token are the provider's, so they
    /// are checked against the real time, not the server's `Clock`.
    pub async fn exchange(
        &self,
        p: &Endpoint<'_>,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<Claims, Error> {
        let client = self.client(p).await?;
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| unreachable(p.issuer, e))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()));
        let token = request.request_async(&self.http).await.map_err(|e| {
            use openidconnect::RequestTokenError as E;
            match e {
                E::ServerResponse(r) => invalid_answer(format!("token endpoint refused: {r:?}")),
                other => unreachable(p.issuer, error_chain(&other)),
            }
        })?;
        let id_token = token
            .id_token()
            .ok_or_else(|| invalid_answer("the token answer has no ID token"))?;
        let verifier = client.id_token_verifier();
        let claims = match id_token.claims(&verifier, &Nonce::new(nonce.to_owned())) {
            Ok(c) => c,
            Err(e) => {
                // A key the document did not have: read it again next time.
                self.forget(p.issuer);
                return Err(invalid_answer(e));
            }
        };
        Ok(Claims {
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
