//! Write coalescing for kubelab's HTTP/2 connections: the apiserver's (to its
//! clients, and its own to etcd) and every client's to the apiserver.
//!
//! The `h2` crate under tonic holds at most one DATA frame of 256 bytes or
//! more at a time, and flushes the connection to make room for the next one.
//! An object is about 1.4 KB, so one write fanned out to 100 watches on a
//! connection cost 100 flushes, and a reply two (its DATA, then its trailers).
//! A socket that sent at every flush made as many system calls.
//!
//! [`Coalesced`] takes writes into a buffer and answers a flush at once,
//! without sending: it wakes the connection's task instead, and sends what it
//! holds on the task's next turn. By then the task has written every frame it
//! had queued, and other tasks have had a turn to queue more (the next
//! watchers' events, other replies), so they all leave in one system call.
//! Go's HTTP/2 server, which kube-apiserver and etcd use, batches the same
//! way: its writer flushes only when it has nothing more to send.
//!
//! When in that next turn the held bytes go depends on which end writes:
//!
//! - A server ([`Coalesced::new`]) sends them at the turn's first read, which
//!   `h2` does first thing on every poll: a reply's frames are all queued by
//!   the task that answers the request, before the connection's task runs.
//! - A client ([`Coalesced::client`]) sends them at the turn's flush, after
//!   its read, which `h2` does last thing on every poll. A request is queued
//!   in two steps: `h2` writes the HEADERS that open its stream in one turn,
//!   and hyper sends the body from a task of its own once the stream is open,
//!   so the body is written in the next turn. Sent at that turn's read, the
//!   HEADERS went alone, and every request cost the client and the apiserver
//!   two packets; sent at its flush, they leave with the body.
//!
//! The one flush that does wait is a flush while the socket is full: waking
//! the task then would only spin it until the peer reads.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes buffered before they go out without waiting for the next turn.
const LIMIT: usize = 64 << 10;

/// When a connection sends what its flushes held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendAt {
    /// At every flush: HTTP/1 connections. A streaming response (a watch, an
    /// upgraded exec) would otherwise wait for a read that HTTP/1 does not do
    /// while it writes.
    AtFlush,
    /// At the connection task's next read: a server's HTTP/2 connections.
    AtNextRead,
    /// At the first flush after the task's next read found nothing to read: a
    /// client's HTTP/2 connections.
    AfterNextRead,
}

/// A connection whose writes are buffered and sent together on the
/// connection task's next turn (or when the buffer fills, or at shutdown).
#[derive(Debug)]
pub struct Coalesced<T> {
    inner: T,
    buf: Vec<u8>,
    /// How much of `buf` the connection has taken.
    sent: usize,
    /// Whether the socket refused the last write: a flush then waits for it.
    blocked: bool,
    send: SendAt,
    /// Whether a flush held bytes back (and woke the task) since they were last sent.
    held: bool,
    /// Whether a read found nothing since then: the task's next turn has come.
    turned: bool,
}

impl<T> Coalesced<T> {
    /// A server's HTTP/2 connection: held bytes go at the task's next read.
    pub fn new(inner: T) -> Self {
        Coalesced {
            inner,
            buf: Vec::new(),
            sent: 0,
            blocked: false,
            send: SendAt::AtNextRead,
            held: false,
            turned: false,
        }
    }

    /// A connection that buffers writes but sends them at every flush.
    pub fn flushing(inner: T) -> Self {
        Coalesced { send: SendAt::AtFlush, ..Self::new(inner) }
    }

    /// A client's HTTP/2 connection: held bytes go at the flush that ends the
    /// task's next turn, with what that turn wrote (see the module's notes).
    pub fn client(inner: T) -> Self {
        Coalesced { send: SendAt::AfterNextRead, ..Self::new(inner) }
    }
}

