//! kubia: the book's sample server on port 8080; `kubia --unhealthy` is the
//! `luksa/kubia-unhealthy` variant.

use samples::kubia::{hostname, Kubia};
use std::net::TcpListener;
use std::sync::Arc;

fn main() -> std::io::Result<()> {
    let unhealthy = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => false,
        [flag] if flag == "--unhealthy" => true,
        _ => {
            eprintln!("usage: kubia [--unhealthy]");
            std::process::exit(2);
        }
    };
    // The healthy server stops at once on SIGTERM, so deleting its pods is
    // quick. The unhealthy one is the book's Node.js app as PID 1, which
    // ignores SIGTERM: the kubelet kills it with SIGKILL when the grace period
    // ends, and `kubectl describe` shows the book's `Exit Code: 137`.
    if !unhealthy {
        samples::signals::exit_on_termination()?;
    }
    let kubia = Arc::new(Kubia::new(hostname(), unhealthy));
    println!("Kubia server starting...");
    // Dual-stack like Node's server; IPv4 alone where the pod has no IPv6.
    let listener = TcpListener::bind("[::]:8080").or_else(|_| TcpListener::bind("0.0.0.0:8080"))?;
    for stream in listener.incoming().flatten() {
        let kubia = Arc::clone(&kubia);
        std::thread::spawn(move || kubia.serve(stream));
    }
    Ok(())
}
