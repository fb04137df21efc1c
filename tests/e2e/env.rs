//! The environment the tests run against, and helpers to drive it.

use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use crate::support::{Repo, stackplan_command, succeeded};
// The shared checks and stacks the e2e tests name through this module.
pub use crate::support::{ok, small_stack, text};

/// The e2e tests share one BuildKit and prune its cache: they run one at a time, in this
/// process ([`SERIAL`]) and across processes on this machine ([`machine_lock`]: the engine
/// and the registries are the machine's, and a second suite's prune mid-build would change
/// what another test's BuildKit verdicts mean).
static SERIAL: Mutex<()> = Mutex::new(());

/// Held while a test runs: an exclusive lock on a file every suite of this machine opens.
fn machine_lock() -> std::fs::File {
    let path = std::env::temp_dir().join("stackplan-e2e.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            eprintln!(
                "note: another end-to-end run holds {}: waiting for it",
                path.display()
            );
            file.lock()
                .unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
        }
        Err(std::fs::TryLockError::Error(e)) => panic!("cannot lock {}: {e}", path.display()),
    }
    file
}

pub struct Env {
    pub registry: String,
    pub auth_registry: String,
    pub user: String,
    pub password: String,
    pub base_image: String,
    _serial: MutexGuard<'static, ()>,
    _machine: std::fs::File,
}

/// An environment variable of scripts/env-up.sh's env.sh, or its default.
pub fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// The folder of the test CA scripts/env-up.sh made (`ca.crt`, client and server keys).
pub fn pki() -> std::path::PathBuf {
    let dir = var("STACKPLAN_ENV_DIR", ".stackplan-env");
    std::path::PathBuf::from(var("STACKPLAN_PKI", &format!("{dir}/pki")))
}

impl Env {
    /// The environment, or `None` when the user said `STACKPLAN_E2E=skip`. Panics with the
    /// way to start it otherwise.
    pub fn require() -> Option<Env> {
        if std::env::var("STACKPLAN_E2E").as_deref() == Ok("skip") {
            eprintln!("note: STACKPLAN_E2E=skip: end-to-end test skipped");
            return None;
        }
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let machine = machine_lock();
        let info = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output();
        let engine_ok = matches!(&info, Ok(o) if o.status.success());
        let buildx_ok = Command::new("docker")
            .args(["buildx", "version"])
            .output()
            .is_ok_and(|o| o.status.success());
        let env = Env {
            registry: var("STACKPLAN_REGISTRY", "localhost:5000"),
            auth_registry: var("STACKPLAN_AUTH_REGISTRY", "localhost:5001"),
            user: var("STACKPLAN_AUTH_USER", "stackplan"),
            password: var("STACKPLAN_AUTH_PASSWORD", "stackplan-test"),
            base_image: var(
                "STACKPLAN_BASE_IMAGE",
                "localhost:5000/library/busybox:1.36",
            ),
            _serial: serial,
            _machine: machine,
        };
        let registry_ok = curl_status(&format!("http://{}/v2/", env.registry)) == 200;
        if !(engine_ok && buildx_ok && registry_ok) {
            panic!(
                "the end-to-end environment is not up (engine: {engine_ok}, buildx: {buildx_ok}, registry {}: {registry_ok}).\n\
                 Start it with `scripts/env-up.sh && source .stackplan-env/env.sh`, or set STACKPLAN_E2E=skip to skip these tests.",
                env.registry
            );
        }
        Some(env)
    }

    /// A registry namespace no other run has used.
    pub fn namespace(&self, name: &str) -> String {
        format!("{}/e2e-{name}-{}", self.registry, unique())
    }
}

/// Runs the stackplan binary in `repo` the way a user would: online (the registry is
/// probed), colourless, and with `DOCKER_CONFIG` when given.
pub fn stackplan(repo: &Repo, args: &[&str], docker_config: Option<&Path>) -> std::process::Output {
    let mut cmd = online(repo, args);
    if let Some(dir) = docker_config {
        cmd.env("DOCKER_CONFIG", dir);
    }
    cmd.output().unwrap()
}

