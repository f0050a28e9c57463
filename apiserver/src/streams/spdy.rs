//! SPDY/3.1, the multiplexing protocol kubectl speaks for exec, attach and
//! port-forward (Go's `spdystream`): frames, their zlib-compressed header
//! blocks, and a session that carries many byte streams over one connection.
//!
//! Only what Kubernetes uses is here. Neither `spdystream` nor kubectl does
//! flow control, so WINDOW_UPDATE and SETTINGS are read and ignored, and no
//! window limits what is sent.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// The version every control frame carries.
const VERSION: u16 = 3;
/// DATA, SYN_STREAM, SYN_REPLY and HEADERS: the sender's last frame on the stream.
pub const FLAG_FIN: u8 = 0x01;
/// SYN_STREAM: the receiver may not send on the stream.
pub const FLAG_UNIDIRECTIONAL: u8 = 0x02;
/// A header block decompresses to at most this; Kubernetes' are tiny.
const MAX_HEADER_BLOCK: usize = 1 << 20;
/// How long a session whose side is closed keeps reading, for the peer to close its own.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
/// Data is sent in frames of at most this many bytes.
const DATA_CHUNK: usize = 32 * 1024;

/// RST_STREAM status codes.
pub const RST_PROTOCOL_ERROR: u32 = 1;
pub const RST_CANCEL: u32 = 5;

/// Control frame types.
const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

/// A header block: lower-case names; several values of one name are joined by NUL.
pub type Headers = Vec<(String, String)>;

/// The first value of header `name` (names are lower case on the wire).
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.split('\0').next().unwrap_or(""))
}

/// One SPDY/3 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    SynStream {
        stream_id: u32,
        associated_to: u32,
        priority: u8,
        flags: u8,
        headers: Headers,
    },
    SynReply {
        stream_id: u32,
        flags: u8,
        headers: Headers,
    },
    RstStream {
        stream_id: u32,
        status: u32,
    },
    /// Entries are (flags, id, value).
    Settings {
        flags: u8,
        entries: Vec<(u8, u32, u32)>,
    },
    Ping {
        id: u32,
    },
    GoAway {
        last_good_stream_id: u32,
        status: u32,
    },
    Headers {
        stream_id: u32,
        flags: u8,
        headers: Headers,
    },
    WindowUpdate {
        stream_id: u32,
        delta: u32,
    },
    Data {
        stream_id: u32,
        flags: u8,
        data: Bytes,
    },
}

/// What is wrong with bytes that should have been SPDY.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpdyError {
    #[error("unsupported SPDY version {0}")]
    Version(u16),
    #[error("invalid SPDY {0} frame: {1}")]
    Invalid(&'static str, String),
    #[error("invalid SPDY header block: {0}")]
    HeaderBlock(String),
}

/// The zlib dictionary header blocks are compressed with (SPDY/3 section
/// 2.6.10.1): common header names, each with a 4-byte length, then common values.
pub static DICTIONARY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    const NAMES: &[&str] = &[
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
        "200 OK",
        "version",
        "HTTP/1.1",
        "url",
        "public",
        "set-cookie",
        "keep-alive",
        "origin",
    ];
    const VALUES: &str = concat!(
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized",
        "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable",
        "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,",
        "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
    );
    let mut dict = Vec::with_capacity(1423);
    for name in NAMES {
        dict.put_u32(name.len() as u32);
        dict.put_slice(name.as_bytes());
    }
    dict.put_slice(VALUES.as_bytes());
    dict
});

/// Writes frames; owns the connection's header compressor (one zlib stream
/// per direction for the connection's life).
pub struct FrameWriter {
    zlib: Compress,
}

impl Default for FrameWriter {
    fn default() -> Self {
        let mut zlib = Compress::new(Compression::best(), true);
        zlib.set_dictionary(&DICTIONARY).expect("a fresh compressor takes a dictionary");
        Self { zlib }
    }
}

