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
/// Console bytes after which a segment transfer pauses for [`PAUSE`] (a guest
/// kernel was seen to give up on its console interrupt after ~200 MB unpaused).
const PAUSE_EVERY: u64 = 16 * 1024 * 1024;
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

/// Whether the shell can take another command.
#[derive(Debug, Clone)]
enum State {
    /// Ready for a command. (An interrupted command's answer may still come: the
    /// next answer is found by its own tag, and what comes before it is dropped.)
    Ready,
    /// A command outlived its deadline and may still run: the shell stays busy.
    Busy(String),
    /// The shell cannot be used again: a request line was cut off.
    Broken(String),
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
    state: State,
    /// Whether the running command's own answer header has arrived (after it,
    /// a failure is in moving the output; the guest is idle).
    answered: bool,
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
            state: State::Ready,
            answered: false,
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
    pub(crate) fn unusable(&self) -> Option<&str> {
        match &self.state {
            State::Busy(reason) | State::Broken(reason) => Some(reason),
            State::Ready => None,
        }
    }

    /// The connection, for setting the shell up again after the guest's shell
    /// restarted ([`Stop::Restarted`]).
    pub(crate) fn into_stream(self) -> UnixStream {
        self.stream
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
        self.answered = false;
        self.send(&line, deadline, watch)?;
        let result = self.read_reply(&tag, deadline, watch);
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

    /// Records what a failed request leaves behind: a command that outlived its
    /// deadline keeps the shell busy for good; after anything else the shell is
    /// idle, or soon will be.
    fn note_failure(&mut self, stop: Stop, request: Request<'_>) -> Stop {
        if let Stop::TimedOut = stop
            && !self.answered
        {
            self.state = State::Busy(format!(
                "the guest shell is still busy with command `{}`, which outlived its timeout",
                crate::error::one_line(request.command())
            ));
        }
        stop
    }

    /// Reads the answer tagged `tag` and fetches its output however it travels.
    fn read_reply(
        &mut self,
        tag: &str,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<Reply, Stop> {
        let answer =
            self.reader
                .answer(&self.stream, tag, &inline_length, false, deadline, watch)?;
        self.answered = true;
        let header = Header::parse(&answer.header).ok_or_else(|| {
            Stop::Damaged(format!(
                "the guest answered with a malformed status line `{}`",
                answer.header.join(" ")
            ))
        })?;
        let (output, note) = match header.way {
            Way::Lost => {
                return Err(Stop::Damaged(format!(
                    "the guest could not write the command's output to its file `o.{}` \
                     (was the output directory removed, or is the disk full?)",
                    header.file
                )));
            }
            Way::Shared => self.via_shared_dir(&header, tag, deadline, watch)?,
            Way::Held => {
                let (output, refetched) =
                    self.segments(&header.file, header.length, deadline, watch)?;
                (output, refetched_note(refetched))
            }
            Way::Inline if answer.whole => (answer.data, None),
            Way::Inline => {
                let arrived = answer.data.len() as u64;
                let (output, _) = self.recover(&header.file, header.length, deadline, watch)?;
                let note = format!(
                    "the console lost {} of {} bytes of this output; fetched again, complete",
                    header.length.saturating_sub(arrived),
                    header.length
                );
                (output, Some(note))
            }
        };
        Ok(Reply {
            status: header.status,
            output,
            note,
        })
    }

    /// Reads the copy of output `id` the guest made in the shared directory under
    /// `tag`; falls back to segments if it is not there whole.
    fn via_shared_dir(
        &mut self,
        header: &Header,
        tag: &str,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<(Vec<u8>, Option<String>), Stop> {
        if let Some(output) = self.take_shared(tag, header.length) {
            return Ok((output, None));
        }
        let (output, _) = self.segments(&header.file, header.length, deadline, watch)?;
        let note = "the shared directory's copy of this output was incomplete; \
                    fetched over the console instead, complete";
        Ok((output, Some(note.to_string())))
    }

    /// Takes `.vmtest-out.TAG` from the shared directory if it is a regular file
    /// holding `length` bytes. The guest can write there: a link (never
    /// followed) or special file (opened without blocking) is a damaged answer.
    fn take_shared(&self, tag: &str, length: u64) -> Option<Vec<u8>> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.shared.as_ref()?.join(format!(".vmtest-out.{tag}"));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .ok()
            .filter(|file| file.metadata().is_ok_and(|metadata| metadata.is_file()));
        let _ = std::fs::remove_file(&path);
        let mut output = Vec::new();
        output
            .try_reserve_exact(usize::try_from(length).ok()?)
            .ok()?;
        file?.take(length).read_to_end(&mut output).ok()?;
        (output.len() as u64 == length).then_some(output)
    }

    /// Fetches output file `file` again after the console damaged it: through the
    /// shared directory if there is one, else in segments.
    fn recover(
        &mut self,
        file: &str,
        length: u64,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<(Vec<u8>, u32), Stop> {
        if self.shared.is_some() {
            let tag = self.next_tag();
            let line = frame::copy_to_shared(file, &tag);
            let answer = self.fetch(&line, &tag, &|_| None, deadline, watch)?;
            if answer.header.first().map(String::as_str) == Some("shared")
                && let Some(output) = self.take_shared(&tag, length)
            {
                return Ok((output, 0));
            }
        }
        self.segments(file, length, deadline, watch)
    }

    /// Fetches output file `file` (`length` bytes) over the console in checked
    /// segments; also says how many segments arrived damaged and came again.
    fn segments(
        &mut self,
        file: &str,
        length: u64,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<(Vec<u8>, u32), Stop> {
        let mut output = Vec::new();
        let size = usize::try_from(length).unwrap_or(usize::MAX);
        output.try_reserve_exact(size).map_err(|_| {
            Stop::Damaged(format!(
                "the guest announced {length} bytes of output, more than fits in memory"
            ))
        })?;
        let blocks = length.div_ceil(BLOCK);
        let mut size = SEGMENT_MAX;
        let mut failures = 0;
        let mut refetched = 0;
        let mut since_pause = 0;
        let mut skip = 0;
        while skip < blocks {
            let count = size.min(blocks - skip);
            let expected = (count * BLOCK).min(length - skip * BLOCK);
            let tag = self.next_tag();
            let line = frame::segment(file, &tag, skip, count);
            let want = move |_: &[String]| Some(expected);
            let answer = self.fetch(&line, &tag, &want, deadline, watch)?;
            if answer.whole {
                output.extend_from_slice(&answer.data);
                if failures > 0 {
                    refetched += 1;
                }
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
        Ok((output, refetched))
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
        self.send(line, deadline, watch)?;
        self.reader
            .answer(&self.stream, tag, expect, true, deadline, watch)
    }

    /// [`Shell::exchange`] for a request that only moves data: a damaged answer
    /// (even one whose header was lost) is an answer to try again, not an error.
    fn fetch(
        &mut self,
        line: &str,
        tag: &str,
        expect: &dyn Fn(&[String]) -> Option<u64>,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<Answer, Stop> {
        match self.exchange(line, tag, expect, deadline, watch) {
            Err(Stop::Damaged(_)) => Ok(Answer {
                header: Vec::new(),
                data: Vec::new(),
                whole: false,
            }),
            result => result,
        }
    }

    /// Sends a request line whole. A line cut off by a signal is finished first
    /// (it is short); one that cannot be finished leaves the shell unusable, since
    /// the guest would join it to the next.
    fn send(&mut self, line: &str, deadline: Deadline, watch: Watch<'_>) -> Result<(), Stop> {
        let mut rest = line.as_bytes();
        let result = socket::write_from(&self.stream, &mut rest, deadline, watch);
        // Whole, or not begun: nothing is left half-said.
        if rest.is_empty() || rest.len() == line.len() {
            return result;
        }
        let finish = Deadline::after(Duration::from_secs(5));
        if socket::write_from(&self.stream, &mut rest, finish, &mut || Ok(())).is_err() {
            self.state = State::Broken(
                "a request to the guest shell was cut off in the middle; the shell cannot be \
                 used again"
                    .to_string(),
            );
        }
        result
    }
}

/// The log line for an output some of whose segments came damaged.
fn refetched_note(refetched: u32) -> Option<String> {
    (refetched > 0).then(|| {
        format!(
            "{refetched} segment{} of this output arrived damaged on the console and \
             came again; complete",
            if refetched == 1 { "" } else { "s" }
        )
    })
}

/// The inline data length announced by a header `RC N FILE`, if it is inline.
fn inline_length(words: &[String]) -> Option<u64> {
    match words {
        [_, length, _] => length.parse::<u64>().ok().filter(|&n| n <= INLINE_MAX),
        _ => None,
    }
}

/// How an answer's output travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// Right after the header.
    Inline,
    /// Copied into the shared directory.
    Shared,
    /// Kept in the guest, to be fetched in segments.
    Held,
    /// The command's output file was missing.
    Lost,
}

/// A command's answer header: `RC N FILE [shared|held]` or `RC lost FILE`.
#[derive(Debug, PartialEq, Eq)]
struct Header {
    status: i32,
    length: u64,
    file: String,
    way: Way,
}

impl Header {
    fn parse(words: &[String]) -> Option<Header> {
        let status = words.first()?.parse().ok()?;
        let file = words.get(2)?.clone();
        if words.get(1).map(String::as_str) == Some("lost") && words.len() == 3 {
            return Some(Header {
                status,
                length: 0,
                file,
                way: Way::Lost,
            });
        }
        let length = words.get(1)?.parse().ok()?;
        let way = match words.get(3).map(String::as_str) {
            None if length <= INLINE_MAX => Way::Inline,
            Some("shared") if words.len() == 4 => Way::Shared,
            Some("held") if words.len() == 4 => Way::Held,
            _ => return None,
        };
        Some(Header {
            status,
            length,
            file,
            way,
        })
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
    fn headers_say_status_length_file_and_way() {
        let header =
            |text| Header::parse(&words(text)).map(|h| (h.status, h.length, h.file, h.way));
        assert_eq!(
            header("0 12 7"),
            Some((0, 12, "7".to_string(), Way::Inline))
        );
        assert_eq!(
            header("1 100000 7.3 shared"),
            Some((1, 100000, "7.3".to_string(), Way::Shared))
        );
        assert_eq!(header("1 100000 7.h held").map(|h| h.3), Some(Way::Held));
        assert_eq!(header("1 lost 7").map(|h| h.3), Some(Way::Lost));
        assert_eq!(header("0 100000 7"), None);
        assert_eq!(header("0 1 7 other"), None);
        assert_eq!(header("x 1 7"), None);
        assert_eq!(inline_length(&words("0 12 7")), Some(12));
        assert_eq!(inline_length(&words("0 100000 7 shared")), None);
    }
}