impl<T: AsyncWrite + Unpin> Coalesced<T> {
    /// Sends everything buffered.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.buf.len() {
            let written = Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.sent..]);
            self.blocked = written.is_pending();
            let n = ready!(written)?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.buf.clear();
        self.sent = 0;
        self.held = false;
        self.turned = false;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Coalesced<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // What earlier flushes held back goes out now: a server's at once; a
        // client's at its next flush, unless a whole turn went by without one.
        // A full socket does not hold up reading: it wakes the task when it
        // can take more.
        let due = match this.send {
            SendAt::AfterNextRead => this.turned,
            SendAt::AtFlush | SendAt::AtNextRead => true,
        };
        if (due || this.blocked) && !this.buf.is_empty() {
            if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                return Poll::Ready(Err(e));
            }
        }
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if read.is_pending() && this.held {
            this.turned = true;
        }
        read
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Coalesced<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(data)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        slices: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let len: usize = slices.iter().map(|s| s.len()).sum();
        if this.buf.len() + len > LIMIT {
            ready!(this.poll_drain(cx))?;
            if len >= LIMIT {
                return Pin::new(&mut this.inner).poll_write_vectored(cx, slices);
            }
        }
        for slice in slices {
            this.buf.extend_from_slice(slice);
        }
        Poll::Ready(Ok(len))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let hold = match this.send {
            SendAt::AtFlush => false,
            SendAt::AtNextRead => true,
            // The flush that ends the next turn sends.
            SendAt::AfterNextRead => !this.turned,
        };
        if hold && !this.buf.is_empty() && !this.blocked {
            if !this.held {
                // Sent on the task's next turn, which this wake-up makes sure of.
                this.held = true;
                cx.waker().wake_by_ref();
            }
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A connection that records each write it is given, taking at most
    /// `max_write` bytes of one, and has nothing to read yet.
    #[derive(Default)]
    struct Recorder {
        writes: Vec<Vec<u8>>,
        max_write: Option<usize>,
    }

    impl Recorder {
        fn bytes(&self) -> Vec<u8> {
            self.writes.concat()
        }
    }

    impl AsyncRead for Recorder {
        fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, _: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for Recorder {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
            let n = data.len().min(self.max_write.unwrap_or(usize::MAX));
            self.writes.push(data[..n].to_vec());
            Poll::Ready(Ok(n))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Counts its wake-ups: each is one more poll of the connection's task.
    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn wakes() -> (Arc<Wakes>, Waker) {
        let wakes = Arc::new(Wakes::default());
        (wakes.clone(), Waker::from(wakes))
    }

    /// One poll of `conn`'s read, as `h2` starts each poll of its connection.
    fn poll_read_once<T: AsyncRead + AsyncWrite + Unpin>(conn: &mut Coalesced<T>, cx: &mut Context<'_>) -> Poll<usize> {
        let mut space = [0u8; 64];
        let mut buf = ReadBuf::new(&mut space);
        match Pin::new(conn).poll_read(cx, &mut buf) {
            Poll::Ready(r) => Poll::Ready(r.map(|()| buf.filled().len()).expect("read")),
            Poll::Pending => Poll::Pending,
        }
    }

    /// What `h2` does for each DATA frame: write it, then flush to make room.
    fn write_and_flush(conn: &mut Coalesced<impl AsyncWrite + Unpin>, cx: &mut Context<'_>, frame: &[u8]) {
        assert!(matches!(Pin::new(&mut *conn).poll_write(cx, frame), Poll::Ready(Ok(n)) if n == frame.len()));
        assert!(matches!(Pin::new(&mut *conn).poll_flush(cx), Poll::Ready(Ok(()))), "the flush does not wait");
    }

    #[test]
    fn frames_flushed_one_by_one_leave_together_at_the_next_read() {
        let mut conn = Coalesced::new(Recorder::default());
        let (wakes, waker) = wakes();
        let cx = &mut Context::from_waker(&waker);
        write_and_flush(&mut conn, cx, b"HEADERS ");
        write_and_flush(&mut conn, cx, &[7; 1400]);
        write_and_flush(&mut conn, cx, b" TRAILERS");
        assert!(conn.inner.writes.is_empty(), "nothing is sent while the task keeps writing");
        assert!(wakes.0.load(Ordering::SeqCst) > 0, "a flush that holds data back wakes the task");

        assert!(poll_read_once(&mut conn, cx).is_pending());
        assert_eq!(conn.inner.writes.len(), 1, "one system call for all three");
        assert_eq!(conn.inner.bytes(), [&b"HEADERS "[..], &[7; 1400], b" TRAILERS"].concat());

        // With nothing held back, a flush neither sends nor wakes the task.
        let before = wakes.0.load(Ordering::SeqCst);
        assert!(matches!(Pin::new(&mut conn).poll_flush(cx), Poll::Ready(Ok(()))));
        assert!(poll_read_once(&mut conn, cx).is_pending());
        assert_eq!((conn.inner.writes.len(), wakes.0.load(Ordering::SeqCst)), (1, before));
    }

    #[test]
    fn a_clients_headers_wait_for_the_body_its_next_turn_writes() {
        let mut conn = Coalesced::client(Recorder::default());
        let (wakes, waker) = wakes();
        let cx = &mut Context::from_waker(&waker);
        // One turn of the connection's task: nothing to read, then the HEADERS that open a stream.
        assert!(poll_read_once(&mut conn, cx).is_pending());
        write_and_flush(&mut conn, cx, b"HEADERS ");
        write_and_flush(&mut conn, cx, b"WINDOW_UPDATE ");
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "the first held flush wakes the task, once");
        // The next turn: its read sends nothing yet, its flush sends the body with the HEADERS.
        assert!(poll_read_once(&mut conn, cx).is_pending());
        assert!(conn.inner.writes.is_empty(), "the HEADERS wait for the body");
        write_and_flush(&mut conn, cx, &[7; 1400]);
        assert_eq!(conn.inner.writes.len(), 1, "one system call for the request");
        assert_eq!(conn.inner.bytes(), [&b"HEADERS WINDOW_UPDATE "[..], &[7; 1400]].concat());
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);

        // A turn that ends without a flush holds nothing past the next read.
        write_and_flush(&mut conn, cx, b"PING");
        assert!(poll_read_once(&mut conn, cx).is_pending());
        assert_eq!(conn.inner.writes.len(), 1);
        assert!(poll_read_once(&mut conn, cx).is_pending());
        assert_eq!(conn.inner.writes.len(), 2);
        assert_eq!(conn.inner.writes[1], b"PING");
    }

    #[test]
    fn an_http1_connection_sends_at_every_flush() {
        let mut conn = Coalesced::flushing(Recorder::default());
        let (wakes, waker) = wakes();
        let cx = &mut Context::from_waker(&waker);
        write_and_flush(&mut conn, cx, b"HTTP/1.1 200 OK\r\n\r\n");
        write_and_flush(&mut conn, cx, b"chunk");
        assert_eq!(conn.inner.writes, [&b"HTTP/1.1 200 OK\r\n\r\n"[..], b"chunk"]);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_full_buffer_is_sent_without_a_flush_and_order_is_kept() {
        let mut conn = Coalesced::new(Recorder::default());
        let small = vec![1u8; LIMIT - 10];
        let big = vec![2u8; LIMIT + 1];
        conn.write_all(&small).await.unwrap();
        conn.write_all(&big).await.unwrap();
        conn.write_all(b"tail").await.unwrap();
        assert_eq!(conn.inner.writes.len(), 2, "the buffer, then the big write straight through");
        conn.shutdown().await.unwrap();
        assert_eq!(conn.inner.bytes(), [&small[..], &big[..], b"tail"].concat());
    }

    #[tokio::test]
    async fn a_connection_that_takes_part_of_a_write_gets_the_rest() {
        let mut conn = Coalesced::new(Recorder { max_write: Some(1000), ..Default::default() });
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        conn.write_all(&data).await.unwrap();
        conn.shutdown().await.unwrap();
        assert_eq!(conn.inner.writes.len(), 5);
        assert_eq!(conn.inner.bytes(), data);
    }

    #[tokio::test]
    async fn a_full_socket_makes_the_flush_wait_instead_of_spinning_the_task() {
        // A pipe with a tiny buffer: what is held back cannot all go until the peer reads.
        let (near, mut far) = tokio::io::duplex(64);
        let mut conn = Coalesced::new(near);
        let data = vec![9u8; 4096];
        let (wakes, waker) = wakes();
        let cx = &mut Context::from_waker(&waker);
        write_and_flush(&mut conn, cx, &data);
        assert!(poll_read_once(&mut conn, cx).is_pending(), "a full socket does not hold up reading");
        let woken = wakes.0.load(Ordering::SeqCst);
        assert!(Pin::new(&mut conn).poll_flush(cx).is_pending(), "the flush waits for the socket");
        assert_eq!(wakes.0.load(Ordering::SeqCst), woken, "and does not wake the task itself");

        let mut got = vec![0u8; 64];
        far.read_exact(&mut got).await.unwrap();
        assert!(wakes.0.load(Ordering::SeqCst) > woken, "the peer's read wakes the task");
        let read = tokio::spawn(async move {
            let mut rest = Vec::new();
            far.read_to_end(&mut rest).await.unwrap();
            got.extend(rest);
            got
        });
        conn.flush().await.unwrap();
        conn.shutdown().await.unwrap();
        drop(conn);
        assert_eq!(read.await.unwrap(), data);
    }

    #[tokio::test]
    async fn reads_pass_through_after_the_held_back_writes() {
        let (near, mut far) = tokio::io::duplex(1 << 16);
        let mut conn = Coalesced::new(near);
        conn.write_all(b"request").await.unwrap();
        conn.flush().await.unwrap();
        far.write_all(b"reply").await.unwrap();
        let mut got = [0u8; 5];
        conn.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"reply");
        let mut sent = [0u8; 7];
        far.read_exact(&mut sent).await.unwrap();
        assert_eq!(&sent, b"request", "the read sent what the flush held back");
    }
}
