//! The reader against real checkouts: temporary git repositories made with the `git`
//! command, read committed and uncommitted.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use super::*;
use crate::context::{ContextEntry, blob_id};
use crate::error::Error;

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    /// An empty repository on `main`, with no global setting able to change its checkout.
    fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.name", "Test"]);
        repo.git(&["config", "user.email", "test@example.invalid"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo.git(&["config", "core.autocrlf", "false"]);
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, path: &str, contents: impl AsRef<[u8]>) -> &Self {
        let p = self.path().join(path);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
        std::fs::write(p, contents).expect("write");
        self
    }

    fn chmod(&self, path: &str, mode: u32) -> &Self {
        std::fs::set_permissions(
            self.path().join(path),
            std::fs::Permissions::from_mode(mode),
        )
        .expect("chmod");
        self
    }

    fn symlink(&self, path: &str, target: &str) -> &Self {
        let p = self.path().join(path);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
        std::os::unix::fs::symlink(target, p).expect("symlink");
        self
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(self.path())
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn commit(&self) -> &Self {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", "commit"]);
        self
    }

    /// The context of image `x` in `folder`, read from the repository root.
    fn read(&self, folder: &str) -> Result<ContextFiles> {
        self.read_in(self.path(), folder, "Dockerfile")
    }

    fn read_in(&self, root: &Path, folder: &str, dockerfile: &str) -> Result<ContextFiles> {
        let mut contexts = read_contexts(
            root,
            &[ContextRequest {
                key: "x".into(),
                folder: folder.into(),
                dockerfile: dockerfile.into(),
                dockerfile_id: None,
            }],
        )?;
        Ok(contexts.remove("x").expect("the context of x"))
    }

    fn context(&self, folder: &str) -> ContextFiles {
        match self.read(folder) {
            Ok(c) => c,
            Err(e) => panic!("reading {folder}: {e}"),
        }
    }
}

fn paths(context: &ContextFiles) -> Vec<&str> {
    context.entries.iter().map(|e| e.path.as_str()).collect()
}

fn entry<'a>(context: &'a ContextFiles, path: &str) -> &'a ContextEntry {
    match context.entries.iter().find(|e| e.path == path) {
        Some(e) => e,
        None => panic!("no entry {path} in {:?}", paths(context)),
    }
}

/// A small image folder with a file, an executable, a subfolder and a link.
fn sample(repo: &Repo) {
    repo.write("images/x/Dockerfile", "FROM scratch\nCOPY . /\n")
        .write("images/x/run.sh", "#!/bin/sh\necho hi\n")
        .chmod("images/x/run.sh", 0o755)
        .write("images/x/conf/app.conf", "a = 1\n")
        .symlink("images/x/current.conf", "conf/app.conf")
        .write("images/y/Dockerfile", "FROM x\n")
        .write("README.md", "outside\n");
}

#[test]
fn a_dockerfile_id_the_caller_knows_is_not_read_again() {
    let repo = Repo::new();
    sample(&repo);
    let request = |dockerfile_id| ContextRequest {
        key: "x".into(),
        folder: "images/x".into(),
        dockerfile: "Dockerfile".into(),
        dockerfile_id,
    };
    let read = |request| {
        super::read_contexts(repo.path(), &[request])
            .unwrap()
            .remove("x")
            .unwrap()
    };
    let known = blob_id(b"FROM scratch\nCOPY . /\n");
    let from_disk = read(request(None));
    assert_eq!(from_disk.dockerfile_id, known);
    assert_eq!(read(request(Some(known))), from_disk);
    // The id given is the one used, for the Dockerfile and for its entry in the context.
    let given = "0".repeat(40);
    let context = read(request(Some(given.clone())));
    assert_eq!(context.dockerfile_id, given);
    assert!(
        matches!(&entry(&context, "Dockerfile").kind, EntryKind::File { id, .. } if *id == given)
    );
}

