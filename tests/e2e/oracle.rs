//! BuildKit as the oracle of the inputs digest (issue 22). A corpus of single mutations of
//! small stacks, each built before and after with the engine's BuildKit through the user's
//! path (`stackplan bake --push` and `docker buildx bake`) on one warm builder. BuildKit
//! reuses its cache exactly when its own cache key says an input is unchanged, so "the
//! image is the same" is BuildKit's verdict on the mutation; the inputs digest must move
//! whenever BuildKit's result moves, or the target must be unpinned (the change rules then
//! decide). A mutation whose result moved under an equal pinned digest is a **miss**: a
//! user would ship the old image as current. The test fails listing every miss; a digest
//! that moved while the result did not is **spurious** (a needless build), only printed.
//! A mutation stackplan refuses with an error is listed as refused (nothing is shipped);
//! a shape stackplan refuses though BuildKit builds it fails the test, as no mutation of it
//! can be judged; a shape BuildKit cannot build is listed, since no digest can be wrong
//! about it.
//!
//! To add a mutation: add a line to [`corpus`] — a name, the [`Shape`] of stack it mutates
//! (add a shape when none has the Dockerfile or context it needs), and a closure that
//! changes the [`Checkout`] (`c.ctx("chmod 600 f.txt")` runs a shell line in the root
//! image's context; `c.sh` at the repository's top; `c.move_tag`, `c.serve` change the
//! registry and the HTTP server); `.spurious_ok(why)` when a digest change is expected
//! though BuildKit builds the same. `STACKPLAN_ORACLE=<substring>` runs only the mutations
//! whose names contain it (and builds only their shapes).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

use crate::env::{ACCEPT, Env, bake, bake_fresh_transfer, config, layers, stackplan};
use crate::support::{Repo, succeeded};

/// The stacks the mutations start from. Every shape is a root image (`root`, the one whose
/// Dockerfile and context differ from shape to shape) and a child (`kid`) built on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Shape {
    /// A context with one of every kind of entry, modes, a symlink and a `.dockerignore`.
    Files,
    /// A context of plain files with the modes a checkout under umask 022 gives.
    Plain,
    /// `RUN echo "<<EOF"`, then a `FROM` of an external image.
    HeredocFrom,
    /// `RUN echo "<<EOF"`, then an `ADD` of a URL.
    HeredocAdd,
    /// `RUN echo $((1<<2))`, then a `FROM` of an external image.
    Shift,
    /// A UTF-8 byte order mark before the `FROM` of an external image.
    Bom,
    /// `ARG URL=http://…` and `ADD ${URL}`.
    UrlArg,
    /// `ENV U=http://…` and `ADD $U`.
    UrlEnv,
    /// `COPY --from=<external image>` and `RUN --mount=from=<external image>`.
    CopyFrom,
    /// The root's `FROM` names its base by tag and digest (`base:1@sha256:…`).
    PinnedBase,
    /// The root holds `ONBUILD COPY --from=<external image>`: it runs in the kid's build
    /// (BuildKit 0.14 and later; older ones refuse the shape).
    Onbuild,
    /// The root holds `ONBUILD ADD <url>`: it runs in the kid's build.
    OnbuildAdd,
    /// A context of more than 32 MiB (stackplan then reads blob ids from git's index), with
    /// a `.gitattributes` `eol=crlf` file and `core.trustctime=false`.
    Large,
}

/// One mutation of a shape's checkout.
struct Mutation {
    name: &'static str,
    shape: Shape,
    /// Why a digest change is expected though BuildKit builds the same image.
    spurious_ok: Option<&'static str>,
    apply: fn(&Checkout),
}

impl Mutation {
    fn spurious_ok(mut self, why: &'static str) -> Mutation {
        self.spurious_ok = Some(why);
        self
    }
}

fn m(name: &'static str, shape: Shape, apply: fn(&Checkout)) -> Mutation {
    Mutation {
        name,
        shape,
        spurious_ok: None,
        apply,
    }
}

