//! Registry credentials from the user's Docker configuration (`~/.docker/config.json`, or
//! `$DOCKER_CONFIG/config.json`): `auths`, `credsStore` and `credHelpers`, the latter two
//! through the `docker-credential-*` helper programs (the `docker_credential` crate).
//!
//! Credentials stay in memory; nothing here prints or writes them. [`configured`] says what
//! the config sets up by registry and helper names only, for `stackplan doctor`.

use std::path::{Path, PathBuf};

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

/// The Docker config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`;
/// `None` with neither variable set.
pub fn config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json")),
    }
}

/// What a Docker config sets up, by name only: never a secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Configured {
    /// The registries with a login in `auths`.
    pub logins: Vec<String>,
    /// `credsStore`: the helper every registry without its own goes through.
    pub store: Option<String>,
    /// `credHelpers`: a registry and the helper its credentials come from.
    pub helpers: Vec<(String, String)>,
}

/// The program a credential helper named in the config is (`docker-credential-<name>`).
pub fn helper_program(name: &str) -> String {
    format!("docker-credential-{name}")
}

/// What the Docker config at `path` sets up; `None` when there is no such file (registries
/// are then used anonymously).
pub fn configured(path: &Path) -> Result<Option<Configured>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::io_with_help(
                "cannot read",
                path,
                e,
                "fix the file's permissions, or point DOCKER_CONFIG at a readable folder",
            ));
        }
    };
    let config: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::Environment {
            message: format!("{} is not valid JSON: {e}", path.display()),
            help: Some("repair the file (or move it away and docker login again)".into()),
        })?;
    let logins = config["auths"]
        .as_object()
        .map(|auths| auths.keys().cloned().collect())
        .unwrap_or_default();
    let store = config["credsStore"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let helpers = config["credHelpers"]
        .as_object()
        .map(|helpers| {
            helpers
                .iter()
                .filter_map(|(registry, helper)| Some((registry.clone(), helper.as_str()?.into())))
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(Configured {
        logins,
        store,
        helpers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_is_read_by_names_only_and_its_faults_say_how_to_fix_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.json");
        assert_eq!(configured(&path).unwrap(), None);
        std::fs::write(
            &path,
            r#"{"auths": {"ghcr.io": {"auth": "c2VjcmV0"}, "localhost:5001": {}},
                "credsStore": "desktop",
                "credHelpers": {"gcr.io": "gcloud", "odd": 3}}"#,
        )
        .unwrap();
        assert_eq!(
            configured(&path).unwrap(),
            Some(Configured {
                logins: vec!["ghcr.io".into(), "localhost:5001".into()],
                store: Some("desktop".into()),
                helpers: vec![("gcr.io".into(), "gcloud".into())],
            })
        );
        std::fs::write(&path, "{").unwrap();
        let error = configured(&path).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("{} is not valid JSON: ", path.display())),
            "{error}"
        );
        assert!(error.help().is_some_and(|h| h.contains("repair the file")));
    }
}
