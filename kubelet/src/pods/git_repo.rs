//! `gitRepo` volumes: an empty directory with a repository cloned into it
//! once, before the pod's containers start, as Kubernetes' kubelet does it
//! (it runs the node's `git`): `git clone -- <repository> [<directory>]` in
//! the volume, then, when a revision is given, `git checkout <revision>` and
//! `git reset --hard` in the clone. The clone is never pulled again.
//!
//! A marker beside the volume (not in it) records a finished clone, so a
//! kubelet that restarts does not clone into a directory that has one.
//!
//! The compose cluster has no network: the kubelab image's `/etc/gitconfig`
//! sends `https://github.com/` to the mirrors in `/var/lib/kubelab/git`
//! (git's own `url.<base>.insteadOf`), where the image carries the book's
//! repository. The kubelet itself knows nothing of that.

use k8s_openapi::api::core::v1::GitRepoVolumeSource;
use std::path::{Path, PathBuf};

/// Clones the repository into `dir` (made if missing) unless a clone finished before.
pub async fn set_up(git: &GitRepoVolumeSource, dir: &Path) -> Result<(), String> {
    let ready = ready_marker(dir);
    if ready.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    match clone(git, dir).await {
        Ok(()) => std::fs::write(&ready, b"").map_err(|e| format!("write {}: {e}", ready.display())),
        Err(e) => {
            // The next try starts from an empty directory, not from half a clone.
            let _ = std::fs::remove_dir_all(dir);
            Err(e)
        }
    }
}

async fn clone(git: &GitRepoVolumeSource, dir: &Path) -> Result<(), String> {
    let directory = git.directory.as_deref().unwrap_or("");
    let mut args = vec!["clone", "--", git.repository.as_str()];
    if !directory.is_empty() {
        args.push(directory);
    }
    run(&args, dir).await?;
    if let Some(revision) = git.revision.as_deref().filter(|r| !r.is_empty()) {
        let clone = clone_dir(dir, directory)?;
        run(&["checkout", revision], &clone).await?;
        run(&["reset", "--hard"], &clone).await?;
    }
    Ok(())
}

/// The marker of a finished clone: `<volume>.ready`, beside the volume.
fn ready_marker(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".ready");
    dir.with_file_name(name)
}

/// Where the clone is: the volume itself for `.`, the named subdirectory,
/// or, with no directory, the one entry git made (named after the repository).
fn clone_dir(dir: &Path, directory: &str) -> Result<PathBuf, String> {
    match directory {
        "." => Ok(dir.to_path_buf()),
        "" => {
            let entries: Vec<_> = std::fs::read_dir(dir)
                .map_err(|e| format!("read {}: {e}", dir.display()))?
                .filter_map(Result::ok)
                .collect();
            match entries.as_slice() {
                [one] => Ok(one.path()),
                _ => Err(format!(
                    "unexpected directory contents: {:?}",
                    entries.iter().map(|e| e.file_name()).collect::<Vec<_>>()
                )),
            }
        }
        sub => Ok(dir.join(sub)),
    }
}

/// Runs git in `cwd`; a failure carries the command and what git printed, in
/// the words of Kubernetes' message.
async fn run(args: &[&str], cwd: &Path) -> Result<(), String> {
    let output = tokio::process::Command::new("git")
        .args(args)
        .current_dir(cwd)
        // Never ask for credentials: there is no one to answer.
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .map_err(|e| format!("failed to exec 'git {}': {e}", args.join(" ")))?;
    if output.status.success() {
        return Ok(());
    }
    let mut printed = String::from_utf8_lossy(&output.stdout).into_owned();
    printed.push_str(&String::from_utf8_lossy(&output.stderr));
    Err(format!("failed to exec 'git {}': {}: {}", args.join(" "), printed.trim_end(), output.status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A repository at `path` with `index.html` committed twice; returns the first commit.
    fn repo(path: &Path) -> String {
        let git = |args: &[&str]| {
            let out = Command::new("git").args(args).current_dir(path).output().expect("git runs");
            assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        std::fs::create_dir_all(path).expect("mkdir");
        git(&["init", "-q", "-b", "master"]);
        for (i, text) in ["first", "second"].iter().enumerate() {
            std::fs::write(path.join("index.html"), text).expect("write");
            git(&["add", "index.html"]);
            git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", &format!("c{i}")]);
        }
        git(&["rev-parse", "HEAD~1"])
    }

    fn source(repository: &Path, revision: Option<&str>, directory: Option<&str>) -> GitRepoVolumeSource {
        GitRepoVolumeSource {
            repository: repository.display().to_string(),
            revision: revision.map(Into::into),
            directory: directory.map(Into::into),
        }
    }

    #[tokio::test]
    async fn clones_into_the_volume_or_a_directory_at_a_revision_once() {
        let tmp = tempfile::tempdir().expect("tmp");
        let first = repo(&tmp.path().join("site"));

        // directory ".": the files are the volume's; the revision is checked out.
        let vol = tmp.path().join("v1");
        set_up(&source(&tmp.path().join("site"), Some(&first), Some(".")), &vol).await.expect("clone");
        assert_eq!(std::fs::read_to_string(vol.join("index.html")).expect("file"), "first");
        // A second set-up (a restarted kubelet) leaves the clone as it is.
        std::fs::write(vol.join("index.html"), "changed").expect("write");
        set_up(&source(&tmp.path().join("site"), Some(&first), Some(".")), &vol).await.expect("again");
        assert_eq!(std::fs::read_to_string(vol.join("index.html")).expect("file"), "changed");

        // No directory: a subdirectory named after the repository, at its head.
        let vol = tmp.path().join("v2");
        set_up(&source(&tmp.path().join("site"), Some("master"), None), &vol).await.expect("clone");
        assert_eq!(std::fs::read_to_string(vol.join("site/index.html")).expect("file"), "second");

        // A named directory.
        let vol = tmp.path().join("v3");
        set_up(&source(&tmp.path().join("site"), None, Some("web")), &vol).await.expect("clone");
        assert_eq!(std::fs::read_to_string(vol.join("web/index.html")).expect("file"), "second");
    }

    #[tokio::test]
    async fn a_failed_clone_says_what_git_said_and_is_tried_again() {
        let tmp = tempfile::tempdir().expect("tmp");
        let vol = tmp.path().join("v");
        let missing = tmp.path().join("no-such-repo");
        let e = set_up(&source(&missing, None, Some(".")), &vol).await.expect_err("no repository");
        assert!(e.starts_with(&format!("failed to exec 'git clone -- {} .': ", missing.display())), "{e}");
        assert!(e.contains("does not exist"), "git's own words: {e}");
        assert!(!ready_marker(&vol).exists(), "nothing is marked done");
        repo(&missing);
        set_up(&source(&missing, None, Some(".")), &vol).await.expect("the next try clones");
        // A clone whose revision is missing fails as a whole, and leaves nothing behind.
        let w = tmp.path().join("w");
        let e = set_up(&source(&missing, Some("no-such-rev"), Some("x")), &w).await.expect_err("bad revision");
        assert!(e.contains("git checkout no-such-rev"), "{e}");
        assert!(!w.exists(), "half a clone is removed");
    }
}
