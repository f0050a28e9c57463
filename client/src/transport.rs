//! The client's connection to the apiserver, set up so a call costs as few
//! packets as it can: one HTTP/2 connection whose writes are coalesced as a
//! client's (`proto::coalesce`), and requests whose one message ends its
//! stream in the same DATA frame.
//!
//! Without them a create sent three packets: the HEADERS that open the
//! stream, the message, and an empty DATA frame to end the stream (tonic's
//! request body learns it has ended only when polled once more), and the
//! apiserver read each of them separately. Every component calls the
//! apiserver through this connection, so each of their calls saves the same.

use bytes::Bytes;
use http_body::Frame;
use hyper_util::rt::TokioIo;
use proto::coalesce::Coalesced;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::net::TcpStream;
use tonic::body::Body;
use tonic::codegen::Service;
use tonic::transport::channel::ResponseFuture;
use tonic::transport::{Channel, Uri};
use tonic::Status;

/// Makes the channel's connection (and makes it again when it is lost).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Connector;

impl Service<Uri> for Connector {
    type Response = TokioIo<Coalesced<TcpStream>>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(connect(uri))
    }
}

/// Opens a connection to `uri`'s host and port (plain HTTP/2, as kubelab serves it).
async fn connect(uri: Uri) -> io::Result<TokioIo<Coalesced<TcpStream>>> {
    if uri.scheme_str().is_some_and(|s| s != "http") {
        let why = format!("{uri}: the apiserver is reached over plain HTTP/2 (http://)");
        return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
    }
    let host = uri.host().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{uri}: no host")))?;
    // An IPv6 address comes in brackets, as a URL writes it.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let stream = TcpStream::connect((host, uri.port_u16().unwrap_or(80))).await?;
    // Requests are small and latency-bound: none waits for a delayed ACK.
    stream.set_nodelay(true)?;
    Ok(TokioIo::new(Coalesced::client(stream)))
}

/// The channel the API calls go through: each request's body marks its end
/// with its last frame (see [`EndsWithLastFrame`]).
#[derive(Clone, Debug)]
pub(crate) struct Transport(pub(crate) Channel);

impl Service<http::Request<Body>> for Transport {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::poll_ready(&mut self.0, cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        self.0.call(req.map(|body| Body::new(EndsWithLastFrame::new(body))))
    }
}

/// A request body that knows it has ended as soon as its last frame is
/// taken, by reading one frame ahead. hyper asks a body whether it has ended
/// after each DATA frame it takes: a yes ends the stream with that frame.
/// tonic's body for a call's one message has its end at hand right after the
/// message, but says so only when polled again, so hyper sent an empty DATA
/// frame after the message to end the stream.
struct EndsWithLastFrame {
    inner: Body,
    /// The frame read ahead, not yet taken.
    ahead: Option<Result<Frame<Bytes>, Status>>,
    ended: bool,
}

impl EndsWithLastFrame {
    fn new(inner: Body) -> Self {
        EndsWithLastFrame { inner, ahead: None, ended: false }
    }
}

impl http_body::Body for EndsWithLastFrame {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        let frame = match this.ahead.take() {
            Some(frame) => frame,
            None => match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(frame) => frame,
                None => {
                    this.ended = true;
                    return Poll::Ready(None);
                }
            },
        };
        if frame.is_ok() {
            // A stream that has more to send, but not yet, is asked again
            // when it wakes the task; this frame goes now either way.
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(None) => this.ended = true,
                Poll::Ready(Some(next)) => this.ahead = Some(next),
                Poll::Pending => {}
            }
        }
        Poll::Ready(Some(frame))
    }

    fn is_end_stream(&self) -> bool {
        self.ended || (self.ahead.is_none() && self.inner.is_end_stream())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use http_body_util::{BodyExt, StreamBody};

    fn data(frame: Option<Result<Frame<Bytes>, Status>>) -> Bytes {
        frame.expect("a frame").expect("not an error").into_data().expect("a DATA frame")
    }

    #[tokio::test]
    async fn a_single_message_says_the_stream_ended_when_it_is_taken() {
        let one = futures::stream::iter([Ok::<_, Status>(Frame::data(Bytes::from_static(b"message")))]);
        let mut body = EndsWithLastFrame::new(Body::new(StreamBody::new(one)));
        assert!(!body.is_end_stream());
        assert_eq!(data(body.frame().await), "message");
        assert!(body.is_end_stream(), "known without another poll");
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn a_stream_of_messages_ends_after_its_last_and_a_later_one_still_arrives() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Frame<Bytes>, Status>>();
        let mut body = EndsWithLastFrame::new(Body::new(StreamBody::new(rx)));
        tx.unbounded_send(Ok(Frame::data(Bytes::from_static(b"first")))).unwrap();
        tx.unbounded_send(Ok(Frame::data(Bytes::from_static(b"second")))).unwrap();
        assert_eq!(data(body.frame().await), "first");
        assert!(!body.is_end_stream(), "the second is read ahead, not lost");
        assert_eq!(data(body.frame().await), "second");
        assert!(!body.is_end_stream(), "more may come");
        let later = tokio::spawn(async move {
            let frame = body.frame().await;
            (data(frame), body.is_end_stream())
        });
        tx.unbounded_send(Ok(Frame::data(Bytes::from_static(b"third")))).unwrap();
        drop(tx);
        let (third, ended) = later.await.unwrap();
        assert_eq!(third, "third");
        assert!(ended);
    }
}
