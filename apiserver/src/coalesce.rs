//! Write coalescing for the apiserver's gRPC connections.
//!
//! The `h2` crate under tonic copies a small HTTP/2 frame into its write
//! buffer, but sends every DATA frame of 256 bytes or more to the socket with
//! a `writev` of its own before it takes the next frame. An object is about
//! 1.4 KB, so one write fanned out to 100 watches on a connection cost 100
//! system calls, and a reply two (its DATA, then its trailers).
//!
//! [`Coalesced`] takes writes into a buffer and holds a flush back for one turn
//! of the scheduler, so that frames other tasks queue on the connection
//! meanwhile (the next watchers' events, a reply's trailers) leave in the same
//! system call. Go's HTTP/2 server, which kube-apiserver and etcd use, batches
//! the same way: its writer flushes only when it has nothing more to send.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes buffered before they go out without waiting for a flush.
const LIMIT: usize = 64 << 10;

/// A connection whose writes are buffered and sent together at the next
/// flush, which first lets other tasks run once. Reads pass straight through.
#[derive(Debug)]
pub struct Coalesced<T> {
    inner: T,
    buf: Vec<u8>,
    /// How much of `buf` the connection has taken.
    sent: usize,
    /// Whether the pending flush has already let other tasks run.
    yielded: bool,
}

impl<T> Coalesced<T> {
    pub fn new(inner: T) -> Self {
        Coalesced { inner, buf: Vec::new(), sent: 0, yielded: false }
    }
}

impl<T: AsyncWrite + Unpin> Coalesced<T> {
    /// Sends everything buffered.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.buf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.buf.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Coalesced<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
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
        if this.buf.is_empty() {
            return Pin::new(&mut this.inner).poll_flush(cx);
        }
        if !this.yielded {
            // The connection's task is polled again after the tasks already
            // waiting to run, which may queue more frames on it.
            this.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        ready!(this.poll_drain(cx))?;
        this.yielded = false;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<T: tonic::transport::server::Connected> tonic::transport::server::Connected for Coalesced<T> {
    type ConnectInfo = T::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::task::Waker;
    use tokio::io::AsyncWriteExt;

    /// A connection that records each write it is given, taking at most
    /// `max_write` bytes of one.
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

    fn flush_once(conn: &mut Coalesced<Recorder>) -> Poll<io::Result<()>> {
        Pin::new(conn).poll_flush(&mut Context::from_waker(Waker::noop()))
    }

    #[tokio::test]
    async fn frames_written_before_a_flush_leave_in_one_write() {
        let mut conn = Coalesced::new(Recorder::default());
        conn.write_all(b"HEADERS").await.unwrap();
        let data = [IoSlice::new(b"DATA-header "), IoSlice::new(&[7; 1400])];
        assert_eq!(conn.write_vectored(&data).await.unwrap(), 1412, "a vectored write is taken whole");
        conn.write_all(b"TRAILERS").await.unwrap();
        assert!(conn.inner.writes.is_empty(), "nothing is sent before a flush");

        conn.flush().await.unwrap();
        assert_eq!(conn.inner.writes.len(), 1);
        let expected = [&b"HEADERS"[..], b"DATA-header ", &[7; 1400], b"TRAILERS"].concat();
        assert_eq!(conn.inner.bytes(), expected);
    }

    #[test]
    fn a_flush_lets_other_tasks_run_once_before_it_sends() {
        let mut conn = Coalesced::new(Recorder::default());
        let cx = &mut Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut conn).poll_write(cx, b"event 1").is_ready());
        assert!(flush_once(&mut conn).is_pending(), "the first poll of a flush yields");
        assert!(Pin::new(&mut conn).poll_write(cx, b", event 2").is_ready());
        assert!(matches!(flush_once(&mut conn), Poll::Ready(Ok(()))));
        assert_eq!(conn.inner.writes, vec![b"event 1, event 2".to_vec()]);

        // The next flush yields again; a flush with nothing buffered does not.
        assert!(Pin::new(&mut conn).poll_write(cx, b"event 3").is_ready());
        assert!(flush_once(&mut conn).is_pending());
        assert!(flush_once(&mut conn).is_ready());
        assert!(flush_once(&mut conn).is_ready());
        assert_eq!(conn.inner.writes.len(), 2);
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
        conn.flush().await.unwrap();
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
    async fn a_flush_waits_for_a_connection_that_is_not_writable() {
        // A pipe with a tiny buffer: the flush cannot finish until the peer reads.
        let (writer, mut reader) = tokio::io::duplex(64);
        let mut conn = Coalesced::new(writer);
        let data = vec![9u8; 4096];
        conn.write_all(&data).await.unwrap();
        let mut flushed = false;
        poll_fn(|cx| {
            // The first poll yields; the second sends what the pipe takes.
            for _ in 0..2 {
                flushed = Pin::new(&mut conn).poll_flush(cx).is_ready();
            }
            Poll::Ready(())
        })
        .await;
        assert!(!flushed);
        let read = tokio::spawn(async move {
            let mut got = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut got).await.unwrap();
            got
        });
        conn.flush().await.unwrap();
        conn.shutdown().await.unwrap();
        drop(conn);
        assert_eq!(read.await.unwrap(), data);
    }
}
