//! Adapter: an OCI registry, through the distribution API (HTTP, reqwest).
//!
//! [`Registry`] is one per run, shared by every request the run makes (probing, promote,
//! publish, reuse): it asks each registry host once how it authenticates (`GET /v2/`),
//! keeps one bearer token per repository scope until it expires ([`token`]), spends one
//! retry budget for the whole run ([`retry`]), and reaches each host with its own TLS
//! setup, read like docker does ([`tls`]). [`Registry::probe`] asks which refs exist,
//! concurrently, so planning knows which tags to cache from and which images must be built;
//! [`Registry::copy_manifest`] moves a tag without moving layers.
//!
//! Why not oci-client (which this adapter used before): its errors drop the response
//! headers (no `Retry-After`), it has no per-host client certificate, it asks a token per
//! request when requests race and swallows token failures into anonymous requests, and
//! its credential store is per host where tokens are per repository. The distribution API
//! this adapter needs is four requests (ping, token, manifest HEAD/GET, manifest PUT).
//!
//! Registries on loopback (`localhost`, `127.0.0.0/8`, `[::1]`) and the ones given with
//! `--insecure-registry` may be spoken to over plain HTTP, as dockerd does: HTTPS is tried
//! first and plain HTTP when the server does not speak TLS; a certificate that does not
//! verify is never taken for "no TLS".

pub mod credentials;
pub mod failure;
pub mod referrers;
pub mod retry;
pub mod tls;
pub mod token;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use sha2::Digest as _;

use self::credentials::Credential;
use self::failure::Failure;
use self::retry::{Budget, RetryReport};
use self::token::{Scheme, Token, Tokens};
use crate::error::{Error, Result};
use crate::ref_facts::{RefFacts, RefState};
use crate::reference;

/// Every manifest kind a tag may point at: image manifests and indexes, OCI and Docker.
const MANIFEST_MEDIA_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// The media type a manifest declares, or the OCI one its shape implies.
fn media_type_of(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if let Some(m) = value.get("mediaType").and_then(|m| m.as_str()) {
        return Some(m.to_string());
    }
    if value.get("manifests").is_some() {
        Some("application/vnd.oci.image.index.v1+json".into())
    } else if value.get("layers").is_some() {
        Some("application/vnd.oci.image.manifest.v1+json".into())
    } else {
        None
    }
}

/// How many requests are in flight at once.
const CONCURRENCY: usize = 16;
/// The retry budget of a run when the user does not give one.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(60);

/// How a run talks to registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Hosts that may be reached over plain HTTP (loopback ones always may).
    pub insecure: Vec<String>,
    /// The time the run may spend waiting to retry requests.
    pub retry_budget: Duration,
    /// docker's `certs.d` folders, most specific first.
    pub certs_d: Vec<PathBuf>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: Vec::new(),
            retry_budget: DEFAULT_RETRY_BUDGET,
            certs_d: tls::certs_d_roots(),
        }
    }
}

/// What a run asked of registries, for the status line.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Token requests (one per host, repository scope and token lifetime).
    pub tokens: u32,
    pub retries: RetryReport,
}

/// One registry host as this run reaches it.
struct Host {
    name: String,
    client: reqwest::Client,
    /// The user's credentials for it.
    auth: Credential,
    /// Whether plain HTTP is allowed.
    may_use_http: bool,
    /// `scheme://host`, and how it authenticates: known after the first request.
    endpoint: tokio::sync::OnceCell<(String, Scheme)>,
}

pub struct Registry {
    options: RegistryOptions,
    budget: Budget,
    tokens: Tokens,
    hosts: Mutex<BTreeMap<String, Arc<Host>>>,
}

/// Whether `host` is a loopback registry, spoken to over HTTP.
pub fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') {
            h
        } else {
            host
        }
    });
    name == "localhost" || name.starts_with("127.") || name == "[::1]"
}

/// The host that serves a registry's API: Docker Hub's references name `docker.io`, its API
/// answers at `index.docker.io`.
fn api_host(registry: &str) -> &str {
    match registry {
        "docker.io" => "index.docker.io",
        other => other,
    }
}

