//! The guest's root shell (the "backdoor") on the virtio console: handshake and framing.
//!
//! # Handshake
//! Current NixOS guests print `Spawning backdoor root shell...` on `/dev/hvc0` once
//! their shell is ready, possibly after firmware noise; 2021 guests print a bare
//! newline. Both are accepted: the marker line wins at once; data made only of line
//! ends counts as the old handshake once nothing else follows for [`OLD_GRACE`].
//!
//! # Framing: one round trip per command
//! Each command is sent as one line for the guest's bash:
//!
//! ```text
//! (set -euo pipefail; eval 'CMD') >"${TMPDIR:-/tmp}"/.vmtest-min.N </dev/null; __vmtest_rc=$?;
//! [ -s F ] && cat F; printf '\n%s %d\n' NONCE "$__vmtest_rc"      (F: that same file)
//! ```
//!
//! - The command's stdout goes to a fresh regular file, so the shell waits only for
//!   the command itself: a background process that keeps stdout open cannot hang the
//!   run (with a pipe, the reader would wait for EOF), and cannot scribble into a
//!   later command's output either (every command gets its own file; old files are
//!   removed in batches every [`CLEANUP_EVERY`] commands).
//! - Output reaches the host through `cat`, in large writes: the virtio console never
//!   sees a write per line (which made a guest kernel disable the console's IRQ), and
//!   `cat` only runs when there is output, so a command with none costs one subshell.
//! - The status line starts with a newline and a per-command random nonce that never
//!   appears in the command text, so any output, even text that looks like a marker,
//!   is told apart from the status. The output is exactly the file's bytes.
//! - stdin is `/dev/null`, so a command cannot swallow the following commands.
//! - `eval` of a single-quoted string keeps comments, heredocs and unbalanced
//!   quotes in the command from breaking the frame.
//!
//! When the command must be stopped in the guest (the tries of a wait), it runs as
//! `timeout -s KILL T "$BASH" -c 'set -euo pipefail; … eval …' vmtest 'CMD'`; that
//! costs one more program, which is fine at one try per poll interval. Every command
//! also has a host-side deadline; a command that outlives it leaves the shell
//! unusable, and the machine says so instead of mixing up answers. A command whose
//! wait was interrupted (Ctrl-C at the prompt) runs on in the guest; its answer is
//! read and dropped before the next one. Writes, too, go in short slices, so a guest
//! that stops reading cannot block the driver.

use crate::cancel::Deadline;
use crate::error::Error;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// What current guests print once their root shell is ready.
pub const READY_MARKER: &[u8] = b"Spawning backdoor root shell...";
/// How long a lone newline must stand alone before it counts as the 2021 handshake.
pub const OLD_GRACE: Duration = Duration::from_millis(250);
/// Old output files are removed once every this many commands.
pub const CLEANUP_EVERY: u64 = 64;
/// How much pre-handshake text is kept to look for the marker in.
const NOISE_KEEP: usize = 4096;
/// Read block size: large, so that bulk output drains the socket quickly.
const BLOCK: usize = 256 * 1024;

/// The result of one command in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The exit status (128+N when killed by signal N, as bash reports it).
    pub status: i32,
    /// Everything the command wrote on stdout (invalid UTF-8 replaced).
    pub output: String,
    /// Serial console lines printed while it ran (its stderr goes there), the last
    /// [`crate::qemu::TAIL_LINES`] at most; filled in by the machine.
    pub console: Vec<String>,
}

/// Why a read from the shell stopped early.
#[derive(Debug)]
pub enum ReadEnd {
    /// The deadline passed.
    TimedOut,
    /// The connection closed (QEMU exited or the guest shell died).
    Closed,
    /// The watch callback reported a problem (dead QEMU, panic, signal).
    Watch(Box<Error>),
}

/// A connected guest root shell.
pub struct Shell {
    stream: UnixStream,
    nonce: String,
    commands: u64,
    unusable: Option<String>,
    /// The marker of a command whose answer was not read because the wait for it
    /// was interrupted (Ctrl-C at the prompt); it is read and dropped first.
    pending: Option<Vec<u8>>,
}

