//! Termination for programs that run as a container's PID 1, where the kernel
//! drops SIGTERM and SIGINT unless the program asks for them: the signals are
//! blocked and then waited for (sigwait), so no handler code runs in a signal context.

use nix::sys::signal::{SigSet, Signal};

/// Blocks `signals` in this thread and in the threads it starts from now on, so
/// that they queue up for [`SigSet::wait`].
pub fn block(signals: &[Signal]) -> nix::Result<SigSet> {
    let set: SigSet = signals.iter().copied().collect();
    set.thread_block()?;
    Ok(set)
}

/// Makes the process exit with status 0 on SIGTERM or SIGINT, so a deleted pod
/// stops at once instead of after its grace period. Call it before starting threads.
pub fn exit_on_termination() -> nix::Result<()> {
    let set = block(&[Signal::SIGTERM, Signal::SIGINT])?;
    std::thread::spawn(move || {
        let _ = set.wait();
        std::process::exit(0);
    });
    Ok(())
}