#[test]
fn committed_and_uncommitted_give_the_same_context() {
    let repo = Repo::new();
    sample(&repo);
    let untracked = repo.context("images/x");
    repo.commit();
    let committed = repo.context("images/x");
    assert_eq!(untracked.entries, committed.entries);
    assert_eq!(untracked.dockerfile_id, committed.dockerfile_id);
    assert_eq!(untracked.digest(), committed.digest());

    assert_eq!(
        paths(&committed),
        [
            "Dockerfile",
            "conf",
            "conf/app.conf",
            "current.conf",
            "run.sh"
        ]
    );
    assert!(matches!(
        entry(&committed, "conf").kind,
        EntryKind::Dir { .. }
    ));
    assert_eq!(
        entry(&committed, "run.sh").kind,
        EntryKind::File {
            mode: 0o755,
            hardlink: String::new(),
            id: blob_id(b"#!/bin/sh\necho hi\n"),
        }
    );
    assert_eq!(
        entry(&committed, "conf/app.conf").kind,
        EntryKind::File {
            mode: 0o644,
            hardlink: String::new(),
            id: blob_id(b"a = 1\n"),
        }
    );
    assert_eq!(
        committed.dockerfile_id,
        blob_id(b"FROM scratch\nCOPY . /\n")
    );
}

#[test]
fn file_names_are_kept_as_they_are() {
    let repo = Repo::new();
    sample(&repo);
    repo.write("images/x/back\\slash", "1")
        .write("images/x/ space ", "2");
    let untracked = repo.context("images/x");
    repo.commit();
    let committed = repo.context("images/x");
    assert_eq!(untracked.digest(), committed.digest());
    assert!(paths(&committed).contains(&"back\\slash"));
    assert!(paths(&committed).contains(&" space "));
}

#[test]
fn a_symlink_is_its_target_text() {
    let repo = Repo::new();
    sample(&repo);
    repo.symlink("images/x/conf/up", "../run.sh").commit();
    let context = repo.context("images/x");
    assert_eq!(
        entry(&context, "current.conf").kind,
        EntryKind::Symlink {
            target: "conf/app.conf".into()
        }
    );
    assert_eq!(
        entry(&context, "conf/up").kind,
        EntryKind::Symlink {
            target: "../run.sh".into()
        }
    );
}

#[test]
fn what_changes_the_digest_and_what_does_not() {
    let repo = Repo::new();
    sample(&repo);
    repo.write("images/x/.dockerignore", "*.log\n").commit();
    let base = repo.context("images/x").digest();

    // A file outside the folder.
    repo.write("README.md", "changed\n")
        .write("images/y/Dockerfile", "FROM z\n");
    assert_eq!(repo.context("images/x").digest(), base);

    // A dockerignored file, new or changed.
    repo.write("images/x/debug.log", "1\n");
    assert_eq!(repo.context("images/x").digest(), base);
    repo.commit().write("images/x/debug.log", "2\n");
    assert_eq!(repo.context("images/x").digest(), base);

    // One byte.
    repo.write("images/x/conf/app.conf", "a = 2\n");
    let changed = repo.context("images/x");
    assert_ne!(changed.digest(), base);
    repo.write("images/x/conf/app.conf", "a = 1\n");
    assert_eq!(repo.context("images/x").digest(), base);

    // The executable bit.
    repo.chmod("images/x/conf/app.conf", 0o744);
    assert_ne!(repo.context("images/x").digest(), base);
    repo.chmod("images/x/conf/app.conf", 0o644);
    assert_eq!(repo.context("images/x").digest(), base);

    // A new empty folder is sent too.
    std::fs::create_dir(repo.path().join("images/x/empty")).expect("mkdir");
    assert_ne!(repo.context("images/x").digest(), base);
}

#[test]
fn a_dockerfile_link_is_read_through() {
    let repo = Repo::new();
    sample(&repo);
    repo.write("images/x/Dockerfile.real", "FROM real\n");
    std::fs::remove_file(repo.path().join("images/x/Dockerfile")).expect("rm");
    repo.symlink("images/x/Dockerfile", "Dockerfile.real")
        .commit();
    let context = repo.context("images/x");
    assert_eq!(context.dockerfile_id, blob_id(b"FROM real\n"));
    assert_eq!(
        entry(&context, "Dockerfile").kind,
        EntryKind::Symlink {
            target: "Dockerfile.real".into()
        }
    );
}

