//! Opening a gRPC channel to BuildKit, one way per [`Address`] kind.
//!
//! `tcp://` and `unix://` are plain gRPC (HTTP/2). A Docker engine serves its embedded
//! BuildKit behind an HTTP/1.1 upgrade: `POST /grpc` with `Connection: Upgrade` and
//! `Upgrade: h2c` answers `101 Switching Protocols`, and the connection then speaks gRPC
//! over cleartext HTTP/2. The same upgrade on `POST /session` carries the client's session
//! (see [`super::session`]).
//!
//! [`check_workers`] is the one check that a daemon is there and can build: `stackplan
//! build` runs it before anything else, `stackplan doctor` reports it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard_buildkit_proto::moby::buildkit::v1::ListWorkersRequest;
use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::buildkit::v1::types::WorkerRecord;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::address::Address;
use crate::error::{Error, Result};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn engine_error(address: &Address, message: String) -> Error {
    Error::Build {
        message: format!("BuildKit at {address}: {message}"),
    }
}

/// A channel to the Control API at `address`; it connects lazily per request stream, so the
/// first RPC is what proves the daemon is there.
pub async fn channel(address: &Address) -> Result<Channel> {
    // The URI of unix and docker endpoints is a placeholder: the connector decides.
    let placeholder = || Endpoint::from_static("http://buildkit.invalid");
    let result = match address {
        Address::Tcp { authority, tls } => {
            let scheme = if tls.is_some() { "https" } else { "http" };
            let mut endpoint = Endpoint::from_shared(format!("{scheme}://{authority}"))
                .map_err(|e| engine_error(address, e.to_string()))?
                .connect_timeout(CONNECT_TIMEOUT);
            if let Some(tls) = tls {
                let mut config = ClientTlsConfig::new().with_native_roots();
                if let Some(ca) = &tls.ca {
                    config = config.ca_certificate(Certificate::from_pem(read(ca)?));
                }
                match (&tls.cert, &tls.key) {
                    (Some(cert), Some(key)) => {
                        config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
                    }
                    (None, None) => {}
                    _ => {
                        return Err(Error::usage("--tls-cert and --tls-key go together"));
                    }
                }
                let host = authority
                    .rsplit_once(':')
                    .map(|(h, _)| h)
                    .unwrap_or(authority);
                config =
                    config.domain_name(tls.server_name.clone().unwrap_or_else(|| host.to_string()));
                endpoint = endpoint
                    .tls_config(config)
                    .map_err(|e| engine_error(address, e.to_string()))?;
            }
            endpoint.connect().await
        }
        Address::Unix(path) => {
            let path = path.clone();
            placeholder()
                .connect_timeout(CONNECT_TIMEOUT)
                .connect_with_connector(tower::service_fn(move |_| {
                    let path = path.clone();
                    async move { UnixStream::connect(path).await.map(TokioIo::new) }
                }))
                .await
        }
        Address::Docker(socket) => {
            let socket = socket.clone();
            placeholder()
                .connect_timeout(CONNECT_TIMEOUT)
                .connect_with_connector(tower::service_fn(move |_| {
                    let socket = socket.clone();
                    async move { upgrade(&socket, "/grpc", &[]).await }
                }))
                .await
        }
    };
    result.map_err(|e| {
        let chain = crate::error::root_cause(&e);
        engine_error(
            address,
            explain(address, &chain).unwrap_or_else(|| format!("cannot connect: {chain}")),
        )
    })
}

/// The workers of the daemon at `address` (reached through `channel`): a daemon that is
/// down, is no BuildKit, or has no worker is an error here, within [`CONNECT_TIMEOUT`].
pub async fn check_workers(channel: &Channel, address: &Address) -> Result<Vec<WorkerRecord>> {
    let answer = tokio::time::timeout(
        CONNECT_TIMEOUT,
        ControlClient::new(channel.clone()).list_workers(ListWorkersRequest::default()),
    )
    .await
    .map_err(|_| {
        engine_error(
            address,
            format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()),
        )
    })?
    .map_err(|s| {
        let cause = std::error::Error::source(&s)
            .map(crate::error::root_cause)
            .unwrap_or_else(|| s.message().to_string());
        engine_error(address, explain(address, &cause).unwrap_or(cause))
    })?;
    let workers = answer.into_inner().record;
    if workers.is_empty() {
        return Err(Error::Build {
            message: format!("BuildKit at {address} has no worker"),
        });
    }
    Ok(workers)
}

