//! Where BuildKit is: `--addr` parsed into one backend per scheme.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// TLS files for a `tcp://` daemon.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tls {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The name the server certificate must carry (default: the address's host).
    pub server_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// A buildkitd over TCP (`tcp://host:port`), TLS when any TLS file is given.
    Tcp { authority: String, tls: Option<Tls> },
    /// A buildkitd on a unix socket (`unix:///run/buildkit/buildkitd.sock`).
    Unix(PathBuf),
    /// A Docker engine's embedded BuildKit, reached through its API socket (`docker://`,
    /// `docker://unix:///path`, or a unix socket named `docker.sock`).
    Docker(PathBuf),
}

const DOCKER_SOCKET: &str = "/var/run/docker.sock";

impl Address {
    pub fn parse(addr: &str, tls: Tls) -> Result<Address> {
        let bad = |why: &str| {
            Error::usage_with_help(
                format!("--addr {addr}: {why}"),
                "give tcp://HOST:PORT, unix:///path/to/buildkitd.sock, or docker:// (the Docker engine's BuildKit)",
            )
        };
        let has_tls = tls.ca.is_some() || tls.cert.is_some() || tls.key.is_some();
        if let Some(rest) = addr.strip_prefix("tcp://") {
            let authority = rest.trim_end_matches('/');
            if authority.is_empty() || !authority.contains(':') {
                return Err(bad("a tcp address needs HOST:PORT"));
            }
            return Ok(Address::Tcp {
                authority: authority.to_string(),
                tls: has_tls.then_some(tls),
            });
        }
        if has_tls {
            return Err(bad("TLS files go with tcp:// addresses only"));
        }
        if let Some(rest) = addr.strip_prefix("docker://") {
            let path = match rest {
                "" => match std::env::var("DOCKER_HOST") {
                    Ok(host) if host.starts_with("unix://") => host["unix://".len()..].to_string(),
                    _ => DOCKER_SOCKET.to_string(),
                },
                other => other.strip_prefix("unix://").unwrap_or(other).to_string(),
            };
            return Ok(Address::Docker(PathBuf::from(path)));
        }
        if let Some(path) = addr.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(bad("a unix address needs a socket path"));
            }
            let path = PathBuf::from(path);
            return Ok(if path.file_name().is_some_and(|n| n == "docker.sock") {
                Address::Docker(path)
            } else {
                Address::Unix(path)
            });
        }
        Err(bad("unknown scheme"))
    }

    pub fn is_docker(&self) -> bool {
        matches!(self, Address::Docker(_))
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Tcp { authority, tls } => {
                write!(
                    f,
                    "tcp://{authority}{}",
                    if tls.is_some() { " (TLS)" } else { "" }
                )
            }
            Address::Unix(p) => write!(f, "unix://{}", p.display()),
            Address::Docker(p) => write!(f, "docker://unix://{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        let none = Tls::default;
        assert_eq!(
            Address::parse("tcp://127.0.0.1:1234", none()).unwrap(),
            Address::Tcp {
                authority: "127.0.0.1:1234".into(),
                tls: None
            }
        );
        assert_eq!(
            Address::parse("unix:///run/buildkit/buildkitd.sock", none()).unwrap(),
            Address::Unix("/run/buildkit/buildkitd.sock".into())
        );
        assert_eq!(
            Address::parse("unix:///var/run/docker.sock", none()).unwrap(),
            Address::Docker(DOCKER_SOCKET.into())
        );
        assert_eq!(
            Address::parse("docker://unix:///x/d.sock", none()).unwrap(),
            Address::Docker("/x/d.sock".into())
        );
        let tls = Tls {
            ca: Some("ca.pem".into()),
            ..Tls::default()
        };
        assert!(matches!(
            Address::parse("tcp://h:1", tls.clone()).unwrap(),
            Address::Tcp { tls: Some(_), .. }
        ));
        assert!(Address::parse("unix:///x.sock", tls).is_err());
        assert!(Address::parse("tcp://host", none()).is_err());
        assert!(Address::parse("http://h:1", none()).is_err());
    }
}
