//! Opening a gRPC channel to BuildKit, one way per [`Address`] kind.
//!
//! `tcp://` and `unix://` are plain gRPC (HTTP/2). A Docker engine serves its embedded
//! BuildKit behind an HTTP/1.1 upgrade: `POST /grpc` with `Connection: Upgrade` and
//! `Upgrade: h2c` answers `101 Switching Protocols`, and the connection then speaks gRPC
//! over cleartext HTTP/2. The same upgrade on `POST /session` carries the client's session
//! (see [`super::session`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

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
        engine_error(
            address,
            format!("cannot connect: {}", crate::error::root_cause(&e)),
        )
    })
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