/// The corpus. The files shape's root context (images/root/) holds: `Dockerfile`,
/// `.dockerignore` (`.dockerignore`, `Dockerfile`, `*.dockerignore`, `ignored.txt`,
/// `data\d.txt`), `f.txt`, `copy.txt` (the same bytes), `script.sh` (755), `secret.txt`
/// (600), `sub/x.txt`, `private/y.txt` (`private` 700), `link` → `f.txt`, `ignored.txt`,
/// `data1.txt`, `datad.txt`; the kid's context its Dockerfile and `k.txt`.
fn corpus() -> Vec<Mutation> {
    use Shape::*;
    vec![
        // Contents and names.
        m("content edit (the kid moves with its parent)", Files, |c| {
            c.ctx("echo changed > f.txt")
        }),
        m("file emptied", Files, |c| c.ctx(": > f.txt")),
        m("CRLF line endings of a copied file", Files, |c| {
            c.ctx("printf 'hello\\r\\n' > f.txt")
        }),
        m("file deleted", Files, |c| c.ctx("rm sub/x.txt")),
        m("file renamed", Files, |c| c.ctx("mv sub/x.txt sub/z.txt")),
        m("directory renamed", Files, |c| c.ctx("mv sub sub2")),
        m("new empty directory", Files, |c| c.ctx("mkdir empty")),
        m("kid's own file edited", Files, |c| {
            c.sh("echo k2 > images/kid/k.txt")
        }),
        // Modes.
        m("exec bit set", Files, |c| c.ctx("chmod +x f.txt")),
        m("chmod 644 to 600", Files, |c| c.ctx("chmod 600 f.txt")),
        m("chmod 600 to 644", Files, |c| c.ctx("chmod 644 secret.txt")),
        m("group write", Files, |c| c.ctx("chmod g+w f.txt")),
        m("setuid", Files, |c| c.ctx("chmod u+s script.sh")),
        m("directory 755 to 700", Files, |c| c.ctx("chmod 700 sub")),
        m("directory 700 to 755", Files, |c| {
            c.ctx("chmod 755 private")
        }),
        m("sticky directory", Files, |c| c.ctx("chmod +t sub")),
        m("context folder itself 755 to 700", Files, |c| {
            c.sh("chmod 700 images/root")
        }),
        m("checkout under umask 077", Plain, |c| {
            c.sh("umask 077 && rm -rf images/root && git checkout -- images/root")
        }),
        m("checkout under umask 022", Plain, |c| {
            c.sh("umask 022 && rm -rf images/root && git checkout -- images/root")
        }),
        // Metadata BuildKit's cache key leaves out.
        m("mtime only", Files, |c| {
            c.ctx("touch -d '2001-02-03 04:05:06' f.txt")
        }),
        m("owner only", Files, |c| c.ctx("chown 1234:1234 f.txt")),
        m("extended attribute user.* set", Files, |c| {
            c.setxattr("f.txt")
        }),
        // Links.
        m("symlink target changed", Files, |c| {
            c.ctx("ln -sfn sub/x.txt link")
        }),
        m("symlink added", Files, |c| c.ctx("ln -s f.txt link2")),
        m("hard link replaces a copy", Files, |c| {
            c.ctx("rm copy.txt && ln f.txt copy.txt")
        }),
        m("non-UTF-8 file name added", Files, |c| {
            c.ctx("printf x > \"$(printf 'n\\377.txt')\"")
        }),
        // What is in the context.
        m("file outside the context edited", Files, |c| {
            c.sh("echo more >> README.md")
        }),
        m("excluded file edited", Files, |c| {
            c.ctx("echo more >> ignored.txt")
        }),
        m("!exception re-includes an excluded file", Files, |c| {
            c.ctx("echo '!ignored.txt' >> .dockerignore")
        }),
        m("comment added to .dockerignore", Files, |c| {
            c.ctx("echo '# a note' >> .dockerignore")
        }),
        m(
            ".dockerignore \\d: a digit file is not excluded",
            Files,
            |c| c.ctx("echo 2 > data1.txt"),
        ),
        m(
            ".dockerignore \\d: a literal d file is excluded",
            Files,
            |c| c.ctx("echo e > datad.txt"),
        ),
        m(".dockerignore a symlink into the context", Files, |c| {
            c.ctx("mv .dockerignore rules && echo rules >> rules && ln -s rules .dockerignore")
        }),
        m(".dockerignore a symlink out of the context", Files, |c| {
            c.ctx("mv .dockerignore ../../rules && ln -s ../../rules .dockerignore")
        }),
        m(".dockerignore a directory", Files, |c| {
            c.ctx("rm .dockerignore && mkdir .dockerignore")
        }),
        m(".dockerignore /f.txt (a leading slash)", Files, |c| {
            c.ctx("echo /f.txt >> .dockerignore")
        }),
        m(".dockerignore **/x.txt", Files, |c| {
            c.ctx("echo '**/x.txt' >> .dockerignore")
        }),
        m(".dockerignore sub, then !sub/x.txt", Files, |c| {
            c.ctx("printf 'sub\\n!sub/x.txt\\n' >> .dockerignore")
        }),
        m(".dockerignore ./f.txt", Files, |c| {
            c.ctx("echo ./f.txt >> .dockerignore")
        }),
        m("Dockerfile.dockerignore beside .dockerignore", Files, |c| {
            c.ctx(
                "cp .dockerignore Dockerfile.dockerignore && echo f.txt >> Dockerfile.dockerignore",
            )
        }),
        m("another Dockerfile's .dockerignore added", Files, |c| {
            c.ctx("printf 'f.txt\\n*.dockerignore\\n' > Other.Dockerfile.dockerignore")
        }),
        // The Dockerfile and the spec.
        m("Dockerfile comment", Files, |c| {
            c.ctx("echo '# a comment' >> Dockerfile")
        })
        .spurious_ok("the Dockerfile's bytes are hashed, comments included"),
        m("Dockerfile gains a RUN", Files, |c| {
            c.ctx("echo 'RUN echo more > /more' >> Dockerfile")
        }),
        m("build arg only the parent uses (spec.yml)", Files, |c| {
            c.edit("images/spec.yml", "GREETING: hi", "GREETING: hello")
        }),
        m("build arg the kid uses (spec.yml)", Files, |c| {
            c.edit("images/spec.yml", "KID_ARG: a", "KID_ARG: b")
        }),
        m("build arg no Dockerfile declares (spec.yml)", Files, |c| {
            c.edit("images/spec.yml", "UNUSED: x", "UNUSED: y")
        })
        .spurious_ok("build args are hashed after precedence, declared or not"),
        m(
            "platforms: [linux/amd64] (the builder's own) in spec.yml",
            Files,
            |c| {
                c.edit(
                    "images/spec.yml",
                    "image_name: ghcr.io/o/root,",
                    "image_name: ghcr.io/o/root, platforms: [linux/amd64],",
                )
            },
        )
        .spurious_ok("the platforms asked for are hashed, not the builder's default"),
        // The registry and the network.
        m("base image tag moved in the registry", Files, |c| {
            c.move_tag("base")
        }),
        m(
            "COPY --from and RUN --mount=from: the image's tag moved",
            CopyFrom,
            |c| c.move_tag("ext"),
        ),
        m("FROM base:1@digest: the tag moved", PinnedBase, |c| {
            c.move_tag("base")
        }),
        m(
            "RUN echo \"<<EOF\", then a later FROM's tag moved",
            HeredocFrom,
            |c| c.move_tag("ext"),
        ),
        m(
            "RUN echo \"<<EOF\", then a later ADD URL's content",
            HeredocAdd,
            |c| c.serve("/heredoc.txt", "heredoc v2\n"),
        ),
        m("$((1<<2)), then a later FROM's tag moved", Shift, |c| {
            c.move_tag("ext")
        }),
        m("UTF-8 BOM before FROM, its tag moved", Bom, |c| {
            c.move_tag("ext")
        }),
        m(
            "ADD ${URL} (ARG URL=http://…), the content",
            UrlArg,
            |c| c.serve("/arg.txt", "arg v2\n"),
        ),
        m("ENV U=http://… + ADD $U, the content", UrlEnv, |c| {
            c.serve("/env.txt", "env v2\n")
        }),
        m(
            "ONBUILD COPY --from=<image> in the parent, its tag moved",
            Onbuild,
            |c| c.move_tag("ext"),
        ),
        m(
            "ONBUILD ADD <url> in the parent, the content",
            OnbuildAdd,
            |c| c.serve("/onbuild.txt", "onbuild v2\n"),
        ),
        // Large contexts, where blob ids come from git's index.
        m(
            "large: .gitattributes eol=crlf removed by a commit",
            Large,
            |c| {
                c.sh("git rm -q .gitattributes");
                c.commit("drop the eol rule");
            },
        ),
        m(
            "large: same-size edit, mtime restored, core.trustctime=false",
            Large,
            |c| {
                c.ctx("printf 'version-2\\n' > same.txt && touch -d '2020-01-01 00:00:00' same.txt")
            },
        ),
        m("large: content edit", Large, |c| {
            c.ctx("echo changed > same.txt")
        }),
    ]
}