/// A parsed reference and the path of its manifest.
struct Located {
    host: Arc<Host>,
    repository: String,
    /// The tag or digest after `/manifests/`.
    manifest: String,
}

impl Registry {
    pub fn new(options: RegistryOptions) -> Registry {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Registry {
            budget: Budget::new(options.retry_budget),
            options,
            tokens: Tokens::default(),
            hosts: Mutex::new(BTreeMap::new()),
        }
    }

    /// What the run asked so far.
    pub fn stats(&self) -> Stats {
        Stats {
            tokens: self.tokens.requested(),
            retries: self.budget.report(),
        }
    }

    /// The host of a registry, made on first use: its TLS setup and credentials.
    fn host(&self, name: &str) -> Result<Arc<Host>> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = hosts.get(name) {
            return Ok(h.clone());
        }
        let tls = tls::host_tls(name, &self.options.certs_d)?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(20))
            .user_agent(concat!("stackplan/", env!("CARGO_PKG_VERSION")));
        if !tls.cas.is_empty() {
            builder = builder.tls_certs_merge(tls.cas);
        }
        if let Some(identity) = tls.identity {
            builder = builder.identity(identity);
        }
        let client = builder.build().map_err(|e| Error::Registry {
            registry: name.to_string(),
            message: format!(
                "cannot set up its HTTP client: {}",
                crate::error::root_cause(&e)
            ),
            help: Some(format!(
                "check the files of its certs.d folder ({})",
                tls::ca_hint(name)
            )),
        })?;
        let host = Arc::new(Host {
            name: name.to_string(),
            client,
            auth: credentials::auth_for(name)?,
            may_use_http: is_loopback(name) || self.options.insecure.iter().any(|h| h == name),
            endpoint: tokio::sync::OnceCell::new(),
        });
        hosts.insert(name.to_string(), host.clone());
        Ok(host)
    }

    fn locate(&self, reference: &str) -> Result<Located> {
        let parsed = reference::parse(reference).map_err(|e| Error::Registry {
            registry: reference.to_string(),
            message: format!("not a valid reference: {e}"),
            help: None,
        })?;
        let manifest = parsed
            .digest
            .or(parsed.tag)
            .unwrap_or_else(|| "latest".to_string());
        Ok(Located {
            host: self.host(api_host(&parsed.registry))?,
            repository: parsed.repository,
            manifest,
        })
    }

    /// Sends a request until it gets an answer that is not transient, within the run's
    /// budget. Answers with any other status are returned as they are.
    async fn attempts<F, Fut>(
        &self,
        host: &str,
        what: &str,
        mut send: F,
    ) -> Result<reqwest::Response>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<reqwest::Response, Failure>>,
    {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = tokio::time::Instant::now();
            let (failure, retry_after) = match send().await {
                Ok(resp) if failure::transient_status(resp.status().as_u16()) => {
                    let retry_after = resp
                        .headers()
                        .get(http::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(retry::parse_retry_after);
                    (Failure::Transient(status_text(resp.status())), retry_after)
                }
                Ok(resp) => return Ok(resp),
                Err(f) => (f, None),
            };
            let Failure::Transient(cause) = failure else {
                return Err(failure.into_error(host, what, None));
            };
            match self.budget.plan_wait(attempt, retry_after, &cause, sent) {
                Some(wait) => self.budget.wait(wait).await,
                None => {
                    let retried = format!(
                        "{} attempt(s) over {:.1} s{}; the run spent {:.1} s of its {} s retry budget",
                        attempt,
                        started.elapsed().as_secs_f64(),
                        retry_after.map_or_else(String::new, |d| format!(
                            ", the registry asked to wait {} s more",
                            d.as_secs()
                        )),
                        self.budget.report().waited.as_secs_f64(),
                        self.options.retry_budget.as_secs(),
                    );
                    return Err(Failure::Transient(cause).into_error(host, what, Some(retried)));
                }
            }
        }
    }

    /// The endpoint (`scheme://host`) and auth scheme of `host`, asked once per run.
    /// A host that may use plain HTTP is tried over HTTPS once, briefly: a handshake that
    /// fails for another reason than the certificate means it does not speak TLS.
    async fn endpoint(&self, host: &Host) -> Result<(String, Scheme)> {
        host.endpoint
            .get_or_try_init(|| async {
                if !host.may_use_http {
                    return self.ping(host, "https").await;
                }
                let url = format!("https://{}/v2/", host.name);
                let tried = host
                    .client
                    .get(&url)
                    .timeout(Duration::from_secs(3))
                    .send()
                    .await;
                match tried {
                    Ok(resp) => Ok((
                        format!("https://{}", host.name),
                        auth_scheme(&resp, &host.name)?,
                    )),
                    Err(e) => match failure::classify(&e) {
                        f @ (Failure::Certificate(_)
                        | Failure::ClientCertificateRequired
                        | Failure::ClientCertificateRefused(_)
                        | Failure::Unreachable(_)) => {
                            Err(f.into_error(&host.name, "GET /v2/", None))
                        }
                        _ => self.ping(host, "http").await,
                    },
                }
            })
            .await
            .cloned()
    }

    /// `GET /v2/` at `scheme`: how the registry authenticates.
    async fn ping(&self, host: &Host, scheme: &str) -> Result<(String, Scheme)> {
        let base = format!("{scheme}://{}", host.name);
        let url = format!("{base}/v2/");
        let resp = self
            .attempts(&host.name, "GET /v2/", || {
                let req = host.client.get(&url);
                async move { req.send().await.map_err(|e| failure::classify(&e)) }
            })
            .await?;
        Ok((base, auth_scheme(&resp, &host.name)?))
    }

    /// A token for `scope` on `host`, from the run's cache or the token endpoint.
    async fn token(
        &self,
        host: &Host,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        stale: Option<&str>,
    ) -> Result<Token> {
        self.tokens
            .get(&host.name, scope, stale, || {
                self.fetch_token(host, realm, service, scope)
            })
            .await
    }

    async fn fetch_token(
        &self,
        host: &Host,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<Token> {
        let what = format!("the token for {scope}");
        let realm_url = reqwest::Url::parse(realm).map_err(|_| {
            Failure::Other(format!("its token realm {realm:?} is not a URL"))
                .into_error(&host.name, &what, None)
        })?;
        let realm_host = realm_url.host_str().unwrap_or_default();
        let realm_authority = match realm_url.port() {
            Some(p) => format!("{realm_host}:{p}"),
            None => realm_host.to_string(),
        };
        let plain_ok =
            is_loopback(&realm_authority) || self.options.insecure.contains(&realm_authority);
        if realm_url.scheme() != "https" && !plain_ok && host.auth != Credential::Anonymous {
            return Err(Error::Registry {
                registry: host.name.clone(),
                message: format!(
                    "its token realm {realm} is plain HTTP: stackplan does not send credentials there"
                ),
                help: Some(format!(
                    "list {realm_authority} with --insecure-registry if that is intended"
                )),
            });
        }
        let service = service.unwrap_or_default();
        let resp = self
            .attempts(&host.name, &what, || {
                let req = match &host.auth {
                    Credential::IdentityToken(refresh) => host.client.post(realm).form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", refresh.as_str()),
                        ("service", service),
                        ("scope", scope),
                        ("client_id", "stackplan"),
                    ]),
                    Credential::Basic { user, password } => host
                        .client
                        .get(realm)
                        .query(&[("service", service), ("scope", scope)])
                        .basic_auth(user, Some(password)),
                    Credential::Anonymous => host
                        .client
                        .get(realm)
                        .query(&[("service", service), ("scope", scope)]),
                };
                async move { req.send().await.map_err(|e| failure::classify(&e)) }
            })
            .await?;
        let status = resp.status();
        if status == 401 || status == 403 {
            return Err(Failure::Denied(status.as_u16()).into_error(&host.name, &what, None));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| failure::classify(&e).into_error(&host.name, &what, None))?;
        if !status.is_success() {
            return Err(Failure::Other(format!(
                "the token endpoint answered {}",
                status_text(status)
            ))
            .into_error(&host.name, &what, None));
        }
        token::parse_token_answer(&body, Instant::now()).ok_or_else(|| {
            Failure::Other("the token endpoint's answer holds no token".into())
                .into_error(&host.name, &what, None)
        })
    }

    /// Sends a request to `host` for `repository`, authenticated as the host wants: a
    /// bearer token of the repository's scope (asked again once when the registry refuses
    /// it, e.g. because it expired), or Basic credentials. Transient failures are retried.
    async fn request<F>(
        &self,
        located: &Located,
        push: bool,
        what: &str,
        make: F,
    ) -> Result<reqwest::Response>
    where
        F: Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    {
        let host = &located.host;
        let (base, scheme) = self.endpoint(host).await?;
        let scope = token::scope(&located.repository, push);
        let mut refused: Option<String> = None;
        loop {
            let token = match &scheme {
                Scheme::Bearer { realm, service } => Some(
                    self.token(host, realm, service.as_deref(), &scope, refused.as_deref())
                        .await?,
                ),
                _ => None,
            };
            let resp = self
                .attempts(&host.name, what, || {
                    let mut req = make(&host.client, &base);
                    match (&scheme, &token, &host.auth) {
                        (Scheme::Bearer { .. }, Some(t), _) => req = req.bearer_auth(&t.value),
                        (Scheme::Basic, _, Credential::Basic { user, password }) => {
                            req = req.basic_auth(user, Some(password))
                        }
                        _ => {}
                    }
                    async move { req.send().await.map_err(|e| failure::classify(&e)) }
                })
                .await?;
            match resp.status().as_u16() {
                401 if token.is_some() && refused.is_none() => {
                    refused = token.map(|t| t.value);
                }
                status @ (401 | 403) => {
                    return Err(Failure::Denied(status).into_error(&host.name, what, None));
                }
                _ => return Ok(resp),
            }
        }
    }

    /// The digest of the manifest `reference` names, `None` when it does not exist.
    pub async fn digest(&self, reference: &str) -> Result<Option<String>> {
        let located = self.locate(reference)?;
        let path = format!("/v2/{}/manifests/{}", located.repository, located.manifest);
        let accept = MANIFEST_MEDIA_TYPES.join(", ");
        let what = format!("HEAD {reference}");
        let resp = self
            .request(&located, false, &what, |c, base| {
                c.head(format!("{base}{path}"))
                    .header(http::header::ACCEPT, &accept)
            })
            .await?;
        match resp.status().as_u16() {
            404 => Ok(None),
            200 => match header_digest(&resp) {
                Some(d) => Ok(Some(d)),
                // No Docker-Content-Digest: the digest of the body of a GET.
                None => Ok(self
                    .get_manifest(&located, reference)
                    .await?
                    .map(|(_, _, digest)| digest)),
            },
            _ => Err(
                Failure::Other(format!("answered {}", status_text(resp.status()))).into_error(
                    &located.host.name,
                    &what,
                    None,
                ),
            ),
        }
    }

    /// The manifest's bytes, media type and digest, `None` when it does not exist.
    async fn get_manifest(
        &self,
        located: &Located,
        reference: &str,
    ) -> Result<Option<(bytes::Bytes, String, String)>> {
        let path = format!("/v2/{}/manifests/{}", located.repository, located.manifest);
        let accept = MANIFEST_MEDIA_TYPES.join(", ");
        let what = format!("GET {reference}");
        let resp = self
            .request(located, false, &what, |c, base| {
                c.get(format!("{base}{path}"))
                    .header(http::header::ACCEPT, &accept)
            })
            .await?;
        let status = resp.status();
        if status == 404 {
            return Ok(None);
        }
        let content_type = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
            .filter(|v| MANIFEST_MEDIA_TYPES.contains(&v.as_str()));
        let header = header_digest(&resp);
        let body = resp
            .bytes()
            .await
            .map_err(|e| failure::classify(&e).into_error(&located.host.name, &what, None))?;
        if !status.is_success() {
            return Err(
                Failure::Other(format!("answered {}", status_text(status))).into_error(
                    &located.host.name,
                    &what,
                    None,
                ),
            );
        }
        let digest = header.unwrap_or_else(|| format!("sha256:{:x}", sha2::Sha256::digest(&body)));
        let media_type = content_type
            .or_else(|| media_type_of(&body))
            .ok_or_else(|| Error::Registry {
                registry: located.host.name.clone(),
                message: format!("{reference}: the manifest does not say its media type"),
                help: None,
            })?;
        Ok(Some((body, media_type, digest)))
    }

    /// Gives `to` the manifest `from` has, byte for byte (same digest), through the
    /// registry API: one manifest GET and one PUT, no blob is read or written. Both refs
    /// must be in the same repository or the target repository must already hold the blobs.
    pub async fn copy_manifest(&self, from: &str, to: &str) -> Result<String> {
        let source = self.locate(from)?;
        let target = self.locate(to)?;
        let Some((bytes, media_type, digest)) = self.get_manifest(&source, from).await? else {
            return Err(Error::Registry {
                registry: source.host.name.clone(),
                message: format!("{from} does not exist"),
                help: None,
            });
        };
        let path = format!("/v2/{}/manifests/{}", target.repository, target.manifest);
        let what = format!("PUT {to}");
        let resp = self
            .request(&target, true, &what, |c, base| {
                c.put(format!("{base}{path}"))
                    .header(http::header::CONTENT_TYPE, &media_type)
                    .body(bytes.clone())
            })
            .await?;
        match resp.status().as_u16() {
            200..=299 => Ok(digest),
            404 => Err(Error::Registry {
                registry: target.host.name.clone(),
                message: format!("the registry refused {to}: repository not found"),
                help: None,
            }),
            _ => Err(
                Failure::Other(format!("answered {}", status_text(resp.status()))).into_error(
                    &target.host.name,
                    &what,
                    None,
                ),
            ),
        }
    }

    /// The state and digest of every ref, asked concurrently. A failure to ask about a
    /// `required` ref fails the probe; one about an `optional` ref (an external base image
    /// on a registry that is down or refuses us) is recorded in the view's `failures`, so
    /// the plan can say that ref is unpinned.
    pub async fn probe(&self, required: &[String], optional: &[String]) -> Result<RefFacts> {
        let asked = required
            .iter()
            .map(|r| (r, true))
            .chain(optional.iter().map(|r| (r, false)));
        let mut answers = stream::iter(asked)
            .map(|(r, required)| async move {
                let digest = self.digest(r).await;
                (r.clone(), required, digest)
            })
            .buffer_unordered(CONCURRENCY);
        let mut view = RefFacts {
            probed: true,
            ..RefFacts::default()
        };
        // The first failure about a required ref ends the probe: the requests still in
        // flight are dropped, so a registry that is down costs one failure, not one per ref.
        while let Some((reference, required, result)) = answers.next().await {
            match result {
                Ok(Some(digest)) => {
                    view.states.insert(reference.clone(), RefState::Present);
                    view.digests.insert(reference, digest);
                }
                Ok(None) => {
                    view.states.insert(reference, RefState::Missing);
                }
                Err(e) if required => return Err(e),
                Err(e) => {
                    view.failures.insert(reference, e.to_string());
                }
            }
        }
        Ok(view)
    }
}

