//! stackplan's container image (the root Dockerfile) built on the local engine without
//! pulling anything — the binary cargo built and a base made from this machine's files
//! (scripts/image-base.sh) replace the Rust and Debian stages through named build contexts
//! — then `plan` and `bake` run in it on the example stack, mounted from a checkout owned
//! by another user (git's safe.directory); and `stackplan doctor` against the real
//! environment.

use std::path::Path;
use std::process::{Command, Output};

use crate::env::{Env, unique};
use crate::support::{Repo, ok_as, stackplan_command};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the image the suite's way; returns its local name.
fn build_image(env: &Env) -> String {
    let work = tempfile::tempdir().unwrap();
    // The binary, without its debug symbols (the test build is a debug build).
    let binary_dir = work.path().join("binary");
    std::fs::create_dir_all(&binary_dir).unwrap();
    let binary = binary_dir.join("stackplan");
    let strip = Command::new("strip")
        .arg("-o")
        .arg(&binary)
        .arg(env!("CARGO_BIN_EXE_stackplan"))
        .status();
    if !strip.is_ok_and(|s| s.success()) {
        std::fs::copy(env!("CARGO_BIN_EXE_stackplan"), &binary).unwrap();
    }
    let id = unique();
    let base = format!("{}/e2e-image/runtime-base:{id}", env.registry);
    ok_as(
        &Command::new(root().join("scripts/image-base.sh"))
            .arg(&base)
            .arg(&binary)
            .output()
            .unwrap(),
        "scripts/image-base.sh",
    );
    let image = format!("stackplan-e2e:{id}");
    ok_as(
        &Command::new("docker")
            .current_dir(root())
            .args([
                "buildx",
                "build",
                "--builder",
                "default",
                "--progress",
                "plain",
            ])
            .arg("--build-context")
            .arg(format!("binary={}", binary_dir.display()))
            .arg("--build-context")
            .arg(format!("runtime-base=docker-image://{base}"))
            .args(["--build-arg", &format!("RUST_IMAGE={base}")])
            .args(["-t", &image, "."])
            .output()
            .unwrap(),
        "docker buildx build of the Dockerfile",
    );
    image
}

struct RemoveImage(String);

impl Drop for RemoveImage {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &self.0])
            .output();
    }
}

/// `docker run --rm -v "$PWD:/repo" -w /repo IMAGE args...`, as docs/install.md says.
fn run_in(image: &str, repo: &Repo, args: &[&str]) -> Output {
    Command::new("docker")
        .args(["run", "--rm", "-v"])
        .arg(format!("{}:/repo", repo.path().display()))
        .args(["-w", "/repo", image])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_image_plans_and_bakes_the_example_stack_in_a_mounted_checkout() {
    let Some(env) = Env::require() else { return };
    let image = build_image(&env);
    let _cleanup = RemoveImage(image.clone());
    let size = ok_as(
        &Command::new("docker")
            .args(["image", "inspect", "-f", "{{.Size}}", &image])
            .output()
            .unwrap(),
        "docker image inspect",
    );
    eprintln!(
        "note: the image (local path, stripped debug binary) is {:.1} MiB",
        size.trim().parse::<f64>().unwrap_or(0.0) / 1048576.0
    );

    let version = ok_as(&run_in(&image, &Repo::new(), &["--version"]), "--version");
    let host_version = ok_as(
        &Command::new(env!("CARGO_BIN_EXE_stackplan"))
            .arg("--version")
            .output()
            .unwrap(),
        "host --version",
    );
    assert_eq!(version, host_version);

    let repo = Repo::example();
    repo.branch("feature");
    repo.append("images/scipy-notebook/Dockerfile", "RUN true\n")
        .commit("change a leaf");
    // The bake file of the host binary, before the checkout changes owner.
    let host_bake = ok_as(
        &stackplan_command(repo.path())
            .args(["bake", "--offline", "--push"])
            .output()
            .unwrap(),
        "host stackplan bake",
    );
    // A CI checkout belongs to the runner's user, not to the container's root.
    let chowned = Command::new("chown")
        .args(["-R", "4242:4242"])
        .arg(repo.path())
        .status()
        .is_ok_and(|s| s.success());
    if chowned {
        // Without the image's safe.directory setting git refuses the checkout.
        let refused = Command::new("docker")
            .args(["run", "--rm", "-e", "GIT_CONFIG_NOSYSTEM=1", "-v"])
            .arg(format!("{}:/repo", repo.path().display()))
            .args(["-w", "/repo", "--entrypoint", "git", &image])
            .args(["rev-parse", "--show-toplevel"])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("dubious ownership"),
            "git in the image accepted another user's checkout without safe.directory: {refused:?}"
        );
    } else {
        eprintln!("note: not root: the checkout keeps its owner, safe.directory is not exercised");
    }

    let plan = ok_as(
        &run_in(&image, &repo, &["plan", "--offline", "--format", "json"]),
        "stackplan plan in the image",
    );
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["summary"]["rebuild"], 2, "{plan}");
    let text = ok_as(
        &run_in(&image, &repo, &["plan", "--offline"]),
        "stackplan plan (text) in the image",
    );
    assert!(text.contains("scipy-notebook"), "{text}");
    let bake = ok_as(
        &run_in(&image, &repo, &["bake", "--offline", "--push"]),
        "stackplan bake in the image",
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&bake).unwrap(),
        serde_json::from_str::<serde_json::Value>(&host_bake).unwrap(),
        "the image's bake file differs from the host binary's"
    );
    // Written into the mounted checkout too (-o), as a CI step would.
    ok_as(
        &run_in(
            &image,
            &repo,
            &["bake", "--offline", "--push", "-o", "bake.json"],
        ),
        "stackplan bake -o in the image",
    );
    assert!(repo.path().join("bake.json").is_file());
}

#[test]
fn doctor_finds_the_whole_environment_working() {
    let Some(_env) = Env::require() else { return };
    let repo = Repo::example();
    let buildkit = std::env::var("STACKPLAN_BUILDKIT_ADDR").unwrap_or_else(|_| "docker://".into());
    let out = stackplan_command(repo.path())
        .args(["doctor", "--format", "json", "--addr", &buildkit])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(&ok_as(&out, "stackplan doctor")).unwrap();
    for check in report["checks"].as_array().unwrap() {
        if check["name"] != "credentials" {
            assert_eq!(check["status"], "ok", "{report}");
        }
    }
    assert_eq!(report["ok"], true);
}
