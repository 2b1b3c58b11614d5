//! Timed, watched reads and writes on the unix sockets QEMU connects to.
//!
//! Every protocol the driver speaks with QEMU (the guest's root shell, the human
//! monitor, the interactive shell session) reads and writes in slices of at most
//! [`crate::cancel::POLL`]: between two slices a `watch` callback runs (a signal,
//! the global timeout, QEMU exiting, a guest panic) and the operation's own
//! deadline is checked. So a guest that stops talking, or stops reading, can never
//! block the driver. How a read or write stopped early is a [`Stop`]; the machine
//! turns it into an [`Error`] in one place (`Qemu::stop_error`).

use crate::cancel::Deadline;
use crate::error::Error;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;

/// The check run between two slices: `Err` stops the operation with that error.
pub(crate) type Watch<'a> = &'a mut dyn FnMut() -> Result<(), Error>;

/// Why a socket read or write stopped before it was done.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The operation's deadline passed.
    TimedOut,
    /// The connection closed (QEMU exited, or the guest's end went away).
    Closed,
    /// The watch reported a problem (dead QEMU, panic, signal, global timeout).
    Watch(Box<Error>),
    /// The peer's answer was damaged in transit and could not be repaired.
    Damaged(String),
    /// The peer started over: the guest's shell announced itself again, so an
    /// answer that was awaited will never come.
    Restarted,
}

/// Runs the watch and the deadline check that come before every slice.
pub(crate) fn checkpoint(deadline: Deadline, watch: Watch<'_>) -> Result<(), Stop> {
    watch().map_err(|error| Stop::Watch(Box::new(error)))?;
    if deadline.passed() {
        return Err(Stop::TimedOut);
    }
    Ok(())
}

/// Reads what is there into `buffer`, waiting at most one slice: `Ok(0)` means
/// nothing came in this slice (not end of file, which is [`Stop::Closed`]).
pub(crate) fn read_slice(
    mut stream: &UnixStream,
    buffer: &mut [u8],
    deadline: Deadline,
) -> Result<usize, Stop> {
    let _ = stream.set_read_timeout(Some(deadline.slice()));
    match stream.read(buffer) {
        Ok(0) => Err(Stop::Closed),
        Ok(count) => Ok(count),
        Err(error) if is_timeout(&error) => Ok(0),
        Err(_) => Err(Stop::Closed),
    }
}

/// Writes all of `bytes` to `stream` in slices, running `watch` between them, so
/// that a peer that stops reading cannot block the driver past `deadline`, a
/// signal or the global timeout.
pub(crate) fn write_all(
    stream: &UnixStream,
    mut bytes: &[u8],
    deadline: Deadline,
    watch: Watch<'_>,
) -> Result<(), Stop> {
    write_from(stream, &mut bytes, deadline, watch)
}

/// [`write_all`], leaving in `bytes` what was not written when it stops early.
pub(crate) fn write_from(
    mut stream: &UnixStream,
    bytes: &mut &[u8],
    deadline: Deadline,
    watch: Watch<'_>,
) -> Result<(), Stop> {
    let _ = stream.set_write_timeout(Some(crate::cancel::POLL));
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(Stop::Closed),
            Ok(count) => *bytes = &bytes[count..],
            Err(error) if is_timeout(&error) => checkpoint(deadline, watch)?,
            Err(_) => return Err(Stop::Closed),
        }
    }
    Ok(())
}

/// Whether a socket read or write ended only because its slice ran out.
pub(crate) fn is_timeout(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// The first position of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn find_locates_needle() {
        assert_eq!(find(b"abcabd", b"abd"), Some(3));
        assert_eq!(find(b"ab", b"abc"), None);
        assert_eq!(find(b"ab", b""), None);
    }

    #[test]
    fn a_read_slice_with_nothing_to_read_is_not_the_end() {
        let (ours, _theirs) = UnixStream::pair().unwrap();
        let mut buffer = [0u8; 8];
        let deadline = Deadline::after(Duration::from_millis(5));
        assert!(matches!(read_slice(&ours, &mut buffer, deadline), Ok(0)));
    }

    #[test]
    fn a_write_to_a_peer_that_never_reads_stops_at_the_deadline() {
        let (ours, _theirs) = UnixStream::pair().unwrap();
        let bytes = vec![0u8; 16 * 1024 * 1024];
        let deadline = Deadline::after(Duration::from_millis(200));
        let result = write_all(&ours, &bytes, deadline, &mut || Ok(()));
        assert!(matches!(result, Err(Stop::TimedOut)));
    }
}