/// How a registry authenticates, from its answer to `GET /v2/`.
fn auth_scheme(resp: &reqwest::Response, host: &str) -> Result<Scheme> {
    match resp.status().as_u16() {
        200..=299 => Ok(Scheme::None),
        401 => Ok(resp
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(token::parse_challenge)
            .unwrap_or(Scheme::Basic)),
        _ => Err(Failure::Other(format!(
            "{} answered {}: not a registry API",
            resp.url(),
            status_text(resp.status())
        ))
        .into_error(host, "GET /v2/", None)),
    }
}

fn header_digest(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .filter(|d| d.starts_with("sha256:"))
        .map(str::to_string)
}

/// "429 Too Many Requests".
fn status_text(status: reqwest::StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert_eq!(
            media_type_of(br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#).as_deref(),
            Some("application/vnd.docker.distribution.manifest.v2+json")
        );
        assert_eq!(
            media_type_of(br#"{"manifests":[]}"#).as_deref(),
            Some("application/vnd.oci.image.index.v1+json")
        );
        assert_eq!(
            media_type_of(br#"{"layers":[]}"#).as_deref(),
            Some("application/vnd.oci.image.manifest.v1+json")
        );
        assert_eq!(media_type_of(b"{}"), None);
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("127.0.0.1:5001"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("ghcr.io"));
        assert!(!is_loopback("registry.local:5000"));
    }
}
