//! The QEMU Machine Protocol (QMP) on the unix socket QEMU listens on
//! (`-qmp unix:<state>/qmp,server=on,wait=off`, as the NixOS driver passes it).
//!
//! One JSON object a line in each direction. QEMU greets first
//! (`{"QMP": {...}}`); the client answers `qmp_capabilities` to leave negotiation
//! mode. Every command is sent with an `id`, and its answer (`return` or `error`)
//! carries the same `id`; answers with another `id` belong to a command whose
//! answer an interrupted step never read, and are dropped. Events (`event`) may
//! come at any time, between answers too: they are queued in arrival order and
//! handed out by [`Qmp::next_event`]. Reads and writes go through `socket.rs`,
//! so a QEMU that exits or a signal ends every wait at once.

use crate::cancel::Deadline;
use crate::json::{self, Json};
use crate::socket::{self, Stop, Watch};
use std::collections::VecDeque;
use std::os::unix::net::UnixStream;

/// The most events kept while no wait takes them; older ones are dropped.
const MAX_QUEUED: usize = 1000;

/// A QMP connection past negotiation.
pub(crate) struct Qmp {
    stream: UnixStream,
    /// Bytes read but not yet a whole line.
    pending: Vec<u8>,
    /// Events read while waiting for something else, oldest first, at most
    /// [`MAX_QUEUED`].
    events: VecDeque<Json>,
    /// How many queued events were dropped, oldest first, to keep that bound.
    dropped: u64,
    /// The `id` of the next command.
    next_id: u64,
}

/// What QEMU answered a command.
pub(crate) enum Answer {
    /// `return`: the command's result.
    Return(Json),
    /// `error`: its class and description.
    Error { class: String, desc: String },
}

impl Qmp {
    /// A client on `stream` with nothing read yet.
    fn over(stream: UnixStream) -> Qmp {
        Qmp {
            stream,
            pending: Vec::new(),
            events: VecDeque::new(),
            dropped: 0,
            next_id: 1,
        }
    }

