//! What the driver sends to the guest's bash: the prelude of shell functions,
//! defined once per connection, and the one short line per request that uses them.
//!
//! # The prelude
//! Sent right after the handshake. It picks a private directory for command output
//! on the first writable of `/dev/shm`, `/run`, `$TMPDIR`, `/tmp` (tmpfs first: a
//! file on the guest's root disk costs a millisecond more per command), checks
//! whether the host's shared directory is mounted in the guest (a probe file the
//! driver has just written there must be visible at `/tmp/shared`, or at
//! `$VMTEST_SHARED_DIR` where a guest mounts it elsewhere), and defines:
//!
//! - `__vm_b ID`: opens `o.ID` in the output directory on fd 31 of the main shell
//!   (and, every [`CLEANUP_EVERY`] commands, removes older files first; a
//!   directory a command removed is made again);
//! - `__vm_e ID TAG RC`: reads how many bytes the command wrote from fd 31's offset
//!   in `/proc/$$/fdinfo/31` (builtins only, no extra process) and answers
//!   `TAG RC N` + the N bytes + `TAG end` when N is at most [`INLINE_MAX`];
//!   a larger output is copied to the shared directory (`TAG RC N shared`) or
//!   kept in the guest for the driver to fetch in segments (`TAG RC N held`);
//! - `__vm_c ID TAG`: copies a kept output to the shared directory, for recovery;
//! - `__vm_g ID TAG SKIP COUNT`: sends blocks `SKIP..SKIP+COUNT` (64 KiB each) of a
//!   kept output between `TAG` and `TAG end` lines;
//! - `__vm_w ID TAG OP N SECONDS CMD`: a wait in the guest: runs CMD every 50 ms
//!   until `[ STATUS OP N ]` holds (`-eq 0`: success, `-ne 0`: failure) or the
//!   time is up, each try bounded by `timeout`, then answers like `__vm_e` with the
//!   last try's output and status.
//!
//! # One line per request
//! `__vm_b ID; ( set -euo pipefail; CMD ) >&31 31>&- </dev/null; __vm_e ID TAG $?`
//!
//! - stdout goes to a fresh file, so the shell waits only for the command itself: a
//!   background process that keeps stdout open cannot hang the run, nor write into
//!   a later command's output (each command has its own file);
//! - a command made only of plain words runs as written, so bash execs its program
//!   without another fork; anything else runs through `eval` of a single-quoted
//!   string, so comments, heredocs and unbalanced quotes cannot break the frame;
//! - stdin is `/dev/null`, so a command cannot swallow the requests after it;
//! - the byte count in the answer lets the driver tell a complete answer from one
//!   the virtio console damaged (see the parent module).
//!
//! A command with a guest-side limit runs as
//! `timeout -s KILL T "$BASH" -c 'set -euo pipefail; eval "$1"' vmtest 'CMD'`.

use crate::command::{Request, Status, quote};
use std::time::Duration;

/// Outputs up to this size travel inline on the console: one burst of this size plus
/// the status lines always fits what QEMU queues for a console that is not read.
pub(crate) const INLINE_MAX: u64 = 64 * 1024;
/// The block size of segment fetches (`__vm_g`).
pub(crate) const BLOCK: u64 = 64 * 1024;
/// Old output files are removed once every this many commands.
const CLEANUP_EVERY: u64 = 64;
/// The descriptor of the main shell that holds the current output file.
const FD: &str = "31";

/// The prelude (see the module doc); its answer is `TAG ready [shared] DIR`.
pub(crate) fn prelude(nonce: &str, tag: &str, probe: &str) -> String {
    let e = FD;
    let defs = [
        format!(
            "__vm_b() {{ if [ $(( $1 % {CLEANUP_EVERY} )) = 0 ]; then rm -f \"$__vm_d\"/o.* 2>/dev/null; fi; [ -d \"$__vm_d\" ] || mkdir -p -m 700 \"$__vm_d\"; exec {e}>\"$__vm_d/o.$1\"; }}"
        ),
        format!(
            "__vm_e() {{ local n=; {{ read -r _ n </proc/$$/fdinfo/{e}; }} 2>/dev/null || n=$(wc -c <\"$__vm_d/o.$1\"); exec {e}>&-; \
             if [ \"$n\" = 0 ]; then printf '%s %d 0\\n%s end\\n' \"$2\" \"$3\" \"$2\"; \
             elif [ \"$n\" -le {INLINE_MAX} ]; then printf '%s %d %d\\n' \"$2\" \"$3\" \"$n\"; head -c \"$n\" \"$__vm_d/o.$1\"; printf '%s end\\n' \"$2\"; \
             elif [ -n \"$__vm_s\" ] && dd if=\"$__vm_d/o.$1\" of=\"$__vm_s/.vmtest-out.$2\" bs=262144 2>/dev/null; then printf '%s %d %d shared\\n%s end\\n' \"$2\" \"$3\" \"$n\" \"$2\"; \
             else printf '%s %d %d held\\n%s end\\n' \"$2\" \"$3\" \"$n\" \"$2\"; fi; }}"
        ),
        "__vm_c() { if [ -n \"$__vm_s\" ] && dd if=\"$__vm_d/o.$1\" of=\"$__vm_s/.vmtest-out.$2\" bs=262144 2>/dev/null; then printf '%s shared\\n%s end\\n' \"$2\" \"$2\"; else printf '%s held\\n%s end\\n' \"$2\" \"$2\"; fi; }".to_string(),
        format!(
            "__vm_g() {{ printf '%s segment\\n' \"$2\"; dd if=\"$__vm_d/o.$1\" bs={BLOCK} skip=\"$3\" count=\"$4\" 2>/dev/null; printf '%s end\\n' \"$2\"; }}"
        ),
        format!(
            "__vm_w() {{ local rc end=$((SECONDS + $5)); while :; do __vm_b \"$1\"; \
             timeout -s KILL $(( end > SECONDS ? end - SECONDS : 1 )) \"$BASH\" -c 'set -euo pipefail; eval \"$1\"' vmtest \"$6\" >&{e} {e}>&- </dev/null; rc=$?; \
             [ \"$rc\" \"$3\" \"$4\" ] && break; \
             [ \"$SECONDS\" -lt \"$end\" ] || break; sleep 0.05 2>/dev/null || sleep 1; done; __vm_e \"$1\" \"$2\" \"$rc\"; }}"
        ),
    ];
    let setup = format!(
        "__vm_d=; for __vm_t in /dev/shm /run \"${{TMPDIR:-/tmp}}\" /tmp; do \
         if [ -d \"$__vm_t\" ] && [ -w \"$__vm_t\" ] && mkdir -m 700 \"$__vm_t/.vmtest-min.{nonce}\" 2>/dev/null; \
         then __vm_d=$__vm_t/.vmtest-min.{nonce}; break; fi; done; \
         __vm_s=${{VMTEST_SHARED_DIR:-/tmp/shared}}; [ -f \"$__vm_s/{probe}\" ] || __vm_s=; \
         printf '%s ready %s %s\\n%s end\\n' {tag} \"${{__vm_s:+shared}}\" \"$__vm_d\" {tag}"
    );
    let mut text = defs.join("\n");
    text.push('\n');
    text.push_str(&setup);
    text.push('\n');
    text
}

