//! Bringing up what a scenario measures: an etcd server and an apiserver, each
//! its own process on free loopback ports, torn down when the [`Cluster`] is
//! dropped (also when a phase panics or the run is interrupted), unless the
//! user pointed the bench at running ones.
//!
//! The apiserver process is the bench binary itself run as `serve-apiserver`:
//! one `cargo run --release -p bench` then builds and measures the apiserver in
//! the same profile as the load generator, and the apiserver still has its own
//! process whose memory can be read from `/proc`.

use apiserver::store::testing::{free_port, TestEtcd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh apiserver may take to serve its first request.
const APISERVER_STARTUP: Duration = Duration::from_secs(30);
/// A start that loses the race for its "free" port to another process is
/// retried on a new port.
const START_ATTEMPTS: usize = 3;

/// Where a scenario sends its load.
#[derive(Debug, Clone)]
pub struct Target {
    /// etcd client URL, e.g. `http://127.0.0.1:40123`, for the raw baselines.
    pub etcd: String,
    /// The apiserver address, e.g. `127.0.0.1:40124`.
    pub server: String,
    /// The apiserver's process id when it runs on this machine as its own
    /// process, so its memory can be read; None for an external apiserver.
    pub apiserver_pid: Option<u32>,
    /// True when the bench started etcd itself: its data vanishes with it, so
    /// the scenario need not clean up after itself.
    pub throwaway: bool,
}

/// The processes a run started; dropping it stops them.
pub struct Cluster {
    // Held only to be dropped, which stops them. Field order is drop order:
    // the apiserver goes before the etcd it uses.
    _apiserver: Option<ApiServerProcess>,
    _etcd: Option<TestEtcd>,
    target: Target,
}

impl Cluster {
    /// Uses `etcd` and `server` when given; starts what is missing. The
    /// apiserver is started as `apiserver_exe serve-apiserver ...`.
    pub async fn up(etcd: Option<&str>, server: Option<&str>, apiserver_exe: &Path) -> anyhow::Result<Cluster> {
        let (own_etcd, etcd_url) = match etcd {
            Some(url) => (None, url.to_string()),
            None => {
                eprintln!("starting etcd ...");
                let started = TestEtcd::start().await.map_err(anyhow::Error::msg)?;
                let url = started.endpoint().to_string();
                (Some(started), url)
            }
        };
        let (own_apiserver, server) = match server {
            Some(addr) => (None, addr.to_string()),
            None => {
                eprintln!("starting the apiserver against {etcd_url} ...");
                let started = ApiServerProcess::start(apiserver_exe, &etcd_url).await?;
                let addr = started.addr.clone();
                (Some(started), addr)
            }
        };
        let target = Target {
            etcd: etcd_url,
            server,
            apiserver_pid: own_apiserver.as_ref().map(|a| a.child.id()),
            throwaway: own_etcd.is_some(),
        };
        Ok(Cluster { _apiserver: own_apiserver, _etcd: own_etcd, target })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }
}

/// An apiserver child process, killed on drop.
pub struct ApiServerProcess {
    child: Child,
    addr: String,
}

impl ApiServerProcess {
    /// Starts `exe serve-apiserver` on a free port and waits until it answers.
    pub async fn start(exe: &Path, etcd_url: &str) -> anyhow::Result<ApiServerProcess> {
        let mut last_error = anyhow::anyhow!("the apiserver was never started");
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(exe, etcd_url).await {
                Ok(process) => return Ok(process),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    async fn try_start(exe: &Path, etcd_url: &str) -> anyhow::Result<ApiServerProcess> {
        let addr = format!("127.0.0.1:{}", free_port().map_err(anyhow::Error::msg)?);
        let log_filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_string());
        let child = Command::new(exe)
            .args(["serve-apiserver", "--etcd-servers", etcd_url, "--listen", &addr])
            // The apiserver reads its flags from the environment too; a stray
            // IN_MEMORY=true would silently benchmark the memory store.
            .env_remove("IN_MEMORY")
            .env("RUST_LOG", log_filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its warnings explain a failed phase; let them reach the terminal.
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot run {} serve-apiserver: {e}", exe.display()))?;
        // From here on, dropping `process` kills the child.
        let mut process = ApiServerProcess { child, addr };
        process.wait_until_serving().await?;
        Ok(process)
    }

    async fn wait_until_serving(&mut self) -> anyhow::Result<()> {
        let namespaces = api::registry::lookup("namespaces").expect("namespaces are registered");
        let deadline = Instant::now() + APISERVER_STARTUP;
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("the apiserver exited with {status} during startup (see its log above)");
            }
            if let Ok(client) = client::Client::connect(&self.addr).await {
                // Serving gRPC is not enough: `default` exists once bootstrap is done.
                if client.get(namespaces, "", "default").await.is_ok() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                anyhow::bail!("the apiserver at {} did not answer within {APISERVER_STARTUP:?}", self.addr);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ApiServerProcess {
    fn drop(&mut self) {
        // SIGKILL: nothing the apiserver holds needs a graceful stop, and it
        // cannot ignore it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The resident set size of process `pid` in bytes (`VmRSS` in
/// `/proc/<pid>/status`), or None where that cannot be read.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(PathBuf::from(format!("/proc/{pid}/status"))).ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut fields = line.split_whitespace().skip(1);
    let value: u64 = fields.next()?.parse().ok()?;
    // The kernel always reports this field in kB (KiB).
    match fields.next() {
        Some("kB") => Some(value * 1024),
        _ => None,
    }
}

/// The CPU time (user + system) process `pid` has used so far, from
/// `/proc/<pid>/stat`, or None where that cannot be read.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_time(&stat)
}

fn parse_cpu_time(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may contain spaces, so
    // count fields from the last ')': state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Linux reports these in USER_HZ ticks, which is 100 on every architecture
    // it exposes to user space (sysconf(_SC_CLK_TCK) needs libc for no gain).
    Some(Duration::from_millis((utime + stime) * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status = "Name:\tapiserver\nVmPeak:\t  200000 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(12345 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn cpu_time_is_read_past_odd_command_names() {
        let stat = "4242 (serve (api) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 9 0 100 0";
        assert_eq!(parse_cpu_time(stat), Some(Duration::from_millis(3250)));
        assert_eq!(parse_cpu_time("garbage"), None);
        assert!(cpu_time(std::process::id()).is_some());
    }

    #[test]
    fn own_rss_is_readable() {
        let rss = rss_bytes(std::process::id()).expect("this process's RSS");
        assert!(rss > 1024 * 1024, "{rss}");
    }
}
