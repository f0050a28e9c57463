//! The smallest HTTP/1.1 client the services scenario needs: `GET /` to the
//! kubia server, over a kept-alive connection or a fresh one per request, and
//! the response read by its Content-Length (kubia always sends one). Written
//! here rather than pulled in, so the measured path is a socket and a few
//! lines of parsing, the same for the direct and the through-service load.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

/// A response's status, body and whether the server closes the connection after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    pub close: bool,
}

/// The request line and headers of `GET /`; `Connection: close` asks for a
/// connection per request.
pub fn request(keep_alive: bool) -> &'static [u8] {
    if keep_alive {
        b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    } else {
        b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, msg.into())
}

/// Reads one response: status line, headers, then Content-Length bytes of body.
pub async fn read_response<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Response> {
    let mut line = String::new();
    if r.read_line(&mut line).await? == 0 {
        return Err(io::Error::new(ErrorKind::UnexpectedEof, "connection closed before a response"));
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    let status = match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => {
            code.parse::<u16>().map_err(|_| invalid(format!("bad status line {line:?}")))?
        }
        _ => return Err(invalid(format!("bad status line {line:?}"))),
    };
    let (mut length, mut close) = (None, false);
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Err(io::Error::new(ErrorKind::UnexpectedEof, "connection closed in the headers"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else { return Err(invalid(format!("bad header {header:?}"))) };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| invalid(format!("bad Content-Length {value:?}")))?);
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let length = length.ok_or_else(|| invalid("a response without Content-Length"))?;
    let mut body = vec![0; length];
    r.read_exact(&mut body).await?;
    Ok(Response { status, body, close })
}

/// Sends `GET /` on `stream` and reads the answer.
pub async fn get<S: AsyncBufRead + AsyncWrite + Unpin>(stream: &mut S, keep_alive: bool) -> io::Result<Response> {
    stream.write_all(request(keep_alive)).await?;
    stream.flush().await?;
    read_response(stream).await
}

/// A buffered connection to `addr`, given up after `timeout`.
pub async fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<BufStream<TcpStream>> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(ErrorKind::TimedOut, format!("connecting to {addr} timed out")))??;
    stream.set_nodelay(true)?;
    Ok(BufStream::new(stream))
}

/// One `GET /` on a fresh connection, the whole exchange bounded by `timeout`;
/// Ok only for a 200.
pub async fn get_once(addr: SocketAddr, timeout: Duration) -> io::Result<Response> {
    let exchange = async {
        let mut conn = connect(addr, timeout).await?;
        get(&mut conn, false).await
    };
    let response = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| io::Error::new(ErrorKind::TimedOut, format!("GET http://{addr}/ timed out")))??;
    if response.status != 200 {
        return Err(invalid(format!("GET http://{addr}/ answered {}", response.status)));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    #[tokio::test]
    async fn a_response_is_read_by_its_content_length() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 22\r\nConnection: keep-alive\r\n\r\nYou've hit backend-1\r\n\
                    HTTP/1.1 500 Internal Server Error\r\ncontent-length: 2\r\nConnection: close\r\n\r\nno";
        let mut r = BufReader::new(&raw[..]);
        let first = read_response(&mut r).await.unwrap();
        assert_eq!(first, Response { status: 200, body: b"You've hit backend-1\r\n".to_vec(), close: false });
        // The next response on the same connection starts right after the body.
        let second = read_response(&mut r).await.unwrap();
        assert_eq!(second, Response { status: 500, body: b"no".to_vec(), close: true });
        assert_eq!(read_response(&mut r).await.unwrap_err().kind(), ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn malformed_or_cut_responses_are_errors() {
        for raw in [
            &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\n\r\nbody",
            b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n",
        ] {
            let mut r = BufReader::new(raw);
            assert!(read_response(&mut r).await.is_err(), "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[tokio::test]
    async fn get_writes_the_request_and_reads_the_answer() {
        let (client, mut server) = tokio::io::duplex(1024);
        let serve = tokio::spawn(async move {
            let mut buf = vec![0; request(true).len()];
            server.read_exact(&mut buf).await.unwrap();
            server.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").await.unwrap();
            buf
        });
        let mut conn = BufStream::new(client);
        let response = get(&mut conn, true).await.unwrap();
        assert_eq!(response.body, b"hi");
        assert_eq!(serve.await.unwrap(), request(true));
        assert!(String::from_utf8_lossy(request(false)).contains("Connection: close"));
    }
}
