//! The pod sandbox's process: it holds the pod's network namespace and hostname
//! for the app containers that join it, reaps the zombies a shared PID namespace
//! hands it, and exits 0 on SIGTERM or SIGINT.

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

fn main() -> nix::Result<()> {
    let signals = samples::signals::block(&[Signal::SIGTERM, Signal::SIGINT, Signal::SIGCHLD])?;
    loop {
        if signals.wait()? != Signal::SIGCHLD {
            return Ok(());
        }
        // Reap every child that has exited; StillAlive, or ECHILD, means none is left.
        while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            if status == WaitStatus::StillAlive {
                break;
            }
        }
    }
}
