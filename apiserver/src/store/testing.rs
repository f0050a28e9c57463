//! Test support: `TestEtcd` runs a throwaway etcd server (Debian's etcd-server,
//! `/usr/bin/etcd`) on free loopback ports with its data in a fresh temporary
//! directory, and kills it and removes the directory on drop.
//!
//! Compiled into the library with the `testing` feature (not only under
//! cfg(test)) so other crates' tests and the bench can start a real etcd the
//! same way; release builds of the apiserver leave it out. A missing etcd binary
//! is an error naming the package to install, never a silently skipped test.

use super::etcd::EtcdStore;
use std::ffi::OsString;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a freshly started etcd may take to answer.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Port collisions between tests picking "free" ports at once are possible but
/// rare; a start that loses such a race is retried on new ports.
const START_ATTEMPTS: usize = 3;
/// etcd's default `--max-request-bytes` is exactly 1.5 MiB, so a 1.5 MiB value
/// plus its key would not fit; kubelab runs etcd with 2 MiB.
pub const MAX_REQUEST_BYTES: usize = 2 << 20;

/// Why a test etcd could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestEtcdError {
    #[error(
        "etcd binary not found (looked at $ETCD_BIN, PATH and {default}): these tests need a real etcd server; \
         install Debian's etcd-server package (apt-get install etcd-server) or set ETCD_BIN"
    )]
    NotInstalled { default: String },
    #[error("cannot run {binary}: {error}")]
    CannotRun { binary: String, error: String },
    #[error("etcd exited with {status} during startup; its log:\n{log}")]
    Exited { status: String, log: String },
    #[error("etcd did not answer at {endpoint} within {timeout:?}; its log:\n{log}")]
    NoAnswer { endpoint: String, timeout: Duration, log: String },
    /// Setting up its directory, log or ports failed.
    #[error("{what}: {error}")]
    Setup { what: String, error: String },
}

impl TestEtcdError {
    fn setup(what: impl Into<String>, error: impl std::fmt::Display) -> Self {
        Self::Setup { what: what.into(), error: error.to_string() }
    }
}

type Result<T, E = TestEtcdError> = std::result::Result<T, E>;

/// A running etcd server for tests.
pub struct TestEtcd {
    child: Child,
    dir: PathBuf,
    endpoint: String,
    /// How it was started, to start it again on the same data and ports.
    binary: PathBuf,
    args: Vec<OsString>,
    log_path: PathBuf,
}

impl TestEtcd {
    /// Starts etcd and waits until it serves requests.
    pub async fn start() -> Result<TestEtcd> {
        Self::start_with_args(&[]).await
    }

    /// Like `start`, with extra etcd flags appended (later flags win).
    pub async fn start_with_args(extra_args: &[&str]) -> Result<TestEtcd> {
        let binary = etcd_binary()?;
        let mut attempt = Self::try_start(&binary, extra_args).await;
        for _ in 1..START_ATTEMPTS {
            if attempt.is_ok() {
                break;
            }
            attempt = Self::try_start(&binary, extra_args).await;
        }
        attempt
    }

    async fn try_start(binary: &Path, extra_args: &[&str]) -> Result<TestEtcd> {
        let dir = fresh_temp_dir()?;
        let log_path = dir.join("etcd.log");
        let (client_port, peer_port) = (free_port()?, free_port()?);
        let endpoint = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let max_request_bytes = MAX_REQUEST_BYTES.to_string();
        let data_dir = dir.join("data");
        let initial_cluster = format!("test={peer}");
        let mut args: Vec<OsString> = [
            "--name",
            "test",
            "--listen-client-urls",
            &endpoint,
            "--advertise-client-urls",
            &endpoint,
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
            "--initial-cluster",
            &initial_cluster,
            "--initial-cluster-state",
            "new",
            "--max-request-bytes",
            &max_request_bytes,
            "--logger",
            "zap",
            "--log-level",
            "warn",
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        args.push("--data-dir".into());
        args.push(data_dir.into_os_string());
        args.extend(extra_args.iter().map(OsString::from));
        let child = match spawn(binary, &args, &log_path) {
            Ok(child) => child,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(error);
            }
        };
        // From here on, dropping `etcd` kills the process and removes the directory.
        let mut etcd = TestEtcd { child, dir, endpoint, binary: binary.to_path_buf(), args, log_path };
        etcd.wait_until_serving().await?;
        Ok(etcd)
    }

