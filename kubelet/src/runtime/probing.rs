//! What the runtime is asked to probe and what it answers, and the HTTP and
//! TCP probes every runtime runs the same way: from the kubelet's network,
//! which reaches every pod IP. The prober ([`crate::probe`]) decides when to
//! probe and what the results mean; the runtime only runs one probe.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a probe does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAction {
    /// `host` empty = the pod IP.
    Http {
        scheme: String,
        host: String,
        port: u16,
        path: String,
        headers: Vec<(String, String)>,
    },
    Tcp {
        host: String,
        port: u16,
    },
    Exec {
        command: Vec<String>,
    },
}

/// The result of one probe run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    Success,
    /// The probe ran and failed; the text is what the `Unhealthy` event says.
    Failure(String),
    /// The probe could not be run; Kubernetes throws such results away.
    Error(String),
}

/// Which container a probe is about, and where its pod lives.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    pub pod_namespace: String,
    pub pod_name: String,
    pub container_name: String,
    pub container_id: String,
    pub pod_ip: String,
    /// `liveness`, `readiness` or `startup`.
    pub kind: &'static str,
}

/// Runs an HTTP or TCP probe from the kubelet's network (which reaches every pod IP).
pub async fn probe_network(pod_ip: &str, action: &ProbeAction, timeout: Duration) -> ProbeOutcome {
    match action {
        ProbeAction::Http { scheme, host, port, path, headers } => {
            if scheme != "HTTP" {
                return ProbeOutcome::Error(format!("{scheme} probes are not supported by kubelab"));
            }
            let host = if host.is_empty() { pod_ip } else { host.as_str() };
            http_get(host, *port, path, headers, timeout).await
        }
        ProbeAction::Tcp { host, port } => {
            let host = if host.is_empty() { pod_ip } else { host.as_str() };
            let addr = format!("{host}:{port}");
            match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&addr)).await {
                Ok(Ok(_)) => ProbeOutcome::Success,
                Ok(Err(e)) => ProbeOutcome::Failure(dial_error(&addr, &e)),
                Err(_) => ProbeOutcome::Failure(format!("dial tcp {addr}: i/o timeout")),
            }
        }
        ProbeAction::Exec { .. } => ProbeOutcome::Error("exec probes run through the container runtime".into()),
    }
}

/// An HTTP/1.1 GET whose status decides: 200-399 is success, as Kubernetes' prober.
async fn http_get(host: &str, port: u16, path: &str, headers: &[(String, String)], timeout: Duration) -> ProbeOutcome {
    let addr = format!("{host}:{port}");
    let url = format!("http://{addr}{path}");
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|e| format!("Get \"{url}\": {}", dial_error(&addr, &e)))?;
        let has_host = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host"));
        let mut req = format!("GET {path} HTTP/1.1\r\n");
        if !has_host {
            req.push_str(&format!("Host: {addr}\r\n"));
        }
        req.push_str("User-Agent: kube-probe/1.34\r\nAccept: */*\r\nConnection: close\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).await.map_err(|e| format!("Get \"{url}\": {e}"))?;
        // Only the status line matters; read until its end.
        let mut head = Vec::with_capacity(256);
        let mut buf = [0u8; 256];
        while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
            let n = stream.read(&mut buf).await.map_err(|e| format!("Get \"{url}\": {e}"))?;
            if n == 0 {
                return Err(format!("Get \"{url}\": EOF"));
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        line.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| format!("Get \"{url}\": malformed HTTP response"))
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(code)) if (200..400).contains(&code) => ProbeOutcome::Success,
        Ok(Ok(code)) => ProbeOutcome::Failure(format!("HTTP probe failed with statuscode: {code}")),
        Ok(Err(e)) => ProbeOutcome::Failure(e),
        Err(_) => ProbeOutcome::Failure(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
    }
}

/// A connect error as Go's dialer words it, which is what Kubernetes' events show.
fn dial_error(addr: &str, err: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    let what = match err.kind() {
        ConnectionRefused => "connect: connection refused".to_string(),
        TimedOut => "i/o timeout".to_string(),
        HostUnreachable => "connect: no route to host".to_string(),
        NetworkUnreachable => "connect: network is unreachable".to_string(),
        _ => err.to_string(),
    };
    format!("dial tcp {addr}: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves one HTTP response per connection with the given status.
    async fn serve_status(code: u16) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n").as_bytes()).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn http_probes_judge_by_status_code() {
        let ok = serve_status(200).await;
        let http = |port| ProbeAction::Http {
            scheme: "HTTP".into(),
            host: "".into(),
            port,
            path: "/".into(),
            headers: vec![],
        };
        assert_eq!(probe_network("127.0.0.1", &http(ok), Duration::from_secs(2)).await, ProbeOutcome::Success);
        let bad = serve_status(500).await;
        assert_eq!(
            probe_network("127.0.0.1", &http(bad), Duration::from_secs(2)).await,
            ProbeOutcome::Failure("HTTP probe failed with statuscode: 500".into())
        );
    }

    #[tokio::test]
    async fn refused_connections_read_like_go() {
        // Bind then drop, so the port is very likely closed.
        let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        let tcp = ProbeAction::Tcp { host: "".into(), port };
        assert_eq!(
            probe_network("127.0.0.1", &tcp, Duration::from_secs(2)).await,
            ProbeOutcome::Failure(format!("dial tcp 127.0.0.1:{port}: connect: connection refused"))
        );
    }
}
