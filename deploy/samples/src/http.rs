//! The HTTP/1.1 framing kubia and curl share: a message head (start line and
//! headers), and a body framed by Content-Length, by chunked transfer coding,
//! or by the end of the connection.

use std::io::{self, BufRead, ErrorKind, Read, Write};

/// Longest start or header line, and most headers, taken from a peer: far above
/// what real clients send, and a bound on what a broken one can make us hold.
const MAX_LINE: u64 = 16 * 1024;
const MAX_HEADERS: usize = 100;

/// A request or status line with its headers, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub start_line: String,
    pub headers: Vec<(String, String)>,
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

impl Head {
    /// Reads a head; `None` when the peer closed the connection before sending anything.
    pub fn read(r: &mut impl BufRead) -> io::Result<Option<Head>> {
        let Some(start_line) = read_line(r)? else { return Ok(None) };
        let mut headers = Vec::new();
        loop {
            let line = read_line(r)?.ok_or_else(|| eof("connection closed inside the headers"))?;
            if line.is_empty() {
                return Ok(Some(Head { start_line, headers }));
            }
            if headers.len() == MAX_HEADERS {
                return Err(invalid("too many headers"));
            }
            let (name, value) = line.split_once(':').ok_or_else(|| invalid("header line without a colon"))?;
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }

    /// The first value of a header, whatever the case of its name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header lists a token, as `Connection: keep-alive` lists `keep-alive`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The body's framing; `otherwise` when the headers give none (no body for a
    /// request, the rest of the connection for a response).
    pub fn framing(&self, otherwise: Framing) -> io::Result<Framing> {
        if self.has_token("transfer-encoding", "chunked") {
            return Ok(Framing::Chunked);
        }
        match self.header("content-length") {
            Some(v) => v.parse().map(Framing::Length).map_err(|_| invalid("bad Content-Length")),
            None => Ok(otherwise),
        }
    }

    /// The head as it goes on the wire, blank line included.
    pub fn to_wire(&self) -> String {
        let mut s = format!("{}\r\n", self.start_line);
        for (name, value) in &self.headers {
            s.push_str(&format!("{name}: {value}\r\n"));
        }
        s.push_str("\r\n");
        s
    }
}

impl Framing {
    /// Copies the body, decoded, to `out` and returns its length. A body cut short
    /// is an `UnexpectedEof` error, a malformed chunk an `InvalidData` one.
    pub fn copy_body(self, r: &mut impl BufRead, out: &mut impl Write) -> io::Result<u64> {
        match self {
            Framing::Length(n) => copy_exact(r, n, out),
            Framing::UntilClose => io::copy(r, out),
            Framing::Chunked => {
                let mut total = 0;
                loop {
                    let line =
                        read_line(r)?.ok_or_else(|| eof("transfer closed with outstanding read data remaining"))?;
                    let size = line.split(';').next().unwrap_or_default().trim();
                    let size = u64::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
                    if size == 0 {
                        break;
                    }
                    total += copy_exact(r, size, out)?;
                    if read_line(r)?.as_deref() != Some("") {
                        return Err(invalid("chunk not followed by CRLF"));
                    }
                }
                while !read_line(r)?.ok_or_else(|| eof("connection closed inside the trailers"))?.is_empty() {}
                Ok(total)
            }
        }
    }
}

fn copy_exact(r: &mut impl BufRead, n: u64, out: &mut impl Write) -> io::Result<u64> {
    let copied = io::copy(&mut r.take(n), out)?;
    if copied < n {
        return Err(eof(&format!("transfer closed with {} bytes remaining to read", n - copied)));
    }
    Ok(n)
}

/// One line without its CRLF (or bare LF); `None` at a clean end of the stream.
fn read_line(r: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    r.take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if buf.is_empty() {
        return Ok(None);
    }
    if buf.pop() != Some(b'\n') {
        return Err(if buf.len() as u64 + 1 == MAX_LINE {
            invalid("line too long")
        } else {
            eof("connection closed mid-line")
        });
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf).map(Some).map_err(|_| invalid("line is not UTF-8"))
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, msg)
}

