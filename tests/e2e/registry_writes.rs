//! Every command that writes to a registry, against the registries as users meet them
//! (scripts/env-up.sh): the bearer-token registry, the TLS registry trusted through docker's
//! certs.d, and the fault front. On a stack of four tiny images: `bake --push-by-digest`,
//! `docker buildx bake` and `publish` on `main`; `reuse` on a branch that changes nothing;
//! `build --push` (credentials through the session's Auth service) on a branch that
//! changes a leaf; `reuse`, `bake --push` and `docker buildx bake --push` on a branch that
//! changes another. Under faults a write that fails midway says `--resume`, moves no tag
//! halfway, and the resumed run finishes.

use std::process::Output;

use tempfile::TempDir;

use crate::env::{
    BakeRun, Env, arm_faults, arm_faults_on, bake_on, digest, docker_config, fault_front,
    faults_served, ok, pki, remote_builder, small_stack, stackplan_at_home, text, unique, var,
};
use crate::support::Repo;

/// The images of [`small_stack`], which are its targets too.
const IMAGES: &[&str] = &["a", "a1", "b", "root"];

/// The small stack in a namespace of its own on one registry, with a HOME and a Docker
/// config of its own: credentials for the registry, the test CA in `~/.docker/certs.d`.
struct Stack {
    _env: Env,
    repo: Repo,
    base: String,
    /// `host/path`, given to `--registry`.
    ns: String,
    /// The path of the namespace, to arm the fault front with.
    path: String,
    home: TempDir,
    docker: TempDir,
}

impl Stack {
    fn new(env: Env, registry: &str, name: &str) -> Stack {
        let path = format!("e2e-{name}-{}", unique());
        let home = tempfile::tempdir().unwrap();
        let certs = home.path().join(".docker/certs.d").join(registry);
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::copy(pki().join("ca.crt"), certs.join("ca.crt")).unwrap();
        Stack {
            repo: small_stack(&unique()),
            base: format!("BASE_IMAGE={}", env.base_image),
            ns: format!("{registry}/{path}"),
            path,
            home,
            docker: docker_config(registry, &env.user, &env.password),
            _env: env,
        }
    }

    /// Runs `stackplan COMMAND --registry NS --build-arg BASE_IMAGE=… EXTRA…`.
    fn run(&self, command: &str, extra: &[&str]) -> Output {
        let mut args = vec![command, "--registry", &self.ns, "--build-arg", &self.base];
        args.extend_from_slice(extra);
        stackplan_at_home(
            &self.repo,
            &args,
            self.home.path(),
            Some(self.docker.path()),
        )
    }

    /// `docker buildx bake` of `file` with this stack's Docker config.
    fn bake(&self, file: &str, builder: Option<&str>) -> BakeRun {
        let run = bake_on(&self.repo, file, Some(self.docker.path()), builder);
        assert!(run.success, "docker buildx bake failed:\n{}", run.stderr);
        run
    }

    fn digest(&self, image: &str, tag: &str) -> Option<String> {
        digest(&format!("{}/{image}:{tag}", self.ns))
    }

    /// `image → digest` of every image's `tag`.
    fn digests(&self, tag: &str) -> Vec<(&'static str, Option<String>)> {
        IMAGES.iter().map(|i| (*i, self.digest(i, tag))).collect()
    }

    fn commit_change(&self, branch: &str, image: &str) {
        self.repo.branch(branch);
        self.repo
            .append(
                &format!("images/{image}/Dockerfile"),
                &format!("RUN echo {branch} >> /l\n"),
            )
            .commit(&format!("{image}: {branch}"));
    }
}

fn moved(stdout: &str) -> usize {
    stdout.lines().filter(|l| l.starts_with("moved ")).count()
}

/// The digest buildx pushed for each target of a `--push-by-digest` bake.
fn pushed(run: &BakeRun) -> Vec<(&'static str, Option<String>)> {
    IMAGES
        .iter()
        .map(|i| {
            let d = run.metadata[*i]["containerimage.digest"]
                .as_str()
                .map(str::to_string);
            (*i, d)
        })
        .collect()
}

/// `bake --push-by-digest` + `docker buildx bake` on `main`: no tag moves until `publish`.
/// Returns the bake, its metadata in the repository's meta.json.
fn bake_by_digest(s: &Stack) -> BakeRun {
    let file = ok(&s.run("bake", &["--push-by-digest"]));
    let run = s.bake(&file, Some(&remote_builder()));
    assert!(
        pushed(&run).iter().all(|(_, d)| d.is_some()),
        "{}",
        run.metadata
    );
    assert!(
        s.digests("1-main").iter().all(|(_, d)| d.is_none()),
        "a tag moved before publish"
    );
    run
}

