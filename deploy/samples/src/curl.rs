//! A curl for the book's commands (`curl http://10.244.1.4:8080`, `curl -s http://kubia`):
//! plain HTTP/1.1, one URL, the common flags, and curl's exit codes and error
//! lines, so scripts that check `$?` read the same as with the real one.

use crate::http::{Framing, Head};
use std::fmt;
use std::io::{self, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

pub const USAGE: &str = "Usage: curl [options...] <url>
 -d, --data <data>          HTTP POST data
 -f, --fail                 Fail with exit code 22 on HTTP errors
 -H, --header <header>      Pass a custom header to the server
 -I, --head                 Show the response headers only
 -i, --include              Include the response headers in the output
 -m, --max-time <seconds>   Maximum time allowed for the whole transfer
     --connect-timeout <s>  Maximum time allowed for connecting
 -o, --output <file>        Write the body to <file> instead of stdout
 -X, --request <method>     The request method to use
 -s, --silent               Silent mode: no error messages
 -S, --show-error           Show error messages even when silent
 -h, --help                 This help";

/// What the command line asks for.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Options {
    pub url: String,
    pub silent: bool,
    pub show_error: bool,
    pub include: bool,
    pub head: bool,
    pub fail: bool,
    pub help: bool,
    pub output: Option<String>,
    pub max_time: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub method: Option<String>,
    pub headers: Vec<String>,
    pub data: Option<String>,
}

/// A failure with curl's exit code: 2 for a bad command line, 6 an unknown host,
/// 7 a refused connection, 22 an HTTP error under `--fail`, 28 a timeout, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: u8,
    pub message: String,
}

impl Error {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Error { code, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // curl numbers transfer errors only; command-line ones read `curl: option -x: is unknown`.
        if self.code == 2 {
            write!(f, "curl: {}", self.message)
        } else {
            write!(f, "curl: ({}) {}", self.code, self.message)
        }
    }
}

/// Short and long spellings of each option, and whether it takes a value.
const OPTIONS: &[(Option<char>, &str, bool)] = &[
    (Some('s'), "silent", false),
    (Some('S'), "show-error", false),
    (Some('i'), "include", false),
    (Some('I'), "head", false),
    (Some('f'), "fail", false),
    (Some('h'), "help", false),
    (Some('o'), "output", true),
    (Some('m'), "max-time", true),
    (None, "connect-timeout", true),
    (Some('X'), "request", true),
    (Some('H'), "header", true),
    (Some('d'), "data", true),
];

/// Parses the arguments after the program name, as curl does: short flags
/// combine (`-sS`), a short option's value may be attached (`-ofile`) or follow.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, Error> {
    let mut o = Options::default();
    let mut urls = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if let Some(long) = arg.strip_prefix("--") {
            let &(_, name, takes_value) = OPTIONS
                .iter()
                .find(|(_, name, _)| *name == long)
                .ok_or_else(|| Error::new(2, format!("option {arg}: is unknown")))?;
            let value = if takes_value { Some(next_value(&mut args, &arg)?) } else { None };
            o.set(name, value)?;
        } else if arg.len() > 1 && arg.starts_with('-') {
            for (i, c) in arg.char_indices().skip(1) {
                let &(_, name, takes_value) = OPTIONS
                    .iter()
                    .find(|(short, _, _)| *short == Some(c))
                    .ok_or_else(|| Error::new(2, format!("option -{c}: is unknown")))?;
                if !takes_value {
                    o.set(name, None)?;
                    continue;
                }
                let attached = &arg[i + c.len_utf8()..];
                let value =
                    if attached.is_empty() { next_value(&mut args, &format!("-{c}"))? } else { attached.to_string() };
                o.set(name, Some(value))?;
                break;
            }
        } else {
            urls.push(arg);
        }
    }
    if o.help {
        return Ok(o);
    }
    match <[String; 1]>::try_from(urls) {
        Ok([url]) => o.url = url,
        Err(urls) if urls.is_empty() => return Err(Error::new(2, "no URL specified!")),
        Err(_) => return Err(Error::new(2, "this curl takes one URL")),
    }
    Ok(o)
}