#[test]
fn gitignored_files_are_in_the_context() {
    let repo = Repo::new();
    sample(&repo);
    repo.write(".gitignore", "*.tmp\n")
        .commit()
        .write("images/x/cache.tmp", "x");
    assert!(paths(&repo.context("images/x")).contains(&"cache.tmp"));
}

#[test]
fn dockerignore_excludes_and_reincludes() {
    let repo = Repo::new();
    sample(&repo);
    repo.write("images/x/docs/a.md", "a")
        .write("images/x/docs/keep/b.md", "b")
        .write("images/x/docs/keep/c.txt", "c")
        .write(
            "images/x/.dockerignore",
            "docs\n!docs/keep/*.md\nDockerfile\n",
        )
        .commit();
    let context = repo.context("images/x");
    assert_eq!(
        paths(&context),
        [
            ".dockerignore",
            "conf",
            "conf/app.conf",
            "current.conf",
            "docs",
            "docs/keep",
            "docs/keep/b.md",
            "run.sh"
        ]
    );
    // An excluded Dockerfile still has its id.
    assert_eq!(context.dockerfile_id, blob_id(b"FROM scratch\nCOPY . /\n"));
}

#[test]
fn the_dockerfile_ignore_file_wins() {
    let repo = Repo::new();
    sample(&repo);
    repo.write("images/x/.dockerignore", "run.sh\n")
        .write("images/x/Dockerfile.dockerignore", "conf\n")
        .write("images/x/Dockerfile.dev", "FROM scratch\n");
    let context = repo.context("images/x");
    assert!(paths(&context).contains(&"run.sh"));
    assert!(!paths(&context).contains(&"conf"));
    // Another Dockerfile in the folder has no ignore file of its own: `.dockerignore`.
    let dev = repo
        .read_in(repo.path(), "images/x", "Dockerfile.dev")
        .expect("reads");
    assert!(!paths(&dev).contains(&"run.sh"));
    assert!(paths(&dev).contains(&"conf"));
    assert_eq!(dev.dockerfile_id, blob_id(b"FROM scratch\n"));
}

#[test]
fn a_dockerfile_outside_the_folder_brings_its_ignore_file() {
    let repo = Repo::new();
    sample(&repo);
    repo.write("images/common/Dockerfile", "FROM common\n")
        .write("images/common/Dockerfile.dockerignore", "run.sh\n");
    let context = repo
        .read_in(repo.path(), "images/x", "../common/Dockerfile")
        .expect("reads");
    assert_eq!(context.dockerfile_id, blob_id(b"FROM common\n"));
    assert!(!paths(&context).contains(&"run.sh"));
    assert!(paths(&context).contains(&"Dockerfile"));
}

#[test]
fn a_symlink_leaving_the_context_is_an_error() {
    for target in ["../y/Dockerfile", "/etc/hostname", "conf/../../y"] {
        let repo = Repo::new();
        sample(&repo);
        repo.symlink("images/x/shared", target);
        let err = repo.read("images/x").expect_err(target);
        let message = err.to_string();
        assert!(
            message.contains("images/x/shared") && message.contains(target),
            "{message}"
        );
        let help = err.help().unwrap_or_default();
        assert!(help.contains("BuildKit sends the link"), "{help}");
        assert!(help.contains("images/x/.dockerignore"), "{help}");
        assert_eq!(err.exit_code(), 2);

        // Listed in .dockerignore, it is fine.
        repo.write("images/x/.dockerignore", "shared\n");
        assert!(!paths(&repo.context("images/x")).contains(&"shared"));
    }
}

