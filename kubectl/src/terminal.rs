//! The local terminal for `exec -it`: raw mode that is always undone (on
//! return, error or panic, through a guard's `Drop`), the window size, and the
//! resize notices sent when it changes. The terminal sits behind a trait so the
//! guard's logic is tested without a real TTY.

use std::io::{self, IsTerminal};

/// A window size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub cols: u16,
    pub rows: u16,
}

/// What exec needs from a terminal.
pub trait Terminal {
    /// Whether standard input is a terminal (raw mode makes sense only then).
    fn stdin_is_terminal(&self) -> bool;
    fn enable_raw_mode(&self) -> io::Result<()>;
    fn disable_raw_mode(&self) -> io::Result<()>;
    /// The window size, if it can be read.
    fn size(&self) -> Option<Size>;
}

/// The process's own terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Local;

impl Terminal for Local {
    fn stdin_is_terminal(&self) -> bool {
        io::stdin().is_terminal()
    }

    fn enable_raw_mode(&self) -> io::Result<()> {
        crossterm::terminal::enable_raw_mode()
    }

    fn disable_raw_mode(&self) -> io::Result<()> {
        crossterm::terminal::disable_raw_mode()
    }

    fn size(&self) -> Option<Size> {
        crossterm::terminal::size().ok().filter(|(c, r)| *c > 0 && *r > 0).map(|(cols, rows)| Size { cols, rows })
    }
}

/// Raw mode for as long as the guard lives. Dropping it restores the terminal,
/// which also happens while unwinding from a panic.
pub struct RawModeGuard<T: Terminal> {
    terminal: T,
}

impl<T: Terminal> RawModeGuard<T> {
    /// Switches the terminal to raw mode; an error leaves it untouched and no guard.
    pub fn enable(terminal: T) -> io::Result<Self> {
        terminal.enable_raw_mode()?;
        Ok(Self { terminal })
    }

    pub fn terminal(&self) -> &T {
        &self.terminal
    }
}

impl<T: Terminal> Drop for RawModeGuard<T> {
    fn drop(&mut self) {
        // Nothing useful can be done if restoring fails; the shell's `reset` is the user's way out.
        let _ = self.terminal.disable_raw_mode();
    }
}

/// Whether exec runs with a TTY, following kubectl's `SetupTTY`: `-t` needs `-i`
/// (without it the TTY is silently dropped), and stdin must be a terminal
/// (otherwise kubectl warns, unless `-q`, and goes on without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtyDecision {
    pub tty: bool,
    pub warning: Option<&'static str>,
}

pub fn decide_tty(stdin: bool, tty: bool, stdin_is_terminal: bool, quiet: bool) -> TtyDecision {
    if !stdin || !tty {
        return TtyDecision { tty: false, warning: None };
    }
    if !stdin_is_terminal {
        let warning = (!quiet).then_some("Unable to use a TTY - input is not a terminal or the right kind of file");
        return TtyDecision { tty: false, warning };
    }
    TtyDecision { tty: true, warning: None }
}

/// Remembers the last size sent, so a resize is sent only when the size really changed.
#[derive(Debug, Default)]
pub struct SizeTracker {
    last: Option<Size>,
}

impl SizeTracker {
    /// The size to send for a new reading, if it differs from the last one sent.
    pub fn update(&mut self, now: Option<Size>) -> Option<Size> {
        let now = now?;
        if self.last == Some(now) {
            return None;
        }
        self.last = Some(now);
        Some(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Records what was done to it.
    #[derive(Clone, Default)]
    struct Fake {
        log: Rc<RefCell<Vec<&'static str>>>,
        refuse_raw: bool,
    }

    impl Terminal for Fake {
        fn stdin_is_terminal(&self) -> bool {
            true
        }
        fn enable_raw_mode(&self) -> io::Result<()> {
            if self.refuse_raw {
                return Err(io::Error::other("not a tty"));
            }
            self.log.borrow_mut().push("raw");
            Ok(())
        }
        fn disable_raw_mode(&self) -> io::Result<()> {
            self.log.borrow_mut().push("cooked");
            Ok(())
        }
        fn size(&self) -> Option<Size> {
            Some(Size { cols: 80, rows: 24 })
        }
    }

    #[test]
    fn the_guard_restores_on_drop() {
        let t = Fake::default();
        {
            let guard = RawModeGuard::enable(t.clone()).unwrap();
            assert_eq!(guard.terminal().size(), Some(Size { cols: 80, rows: 24 }));
            assert_eq!(*t.log.borrow(), ["raw"]);
        }
        assert_eq!(*t.log.borrow(), ["raw", "cooked"]);
    }

    #[test]
    fn the_guard_restores_when_the_session_fails() {
        let t = Fake::default();
        let session = |t: Fake| -> Result<(), String> {
            let _guard = RawModeGuard::enable(t).map_err(|e| e.to_string())?;
            Err("connection lost".into())
        };
        assert!(session(t.clone()).is_err());
        assert_eq!(*t.log.borrow(), ["raw", "cooked"]);
    }

    #[test]
    fn the_guard_restores_on_panic() {
        let t = Fake::default();
        let inner = t.clone();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _guard = RawModeGuard::enable(inner).unwrap();
            panic!("boom");
        }));
        assert!(result.is_err());
        assert_eq!(*t.log.borrow(), ["raw", "cooked"]);
    }

    #[test]
    fn a_refused_raw_mode_is_not_undone() {
        let t = Fake { refuse_raw: true, ..Default::default() };
        assert!(RawModeGuard::enable(t.clone()).is_err());
        assert!(t.log.borrow().is_empty());
    }

    #[test]
    fn tty_needs_stdin_and_a_terminal() {
        assert_eq!(decide_tty(true, true, true, false), TtyDecision { tty: true, warning: None });
        assert_eq!(decide_tty(false, true, true, false), TtyDecision { tty: false, warning: None });
        assert_eq!(
            decide_tty(true, true, false, false),
            TtyDecision {
                tty: false,
                warning: Some("Unable to use a TTY - input is not a terminal or the right kind of file")
            }
        );
        assert_eq!(decide_tty(true, true, false, true), TtyDecision { tty: false, warning: None });
        assert_eq!(decide_tty(true, false, true, false), TtyDecision { tty: false, warning: None });
    }

    #[test]
    fn resizes_are_sent_only_on_change() {
        let mut tracker = SizeTracker::default();
        let s = |cols, rows| Some(Size { cols, rows });
        assert_eq!(tracker.update(s(80, 24)), s(80, 24));
        assert_eq!(tracker.update(s(80, 24)), None);
        assert_eq!(tracker.update(None), None);
        assert_eq!(tracker.update(s(120, 40)), s(120, 40));
    }
}
