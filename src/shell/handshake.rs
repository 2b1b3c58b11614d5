//! Waiting for the guest's root shell to announce itself.
//!
//! Current NixOS guests print `Spawning backdoor root shell...` on `/dev/hvc0` once
//! their shell is ready, possibly after firmware noise; 2021 guests print a bare
//! newline. Both are accepted: the marker line wins at once; data made only of line
//! ends counts as the old handshake once nothing else follows for [`OLD_GRACE`].

use crate::cancel::Deadline;
use crate::socket::{self, Stop, Watch};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// What current guests print once their root shell is ready.
pub(crate) const READY_MARKER: &[u8] = b"Spawning backdoor root shell...";
/// How long a lone newline must stand alone before it counts as the 2021 handshake.
const OLD_GRACE: Duration = Duration::from_millis(250);
/// How much pre-handshake text is kept to look for the marker in.
const NOISE_KEEP: usize = 4096;

/// Reads `stream` until either handshake has been seen.
pub(crate) fn await_ready(
    stream: &UnixStream,
    deadline: Deadline,
    watch: Watch<'_>,
) -> Result<(), Stop> {
    let mut seen: Vec<u8> = Vec::new();
    let mut old_style_since: Option<Instant> = None;
    let mut block = [0u8; 4096];
    loop {
        socket::checkpoint(deadline, watch)?;
        if old_style_since.is_some_and(|since| since.elapsed() >= OLD_GRACE) {
            return Ok(());
        }
        // While a lone newline waits out its grace, read in short slices.
        let slice_deadline = match old_style_since {
            Some(_) => Deadline::after(deadline.remaining().min(Duration::from_millis(25))),
            None => deadline,
        };
        let count = socket::read_slice(stream, &mut block, slice_deadline)?;
        if count == 0 {
            continue;
        }
        seen.extend_from_slice(&block[..count]);
        // The marker line must arrive whole: its newline is not output.
        if let Some(at) = socket::find(&seen, READY_MARKER)
            && seen[at + READY_MARKER.len()..].contains(&b'\n')
        {
            return Ok(());
        }
        old_style_since = if seen.iter().all(|&b| b == b'\n' || b == b'\r') {
            Some(Instant::now())
        } else {
            None
        };
        if seen.len() > 2 * NOISE_KEEP {
            seen.drain(..seen.len() - NOISE_KEEP);
        }
    }
}
