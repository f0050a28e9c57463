//! The control plane beyond the apiserver, each component its own child
//! process of this binary (`bench serve-scheduler`, `serve-controller-manager`,
//! `serve-kubelet`), so each has its own RSS and CPU time in `/proc` and
//! nothing is built twice. Killed when dropped, also on a panic or Ctrl-C.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// One component process, killed on drop.
pub struct Component {
    name: &'static str,
    child: Child,
}

impl Component {
    /// Runs `exe <subcommand> --server http://<server> <args...>`.
    pub fn spawn(
        exe: &Path,
        name: &'static str,
        subcommand: &str,
        server: &str,
        args: &[&str],
    ) -> anyhow::Result<Component> {
        let log_filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_string());
        let child = Command::new(exe)
            .arg(subcommand)
            .args(["--server", &server_url(server)])
            .args(args)
            .env("RUST_LOG", log_filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Their warnings explain a failed phase; let them reach the terminal.
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot run {} {subcommand}: {e}", exe.display()))?;
        Ok(Component { name, child })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILLs the process now (as a machine that dies) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// An error when the process has exited: every later number would be wrong.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            Some(status) => anyhow::bail!("the {} exited with {status} (see its log above)", self.name),
            None => Ok(()),
        }
    }
}

impl Drop for Component {
    fn drop(&mut self) {
        // SIGKILL: the cluster is thrown away with its etcd.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The components take a URL; the bench's targets are `host:port`.
pub fn server_url(server: &str) -> String {
    if server.contains("://") {
        server.to_string()
    } else {
        format!("http://{server}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_get_a_scheme_once() {
        assert_eq!(server_url("127.0.0.1:6443"), "http://127.0.0.1:6443");
        assert_eq!(server_url("http://127.0.0.1:6443"), "http://127.0.0.1:6443");
    }
}
