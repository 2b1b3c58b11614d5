//! Reading the guest's answers off the console, and telling whole ones from damaged.
//!
//! Every answer is framed by its request's tag (a random nonce plus a counter, so no
//! output and no earlier answer can be mistaken for it): a header line
//! `TAG …`, then, for inline data, exactly the announced number of bytes, then a
//! `TAG end` line. An answer is whole only when the `TAG end` line stands exactly
//! where the count says; anything else means the console lost (or gained) bytes.
//!
//! A lost trailer must not leave the driver waiting out its timeout: once the
//! header has arrived and the console has been quiet for [`QUIET`], the reader asks
//! the guest to echo a probe tag. The guest reads it only after it has finished
//! sending the answer, so a probe that comes back before the trailer proves the
//! trailer lost.

use super::handshake::READY_MARKER;
use crate::cancel::Deadline;
use crate::socket::{self, Stop, Watch, find};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// How long the console may be quiet in the middle of an answer before a probe.
const QUIET: Duration = Duration::from_millis(500);
/// Read block size: large, so that bulk output drains the socket quickly.
const READ_BLOCK: usize = 256 * 1024;

/// An answer read off the console.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The header line's words after the tag.
    pub(crate) header: Vec<String>,
    /// The bytes between the header and the trailer (empty unless announced).
    pub(crate) data: Vec<u8>,
    /// Whether the data is exactly as long as announced and the trailer stood right
    /// after it.
    pub(crate) whole: bool,
}

/// Reads the console of one shell, keeping what arrived after an answer for the next.
pub(crate) struct Reader {
    pending: Vec<u8>,
    probes: u64,
}

impl Reader {
    /// A reader with nothing buffered.
    pub(crate) fn new() -> Reader {
        Reader {
            pending: Vec::new(),
            probes: 0,
        }
    }