impl FrameWriter {
    /// Appends `frame`'s bytes to `out`.
    pub fn encode(&mut self, frame: &Frame, out: &mut Vec<u8>) {
        let (kind, flags, body) = match frame {
            Frame::Data { stream_id, flags, data } => {
                out.put_u32(stream_id & 0x7FFF_FFFF);
                out.put_u32((u32::from(*flags) << 24) | (data.len() as u32 & 0xFF_FFFF));
                out.put_slice(data);
                return;
            }
            Frame::SynStream { stream_id, associated_to, priority, flags, headers } => {
                let mut body = Vec::new();
                body.put_u32(stream_id & 0x7FFF_FFFF);
                body.put_u32(associated_to & 0x7FFF_FFFF);
                body.put_u8((priority & 0x07) << 5);
                body.put_u8(0); // slot
                body.extend(self.header_block(headers));
                (SYN_STREAM, *flags, body)
            }
            Frame::SynReply { stream_id, flags, headers } => {
                let mut body = Vec::new();
                body.put_u32(stream_id & 0x7FFF_FFFF);
                body.extend(self.header_block(headers));
                (SYN_REPLY, *flags, body)
            }
            Frame::Headers { stream_id, flags, headers } => {
                let mut body = Vec::new();
                body.put_u32(stream_id & 0x7FFF_FFFF);
                body.extend(self.header_block(headers));
                (HEADERS, *flags, body)
            }
            Frame::RstStream { stream_id, status } => {
                (RST_STREAM, 0, [(stream_id & 0x7FFF_FFFF).to_be_bytes(), status.to_be_bytes()].concat())
            }
            Frame::Settings { flags, entries } => {
                let mut body = Vec::new();
                body.put_u32(entries.len() as u32);
                for (f, id, value) in entries {
                    body.put_u32((u32::from(*f) << 24) | (id & 0xFF_FFFF));
                    body.put_u32(*value);
                }
                (SETTINGS, *flags, body)
            }
            Frame::Ping { id } => (PING, 0, id.to_be_bytes().to_vec()),
            Frame::GoAway { last_good_stream_id, status } => {
                (GOAWAY, 0, [(last_good_stream_id & 0x7FFF_FFFF).to_be_bytes(), status.to_be_bytes()].concat())
            }
            Frame::WindowUpdate { stream_id, delta } => (
                WINDOW_UPDATE,
                0,
                [(stream_id & 0x7FFF_FFFF).to_be_bytes(), (delta & 0x7FFF_FFFF).to_be_bytes()].concat(),
            ),
        };
        out.put_u16(0x8000 | VERSION);
        out.put_u16(kind);
        out.put_u32((u32::from(flags) << 24) | (body.len() as u32 & 0xFF_FFFF));
        out.put_slice(&body);
    }

    /// A header block, compressed and flushed so the peer can read it at once.
    fn header_block(&mut self, headers: &Headers) -> Vec<u8> {
        let mut raw = Vec::new();
        raw.put_u32(headers.len() as u32);
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            raw.put_u32(name.len() as u32);
            raw.put_slice(name.as_bytes());
            raw.put_u32(value.len() as u32);
            raw.put_slice(value.as_bytes());
        }
        let mut out = Vec::with_capacity(raw.len() + 64);
        let mut consumed = 0;
        loop {
            let before = self.zlib.total_in();
            self.zlib
                .compress_vec(&raw[consumed..], &mut out, FlushCompress::Sync)
                .expect("zlib compression cannot fail");
            consumed += (self.zlib.total_in() - before) as usize;
            // A sync flush is complete once it left room to spare.
            if consumed == raw.len() && out.len() < out.capacity() {
                return out;
            }
            out.reserve(256);
        }
    }
}

/// Reads frames; owns the connection's header decompressor.
pub struct FrameReader {
    zlib: Decompress,
}

