//! The book's kubia app (chapter 2): every request is logged and answered with
//! `You've hit <hostname>`. Its unhealthy variant (chapter 4) answers 500 from
//! the sixth request on, so that a liveness probe gets the container restarted.
//! The Deployment chapter's versions (`luksa/kubia:v1`..`v4`) answer `This is
//! vN running in pod <hostname>`; v3 fails with a 500 from its fifth request on.

use crate::http::{Framing, Head};
use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long an idle keep-alive connection is kept, as in Node's HTTP server.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// Which of the book's kubia apps this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `luksa/kubia`.
    Plain,
    /// `luksa/kubia-unhealthy`.
    Unhealthy,
    /// `luksa/kubia:vN` (chapter 9).
    Version(u8),
}

pub struct Kubia {
    hostname: String,
    variant: Variant,
    requests: AtomicU64,
}

impl Kubia {
    pub fn new(hostname: String, variant: Variant) -> Self {
        Kubia { hostname, variant, requests: AtomicU64::new(0) }
    }

    /// Answers the requests of one connection until the client closes it, asks to, or idles.
    pub fn serve(&self, stream: TcpStream) -> io::Result<()> {
        let remote = remote_address(stream.peer_addr()?);
        stream.set_read_timeout(Some(KEEP_ALIVE))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        self.serve_requests(&mut reader, &mut writer, &remote)
    }

    fn serve_requests(&self, r: &mut impl BufRead, w: &mut impl Write, remote: &str) -> io::Result<()> {
        loop {
            let head = match Head::read(r) {
                Ok(Some(head)) => head,
                Ok(None) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::InvalidData => return w.write_all(BAD_REQUEST),
                Err(e) => return Err(e),
            };
            let Some((method, keep_alive)) = request_line(&head) else { return w.write_all(BAD_REQUEST) };
            println!("Received request from {remote}");
            head.framing(Framing::Length(0))?.copy_body(r, &mut io::sink())?;
            let (status, body) = self.answer();
            let mut response = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
                body.len(),
                if keep_alive { "keep-alive" } else { "close" }
            );
            if method != "HEAD" {
                response.push_str(&body);
            }
            w.write_all(response.as_bytes())?;
            w.flush()?;
            if !keep_alive {
                return Ok(());
            }
        }
    }

    fn answer(&self) -> (&'static str, String) {
        let count = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let host = &self.hostname;
        match self.variant {
            Variant::Unhealthy if count > 5 => {
                ("500 Internal Server Error", "I'm not well. Please restart me!".to_string())
            }
            Variant::Version(3) if count >= 5 => {
                ("500 Internal Server Error", format!("Some internal error has occurred! This is pod {host}\n"))
            }
            Variant::Version(v) => ("200 OK", format!("This is v{v} running in pod {host}\n")),
            Variant::Plain | Variant::Unhealthy => ("200 OK", format!("You've hit {host}\n")),
        }
    }
}

const BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";