/// The shape's files, relative to the repository (a `Vec<u8>` for bytes that are not text).
fn shape_files(shape: Shape, fx: &Fixture) -> Vec<(String, Vec<u8>)> {
    let ext = format!("{}/ext:1", fx.ns);
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", fx.server.port);
    let from_base = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n";
    let root_dockerfile = match shape {
        Shape::Files => format!(
            "{from_base}ARG GREETING=none\nRUN echo \"$GREETING\" > /greeting\nCOPY . /ctx/\n"
        ),
        Shape::Plain | Shape::Large => format!("{from_base}COPY . /ctx/\n"),
        Shape::HeredocFrom => format!(
            "ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}} AS first\nRUN echo \"<<EOF\" > /h\nFROM {ext}\nCOPY --from=first /h /h\nCOPY . /ctx/\n"
        ),
        Shape::HeredocAdd => format!(
            "{from_base}RUN echo \"<<EOF\" > /h\nADD {} /heredoc.txt\nCOPY . /ctx/\n",
            url("/heredoc.txt")
        ),
        Shape::Shift => format!(
            "ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}} AS first\nRUN echo $((1<<2)) > /s\nFROM {ext}\nCOPY --from=first /s /s\nCOPY . /ctx/\n"
        ),
        Shape::CopyFrom => format!(
            "{from_base}COPY --from={ext} /v /copied-v\nRUN --mount=from={ext},target=/m cat /m/v > /mounted-v\nCOPY . /ctx/\n"
        ),
        Shape::PinnedBase => format!("FROM {}/base:1@{}\nCOPY . /ctx/\n", fx.ns, fx.base_v1),
        Shape::Bom => format!("\u{feff}FROM {ext}\nCOPY . /ctx/\n"),
        Shape::UrlArg => format!(
            "{from_base}ARG URL={}\nADD ${{URL}} /arg.txt\nCOPY . /ctx/\n",
            url("/arg.txt")
        ),
        Shape::UrlEnv => format!(
            "{from_base}ENV U={}\nADD $U /env.txt\nCOPY . /ctx/\n",
            url("/env.txt")
        ),
        Shape::Onbuild => {
            format!("{from_base}ONBUILD COPY --from={ext} /v /onbuild-v\nCOPY . /ctx/\n")
        }
        Shape::OnbuildAdd => format!(
            "{from_base}ONBUILD ADD {} /onbuild.txt\nCOPY . /ctx/\n",
            url("/onbuild.txt")
        ),
    };
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            "images/spec.yml".into(),
            "tag: {prefix: '1'}\nimages:\n  root: {image_name: ghcr.io/o/root, build_args: {GREETING: hi}}\n  kid: {image_name: ghcr.io/o/kid, depend_on: root, build_args: {KID_ARG: a, UNUSED: x}}\n".into(),
        ),
        (
            "images/kid/Dockerfile".into(),
            "ARG BASE_TAG=latest\nFROM ghcr.io/o/root:${BASE_TAG}\nARG KID_ARG=none\nRUN echo \"$KID_ARG\" > /kid-arg\nCOPY . /kid/\n".into(),
        ),
        ("images/kid/k.txt".into(), "k\n".into()),
        ("README.md".into(), "outside every context\n".into()),
        ("images/root/Dockerfile".into(), root_dockerfile.into_bytes()),
        ("images/root/f.txt".into(), "hello\n".into()),
        ("images/root/sub/x.txt".into(), "x\n".into()),
    ];
    let mut add = |path: &str, contents: &[u8]| {
        files.push((format!("images/root/{path}"), contents.to_vec()));
    };
    match shape {
        Shape::Files => {
            add(
                ".dockerignore",
                b".dockerignore\nDockerfile\n*.dockerignore\nignored.txt\ndata\\d.txt\n",
            );
            add("copy.txt", b"hello\n");
            add("script.sh", b"#!/bin/sh\necho hi\n");
            add("secret.txt", b"secret\n");
            add("private/y.txt", b"y\n");
            add("ignored.txt", b"ignored\n");
            add("data1.txt", b"1\n");
            add("datad.txt", b"d\n");
        }
        Shape::Plain => add("script.sh", b"#!/bin/sh\necho hi\n"),
        Shape::Large => {
            add("big.bin", &vec![0u8; 33 << 20]);
            add("crlf.txt", b"one\r\ntwo\r\n");
            add("same.txt", b"version-1\n");
            files.push((
                ".gitattributes".into(),
                "images/root/crlf.txt eol=crlf\n".into(),
            ));
        }
        _ => {}
    }
    files
}