/// The line that runs `request` as command number `id`, answering under `tag`.
pub(crate) fn request(request: Request<'_>, id: u64, tag: &str) -> String {
    let e = FD;
    match request {
        Request::Once {
            command,
            limit: None,
        } => {
            let body = if is_plain(command) {
                command.to_string()
            } else {
                format!("eval {}", quote(command))
            };
            format!(
                "__vm_b {id}; ( set -euo pipefail; {body} ) >&{e} {e}>&- </dev/null; __vm_e {id} {tag} $?\n"
            )
        }
        Request::Once {
            command,
            limit: Some(limit),
        } => format!(
            "__vm_b {id}; timeout -s KILL {} \"$BASH\" -c 'set -euo pipefail; eval \"$1\"' vmtest {} >&{e} {e}>&- </dev/null; __vm_e {id} {tag} $?\n",
            whole_seconds(limit),
            quote(command)
        ),
        Request::Until {
            command,
            stop,
            limit,
        } => {
            let (op, status) = match stop {
                Status::Is(status) => ("-eq", status),
                Status::IsNot(status) => ("-ne", status),
            };
            format!(
                "__vm_w {id} {tag} {op} {status} {} {}\n",
                whole_seconds(limit),
                quote(command)
            )
        }
    }
}

/// The line that copies output `id` to the shared directory again.
pub(crate) fn copy_to_shared(id: u64, tag: &str) -> String {
    format!("__vm_c {id} {tag}\n")
}

/// The line that sends `count` blocks of output `id` from block `skip` on.
pub(crate) fn segment(id: u64, tag: &str, skip: u64, count: u64) -> String {
    format!("__vm_g {id} {tag} {skip} {count}\n")
}

/// The line that makes the guest print `tag` once it has read it: everything the
/// guest sent before has then been sent.
pub(crate) fn probe(tag: &str) -> String {
    format!("printf '%s\\n' {tag}\n")
}

/// Whether `command` is words of characters the shell gives no meaning to, so
/// it runs the same without `eval`.
fn is_plain(command: &str) -> bool {
    !command.trim().is_empty()
        && command
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || "_./:=@%+,-".contains(c))
        && !command
            .trim_start()
            .starts_with(|c: char| c.is_ascii_digit() || c == '=')
        && !command
            .split(' ')
            .next()
            .is_some_and(|word| word.contains('='))
}

fn whole_seconds(limit: Duration) -> u64 {
    limit.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_commands_run_without_eval() {
        let line = request(
            Request::Once {
                command: "systemctl is-active sshd.service",
                limit: None,
            },
            3,
            "t-3",
        );
        assert_eq!(
            line,
            "__vm_b 3; ( set -euo pipefail; systemctl is-active sshd.service ) >&31 31>&- </dev/null; __vm_e 3 t-3 $?\n"
        );
    }

    #[test]
    fn other_commands_go_through_eval_of_one_quoted_word() {
        let line = request(
            Request::Once {
                command: "echo 'it''s' # comment",
                limit: None,
            },
            4,
            "t-4",
        );
        assert!(line.contains(r"eval 'echo '\''it'\'''\''s'\'' # comment' ) >&31"));
    }

    #[test]
    fn assignments_and_redirections_are_not_plain() {
        for command in [
            "FOO=1 env",
            "echo hi > /tmp/x",
            "a; b",
            "echo $HOME",
            "2 words",
            "",
        ] {
            assert!(!is_plain(command), "{command:?}");
        }
        assert!(is_plain("test -e /run/x"));
        assert!(is_plain("nc -z localhost 80"));
    }

    #[test]
    fn limits_and_waits_round_up_to_whole_seconds() {
        let once = request(
            Request::Once {
                command: "true",
                limit: Some(Duration::from_millis(1500)),
            },
            5,
            "t",
        );
        assert!(once.starts_with("__vm_b 5; timeout -s KILL 2 \"$BASH\" -c"));
        let until = request(
            Request::Until {
                command: "test -e /x",
                stop: Status::FAILURE,
                limit: Duration::from_millis(100),
            },
            6,
            "t",
        );
        assert_eq!(until, "__vm_w 6 t -ne 0 1 'test -e /x'\n");
    }
}