    /// Kills etcd and starts it again on the same data and ports, as a crash
    /// and a restart of its container would; returns once it serves again.
    pub async fn restart(&mut self) -> Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.binary, &self.args, &self.log_path)?;
        self.wait_until_serving().await
    }

    async fn wait_until_serving(&mut self) -> Result<()> {
        let log_path = self.log_path.as_path();
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(TestEtcdError::Exited { status: status.to_string(), log: read_log(log_path) });
            }
            if self.client_port_open() && EtcdStore::connect(std::slice::from_ref(&self.endpoint)).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(TestEtcdError::NoAnswer {
                    endpoint: self.endpoint.clone(),
                    timeout: STARTUP_TIMEOUT,
                    log: read_log(log_path),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn client_port_open(&self) -> bool {
        let addr = self.endpoint.trim_start_matches("http://");
        addr.parse().is_ok_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok())
    }

    /// The client URL, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A store connected to this etcd. Panics if it cannot connect: test use only.
    pub async fn store(&self) -> EtcdStore {
        match EtcdStore::connect(std::slice::from_ref(&self.endpoint)).await {
            Ok(store) => store,
            Err(error) => panic!("connect to test etcd at {}: {error}", self.endpoint),
        }
    }
}

impl Drop for TestEtcd {
    fn drop(&mut self) {
        if let Err(error) = self.child.kill() {
            tracing::warn!(error = %error, "cannot kill test etcd");
        }
        let _ = self.child.wait();
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %error, "cannot remove test etcd directory");
        }
    }
}

/// Runs etcd with `args`, appending its output to the log at `log_path`.
fn spawn(binary: &Path, args: &[OsString], log_path: &Path) -> Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| TestEtcdError::setup(format!("open {}", log_path.display()), e))?;
    let log_err = log.try_clone().map_err(|e| TestEtcdError::setup("clone log file handle", e))?;
    Command::new(binary)
        .args(args)
        // ETCD_* variables would override the flags.
        .env_clear()
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|error| TestEtcdError::CannotRun { binary: binary.display().to_string(), error: error.to_string() })
}

/// The etcd binary: `$ETCD_BIN`, else `etcd` on PATH, else `/usr/bin/etcd`.
fn etcd_binary() -> Result<PathBuf> {
    find_etcd(std::env::var_os("ETCD_BIN"), std::env::var_os("PATH"), Path::new("/usr/bin/etcd"))
}

fn find_etcd(explicit: Option<OsString>, path: Option<OsString>, default: &Path) -> Result<PathBuf> {
    if let Some(binary) = explicit {
        return Ok(PathBuf::from(binary));
    }
    let on_path = path
        .iter()
        .flat_map(|paths| std::env::split_paths(paths).collect::<Vec<_>>())
        .map(|dir| dir.join("etcd"))
        .find(|candidate| candidate.is_file());
    match on_path {
        Some(binary) => Ok(binary),
        None if default.is_file() => Ok(default.to_path_buf()),
        None => Err(TestEtcdError::NotInstalled { default: default.display().to_string() }),
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| TestEtcdError::setup("bind a free port", e))?;
    listener.local_addr().map(|addr| addr.port()).map_err(|e| TestEtcdError::setup("read bound port", e))
}

/// A new, empty directory under the system temp dir, unique across processes
/// and across tests running in parallel.
fn fresh_temp_dir() -> Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = format!("kubelab-etcd-{}-{}-{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir(&dir).map_err(|e| TestEtcdError::setup(format!("create {}", dir.display()), e))?;
    Ok(dir)
}

fn read_log(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()));
    // The end of the log says why it stopped; the start is routine.
    let skip = log.len().saturating_sub(4000);
    log.get(skip..).unwrap_or(&log).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[tokio::test]
    async fn etcd_starts_answers_and_is_killed_on_drop() {
        let etcd = TestEtcd::start().await.expect("start etcd (install etcd-server if missing)");
        let store = etcd.store().await;
        store.create("/hello", b"world".to_vec()).await.expect("create");
        let dir = etcd.dir.clone();
        let endpoint = etcd.endpoint().to_string();
        drop(etcd);
        assert!(!dir.exists(), "data directory removed");
        assert!(EtcdStore::connect(&[endpoint]).await.is_err(), "server gone");
    }

    #[test]
    fn missing_binary_is_an_error_naming_the_package() {
        let error = find_etcd(None, Some(OsString::new()), Path::new("/nonexistent/etcd")).expect_err("must fail");
        assert!(error.to_string().contains("apt-get install etcd-server"), "{error}");
        let explicit = find_etcd(Some("/opt/etcd".into()), None, Path::new("/nonexistent/etcd"));
        assert_eq!(explicit, Ok(PathBuf::from("/opt/etcd")));
    }

    #[tokio::test]
    async fn unrunnable_binary_is_an_error_naming_it() {
        let error = TestEtcd::try_start(Path::new("/nonexistent/etcd"), &[]).await.err().expect("must fail");
        assert!(error.to_string().contains("/nonexistent/etcd"), "{error}");
    }
}