impl Shell {
    /// Waits for either handshake on `stream`.
    ///
    /// `watch` runs between read slices and stops the wait with its error (QEMU
    /// exited, the guest panicked, a signal arrived).
    pub fn handshake(
        stream: UnixStream,
        deadline: Deadline,
        watch: &mut dyn FnMut() -> Result<(), Error>,
    ) -> Result<Shell, ReadEnd> {
        let mut seen: Vec<u8> = Vec::new();
        let mut old_style_since: Option<std::time::Instant> = None;
        let mut block = [0u8; 4096];
        loop {
            if let Err(error) = watch() {
                return Err(ReadEnd::Watch(Box::new(error)));
            }
            if let Some(since) = old_style_since
                && since.elapsed() >= OLD_GRACE
            {
                return Ok(Shell::new(stream));
            }
            if deadline.passed() {
                return Err(ReadEnd::TimedOut);
            }
            let slice = match old_style_since {
                Some(_) => deadline.slice().min(Duration::from_millis(25)),
                None => deadline.slice(),
            };
            let _ = stream.set_read_timeout(Some(slice));
            match (&stream).read(&mut block) {
                Ok(0) => return Err(ReadEnd::Closed),
                Ok(count) => {
                    seen.extend_from_slice(&block[..count]);
                    // The marker line must arrive whole: its newline is not output.
                    if let Some(at) = find(&seen, READY_MARKER)
                        && seen[at + READY_MARKER.len()..].contains(&b'\n')
                    {
                        return Ok(Shell::new(stream));
                    }
                    old_style_since = if seen.iter().all(|&b| b == b'\n' || b == b'\r') {
                        Some(std::time::Instant::now())
                    } else {
                        None
                    };
                    if seen.len() > 2 * NOISE_KEEP {
                        seen.drain(..seen.len() - NOISE_KEEP);
                    }
                }
                Err(error) if is_timeout(&error) => {}
                Err(_) => return Err(ReadEnd::Closed),
            }
        }
    }

    fn new(stream: UnixStream) -> Shell {
        Shell {
            stream,
            nonce: random_nonce(),
            commands: 0,
            unusable: None,
            pending: None,
        }
    }

    /// Why the shell can no longer be used, if it cannot.
    pub fn unusable(&self) -> Option<&str> {
        self.unusable.as_deref()
    }

    /// Runs `command` in the guest and returns its status and stdout.
    ///
    /// `guest_timeout` also bounds the command inside the guest (see the module doc).
    pub fn run(
        &mut self,
        command: &str,
        guest_timeout: Option<Duration>,
        deadline: Deadline,
        watch: &mut dyn FnMut() -> Result<(), Error>,
    ) -> Result<Outcome, ReadEnd> {
        self.commands += 1;
        let marker = format!("\n{}-{} ", self.nonce, self.commands);
        let line = frame(
            command,
            self.commands,
            &marker[1..marker.len() - 1],
            guest_timeout,
        );
        write_watched(&self.stream, line.as_bytes(), deadline, watch)?;
        if let Some(earlier) = self.pending.take() {
            // The interrupted command runs on in the guest; its answer comes first.
            if let Err(end) = self.read_until_marker(&earlier, deadline, watch) {
                self.pending = Some(earlier);
                return Err(self.note_failure(end, command, marker.into_bytes()));
            }
        }
        let result = self.read_until_marker(marker.as_bytes(), deadline, watch);
        result.map_err(|end| self.note_failure(end, command, marker.into_bytes()))
    }

    /// Records what a failed read leaves behind: a timed-out command keeps the
    /// shell busy for good, an interrupted one leaves an answer to skip.
    fn note_failure(&mut self, end: ReadEnd, command: &str, marker: Vec<u8>) -> ReadEnd {
        match &end {
            ReadEnd::TimedOut => {
                self.unusable = Some(format!(
                    "the guest shell is still busy with command `{}`, which outlived its timeout",
                    crate::error::one_line(command)
                ))
            }
            ReadEnd::Watch(_) => {
                if self.pending.is_none() {
                    self.pending = Some(marker);
                }
            }
            ReadEnd::Closed => self.unusable = Some("the guest shell is closed".to_string()),
        }
        end
    }

    /// Sends `poweroff` to the guest shell, unframed: the guest will not answer.
    pub fn send_poweroff(
        &mut self,
        deadline: Deadline,
        watch: &mut dyn FnMut() -> Result<(), Error>,
    ) -> Result<(), ReadEnd> {
        write_watched(&self.stream, b"poweroff\n", deadline, watch)
    }