/// A shape's repository: its files written with the modes a checkout under umask 022
/// gives, then the shape's own modes, links and git settings, committed on `main`.
fn shape_repo(shape: Shape, fx: &Fixture) -> Repo {
    let repo = Repo::new();
    for (path, contents) in shape_files(shape, fx) {
        let p = repo.path().join(&path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }
    let sh = |script: &str| run_sh(repo.path(), script);
    sh("chmod -R u=rwX,go=rX images && chmod 755 images/root/script.sh 2>/dev/null; true");
    match shape {
        Shape::Files => {
            sh("cd images/root && ln -s f.txt link && chmod 600 secret.txt && chmod 700 private")
        }
        Shape::Large => {
            repo.git(&["config", "core.trustctime", "false"]);
            sh("find images/root -type f -exec touch -d '2020-01-01 00:00:00' {} +");
        }
        _ => {}
    }
    repo.commit("the shape");
    repo
}

fn run_sh(dir: &Path, script: &str) {
    succeeded(
        Command::new("sh").current_dir(dir).args(["-c", script]),
        &format!("sh -c {script:?}"),
    );
}

/// The checkout a mutation changes, with the fixture's registry tags and HTTP server.
struct Checkout<'a> {
    repo: Repo,
    fx: &'a Fixture,
    skipped: RefCell<Option<String>>,
}