impl Default for FrameReader {
    fn default() -> Self {
        Self { zlib: Decompress::new(true) }
    }
}

impl FrameReader {
    /// Takes one whole frame off the front of `buf`, or None until more bytes arrive.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, SpdyError> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let len = (u32::from_be_bytes([0, buf[5], buf[6], buf[7]])) as usize;
        if buf.len() < 8 + len {
            return Ok(None);
        }
        let control = buf[0] & 0x80 != 0;
        let first = buf.get_u32();
        let flags = buf.get_u8();
        buf.advance(3);
        let mut body = buf.split_to(len).freeze();
        if !control {
            return Ok(Some(Frame::Data { stream_id: first & 0x7FFF_FFFF, flags, data: body }));
        }
        let version = ((first >> 16) & 0x7FFF) as u16;
        if version != VERSION {
            return Err(SpdyError::Version(version));
        }
        let kind = (first & 0xFFFF) as u16;
        let need = |name: &'static str, min: usize, body: &Bytes| {
            if body.len() < min {
                Err(SpdyError::Invalid(name, format!("{} bytes, at least {min} expected", body.len())))
            } else {
                Ok(())
            }
        };
        let frame = match kind {
            SYN_STREAM => {
                need("SYN_STREAM", 10, &body)?;
                let stream_id = body.get_u32() & 0x7FFF_FFFF;
                let associated_to = body.get_u32() & 0x7FFF_FFFF;
                let priority = body.get_u8() >> 5;
                body.advance(1);
                let headers = self.header_block(&body)?;
                Frame::SynStream { stream_id, associated_to, priority, flags, headers }
            }
            SYN_REPLY => {
                need("SYN_REPLY", 4, &body)?;
                let stream_id = body.get_u32() & 0x7FFF_FFFF;
                Frame::SynReply { stream_id, flags, headers: self.header_block(&body)? }
            }
            HEADERS => {
                need("HEADERS", 4, &body)?;
                let stream_id = body.get_u32() & 0x7FFF_FFFF;
                Frame::Headers { stream_id, flags, headers: self.header_block(&body)? }
            }
            RST_STREAM => {
                need("RST_STREAM", 8, &body)?;
                Frame::RstStream { stream_id: body.get_u32() & 0x7FFF_FFFF, status: body.get_u32() }
            }
            SETTINGS => {
                need("SETTINGS", 4, &body)?;
                let count = body.get_u32() as usize;
                if body.len() != count.saturating_mul(8) {
                    return Err(SpdyError::Invalid("SETTINGS", format!("{count} entries in {} bytes", body.len())));
                }
                let entries = (0..count)
                    .map(|_| {
                        let head = body.get_u32();
                        ((head >> 24) as u8, head & 0xFF_FFFF, body.get_u32())
                    })
                    .collect();
                Frame::Settings { flags, entries }
            }
            PING => {
                need("PING", 4, &body)?;
                Frame::Ping { id: body.get_u32() }
            }
            GOAWAY => {
                need("GOAWAY", 8, &body)?;
                Frame::GoAway { last_good_stream_id: body.get_u32() & 0x7FFF_FFFF, status: body.get_u32() }
            }
            WINDOW_UPDATE => {
                need("WINDOW_UPDATE", 8, &body)?;
                Frame::WindowUpdate { stream_id: body.get_u32() & 0x7FFF_FFFF, delta: body.get_u32() & 0x7FFF_FFFF }
            }
            other => return Err(SpdyError::Invalid("control", format!("unknown frame type {other}"))),
        };
        Ok(Some(frame))
    }

    /// Decompresses and parses one header block.
    fn header_block(&mut self, compressed: &[u8]) -> Result<Headers, SpdyError> {
        let bad = |why: String| SpdyError::HeaderBlock(why);
        let mut raw = Vec::with_capacity(compressed.len() * 4 + 64);
        let mut consumed = 0;
        loop {
            let (in_before, out_before) = (self.zlib.total_in(), raw.len());
            match self.zlib.decompress_vec(&compressed[consumed..], &mut raw, FlushDecompress::Sync) {
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.zlib.set_dictionary(&DICTIONARY).map_err(|e| bad(e.to_string()))?;
                }
                Err(e) => return Err(bad(e.to_string())),
            }
            consumed += (self.zlib.total_in() - in_before) as usize;
            if consumed == compressed.len() && raw.len() < raw.capacity() {
                break;
            }
            if raw.len() >= MAX_HEADER_BLOCK {
                return Err(bad(format!("more than {MAX_HEADER_BLOCK} bytes")));
            }
            if raw.len() == raw.capacity() {
                raw.reserve(raw.capacity().max(256));
            } else if raw.len() == out_before && self.zlib.total_in() == in_before && consumed < compressed.len() {
                return Err(bad("the compressed data does not progress".into()));
            }
        }
        if raw.len() < 4 {
            return Err(bad("truncated before the header count".into()));
        }
        let count = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
        let mut block = &raw[4..];
        let mut next = |what: &str| -> Result<Vec<u8>, SpdyError> {
            if block.len() < 4 {
                return Err(bad(format!("truncated before the length of a {what}")));
            }
            let n = block.get_u32() as usize;
            if block.len() < n {
                return Err(bad(format!("a {what} of {n} bytes overruns the block")));
            }
            let v = block[..n].to_vec();
            block.advance(n);
            Ok(v)
        };
        let mut headers = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let name = String::from_utf8(next("header name")?).map_err(|_| bad("a header name is not UTF-8".into()))?;
            let value =
                String::from_utf8(next("header value")?).map_err(|_| bad("a header value is not UTF-8".into()))?;
            if name.is_empty() {
                return Err(bad("empty header name".into()));
            }
            headers.push((name.to_ascii_lowercase(), value));
        }
        Ok(headers)
    }
}