    /// The raw stream, for the interactive shell.
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    fn read_until_marker(
        &mut self,
        marker: &[u8],
        deadline: Deadline,
        watch: &mut dyn FnMut() -> Result<(), Error>,
    ) -> Result<Outcome, ReadEnd> {
        let mut buffer: Vec<u8> = Vec::new();
        let mut searched = 0usize;
        loop {
            if let Some(at) = find(&buffer[searched..], marker).map(|i| i + searched) {
                let rest = &buffer[at + marker.len()..];
                if let Some(end) = rest.iter().position(|&b| b == b'\n') {
                    let status = std::str::from_utf8(&rest[..end])
                        .ok()
                        .and_then(|s| s.trim().parse::<i32>().ok())
                        .unwrap_or(-1);
                    buffer.truncate(at);
                    let output = match String::from_utf8(buffer) {
                        Ok(text) => text,
                        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
                    };
                    return Ok(Outcome {
                        status,
                        output,
                        console: Vec::new(),
                    });
                }
            } else {
                searched = buffer.len().saturating_sub(marker.len());
            }
            if let Err(error) = watch() {
                return Err(ReadEnd::Watch(Box::new(error)));
            }
            if deadline.passed() {
                return Err(ReadEnd::TimedOut);
            }
            let _ = self.stream.set_read_timeout(Some(deadline.slice()));
            let filled = buffer.len();
            // Grow by an eighth (at least a block) rather than doubling: bulk output
            // then costs about its own size in memory, not up to twice that.
            if buffer.capacity() - filled < BLOCK {
                buffer.reserve_exact(BLOCK.max(filled / 8));
            }
            buffer.resize(filled + BLOCK, 0);
            let read = (&self.stream).read(&mut buffer[filled..]);
            let count = match read {
                Ok(count) => count,
                Err(ref error) if is_timeout(error) => 0,
                Err(_) => {
                    buffer.truncate(filled);
                    return Err(ReadEnd::Closed);
                }
            };
            buffer.truncate(filled + count);
            if matches!(read, Ok(0)) {
                return Err(ReadEnd::Closed);
            }
        }
    }
}

/// Writes all of `bytes` to `stream` in slices of at most [`crate::cancel::POLL`],
/// running `watch` between them, so that a guest that stops reading cannot block
/// the driver past `deadline`, a signal or the global timeout.
pub fn write_watched(
    mut stream: &UnixStream,
    mut bytes: &[u8],
    deadline: Deadline,
    watch: &mut dyn FnMut() -> Result<(), Error>,
) -> Result<(), ReadEnd> {
    let _ = stream.set_write_timeout(Some(crate::cancel::POLL));
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(ReadEnd::Closed),
            Ok(count) => bytes = &bytes[count..],
            Err(error) if is_timeout(&error) => {
                watch().map_err(|e| ReadEnd::Watch(Box::new(e)))?;
                if deadline.passed() {
                    return Err(ReadEnd::TimedOut);
                }
            }
            Err(_) => return Err(ReadEnd::Closed),
        }
    }
    Ok(())
}

/// Builds the line that runs `command` (see the module doc).
fn frame(command: &str, id: u64, nonce: &str, guest_timeout: Option<Duration>) -> String {
    let quoted = shell_quote(command);
    let file = format!("\"${{TMPDIR:-/tmp}}\"/.vmtest-min.{id}");
    let cleanup = if id % CLEANUP_EVERY == 0 {
        "rm -f \"${TMPDIR:-/tmp}\"/.vmtest-min.* 2>/dev/null; "
    } else {
        ""
    };
    let run = match guest_timeout {
        None => format!("(set -euo pipefail; eval {quoted})"),
        Some(limit) => format!(
            "timeout -s KILL {} \"$BASH\" -c 'set -euo pipefail; __vmtest_cmd=$1; set --; eval \"$__vmtest_cmd\"' vmtest {quoted}",
            limit.as_secs_f64().ceil().max(1.0) as u64
        ),
    };
    format!(
        "{cleanup}{run} >{file} </dev/null; __vmtest_rc=$?; [ -s {file} ] && cat {file}; \
         printf '\\n%s %d\\n' {nonce} \"$__vmtest_rc\"\n"
    )
}

/// Quotes `text` as one single-quoted shell word.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn random_nonce() -> String {
    let mut bytes = [0u8; 12];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if !filled {
        // Fall back to time and pid: still never part of any command text.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            ^ u128::from(std::process::id());
        bytes.copy_from_slice(&seed.to_le_bytes()[..12]);
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("vmtest-{hex}")
}

