//! The GitHub Action (action.yml): its metadata checked for consistency, and its shell
//! steps run here as the runner would run them — against a release-shaped folder made from
//! the freshly built binary (scripts/package-release.sh) and served over loopback HTTP —
//! so the install path, the checksum check, the source fallback and the planning step are
//! proven without GitHub.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::support::Repo;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn action() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("action.yml is not valid YAML: {e}"))
}

fn steps(action: &serde_json::Value) -> &Vec<serde_json::Value> {
    action["runs"]["steps"].as_array().unwrap()
}

/// Every `${{ ... }}` expression of a text.
fn expressions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let end = rest[start..].find("}}").expect("closed expression") + start;
        out.push(rest[start + 3..end].trim().to_string());
        rest = &rest[end + 2..];
    }
    out
}

fn idents_after<'a>(expr: &'a str, prefix: &str) -> Vec<&'a str> {
    expr.match_indices(prefix)
        .map(|(i, _)| {
            let rest = &expr[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn action_metadata_is_consistent() {
    let a = action();
    assert_eq!(a["runs"]["using"], "composite");
    assert!(a["description"].as_str().is_some_and(|d| !d.is_empty()));
    let inputs = a["inputs"].as_object().unwrap();
    for (name, input) in inputs {
        assert!(
            input["description"].as_str().is_some(),
            "input {name} has no description"
        );
    }
    for needed in ["version", "plan", "reuse", "bake", "matrix", "args"] {
        assert!(inputs.contains_key(needed), "no input {needed}");
    }
    let mut ids: Vec<&str> = Vec::new();
    for step in steps(&a) {
        let text = serde_json::to_string(step).unwrap();
        for expr in expressions(&text) {
            for input in idents_after(&expr, "inputs.") {
                assert!(
                    inputs.contains_key(input),
                    "unknown input {input} in {expr}"
                );
            }
            for id in idents_after(&expr, "steps.") {
                assert!(
                    ids.contains(&id),
                    "step {id} is used before it runs: {expr}"
                );
            }
        }
        if let Some(run) = step["run"].as_str() {
            assert_eq!(step["shell"], "bash", "a run step needs shell: bash: {run}");
            // The logic lives in scripts the tests run; the step only calls one.
            let script = run
                .split('"')
                .nth(1)
                .and_then(|s| s.strip_prefix("$ACTION_PATH/"))
                .unwrap_or_else(|| panic!("step runs no $ACTION_PATH script: {run}"));
            let path = root().join(script);
            let mode = std::fs::metadata(&path)
                .unwrap_or_else(|e| panic!("{script}: {e}"))
                .permissions();
            use std::os::unix::fs::PermissionsExt;
            assert!(mode.mode() & 0o111 != 0, "{script} is not executable");
            assert_eq!(step["env"]["ACTION_PATH"], "${{ github.action_path }}");
        }
        if let Some(id) = step["id"].as_str() {
            ids.push(id);
        }
    }
    for (name, output) in a["outputs"].as_object().unwrap() {
        let value = output["value"].as_str().unwrap();
        for expr in expressions(value) {
            for id in idents_after(&expr, "steps.") {
                assert!(ids.contains(&id), "output {name} reads unknown step {id}");
            }
        }
    }
    let cache = steps(&a)
        .iter()
        .find(|s| s["uses"] == "actions/cache@v4")
        .expect("the binary is cached");
    assert_eq!(
        cache["with"]["key"],
        "${{ steps.resolve.outputs.cache-key }}"
    );
    for script in ["action/install.sh", "action/run.sh"] {
        let out = Command::new("bash")
            .arg("-n")
            .arg(root().join(script))
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {:?}", out);
    }
}

/// A loopback HTTP server for the files under a folder (GET and HEAD; 404 otherwise).
struct FileServer {
    url: String,
}

impl FileServer {
    fn start(dir: PathBuf) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let mut parts = request.split_whitespace();
                let method = parts.next().unwrap_or("");
                let path = parts.next().unwrap_or("/").trim_start_matches('/');
                let file = dir.join(path);
                let body = (!path.contains("..")).then(|| std::fs::read(&file).ok());
                let _ = match body.flatten() {
                    Some(body) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        if method == "GET" {
                            stream.write_all(&body)
                        } else {
                            Ok(())
                        }
                    }
                    None => write!(
                        stream,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    ),
                };
            }
        });
        FileServer { url }
    }
}