/// What the session's writer task is asked to send.
enum Out {
    Frame(Frame),
    /// Sent, then the connection's write side is shut down.
    GoAway,
}

/// A handle for sending on a session; cheap to clone. The connection's write
/// side closes once every handle (and every stream) is gone.
#[derive(Clone)]
pub struct Sender {
    tx: mpsc::Sender<Out>,
}

impl Sender {
    async fn send(&self, frame: Frame) -> bool {
        self.tx.send(Out::Frame(frame)).await.is_ok()
    }
    /// Sends `data` on a stream (in frames of at most 32 KiB), FIN after it when `fin`.
    pub async fn data(&self, stream_id: u32, data: &[u8], fin: bool) -> bool {
        let mut chunks = data.chunks(DATA_CHUNK).peekable();
        if chunks.peek().is_none() {
            return !fin || self.send(Frame::Data { stream_id, flags: FLAG_FIN, data: Bytes::new() }).await;
        }
        while let Some(chunk) = chunks.next() {
            let flags = if fin && chunks.peek().is_none() { FLAG_FIN } else { 0 };
            if !self.send(Frame::Data { stream_id, flags, data: Bytes::copy_from_slice(chunk) }).await {
                return false;
            }
        }
        true
    }
    /// Ends this side of a stream.
    pub async fn close(&self, stream_id: u32) -> bool {
        self.data(stream_id, &[], true).await
    }
    /// Abandons a stream.
    pub async fn reset(&self, stream_id: u32, status: u32) -> bool {
        self.send(Frame::RstStream { stream_id, status }).await
    }
    /// Says goodbye: GOAWAY, then the write side is closed.
    pub async fn go_away(&self) {
        let _ = self.tx.send(Out::GoAway).await;
    }
}

/// One stream of a session: its headers, the peer's data, and a way to send.
pub struct Stream {
    pub id: u32,
    pub headers: Headers,
    /// The peer's data; ends at its FIN, a reset, or the connection's end.
    pub data: mpsc::Receiver<Bytes>,
    pub sender: Sender,
}