/// What a failure talking to a daemon means when the error chain says it: TLS problems
/// (the daemon wants a client certificate, refuses ours, or presents one we do not trust)
/// and a plain connection to a daemon that speaks TLS, each with the flag that fixes it.
pub fn explain(address: &Address, chain: &str) -> Option<String> {
    let Address::Tcp { tls, .. } = address else {
        return None;
    };
    let with_cert = tls.as_ref().is_some_and(|t| t.cert.is_some());
    let alert = |names: &[&'static str]| names.iter().find(|n| chain.contains(**n)).copied();
    if tls.is_some()
        && (chain.contains("CertificateRequired")
            || (!with_cert && chain.contains("HandshakeFailure")))
    {
        return Some(
            "the daemon requires a client certificate and none was given: pass --tls-cert and --tls-key (a certificate signed by the CA the daemon trusts, buildkitd --tlscacert)".into(),
        );
    }
    if let Some(alert) = alert(&[
        "BadCertificate",
        "UnknownCA",
        "CertificateUnknown",
        "CertificateExpired",
        "CertificateRevoked",
        "UnsupportedCertificate",
        "DecryptError",
        "AccessDenied",
    ])
    .filter(|_| with_cert)
    {
        return Some(format!(
            "the daemon refused our client certificate ({alert}): check that --tls-cert is signed by the CA the daemon trusts (buildkitd --tlscacert) and is valid for client authentication"
        ));
    }
    if chain.contains("UnknownIssuer") {
        return Some(
            "the daemon's certificate is signed by an unknown authority: pass its CA with --tls-ca FILE".into(),
        );
    }
    if chain.contains("NotValidForName") || chain.contains("not valid for name") {
        return Some(
            "the daemon's certificate is not valid for this host name: pass the name it carries with --tls-server-name NAME".into(),
        );
    }
    // The connection dropped right after the handshake: what a TLS daemon that wants (or
    // refuses) a client certificate does, and a TLS daemon spoken to in plain text. With
    // TLS 1.3 the client's handshake ends before the daemon's verdict on its certificate:
    // the alert may be read, or the connection found closed before the first request
    // ("connection was not ready"), depending on timing.
    let dropped = [
        "connection closed",
        "connection reset",
        "broken pipe",
        "connection was not ready",
    ]
    .iter()
    .any(|d| chain.contains(d));
    if tls.is_some() && dropped {
        return Some(if with_cert {
            "the daemon closed the connection after the TLS handshake: it likely refused our client certificate; check that --tls-cert is signed by the CA the daemon trusts (buildkitd --tlscacert)".into()
        } else {
            "the daemon closed the connection after the TLS handshake: it likely requires a client certificate; pass --tls-cert and --tls-key".into()
        });
    }
    if tls.is_none()
        && (dropped || chain.contains("frame with invalid size") || chain.contains("http2 error"))
    {
        return Some(
            "the daemon did not answer plain gRPC; if it speaks TLS, pass --tls-ca FILE (and --tls-cert/--tls-key when it wants a client certificate)".into(),
        );
    }
    None
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io("cannot read", path, e))
}

/// `POST <path>` on the engine's socket with an h2c upgrade; the upgraded connection.
pub async fn upgrade(
    socket: &Path,
    path: &str,
    headers: &[(&str, String)],
) -> std::io::Result<hyper::upgrade::Upgraded> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(socket))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = connection.with_upgrades().await;
    });
    let mut request = Request::post(path)
        .header("Host", "docker")
        .header("Connection", "Upgrade")
        .header("Upgrade", "h2c");
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(std::io::Error::other)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(std::io::Error::other)?;
    if response.status() != hyper::StatusCode::SWITCHING_PROTOCOLS {
        return Err(std::io::Error::other(format!(
            "the engine answered {} to POST {path}, not 101 Switching Protocols (is this a Docker engine with BuildKit?)",
            response.status()
        )));
    }
    hyper::upgrade::on(response)
        .await
        .map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buildkit::address::Tls;

    fn tcp(cert: bool) -> Address {
        Address::Tcp {
            authority: "127.0.0.1:1234".into(),
            tls: Some(Tls {
                ca: Some("ca.crt".into()),
                cert: cert.then(|| "client.crt".into()),
                key: cert.then(|| "client.key".into()),
                server_name: None,
            }),
        }
    }

    #[test]
    fn a_connection_closed_before_the_first_request_is_read_as_the_daemons_verdict() {
        let chain = "transport error: operation was canceled: connection was not ready";
        let without = explain(&tcp(false), chain).expect("explained");
        assert!(
            without.contains("requires a client certificate"),
            "{without}"
        );
        let with = explain(&tcp(true), chain).expect("explained");
        assert!(with.contains("refused our client certificate"), "{with}");
        let alert = explain(&tcp(false), "received fatal alert: CertificateRequired").unwrap();
        assert!(alert.contains("requires a client certificate"), "{alert}");
    }
}