/// Whether a socket read or write ended only because its slice ran out.
pub fn is_timeout(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut start = 0;
    while let Some(offset) = haystack[start..=haystack.len() - needle.len()]
        .iter()
        .position(|&b| b == first)
    {
        let at = start + offset;
        if &haystack[at..at + needle.len()] == needle {
            return Some(at);
        }
        start = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A guest stand-in on the other end of `peer`: answers each framed command
    /// with the next of `answers` (output, status), after `delay`.
    fn fake_guest(
        peer: UnixStream,
        answers: Vec<(&'static str, i32)>,
        delay: Duration,
    ) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            use std::io::{BufRead, BufReader};
            let mut writer = peer.try_clone().unwrap();
            let mut lines = BufReader::new(peer).lines();
            for (output, status) in answers {
                let line = lines.next().unwrap().unwrap();
                let nonce = line.rsplit("' ").next().unwrap().split(' ').next().unwrap();
                std::thread::sleep(delay);
                let reply = format!("{output}\n{nonce} {status}\n");
                writer.write_all(reply.as_bytes()).unwrap();
            }
        })
    }

    fn connected(peer: &mut UnixStream, shell_end: UnixStream) -> Shell {
        peer.write_all(READY_MARKER).unwrap();
        let writer = peer.try_clone().unwrap();
        let late_newline = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            (&writer).write_all(b"\n").unwrap();
        });
        let shell = Shell::handshake(
            shell_end,
            Deadline::after(Duration::from_secs(5)),
            &mut || Ok(()),
        )
        .map_err(|_| "handshake failed")
        .unwrap();
        late_newline.join().unwrap();
        shell
    }

    #[test]
    fn a_handshake_split_before_its_newline_leaves_no_stray_output() {
        let (shell_end, mut peer) = UnixStream::pair().unwrap();
        let mut shell = connected(&mut peer, shell_end);
        let guest = fake_guest(peer, vec![("hello\n", 0)], Duration::ZERO);
        let outcome = shell
            .run(
                "echo hello",
                None,
                Deadline::after(Duration::from_secs(5)),
                &mut || Ok(()),
            )
            .map_err(|_| "run failed")
            .unwrap();
        assert_eq!((outcome.status, outcome.output.as_str()), (0, "hello\n"));
        guest.join().unwrap();
    }

    #[test]
    fn an_interrupted_command_does_not_leak_into_the_next() {
        let (shell_end, mut peer) = UnixStream::pair().unwrap();
        let mut shell = connected(&mut peer, shell_end);
        let guest = fake_guest(
            peer,
            vec![("first", 0), ("second", 5)],
            Duration::from_millis(200),
        );
        let mut interrupted = || Err(Error::Interrupted { signal: 2 });
        let first = shell.run(
            "first",
            None,
            Deadline::after(Duration::from_secs(5)),
            &mut interrupted,
        );
        assert!(matches!(first, Err(ReadEnd::Watch(_))));
        let second = shell
            .run(
                "second",
                None,
                Deadline::after(Duration::from_secs(5)),
                &mut || Ok(()),
            )
            .map_err(|_| "run failed")
            .unwrap();
        assert_eq!((second.status, second.output.as_str()), (5, "second"));
        guest.join().unwrap();
    }

    #[test]
    fn quote_handles_single_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn frame_without_guest_timeout_uses_one_subshell() {
        let line = frame("echo hi", 1, "vmtest-x-1", None);
        assert_eq!(
            line,
            "(set -euo pipefail; eval 'echo hi') >\"${TMPDIR:-/tmp}\"/.vmtest-min.1 </dev/null; \
             __vmtest_rc=$?; [ -s \"${TMPDIR:-/tmp}\"/.vmtest-min.1 ] && cat \"${TMPDIR:-/tmp}\"/.vmtest-min.1; \
             printf '\\n%s %d\\n' vmtest-x-1 \"$__vmtest_rc\"\n"
        );
    }

    #[test]
    fn frame_cleans_up_periodically() {
        assert!(frame("true", CLEANUP_EVERY, "n", None).starts_with("rm -f"));
        assert!(
            frame("true", 5, "n", Some(Duration::from_millis(1500)))
                .starts_with("timeout -s KILL 2 ")
        );
    }

    #[test]
    fn find_locates_needle() {
        assert_eq!(find(b"abcabd", b"abd"), Some(3));
        assert_eq!(find(b"ab", b"abc"), None);
    }
}