impl Stream {
    /// The first value of one of the stream's headers.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

type Routes = Arc<Mutex<HashMap<u32, mpsc::Sender<Bytes>>>>;

/// A SPDY connection. A server session answers each stream the peer opens and
/// hands it out through [`Session::accept`]; a client session opens streams.
pub struct Session {
    incoming: mpsc::Receiver<Stream>,
    sender: Sender,
    routes: Routes,
    next_id: u32,
}

impl Session {
    /// Runs a session over `io` as its server.
    pub fn server<T: AsyncRead + AsyncWrite + Send + 'static>(io: T) -> Self {
        Self::start(io, false)
    }
    /// Runs a session over `io` as its client (the tests' kubectl).
    pub fn client<T: AsyncRead + AsyncWrite + Send + 'static>(io: T) -> Self {
        Self::start(io, true)
    }

    fn start<T: AsyncRead + AsyncWrite + Send + 'static>(io: T, client: bool) -> Self {
        let (read, write) = tokio::io::split(io);
        let (out_tx, out_rx) = mpsc::channel(64);
        let (in_tx, in_rx) = mpsc::channel(16);
        let sender = Sender { tx: out_tx };
        let routes: Routes = Arc::default();
        let (done_tx, done_rx) = oneshot::channel();
        tokio::spawn(async move {
            write_frames(write, out_rx).await;
            let _ = done_tx.send(());
        });
        tokio::spawn(read_frames(read, sender.clone(), routes.clone(), in_tx, client, done_rx));
        Self { incoming: in_rx, sender, routes, next_id: if client { 1 } else { 2 } }
    }

    /// The next stream the peer opens; None once the connection is over.
    pub async fn accept(&mut self) -> Option<Stream> {
        self.incoming.recv().await
    }

    /// Opens a stream with these headers.
    pub async fn open(&mut self, headers: Headers) -> Option<Stream> {
        let id = self.next_id;
        self.next_id += 2;
        let (tx, rx) = mpsc::channel(256);
        self.routes.lock().expect("routes lock").insert(id, tx);
        let syn = Frame::SynStream { stream_id: id, associated_to: 0, priority: 0, flags: 0, headers: headers.clone() };
        self.sender.send(syn).await.then(|| Stream { id, headers, data: rx, sender: self.sender.clone() })
    }

    /// A handle for sending.
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }
}

/// Encodes and writes what the session's handles send, in order.
async fn write_frames<W: AsyncWrite>(write: W, mut out: mpsc::Receiver<Out>) {
    tokio::pin!(write);
    let mut writer = FrameWriter::default();
    let mut buf = Vec::with_capacity(DATA_CHUNK + 64);
    while let Some(item) = out.recv().await {
        buf.clear();
        let mut next = Some(item);
        let mut last = false;
        // Whatever else is queued leaves in the same write.
        while let Some(item) = next.take() {
            match item {
                Out::Frame(frame) => writer.encode(&frame, &mut buf),
                Out::GoAway => {
                    writer.encode(&Frame::GoAway { last_good_stream_id: 0, status: 0 }, &mut buf);
                    last = true;
                    break;
                }
            }
            if buf.len() < 64 * 1024 {
                next = out.try_recv().ok();
            }
        }
        if write.write_all(&buf).await.is_err() || write.flush().await.is_err() {
            return;
        }
        if last {
            break;
        }
    }
    let _ = write.shutdown().await;
}

