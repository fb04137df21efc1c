//! The client's session: the gRPC services BuildKit calls back into while it builds.
//!
//! It serves `grpc.health.v1.Health` (BuildKit checks the session is alive),
//! `moby.filesync.v1.Auth` (registry credentials from the user's Docker config, for pulls
//! and pushes that need a login) and `moby.filesync.v1.FileSync` (the target's folders,
//! see [`super::filesync`]). A session serves one target's folders under BuildKit's names
//! (`context`, `dockerfile`), so each target has its own. The session is one HTTP/2 connection on which *we* are the
//! server: a buildkitd carries it inside the `Control.Session` stream, a Docker engine on an
//! upgraded `POST /session`.

use std::pin::Pin;
use std::task::{Context, Poll};

use bollard_buildkit_proto::health::health_server::{Health, HealthServer};
use bollard_buildkit_proto::health::{
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
    health_check_response::ServingStatus,
};
use bollard_buildkit_proto::moby::buildkit::v1::BytesMessage;
use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::filesync::v1::auth_server::{Auth, AuthServer};
use bollard_buildkit_proto::moby::filesync::v1::{
    CredentialsRequest, CredentialsResponse, FetchTokenRequest, FetchTokenResponse,
    GetTokenAuthorityRequest, GetTokenAuthorityResponse, VerifyTokenAuthorityRequest,
    VerifyTokenAuthorityResponse,
};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::filesync::FileSyncService;
use bollard_buildkit_proto::moby::filesync::packet::file_sync_server::FileSyncServer;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use super::address::Address;
use crate::error::{Error, Result};

/// The methods the session serves, announced to BuildKit.
const METHODS: &[&str] = &[
    "/grpc.health.v1.Health/Check",
    "/moby.filesync.v1.Auth/Credentials",
    "/moby.filesync.v1.Auth/FetchToken",
    "/moby.filesync.v1.Auth/GetTokenAuthority",
    "/moby.filesync.v1.Auth/VerifyTokenAuthority",
    "/moby.filesync.v1.FileSync/DiffCopy",
];

/// A random id in BuildKit's style (base-36).
pub fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    while out.len() < 25 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        let mut n = h.finish();
        while n > 0 && out.len() < 25 {
            out.push(std::char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
            n /= 36;
        }
    }
    out
}

/// The session's identity, sent with it and referred to by every solve, and the folders
/// it serves.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub id: String,
    pub name: String,
    /// With BuildKit's `SharedKeyHint`, the key of BuildKit's copy of a folder from an
    /// earlier transfer: a stable one (from the folder's path) makes a second build send
    /// only what changed.
    pub shared_key: String,
    pub dirs: super::filesync::Dirs,
}

impl SessionInfo {
    pub fn new() -> SessionInfo {
        SessionInfo {
            id: new_id(),
            name: "stackplan".into(),
            shared_key: new_id(),
            dirs: Default::default(),
        }
    }

    /// A session serving `dirs`, its shared key derived from `key` (say, the folder's path).
    pub fn serving(dirs: super::filesync::Dirs, key: &str) -> SessionInfo {
        use sha2::{Digest, Sha256};
        let hash = Sha256::digest(key.as_bytes());
        let shared_key: String = hash.iter().take(16).map(|b| format!("{b:02x}")).collect();
        SessionInfo {
            shared_key,
            dirs,
            ..SessionInfo::new()
        }
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("X-Docker-Expose-Session-Uuid", self.id.clone()),
            ("X-Docker-Expose-Session-Name", self.name.clone()),
            ("X-Docker-Expose-Session-Sharedkey", self.shared_key.clone()),
        ];
        for m in METHODS {
            h.push(("X-Docker-Expose-Session-Grpc-Method", m.to_string()));
        }
        h
    }
}

impl Default for SessionInfo {
    fn default() -> Self {
        Self::new()
    }
}

