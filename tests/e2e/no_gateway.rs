//! A BuildKit without a gateway, for the per-target fallback of `stackplan build`: a front on
//! a unix socket that forwards every gRPC call to the engine's BuildKit socket but answers
//! `moby.buildkit.v1.frontend.LLBBridge` calls `UNIMPLEMENTED`, as a daemon that serves no
//! gateway API does. It routes by the HTTP/2 request path, so the Control API, the status
//! streams and the session pass through untouched.

use std::convert::Infallible;
use std::path::{Path, PathBuf};

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{UnixListener, UnixStream};
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tower::ServiceExt;

/// The gRPC service this front refuses.
const BRIDGE: &str = "/moby.buildkit.v1.frontend.LLBBridge/";

/// A running front; it stops with the test process.
pub struct NoGateway {
    /// `unix:///…/buildkitd.sock`, for `stackplan build --addr`.
    pub addr: String,
    _dir: tempfile::TempDir,
}

/// Starts a front of `upstream` (`unix:///path`, a plain buildkitd socket).
pub fn start(upstream: &str) -> NoGateway {
    let upstream = PathBuf::from(
        upstream
            .strip_prefix("unix://")
            .expect("a unix:// BuildKit address"),
    );
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("buildkitd.sock");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let path = socket.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(serve(&path, upstream, ready_tx));
    });
    ready_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the front listens");
    NoGateway {
        addr: format!("unix://{}", socket.display()),
        _dir: dir,
    }
}

async fn serve(path: &Path, upstream: PathBuf, ready: std::sync::mpsc::Sender<()>) {
    let channel = Endpoint::from_static("http://buildkit.invalid").connect_with_connector_lazy(
        tower::service_fn(move |_| {
            let upstream = upstream.clone();
            async move { UnixStream::connect(upstream).await.map(TokioIo::new) }
        }),
    );
    let listener = UnixListener::bind(path).unwrap();
    ready.send(()).unwrap();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let channel = channel.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| forward(channel.clone(), request));
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn forward(
    channel: Channel,
    request: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Body>, Infallible> {
    if request.uri().path().starts_with(BRIDGE) {
        return Ok(tonic::Status::unimplemented("this BuildKit serves no gateway").into_http());
    }
    match channel.oneshot(request.map(Body::new)).await {
        Ok(response) => Ok(response),
        Err(e) => Ok(tonic::Status::unavailable(e.to_string()).into_http()),
    }
}