fn next_value(args: &mut impl Iterator<Item = String>, option: &str) -> Result<String, Error> {
    args.next().ok_or_else(|| Error::new(2, format!("option {option}: requires parameter")))
}

impl Options {
    fn set(&mut self, name: &str, value: Option<String>) -> Result<(), Error> {
        let seconds = |v: Option<String>| {
            v.as_deref()
                .and_then(|s| s.parse::<f64>().ok())
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| Error::new(2, format!("option --{name}: expected a proper numerical parameter")))
        };
        match name {
            "silent" => self.silent = true,
            "show-error" => self.show_error = true,
            "include" => self.include = true,
            "head" => self.head = true,
            "fail" => self.fail = true,
            "help" => self.help = true,
            "output" => self.output = value,
            "max-time" => self.max_time = Some(seconds(value)?),
            "connect-timeout" => self.connect_timeout = Some(seconds(value)?),
            "request" => self.method = value,
            "header" => self.headers.extend(value),
            "data" => self.data = value,
            _ => unreachable!("every name in OPTIONS is handled"),
        }
        Ok(())
    }

    /// Whether a failure is reported on stderr (`-s` hides it, `-S` brings it back).
    pub fn shows_errors(&self) -> bool {
        !self.silent || self.show_error
    }
}

/// Where a URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
}

/// Parses `[http://]host[:port][/path][?query]`; like curl, a URL without a scheme is HTTP.
pub fn parse_url(url: &str) -> Result<Url, Error> {
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, _)) => return Err(Error::new(1, format!("Protocol \"{scheme}\" not supported"))),
        None => url,
    };
    let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let path = path.split('#').next().unwrap_or_default();
    let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) =
                bracketed.split_once(']').ok_or_else(|| Error::new(3, "URL rejected: Bad IPv6 address"))?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err(Error::new(3, "URL rejected: No host part in the URL"));
    }
    let port = match port {
        Some(p) => p
            .parse()
            .map_err(|_| Error::new(3, "URL rejected: Port number was not a decimal number between 0 and 65535"))?,
        None => 80,
    };
    Ok(Url { host: host.to_string(), port, path })
}

impl Url {
    /// The Host header's value: the port only when it is not the default.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Makes the request and writes the response (its head too with `-i` or `-I`)
/// to `stdout`, or to the `-o` file.
pub fn run(o: &Options, stdout: &mut dyn Write) -> Result<(), Error> {
    let start = Instant::now();
    let deadline = o.max_time.map(|t| start + t);
    let url = parse_url(&o.url)?;
    let stream = connect(&url, o, start, deadline)?;

    let method = match (&o.method, o.head, &o.data) {
        (Some(m), _, _) => m.clone(),
        (None, true, _) => "HEAD".to_string(),
        (None, false, Some(_)) => "POST".to_string(),
        (None, false, None) => "GET".to_string(),
    };
    let mut request = Head {
        start_line: format!("{method} {} HTTP/1.1", url.path),
        headers: vec![
            ("Host".into(), url.host_header()),
            ("User-Agent".into(), "curl/kubelab".into()),
            ("Accept".into(), "*/*".into()),
        ],
    };
    if let Some(data) = &o.data {
        request.headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
        request.headers.push(("Content-Length".into(), data.len().to_string()));
    }
    for header in &o.headers {
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        request.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name.trim()));
        request.headers.push((name.trim().into(), value.trim().into()));
    }
    let mut wire = request.to_wire().into_bytes();
    wire.extend(o.data.as_deref().unwrap_or_default().as_bytes());
    let mut writer = &stream;
    if let Some(d) = deadline {
        stream.set_write_timeout(Some(left(d, start)?)).map_err(|e| send_error(&e))?;
    }
    writer.write_all(&wire).map_err(|e| if is_timeout(&e) { timeout(start) } else { send_error(&e) })?;

    let mut reader = BufReader::new(DeadlineReader { stream: &stream, deadline });
    let received = |e: io::Error| receive_error(e, start);
    let head = Head::read(&mut reader).map_err(received)?.ok_or_else(|| Error::new(52, "Empty reply from server"))?;
    let status = status_code(&head.start_line).ok_or_else(|| Error::new(8, "Weird server reply"))?;
    if o.fail && status >= 400 {
        return Err(Error::new(22, format!("The requested URL returned error: {status}")));
    }

    let mut file;
    let out: &mut dyn Write = match &o.output {
        Some(path) => {
            file = std::fs::File::create(path)
                .map_err(|e| Error::new(23, format!("Failed to open the file {path}: {e}")))?;
            &mut file
        }
        None => stdout,
    };
    let mut out = TrackedWriter { out, failed: false };
    if o.include || o.head {
        out.write_all(head.to_wire().as_bytes()).map_err(|_| write_error())?;
    }
    if method != "HEAD" && !matches!(status, 100..=199 | 204 | 304) {
        let framing = head.framing(Framing::UntilClose).map_err(received)?;
        framing.copy_body(&mut reader, &mut out).map_err(|e| if out.failed { write_error() } else { received(e) })?;
    }
    out.flush().map_err(|_| write_error())
}

