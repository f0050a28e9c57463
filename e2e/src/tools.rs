//! Where the real Kubernetes clients are that `deploy/tools.sh` installs: the
//! tests drive kubelab with them to show it serves what real users run. Each
//! path is an environment variable, defaulting to the tools directory the
//! script fills (the same defaults as the script's).

use std::path::PathBuf;

/// The tools directory: `$KUBELAB_TOOLS`, else `$HOME/.cache/kubelab/tools`.
pub fn dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KUBELAB_TOOLS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/kubelab/tools")
}

/// `$var` if set, else `default` under the tools directory; panics with how
/// to install it when the file is not there.
fn tool(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| dir().join(default));
    assert!(path.exists(), "{} is missing ({var}): install it with ./deploy/tools.sh", path.display());
    path
}

/// kubectl 1.20 (`$KUBECTL_120`): Debian's, as the book's readers ran it.
pub fn kubectl_120() -> PathBuf {
    tool("KUBECTL_120", "kubectl-1.20/kubectl")
}

/// A current kubectl (`$KUBECTL_CURRENT`).
pub fn kubectl_current() -> PathBuf {
    tool("KUBECTL_CURRENT", "kubectl-current/kubectl")
}

/// A python with the official `kubernetes` client installed (`$KUBELAB_PYTHON`).
pub fn python() -> PathBuf {
    tool("KUBELAB_PYTHON", "python-client/bin/python")
}
