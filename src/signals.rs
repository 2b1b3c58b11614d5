//! SIGINT, SIGTERM and SIGHUP: noticed, never acted on inside the handler.
//!
//! The handler only stores the signal number in an atomic (an async-signal-safe
//! operation); this is the crate's one piece of global mutable state. Every wait in
//! the driver polls in slices of at most [`crate::cancel::POLL`] and checks it through
//! [`crate::cancel::Cancel`], so a signal ends the run within that slice and the normal
//! cleanup path (terminate QEMU, remove temp dirs, close the XML log) runs.

use std::sync::atomic::{AtomicI32, Ordering};

static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    RECEIVED.store(signal, Ordering::SeqCst);
}

/// Installs the handler for SIGINT, SIGTERM and SIGHUP.
pub(crate) fn install() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: `action` is fully initialised (zeroed, then handler and mask set)
        // before `sigaction` reads it, and the handler only performs an atomic store,
        // which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = libc::SA_RESTART;
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Forgets a received signal (the interactive prompt survives Ctrl-C).
pub(crate) fn clear() {
    RECEIVED.store(0, Ordering::SeqCst);
}

/// The signal received so far, if any.
pub(crate) fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}
