//! kubia: the book's sample server on port 8080; `kubia --unhealthy` is the
//! `luksa/kubia-unhealthy` variant, `kubia --version vN` the Deployment
//! chapter's `luksa/kubia:vN` (1 to 4).

use samples::kubia::{hostname, Kubia, Variant};
use std::net::TcpListener;
use std::sync::Arc;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let variant = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => Variant::Plain,
        ["--unhealthy"] => Variant::Unhealthy,
        ["--version", v] if matches!(*v, "v1" | "v2" | "v3" | "v4") => Variant::Version(v[1..].parse().unwrap_or(1)),
        _ => {
            eprintln!("usage: kubia [--unhealthy | --version v1|v2|v3|v4]");
            std::process::exit(2);
        }
    };
    let unhealthy = variant == Variant::Unhealthy;
    // The healthy server stops at once on SIGTERM, so deleting its pods is
    // quick. The unhealthy one is the book's Node.js app as PID 1, which
    // ignores SIGTERM: the kubelet kills it with SIGKILL when the grace period
    // ends, and `kubectl describe` shows the book's `Exit Code: 137`.
    if !unhealthy {
        samples::signals::exit_on_termination()?;
    }
    let kubia = Arc::new(Kubia::new(hostname(), variant));
    println!("Kubia server starting...");
    // Dual-stack like Node's server; IPv4 alone where the pod has no IPv6.
    let listener = TcpListener::bind("[::]:8080").or_else(|_| TcpListener::bind("0.0.0.0:8080"))?;
    for stream in listener.incoming().flatten() {
        let kubia = Arc::clone(&kubia);
        std::thread::spawn(move || kubia.serve(stream));
    }
    Ok(())
}