fn connect(url: &Url, o: &Options, start: Instant, deadline: Option<Instant>) -> Result<TcpStream, Error> {
    let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|_| Error::new(6, format!("Could not resolve host: {}", url.host)))?
        .collect();
    let connect_deadline = match (o.connect_timeout.map(|t| start + t), deadline) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut last_error = io::Error::new(ErrorKind::NotFound, "no address");
    for addr in addrs {
        let attempt = match connect_deadline {
            Some(d) => TcpStream::connect_timeout(&addr, left(d, start)?),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = e,
        }
    }
    let ms = start.elapsed().as_millis();
    if is_timeout(&last_error) {
        return Err(Error::new(28, format!("Connection timed out after {ms} milliseconds")));
    }
    Err(Error::new(
        7,
        format!("Failed to connect to {} port {} after {ms} ms: Couldn't connect to server", url.host, url.port),
    ))
}

/// The time left before `deadline`, or curl's timeout error when none is.
fn left(deadline: Instant, start: Instant) -> Result<Duration, Error> {
    Some(deadline.saturating_duration_since(Instant::now())).filter(|d| !d.is_zero()).ok_or_else(|| timeout(start))
}

fn timeout(start: Instant) -> Error {
    Error::new(28, format!("Operation timed out after {} milliseconds", start.elapsed().as_millis()))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock)
}

fn send_error(e: &io::Error) -> Error {
    Error::new(55, format!("Send failure: {e}"))
}

fn write_error() -> Error {
    Error::new(23, "Failure writing output to destination")
}

fn receive_error(e: io::Error, start: Instant) -> Error {
    match e.kind() {
        _ if is_timeout(&e) => timeout(start),
        ErrorKind::UnexpectedEof => Error::new(18, e.to_string()),
        ErrorKind::InvalidData => Error::new(8, format!("Weird server reply: {e}")),
        _ => Error::new(56, format!("Recv failure: {e}")),
    }
}

/// The code of a status line such as `HTTP/1.1 200 OK`.
fn status_code(line: &str) -> Option<u16> {
    let mut parts = line.split(' ');
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next().filter(|c| c.len() == 3)?.parse().ok()
}

/// Reads that give up when the `--max-time` deadline passes.
struct DeadlineReader<'a> {
    stream: &'a TcpStream,
    deadline: Option<Instant>,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ErrorKind::TimedOut.into());
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        let mut stream = self.stream;
        stream.read(buf)
    }
}

/// Remembers whether writing failed, so a failed copy is told apart from a failed read.
struct TrackedWriter<'a> {
    out: &'a mut dyn Write,
    failed: bool,
}

