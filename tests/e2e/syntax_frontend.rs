//! The `# syntax=` frontend against the real registry: resolved to a digest like a base
//! image, hashed into the inputs digest, and pinned in the bake file with
//! `BUILDKIT_SYNTAX=ref@digest` (which BuildKit's dockerfile frontend takes over the
//! directive). The "frontend" is the base image's manifest copied under a tag of its own
//! (nothing is built with it), then moved to a manifest of other bytes.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::env::{Env, digest, ok, raw_manifest, stackplan, unique};
use crate::support::Repo;

/// Puts the base image's manifest under `to` (`host/name:tag`), its blobs mounted from the
/// base's repository, with an annotation `nonce` (another nonce, another digest).
fn put_frontend(env: &Env, to: &str, nonce: &str) {
    let (from_host, from_rest) = env.base_image.split_once('/').unwrap();
    let from_name = from_rest.rsplit_once(':').unwrap().0;
    let (host, rest) = to.split_once('/').unwrap();
    assert_eq!(
        host, from_host,
        "the frontend lives in the base image's registry"
    );
    let (name, tag) = rest.rsplit_once(':').unwrap();
    let mut manifest = raw_manifest(&env.base_image).expect("the base image's manifest");
    let blobs: Vec<String> = std::iter::once(&manifest["config"])
        .chain(manifest["layers"].as_array().unwrap())
        .map(|b| b["digest"].as_str().unwrap().to_string())
        .collect();
    for blob in blobs {
        let out = Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
            .arg(format!(
                "http://{host}/v2/{name}/blobs/uploads/?mount={blob}&from={from_name}"
            ))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "201", "mount {blob}");
    }
    manifest["annotations"] = serde_json::json!({ "dev.stackplan.test.nonce": nonce });
    let media_type = manifest["mediaType"].as_str().unwrap().to_string();
    let mut curl = Command::new("curl")
        .args(["-sf", "-X", "PUT", "-H"])
        .arg(format!("Content-Type: {media_type}"))
        .args(["--data-binary", "@-"])
        .arg(format!("http://{host}/v2/{name}/manifests/{tag}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    curl.stdin
        .take()
        .unwrap()
        .write_all(manifest.to_string().as_bytes())
        .unwrap();
    assert!(curl.wait().unwrap().success(), "PUT {to}");
}

#[test]
fn the_syntax_frontend_moves_the_digest_and_is_pinned_in_the_bake_file() {
    let Some(env) = Env::require() else { return };
    let ns = env.namespace("syntax");
    let frontend = format!("{ns}/frontend:1");
    put_frontend(&env, &frontend, &unique());
    let repo = Repo::with_files(&[
        (
            "images/spec.yml",
            "tag: {prefix: '1'}\nimages:\n  root:\n    image_name: ghcr.io/o/root\n".to_string(),
        ),
        (
            "images/root/Dockerfile",
            format!("# syntax={frontend}\nFROM scratch\nCOPY a /a\n"),
        ),
        ("images/root/a", "a\n".to_string()),
    ]);
    let planned = || -> (Value, Value) {
        let plan = ok(&stackplan(
            &repo,
            &["plan", "--format", "json", "--registry", &ns],
            None,
        ));
        let bake = ok(&stackplan(&repo, &["bake", "--registry", &ns], None));
        let plan: Value = serde_json::from_str(&plan).unwrap();
        let bake: Value = serde_json::from_str(&bake).unwrap();
        (plan["targets"][0].clone(), bake["target"]["root"].clone())
    };

    let first = digest(&frontend).expect("the frontend is in the registry");
    let (target, baked) = planned();
    assert_eq!(target["inputs"]["pinned"], true, "{target:#}");
    let bases = target["inputs"]["bases"].as_array().unwrap();
    assert_eq!(bases.len(), 1, "{target:#}");
    assert_eq!(bases[0]["reference"], frontend.as_str());
    assert_eq!(bases[0]["digest"], first.as_str());
    assert_eq!(
        baked["args"]["BUILDKIT_SYNTAX"],
        format!("{frontend}@{first}"),
        "{baked:#}"
    );

    // The tag moves: so do the digest and the pin.
    put_frontend(&env, &frontend, &unique());
    let second = digest(&frontend).unwrap();
    assert_ne!(first, second);
    let (moved, rebaked) = planned();
    assert_eq!(moved["inputs"]["pinned"], true, "{moved:#}");
    assert_ne!(
        moved["inputs"]["digest"], target["inputs"]["digest"],
        "the inputs digest moves with the frontend"
    );
    assert_eq!(
        rebaked["args"]["BUILDKIT_SYNTAX"],
        format!("{frontend}@{second}"),
        "{rebaked:#}"
    );
    assert_eq!(
        rebaked["labels"]["dev.stackplan.inputs.digest"], moved["inputs"]["digest"],
        "the bake file carries the digest the plan reports"
    );
}