#[test]
fn a_special_file_is_an_error() {
    let repo = Repo::new();
    sample(&repo);
    let fifo = repo.path().join("images/x/pipe");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let err = repo.read("images/x").expect_err("a FIFO");
    assert!(err.to_string().contains("images/x/pipe"), "{err}");
    assert!(err.to_string().contains("FIFO"), "{err}");
    assert!(err.help().unwrap_or_default().contains(".dockerignore"));
    repo.write("images/x/.dockerignore", "pipe\n");
    repo.context("images/x");
}

#[test]
fn an_unreadable_file_is_an_error() {
    let repo = Repo::new();
    sample(&repo);
    repo.write("images/x/secret", "s")
        .chmod("images/x/secret", 0o000);
    if std::fs::read(repo.path().join("images/x/secret")).is_ok() {
        // Root reads any file whatever its mode; hash.rs tests the same error path with
        // a read that fails for root too.
        println!("note: running as root, a mode-000 file is readable: skipped");
        return;
    }
    let err = repo.read("images/x").expect_err("unreadable");
    assert!(err.to_string().contains("images/x/secret"), "{err}");
    let help = err.help().unwrap_or_default();
    assert!(
        help.contains("permissions") && help.contains(".dockerignore"),
        "{help}"
    );
}

#[test]
fn an_unreadable_file_names_itself_and_the_fixes() {
    let repo = Repo::new();
    sample(&repo);
    let walked = walk::walk(
        repo.path(),
        &ContextRequest {
            key: "x".into(),
            folder: "images/x".into(),
            dockerfile: "Dockerfile".into(),
            dockerfile_id: None,
        },
    )
    .expect("walks");
    let err = walked.unreadable(
        repo.path(),
        "images/x/conf/app.conf",
        std::io::Error::from(std::io::ErrorKind::PermissionDenied),
    );
    assert!(err.to_string().contains("images/x/conf/app.conf"), "{err}");
    let help = err.help().unwrap_or_default();
    assert!(
        help.contains("`conf/app.conf`") && help.contains("images/x/.dockerignore"),
        "{help}"
    );
}

#[test]
fn a_bad_dockerignore_is_an_error_with_its_line() {
    let repo = Repo::new();
    sample(&repo);
    repo.write("images/x/.dockerignore", "ok\n[oops\n");
    let Err(Error::Invalid { diagnostics, .. }) = repo.read("images/x") else {
        panic!("expected an invalid .dockerignore");
    };
    assert_eq!(
        diagnostics[0].file.as_deref(),
        Some(Path::new("images/x/.dockerignore"))
    );
    assert_eq!(diagnostics[0].position.map(|p| p.line), Some(2));
}

#[test]
fn missing_folders_and_dockerfiles_are_errors() {
    let repo = Repo::new();
    sample(&repo);
    let err = repo.read("images/nope").expect_err("no folder");
    assert!(err.to_string().contains("images/nope"), "{err}");
    let err = repo
        .read_in(repo.path(), "images/x", "Dockerfile.missing")
        .expect_err("no Dockerfile");
    assert!(
        err.to_string().contains("images/x/Dockerfile.missing"),
        "{err}"
    );
}

#[test]
fn a_file_replaced_by_a_link_is_not_taken_from_the_index() {
    let repo = Repo::new();
    sample(&repo);
    repo.commit();
    std::fs::remove_file(repo.path().join("images/x/conf/app.conf")).expect("rm");
    repo.symlink("images/x/conf/app.conf", "../run.sh");
    let context = repo.context("images/x");
    assert_eq!(
        entry(&context, "conf/app.conf").kind,
        EntryKind::Symlink {
            target: "../run.sh".into()
        }
    );
}

#[test]
fn a_root_below_the_repository_top_uses_git_too() {
    let repo = Repo::new();
    sample(&repo);
    repo.commit();
    let root = repo.path().join("images");
    let below = repo.read_in(&root, "x", "Dockerfile").expect("reads");
    let top = repo.context("images/x");
    assert_eq!(below.digest(), top.digest());
}

