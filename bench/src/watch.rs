//! Watch delivery latency: many watchers on one collection, a writer creating
//! stamped objects at a steady rate, and each watcher recording, for every
//! object it is told about, the time from just before the write was sent to
//! just after its send stamp was read from the event. The same harness measures raw etcd
//! watches and apiserver watches; only the streams and the writer differ.
//!
//! Each watcher is its own task, as each would be its own informer in a real
//! component; the writer is open-loop (a fixed rate, not as fast as possible)
//! so the measurement is of delivery, not of a saturated write path.

use crate::stats::Latencies;
use futures::stream::BoxStream;
use futures::StreamExt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A watch, reduced to what the measurement needs: for each message, the send
/// stamps (ns since the epoch) of the objects it reports.
pub type StampStream = BoxStream<'static, Result<Vec<u64>, String>>;

/// How long watchers may lag behind the last write before the missing events
/// count as lost.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// What the watchers saw.
#[derive(Debug, Default)]
pub struct Delivery {
    /// One sample per (watcher, event).
    pub latencies: Latencies,
    /// Events delivered, summed over watchers.
    pub received: u64,
    /// Writes that succeeded times watchers: what should have been delivered.
    pub expected: u64,
    pub writes_ok: u64,
    pub writes_failed: u64,
    pub first_error: Option<String>,
    /// From the first write to the last delivery (or the drain timeout).
    pub elapsed: Duration,
}

impl Delivery {
    /// None when every write succeeded and every watcher saw every write.
    pub fn error_summary(&self, phase: &str) -> Option<String> {
        if self.writes_failed == 0 && self.received == self.expected && self.writes_ok > 0 {
            return None;
        }
        Some(format!(
            "{phase}: {} writes failed, {} of {} events delivered; first error: {}",
            self.writes_failed,
            self.received,
            self.expected,
            self.first_error.as_deref().unwrap_or("none (events missing)")
        ))
    }
}

/// Runs one task per stream, then `warmup` writes whose delivery is waited for
/// but not measured, then `writes` measured ones: calls of `write(n)` at `rate`
/// per second, `n` counting on across both. Waits until every watcher has seen
/// every successful write (or `DRAIN_TIMEOUT` after the last one).
///
/// The warm-up takes out what only the first events pay: each watch's first
/// message allocates its buffers on both ends, and the writer's first writes
/// bunch up while the process settles. Without it, the first five of 250
/// writes decided the p99.
pub async fn measure<W, Fut>(streams: Vec<StampStream>, warmup: u64, writes: u64, rate: f64, write: W) -> Delivery
where
    W: Fn(u64) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let watchers = streams.len() as u64;
    let received = Arc::new(AtomicU64::new(0));
    // Stamps (send times) before this one are the warm-up's, and not measured.
    let measured_from = Arc::new(AtomicU64::new(u64::MAX));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|stream| tokio::spawn(watcher(stream, received.clone(), measured_from.clone(), stop_rx.clone())))
        .collect();

    // Open-loop, so one slow write does not delay the schedule of the next.
    let warm = crate::load::paced(warmup, rate, &write).await;
    drain(&received, warm.ok * watchers).await;
    measured_from.store(crate::pod::now_nanos(), Ordering::SeqCst);
    let started = Instant::now();
    let measured = crate::load::paced(writes, rate, |n| write(warmup + n)).await;
    let mut out = Delivery {
        writes_ok: warm.ok + measured.ok,
        writes_failed: warm.failed + measured.failed,
        first_error: warm.first_error.or(measured.first_error),
        ..Default::default()
    };
    out.expected = out.writes_ok * watchers;
    drain(&received, out.expected).await;
    out.elapsed = started.elapsed();
    // Watchers keep their streams open until told, so none stops early and
    // closes a connection others still use.
    let _ = stop_tx.send(true);
    for task in futures::future::join_all(tasks).await {
        match task {
            Ok((latencies, error)) => {
                out.latencies.merge(&latencies);
                if let Some(e) = error {
                    out.first_error.get_or_insert(e);
                }
            }
            Err(e) => {
                out.first_error.get_or_insert_with(|| format!("watcher task panicked: {e}"));
            }
        }
    }
    out.received = received.load(Ordering::Relaxed);
    out
}