impl Checkout<'_> {
    /// A shell line at the top of the repository.
    fn sh(&self, script: &str) {
        run_sh(self.repo.path(), script);
    }

    /// A shell line in the root image's context.
    fn ctx(&self, script: &str) {
        run_sh(&self.repo.path().join("images/root"), script);
    }

    fn edit(&self, path: &str, from: &str, to: &str) {
        let p = self.repo.path().join(path);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{path} has no {from:?}");
        std::fs::write(p, text.replacen(from, to, 1)).unwrap();
    }

    fn commit(&self, message: &str) {
        self.repo.commit(message);
    }

    /// Points `<ns>/<repository>:1` at the fixture's second image (undone after the mutation).
    fn move_tag(&self, repository: &str) {
        self.fx.copy_tag(repository, "v2", "1");
        self.fx.moved.borrow_mut().insert(repository.to_string());
    }

    /// Serves `contents` at `path` from now on (undone after the mutation).
    fn serve(&self, path: &str, contents: &str) {
        self.fx.server.set(path, contents);
    }

    /// Sets the extended attribute `user.oracle` on a file of the root context: with
    /// `setfattr` (Debian's `attr`) when present, else Python's `os.setxattr` (std has no
    /// xattr call and a crate for one test line is not worth it).
    fn setxattr(&self, file: &str) {
        let dir = self.repo.path().join("images/root");
        let setfattr = Command::new("setfattr")
            .current_dir(&dir)
            .args(["-n", "user.oracle", "-v", "1", file])
            .output();
        if matches!(&setfattr, Ok(o) if o.status.success()) {
            return;
        }
        let python = Command::new("python3")
            .current_dir(&dir)
            .args([
                "-c",
                &format!("import os; os.setxattr({file:?}, 'user.oracle', b'1')"),
            ])
            .output();
        match python {
            Ok(o) if o.status.success() => {}
            other => {
                *self.skipped.borrow_mut() = Some(format!(
                    "no way to set a user.* xattr here (setfattr: {setfattr:?}, python3: {other:?})"
                ))
            }
        }
    }
}

/// What the mutations share: a registry namespace with the movable tags `base:1` and
/// `ext:1` (each `v1` until a mutation moves it to `v2`), and an HTTP server for `ADD`.
struct Fixture {
    ns: String,
    /// The digest `base:1` points at first.
    base_v1: String,
    server: Server,
    moved: RefCell<BTreeSet<String>>,
}

const SERVED: &[(&str, &str)] = &[
    ("/arg.txt", "arg v1\n"),
    ("/env.txt", "env v1\n"),
    ("/heredoc.txt", "heredoc v1\n"),
    ("/onbuild.txt", "onbuild v1\n"),
];

impl Fixture {
    fn new(env: &Env) -> Fixture {
        let mut fx = Fixture {
            ns: env.namespace("oracle"),
            base_v1: String::new(),
            server: Server::start(),
            moved: RefCell::default(),
        };
        let scratch = Repo::new();
        let mut targets = serde_json::Map::new();
        for version in ["v1", "v2"] {
            let mut tags = vec![
                format!("{}/base:{version}", fx.ns),
                format!("{}/ext:{version}", fx.ns),
            ];
            if version == "v1" {
                tags.push(format!("{}/base:1", fx.ns));
                tags.push(format!("{}/ext:1", fx.ns));
            }
            targets.insert(
                version.into(),
                serde_json::json!({
                    "context": ".",
                    "dockerfile-inline": format!("FROM {}\nRUN echo {version} > /v\n", env.base_image),
                    "tags": tags,
                    "output": ["type=registry"],
                }),
            );
        }
        let file =
            serde_json::json!({"group": {"default": {"targets": ["v1", "v2"]}}, "target": targets});
        let run = bake(&scratch, &file.to_string(), None);
        assert!(run.success, "the fixture images: {}", run.stderr);
        fx.base_v1 = crate::env::digest(&format!("{}/base:1", fx.ns)).expect("base:1 was pushed");
        fx.reset();
        fx
    }