    /// Connects to `path`, retrying until QEMU listens (or `deadline`), reads the
    /// greeting and negotiates capabilities.
    pub(crate) fn connect(
        path: &std::path::Path,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<Qmp, Stop> {
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(_) => {
                    socket::checkpoint(deadline, watch)?;
                    std::thread::sleep(deadline.slice().min(crate::cancel::POLL));
                }
            }
        };
        let mut qmp = Qmp::over(stream);
        let greeting = qmp.read_message(deadline, watch)?;
        if greeting.get("QMP").is_none() {
            return Err(Stop::Damaged(format!(
                "QEMU's QMP socket greeted with `{greeting}`, not a QMP greeting"
            )));
        }
        match qmp.execute("qmp_capabilities", None, deadline, watch)? {
            Answer::Return(_) => Ok(qmp),
            Answer::Error { class, desc } => Err(Stop::Damaged(format!(
                "QMP capability negotiation failed: {class}: {desc}"
            ))),
        }
    }

    /// Sends `command` (with `arguments`, an object, if given) and returns its
    /// answer; events that come meanwhile are queued.
    pub(crate) fn execute(
        &mut self,
        command: &str,
        arguments: Option<Json>,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<Answer, Stop> {
        let id = self.next_id;
        self.next_id += 1;
        let mut members = vec![("execute".to_string(), Json::Str(command.to_string()))];
        if let Some(arguments) = arguments {
            members.push(("arguments".to_string(), arguments));
        }
        members.push(("id".to_string(), Json::Int(id as i64)));
        let line = format!("{}\n", Json::Object(members));
        socket::write_all(&self.stream, line.as_bytes(), deadline, watch)?;
        loop {
            let message = self.read_message(deadline, watch)?;
            if message.get("id") != Some(&Json::Int(id as i64)) {
                continue;
            }
            if let Some(result) = message.get("return") {
                return Ok(Answer::Return(result.clone()));
            }
            let error = message.get("error");
            let field = |name: &str| {
                error
                    .and_then(|e| e.get(name))
                    .and_then(Json::as_str)
                    .unwrap_or("unknown")
                    .to_string()
            };
            return Ok(Answer::Error {
                class: field("class"),
                desc: field("desc"),
            });
        }
    }

    /// The oldest event not handed out yet, waiting for one until `deadline`.
    pub(crate) fn next_event(
        &mut self,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<Json, Stop> {
        if let Some(event) = self.events.pop_front() {
            return Ok(event);
        }
        loop {
            // Anything but an event here answers a command an interrupted step
            // sent and never read: nobody waits for it.
            let message = self.read_line(deadline, watch)?;
            if message.get("event").is_some() {
                return Ok(message);
            }
        }
    }

    /// Queues `event`, dropping the oldest when the queue is full.
    fn queue(&mut self, event: Json) {
        if self.events.len() >= MAX_QUEUED {
            self.events.pop_front();
            self.dropped += 1;
        }
        self.events.push_back(event);
    }

    /// How many events were dropped because nobody took them in time.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Reads one message that is not an event (events go to the queue).
    fn read_message(&mut self, deadline: Deadline, watch: Watch<'_>) -> Result<Json, Stop> {
        loop {
            let message = self.read_line(deadline, watch)?;
            if message.get("event").is_some() {
                self.queue(message);
            } else {
                return Ok(message);
            }
        }
    }

    /// Reads one line and parses it as a JSON object.
    fn read_line(&mut self, deadline: Deadline, watch: Watch<'_>) -> Result<Json, Stop> {
        let mut block = [0u8; 4096];
        let end = loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                break end;
            }
            socket::checkpoint(deadline, watch)?;
            let count = socket::read_slice(&self.stream, &mut block, deadline)?;
            self.pending.extend_from_slice(&block[..count]);
        };
        let line: Vec<u8> = self.pending.drain(..=end).collect();
        let text = String::from_utf8_lossy(&line);
        match json::parse(text.trim()) {
            Ok(message @ Json::Object(_)) => Ok(message),
            Ok(other) => Err(Stop::Damaged(format!(
                "QMP sent `{other}`, not a JSON object"
            ))),
            Err(error) => Err(Stop::Damaged(format!(
                "QMP sent `{}`: {error}",
                text.trim()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::time::Duration;

    /// A QMP server on a socket pair: greets, answers each command with its id
    /// after an event and a stale answer, then closes.
    fn serve(stream: UnixStream) {
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        writer
            .write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n")
            .unwrap();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 {
            let request = json::parse(line.trim()).unwrap();
            let id = request.get("id").unwrap().to_string();
            let reply = match request.get("execute").and_then(Json::as_str) {
                Some("query-status") => format!(
                    "{{\"event\": \"STOP\", \"data\": {{}}}}\n{{\"return\": {{}}, \"id\": 999}}\n\
                     {{\"return\": {{\"status\": \"paused\", \"running\": false}}, \"id\": {id}}}\n"
                ),
                Some("qmp_capabilities") => format!("{{\"return\": {{}}, \"id\": {id}}}\n"),
                _ => format!(
                    "{{\"error\": {{\"class\": \"CommandNotFound\", \"desc\": \"no\"}}, \"id\": {id}}}\n"
                ),
            };
            writer.write_all(reply.as_bytes()).unwrap();
            line.clear();
        }
    }

    #[test]
    fn the_event_queue_keeps_the_newest_and_counts_what_it_dropped() {
        let (stream, _other) = UnixStream::pair().unwrap();
        let mut qmp = Qmp::over(stream);
        for i in 0..MAX_QUEUED + 5 {
            qmp.queue(Json::Str(i.to_string()));
        }
        assert_eq!(qmp.dropped(), 5);
        assert_eq!(qmp.events.len(), MAX_QUEUED);
        assert_eq!(qmp.events.front(), Some(&Json::Str("5".into())));
    }

    #[test]
    fn commands_answers_errors_and_queued_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qmp");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || serve(listener.accept().unwrap().0));
        let deadline = Deadline::after(Duration::from_secs(10));
        let mut ok = || Ok(());
        let mut qmp = Qmp::connect(&path, deadline, &mut ok).unwrap();
        let Answer::Return(status) = qmp
            .execute("query-status", None, deadline, &mut ok)
            .unwrap()
        else {
            panic!("query-status failed")
        };
        assert_eq!(status.get("status"), Some(&Json::Str("paused".into())));
        let Answer::Error { class, .. } = qmp.execute("nope", None, deadline, &mut ok).unwrap()
        else {
            panic!("`nope` succeeded")
        };
        assert_eq!(class, "CommandNotFound");
        let event = qmp.next_event(deadline, &mut ok).unwrap();
        assert_eq!(event.get("event"), Some(&Json::Str("STOP".into())));
        drop(qmp);
        server.join().unwrap();
    }
}