#[test]
fn outside_git_every_file_is_hashed() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("x")).expect("mkdir");
    std::fs::write(dir.path().join("x/Dockerfile"), "FROM scratch\n").expect("write");
    let contexts = read_contexts(
        dir.path(),
        &[ContextRequest {
            key: "x".into(),
            folder: "x".into(),
            dockerfile: "Dockerfile".into(),
            dockerfile_id: None,
        }],
    )
    .expect("reads");
    assert_eq!(contexts["x"].dockerfile_id, blob_id(b"FROM scratch\n"));
}

#[test]
fn many_contexts_in_one_read() {
    let repo = Repo::new();
    for i in 0..150 {
        repo.write(
            &format!("images/i{i}/Dockerfile"),
            format!("FROM scratch\n# {i}\n"),
        )
        .write(&format!("images/i{i}/file"), format!("{i}\n"));
    }
    repo.commit();
    // Half of them modified: those are hashed (over threads), the rest come from git.
    for i in (0..150).step_by(2) {
        repo.write(&format!("images/i{i}/file"), format!("{i} changed\n"));
    }
    let requests: Vec<ContextRequest> = (0..150)
        .map(|i| ContextRequest {
            key: format!("i{i}"),
            folder: format!("images/i{i}"),
            dockerfile: "Dockerfile".into(),
            dockerfile_id: None,
        })
        .collect();
    let contexts = read_contexts(repo.path(), &requests).expect("reads");
    assert_eq!(contexts.len(), 150);
    for i in 0..150 {
        let context = &contexts[&format!("i{i}")];
        let expected = if i % 2 == 0 {
            format!("{i} changed\n")
        } else {
            format!("{i}\n")
        };
        assert_eq!(
            entry(context, "file").kind,
            EntryKind::File {
                mode: 0o644,
                hardlink: String::new(),
                id: blob_id(expected.as_bytes())
            }
        );
    }
}

/// Issue 22 case 1: every mode bit BuildKit keeps moves the digest, files and folders.
#[test]
fn every_mode_bit_changes_the_digest() {
    let repo = Repo::new();
    sample(&repo);
    let base = repo.context("images/x").digest();
    for (path, mode, back) in [
        ("images/x/conf/app.conf", 0o600, 0o644),
        ("images/x/conf/app.conf", 0o664, 0o644),
        ("images/x/conf/app.conf", 0o4644, 0o644),
        ("images/x/run.sh", 0o700, 0o755),
        ("images/x/run.sh", 0o744, 0o755),
        ("images/x/conf", 0o700, 0o755),
        ("images/x/conf", 0o1755, 0o755),
        ("images/x/conf", 0o2755, 0o755),
    ] {
        repo.chmod(path, mode);
        assert_ne!(repo.context("images/x").digest(), base, "{path} {mode:o}");
        repo.chmod(path, back);
        assert_eq!(repo.context("images/x").digest(), base, "{path} {back:o}");
    }
}

/// Issue 22 case 1: a hard link is sent as one (fsutil's `Linkname`), so it is hashed as
/// one; extended attributes are sent, so they are hashed.
#[test]
fn hard_links_and_extended_attributes_change_the_digest() {
    let repo = Repo::new();
    sample(&repo);
    repo.write("images/x/copy.conf", "a = 1\n");
    let copied = repo.context("images/x");
    std::fs::remove_file(repo.path().join("images/x/copy.conf")).expect("rm");
    std::fs::hard_link(
        repo.path().join("images/x/conf/app.conf"),
        repo.path().join("images/x/copy.conf"),
    )
    .expect("ln");
    let linked = repo.context("images/x");
    assert_ne!(copied.digest(), linked.digest());
    // The first path in fsutil's walk order (`conf` before `copy.conf`) is the target.
    assert!(matches!(
        &entry(&linked, "copy.conf").kind,
        EntryKind::File { hardlink, .. } if hardlink == "conf/app.conf"
    ));
    assert!(matches!(
        &entry(&linked, "conf/app.conf").kind,
        EntryKind::File { hardlink, .. } if hardlink.is_empty()
    ));

    let file = repo.path().join("images/x/run.sh");
    if xattr::set(&file, "user.stackplan", b"1").is_ok() {
        let with = repo.context("images/x");
        assert_ne!(with.digest(), linked.digest());
        assert_eq!(
            entry(&with, "run.sh").xattrs,
            [("user.stackplan".to_string(), b"1".to_vec())]
        );
    } else {
        eprintln!("this file system keeps no user xattrs: that half is not tested here");
    }
}