/// The runner's names for this machine.
fn runner_os_arch() -> (&'static str, &'static str, &'static str) {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => ("Linux", "X64", "x86_64-unknown-linux-gnu"),
        ("linux", "aarch64") => ("Linux", "ARM64", "aarch64-unknown-linux-gnu"),
        ("macos", "x86_64") => ("macOS", "X64", "x86_64-apple-darwin"),
        ("macos", "aarch64") => ("macOS", "ARM64", "aarch64-apple-darwin"),
        other => panic!("no release target for {other:?}"),
    }
}

/// A runner in miniature: the files the runner gives steps, and the outputs of each step.
struct Runner {
    tmp: tempfile::TempDir,
    inputs: BTreeMap<String, String>,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    path_prefix: Option<PathBuf>,
    workdir: PathBuf,
}

struct StepRun {
    success: bool,
    stderr: String,
}

impl Runner {
    fn new(inputs: &[(&str, &str)]) -> Runner {
        let tmp = tempfile::tempdir().unwrap();
        for dir in ["tool-cache", "temp"] {
            std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
        }
        let a = action();
        let mut all: BTreeMap<String, String> = a["inputs"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v["default"].as_str().unwrap_or("").to_string()))
            .collect();
        for (k, v) in inputs {
            all.insert(k.to_string(), v.to_string());
        }
        let workdir = tmp.path().to_path_buf();
        Runner {
            tmp,
            inputs: all,
            outputs: BTreeMap::new(),
            path_prefix: None,
            workdir,
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// The value of one of the expressions action.yml uses.
    fn eval(&self, expr: &str) -> String {
        if let Some(input) = expr.strip_prefix("inputs.") {
            return self.inputs[input].clone();
        }
        if let Some(rest) = expr.strip_prefix("steps.") {
            let (id, key) = rest.split_once(".outputs.").unwrap();
            return self
                .outputs
                .get(id)
                .and_then(|o| o.get(key))
                .cloned()
                .unwrap_or_default();
        }
        match expr {
            "github.action_path" => root().display().to_string(),
            // Empty in composite actions on real runners too.
            "github.action_repository" | "github.action_ref" => String::new(),
            other => panic!("the test runner does not know {other}"),
        }
    }

    fn substitute(&self, text: &str) -> String {
        let mut out = text.to_string();
        for expr in expressions(text) {
            out = out.replacen(&format!("${{{{ {expr} }}}}"), &self.eval(&expr), 1);
        }
        out
    }

    /// Runs the step `id` of action.yml as the runner would: its env with expressions
    /// evaluated, the runner's variables, a fresh GITHUB_OUTPUT read back into outputs.
    fn step(&mut self, id: &str, extra_env: &[(&str, &str)]) -> StepRun {
        let a = action();
        let step = steps(&a)
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no step {id}"))
            .clone();
        let run = step["run"].as_str().unwrap();
        let (os, arch, _) = runner_os_arch();
        let output = self.file(&format!("output-{id}"));
        std::fs::write(&output, "").unwrap();
        let mut cmd = Command::new("bash");
        cmd.args(["-e", "-c", run])
            .current_dir(match step["working-directory"].as_str() {
                Some(_) => self.workdir.clone(),
                None => self.tmp.path().to_path_buf(),
            })
            .env("RUNNER_OS", os)
            .env("RUNNER_ARCH", arch)
            .env("RUNNER_TOOL_CACHE", self.file("tool-cache"))
            .env("RUNNER_TEMP", self.file("temp"))
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_PATH", self.file("github_path"))
            .env("GITHUB_STEP_SUMMARY", self.file("summary.md"))
            .env("GITHUB_SERVER_URL", "http://127.0.0.1:9") // never used: release-url is given
            .env("GITHUB_REPOSITORY", "example/stack")
            .env("GITHUB_RUN_ID", "42")
            .env("NO_COLOR", "1");
        if let Some(prefix) = &self.path_prefix {
            cmd.env(
                "PATH",
                format!(
                    "{}:{}",
                    prefix.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            );
        }
        for (k, v) in step["env"].as_object().into_iter().flatten() {
            cmd.env(k, self.substitute(v.as_str().unwrap()));
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let text = std::fs::read_to_string(&output).unwrap();
        let mut outputs = BTreeMap::new();
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                outputs.insert(k.to_string(), v.to_string());
            }
        }
        self.outputs.insert(id.to_string(), outputs);
        StepRun {
            success: out.status.success(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    }

    fn out(&self, id: &str, key: &str) -> String {
        self.outputs[id].get(key).cloned().unwrap_or_default()
    }
}

/// A release folder (`<server>/v<version>/<archive>` and its `.sha256`) made from the
/// freshly built binary by the release workflow's own packaging script.
fn release_dir(version: &str) -> (tempfile::TempDir, PathBuf) {
    let (_, _, target) = runner_os_arch();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("v{version}"));
    let status = Command::new(root().join("scripts/package-release.sh"))
        .args([env!("CARGO_BIN_EXE_stackplan"), target, version])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "scripts/package-release.sh failed");
    let archive = out.join(format!("stackplan-{target}-v{version}.tar.gz"));
    assert!(archive.is_file());
    (dir, archive)
}

fn built_version() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_stackplan"))
        .arg("--version")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn action_installs_the_release_archive_after_checking_its_sha256() {
    let version = env!("CARGO_PKG_VERSION");
    let (release, archive) = release_dir(version);
    let server = FileServer::start(release.path().to_path_buf());
    let mut runner = Runner::new(&[("release-url", &server.url)]);

    let started = Instant::now();
    let resolve = runner.step("resolve", &[]);
    assert!(resolve.success, "{}", resolve.stderr);
    assert_eq!(runner.out("resolve", "version"), version);
    assert_eq!(runner.out("resolve", "mode"), "release");
    let (_, _, target) = runner_os_arch();
    assert_eq!(
        runner.out("resolve", "cache-key"),
        format!("stackplan-{version}-{target}-release")
    );
    // actions/cache missed: the install step runs.
    let install = runner.step("install", &[]);
    assert!(install.success, "{}", install.stderr);
    assert!(install.stderr.contains("verified"), "{}", install.stderr);
    assert_eq!(runner.out("install", "from"), "release");
    let activate = runner.step("activate", &[]);
    assert!(activate.success, "{}", activate.stderr);
    let elapsed = started.elapsed();
    let size = std::fs::metadata(&archive).unwrap().len();
    eprintln!(
        "note: the action's install path (resolve, download {:.1} MiB, verify, unpack, activate) took {:.2} s",
        size as f64 / 1048576.0,
        elapsed.as_secs_f64()
    );

    let dir = PathBuf::from(runner.out("resolve", "dir"));
    let binary = dir.join("bin/stackplan");
    assert_eq!(runner.out("activate", "path"), binary.display().to_string());
    let installed = Command::new(&binary).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&installed.stdout).trim(),
        built_version()
    );
    assert!(dir.join("completions/stackplan.bash").is_file());
    assert!(dir.join("man/stackplan.1").is_file());
    assert!(dir.join("LICENSE").is_file());
    let github_path = std::fs::read_to_string(runner.file("github_path")).unwrap();
    assert_eq!(github_path.trim(), dir.join("bin").display().to_string());

    // A release whose checksum does not match its archive installs nothing.
    let sha = archive.with_extension("gz.sha256");
    let name = archive.file_name().unwrap().to_str().unwrap();
    std::fs::write(&sha, format!("{}  {name}\n", "0".repeat(64))).unwrap();
    let mut runner = Runner::new(&[("release-url", &server.url)]);
    assert!(runner.step("resolve", &[]).success);
    let install = runner.step("install", &[]);
    assert!(!install.success, "a checksum mismatch must fail the step");
    assert!(
        install.stderr.contains("checksum mismatch")
            && install.stderr.contains("nothing was installed"),
        "{}",
        install.stderr
    );
    let dir = PathBuf::from(runner.out("resolve", "dir"));
    assert!(!dir.join("bin/stackplan").exists());
    assert!(!runner.step("activate", &[]).success);
}

