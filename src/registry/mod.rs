//! Adapter: an OCI registry, through the distribution API (oci-client).
//!
//! [`Registry::probe`] asks which refs exist, concurrently, with a timeout and bounded
//! retries, so planning knows which tags to cache from and which images must be built to
//! carry the branch tag. Registries on loopback (`localhost`, `127.0.0.0/8`, `[::1]`) and the
//! ones given with `--insecure-registry` are spoken to over plain HTTP, as dockerd does.

pub mod credentials;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::error::{Error, Result};
use crate::plan::{RefState, RegistryView};

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
/// Attempts per request when the failure looks transient.
const ATTEMPTS: u32 = 3;

pub struct Registry {
    client: Client,
    auth: tokio::sync::Mutex<BTreeMap<String, RegistryAuth>>,
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

impl Registry {
    /// A client; `hosts` are the registries it will talk to, `insecure` the extra ones
    /// reached over plain HTTP.
    pub fn new(hosts: &[String], insecure: &[String]) -> Registry {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http: Vec<String> = hosts
            .iter()
            .filter(|h| is_loopback(h) || insecure.contains(h))
            .cloned()
            .collect();
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(http),
            connect_timeout: Some(Duration::from_secs(5)),
            read_timeout: Some(Duration::from_secs(20)),
            ..ClientConfig::default()
        };
        Registry {
            client: Client::new(config),
            auth: tokio::sync::Mutex::new(BTreeMap::new()),
        }
    }

    async fn auth(&self, registry: &str) -> Result<RegistryAuth> {
        let mut cache = self.auth.lock().await;
        if let Some(a) = cache.get(registry) {
            return Ok(a.clone());
        }
        let a = credentials::auth_for(registry)?;
        cache.insert(registry.to_string(), a.clone());
        Ok(a)
    }

    /// The digest of the manifest `reference` names, `None` when it does not exist.
    pub async fn digest(&self, reference: &str) -> Result<Option<String>> {
        let (parsed, auth) = self.prepare(reference).await?;
        self.retrying(parsed.registry(), || {
            self.client.fetch_manifest_digest(&parsed, &auth)
        })
        .await
    }

    /// Gives `to` the manifest `from` has, byte for byte (same digest), through the
    /// registry API: one manifest GET and one PUT, no blob is read or written. Both refs
    /// must be in the same repository or the target repository must already hold the blobs.
    pub async fn copy_manifest(&self, from: &str, to: &str) -> Result<String> {
        let (source, auth) = self.prepare(from).await?;
        let (target, _) = self.prepare(to).await?;
        let registry = source.registry().to_string();
        let pulled = self
            .retrying(&registry, || {
                self.client
                    .pull_manifest_raw(&source, &auth, MANIFEST_MEDIA_TYPES)
            })
            .await?;
        let Some((bytes, digest)) = pulled else {
            return Err(Error::Registry {
                registry,
                message: format!("{from} does not exist"),
                help: None,
            });
        };
        let media_type = media_type_of(&bytes).ok_or_else(|| Error::Registry {
            registry: registry.clone(),
            message: format!("{from}: the manifest does not say its media type"),
            help: None,
        })?;
        let header = http::HeaderValue::from_str(&media_type).map_err(|_| Error::Registry {
            registry: registry.clone(),
            message: format!("{from}: invalid media type {media_type}"),
            help: None,
        })?;
        let pushed = self
            .retrying(&registry, || async {
                self.client
                    .auth(&target, &auth, oci_client::RegistryOperation::Push)
                    .await?;
                self.client
                    .push_manifest_raw(&target, bytes.clone(), header.clone())
                    .await
            })
            .await?;
        match pushed {
            Some(_) => Ok(digest),
            None => Err(Error::Registry {
                registry,
                message: format!("the registry refused {to}: repository not found"),
                help: None,
            }),
        }
    }

    async fn prepare(&self, reference: &str) -> Result<(Reference, RegistryAuth)> {
        let parsed: Reference = reference.parse().map_err(|e| Error::Registry {
            registry: reference.to_string(),
            message: format!("not a valid reference: {e}"),
            help: None,
        })?;
        let auth = self.auth(parsed.registry()).await?;
        Ok((parsed, auth))
    }

    /// Runs a request, retrying transient failures; a "not found" answer is `Ok(None)`.
    async fn retrying<T, F, Fut>(&self, registry: &str, mut request: F) -> Result<Option<T>>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match request().await {
                Ok(value) => return Ok(Some(value)),
                Err(e) => match classify(&e) {
                    Failure::NotFound => return Ok(None),
                    Failure::Transient if attempt < ATTEMPTS => {
                        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                    }
                    failure => return Err(failure.into_error(registry, &e)),
                },
            }
        }
    }

    /// The state and digest of every ref, asked concurrently. A failure to ask about a
    /// `required` ref fails the probe; one about an `optional` ref (an external base image
    /// on a registry that is down or refuses us) is recorded in the view's `failures`, so
    /// the plan can say that ref is unpinned.
    pub async fn probe(&self, required: &[String], optional: &[String]) -> Result<RegistryView> {
        let asked = required
            .iter()
            .map(|r| (r, true))
            .chain(optional.iter().map(|r| (r, false)));
        let results: Vec<(String, bool, Result<Option<String>>)> = stream::iter(asked)
            .map(|(r, required)| async move {
                let digest = self.digest(r).await;
                (r.clone(), required, digest)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut view = RegistryView {
            probed: true,
            ..RegistryView::default()
        };
        let mut sorted = results;
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (reference, required, result) in sorted {
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

enum Failure {
    NotFound,
    Unauthorized,
    Transient,
    Other,
}

fn classify(e: &OciDistributionError) -> Failure {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => Failure::NotFound,
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<String> = envelope
                .errors
                .iter()
                .map(|e| format!("{:?}", e.code))
                .collect();
            if codes
                .iter()
                .any(|c| c.contains("ManifestUnknown") || c.contains("NameUnknown"))
            {
                Failure::NotFound
            } else if codes
                .iter()
                .any(|c| c.contains("Unauthorized") || c.contains("Denied"))
            {
                Failure::Unauthorized
            } else {
                Failure::Other
            }
        }
        OciDistributionError::ServerError { code: 404, .. } => Failure::NotFound,
        OciDistributionError::ServerError { code, .. } if *code >= 500 || *code == 429 => {
            Failure::Transient
        }
        OciDistributionError::ServerError {
            code: 401 | 403, ..
        }
        | OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => Failure::Unauthorized,
        OciDistributionError::RequestError(r) if r.is_timeout() || r.is_connect() => {
            Failure::Transient
        }
        _ => Failure::Other,
    }
}

impl Failure {
    fn into_error(self, registry: &str, e: &OciDistributionError) -> Error {
        match self {
            Failure::Unauthorized => Error::Registry {
                registry: registry.to_string(),
                message: "access denied (authentication failed or no credentials)".into(),
                help: Some(format!(
                    "log in with `docker login {registry}` (credentials are read from ~/.docker/config.json), or pass --offline to plan without the registry"
                )),
            },
            Failure::Transient => Error::Registry {
                registry: registry.to_string(),
                message: format!("unreachable after {ATTEMPTS} attempts: {}", crate::error::root_cause(e)),
                help: Some("check that the registry is up and reachable, or pass --offline to plan without it".into()),
            },
            _ => Error::Registry {
                registry: registry.to_string(),
                message: crate::error::root_cause(e),
                help: Some("pass --offline to plan without the registry".into()),
            },
        }
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
