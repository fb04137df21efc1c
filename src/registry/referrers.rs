//! Adapter: test records in a registry, as OCI artifacts whose `subject` is the image.
//!
//! Writing a record uploads its two blobs (the empty config, the in-toto Statement) with
//! monolithic uploads (POST, then PUT with the digest), then PUTs the artifact manifest by
//! digest. A registry with the OCI 1.1 referrers API indexes it by its `subject` by itself
//! (it answers with an `OCI-Subject` header); for one without (distribution 2.x, whose
//! `GET /v2/<name>/referrers/<digest>` is a 404), the record is also added to the
//! **fallback tag** `<repo>:sha256-<hex>`, an OCI image index of the subject's referrers,
//! read, modified and written back. Reading uses the API when it answers and the fallback
//! tag otherwise. Every request goes through the registry client's tokens, retries and TLS.

use bytes::Bytes;

use super::failure::Failure;
use super::{Located, Registry, status_text};
use crate::error::{Error, Result};
use crate::test_record::{self, Descriptor, Record};

/// Where the referrers of a subject are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferrersSource {
    /// `GET /v2/<name>/referrers/<digest>` (OCI 1.1).
    Api,
    /// The `sha256-<hex>` tag (the OCI 1.1 tag schema).
    FallbackTag,
}

/// A record as written: the artifact's digest, and where the subject's referrers are.
#[derive(Clone, Debug)]
pub struct Written {
    pub digest: String,
    pub source: ReferrersSource,
}

impl Registry {
    /// The manifest a reference names, as the subject of a record: media type, digest and
    /// size. `None` when it does not exist.
    pub async fn subject(&self, reference: &str) -> Result<Option<Descriptor>> {
        let located = self.locate(reference)?;
        Ok(self
            .get_manifest(&located, reference)
            .await?
            .map(|(bytes, media_type, digest)| Descriptor {
                media_type,
                digest,
                size: bytes.len() as u64,
                artifact_type: None,
                annotations: Default::default(),
            }))
    }

    fn at(&self, repository_ref: &str, manifest: &str) -> Result<Located> {
        let mut located = self.locate(repository_ref)?;
        located.manifest = manifest.to_string();
        Ok(located)
    }

    /// Uploads a blob unless the repository has it: `HEAD`, then `POST` an upload and
    /// `PUT` the bytes with their digest (one request, the monolithic upload).
    async fn upload_blob(&self, repository_ref: &str, bytes: Bytes, digest: &str) -> Result<()> {
        let located = self.locate(repository_ref)?;
        let repo = located.repository.clone();
        let host = located.host.name.clone();
        let head = format!("/v2/{repo}/blobs/{digest}");
        let what = format!("HEAD blob {digest} of {repo}");
        let resp = self
            .request(&located, true, &what, |c, base| {
                c.head(format!("{base}{head}"))
            })
            .await?;
        if resp.status().is_success() {
            return Ok(());
        }
        let what = format!("POST a blob upload to {repo}");
        let post = format!("/v2/{repo}/blobs/uploads/");
        let resp = self
            .request(&located, true, &what, |c, base| {
                c.post(format!("{base}{post}"))
                    .header(http::header::CONTENT_LENGTH, "0")
            })
            .await?;
        if resp.status().as_u16() != 202 {
            return Err(unexpected(&host, &what, resp.status()));
        }
        let Some(location) = resp
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
        else {
            return Err(Failure::Other("its upload answer has no Location".into())
                .into_error(&host, &what, None));
        };
        let what = format!("PUT blob {digest} to {repo}");
        let resp = self
            .request(&located, true, &what, |c, base| {
                let url = if location.starts_with('/') {
                    format!("{base}{location}")
                } else {
                    location.clone()
                };
                let sep = if url.contains('?') { '&' } else { '?' };
                c.put(format!("{url}{sep}digest={digest}"))
                    .header(http::header::CONTENT_TYPE, "application/octet-stream")
                    .body(bytes.clone())
            })
            .await?;
        if !resp.status().is_success() {
            return Err(unexpected(&host, &what, resp.status()));
        }
        Ok(())
    }

    /// PUTs a manifest under a tag or its digest; returns whether the registry indexed its
    /// subject (the `OCI-Subject` header of the referrers API).
    async fn put_manifest(
        &self,
        repository_ref: &str,
        manifest: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<bool> {
        let located = self.at(repository_ref, manifest)?;
        let path = format!("/v2/{}/manifests/{manifest}", located.repository);
        let what = format!("PUT manifest {manifest} of {}", located.repository);
        let resp = self
            .request(&located, true, &what, |c, base| {
                c.put(format!("{base}{path}"))
                    .header(http::header::CONTENT_TYPE, media_type)
                    .body(bytes.clone())
            })
            .await?;
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            return Err(Failure::Other(format!(
                "answered {}: {}",
                status_text(status),
                body.trim()
            ))
            .into_error(&located.host.name, &what, None));
        }
        Ok(resp.headers().contains_key("oci-subject"))
    }

