//! How a registry wants to be authenticated, and the bearer tokens of a run.
//!
//! A registry says how it authenticates in the `WWW-Authenticate` header of its `/v2/`
//! answer: nothing, `Basic`, or `Bearer realm=…,service=…` (ghcr.io, Docker Hub, quay.io,
//! distribution's `auth: token`). For bearer registries a token is asked from the realm
//! per repository scope (`repository:NAME:pull` or `repository:NAME:pull,push`), once:
//! [`Tokens`] keeps each one until it expires and makes concurrent requests for one scope
//! wait for the same answer, so probing a stack asks one token per repository, not one per
//! ref. The token request follows the distribution token spec: a GET with the user's
//! password as Basic auth, or, with an identity token (what `docker login` stores for
//! registries that issue refresh tokens), the OAuth2 `refresh_token` grant, as containerd
//! does.
//!
//! Tokens and credentials never leave this module but in `Authorization` headers: they
//! are not printed, logged, or put in errors (a token endpoint's error body is not quoted
//! either, it might echo them).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a registry's `/v2/` said about authentication.
#[derive(Debug, Clone, PartialEq)]
pub enum Scheme {
    /// No authentication asked.
    None,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value (one challenge; the first if several).
pub fn parse_challenge(header: &str) -> Option<Scheme> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Scheme::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    let realm = params.get("realm")?.clone();
    Some(Scheme::Bearer {
        realm,
        service: params.get("service").cloned(),
    })
}

/// `key="value", key=value` pairs, quoted values may hold commas and escaped quotes.
fn parse_params(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim().to_string();
        }
        out.insert(key, value);
    }
}

/// The scope of a repository for the operations a request needs.
pub fn scope(repository: &str, push: bool) -> String {
    format!(
        "repository:{repository}:{}",
        if push { "pull,push" } else { "pull" }
    )
}

/// A token and when to stop using it.
#[derive(Clone)]
pub struct Token {
    pub value: String,
    expires: Instant,
}

impl Token {
    fn fresh(&self) -> bool {
        Instant::now() < self.expires
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A token endpoint's answer (distribution's token spec; `access_token` is the OAuth2 name).
#[derive(serde::Deserialize)]
struct TokenAnswer {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// What the spec says to assume when `expires_in` is missing.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// A token is renewed this long before it expires, so a request does not carry a token
/// that expires on the way.
const MARGIN: Duration = Duration::from_secs(5);

/// Reads a token endpoint's JSON answer.
pub fn parse_token_answer(body: &[u8], received: Instant) -> Option<Token> {
    let answer: TokenAnswer = serde_json::from_slice(body).ok()?;
    let value = answer.token.or(answer.access_token)?;
    if value.is_empty() {
        return None;
    }
    let lifetime = answer
        .expires_in
        .filter(|s| *s > 0)
        .map_or(DEFAULT_LIFETIME, Duration::from_secs);
    Some(Token {
        value,
        expires: received + lifetime.saturating_sub(MARGIN).max(Duration::from_secs(1)),
    })
}

/// The key of a token: registry host and scope.
type Key = (String, String);

/// The tokens of a run, one per registry and scope.
#[derive(Default)]
pub struct Tokens {
    slots: Mutex<BTreeMap<Key, Arc<tokio::sync::Mutex<Option<Token>>>>>,
    requested: std::sync::atomic::AtomicU32,
}

impl Tokens {
    fn slot(&self, host: &str, scope: &str) -> Arc<tokio::sync::Mutex<Option<Token>>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .entry((host.to_string(), scope.to_string()))
            .or_default()
            .clone()
    }

