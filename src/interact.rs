//! `shell_interact`: the guest's root shell on the terminal until end of input.
//!
//! A helper thread copies what the guest prints to stdout while the main thread
//! sends stdin lines to the guest; Ctrl-D (end of input) ends the session without
//! ending the run. The backdoor has no prompt and no job control.

use crate::cancel::{Cancel, Deadline, POLL};
use crate::error::Error;
use crate::input;
use crate::socket::{self, Stop, is_timeout};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Runs an interactive session on `stream` until stdin ends.
pub(crate) fn shell_session(stream: &UnixStream, cancel: &Cancel) -> Result<(), Error> {
    let mut reader = stream
        .try_clone()
        .map_err(|e| Error::io("cloning the shell socket", e))?;
    reader
        .set_read_timeout(Some(POLL))
        .map_err(|e| Error::io("setting up the shell socket", e))?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = stop.clone();
    let printer = std::thread::Builder::new()
        .name("shell-interact".to_string())
        .spawn(move || {
            let mut block = [0u8; 4096];
            while !thread_stop.load(Ordering::SeqCst) {
                match reader.read(&mut block) {
                    Ok(0) => break,
                    Ok(count) => {
                        let mut stdout = std::io::stdout().lock();
                        let _ = stdout.write_all(&block[..count]);
                        let _ = stdout.flush();
                    }
                    Err(e) if is_timeout(&e) => {}
                    Err(_) => break,
                }
            }
        })
        .map_err(|e| Error::io("starting the shell printer", e))?;
    let result = forward_lines(stream, cancel);
    // Let the guest's answer to the last line arrive before the printer stops.
    std::thread::sleep(POLL * 4);
    stop.store(true, Ordering::SeqCst);
    let _ = printer.join();
    result
}

/// How long one typed line may take to reach a guest that does not read.
const LINE_TIMEOUT: Duration = Duration::from_secs(60);

fn forward_lines(stream: &UnixStream, cancel: &Cancel) -> Result<(), Error> {
    while let Some(line) = input::read_line(cancel)? {
        let deadline = Deadline::after(LINE_TIMEOUT);
        socket::write_all(
            stream,
            format!("{line}\n").as_bytes(),
            deadline,
            &mut || cancel.check(),
        )
        .map_err(|end| match end {
            Stop::Watch(error) => *error,
            _ => Error::io(
                "writing to the guest shell",
                std::io::Error::from(ErrorKind::BrokenPipe),
            ),
        })?;
    }
    Ok(())
}
