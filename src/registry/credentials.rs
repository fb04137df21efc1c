//! Registry credentials from the user's Docker configuration (`~/.docker/config.json`, or
//! `$DOCKER_CONFIG/config.json`): `auths`, `credsStore` and `credHelpers`, the latter two
//! through the `docker-credential-*` helper programs (the `docker_credential` crate).
//!
//! Credentials stay in memory; nothing here prints or writes them.

use std::fmt;

use crate::error::{Error, Result};

/// What the user configured for a registry host.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// Nothing: requests go without credentials.
    Anonymous,
    /// A user name and password (or access token), sent as HTTP Basic credentials or
    /// traded for a bearer token.
    Basic { user: String, password: String },
    /// An identity token (`docker login` with an OAuth flow): a refresh token traded for
    /// bearer tokens.
    IdentityToken(String),
}

/// Names the kind of credential only: a credential is never printed.
impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credential::Anonymous => "Anonymous",
            Credential::Basic { .. } => "Basic(..)",
            Credential::IdentityToken(_) => "IdentityToken(..)",
        })
    }
}

/// The key Docker uses for a registry host in config.json.
fn server_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            "https://index.docker.io/v1/".to_string()
        }
        other => other.to_string(),
    }
}

/// The credential the user configured for `registry`, or anonymous access.
pub fn auth_for(registry: &str) -> Result<Credential> {
    use docker_credential::{CredentialRetrievalError as E, DockerCredential};
    match docker_credential::get_credential(&server_key(registry)) {
        Ok(DockerCredential::UsernamePassword(user, password)) => {
            Ok(Credential::Basic { user, password })
        }
        Ok(DockerCredential::IdentityToken(token)) => Ok(Credential::IdentityToken(token)),
        Err(E::NoCredentialConfigured | E::ConfigNotFound | E::ConfigReadError) => {
            Ok(Credential::Anonymous)
        }
        // A store that simply has nothing for this host.
        Err(E::HelperFailure { stdout, stderr, .. })
            if (stdout.clone() + &stderr)
                .to_lowercase()
                .contains("not found") =>
        {
            Ok(Credential::Anonymous)
        }
        Err(E::HelperFailure { helper, .. }) => Err(Error::Registry {
            registry: registry.to_string(),
            message: format!("the credential helper `docker-credential-{helper}` failed"),
            help: Some(format!(
                "check that docker-credential-{helper} is installed and works (`docker login {registry}`)"
            )),
        }),
        Err(other) => Err(Error::Registry {
            registry: registry.to_string(),
            message: format!("cannot read its credentials from the Docker config: {other}"),
            help: Some("fix ~/.docker/config.json (or $DOCKER_CONFIG/config.json)".into()),
        }),
    }
}
