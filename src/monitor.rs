//! The QEMU human monitor (HMP) on a unix socket the driver listens on.
//!
//! QEMU greets with a banner and a first `(qemu) ` prompt, which is drained when the
//! machine starts; every command's answer ends with the next prompt, except `quit`,
//! which closes the connection. Answers are cleaned of the echoed command line, of
//! terminal escape sequences and of `\r`.

use crate::cancel::Deadline;
use crate::socket::{self, Stop, Watch};
use std::io::Write;
use std::os::unix::net::UnixStream;

const PROMPT: &[u8] = b"(qemu) ";

/// A connected monitor.
pub(crate) struct Monitor {
    stream: UnixStream,
    /// An earlier command's answer was not read (timeout, Ctrl-C): read it first.
    behind: bool,
}

impl Monitor {
    /// Wraps an accepted connection and drains QEMU's greeting.
    pub(crate) fn connect(
        stream: UnixStream,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<Monitor, Stop> {
        let mut monitor = Monitor {
            stream,
            behind: false,
        };
        monitor.read_to_prompt(deadline, watch)?;
        Ok(monitor)
    }

    /// Sends `command` and returns QEMU's answer.
    pub(crate) fn command(
        &mut self,
        command: &str,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<String, Stop> {
        if self.behind {
            self.read_to_prompt(deadline, watch)?;
            self.behind = false;
        }
        let line = format!("{}\n", command.trim_end_matches('\n'));
        socket::write_all(&self.stream, line.as_bytes(), deadline, watch)?;
        let raw = self.read_to_prompt(deadline, watch).inspect_err(|_| {
            self.behind = true;
        })?;
        Ok(clean_answer(&raw))
    }

    /// Connects (`up`) or disconnects the guest's first vlan interface, the NIC
    /// NixOS start scripts name `virtio-net-pci.1`.
    pub(crate) fn set_link(
        &mut self,
        up: bool,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<String, Stop> {
        let state = if up { "on" } else { "off" };
        self.command(
            &format!("set_link virtio-net-pci.1 {state}"),
            deadline,
            watch,
        )
    }

    /// Presses ctrl-alt-delete on the guest's keyboard.
    pub(crate) fn ctrl_alt_delete(
        &mut self,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<String, Stop> {
        self.command("sendkey ctrl-alt-delete", deadline, watch)
    }

    /// Forwards TCP `host_port` on the host's loopback to `guest_port` of the
    /// first user-mode network stack (QEMU picks it when no netdev id is given,
    /// as the NixOS driver relies on).
    pub(crate) fn forward_port(
        &mut self,
        host_port: u16,
        guest_port: u16,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<String, Stop> {
        self.command(
            &format!("hostfwd_add tcp:127.0.0.1:{host_port}-:{guest_port}"),
            deadline,
            watch,
        )
    }

    /// Asks the guest to power off through ACPI.
    pub(crate) fn power_down(
        &mut self,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<String, Stop> {
        self.command("system_powerdown", deadline, watch)
    }

    /// Writes the screen to `path` as a binary PPM (`screendump`); the answer is
    /// empty when it worked.
    pub(crate) fn screendump(
        &mut self,
        path: &std::path::Path,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<String, Stop> {
        // A plain word, or a quoted string when the path has spaces or quotes.
        let path = path.display().to_string();
        let plain = !path.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\');
        let argument = match plain {
            true => path,
            false => format!("\"{}\"", path.replace('\\', "\\\\").replace('"', "\\\"")),
        };
        self.command(&format!("screendump {argument}"), deadline, watch)
    }

    /// Presses and releases `key`, a `sendkey` name such as `shift-a` or
    /// `ctrl-alt-delete`; the answer is empty when QEMU knows the key.
    pub(crate) fn send_key(
        &mut self,
        key: &str,
        deadline: Deadline,
        watch: Watch<'_>,
    ) -> Result<String, Stop> {
        self.command(&format!("sendkey {key}"), deadline, watch)
    }

    /// Sends `quit`; QEMU exits without answering.
    pub(crate) fn quit(&mut self) -> std::io::Result<()> {
        let _ = self.stream.set_write_timeout(Some(crate::cancel::POLL));
        self.stream.write_all(b"quit\n")
    }

    fn read_to_prompt(&mut self, deadline: Deadline, watch: Watch<'_>) -> Result<String, Stop> {
        let mut buffer = Vec::new();
        let mut block = [0u8; 4096];
        while !buffer.ends_with(PROMPT) {
            socket::checkpoint(deadline, watch)?;
            let count = socket::read_slice(&self.stream, &mut block, deadline)?;
            buffer.extend_from_slice(&block[..count]);
        }
        buffer.truncate(buffer.len() - PROMPT.len());
        Ok(String::from_utf8_lossy(&buffer).into_owned())
    }
}

/// Removes the echoed command line, escape sequences and `\r` from a monitor answer.
///
/// QEMU's readline echoes every typed byte with cursor movements, all on one line
/// that ends with `\r\n` when the command is entered; the answer follows.
fn clean_answer(raw: &str) -> String {
    let answer = raw.split_once('\n').map_or("", |(_, rest)| rest);
    strip_escapes(answer).replace('\r', "")
}

fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for next in chars.by_ref() {
                    if next.is_ascii_alphabetic() || next == '~' {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_echo_and_escapes() {
        let raw = "i\u{1b}[K\u{1b}[Din\u{1b}[K info status\u{1b}[K\r\nVM status: running\r\n";
        assert_eq!(clean_answer(raw), "VM status: running\n");
    }
}
