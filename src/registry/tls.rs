//! TLS for registries, the way the docker CLI and dockerd set it up.
//!
//! A registry's certificate is trusted when the system store (with `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`, as OpenSSL reads them) or a CA of the registry's `certs.d` folder signs
//! it. The folders are `~/.docker/certs.d/<host[:port]>/` and
//! `/etc/docker/certs.d/<host[:port]>/`, as docker has them: every `*.crt` is a CA, and a
//! `NAME.cert` with its `NAME.key` is the client certificate to present. Each registry host
//! gets its own HTTP client, so one registry's client certificate never goes to another.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The `certs.d` folders, most specific first: the user's, then the system's.
/// `STACKPLAN_DOCKER_CERTS_D` replaces the system one (tests, and machines that keep it
/// elsewhere).
pub fn certs_d_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        roots.push(Path::new(&home).join(".docker/certs.d"));
    }
    match std::env::var_os("STACKPLAN_DOCKER_CERTS_D").filter(|d| !d.is_empty()) {
        Some(dir) => roots.push(PathBuf::from(dir)),
        None => roots.push(PathBuf::from("/etc/docker/certs.d")),
    }
    roots
}

/// The TLS material of one registry host.
#[derive(Default)]
pub struct HostTls {
    pub cas: Vec<reqwest::Certificate>,
    pub identity: Option<reqwest::Identity>,
    /// Where the client certificate came from, for messages.
    pub identity_path: Option<PathBuf>,
}

/// Reads `<root>/<host>/` for each root in `roots`: CAs from every folder, the client
/// certificate from the first that has one.
pub fn host_tls(host: &str, roots: &[PathBuf]) -> Result<HostTls> {
    let mut tls = HostTls::default();
    for root in roots {
        let dir = root.join(host);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for path in &files {
            match path.extension().and_then(|e| e.to_str()) {
                Some("crt") => {
                    let pem = read(path)?;
                    let certs = reqwest::Certificate::from_pem_bundle(&pem)
                        .map_err(|_| bad_file(host, path, "not a PEM certificate"))?;
                    if certs.is_empty() {
                        return Err(bad_file(host, path, "holds no certificate"));
                    }
                    tls.cas.extend(certs);
                }
                Some("cert") if tls.identity.is_none() => {
                    let key = path.with_extension("key");
                    if !key.is_file() {
                        return Err(bad_file(
                            host,
                            path,
                            &format!("has no key: {} is missing", key.display()),
                        ));
                    }
                    let mut pem = read(path)?;
                    pem.push(b'\n');
                    pem.extend(read(&key)?);
                    let identity = reqwest::Identity::from_pem(&pem).map_err(|_| {
                        bad_file(
                            host,
                            path,
                            &format!("and {} are not a PEM certificate and key", key.display()),
                        )
                    })?;
                    tls.identity = Some(identity);
                    tls.identity_path = Some(path.clone());
                }
                _ => {}
            }
        }
    }
    Ok(tls)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io("cannot read", path, e))
}

fn bad_file(host: &str, path: &Path, what: &str) -> Error {
    Error::Registry {
        registry: host.to_string(),
        message: format!("{} {what}", path.display()),
        help: Some(format!(
            "fix or remove it: docker's certs.d folders hold `*.crt` CA certificates and a `client.cert` with its `client.key`, all PEM ({})",
            path.parent()
                .map_or_else(String::new, |p| p.display().to_string())
        )),
    }
}

/// Where the CA of `host` should go, for messages: the system folder docker reads.
pub fn ca_hint(host: &str) -> String {
    let roots = certs_d_roots();
    let system = roots.last().cloned().unwrap_or_default();
    format!(
        "put its CA certificate in {}/ca.crt (or ~/.docker/certs.d/{host}/ca.crt, or the system store / SSL_CERT_FILE)",
        system.join(host).display()
    )
}

/// Where the client certificate of `host` should go, for messages.
pub fn client_cert_hint(host: &str) -> String {
    let roots = certs_d_roots();
    let system = roots.last().cloned().unwrap_or_default();
    let dir = system.join(host);
    format!(
        "put the client certificate in {}/client.cert and its key in {}/client.key (or under ~/.docker/certs.d/{host}/)",
        dir.display(),
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIUXx5y4cQvQ2E8mQpGdXG0hj4A5b4wCgYIKoZIzj0EAwIw\nETEPMA0GA1UEAwwGdGVzdGNhMB4XDTI0MDEwMTAwMDAwMFoXDTM0MDEwMTAwMDAw\nMFowETEPMA0GA1UEAwwGdGVzdGNhMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END CERTIFICATE-----\n";

    #[test]
    fn reads_the_host_folder_of_each_root() {
        let tmp = tempfile::tempdir().unwrap();
        let user = tmp.path().join("user");
        let system = tmp.path().join("system");
        std::fs::create_dir_all(system.join("reg.example:5000")).unwrap();
        std::fs::create_dir_all(user.join("other")).unwrap();
        let roots = vec![user.clone(), system.clone()];
        // Nothing for the host: no CA, no client certificate.
        let tls = host_tls("reg.example:5000", &roots).unwrap();
        assert!(tls.cas.is_empty() && tls.identity.is_none());
        // A .cert without its key is an error naming the file and the fix.
        std::fs::write(system.join("reg.example:5000/client.cert"), CERT).unwrap();
        let Err(e) = host_tls("reg.example:5000", &roots) else {
            panic!("a .cert without .key is accepted")
        };
        assert!(e.to_string().contains("client.key is missing"), "{e}");
        // A .crt that is no certificate is an error too.
        std::fs::remove_file(system.join("reg.example:5000/client.cert")).unwrap();
        std::fs::write(system.join("reg.example:5000/ca.crt"), "hello").unwrap();
        let Err(e) = host_tls("reg.example:5000", &roots) else {
            panic!("a bad .crt is accepted")
        };
        assert!(e.to_string().contains("ca.crt holds no certificate"), "{e}");
    }

    #[test]
    fn hints_name_the_host_folder() {
        assert!(ca_hint("reg.example:5000").contains("/reg.example:5000/ca.crt"));
        assert!(client_cert_hint("reg.example:5000").contains("/reg.example:5000/client.key"));
    }
}