/// Issue 22 case 7: the working tree's bytes decide, whatever git's index holds. A commit
/// that drops an `eol=crlf` rule leaves CRLF bytes on disk; they are what is hashed.
#[test]
fn a_working_tree_git_would_check_out_differently_is_hashed_as_it_is() {
    let repo = Repo::new();
    sample(&repo);
    repo.write(".gitattributes", "*.txt text eol=crlf\n")
        .write("images/x/crlf.txt", "a\r\nb\r\n")
        .commit();
    std::fs::remove_file(repo.path().join(".gitattributes")).expect("rm");
    repo.commit();
    let context = repo.context("images/x");
    assert_eq!(
        entry(&context, "crlf.txt").kind,
        EntryKind::File {
            mode: 0o644,
            hardlink: String::new(),
            id: blob_id(b"a\r\nb\r\n")
        }
    );
}

/// Issue 22 case 7: a same-size edit with its mtime put back, under
/// `core.trustctime=false`, is seen.
#[test]
fn a_same_size_edit_git_misses_is_seen() {
    let repo = Repo::new();
    sample(&repo);
    repo.git(&["config", "core.trustctime", "false"]);
    repo.commit();
    let before = repo.context("images/x");
    let path = repo.path().join("images/x/conf/app.conf");
    let mtime = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    repo.write("images/x/conf/app.conf", "a = 9\n");
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(mtime))
        .expect("touch");
    let after = repo.context("images/x");
    assert_ne!(before.digest(), after.digest());
    assert!(matches!(
        &entry(&after, "conf/app.conf").kind,
        EntryKind::File { id, .. } if *id == blob_id(b"a = 9\n")
    ));
}

/// Issue 22 case 8: a `.dockerignore` that is a symlink is read through inside the
/// context; one that leads out of it, or a folder, is no ignore file.
#[test]
fn a_dockerignore_link_resolves_inside_the_context_and_a_folder_is_none() {
    let repo = Repo::new();
    sample(&repo);
    repo.write("images/x/ci/ignore", "run.sh\n")
        .symlink("images/x/.dockerignore", "ci/ignore");
    assert!(!paths(&repo.context("images/x")).contains(&"run.sh"));

    // A link inside the context whose own folder is reached through `..`.
    std::fs::remove_file(repo.path().join("images/x/.dockerignore")).expect("rm");
    repo.symlink("images/x/.dockerignore", "conf/../ci/ignore");
    assert!(!paths(&repo.context("images/x")).contains(&"run.sh"));

    // Out of the context: BuildKit would find nothing at the link's target inside it, and
    // the link itself is refused like any link out of the context, with its fix.
    std::fs::remove_file(repo.path().join("images/x/.dockerignore")).expect("rm");
    repo.write("images/outside-ignore", "run.sh\n")
        .symlink("images/x/.dockerignore", "../outside-ignore");
    let err = repo
        .read("images/x")
        .expect_err("a link out of the context");
    assert!(
        err.to_string().contains("outside the build context"),
        "{err}"
    );

    std::fs::remove_file(repo.path().join("images/x/.dockerignore")).expect("rm");
    std::fs::create_dir_all(repo.path().join("images/x/.dockerignore")).expect("mkdir");
    let context = repo.context("images/x");
    assert!(paths(&context).contains(&"run.sh"));
    assert!(paths(&context).contains(&".dockerignore"));
}