/// Waits until the watchers have seen `expected` events in all, or for
/// `DRAIN_TIMEOUT`.
async fn drain(received: &AtomicU64, expected: u64) {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn watcher(
    mut stream: StampStream,
    received: Arc<AtomicU64>,
    measured_from: Arc<AtomicU64>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> (Latencies, Option<String>) {
    let mut latencies = Latencies::new();
    loop {
        tokio::select! {
            item = stream.next() => match item {
                Some(Ok(stamps)) => {
                    let now = crate::pod::now_nanos();
                    let from = measured_from.load(Ordering::SeqCst);
                    for sent in stamps.iter().filter(|sent| **sent >= from) {
                        latencies.record(Duration::from_nanos(now.saturating_sub(*sent)));
                    }
                    received.fetch_add(stamps.len() as u64, Ordering::Relaxed);
                }
                Some(Err(e)) => return (latencies, Some(e)),
                None => return (latencies, Some("the watch ended early".to_string())),
            },
            _ = stop.changed() => return (latencies, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::broadcast;

    /// Watchers over an in-process broadcast channel: the harness itself, no server.
    fn broadcast_streams(tx: &broadcast::Sender<u64>, n: usize) -> Vec<StampStream> {
        (0..n)
            .map(|_| {
                let rx = tx.subscribe();
                futures::stream::unfold(rx, |mut rx| async move {
                    let stamp = rx.recv().await.ok()?;
                    Some((Ok(vec![stamp]), rx))
                })
                .boxed()
            })
            .collect()
    }

    #[tokio::test]
    async fn every_watcher_sees_every_write() {
        let (tx, _) = broadcast::channel(64);
        let streams = broadcast_streams(&tx, 5);
        let out = measure(streams, 0, 10, 1000.0, move |_| {
            let tx = tx.clone();
            async move {
                tx.send(crate::pod::now_nanos()).map_err(|e| e.to_string())?;
                Ok(())
            }
        })
        .await;
        assert_eq!((out.writes_ok, out.expected, out.received), (10, 50, 50), "{out:?}");
        assert_eq!(out.latencies.count(), 50);
        assert!(out.latencies.summary().max < Duration::from_secs(1));
        assert!(out.error_summary("watch").is_none(), "{:?}", out.error_summary("watch"));
    }

    #[tokio::test]
    async fn failed_writes_are_reported() {
        let (tx, _) = broadcast::channel::<u64>(4);
        let streams = broadcast_streams(&tx, 2);
        let out = measure(streams, 0, 3, 1000.0, move |n| {
            let tx = tx.clone();
            async move {
                if n == 1 {
                    return Err("refused".to_string());
                }
                tx.send(crate::pod::now_nanos()).map_err(|e| e.to_string())?;
                Ok(())
            }
        })
        .await;
        assert_eq!((out.writes_ok, out.writes_failed, out.received), (2, 1, 4));
        let summary = out.error_summary("watch").expect("an error");
        assert!(summary.contains("1 writes failed, 4 of 4 events delivered"), "{summary}");
        assert!(summary.contains("refused"), "{summary}");
    }

    #[tokio::test]
    async fn warm_up_writes_are_delivered_but_not_measured() {
        let (tx, _) = broadcast::channel(64);
        let streams = broadcast_streams(&tx, 5);
        let numbers = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = numbers.clone();
        let out = measure(streams, 3, 10, 1000.0, move |n| {
            seen.lock().unwrap().push(n);
            // The warm-up's events are slow ones: were they measured, the max would show it.
            let delay = if n < 3 { 200_000_000 } else { 0 };
            let tx = tx.clone();
            async move {
                tx.send(crate::pod::now_nanos() - delay).map_err(|e| e.to_string())?;
                Ok(())
            }
        })
        .await;
        assert_eq!(*numbers.lock().unwrap(), (0..13).collect::<Vec<u64>>(), "write numbers run on");
        assert_eq!((out.writes_ok, out.expected, out.received), (13, 65, 65), "{out:?}");
        assert_eq!(out.latencies.count(), 50, "only the measured writes' events");
        assert!(out.latencies.summary().max < Duration::from_millis(150), "{out:?}");
        assert!(out.error_summary("watch").is_none());
    }
}