    /// A fresh token for `scope` on `host`: the cached one, or the one `fetch` gets, once,
    /// however many requests ask at the same time. A pull scope is also served by a fresh
    /// push token of the same repository. `stale` is a token the registry refused: it is
    /// not returned again.
    pub async fn get<F, Fut, E>(
        &self,
        host: &str,
        scope: &str,
        stale: Option<&str>,
        fetch: F,
    ) -> Result<Token, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Token, E>>,
    {
        if let Some(repository) = scope
            .strip_prefix("repository:")
            .and_then(|s| s.strip_suffix(":pull"))
        {
            let push = self.slot(host, &self::scope(repository, true));
            if let Ok(guard) = push.try_lock()
                && let Some(token) = guard.as_ref()
                && token.fresh()
                && Some(token.value.as_str()) != stale
            {
                return Ok(token.clone());
            }
        }
        let slot = self.slot(host, scope);
        let mut guard = slot.lock().await;
        if let Some(token) = guard.as_ref()
            && token.fresh()
            && Some(token.value.as_str()) != stale
        {
            return Ok(token.clone());
        }
        self.requested
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = fetch().await?;
        *guard = Some(token.clone());
        Ok(token)
    }

    /// How many tokens were requested from token endpoints in this run.
    pub fn requested(&self) -> u32 {
        self.requested.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#
            ),
            Some(Scheme::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into())
            })
        );
        assert_eq!(
            parse_challenge(r#"bearer realm=http://127.0.0.1:5003/token"#),
            Some(Scheme::Bearer {
                realm: "http://127.0.0.1:5003/token".into(),
                service: None
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="stackplan-test""#),
            Some(Scheme::Basic)
        );
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge(""), None);
    }

    #[test]
    fn token_answers() {
        let now = Instant::now();
        let t = parse_token_answer(br#"{"token":"abc","expires_in":300}"#, now).unwrap();
        assert_eq!(t.value, "abc");
        assert_eq!(t.expires, now + Duration::from_secs(295));
        let t = parse_token_answer(br#"{"access_token":"xyz"}"#, now).unwrap();
        assert_eq!(t.value, "xyz");
        assert_eq!(t.expires, now + Duration::from_secs(55));
        assert!(parse_token_answer(br#"{"token":""}"#, now).is_none());
        assert!(parse_token_answer(b"not json", now).is_none());
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    fn token(value: &str, lifetime: Duration) -> Token {
        Token {
            value: value.into(),
            expires: Instant::now() + lifetime,
        }
    }

    #[tokio::test]
    async fn one_request_per_scope_however_many_ask() {
        let tokens = Tokens::default();
        let asks = (0..10).map(|_| {
            tokens.get("r", "repository:a:pull", None, || async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok::<_, ()>(token("t1", Duration::from_secs(60)))
            })
        });
        for t in futures::future::join_all(asks).await {
            assert_eq!(t.unwrap().value, "t1");
        }
        assert_eq!(tokens.requested(), 1);
        // A refused token is replaced once.
        let t = tokens
            .get("r", "repository:a:pull", Some("t1"), || async {
                Ok::<_, ()>(token("t2", Duration::from_secs(60)))
            })
            .await
            .unwrap();
        assert_eq!(t.value, "t2");
        assert_eq!(tokens.requested(), 2);
        // Another scope, another token; a push token serves pulls.
        tokens
            .get("r", "repository:b:pull,push", None, || async {
                Ok::<_, ()>(token("p", Duration::from_secs(60)))
            })
            .await
            .unwrap();
        let t = tokens
            .get("r", "repository:b:pull", None, || async {
                Err::<Token, ()>(())
            })
            .await
            .unwrap();
        assert_eq!(t.value, "p");
        assert_eq!(tokens.requested(), 3);
    }

    #[tokio::test]
    async fn an_expired_token_is_asked_again() {
        let tokens = Tokens::default();
        tokens
            .get("r", "s", None, || async {
                Ok::<_, ()>(token("old", Duration::ZERO))
            })
            .await
            .unwrap();
        let t = tokens
            .get("r", "s", None, || async {
                Ok::<_, ()>(token("new", Duration::from_secs(60)))
            })
            .await
            .unwrap();
        assert_eq!(t.value, "new");
    }
}