    /// Reads the answer tagged `tag`. `expect` gives the number of data bytes from the
    /// header's words (`None`: no data follows the header). Bytes before the header
    /// (an earlier answer's leftovers, stray probes) are dropped.
    ///
    /// With `early_probe` (for requests that only move data, which the guest
    /// answers at once), a probe also goes out while the header is awaited, so
    /// that a lost header comes back as a damaged answer instead of a wait to the
    /// deadline. A command's own answer gets none: it may run for minutes.
    pub(crate) fn answer(
        &mut self,
        stream: &UnixStream,
        tag: &str,
        expect: &dyn Fn(&[String]) -> Option<u64>,
        early_probe: bool,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<Answer, Stop> {
        let head = format!("{tag} ");
        let trailer = format!("{tag} end\n");
        let mut buffer = std::mem::take(&mut self.pending);
        let probe = format!("{tag}-probe");
        let mut quiet_since = Instant::now();
        let mut probes_sent: Vec<String> = Vec::new();
        // Find the header line; what comes before it is an interrupted command's
        // late answer, or a stray probe reply: dropped.
        let (header, body_start) = loop {
            // Anywhere, not only at a line start: the newline before it may be
            // what the console lost, and the random tag cannot occur by chance.
            if let Some(at) = find(&buffer, head.as_bytes())
                && let Some(end) = buffer[at..].iter().position(|&b| b == b'\n')
                && !buffer[at..at + end + 1].starts_with(trailer.as_bytes())
            {
                let line = String::from_utf8_lossy(&buffer[at + head.len()..at + end]);
                let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
                break (words, at + end + 1);
            }
            // A shell that announces itself again has lost its functions, and
            // this answer will never come.
            if let Some(at) = find_line_start(&buffer, READY_MARKER)
                && buffer[at..].contains(&b'\n')
            {
                return Err(Stop::Restarted);
            }
            // The trailer with no header before it: the header was lost.
            if let Some(at) = find(&buffer, trailer.as_bytes()) {
                self.pending = buffer.split_off(at + trailer.len());
                return Err(Stop::Damaged(
                    "the answer's status line was lost on the console".to_string(),
                ));
            }
            if let Some(at) = first_reply(&buffer, &probes_sent) {
                self.pending = buffer.split_off(at);
                return Ok(Answer {
                    header: Vec::new(),
                    data: Vec::new(),
                    whole: false,
                });
            }
            if early_probe && quiet_since.elapsed() >= QUIET {
                probes_sent.push(self.probe(stream, &probe, deadline, watch)?);
                quiet_since = Instant::now();
            }
            // Keep only what could still be the start of the header, the marker or
            // a probe's reply.
            let keep = buffer
                .len()
                .saturating_sub(READ_BLOCK.max(head.len()).max(READY_MARKER.len()));
            buffer.drain(..keep);
            let before = buffer.len();
            self.fill(stream, &mut buffer, deadline, watch, None)?;
            if buffer.len() > before {
                quiet_since = Instant::now();
            }
        };
        buffer.drain(..body_start);
        let length = expect(&header);
        if let Some(length) = length {
            // Exactly as much memory as the output needs, plus the trailer.
            let wanted = usize::try_from(length).unwrap_or(usize::MAX);
            buffer.reserve(
                wanted
                    .saturating_add(trailer.len())
                    .saturating_sub(buffer.len()),
            );
        }
        let data_len = usize::try_from(length.unwrap_or(0)).unwrap_or(usize::MAX);
        quiet_since = Instant::now();
        loop {
            // Once as much as announced has come, the trailer must stand right
            // after it.
            if buffer.len() >= data_len.saturating_add(trailer.len())
                && buffer[data_len..data_len + trailer.len()] == *trailer.as_bytes()
            {
                self.pending = buffer.split_off(data_len + trailer.len());
                buffer.truncate(data_len);
                return Ok(Answer {
                    header,
                    data: buffer,
                    whole: true,
                });
            }
            // Anywhere else, bytes were lost (or gained) on the way. (Output cannot
            // hold the trailer: the tag is random, and fetches get fresh tags.)
            // Or the guest finished sending, yet the trailer never came: lost.
            let cut = find(&buffer, trailer.as_bytes())
                .map(|at| (at, at + trailer.len()))
                .or_else(|| first_reply(&buffer, &probes_sent).map(|at| (at, at)));
            if let Some((end, rest)) = cut {
                self.pending = buffer.split_off(rest);
                buffer.truncate(end);
                return Ok(Answer {
                    header,
                    data: buffer,
                    whole: false,
                });
            }
            // Ask again after every quiet stretch: a probe or its reply may be
            // lost too.
            if quiet_since.elapsed() >= QUIET {
                probes_sent.push(self.probe(stream, &probe, deadline, watch)?);
                quiet_since = Instant::now();
            }
            let before = buffer.len();
            self.fill(stream, &mut buffer, deadline, watch, Some(data_len))?;
            if buffer.len() > before {
                quiet_since = Instant::now();
            }
        }
    }

    /// Sends a probe whose reply proves the guest has sent all it had; returns
    /// the reply to look for.
    fn probe(
        &mut self,
        stream: &UnixStream,
        prefix: &str,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<String, Stop> {
        self.probes += 1;
        let tag = format!("{prefix}{}", self.probes);
        socket::write_all(
            stream,
            super::frame::probe(&tag).as_bytes(),
            deadline,
            watch,
        )?;
        Ok(format!("{tag}\n"))
    }

    /// Reads one slice more into `buffer`, growing it by a block (or to `room`).
    fn fill(
        &mut self,
        stream: &UnixStream,
        buffer: &mut Vec<u8>,
        deadline: Deadline,
        watch: Watch<'_>,
        room: Option<usize>,
    ) -> Result<(), Stop> {
        socket::checkpoint(deadline, watch)?;
        let filled = buffer.len();
        let want = room
            .map(|room| room.saturating_sub(filled).clamp(4096, READ_BLOCK))
            .unwrap_or(READ_BLOCK);
        if buffer.capacity() - filled < want {
            // Grow by an eighth (at least a block) rather than doubling.
            buffer.reserve_exact(want.max(filled / 8));
        }
        buffer.resize(filled + want, 0);
        let result = socket::read_slice(stream, &mut buffer[filled..], deadline);
        let count = *result.as_ref().unwrap_or(&0);
        buffer.truncate(filled + count);
        result.map(|_| ())
    }
}

/// Where the first of the probe replies `sent` stands in `buffer`.
fn first_reply(buffer: &[u8], sent: &[String]) -> Option<usize> {
    sent.iter()
        .filter_map(|reply| find(buffer, reply.as_bytes()))
        .min()
}

/// Where `needle` starts a line in `haystack` (at the start or after a newline).
fn find_line_start(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = find(&haystack[from..], needle) {
        let at = from + offset;
        if at == 0 || haystack[at - 1] == b'\n' {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read(sent: &[u8], tag: &str) -> (Answer, Vec<u8>) {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        theirs.write_all(sent).unwrap();
        // Like the guest's bash: a probe line is answered with its tag.
        let guest = std::thread::spawn(move || {
            use std::io::BufRead;
            let lines = std::io::BufReader::new(theirs.try_clone().unwrap()).lines();
            for line in lines.map_while(Result::ok) {
                let tag = line.rsplit(' ').next().unwrap_or_default().to_string();
                let _ = theirs.write_all(format!("{tag}\n").as_bytes());
            }
        });
        let mut reader = Reader::new();
        let answer = reader
            .answer(
                &ours,
                tag,
                &|words| words.get(1).and_then(|n| n.parse().ok()),
                false,
                Deadline::after(Duration::from_secs(5)),
                &mut || Ok(()),
            )
            .map_err(|_| "read failed")
            .unwrap();
        drop(ours);
        guest.join().unwrap();
        (answer, reader.pending)
    }

    #[test]
    fn a_whole_answer_keeps_what_follows_for_the_next() {
        let (answer, rest) = read(b"junk\nt-1 0 6\nhello\nt-1 end\nt-2 ", "t-1");
        assert_eq!(answer.header, ["0", "6"]);
        assert_eq!(answer.data, b"hello\n");
        assert!(answer.whole);
        assert_eq!(rest, b"t-2 ");
    }

    #[test]
    fn missing_bytes_are_noticed() {
        let (answer, _) = read(b"t-1 0 10\nhello\nt-1 end\n", "t-1");
        assert!(!answer.whole);
        assert_eq!(answer.data, b"hello\n");
    }

    #[test]
    fn a_lost_trailer_is_found_out_by_a_probe() {
        // The guest answers the probe only after it has sent everything.
        let (answer, _) = read(b"t-1 0 5 7\nhello", "t-1");
        assert!(!answer.whole);
        assert_eq!(answer.data, b"hello");
    }

    /// Reads the answer to `t-1`, which announces no data, from a console that
    /// sent `console`.
    fn answer_without_data(console: &[u8]) -> Result<Answer, Stop> {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        theirs.write_all(console).unwrap();
        Reader::new().answer(
            &ours,
            "t-1",
            &|_| None,
            false,
            Deadline::after(Duration::from_secs(5)),
            &mut || Ok(()),
        )
    }

    #[test]
    fn a_shell_that_announces_itself_again_has_restarted() {
        let result = answer_without_data(b"partial\nSpawning backdoor root shell...\n");
        assert!(matches!(result, Err(Stop::Restarted)));
    }

    #[test]
    fn a_trailer_without_its_header_is_a_damaged_answer() {
        let result = answer_without_data(b"abct-1 end\n");
        assert!(matches!(result, Err(Stop::Damaged(_))));
    }

    #[test]
    fn a_header_after_a_lost_newline_is_found() {
        let (answer, _) = read(b"junkt-1 0 3 5\nabct-1 end\n", "t-1");
        assert!(answer.whole);
        assert_eq!(answer.data, b"abc");
    }

    #[test]
    fn a_longer_tag_is_not_the_header() {
        let (answer, _) = read(b"t-11 0 1\nxt-11 end\nt-1 0 1\nyt-1 end\n", "t-1");
        assert_eq!(answer.data, b"y");
    }
}
