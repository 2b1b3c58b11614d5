//! The guest's root shell (the "backdoor") on the virtio console.
//!
//! After the handshake ([`handshake`]) the driver defines a few shell functions in
//! the guest ([`frame`]) and then sends one short line per command; the guest
//! answers with the status and the exact number of bytes the command wrote
//! ([`answer`]).
//!
//! # Why the byte count
//! QEMU's `virtconsole` drops console bytes, silently and in whole 2-4 KiB buffers,
//! whenever the host end of its socket is full: a driver that is not scheduled for
//! a moment on a busy host loses output. So nothing large crosses the console in one
//! burst, and nothing that crosses it is trusted without its count:
//!
//! - up to [`frame::INLINE_MAX`] bytes come inline (one burst that always fits
//!   QEMU's queue), one round trip per command;
//! - more is copied by the guest into the shared directory (`/tmp/shared` in the
//!   guest, found at connect time with a probe file) and read from the host's disk;
//! - without a shared directory, the driver fetches it in segments, each checked,
//!   shrinking the segments when one arrives damaged and pausing between large
//!   transfers (a guest kernel disables a console interrupt that fires for a long
//!   time without pause);
//! - a damaged inline answer is fetched again the same way from the copy the guest
//!   keeps until a later command; only if that fails too does the command fail, with
//!   an error that says bytes were lost in transit. Output is never silently short.
//!
//! A command that outlives its host-side deadline leaves the shell busy for good,
//! and the machine says so instead of mixing up answers. A command whose wait was
//! interrupted (Ctrl-C at the prompt) runs on in the guest; its answer is read and
//! dropped before the next one.

pub(crate) mod answer;
pub(crate) mod frame;
pub(crate) mod handshake;

