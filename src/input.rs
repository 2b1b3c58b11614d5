//! Line input from stdin that a signal or the global timeout can interrupt.
//!
//! stdin is read a byte at a time after `poll(2)` says it is readable, so nothing is
//! buffered here: the prompt and `shell_interact` can take turns reading the same
//! terminal. Plain line input, no line editing.

use crate::cancel::{Cancel, POLL};
use crate::error::Error;

/// Reads one line (without its newline) from stdin; `None` at end of input.
pub(crate) fn read_line(cancel: &Cancel) -> Result<Option<String>, Error> {
    let mut line = Vec::new();
    loop {
        cancel.check()?;
        if !readable(0, POLL)? {
            continue;
        }
        let mut byte = 0u8;
        // SAFETY: reads at most one byte into a valid, writable one-byte buffer.
        let count = unsafe { libc::read(0, (&mut byte as *mut u8).cast(), 1) };
        match count {
            1 if byte == b'\n' => return Ok(Some(String::from_utf8_lossy(&line).into_owned())),
            1 => line.push(byte),
            0 if line.is_empty() => return Ok(None),
            0 => return Ok(Some(String::from_utf8_lossy(&line).into_owned())),
            _ => {
                let error = std::io::Error::last_os_error();
                if error.kind() != std::io::ErrorKind::Interrupted {
                    return Err(Error::io("reading stdin", error));
                }
            }
        }
    }
}

/// Whether `fd` becomes readable (or reaches EOF) within `timeout`.
pub(crate) fn readable(fd: i32, timeout: std::time::Duration) -> Result<bool, Error> {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: `poll` points to one valid pollfd for the duration of the call.
    let ready = unsafe { libc::poll(&mut poll, 1, millis) };
    if ready < 0 {
        let error = std::io::Error::last_os_error();
        if error.kind() == std::io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(Error::io("waiting for stdin", error));
    }
    Ok(ready > 0)
}