#[test]
fn action_builds_its_own_source_when_no_release_asset_fits() {
    let release = tempfile::tempdir().unwrap();
    let server = FileServer::start(release.path().to_path_buf());
    let mut runner = Runner::new(&[("release-url", &server.url), ("version", "9.9.9")]);
    let resolve = runner.step("resolve", &[]);
    assert!(resolve.success, "{}", resolve.stderr);
    assert!(resolve.stderr.contains("HTTP 404"), "{}", resolve.stderr);
    assert_eq!(runner.out("resolve", "mode"), "cargo");
    assert!(
        runner.out("resolve", "cache-key").contains("-source-"),
        "{}",
        runner.out("resolve", "cache-key")
    );

    // A cargo that records how it was called and installs the built binary.
    let bin = runner.file("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = runner.file("cargo.log");
    std::fs::write(
        bin.join("cargo"),
        format!(
            "#!/bin/sh\necho \"$@\" > '{}'\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\nmkdir -p \"$root/bin\" && cp '{}' \"$root/bin/stackplan\"\n",
            log.display(),
            env!("CARGO_BIN_EXE_stackplan")
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("cargo"), std::fs::Permissions::from_mode(0o755)).unwrap();
    runner.path_prefix = Some(bin);
    let install = runner.step("install", &[]);
    assert!(install.success, "{}", install.stderr);
    assert_eq!(runner.out("install", "from"), "cargo");
    let args = std::fs::read_to_string(&log).unwrap();
    let dir = runner.out("resolve", "dir");
    assert_eq!(
        args.trim(),
        format!(
            "install --locked --path {} --root {dir} --force",
            root().display()
        )
    );
    assert!(runner.step("activate", &[]).success);
}

#[test]
fn action_plans_reuses_bakes_and_writes_the_matrix_as_outputs() {
    let repo = Repo::example();
    repo.branch("feature");
    repo.append("images/scipy-notebook/Dockerfile", "RUN true\n")
        .commit("change a leaf");
    let mut runner = Runner::new(&[
        ("plan", "true"),
        ("bake", "true"),
        ("matrix", "true"),
        ("args", "--offline --default-branch main"),
        ("bake-args", "--push"),
        ("bake-file", "out/bake.json"),
    ]);
    runner.workdir = repo.path().to_path_buf();
    runner.path_prefix = Some(
        Path::new(env!("CARGO_BIN_EXE_stackplan"))
            .parent()
            .unwrap()
            .to_path_buf(),
    );
    let run = runner.step("run", &[]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(runner.out("run", "plan-file"), "plan.json");
    assert_eq!(runner.out("run", "bake-file"), "out/bake.json");
    assert_eq!(runner.out("run", "has_targets"), "true");
    assert_eq!(runner.out("run", "has_builds"), "true");
    let matrix: serde_json::Value = serde_json::from_str(&runner.out("run", "matrix")).unwrap();
    let targets: Vec<&str> = matrix["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert!(
        targets.iter().all(|t| t.starts_with("scipy-notebook")),
        "{targets:?}"
    );
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(plan["summary"]["rebuild"], 2);
    let bake: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path().join("out/bake.json")).unwrap())
            .unwrap();
    let output = &bake["target"]["scipy-notebook-py311"]["output"];
    assert_eq!(output, &serde_json::json!(["type=registry"]), "{bake}");
    let summary = std::fs::read_to_string(runner.file("summary.md")).unwrap();
    assert!(summary.contains("| "), "the markdown plan: {summary}");

    // Nothing asked: the step does not run (its `if:`), and run.sh alone does nothing.
    let a = action();
    let step = steps(&a).iter().find(|s| s["id"] == "run").unwrap();
    assert!(
        step["if"]
            .as_str()
            .unwrap()
            .contains("inputs.matrix == 'true'")
    );
}
