//! What a failed registry request means: retry it, or tell the user at once what to fix.
//!
//! Throttling (429), a gateway that is briefly down (502/503/504, 408), a reset connection
//! or a timeout are [`Failure::Transient`]: asked again under the run's retry budget. A
//! certificate the registry's chain does not verify, a client certificate the registry
//! wants or refuses, refused credentials (401/403) and anything else are final and named
//! as what they are, with the fix.

use std::error::Error as StdError;

use crate::error::Error;

/// A request's failure.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Worth asking again; the text names the cause ("429 Too Many Requests").
    Transient(String),
    /// The server's certificate does not verify; the text is rustls' reason.
    Certificate(String),
    /// The server wants a client certificate and we sent none.
    ClientCertificateRequired,
    /// The server refused our client certificate.
    ClientCertificateRefused(String),
    /// Nothing listens there, or the name does not resolve.
    Unreachable(String),
    /// 401/403: credentials missing or refused.
    Denied(u16),
    /// Anything else; the text says what.
    Other(String),
}

/// Whether an HTTP status is worth retrying.
pub fn transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 502 | 503 | 504)
}

/// Classifies a transport error (reqwest's, with rustls and io errors inside).
pub fn classify(e: &reqwest::Error) -> Failure {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = as_rustls(err) {
            return classify_tls(tls);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn StdError + 'static))
            .filter(|inner| inner.to_string().starts_with("invalid peer certificate"))
        {
            return Failure::Certificate(inner.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                    return Failure::Transient("connection reset".into());
                }
                K::TimedOut => return Failure::Transient("timeout".into()),
                K::ConnectionRefused => {
                    return Failure::Unreachable("connection refused".into());
                }
                _ => {}
            }
        }
        if let Some(h) = err.downcast_ref::<hyper::Error>()
            && (h.is_incomplete_message() || h.is_canceled() || h.is_closed())
        {
            return Failure::Transient("connection reset".into());
        }
        cur = err.source();
    }
    if e.is_timeout() {
        return Failure::Transient("timeout".into());
    }
    let text = crate::error::root_cause(e);
    let lower = text.to_lowercase();
    if lower.contains("connection reset")
        || lower.contains("handshake eof")
        || lower.contains("connection closed")
        || lower.contains("broken pipe")
    {
        return Failure::Transient("connection reset".into());
    }
    if lower.contains("dns error") || lower.contains("failed to lookup") {
        return Failure::Unreachable(text);
    }
    if e.is_connect() {
        return Failure::Unreachable(text);
    }
    Failure::Other(text)
}

/// A rustls error in an error chain, also inside an `io::Error` (whose `source` skips its
/// inner error), however deep.
fn as_rustls<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    None
}

fn classify_tls(e: &rustls::Error) -> Failure {
    use rustls::AlertDescription as A;
    match e {
        rustls::Error::InvalidCertificate(kind) => Failure::Certificate(certificate_reason(kind)),
        rustls::Error::AlertReceived(A::CertificateRequired) => Failure::ClientCertificateRequired,
        rustls::Error::AlertReceived(
            a @ (A::BadCertificate
            | A::UnknownCA
            | A::CertificateUnknown
            | A::CertificateExpired
            | A::CertificateRevoked
            | A::UnsupportedCertificate
            | A::AccessDenied),
        ) => Failure::ClientCertificateRefused(format!("{a:?}")),
        other => Failure::Other(format!("TLS: {other}")),
    }
}

fn certificate_reason(kind: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    match kind {
        C::UnknownIssuer => "is signed by an unknown authority".into(),
        C::Expired | C::ExpiredContext { .. } => "has expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => "is not valid yet".into(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "is not valid for this host name".into()
        }
        C::Revoked => "is revoked".into(),
        C::BadSignature => "has a bad signature".into(),
        other => format!("does not verify ({other:?})"),
    }
}

impl Failure {
    /// The error the user sees for a final failure of a request to `host`; `retried`
    /// describes the retries spent before, if any.
    pub fn into_error(self, host: &str, what: &str, retried: Option<String>) -> Error {
        let registry = host.to_string();
        match self {
            Failure::Transient(cause) => Error::Registry {
                registry,
                message: format!(
                    "{what}: gave up on {cause}: {}",
                    retried.unwrap_or_else(|| "no retry budget left".into())
                ),
                help: Some(
                    "the registry is throttling or failing: try again later, or give the run more time with --registry-retry-budget (e.g. 5m)".into(),
                ),
            },
            Failure::Certificate(reason) => Error::Registry {
                message: format!("the certificate of {host} {reason}"),
                help: Some(if reason.contains("unknown authority") {
                    super::tls::ca_hint(host)
                } else {
                    format!(
                        "fix the registry's certificate, or {}",
                        super::tls::ca_hint(host)
                    )
                }),
                registry,
            },
            Failure::ClientCertificateRequired => Error::Registry {
                message: format!("{host} requires a client certificate and none is configured"),
                help: Some(super::tls::client_cert_hint(host)),
                registry,
            },
            Failure::ClientCertificateRefused(alert) => Error::Registry {
                message: format!(
                    "{host} refused the TLS handshake ({alert}): it does not accept our client certificate, or wants one"
                ),
                help: Some(format!(
                    "check that the client certificate is signed by a CA the registry trusts: {}",
                    super::tls::client_cert_hint(host)
                )),
                registry,
            },
            Failure::Unreachable(why) => Error::Registry {
                message: format!("unreachable: {why}"),
                help: Some(
                    "check that the registry is up and the name right, or pass --offline to plan without it".into(),
                ),
                registry,
            },
            Failure::Denied(status) => Error::Registry {
                message: format!(
                    "access denied to {what} ({status}: authentication failed or no credentials)"
                ),
                help: Some(format!(
                    "log in with `docker login {host}` (credentials are read from ~/.docker/config.json), or pass --offline to plan without the registry"
                )),
                registry,
            },
            Failure::Other(text) => Error::Registry {
                message: format!("{what}: {text}"),
                help: Some("pass --offline to plan without the registry".into()),
                registry,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_worth_retrying() {
        for s in [408, 429, 502, 503, 504] {
            assert!(transient_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 500, 501] {
            assert!(!transient_status(s), "{s}");
        }
    }

    #[test]
    fn tls_failures_are_final_and_say_the_fix() {
        let f = classify_tls(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert_eq!(
            f,
            Failure::Certificate("is signed by an unknown authority".into())
        );
        let e = f.into_error("reg.example:5000", "x", None).to_string();
        assert_eq!(
            e,
            "registry reg.example:5000: the certificate of reg.example:5000 is signed by an unknown authority"
        );
        let f = classify_tls(&rustls::Error::AlertReceived(
            rustls::AlertDescription::CertificateRequired,
        ));
        assert_eq!(f, Failure::ClientCertificateRequired);
        let e = f.into_error("h:1", "x", None);
        assert!(
            e.help().unwrap().contains("h:1/client.cert"),
            "{:?}",
            e.help()
        );
    }
}