    /// Undoes what a mutation did to the registry and the server.
    fn reset(&self) {
        for repository in std::mem::take(&mut *self.moved.borrow_mut()) {
            self.copy_tag(&repository, "v1", "1");
        }
        for (path, contents) in SERVED {
            self.server.set(path, contents);
        }
    }

    /// Copies tag `from` of `<ns>/<repository>` to tag `to`, registry-side.
    fn copy_tag(&self, repository: &str, from: &str, to: &str) {
        let (host, path) = self.ns.split_once('/').unwrap();
        let base = format!("http://{host}/v2/{path}/{repository}/manifests");
        let body = tempfile::NamedTempFile::new().unwrap();
        let get = Command::new("curl")
            .args(["-sf", "-H", ACCEPT, "-w", "%{content_type}", "-o"])
            .arg(body.path())
            .arg(format!("{base}/{from}"))
            .output()
            .unwrap();
        assert!(get.status.success(), "GET {base}/{from}: {get:?}");
        let media_type = String::from_utf8(get.stdout).unwrap();
        let put = Command::new("curl")
            .args(["-sf", "-X", "PUT", "-H"])
            .arg(format!("Content-Type: {media_type}"))
            .arg("--data-binary")
            .arg(format!("@{}", body.path().display()))
            .arg(format!("{base}/{to}"))
            .output()
            .unwrap();
        assert!(put.status.success(), "PUT {base}/{to}: {put:?}");
    }
}

/// An HTTP server on 127.0.0.1 that BuildKit's `ADD <url>` fetches from, serving files a
/// mutation can change. Hand-written on std (one request per connection, GET and HEAD, a
/// length and no validators, so BuildKit fetches and digests the content every build):
/// a crate would bring an async runtime or a thread pool for these twenty lines. Its
/// thread ends with the test process.
struct Server {
    port: u16,
    files: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let files: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
        let served = Arc::clone(&files);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = answer(stream, &served);
            }
        });
        Server { port, files }
    }

    fn set(&self, path: &str, contents: &str) {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_string(), contents.to_string());
    }
}

fn answer(stream: TcpStream, files: &Mutex<BTreeMap<String, String>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(&stream);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let mut words = request.split_whitespace();
    let method = words.next().unwrap_or_default();
    let path = words.next().unwrap_or_default();
    let body = files.lock().unwrap().get(path).cloned();
    let mut out = &stream;
    match body {
        Some(body) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            if method != "HEAD" {
                out.write_all(body.as_bytes())?;
            }
        }
        None => write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?,
    }
    out.flush()
}

/// A target's inputs digest as `plan --format json` reports it.
#[derive(Clone, Debug, PartialEq)]
struct Inputs {
    digest: String,
    pinned: bool,
}

/// BuildKit's result for a target: its layers and its config without time fields, BuildKit's
/// inline cache record (it holds times) and the labels stackplan writes.
#[derive(Clone, Debug, PartialEq)]
struct Built {
    layers: Vec<String>,
    config: Value,
}

const TARGETS: [&str; 2] = ["root", "kid"];

/// A state of a shape's checkout, planned and built.
#[derive(Clone)]
struct Observed {
    inputs: BTreeMap<String, Inputs>,
    built: BTreeMap<String, Built>,
}

/// Why a state could not be observed.
enum Failure {
    /// stackplan refused the checkout (exit status and its first error line).
    Refused(String),
    /// BuildKit failed to build it.
    BuildFailed(String),
}