/// Opens the session and serves it in the background until the process ends.
pub async fn start(address: &Address, channel: Channel, info: &SessionInfo) -> Result<()> {
    match address {
        Address::Docker(socket) => {
            let io = super::connect::upgrade(socket, "/session", &info.headers())
                .await
                .map_err(|e| Error::Build {
                    message: format!("BuildKit at {address}: cannot open a session: {e}"),
                })?;
            serve(
                Io(Box::pin(hyper_util::rt::TokioIo::new(io))),
                info.dirs.clone(),
            );
        }
        Address::Tcp { .. } | Address::Unix(_) => {
            // Bytes the local server writes go to BuildKit as BytesMessages, and the other way.
            let (ours, theirs) = tokio::io::duplex(64 * 1024);
            let (their_read, their_write) = tokio::io::split(theirs);
            let outgoing =
                tokio_util::io::ReaderStream::new(their_read).filter_map(|chunk| async move {
                    chunk.ok().map(|data| BytesMessage {
                        data: data.to_vec(),
                    })
                });
            let mut request = Request::new(outgoing);
            for (name, value) in info.headers() {
                let key = name.to_ascii_lowercase();
                let key =
                    tonic::metadata::MetadataKey::from_bytes(key.as_bytes()).map_err(|e| {
                        Error::Build {
                            message: e.to_string(),
                        }
                    })?;
                let value = value.parse().map_err(|_| Error::Build {
                    message: format!("invalid session header {name}"),
                })?;
                request.metadata_mut().append(key, value);
            }
            let incoming = ControlClient::new(channel)
                .session(request)
                .await
                .map_err(|s| Error::Build {
                    message: format!(
                        "BuildKit at {address}: cannot open a session: {}",
                        s.message()
                    ),
                })?
                .into_inner();
            tokio::spawn(async move {
                let mut writer = their_write;
                let mut incoming = incoming;
                while let Some(Ok(message)) = incoming.next().await {
                    if tokio::io::AsyncWriteExt::write_all(&mut writer, &message.data)
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            });
            serve(Io(Box::pin(ours)), info.dirs.clone());
        }
    }
    Ok(())
}

/// Serves the session's services on one connection, in the background.
fn serve(io: Io, dirs: super::filesync::Dirs) {
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(HealthServer::new(HealthService))
            .add_service(AuthServer::new(AuthService))
            .add_service(FileSyncServer::new(FileSyncService::new(dirs)))
            .serve_with_incoming(futures::stream::iter([Ok::<_, std::io::Error>(io)]))
            .await;
    });
}

trait ReadWrite: AsyncRead + AsyncWrite + Send {}
impl<T: AsyncRead + AsyncWrite + Send> ReadWrite for T {}

/// A session connection, as tonic's server wants it.
struct Io(Pin<Box<dyn ReadWrite>>);

impl tonic::transport::server::Connected for Io {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Io {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.0.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0.as_mut().poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.0.as_mut().poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.0.as_mut().poll_shutdown(cx)
    }
}

struct HealthService;

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> std::result::Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        }))
    }

    async fn list(
        &self,
        _: Request<HealthListRequest>,
    ) -> std::result::Result<Response<HealthListResponse>, Status> {
        Err(Status::unimplemented("list"))
    }

    type WatchStream =
        futures::stream::Iter<std::vec::IntoIter<std::result::Result<HealthCheckResponse, Status>>>;

    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> std::result::Result<Response<Self::WatchStream>, Status> {
        Ok(Response::new(futures::stream::iter(vec![Ok(
            HealthCheckResponse {
                status: ServingStatus::Serving as i32,
            },
        )])))
    }
}

/// Registry credentials for BuildKit, from the user's Docker configuration. Only
/// `Credentials` is served: without the token methods BuildKit fetches tokens itself with
/// these credentials.
struct AuthService;

#[tonic::async_trait]
impl Auth for AuthService {
    async fn credentials(
        &self,
        request: Request<CredentialsRequest>,
    ) -> std::result::Result<Response<CredentialsResponse>, Status> {
        let host = request.into_inner().host;
        let host = match host.as_str() {
            "registry-1.docker.io" | "index.docker.io" => "docker.io".to_string(),
            _ => host,
        };
        use crate::registry::credentials::{Credential, auth_for};
        let (username, secret) = match auth_for(&host) {
            Ok(Credential::Basic { user, password }) => (user, password),
            Ok(Credential::IdentityToken(token)) => (String::new(), token),
            _ => (String::new(), String::new()),
        };
        Ok(Response::new(CredentialsResponse { username, secret }))
    }

    async fn fetch_token(
        &self,
        _: Request<FetchTokenRequest>,
    ) -> std::result::Result<Response<FetchTokenResponse>, Status> {
        Err(Status::unimplemented("fetch_token"))
    }

    async fn get_token_authority(
        &self,
        _: Request<GetTokenAuthorityRequest>,
    ) -> std::result::Result<Response<GetTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("get_token_authority"))
    }

    async fn verify_token_authority(
        &self,
        _: Request<VerifyTokenAuthorityRequest>,
    ) -> std::result::Result<Response<VerifyTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("verify_token_authority"))
    }
}