/// Runs stackplan with its own HOME, Docker config and system certs.d (an empty one unless
/// the test put a CA in `<home>/etc-docker-certs.d`), so nothing of the machine's is read.
pub fn stackplan_at_home(
    repo: &Repo,
    args: &[&str],
    home: &Path,
    docker_config: Option<&Path>,
) -> std::process::Output {
    online(repo, args)
        .env("HOME", home)
        .env("STACKPLAN_DOCKER_CERTS_D", home.join("etc-docker-certs.d"))
        .env(
            "DOCKER_CONFIG",
            docker_config.map_or_else(|| home.join("no-docker-config"), Path::to_path_buf),
        )
        .output()
        .unwrap()
}

/// `stackplan ARGS` in `repo`, online.
fn online(repo: &Repo, args: &[&str]) -> Command {
    let mut cmd = stackplan_command(repo.path());
    cmd.args(args).env_remove("STACKPLAN_OFFLINE");
    cmd
}

/// The JSON a `curl -sf ARGS` prints, `Null` when it fails.
pub fn curl_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new("curl").arg("-sf").args(args).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// The token requests the token server logged for scopes containing `text`.
pub fn token_requests(text: &str) -> Vec<serde_json::Value> {
    let server = var("STACKPLAN_TOKEN_SERVER", "http://127.0.0.1:5003");
    curl_json(&[&format!("{server}/_stackplan/log?match={text}")])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The fault front of scripts/fault-proxy.py (`host:port`).
pub fn fault_front() -> String {
    var("STACKPLAN_FAULT_REGISTRY", "localhost:5004")
}

/// Arms the fault front for requests whose path contains `text`: they cycle through
/// `pattern` (`ok` forwards), `limit` faults in all; an empty pattern disarms.
pub fn arm_faults(text: &str, pattern: &str, limit: u32, retry_after: u32) {
    arm_faults_on("", text, pattern, limit, retry_after);
}

/// [`arm_faults`] for the requests of one method only (`PUT`: the writes), any when empty.
pub fn arm_faults_on(method: &str, text: &str, pattern: &str, limit: u32, retry_after: u32) {
    let out = Command::new("curl")
        .args(["-sf", "-X", "POST"])
        .arg(format!(
            "http://{}/_stackplan/faults?match={text}&method={method}&pattern={pattern}&limit={limit}&retry_after={retry_after}&slow_seconds=2",
            fault_front()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "the fault front did not answer");
}

/// What the fault front served for `text`: (fault, seconds since the first request).
pub fn faults_served(text: &str) -> Vec<(String, f64)> {
    let log = curl_json(&[&format!(
        "http://{}/_stackplan/log?match={text}",
        fault_front()
    )]);
    let lines = log.as_array().cloned().unwrap_or_default();
    let t0 = lines
        .first()
        .and_then(|l| l["time"].as_f64())
        .unwrap_or_default();
    lines
        .iter()
        .map(|l| {
            (
                l["fault"].as_str().unwrap_or_default().to_string(),
                l["time"].as_f64().unwrap_or_default() - t0,
            )
        })
        .collect()
}

/// The JSON progress events a run printed on stdout (`--progress json`).
pub fn events(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The stdout of `docker ARGS`, which must succeed.
pub fn docker(args: &[&str]) -> String {
    let out = succeeded(
        Command::new("docker").args(args),
        &format!("docker {args:?}"),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `stackplan build --offline --full` of `repo` on the BuildKit at `addr`, its images under
/// `ns`, with one `--build-arg` (the base image) and plain progress.
pub fn build_offline(repo: &Repo, addr: &str, ns: &str, build_arg: &str) -> std::process::Output {
    stackplan(
        repo,
        &[
            "build",
            "--addr",
            addr,
            "--offline",
            "--full",
            "--registry",
            ns,
            "--build-arg",
            build_arg,
            "--progress",
            "plain",
        ],
        None,
    )
}

/// The bake file of `stackplan bake --push --full` of `repo`, its images under `ns`, with
/// one `--build-arg` (the base image); a failed run fails the test.
pub fn bake_full(repo: &Repo, ns: &str, build_arg: &str) -> String {
    ok(&stackplan(
        repo,
        &[
            "bake",
            "--push",
            "--full",
            "--registry",
            ns,
            "--build-arg",
            build_arg,
        ],
        None,
    ))
}

/// The engine's BuildKit socket, spoken as a plain buildkitd (`scripts/env-up.sh`).
pub fn buildkit_socket() -> String {
    std::env::var("STACKPLAN_BUILDKIT_ADDR")
        .expect("scripts/env-up.sh exports STACKPLAN_BUILDKIT_ADDR")
}

/// A value unique to this moment, to keep runs and tests apart.
pub fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", std::process::id(), nanos % 0xffff_ffff)
}

/// HTTP status of a GET (curl), 0 when nothing answered.
pub fn curl_status(url: &str) -> u16 {
    curl_status_with(url, &[])
}

/// HTTP status of a GET (curl) with `extra` arguments (headers, a user), 0 when nothing
/// answered.
pub fn curl_status_with(url: &str, extra: &[&str]) -> u16 {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
        ])
        .args(extra)
        .arg(url)
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Every manifest media type a tag may point at.
/// The example stack's targets: (target, image key, tag prefix).
pub const EXAMPLE_TARGETS: &[(&str, &str, &str)] = &[
    ("base-notebook-py311", "base-notebook", "2026.3"),
    ("base-notebook-py39", "base-notebook", "2026.3-py39"),
    ("rstudio-notebook-py311", "rstudio-notebook", "2026.3"),
    ("scipy-notebook-py311", "scipy-notebook", "2026.3"),
    ("scipy-notebook-py39", "scipy-notebook", "2026.3-py39"),
];

pub const ACCEPT: &str = "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// How curl reads repository `name` of registry `host`: the base URL and extra arguments.
/// The TLS registry over https with the test CA, the token registry with a pull token of
/// the token server, the fault front's repositories straight from the registry behind it
/// (a test's reads are neither spoiled nor logged), any other over http.
fn curl_access(host: &str, name: &str) -> (String, Vec<String>) {
    if host == var("STACKPLAN_TLS_REGISTRY", "localhost:5443") {
        let ca = pki().join("ca.crt").to_string_lossy().to_string();
        return (format!("https://{host}"), vec!["--cacert".into(), ca]);
    }
    if host == fault_front() {
        return (
            format!("http://{}", var("STACKPLAN_REGISTRY", "localhost:5000")),
            vec![],
        );
    }
    if host == var("STACKPLAN_TOKEN_REGISTRY", "localhost:5002") {
        let server = var("STACKPLAN_TOKEN_SERVER", "http://127.0.0.1:5003");
        let user = format!(
            "{}:{}",
            var("STACKPLAN_AUTH_USER", "stackplan"),
            var("STACKPLAN_AUTH_PASSWORD", "stackplan-test")
        );
        let answer = curl_json(&[
            "-u",
            &user,
            &format!("{server}/token?service=stackplan-registry&scope=repository:{name}:pull"),
        ]);
        let token = answer["token"].as_str().unwrap_or_else(|| {
            panic!("the token server at {server} gave no token for {name}: {answer}")
        });
        return (
            format!("http://{host}"),
            vec!["-H".into(), format!("Authorization: Bearer {token}")],
        );
    }
    (format!("http://{host}"), vec![])
}

fn split(reference: &str) -> (&str, &str, &str) {
    let (host, rest) = reference.split_once('/').unwrap();
    let (name, tag) = match rest.split_once('@') {
        Some((name, digest)) => (name, digest),
        None => rest.rsplit_once(':').unwrap(),
    };
    (host, name, tag)
}

/// `curl FLAGS` of the manifest `reference` points at, accepting every manifest type.
fn manifest_request(reference: &str, flags: &str) -> std::process::Output {
    let (host, name, tag) = split(reference);
    let (base, access) = curl_access(host, name);
    Command::new("curl")
        .args([flags, "-H", ACCEPT])
        .args(&access)
        .arg(format!("{base}/v2/{name}/manifests/{tag}"))
        .output()
        .unwrap()
}

/// The manifest `reference` (`host/name:tag` or `host/name@digest`) points at, as stored.
pub fn raw_manifest(reference: &str) -> Option<serde_json::Value> {
    let out = manifest_request(reference, "-sf");
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

/// The image manifest of `reference`, through an index to its linux/amd64 image.
pub fn manifest(reference: &str) -> Option<serde_json::Value> {
    let m = raw_manifest(reference)?;
    let Some(entries) = m["manifests"].as_array() else {
        return Some(m);
    };
    let image = entries
        .iter()
        .find(|e| e["platform"]["os"] == "linux" && e["platform"]["architecture"] == "amd64")?;
    let (host, name, _) = split(reference);
    raw_manifest(&format!("{host}/{name}@{}", image["digest"].as_str()?))
}

/// The digest a tag points at (`Docker-Content-Digest`), `None` when it does not exist.
pub fn digest(reference: &str) -> Option<String> {
    let out = manifest_request(reference, "-sfI");
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("docker-content-digest:")
            .map(|d| d.trim().to_string())
    })
}

/// Layer digests of the image manifest of `reference`.
pub fn layers(reference: &str) -> Vec<String> {
    let m = manifest(reference).unwrap_or_else(|| panic!("{reference} is not in the registry"));
    layers_of(&m)
}

/// Layer digests of an image manifest.
pub fn layers_of(manifest: &serde_json::Value) -> Vec<String> {
    manifest["layers"]
        .as_array()
        .unwrap_or_else(|| panic!("not an image manifest: {manifest}"))
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// One vertex of BuildKit's progress, from `--progress rawjson`.
#[derive(Debug, Clone)]
pub struct Vertex {
    pub name: String,
    pub started: Option<String>,
    pub completed: Option<String>,
    pub cached: bool,
    pub error: Option<String>,
}

pub struct BakeRun {
    pub success: bool,
    pub stderr: String,
    pub vertexes: Vec<Vertex>,
    pub metadata: serde_json::Value,
}

impl BakeRun {
    /// The image a `RUN` vertex belongs to, for the generated stack whose steps start with
    /// `RUN echo "<key> ...`. (buildx prefixes vertex names with a target only when it
    /// builds several, and a vertex shared through `target:` contexts carries one name.)
    fn key_of(v: &Vertex) -> Option<&str> {
        let rest = v.name.split_once("RUN echo \"")?.1;
        rest.split([' ', '"']).next()
    }

    /// The `RUN` vertexes of one image of the generated stack.
    pub fn runs_of(&self, key: &str) -> Vec<&Vertex> {
        self.vertexes
            .iter()
            .filter(|v| Self::key_of(v) == Some(key))
            .collect()
    }

    /// Images of the generated stack that ran a `RUN` step without the cache.
    pub fn built_targets(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .vertexes
            .iter()
            .filter(|v| !v.cached && v.completed.is_some())
            .filter_map(|v| Self::key_of(v).map(str::to_string))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Runs `docker buildx bake -f <file>` in the repository, with BuildKit's raw progress and
/// a metadata file. One retry when the local registry answered a manifest request with a
/// 500 "invalid checksum digest format": the Debian registry's filesystem storage writes a
/// tag's link file in place, and the engine (docker driver, containerd store) pushes each
/// tag again after BuildKit, concurrently, so a HEAD can read a half-written link. Real
/// registries store tags atomically; any other failure is returned as it is.
pub fn bake(repo: &Repo, bake_json: &str, docker_config: Option<&Path>) -> BakeRun {
    bake_on(repo, bake_json, docker_config, None)
}

/// [`bake`] on a builder of the machine's buildx (`builder`, e.g. the remote builder a
/// `--push-by-digest` bake needs), `docker_config` or not.
pub fn bake_on(
    repo: &Repo,
    bake_json: &str,
    docker_config: Option<&Path>,
    builder: Option<&str>,
) -> BakeRun {
    once_more_after_a_registry_race(|| bake_once(repo, bake_json, docker_config, builder, None))
}

/// `bake()`, and once more when the local registry raced on a tag write (see [`bake`]).
fn once_more_after_a_registry_race(bake: impl Fn() -> BakeRun) -> BakeRun {
    let run = bake();
    let registry_race =
        run.stderr.contains("500 Internal Server Error") && run.stderr.contains("/manifests/");
    if !run.success && registry_race {
        eprintln!("note: the local registry raced on a tag write (HTTP 500); baking once more");
        return bake();
    }
    run
}

/// [`bake`] as a fresh builder sees the inputs, on the warm cache: under a buildx identity
/// of its own (an empty `BUILDX_CONFIG`, so a new node id and session shared key), so
/// BuildKit receives every file of the contexts, and with `--pull`, so every tag resolves
/// at its registry. Under the machine's identity BuildKit keeps the copy of a context it
/// received before, from any folder, and fsutil sends only files whose size, mtime or mode
/// differ from it (a same-size edit with its mtime restored is never seen); without
/// `--pull` the docker driver builds `FROM` a tag from the engine's image store, not from
/// where the tag points now. The cache stays warm: its keys are content checksums.
pub fn bake_fresh_transfer(repo: &Repo, bake_json: &str) -> BakeRun {
    let identity = tempfile::tempdir().unwrap();
    once_more_after_a_registry_race(|| {
        bake_once(repo, bake_json, None, None, Some(identity.path()))
    })
}

/// The remote buildx builder on the engine's BuildKit (it can push by digest).
pub fn remote_builder() -> String {
    var("STACKPLAN_REMOTE_BUILDER", "stackplan-remote")
}

fn bake_once(
    repo: &Repo,
    bake_json: &str,
    docker_config: Option<&Path>,
    builder: Option<&str>,
    fresh_identity: Option<&Path>,
) -> BakeRun {
    let file = repo.path().join("bake.json");
    let meta = repo.path().join("meta.json");
    std::fs::write(&file, bake_json).unwrap();
    let _ = std::fs::remove_file(&meta);
    let mut cmd = Command::new("docker");
    cmd.current_dir(repo.path()).args(["buildx", "bake"]);
    if let Some(builder) = builder {
        cmd.args(["--builder", builder]);
    }
    cmd.arg("-f")
        .arg(&file)
        .args(["--progress", "rawjson", "--metadata-file"])
        .arg(&meta);
    if let Some(config) = docker_config {
        // buildx keeps its builders in the Docker config folder: a named one is the machine's.
        if builder.is_some() && std::env::var_os("BUILDX_CONFIG").is_none() {
            let machine = std::env::var_os("DOCKER_CONFIG")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| {
                    Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(".docker")
                });
            cmd.env("BUILDX_CONFIG", machine.join("buildx"));
        }
        cmd.env("DOCKER_CONFIG", config);
    }
    if let Some(dir) = fresh_identity {
        cmd.env("BUILDX_CONFIG", dir).arg("--pull");
    }
    let out = cmd.output().expect("docker buildx bake runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let mut vertexes: std::collections::BTreeMap<String, Vertex> = Default::default();
    for status in progress_statuses(&stderr) {
        for v in status["vertexes"].as_array().into_iter().flatten() {
            let digest = v["digest"].as_str().unwrap_or_default().to_string();
            let entry = vertexes.entry(digest).or_insert_with(|| Vertex {
                name: v["name"].as_str().unwrap_or_default().to_string(),
                started: None,
                completed: None,
                cached: false,
                error: None,
            });
            // A vertex shared by several targets is reported again later; its first start
            // and first completion are when it really ran.
            if let (None, Some(s)) = (&entry.started, v["started"].as_str()) {
                entry.started = Some(s.to_string());
            }
            if let (None, Some(c)) = (&entry.completed, v["completed"].as_str()) {
                entry.completed = Some(c.to_string());
            }
            entry.cached |= v["cached"].as_bool().unwrap_or(false);
            if let Some(e) = v["error"].as_str() {
                entry.error = Some(e.to_string());
            }
        }
    }
    let metadata = std::fs::read_to_string(&meta)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null);
    BakeRun {
        success: out.status.success(),
        stderr,
        vertexes: vertexes.into_values().collect(),
        metadata,
    }
}

/// The statuses of `--progress rawjson`: JSON objects one after the other. buildx may log
/// a line of its own among them (`http2: server connection error …` was seen): parsing
/// goes on at the next object, not stops there.
fn progress_statuses(stderr: &str) -> Vec<serde_json::Value> {
    let mut statuses = Vec::new();
    let mut rest = stderr;
    loop {
        let mut de = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
        for status in de.by_ref() {
            match status {
                Ok(status) => statuses.push(status),
                Err(_) => break,
            }
        }
        let parsed = de.byte_offset();
        match rest[parsed..].find("\n{") {
            Some(next) => rest = &rest[parsed + next + 1..],
            None => return statuses,
        }
    }
}

/// A Docker config folder holding credentials for `registry`.
pub fn docker_config(registry: &str, user: &str, password: &str) -> tempfile::TempDir {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let auth = base64(&format!("{user}:{password}"));
    let mut f = std::fs::File::create(dir.path().join("config.json")).unwrap();
    write!(f, r#"{{"auths": {{"{registry}": {{"auth": "{auth}"}}}}}}"#).unwrap();
    dir
}

fn base64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Requests for blobs the registry on 127.0.0.1:5000 has logged so far.
pub fn blob_requests(env: &Env) -> usize {
    let dir = std::env::var("STACKPLAN_ENV_DIR").unwrap_or_else(|_| ".stackplan-env".into());
    let port = env.registry.rsplit(':').next().unwrap();
    let log = std::fs::read_to_string(Path::new(&dir).join(format!("registry-{port}.log")))
        .unwrap_or_default();
    log.lines().filter(|l| l.contains("/blobs/")).count()
}

/// The image config of `reference` (through an index to its linux/amd64 image).
pub fn config(reference: &str) -> serde_json::Value {
    let m = manifest(reference).unwrap_or_else(|| panic!("{reference} is not in the registry"));
    let (host, name, _) = split(reference);
    let digest = m["config"]["digest"].as_str().unwrap();
    let (base, access) = curl_access(host, name);
    let out = Command::new("curl")
        .arg("-sfL")
        .args(&access)
        .arg(format!("{base}/v2/{name}/blobs/{digest}"))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// `promote --registry NS --from FROM --to TO`, then `extra`.
pub fn promote_args<'a>(
    ns: &'a str,
    from: &'a str,
    to: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["promote", "--registry", ns, "--from", from, "--to", to];
    args.extend_from_slice(extra);
    args
}

#[test]
fn progress_goes_on_past_a_line_buildx_logs_among_the_statuses() {
    let stderr = "{\n  \"vertexes\": [{\"name\": \"a\"}]\n}\n2026/11/26 00:03:56 http2: server connection error from localhost: connection error: PROTOCOL_ERROR\n{\n  \"vertexes\": [{\"name\": \"b\"}]\n}\n{\"vertexes\": [{\"name\": \"c\"}]}\n";
    let names: Vec<String> = progress_statuses(stderr)
        .iter()
        .flat_map(|s| s["vertexes"].as_array().cloned().unwrap_or_default())
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert!(progress_statuses("").is_empty());
    assert!(progress_statuses("not json at all\n").is_empty());
}