/// Plans the checkout online with `--full` (so every target is in the bake file, reused or
/// not: the oracle needs BuildKit's result), bakes it under the tag `1-<branch>`, and reads
/// the results back from the registry.
fn observe(repo: &Repo, ns: &str, base: &str, branch: &str) -> Result<Observed, Failure> {
    let args = |command: &'static str| -> Vec<String> {
        let mut a = vec![
            command.to_string(),
            "--full".into(),
            "--branch".into(),
            branch.into(),
            "--registry".into(),
            ns.into(),
            "--build-arg".into(),
            format!("BASE_IMAGE={base}"),
        ];
        if command == "plan" {
            a.extend(["--format".into(), "json".into()]);
        } else {
            a.push("--push".into());
        }
        a
    };
    let run = |command: &'static str| -> Result<String, Failure> {
        let a = args(command);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = stackplan(repo, &a, None);
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let line = stderr
                .lines()
                .find(|l| l.contains("error"))
                .or_else(|| stderr.lines().next())
                .unwrap_or_default();
            return Err(Failure::Refused(format!(
                "exit {:?}: {line}",
                out.status.code()
            )));
        }
        Ok(String::from_utf8(out.stdout).unwrap())
    };
    let plan: Value = serde_json::from_str(&run("plan")?).unwrap();
    let mut inputs = BTreeMap::new();
    for t in plan["targets"].as_array().unwrap() {
        inputs.insert(
            t["name"].as_str().unwrap().to_string(),
            Inputs {
                digest: t["inputs"]["digest"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                pinned: t["inputs"]["pinned"] == true,
            },
        );
    }
    let file = run("bake")?;
    let run = bake_fresh_transfer(repo, &file);
    if !run.success {
        let line = run
            .stderr
            .lines()
            .rev()
            .find(|l| l.contains("ERROR") || l.contains("error"))
            .unwrap_or("no error line")
            .chars()
            .take(200)
            .collect();
        return Err(Failure::BuildFailed(line));
    }
    let bake_file: Value = serde_json::from_str(&file).unwrap();
    let mut built = BTreeMap::new();
    for target in TARGETS {
        let reference = format!("{ns}/{target}:1-{branch}");
        let ours: Vec<String> = bake_file["target"][target]["labels"]
            .as_object()
            .map(|l| l.keys().cloned().collect())
            .unwrap_or_default();
        built.insert(
            target.to_string(),
            Built {
                layers: layers(&reference),
                config: normalized(config(&reference), &ours),
            },
        );
    }
    Ok(Observed { inputs, built })
}

/// An image config without what differs from build to build of the same inputs.
fn normalized(mut config: Value, stackplan_labels: &[String]) -> Value {
    let object = config
        .as_object_mut()
        .expect("an image config is an object");
    object.remove("created");
    object.remove("moby.buildkit.cache.v0");
    for entry in object
        .get_mut("history")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        entry.as_object_mut().map(|e| e.remove("created"));
    }
    if let Some(labels) = object
        .get_mut("config")
        .and_then(|c| c.get_mut("Labels"))
        .and_then(Value::as_object_mut)
    {
        for key in stackplan_labels {
            labels.remove(key);
        }
    }
    config
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Agree,
    /// The result moved and the target is unpinned: the change rules decide.
    Unpinned,
    Spurious,
    Miss,
}

struct Row {
    name: String,
    result_changed: String,
    digest_changed: String,
    verdict: String,
    miss: bool,
    spurious: bool,
}

/// Compares a mutation's state with its shape's baseline, target by target.
fn judge(mutation: &Mutation, before: &Observed, after: &Observed) -> Row {
    let mut result_changed = Vec::new();
    let mut digest_changed = Vec::new();
    let mut verdicts = Vec::new();
    for target in TARGETS {
        let changed = before.built[target] != after.built[target];
        let (b, a) = (&before.inputs[target], &after.inputs[target]);
        let moved = b.digest != a.digest;
        let pinned = b.pinned && a.pinned;
        if changed {
            result_changed.push(target);
        }
        if moved {
            digest_changed.push(target);
        }
        let verdict = match (changed, moved) {
            (true, false) if pinned => Verdict::Miss,
            (true, false) => Verdict::Unpinned,
            (false, true) => Verdict::Spurious,
            _ => Verdict::Agree,
        };
        verdicts.push((verdict, target));
    }
    let worst = verdicts.iter().map(|(v, _)| *v).max().unwrap();
    let of = |v: Verdict| {
        verdicts
            .iter()
            .filter(|(w, _)| *w == v)
            .map(|(_, t)| *t)
            .collect::<Vec<_>>()
            .join(",")
    };
    let verdict = match worst {
        Verdict::Miss => format!("MISS ({})", of(Verdict::Miss)),
        Verdict::Spurious => match mutation.spurious_ok {
            Some(why) => format!("spurious, expected: {why}"),
            None => format!("spurious ({})", of(Verdict::Spurious)),
        },
        Verdict::Unpinned => format!("fine: unpinned ({})", of(Verdict::Unpinned)),
        Verdict::Agree => "agree".into(),
    };
    let list = |v: Vec<&str>| {
        if v.is_empty() {
            "no".to_string()
        } else {
            v.join(",")
        }
    };
    Row {
        name: mutation.name.into(),
        result_changed: list(result_changed),
        digest_changed: list(digest_changed),
        verdict,
        miss: worst == Verdict::Miss,
        spurious: worst == Verdict::Spurious,
    }
}

fn row(mutation: &Mutation, verdict: String) -> Row {
    Row {
        name: mutation.name.into(),
        result_changed: "-".into(),
        digest_changed: "-".into(),
        verdict,
        miss: false,
        spurious: false,
    }
}