    /// The referrers of `subject` in the repository of `repository_ref`, and where they
    /// were listed.
    pub async fn referrers(
        &self,
        repository_ref: &str,
        subject: &str,
    ) -> Result<(Vec<Descriptor>, ReferrersSource)> {
        let located = self.locate(repository_ref)?;
        let path = format!("/v2/{}/referrers/{subject}", located.repository);
        let what = format!("GET referrers of {}@{subject}", located.repository);
        let resp = self
            .request(&located, false, &what, |c, base| {
                c.get(format!("{base}{path}"))
                    .header(http::header::ACCEPT, test_record::INDEX_MEDIA_TYPE)
            })
            .await?;
        let status = resp.status();
        if status.is_success() {
            let body = resp.bytes().await.map_err(|e| {
                super::failure::classify(&e).into_error(&located.host.name, &what, None)
            })?;
            let list = test_record::referrers_of(&body)
                .map_err(|m| Failure::Other(m).into_error(&located.host.name, &what, None))?;
            return Ok((list, ReferrersSource::Api));
        }
        if status.as_u16() != 404 {
            return Err(unexpected(&located.host.name, &what, status));
        }
        let list =
            match self.fallback_index(repository_ref, subject).await? {
                Some(bytes) => test_record::referrers_of(&bytes).map_err(|m| {
                    Failure::Other(format!("{}: {m}", test_record::fallback_tag(subject)))
                        .into_error(&located.host.name, &what, None)
                })?,
                None => Vec::new(),
            };
        Ok((list, ReferrersSource::FallbackTag))
    }

    /// The bytes of the fallback tag's index, `None` when there is no such tag.
    async fn fallback_index(&self, repository_ref: &str, subject: &str) -> Result<Option<Bytes>> {
        let tag = test_record::fallback_tag(subject);
        let located = self.at(repository_ref, &tag)?;
        Ok(self
            .get_manifest(&located, &tag)
            .await?
            .map(|(bytes, _, _)| bytes))
    }

    /// Writes a record for the image `subject` describes, in the repository of
    /// `repository_ref`.
    pub async fn push_record(
        &self,
        repository_ref: &str,
        record: &Record,
        subject: &Descriptor,
    ) -> Result<Written> {
        let statement = Bytes::from(test_record::statement(record));
        let statement_digest = crate::context::sha256(&statement);
        self.upload_blob(
            repository_ref,
            Bytes::from_static(test_record::EMPTY_CONFIG),
            test_record::EMPTY_DIGEST,
        )
        .await?;
        self.upload_blob(repository_ref, statement.clone(), &statement_digest)
            .await?;
        let manifest = Bytes::from(test_record::manifest(record, &statement, subject));
        let digest = crate::context::sha256(&manifest);
        let indexed = self
            .put_manifest(
                repository_ref,
                &digest,
                test_record::MANIFEST_MEDIA_TYPE,
                manifest.clone(),
            )
            .await?;
        if indexed {
            return Ok(Written {
                digest,
                source: ReferrersSource::Api,
            });
        }
        // No OCI-Subject: the registry may still have the API (some do not send the
        // header); ask, and fall back to the tag schema when it does not.
        let (_, source) = self.referrers(repository_ref, &subject.digest).await?;
        if source == ReferrersSource::FallbackTag {
            let descriptor = Descriptor {
                media_type: test_record::MANIFEST_MEDIA_TYPE.into(),
                digest: digest.clone(),
                size: manifest.len() as u64,
                artifact_type: Some(test_record::ARTIFACT_TYPE.into()),
                annotations: test_record::annotations(record),
            };
            let existing = self.fallback_index(repository_ref, &subject.digest).await?;
            let located = self.locate(repository_ref)?;
            let updated = test_record::with_referrer(existing.as_deref(), &descriptor).map_err(
                |m| Error::Registry {
                    registry: located.host.name.clone(),
                    message: format!(
                        "{}:{}: {m}",
                        located.repository,
                        test_record::fallback_tag(&subject.digest)
                    ),
                    help: Some(
                        "that tag is reserved for the OCI referrers fallback: delete it and write the record again"
                            .into(),
                    ),
                },
            )?;
            if let Some(bytes) = updated {
                self.put_manifest(
                    repository_ref,
                    &test_record::fallback_tag(&subject.digest),
                    test_record::INDEX_MEDIA_TYPE,
                    Bytes::from(bytes),
                )
                .await?;
            }
        }
        Ok(Written { digest, source })
    }
}

fn unexpected(host: &str, what: &str, status: reqwest::StatusCode) -> Error {
    Failure::Other(format!("answered {}", status_text(status))).into_error(host, what, None)
}