/// The method of a well-formed request line, and whether the connection stays
/// open after the response (HTTP/1.1 unless `close`, HTTP/1.0 only on `keep-alive`).
fn request_line(head: &Head) -> Option<(&str, bool)> {
    let mut parts = head.start_line.split(' ');
    let (Some(method), Some(_target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let keep_alive = match version {
        "HTTP/1.1" => !head.has_token("connection", "close"),
        "HTTP/1.0" => head.has_token("connection", "keep-alive"),
        _ => return None,
    };
    Some((method, keep_alive))
}

/// The client's address as Node's `request.connection.remoteAddress` gives it on
/// a dual-stack socket: IPv4 clients appear as `::ffff:10.244.1.5`.
pub fn remote_address(peer: SocketAddr) -> String {
    match peer.ip() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().to_string(),
        IpAddr::V6(v6) => v6.to_string(),
    }
}

/// The host name, as `os.hostname()` gives it: the pod's name inside a pod.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv6Addr, TcpListener};

    fn exchange(kubia: &Kubia, requests: &str) -> String {
        let mut out = Vec::new();
        kubia.serve_requests(&mut requests.as_bytes(), &mut out, "::ffff:127.0.0.1").unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn answers_with_its_hostname_and_keeps_the_connection() {
        let kubia = Kubia::new("kubia-manual".into(), Variant::Plain);
        let out = exchange(&kubia, "GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
        let one = "HTTP/1.1 200 OK\r\nContent-Length: 24\r\nConnection: keep-alive\r\n\r\nYou've hit kubia-manual\n";
        assert_eq!(out, one.repeat(2));
    }

    #[test]
    fn closes_when_asked_or_for_http_1_0() {
        let kubia = Kubia::new("k".into(), Variant::Plain);
        let out = exchange(&kubia, "GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n");
        assert_eq!(out, "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\nYou've hit k\n");
        let out = exchange(&kubia, "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n");
        assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 1);
        let out = exchange(&kubia, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET / HTTP/1.0\r\n\r\n");
        assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2);
    }

    #[test]
    fn head_requests_get_no_body() {
        let out = exchange(&Kubia::new("k".into(), Variant::Plain), "HEAD / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert_eq!(out, "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\n");
    }

    #[test]
    fn malformed_requests_get_400_and_a_closed_connection() {
        let kubia = Kubia::new("k".into(), Variant::Plain);
        for bad in ["GET /\r\n\r\n", "GET / SPDY/3\r\n\r\n", "GET / HTTP/1.1\r\nbroken\r\n\r\n"] {
            assert_eq!(exchange(&kubia, bad).as_bytes(), BAD_REQUEST, "{bad:?}");
        }
    }

    #[test]
    fn the_versions_say_which_they_are_and_v3_fails_from_the_fifth_request_on() {
        let v1 =
            exchange(&Kubia::new("kubia-1".into(), Variant::Version(1)), "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(v1.ends_with("\r\n\r\nThis is v1 running in pod kubia-1\n"), "{v1}");
        let v3 = Kubia::new("kubia-3".into(), Variant::Version(3));
        let out = exchange(&v3, &"GET / HTTP/1.1\r\n\r\n".repeat(6));
        let statuses: Vec<&str> = out.split("HTTP/1.1 ").skip(1).map(|r| &r[..3]).collect();
        assert_eq!(statuses, ["200", "200", "200", "200", "500", "500"]);
        assert!(out.contains("This is v3 running in pod kubia-3\n"), "{out}");
        assert!(out.ends_with("Some internal error has occurred! This is pod kubia-3\n"), "{out}");
    }

    #[test]
    fn the_unhealthy_variant_fails_from_the_sixth_request_on() {
        let kubia = Kubia::new("kubia-liveness".into(), Variant::Unhealthy);
        let out = exchange(&kubia, &"GET / HTTP/1.1\r\n\r\n".repeat(7));
        let statuses: Vec<&str> = out.split("HTTP/1.1 ").skip(1).map(|r| &r[..3]).collect();
        assert_eq!(statuses, ["200", "200", "200", "200", "200", "500", "500"]);
        assert!(out.ends_with("\r\n\r\nI'm not well. Please restart me!"));
    }

    #[test]
    fn remote_addresses_read_as_node_prints_them() {
        assert_eq!(remote_address("10.244.1.5:40000".parse().unwrap()), "::ffff:10.244.1.5");
        assert_eq!(remote_address("[::ffff:10.244.1.5]:40000".parse().unwrap()), "::ffff:10.244.1.5");
        assert_eq!(remote_address(SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 1)), "::1");
    }

    #[test]
    fn serves_over_tcp() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            Kubia::new("tcp-host".into(), Variant::Plain).serve(stream).unwrap();
        });
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        io::Read::read_to_string(&mut client, &mut answer).unwrap();
        assert!(answer.ends_with("\r\n\r\nYou've hit tcp-host\n"), "{answer}");
        server.join().unwrap();
    }
}