/// Reads frames and routes them: new streams to `incoming` (answered with
/// SYN_REPLY on a server), data to its stream, pings echoed.
async fn read_frames<R: AsyncRead>(
    read: R,
    sender: Sender,
    routes: Routes,
    incoming: mpsc::Sender<Stream>,
    client: bool,
    mut written: oneshot::Receiver<()>,
) {
    // Once our side is closed, the peer has a moment to read and close its own.
    let mut deadline = None;
    tokio::pin!(read);
    let mut reader = FrameReader::default();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    'read: loop {
        loop {
            let frame = match reader.decode(&mut buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "SPDY connection ends on a bad frame");
                    break 'read;
                }
            };
            match frame {
                Frame::SynStream { stream_id, flags, headers, .. } => {
                    // A stream id of our own parity, or one already open, is a protocol error.
                    let ours = (stream_id % 2 == 1) == client;
                    let known = routes.lock().expect("routes lock").contains_key(&stream_id);
                    if ours || known || stream_id == 0 {
                        sender.reset(stream_id, RST_PROTOCOL_ERROR).await;
                        continue;
                    }
                    let (tx, rx) = mpsc::channel(256);
                    if flags & FLAG_FIN == 0 {
                        routes.lock().expect("routes lock").insert(stream_id, tx);
                    }
                    if !client {
                        sender.send(Frame::SynReply { stream_id, flags: 0, headers: Vec::new() }).await;
                    }
                    let stream = Stream { id: stream_id, headers, data: rx, sender: sender.clone() };
                    if incoming.send(stream).await.is_err() {
                        sender.reset(stream_id, RST_CANCEL).await;
                    }
                }
                Frame::Data { stream_id, flags, data } => {
                    let route = routes.lock().expect("routes lock").get(&stream_id).cloned();
                    if let Some(route) = route {
                        if !data.is_empty() && route.send(data).await.is_err() {
                            // Nobody reads this stream any more; drop what comes.
                        }
                    }
                    if flags & FLAG_FIN != 0 {
                        routes.lock().expect("routes lock").remove(&stream_id);
                    }
                }
                Frame::SynReply { stream_id, flags, .. } | Frame::Headers { stream_id, flags, .. } => {
                    if flags & FLAG_FIN != 0 {
                        routes.lock().expect("routes lock").remove(&stream_id);
                    }
                }
                Frame::RstStream { stream_id, .. } => {
                    routes.lock().expect("routes lock").remove(&stream_id);
                }
                // Only the peer's own pings (its parity) are answered; ours coming back are replies.
                Frame::Ping { id } if (id % 2 == 1) != client => {
                    sender.send(Frame::Ping { id }).await;
                }
                Frame::GoAway { .. } => break 'read,
                Frame::Ping { .. } | Frame::Settings { .. } | Frame::WindowUpdate { .. } => {}
            }
        }
        let got = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, read.read_buf(&mut buf)).await {
                Ok(got) => got,
                Err(_) => break,
            },
            None => tokio::select! {
                got = read.read_buf(&mut buf) => got,
                _ = &mut written => {
                    deadline = Some(tokio::time::Instant::now() + CLOSE_GRACE);
                    continue;
                }
            },
        };
        match got {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    // Every stream sees the end of its data.
    routes.lock().expect("routes lock").clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn round_trip(frames: &[Frame]) -> Vec<Frame> {
        let mut writer = FrameWriter::default();
        let mut bytes = Vec::new();
        for f in frames {
            writer.encode(f, &mut bytes);
        }
        let mut reader = FrameReader::default();
        let mut buf = BytesMut::from(&bytes[..]);
        let mut back = Vec::new();
        while let Some(f) = reader.decode(&mut buf).expect("decodes") {
            back.push(f);
        }
        assert!(buf.is_empty(), "{} bytes left over", buf.len());
        back
    }

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_dictionary_is_the_one_spdy3_names() {
        // Its length and Adler-32 (the DICTID zlib puts in each stream's header).
        assert_eq!(DICTIONARY.len(), 1423);
        let (mut a, mut b) = (1u32, 0u32);
        for byte in DICTIONARY.iter() {
            a = (a + u32::from(*byte)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!((b << 16) | a, 0xe3c6_a7c2);
    }

    #[test]
    fn every_frame_survives_a_round_trip_and_header_blocks_share_one_zlib_stream() {
        let frames = vec![
            Frame::SynStream {
                stream_id: 1,
                associated_to: 0,
                priority: 3,
                flags: FLAG_UNIDIRECTIONAL,
                headers: h(&[("streamtype", "error"), ("port", "8080"), ("requestid", "0")]),
            },
            Frame::SynReply { stream_id: 1, flags: 0, headers: vec![] },
            // The same headers again: the second block leans on the first's zlib history.
            Frame::SynStream {
                stream_id: 3,
                associated_to: 0,
                priority: 0,
                flags: FLAG_FIN,
                headers: h(&[("streamtype", "data"), ("port", "8080"), ("requestid", "0")]),
            },
            Frame::Headers { stream_id: 3, flags: FLAG_FIN, headers: h(&[("x", "a\0b")]) },
            Frame::Data { stream_id: 3, flags: FLAG_FIN, data: Bytes::from_static(b"hello") },
            Frame::Data { stream_id: 5, flags: 0, data: Bytes::new() },
            Frame::RstStream { stream_id: 3, status: RST_CANCEL },
            Frame::Settings { flags: 1, entries: vec![(1, 7, 65536), (0, 4, 100)] },
            Frame::Ping { id: 2 },
            Frame::GoAway { last_good_stream_id: 5, status: 0 },
            Frame::WindowUpdate { stream_id: 1, delta: 1 << 20 },
        ];
        assert_eq!(round_trip(&frames), frames);
    }

    #[test]
    fn frames_have_the_spdy3_layout() {
        let mut w = FrameWriter::default();
        let mut out = Vec::new();
        w.encode(&Frame::Ping { id: 7 }, &mut out);
        assert_eq!(out, [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 7]);
        out.clear();
        w.encode(&Frame::Data { stream_id: 5, flags: FLAG_FIN, data: Bytes::from_static(b"ok") }, &mut out);
        assert_eq!(out, [0, 0, 0, 5, 0x01, 0, 0, 2, b'o', b'k']);
        out.clear();
        w.encode(&Frame::RstStream { stream_id: 3, status: RST_CANCEL }, &mut out);
        assert_eq!(out, [0x80, 0x03, 0x00, 0x03, 0, 0, 0, 8, 0, 0, 0, 3, 0, 0, 0, 5]);
    }

    /// A SYN_STREAM as Go's framer sends it, its header block compressed by
    /// C zlib (level 9, the SPDY dictionary, sync flush), made with Python's
    /// `zlib.compressobj(9, zdict=...)`; then a second block on the same stream.
    #[test]
    fn reads_header_blocks_compressed_by_c_zlib() {
        #[rustfmt::skip]
        let bytes: &[u8] = &[
            0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2, 0x02, 0x25, 0x3a, 0x70, 0x3a, 0x2b, 0x29, 0x4a,
            0x4d, 0xcc, 0x85, 0x16, 0x25, 0xac, 0xa9, 0xa0, 0x80, 0x86, 0x14, 0xcb, 0x45, 0xe0, 0x1c, 0x60,
            0x61, 0x60, 0x61, 0x00, 0xa4, 0x39, 0x8b, 0x20, 0xd1, 0x98, 0x09, 0x4a, 0xde, 0x8c, 0x06, 0x00,
            0x00, 0x00, 0x00, 0xff, 0xff, 0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00,
            0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc2, 0xaa, 0x19, 0x54, 0x0e, 0x25, 0x12, 0xd6, 0x0b,
            0x00, 0x00, 0x00, 0xff, 0xff,
        ];
        let mut reader = FrameReader::default();
        let mut buf = BytesMut::from(bytes);
        let syn = |id: u32, kind: &str| Frame::SynStream {
            stream_id: id,
            associated_to: 0,
            priority: 0,
            flags: 0,
            headers: h(&[("streamtype", kind), ("port", "8080"), ("requestid", "0")]),
        };
        assert_eq!(reader.decode(&mut buf), Ok(Some(syn(1, "error"))));
        assert_eq!(reader.decode(&mut buf), Ok(Some(syn(3, "data"))));
        assert_eq!(reader.decode(&mut buf), Ok(None));
    }

    /// Reads frames off a raw connection until `n` have come.
    async fn frames_from(io: &mut tokio::io::DuplexStream, reader: &mut FrameReader, n: usize) -> Vec<Frame> {
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        while frames.len() < n {
            while let Some(f) = reader.decode(&mut buf).unwrap() {
                frames.push(f);
            }
            if frames.len() < n {
                assert!(io.read_buf(&mut buf).await.unwrap() > 0, "the connection ended after {frames:?}");
            }
        }
        frames
    }

    #[tokio::test]
    async fn a_server_session_replies_to_streams_echoes_pings_and_says_goodbye() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let mut session = Session::server(server);
        let (mut writer, mut reader) = (FrameWriter::default(), FrameReader::default());
        let mut out = Vec::new();
        let headers = h(&[("streamtype", "stdin")]);
        writer.encode(&Frame::SynStream { stream_id: 1, associated_to: 0, priority: 0, flags: 0, headers }, &mut out);
        writer.encode(&Frame::Ping { id: 1 }, &mut out);
        writer.encode(&Frame::Data { stream_id: 1, flags: FLAG_FIN, data: Bytes::from_static(b"in") }, &mut out);
        client.write_all(&out).await.unwrap();
        let mut stream = session.accept().await.unwrap();
        assert_eq!((stream.id, stream.header("streamType")), (1, Some("stdin")));
        assert_eq!(&stream.data.recv().await.unwrap()[..], b"in");
        assert_eq!(stream.data.recv().await, None, "FIN ends the stream's data");
        let got = frames_from(&mut client, &mut reader, 2).await;
        assert_eq!(got, [Frame::SynReply { stream_id: 1, flags: 0, headers: vec![] }, Frame::Ping { id: 1 }]);
        stream.sender.data(1, &vec![7u8; 40_000], true).await;
        stream.sender.go_away().await;
        let got = frames_from(&mut client, &mut reader, 3).await;
        assert!(matches!(&got[0], Frame::Data { stream_id: 1, flags: 0, data } if data.len() == DATA_CHUNK));
        assert!(
            matches!(&got[1], Frame::Data { stream_id: 1, flags: FLAG_FIN, data } if data.len() == 40_000 - DATA_CHUNK)
        );
        assert_eq!(got[2], Frame::GoAway { last_good_stream_id: 0, status: 0 });
        let mut rest = Vec::new();
        assert_eq!(client.read_to_end(&mut rest).await.unwrap(), 0, "the server closed its side");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut r = FrameReader::default();
        // Version 2.
        let mut buf = BytesMut::from(&[0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1][..]);
        assert_eq!(r.decode(&mut buf), Err(SpdyError::Version(2)));
        // A SYN_STREAM whose header block is not zlib.
        let mut buf = BytesMut::from(&[0x80, 0x03, 0x00, 0x01, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2][..]);
        assert!(matches!(r.decode(&mut buf), Err(SpdyError::HeaderBlock(_))));
        // A short PING.
        let mut r = FrameReader::default();
        let mut buf = BytesMut::from(&[0x80, 0x03, 0x00, 0x06, 0, 0, 0, 2, 0, 1][..]);
        assert!(matches!(r.decode(&mut buf), Err(SpdyError::Invalid("PING", _))));
        // Half a frame is not a frame yet.
        let mut buf = BytesMut::from(&[0x80, 0x03, 0x00, 0x06, 0, 0, 0, 4, 0][..]);
        assert_eq!(r.decode(&mut buf), Ok(None));
    }
}