fn eof(msg: &str) -> io::Error {
    io::Error::new(ErrorKind::UnexpectedEof, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        Head::read(&mut text.as_bytes()).unwrap().unwrap()
    }

    fn body(framing: Framing, wire: &str) -> io::Result<String> {
        let mut out = Vec::new();
        let mut r = wire.as_bytes();
        let n = framing.copy_body(&mut r, &mut out)?;
        assert_eq!(n as usize, out.len());
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn reads_a_head_and_finds_headers_whatever_their_case() {
        let h = head("GET / HTTP/1.1\r\nHost: kubia\r\nConnection: keep-alive, Upgrade\r\n\r\nrest");
        assert_eq!(h.start_line, "GET / HTTP/1.1");
        assert_eq!(h.header("host"), Some("kubia"));
        assert!(h.has_token("connection", "upgrade"));
        assert!(!h.has_token("connection", "close"));
        assert_eq!(h.to_wire(), "GET / HTTP/1.1\r\nHost: kubia\r\nConnection: keep-alive, Upgrade\r\n\r\n");
    }

    #[test]
    fn bare_newlines_are_accepted() {
        assert_eq!(head("HTTP/1.0 200 OK\nA: b\n\n").headers, [("A".to_string(), "b".to_string())]);
    }

    #[test]
    fn a_closed_connection_is_no_head_but_a_cut_one_is_an_error() {
        assert_eq!(Head::read(&mut &b""[..]).unwrap(), None);
        let err = Head::read(&mut &b"GET / HTTP/1.1\r\nHost: x\r\n"[..]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        let err = Head::read(&mut &b"GET / HTTP/1.1\r\nno colon\r\n\r\n"[..]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
    }

    #[test]
    fn overlong_lines_are_refused() {
        let line = "x".repeat(MAX_LINE as usize + 10);
        let err = Head::read(&mut line.as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "line too long");
    }

    #[test]
    fn framing_follows_the_headers() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
        assert_eq!(h.framing(Framing::UntilClose).unwrap(), Framing::Length(12));
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 12\r\n\r\n");
        assert_eq!(h.framing(Framing::UntilClose).unwrap(), Framing::Chunked);
        let h = head("GET / HTTP/1.1\r\n\r\n");
        assert_eq!(h.framing(Framing::Length(0)).unwrap(), Framing::Length(0));
        let h = head("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n");
        assert_eq!(h.framing(Framing::Length(0)).unwrap_err().kind(), ErrorKind::InvalidData);
    }

    #[test]
    fn bodies_are_read_by_length_chunks_or_to_the_end() {
        assert_eq!(body(Framing::Length(5), "hello, and more").unwrap(), "hello");
        assert_eq!(body(Framing::UntilClose, "all of it").unwrap(), "all of it");
        let chunked = "6;ext=1\r\nYou've\r\nf\r\n hit kubia-abc\n\r\n0\r\nTrailer: x\r\n\r\n";
        assert_eq!(body(Framing::Chunked, chunked).unwrap(), "You've hit kubia-abc\n");
    }

    #[test]
    fn short_or_broken_bodies_are_errors() {
        let err = body(Framing::Length(10), "short").unwrap_err();
        assert_eq!(
            (err.kind(), err.to_string()),
            (ErrorKind::UnexpectedEof, "transfer closed with 5 bytes remaining to read".into())
        );
        assert_eq!(body(Framing::Chunked, "zz\r\n").unwrap_err().kind(), ErrorKind::InvalidData);
        assert_eq!(body(Framing::Chunked, "2\r\nabc\r\n").unwrap_err().kind(), ErrorKind::InvalidData);
        assert_eq!(body(Framing::Chunked, "2\r\nab\r\n").unwrap_err().kind(), ErrorKind::UnexpectedEof);
    }
}