/// The flow every registry must hold, `arm` called before each command that writes (the
/// fault front arms its faults there).
fn writes_hold(s: &Stack, arm: &dyn Fn(&str)) {
    // main: push by digest, then publish every tag (a branch tag and an inputs tag each).
    let run = bake_by_digest(s);
    arm("publish");
    let out = ok(&s.run("publish", &["--metadata", "meta.json"]));
    assert_eq!(moved(&out), 2 * IMAGES.len(), "{out}");
    assert_eq!(s.digests("1-main"), pushed(&run));

    // A branch that changes nothing: every tag is a registry-side copy.
    s.repo.branch("same");
    arm("reuse");
    let out = ok(&s.run("reuse", &[]));
    assert_eq!(moved(&out), IMAGES.len(), "{out}");
    assert_eq!(s.digests("1-same"), s.digests("1-main"));

    // build --push on a branch that changes the leaf a1: a1 is built and pushed with the
    // Docker config's credentials (the session's Auth service), the rest is reused.
    s.commit_change("leaf", "a1");
    arm("build --push");
    let out = s.run(
        "build",
        &["--addr", "docker://", "--push", "--progress", "plain"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (main, leaf) = (s.digests("1-main"), s.digests("1-leaf"));
    for ((image, m), (_, l)) in main.iter().zip(&leaf) {
        assert!(l.is_some(), "{image}:1-leaf was not pushed");
        assert_eq!(*image == "a1", m != l, "{image}: main {m:?}, leaf {l:?}");
    }

    // reuse, then bake --push and `docker buildx bake --push` on a branch that changes b.
    s.repo.git(&["checkout", "-q", "main"]);
    s.commit_change("side", "b");
    arm("reuse, bake --push");
    ok(&s.run("reuse", &[]));
    let file = ok(&s.run("bake", &["--push"]));
    let run = s.bake(&file, None);
    let built: Vec<&String> = run.metadata.as_object().unwrap().keys().collect();
    assert_eq!(built, ["b"], "only b is built");
    let (main, side) = (s.digests("1-main"), s.digests("1-side"));
    for ((image, m), (_, l)) in main.iter().zip(&side) {
        assert!(l.is_some(), "{image}:1-side was not pushed");
        assert_eq!(*image == "b", m != l, "{image}: main {m:?}, side {l:?}");
    }
}

#[test]
fn publish_reuse_and_pushes_get_tokens_from_the_token_registry() {
    let Some(env) = Env::require() else { return };
    let registry = var("STACKPLAN_TOKEN_REGISTRY", "localhost:5002");
    let s = Stack::new(env, &registry, "token-writes");
    writes_hold(&s, &|_| {});

    // Without credentials nothing is written, and the run says why at once.
    let none = tempfile::tempdir().unwrap();
    let out = stackplan_at_home(
        &s.repo,
        &[
            "reuse",
            "--registry",
            &s.ns,
            "--build-arg",
            &s.base,
            "--branch",
            "other",
        ],
        s.home.path(),
        Some(none.path()),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("docker login"), "{}", text(&out));
    assert!(s.digest("root", "1-other").is_none());
}

#[test]
fn publish_reuse_and_pushes_trust_the_tls_registry_through_certs_d() {
    let Some(env) = Env::require() else { return };
    let registry = var("STACKPLAN_TLS_REGISTRY", "localhost:5443");
    let s = Stack::new(env, &registry, "tls-writes");
    writes_hold(&s, &|_| {});

    // Without the CA, publish refuses at once and names where the CA goes.
    std::fs::remove_dir_all(s.home.path().join(".docker/certs.d")).unwrap();
    let out = s.run("reuse", &["--branch", "other"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("signed by an unknown authority"),
        "{}",
        text(&out)
    );
    assert!(s.digest("root", "1-other").is_none());
}

#[test]
fn publish_reuse_and_pushes_hold_under_faults_and_resume_after_a_midway_failure() {
    let Some(env) = Env::require() else { return };
    let s = Stack::new(env, &fault_front(), "fault-writes");
    let path = s.path.clone();
    // Each command meets a 429, a 503, a reset and a 502 among its requests.
    writes_hold(&s, &|_| {
        arm_faults(&path, "ok,429,ok,503,ok,reset,ok,502", 4, 1)
    });
    let served = faults_served(&path);
    for kind in ["429", "503", "reset", "502"] {
        assert!(served.iter().any(|(f, _)| f == kind), "{kind}: {served:?}");
    }
    arm_faults(&path, "", 0, 1);
}

#[test]
fn a_publish_or_reuse_a_registry_interrupts_moves_no_tag_halfway_and_resumes() {
    let Some(env) = Env::require() else { return };
    let s = Stack::new(env, &fault_front(), "fault-resume");
    let run = bake_by_digest(&s);
    let publish = ["--metadata", "meta.json", "--registry-retry-budget", "2s"];

    // Every write to repository `a` fails (503) past the retry budget: the other tags move.
    let victim = format!("{}/a/manifests/", s.path);
    arm_faults_on("PUT", &victim, "503", 100, 1);
    let out = s.run("publish", &publish);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("6 tag(s) moved, 2 did not"), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    let want = pushed(&run);
    for ((image, tag), (_, pushed)) in s.digests("1-main").iter().zip(&want) {
        let expected = if *image == "a" { &None } else { pushed };
        assert_eq!(tag, expected, "{image}:1-main");
    }
    arm_faults(&victim, "", 0, 1);
    let mut resume = publish.to_vec();
    resume.push("--resume");
    let out = ok(&s.run("publish", &resume));
    // a's two tags move; the tags that moved before are kept or no longer in the plan.
    assert_eq!(moved(&out), 2, "{out}");
    assert!(out.contains("/a:1-main ("), "{out}");
    assert_eq!(s.digests("1-main"), want);

    // The same for reuse on a branch: root's tag fails, the others are copied.
    s.repo.branch("same");
    let victim = format!("{}/root/manifests/", s.path);
    arm_faults_on("PUT", &victim, "503", 100, 1);
    let out = s.run("reuse", &["--registry-retry-budget", "2s"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3 tag(s) moved, 1 did not"), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(s.digest("root", "1-same").is_none());
    arm_faults(&victim, "", 0, 1);
    ok(&s.run("reuse", &["--resume"]));
    assert_eq!(s.digests("1-same"), want);
}