/// Issue 22 case 8: stackplan's advice for a name that is not UTF-8 works: the pattern it
/// shows leaves the file out (BuildKit compares bytes; `?` matches the bad byte).
#[test]
fn a_name_that_is_not_utf8_gets_a_pattern_that_works() {
    use std::os::unix::ffi::OsStrExt;
    let repo = Repo::new();
    sample(&repo);
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(repo.path().join("images/x").join(name), "x").expect("write");
    let err = repo.read("images/x").expect_err("refused");
    let help = err.help().unwrap_or_default();
    assert!(help.contains("list `caf?.txt` in"), "{help}");
    repo.write("images/x/.dockerignore", "caf?.txt\n");
    assert!(
        !paths(&repo.context("images/x"))
            .iter()
            .any(|p| p.starts_with("caf"))
    );
}

/// Issue 22 case 8: `\d` in a pattern is a digit, as in BuildKit's Go regexp.
#[test]
fn regexp_escapes_mean_what_buildkit_makes_of_them() {
    let repo = Repo::new();
    sample(&repo);
    repo.write("images/x/log1", "1")
        .write("images/x/logd", "d")
        .write("images/x/.dockerignore", "log\\d\n");
    let context = repo.context("images/x");
    assert!(!paths(&context).contains(&"log1"));
    assert!(paths(&context).contains(&"logd"));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Up to 8 files in up to 3 levels, with contents and executable bits; no path is
    /// both a file and a folder.
    fn tree() -> impl Strategy<Value = Vec<(String, Vec<u8>, bool)>> {
        let path = prop::collection::vec(prop::sample::select(vec!["a", "b", "c.txt"]), 1..4)
            .prop_map(|parts| parts.join("/"));
        prop::collection::btree_map(
            path,
            (prop::collection::vec(any::<u8>(), 1..64), any::<bool>()),
            1..8,
        )
        .prop_map(|files| {
            let names: Vec<String> = files.keys().cloned().collect();
            files
                .into_iter()
                .filter(|(p, _)| {
                    !names
                        .iter()
                        .any(|other| other.starts_with(&format!("{p}/")))
                })
                .map(|(p, (bytes, exec))| (p, bytes, exec))
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        #[test]
        fn committed_or_not_one_digest_and_every_byte_counts(
            files in tree(),
            pick in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
            flip in 1..=255u8,
        ) {
            let repo = Repo::new();
            repo.write("images/x/Dockerfile", "FROM scratch\n");
            for (path, bytes, exec) in &files {
                let path = format!("images/x/{path}");
                repo.write(&path, bytes).chmod(&path, if *exec { 0o755 } else { 0o644 });
            }
            let untracked = repo.context("images/x");
            repo.commit();
            let committed = repo.context("images/x");
            prop_assert_eq!(untracked.digest(), committed.digest());

            let (path, bytes, _) = &files[pick.index(files.len())];
            let mut changed = bytes.clone();
            let i = at.index(changed.len());
            changed[i] ^= flip;
            repo.write(&format!("images/x/{path}"), &changed);
            prop_assert_ne!(repo.context("images/x").digest(), committed.digest());
        }
    }
}

/// The digest and FileSync read one walker: for random trees and `.dockerignore`s, the
/// entries hashed are the entries `stackplan build` sends, with the same metadata.
mod hashed_is_sent {
    use super::*;
    use crate::buildkit::filesync;
    use crate::context_reader::walk::{Filter, Kind};
    use crate::dockerignore::Dockerignore;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Clone, Debug)]
    enum Node {
        File(Vec<u8>, u32),
        Link(&'static str),
        Dir(u32),
    }

    fn tree() -> impl Strategy<Value = BTreeMap<String, Node>> {
        let path = prop::collection::vec(prop::sample::select(vec!["a", "b", "c.md", "d1"]), 1..4)
            .prop_map(|parts| parts.join("/"));
        let node = prop_oneof![
            (
                prop::collection::vec(any::<u8>(), 0..16),
                prop::sample::select(vec![0o644, 0o600, 0o755, 0o700, 0o664, 0o4755, 0o444])
            )
                .prop_map(|(b, m)| Node::File(b, m)),
            prop::sample::select(vec!["a", "b/c.md", "d1", "nowhere"]).prop_map(Node::Link),
            prop::sample::select(vec![0o755, 0o700, 0o775, 0o1777]).prop_map(Node::Dir),
        ];
        prop::collection::btree_map(path, node, 1..10).prop_map(|nodes| {
            let names: Vec<String> = nodes.keys().cloned().collect();
            nodes
                .into_iter()
                .filter(|(p, n)| {
                    matches!(n, Node::Dir(_))
                        || !names.iter().any(|o| o.starts_with(&format!("{p}/")))
                })
                .collect()
        })
    }

    fn ignore() -> impl Strategy<Value = String> {
        let line = prop::sample::select(vec![
            "a",
            "!a/b",
            "*.md",
            "!c.md",
            "**/d1",
            "b/**",
            "!b/a",
            "a/*",
            "d?",
            "[ab]/c.md",
            "!**/c.md",
            "d\\d",
            "*",
            "!a",
        ]);
        prop::collection::vec(line, 0..5).prop_map(|lines| lines.join("\n"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn the_digest_hashes_what_filesync_sends(nodes in tree(), ignore in ignore()) {
            let dir = tempfile::tempdir().expect("temp dir");
            let root = dir.path();
            std::fs::write(root.join("Dockerfile"), "FROM scratch\n").expect("write");
            std::fs::write(root.join(".dockerignore"), &ignore).expect("write");
            for (path, node) in &nodes {
                let p = root.join(path);
                std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
                match node {
                    Node::File(bytes, mode) => {
                        std::fs::write(&p, bytes).expect("write");
                        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).expect("chmod");
                    }
                    Node::Link(target) => {
                        // `..` as deep as the link is, so it stays in the context.
                        let up = "../".repeat(path.matches('/').count());
                        std::os::unix::fs::symlink(format!("{up}{target}"), &p).expect("ln");
                    }
                    Node::Dir(_) => std::fs::create_dir_all(&p).expect("mkdir"),
                }
            }
            // Folder modes last: their files were written first.
            for (path, node) in nodes.iter().rev() {
                if let Node::Dir(mode) = node {
                    std::fs::set_permissions(root.join(path), std::fs::Permissions::from_mode(*mode)).expect("chmod");
                }
            }
            let request = ContextRequest {
                key: "x".into(),
                folder: String::new(),
                dockerfile: "Dockerfile".into(),
                dockerfile_id: None,
            };
            let hashed = super::read_contexts(root, &[request]).expect("reads").remove("x").expect("x");
            let filter = Filter {
                excludes: Dockerignore::parse(&ignore, Path::new(".dockerignore")).expect("parses"),
                ..Filter::default()
            };
            let sent = filesync::stats(root, &filter).expect("walks");

            let sent_paths: Vec<&str> = sent.iter().map(|s| s.path.as_str()).collect();
            prop_assert_eq!(paths(&hashed), {
                let mut p = sent_paths.clone();
                p.sort_unstable();
                p
            });
            for stat in &sent {
                let e = entry(&hashed, &stat.path);
                let xattrs: Vec<(String, Vec<u8>)> = stat.xattrs.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<BTreeMap<_, _>>().into_iter().collect();
                prop_assert_eq!(&e.xattrs, &xattrs);
                match (&e.kind, filesync::kind(stat)) {
                    (EntryKind::Dir { mode }, Kind::Dir) => prop_assert_eq!(*mode, filesync::unix_mode(stat)),
                    (EntryKind::Symlink { target }, Kind::Symlink) => prop_assert_eq!(target, &stat.linkname),
                    (EntryKind::File { mode, id, hardlink }, Kind::File) => {
                        prop_assert_eq!(*mode, filesync::unix_mode(stat));
                        prop_assert_eq!(hardlink, &stat.linkname);
                        let bytes = std::fs::read(root.join(&stat.path)).expect("read");
                        prop_assert_eq!(id, &blob_id(&bytes));
                        prop_assert_eq!(stat.size, bytes.len() as i64);
                    }
                    (kind, sent) => prop_assert!(false, "{}: hashed {:?}, sent {:?}", stat.path, kind, sent),
                }
            }
        }
    }
}