use crate::cancel::Deadline;
use crate::command::Request;
use crate::socket::{self, Stop, Watch};
use answer::{Answer, Reader};
use frame::{BLOCK, INLINE_MAX};
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest segment fetched in one round trip, in blocks (1 MiB: larger bursts
/// were seen to lose bytes even on an idle host).
const SEGMENT_MAX: u64 = 16;
/// Consecutive damaged segments of one block after which the transfer gives up.
const SEGMENT_TRIES: u32 = 8;
/// Console bytes after which a segment transfer pauses for [`PAUSE`].
const PAUSE_EVERY: u64 = 64 * 1024 * 1024;
/// The pause that keeps a guest kernel from disabling the console's interrupt.
const PAUSE: Duration = Duration::from_millis(150);

/// What one command did in the guest.
#[derive(Debug)]
pub(crate) struct Reply {
    /// Its exit status (128+N when killed by signal N, as bash reports it).
    pub(crate) status: i32,
    /// Exactly the bytes it wrote on stdout.
    pub(crate) output: Vec<u8>,
    /// How the output arrived, when that is worth a log line (recovered after loss).
    pub(crate) note: Option<String>,
}

/// Why the shell cannot take another command.
#[derive(Debug, Clone)]
enum State {
    /// Ready for a command.
    Ready,
    /// The answer of an interrupted command (this tag) comes first: skip it.
    Behind(String),
    /// A command outlived its deadline and may still run: the shell stays busy.
    Busy(String),
}

/// A connected guest root shell.
pub(crate) struct Shell {
    stream: UnixStream,
    reader: Reader,
    nonce: String,
    /// Commands sent (the guest's output file numbers).
    commands: u64,
    /// Requests sent (tags).
    requests: u64,
    /// The tag of the last request sent: after an interruption, its answer is the
    /// last one still to come.
    last_sent: String,
    state: State,
    /// The host side of the shared directory, when the guest has it mounted.
    shared: Option<PathBuf>,
}

impl Shell {
    /// Sets up the shell on `stream` once the guest has said it is ready (see
    /// [`handshake`]): its functions, its output directory, and whether
    /// `shared_dir` (the host's side of `/tmp/shared`) is mounted in the guest.
    pub(crate) fn set_up(
        stream: UnixStream,
        shared_dir: &Path,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<Shell, Stop> {
        let mut shell = Shell {
            stream,
            reader: Reader::new(),
            nonce: random_nonce(),
            commands: 0,
            requests: 0,
            last_sent: String::new(),
            state: State::Ready,
            shared: None,
        };
        let probe_name = format!(".vmtest-probe-{}", shell.nonce);
        let probe_path = shared_dir.join(&probe_name);
        let probe_written = std::fs::write(&probe_path, b"").is_ok();
        let tag = shell.next_tag();
        let prelude = frame::prelude(&shell.nonce, &tag, &probe_name);
        let answer = shell.exchange(&prelude, &tag, &|_| None, deadline, watch);
        if probe_written {
            let _ = std::fs::remove_file(&probe_path);
        }
        let answer = answer?;
        let words = &answer.header;
        if words.first().map(String::as_str) != Some("ready")
            || !words.last().is_some_and(|dir| dir.starts_with('/'))
        {
            return Err(Stop::Damaged(
                "the guest's root shell found no writable directory for command output \
                 (tried /dev/shm, /run, $TMPDIR and /tmp)"
                    .to_string(),
            ));
        }
        if probe_written && words.iter().any(|word| word == "shared") {
            shell.shared = Some(shared_dir.to_path_buf());
        }
        Ok(shell)
    }

    /// Whether large outputs travel through the shared directory.
    pub(crate) fn uses_shared_dir(&self) -> bool {
        self.shared.is_some()
    }

    /// Why the shell can no longer be used, if it cannot.
    pub(crate) fn busy(&self) -> Option<&str> {
        match &self.state {
            State::Busy(reason) => Some(reason),
            State::Ready | State::Behind(_) => None,
        }
    }

    /// Runs `request` in the guest and returns its status and exact output.
    pub(crate) fn run(
        &mut self,
        request: Request<'_>,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<Reply, Stop> {
        self.commands += 1;
        let id = self.commands;
        let tag = self.next_tag();
        let line = frame::request(request, id, &tag);
        self.send(&line, &tag, deadline, watch)?;
        if let State::Behind(earlier) = self.state.clone() {
            // The interrupted command ran on in the guest; its answer comes first.
            let skipped = self
                .reader
                .answer(&self.stream, &earlier, &|_| None, deadline, watch);
            if let Err(stop) = skipped {
                return Err(self.note_failure(stop, request));
            }
            self.state = State::Ready;
        }
        let result = self.read_reply(id, &tag, deadline, watch);
        result.map_err(|stop| self.note_failure(stop, request))
    }

    /// Sends `poweroff` to the guest shell, unframed: the guest will not answer.
    pub(crate) fn send_poweroff(
        &mut self,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<(), Stop> {
        socket::write_all(&self.stream, b"poweroff\n", deadline, watch)
    }

    /// The raw stream, for the interactive shell.
    pub(crate) fn stream(&self) -> &UnixStream {
        &self.stream
    }

    fn next_tag(&mut self) -> String {
        self.requests += 1;
        format!("{}-{}", self.nonce, self.requests)
    }

    /// Records what a failed request leaves behind: a timed-out command keeps the
    /// shell busy for good, an interrupted one leaves an answer to skip.
    fn note_failure(&mut self, stop: Stop, request: Request<'_>) -> Stop {
        match &stop {
            Stop::TimedOut => {
                let command = request.command();
                self.state = State::Busy(format!(
                    "the guest shell is still busy with command `{}`, which outlived its timeout",
                    crate::error::one_line(command)
                ));
            }
            Stop::Watch(_) => self.state = State::Behind(self.last_sent.clone()),
            Stop::Closed | Stop::Damaged(_) => {}
        }
        stop
    }

    /// Reads the answer to command `id` and fetches its output however it travels.
    fn read_reply(
        &mut self,
        id: u64,
        tag: &str,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<Reply, Stop> {
        let inline = |words: &[String]| match words {
            [_, length] => length.parse::<u64>().ok().filter(|&n| n <= INLINE_MAX),
            _ => None,
        };
        let answer = self
            .reader
            .answer(&self.stream, tag, &inline, deadline, watch)?;
        let (status, length, way) = parse_header(&answer.header).ok_or_else(|| {
            Stop::Damaged(format!(
                "the guest answered with a malformed status line `{}`",
                answer.header.join(" ")
            ))
        })?;
        let (output, note) = match way {
            Some("shared") => self.via_shared_dir(id, tag, length, deadline, watch)?,
            Some(_) => (self.segments(id, length, deadline, watch)?, None),
            None if answer.whole => (answer.data, None),
            None => {
                let arrived = answer.data.len();
                let (output, _) = self.recover(id, length, deadline, watch)?;
                let note = format!(
                    "the console lost {} of {length} bytes of this output; fetched again, complete",
                    length.saturating_sub(arrived as u64)
                );
                (output, Some(note))
            }
        };
        Ok(Reply {
            status,
            output,
            note,
        })
    }

    /// Reads the copy of output `id` the guest made in the shared directory under
    /// `tag`; falls back to segments if it is not there whole.
    fn via_shared_dir(
        &mut self,
        id: u64,
        tag: &str,
        length: u64,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<(Vec<u8>, Option<String>), Stop> {
        if let Some(output) = self.take_shared(tag, length) {
            return Ok((output, None));
        }
        let output = self.segments(id, length, deadline, watch)?;
        let note = "the shared directory's copy of this output was incomplete; \
                    fetched over the console instead, complete";
        Ok((output, Some(note.to_string())))
    }

    /// Takes `.vmtest-out.TAG` from the shared directory if it holds `length` bytes.
    fn take_shared(&self, tag: &str, length: u64) -> Option<Vec<u8>> {
        let path = self.shared.as_ref()?.join(format!(".vmtest-out.{tag}"));
        let file = std::fs::File::open(&path).ok();
        let _ = std::fs::remove_file(&path);
        let mut output = Vec::with_capacity(usize::try_from(length).ok()?);
        file?.take(length).read_to_end(&mut output).ok()?;
        (output.len() as u64 == length).then_some(output)
    }

    /// Fetches output `id` again after the console damaged it: through the shared
    /// directory if there is one, else in segments.
    fn recover(
        &mut self,
        id: u64,
        length: u64,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<(Vec<u8>, Option<String>), Stop> {
        if self.shared.is_some() {
            let tag = self.next_tag();
            let line = frame::copy_to_shared(id, &tag);
            let answer = self.exchange(&line, &tag, &|_| None, deadline, watch)?;
            if answer.header.first().map(String::as_str) == Some("shared")
                && let Some(output) = self.take_shared(&tag, length)
            {
                return Ok((output, None));
            }
        }
        Ok((self.segments(id, length, deadline, watch)?, None))
    }

    /// Fetches output `id` (`length` bytes) over the console in checked segments.
    fn segments(
        &mut self,
        id: u64,
        length: u64,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<Vec<u8>, Stop> {
        let mut output = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
        let blocks = length.div_ceil(BLOCK);
        let mut size = SEGMENT_MAX;
        let mut failures = 0;
        let mut since_pause = 0;
        let mut skip = 0;
        while skip < blocks {
            let count = size.min(blocks - skip);
            let expected = (count * BLOCK).min(length - skip * BLOCK);
            let tag = self.next_tag();
            let line = frame::segment(id, &tag, skip, count);
            let want = move |_: &[String]| Some(expected);
            let answer = self.exchange(&line, &tag, &want, deadline, watch)?;
            if answer.whole {
                output.extend_from_slice(&answer.data);
                skip += count;
                failures = 0;
                size = (size * 2).min(SEGMENT_MAX);
                since_pause += expected;
                if since_pause >= PAUSE_EVERY {
                    since_pause = 0;
                    std::thread::sleep(PAUSE);
                }
                continue;
            }
            failures += 1;
            if size == 1 && failures >= SEGMENT_TRIES {
                return Err(Stop::Damaged(format!(
                    "bytes were lost in transit: {SEGMENT_TRIES} tries to fetch bytes {} to {} \
                     of the output over the console arrived damaged",
                    skip * BLOCK,
                    skip * BLOCK + expected
                )));
            }
            size = (size / 4).max(1);
            std::thread::sleep(PAUSE);
        }
        Ok(output)
    }

    /// Sends `line` and reads the answer tagged `tag`.
    fn exchange(
        &mut self,
        line: &str,
        tag: &str,
        expect: &dyn Fn(&[String]) -> Option<u64>,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<Answer, Stop> {
        self.send(line, tag, deadline, watch)?;
        self.reader
            .answer(&self.stream, tag, expect, deadline, watch)
    }

    /// Sends the request `line`, whose answer is tagged `tag`.
    fn send(
        &mut self,
        line: &str,
        tag: &str,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<(), Stop> {
        // Noted first: even a line only partly written may be answered.
        self.last_sent = tag.to_string();
        socket::write_all(&self.stream, line.as_bytes(), deadline, watch)
    }
}

/// `RC N [shared|held]` → status, length and the way a large output travels.
fn parse_header(words: &[String]) -> Option<(i32, u64, Option<&str>)> {
    let status = words.first()?.parse().ok()?;
    let length = words.get(1)?.parse().ok()?;
    match words.get(2).map(String::as_str) {
        None if length <= INLINE_MAX => Some((status, length, None)),
        Some(way @ ("shared" | "held")) if words.len() == 3 => Some((status, length, Some(way))),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn headers_say_status_length_and_way() {
        assert_eq!(parse_header(&words("0 12")), Some((0, 12, None)));
        assert_eq!(
            parse_header(&words("1 100000 shared")),
            Some((1, 100000, Some("shared")))
        );
        assert_eq!(parse_header(&words("0 100000")), None);
        assert_eq!(parse_header(&words("0 1 other")), None);
        assert_eq!(parse_header(&words("x 1")), None);
    }
}