impl Write for TrackedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf).inspect_err(|_| self.failed = true)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubia::Kubia;
    use std::net::TcpListener;
    use std::thread::JoinHandle;

    fn args(line: &str) -> Result<Options, Error> {
        parse_args(line.split_whitespace().map(String::from))
    }

    /// A one-connection server on loopback that reads the request head, answers
    /// `response`, and hands back the request it got.
    fn serve_once(response: &'static str) -> (String, JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/path?q=1", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(&stream);
            let head = Head::read(&mut reader).unwrap().unwrap();
            let mut body = Vec::new();
            head.framing(Framing::Length(0)).unwrap().copy_body(&mut reader, &mut body).unwrap();
            (&stream).write_all(response.as_bytes()).unwrap();
            head.to_wire() + &String::from_utf8(body).unwrap()
        });
        (url, server)
    }

    fn fetch(flags: &str, url: &str) -> (Result<(), Error>, String) {
        let o = args(&format!("{flags} {url}")).unwrap();
        let mut out = Vec::new();
        let result = run(&o, &mut out);
        (result, String::from_utf8(out).unwrap())
    }

    #[test]
    fn short_flags_combine_and_take_attached_or_following_values() {
        let o = args("-sSf -o out.txt -m0.5 -H X-A:1 --header X-B:2 -XPUT -d a=b --connect-timeout 2 kubia").unwrap();
        assert!(o.silent && o.show_error && o.fail && !o.include);
        assert_eq!(o.output.as_deref(), Some("out.txt"));
        assert_eq!(o.max_time, Some(Duration::from_millis(500)));
        assert_eq!(o.connect_timeout, Some(Duration::from_secs(2)));
        assert_eq!(o.headers, ["X-A:1", "X-B:2"]);
        assert_eq!((o.method.as_deref(), o.data.as_deref()), (Some("PUT"), Some("a=b")));
        assert_eq!(o.url, "kubia");
        assert!(o.shows_errors());
        assert!(!args("-s http://kubia").unwrap().shows_errors());
        assert!(args("-h").unwrap().help);
    }

    #[test]
    fn command_line_mistakes_exit_2() {
        for (line, message) in [
            ("-Z http://x", "curl: option -Z: is unknown"),
            ("--nope http://x", "curl: option --nope: is unknown"),
            ("-s", "curl: no URL specified!"),
            ("http://x -o", "curl: option -o: requires parameter"),
            ("-m soon http://x", "curl: option --max-time: expected a proper numerical parameter"),
            ("http://a http://b", "curl: this curl takes one URL"),
        ] {
            let err = args(line).unwrap_err();
            assert_eq!((err.code, err.to_string().as_str()), (2, message), "{line}");
        }
    }

    #[test]
    fn urls_default_to_http_port_80_and_root() {
        let url = |s| parse_url(s).unwrap();
        assert_eq!(url("http://10.244.1.4:8080"), Url { host: "10.244.1.4".into(), port: 8080, path: "/".into() });
        assert_eq!(url("kubia"), Url { host: "kubia".into(), port: 80, path: "/".into() });
        assert_eq!(url("HTTP://kubia/a/b?c=d#frag").path, "/a/b?c=d");
        assert_eq!(url("kubia?x").path, "/?x");
        let v6 = url("http://[::1]:8080/x");
        assert_eq!((v6.host.as_str(), v6.port, v6.host_header()), ("::1", 8080, "[::1]:8080".to_string()));
        assert_eq!(url("kubia:80").host_header(), "kubia");
    }

    #[test]
    fn bad_urls_fail_as_curl_does() {
        assert_eq!(parse_url("https://kubia").unwrap_err().to_string(), "curl: (1) Protocol \"https\" not supported");
        assert_eq!(parse_url("http:///x").unwrap_err().code, 3);
        assert_eq!(parse_url("http://kubia:99999").unwrap_err().code, 3);
        assert_eq!(parse_url("http://[::1/").unwrap_err().code, 3);
    }

    #[test]
    fn fetches_a_body_framed_by_length() {
        let (url, server) = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\nextra");
        let (result, out) = fetch("", &url);
        assert_eq!((result, out.as_str()), (Ok(()), "hello\n"));
        let request = server.join().unwrap();
        let host = url.trim_start_matches("http://").trim_end_matches("/path?q=1");
        assert_eq!(
            request,
            format!("GET /path?q=1 HTTP/1.1\r\nHost: {host}\r\nUser-Agent: curl/kubelab\r\nAccept: */*\r\n\r\n")
        );
    }

    #[test]
    fn includes_headers_and_decodes_chunks() {
        let (url, server) = serve_once("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        let (result, out) = fetch("-i", &url);
        assert_eq!((result, out.as_str()), (Ok(()), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nabc"));
        server.join().unwrap();
    }

    #[test]
    fn posts_data_with_custom_headers() {
        let (url, server) = serve_once("HTTP/1.0 201 Created\r\n\r\nmade");
        let (result, out) = fetch("-d x=1 -H Accept:text/plain", &url);
        assert_eq!((result, out.as_str()), (Ok(()), "made"));
        let request = server.join().unwrap();
        assert!(request.starts_with("POST /path?q=1 HTTP/1.1\r\n"), "{request}");
        assert!(request.contains("\r\nAccept: text/plain\r\n") && !request.contains("*/*"), "{request}");
        assert!(request.ends_with("Content-Length: 3\r\nAccept: text/plain\r\n\r\nx=1"), "{request}");
    }

    #[test]
    fn head_requests_print_the_head_only() {
        let (url, server) = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n");
        let (result, out) = fetch("-I", &url);
        assert_eq!((result, out.as_str()), (Ok(()), "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n"));
        assert!(server.join().unwrap().starts_with("HEAD /path?q=1 HTTP/1.1\r\n"));
    }

    #[test]
    fn http_errors_fail_only_with_fail() {
        let (url, server) = serve_once("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nsick");
        assert_eq!(fetch("", &url), (Ok(()), "sick".to_string()));
        server.join().unwrap();
        let (url, server) = serve_once("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nsick");
        let (result, out) = fetch("-f", &url);
        assert_eq!(result.unwrap_err().to_string(), "curl: (22) The requested URL returned error: 500");
        assert_eq!(out, "");
        server.join().unwrap();
    }

    #[test]
    fn cut_and_empty_replies_have_their_own_codes() {
        let (url, server) = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
        assert_eq!(fetch("", &url).0.unwrap_err().code, 18);
        server.join().unwrap();
        let (url, server) = serve_once("");
        assert_eq!(fetch("", &url).0.unwrap_err().to_string(), "curl: (52) Empty reply from server");
        server.join().unwrap();
        let (url, server) = serve_once("SSH-2.0-OpenSSH\r\n\r\n");
        assert_eq!(fetch("", &url).0.unwrap_err().code, 8);
        server.join().unwrap();
    }

    #[test]
    fn refused_connections_exit_7() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = fetch("", &format!("127.0.0.1:{port}")).0.unwrap_err();
        assert_eq!(err.code, 7);
        assert!(err.message.starts_with(&format!("Failed to connect to 127.0.0.1 port {port} after ")), "{err}");
    }

    #[test]
    fn a_silent_server_times_out_with_28() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let started = Instant::now();
        let err = fetch("-m 0.2", &url).0.unwrap_err();
        assert_eq!(err.code, 28);
        assert!(err.message.starts_with("Operation timed out after "), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn writes_the_body_to_a_file_with_o() {
        let (url, server) = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfiled");
        let path = std::env::temp_dir().join(format!("kubelab-curl-test-{}", std::process::id()));
        let (result, out) = fetch(&format!("-o {}", path.display()), &url);
        assert_eq!((result, out.as_str()), (Ok(()), ""));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "filed");
        std::fs::remove_file(path).unwrap();
        server.join().unwrap();
    }

    #[test]
    fn talks_to_kubia() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let kubia = Kubia::new("kubia-manual".into(), crate::kubia::Variant::Plain);
            for stream in listener.incoming().take(2) {
                kubia.serve(stream.unwrap()).unwrap();
            }
        });
        assert_eq!(fetch("-s", &url), (Ok(()), "You've hit kubia-manual\n".to_string()));
        let (result, out) = fetch("-si", &url);
        assert_eq!(result, Ok(()));
        assert!(out.starts_with("HTTP/1.1 200 OK\r\nContent-Length: 24\r\n"), "{out}");
    }
}
