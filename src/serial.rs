//! The serial console: one reader thread per machine, and the buffer it fills.
//!
//! QEMU's `-serial stdio` makes the guest's console arrive on QEMU's stdout. The
//! reader thread reads it in large blocks, splits lines (lossy UTF-8, `\r` removed,
//! overlong lines cut at [`MAX_LINE`] bytes), hands each line to the logger and to a
//! bounded [`Console`] buffer that `wait_for_console_text` searches, and notes a
//! kernel panic the moment it shows. EOF (QEMU exited) ends the thread. When the
//! machine stops it also raises a stop flag, which the thread checks between
//! `poll(2)` slices: a process outside QEMU's group that still holds the pipe (a
//! daemon the start script detached) cannot keep the thread, or the run, alive.
//! Whatever is already in the pipe is read before the thread ends.

use crate::cancel::{Cancel, Deadline};
use crate::error::Error;
use crate::logger::Logger;
use regex_lite::Regex;
use std::collections::VecDeque;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Lines kept for searching and for error messages; older ones are dropped.
pub(crate) const MAX_LINES: usize = 20_000;
/// Longest line kept whole; longer runs without a newline are split.
pub(crate) const MAX_LINE: usize = 64 * 1024;
/// What a Linux kernel prints when it panics.
const PANIC_MARKER: &str = "Kernel panic - not syncing";

/// The lines a machine printed, shared between its reader thread and the driver.
#[derive(Clone)]
pub(crate) struct Console {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    lines: VecDeque<String>,
    /// Number of lines ever received; `lines` holds the last `lines.len()` of them.
    total: u64,
    /// Lines before this absolute index were already consumed by a console wait.
    cursor: u64,
    panic: Option<String>,
    closed: bool,
}

impl State {
    fn first_index(&self) -> u64 {
        self.total - self.lines.len() as u64
    }
}

impl Console {
    fn new() -> Console {
        Console {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                changed: Condvar::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, line: String) {
        let mut state = self.lock();
        if state.panic.is_none() && line.contains(PANIC_MARKER) {
            state.panic = Some(line.clone());
        }
        state.lines.push_back(line);
        state.total += 1;
        if state.lines.len() > MAX_LINES {
            state.lines.pop_front();
        }
        self.shared.changed.notify_all();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.shared.changed.notify_all();
    }

    /// The panic line, if the guest kernel has panicked.
    pub(crate) fn panic_line(&self) -> Option<String> {
        self.lock().panic.clone()
    }

    /// Whether the stream has ended (QEMU closed its stdout, i.e. exited).
    pub(crate) fn closed(&self) -> bool {
        self.lock().closed
    }

    /// How many lines have arrived so far.
    pub(crate) fn total(&self) -> u64 {
        self.lock().total
    }

    /// The lines that arrived since line number `since` (see [`Console::total`]),
    /// the last `count` of them at most.
    pub(crate) fn since(&self, since: u64, count: usize) -> Vec<String> {
        let state = self.lock();
        let first = state.first_index();
        let start = (since.max(first) - first) as usize;
        let skip = start.max(state.lines.len().saturating_sub(count));
        state.lines.iter().skip(skip).cloned().collect()
    }

    /// The last `count` lines.
    pub(crate) fn tail(&self, count: usize) -> Vec<String> {
        self.since(0, count)
    }

    /// Waits for a line matching `regex` among the lines not yet consumed by an
    /// earlier wait, returns it, and consumes everything up to it.
    ///
    /// Fails on timeout, cancellation, or when the stream ends without a match.
    pub(crate) fn wait_for(
        &self,
        regex: &Regex,
        deadline: Deadline,
        cancel: &Cancel,
    ) -> Result<Result<String, WaitEnd>, Error> {
        let mut state = self.lock();
        let mut next = state.cursor;
        loop {
            next = next.max(state.first_index());
            let first = state.first_index();
            let hit = (next..state.total)
                .find(|&index| regex.is_match(&state.lines[(index - first) as usize]));
            if let Some(index) = hit {
                state.cursor = index + 1;
                return Ok(Ok(state.lines[(index - first) as usize].clone()));
            }
            next = state.total;
            if state.closed {
                return Ok(Err(WaitEnd::Closed));
            }
            if deadline.passed() {
                return Ok(Err(WaitEnd::TimedOut));
            }
            drop(state);
            cancel.check()?;
            state = self.lock();
            if state.total == next && !state.closed {
                state = self
                    .shared
                    .changed
                    .wait_timeout(state, deadline.slice())
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0;
            }
        }
    }
}

/// Why [`Console::wait_for`] ended without a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitEnd {
    /// The deadline passed.
    TimedOut,
    /// The serial stream ended: QEMU exited.
    Closed,
}

/// A running reader thread and the console it fills.
pub(crate) struct SerialReader {
    console: Console,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SerialReader {
    /// Starts reading `stream` for `machine`, logging every line.
    pub(crate) fn spawn(
        machine: &str,
        stream: impl Read + AsRawFd + Send + 'static,
        logger: Arc<Logger>,
    ) -> Result<SerialReader, Error> {
        let console = Console::new();
        let thread_console = console.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let name = machine.to_string();
        let thread = std::thread::Builder::new()
            .name(format!("serial-{machine}"))
            .spawn(move || read_lines(stream, &name, &logger, &thread_console, &thread_stop))
            .map_err(|e| Error::io(format!("{machine}: starting the serial reader"), e))?;
        Ok(SerialReader {
            console,
            stop,
            thread: Some(thread),
        })
    }

    /// The console this reader fills.
    pub(crate) fn console(&self) -> &Console {
        &self.console
    }

    /// Stops the thread, once it has read what is already in the pipe, and waits
    /// for it (within a poll slice of the stop).
    pub(crate) fn join(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn read_lines(
    mut stream: impl Read + AsRawFd,
    machine: &str,
    logger: &Logger,
    console: &Console,
    stop: &AtomicBool,
) {
    let mut block = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let emit = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes).replace('\r', "");
        logger.serial(machine, &text);
        console.push(text);
    };
    loop {
        // Once stopped, read only what is there already.
        let wait = if stop.load(Ordering::SeqCst) {
            std::time::Duration::ZERO
        } else {
            crate::cancel::POLL
        };
        match crate::input::readable(stream.as_raw_fd(), wait) {
            Ok(true) => {}
            Ok(false) if wait.is_zero() => break,
            Ok(false) => continue,
            Err(_) => break,
        }
        let count = match stream.read(&mut block) {
            Ok(0) => break,
            Ok(count) => count,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        pending.extend_from_slice(&block[..count]);
        let mut start = 0;
        while let Some(newline) = pending[start..].iter().position(|&b| b == b'\n') {
            emit(&pending[start..start + newline]);
            start += newline + 1;
        }
        pending.drain(..start);
        while pending.len() >= MAX_LINE {
            let rest = pending.split_off(MAX_LINE);
            emit(&pending);
            pending = rest;
        }
    }
    if !pending.is_empty() {
        emit(&pending);
    }
    console.close();
}