/// A shape built once: its repository and what the baseline plans and builds to.
struct Baseline {
    repo: Repo,
    ns: String,
    observed: Result<Observed, String>,
}

#[test]
fn the_inputs_digest_moves_whenever_buildkit_builds_something_else() {
    let Some(env) = Env::require() else { return };
    let started = Instant::now();
    let filter = std::env::var("STACKPLAN_ORACLE").unwrap_or_default();
    let corpus: Vec<Mutation> = corpus()
        .into_iter()
        .filter(|m| m.name.contains(filter.as_str()))
        .collect();
    assert!(
        !corpus.is_empty(),
        "STACKPLAN_ORACLE={filter:?} names no mutation"
    );
    let fx = Fixture::new(&env);
    let base = format!("{}/base:1", fx.ns);
    let mut baselines: BTreeMap<Shape, Baseline> = BTreeMap::new();
    let mut rows = Vec::new();
    for (index, mutation) in corpus.iter().enumerate() {
        let baseline = baselines.entry(mutation.shape).or_insert_with(|| {
            let repo = shape_repo(mutation.shape, &fx);
            let ns = format!("{}/{:?}", fx.ns, mutation.shape).to_lowercase();
            let observed = observe(&repo, &ns, &base, "base").map_err(|f| match f {
                Failure::Refused(e) => format!("NO BASELINE: stackplan refused the shape: {e}"),
                // BuildKit is the oracle: what it cannot build, no digest can get wrong.
                Failure::BuildFailed(e) => {
                    format!("not buildable by this engine's BuildKit: {e}")
                }
            });
            Baseline { repo, ns, observed }
        });
        let before = match &baseline.observed {
            Ok(observed) => observed.clone(),
            Err(e) => {
                rows.push(row(mutation, e.clone()));
                continue;
            }
        };
        let checkout = Checkout {
            repo: baseline.repo.copy(),
            fx: &fx,
            skipped: RefCell::default(),
        };
        (mutation.apply)(&checkout);
        let branch = format!("m{index}");
        let verdict = if let Some(why) = checkout.skipped.take() {
            row(mutation, format!("skipped: {why}"))
        } else {
            match observe(&checkout.repo, &baseline.ns, &base, &branch) {
                Err(Failure::Refused(e)) => row(mutation, format!("refused by stackplan: {e}")),
                Err(Failure::BuildFailed(e)) => row(mutation, format!("BuildKit failed: {e}")),
                Ok(after) => {
                    let mut judged = judge(mutation, &before, &after);
                    if judged.miss {
                        fx.reset();
                        // The builder's cache may have been pruned meanwhile (other test
                        // runs share the engine): then the unchanged shape builds anew too,
                        // and only a result that differs from a warm rebuild is a miss.
                        let control = baseline.repo.copy();
                        if let Ok(again) =
                            observe(&control, &baseline.ns, &base, &format!("{branch}-control"))
                            && again.built != before.built
                        {
                            judged = judge(mutation, &again, &after);
                            judged.verdict.push_str(
                                " (the cache was cold: judged against a rebuilt baseline)",
                            );
                            baseline.observed = Ok(again);
                        }
                    }
                    judged
                }
            }
        };
        fx.reset();
        eprintln!(
            "oracle: {}: {} ({:.0?})",
            mutation.name,
            verdict.verdict,
            started.elapsed()
        );
        rows.push(verdict);
    }

    let width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(8);
    let mut table = format!(
        "{:width$} | result changed | digest changed | verdict\n",
        "mutation"
    );
    for r in &rows {
        table.push_str(&format!(
            "{:width$} | {:14} | {:14} | {}\n",
            r.name, r.result_changed, r.digest_changed, r.verdict
        ));
    }
    let misses: Vec<&str> = rows
        .iter()
        .filter(|r| r.miss)
        .map(|r| r.name.as_str())
        .collect();
    let spurious = rows.iter().filter(|r| r.spurious).count();
    let broken: Vec<&str> = rows
        .iter()
        .filter(|r| r.verdict.starts_with("NO BASELINE"))
        .map(|r| r.name.as_str())
        .collect();
    table.push_str(&format!(
        "oracle: {} mutations, {} misses, {spurious} spurious ({:.0?})\n",
        rows.len(),
        misses.len(),
        started.elapsed()
    ));
    println!("{table}");
    let report = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oracle.txt");
    let _ = std::fs::write(&report, &table);
    assert!(
        misses.is_empty() && broken.is_empty(),
        "BuildKit built something else under an equal pinned inputs digest for {} mutation(s): {misses:#?}\nshapes that could not be judged: {broken:#?}\n{table}(also in {})",
        misses.len(),
        report.display()
    );
}
