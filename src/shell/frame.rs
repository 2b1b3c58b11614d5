//! What the driver sends to the guest's bash: the prelude of shell functions,
//! defined once per connection, and the one short line per request that uses them.
//!
//! # The prelude
//! Sent right after the handshake. It picks a private directory for command output
//! on the first writable of `$VMTEST_OUTPUT_DIR` (if the backdoor's environment
//! sets it), `/dev/shm`, `/run`, `$TMPDIR`, `/tmp` (tmpfs first: a file on the
//! guest's root disk costs a millisecond more per command), checks
//! whether the host's shared directory is mounted in the guest (a probe file the
//! driver has just written there must be visible at `/tmp/shared`, or at
//! `$VMTEST_SHARED_DIR` where a guest mounts it elsewhere), and defines:
//!
//! - `__vm_b FILE`: empties the last non-empty output (so a guest's `/dev/shm` does
//!   not fill up over a run) and opens `o.FILE` in the output directory on fd 31
//!   of the main shell (making the directory again if a command removed it);
//! - `__vm_e FILE TAG RC`: answers `TAG RC N FILE` + the N bytes + `TAG end` when
//!   the output has at most [`INLINE_MAX`] bytes. When the command wrote only
//!   through fd 31 and no NUL byte, its offset (read from `/proc/$$/fdinfo/31`)
//!   equals what `read -N` gets from the file, and builtins alone answer;
//!   otherwise (a reopened `/dev/stdout`, NUL bytes, a background writer) `wc -c`
//!   measures the file and `head -c` sends exactly that much. A larger output is
//!   copied to the shared directory (`TAG RC N FILE shared`) or snapshotted for
//!   the driver to fetch in segments (`TAG RC N FILE.h held`); a missing output
//!   file (the command could not even start) answers `TAG RC lost FILE`;
//! - `__vm_c FILE TAG`: copies a kept output to the shared directory, for recovery;
//! - `__vm_g FILE TAG SKIP COUNT`: sends blocks `SKIP..SKIP+COUNT` (64 KiB each) of
//!   a kept output between `TAG segment` and `TAG end` lines;
//! - `__vm_w ID TAG OP N LOOP TRY PAUSE CMD`: a wait in the guest. One bash under
//!   `timeout -s KILL TRY` (the time left for the whole wait) runs CMD in a
//!   subshell, each try writing its own file `o.ID.T` and its number and status
//!   to `o.ID.r`, until `[ STATUS OP N ]` holds (`-eq 0`: success, `-ne 0`:
//!   failure) or LOOP seconds (at most [`UNTIL_SLICE`]) pass, pausing from PAUSE
//!   up to 1 s between tries (a builtin `read -t` on a fifo). A try costs one fork
//!   (none more for a builtin), not a `timeout` and a bash. The main shell then
//!   answers like `__vm_e` with the last try's output and status (137 when
//!   `timeout` killed it).
//!
//! Every [`CLEANUP_EVERY`] commands the request line first removes older files.
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
/// Longest stretch one `__vm_w` request loops before answering: the host asks again,
/// so an interrupted wait stops trying in the guest within this time.
pub(crate) const UNTIL_SLICE: Duration = Duration::from_secs(5);

/// The prelude (see the module doc); its answer is `TAG ready [shared] DIR`.
pub(crate) fn prelude(nonce: &str, tag: &str, probe: &str) -> String {
    let e = FD;
    let defs = [
        format!(
            "__vm_b() {{ exec {e}>&-; if [ -n \"$__vm_l\" ]; then : >\"$__vm_l\"; __vm_l=; fi 2>/dev/null; \
             {{ exec {e}>\"$__vm_d/o.$1\"; }} 2>/dev/null || {{ mkdir -p -m 700 \"$__vm_d\"; exec {e}>\"$__vm_d/o.$1\"; }}; }}"
        ),
        // FILE TAG RC: the answer. The offset of fd {e} is the byte count when the
        // command wrote only through it; a file of the same length read whole
        // (no NUL bytes) is then sent by printf alone. Anything else (a reopened
        // /dev/stdout, NULs, a background writer) is measured with wc and sent by
        // head, or kept for the host to fetch.
        format!(
            "__vm_e() {{ local LC_ALL=C f=\"$__vm_d/o.$1\" p= n= x=; {{ read -r _ p </proc/$$/fdinfo/{e}; }} 2>/dev/null; exec {e}>&-; \
             if [ ! -s \"$f\" ]; then if [ -f \"$f\" ] || [ \"$p\" = 0 ]; then printf '%s %d 0 %s\\n%s end\\n' \"$2\" \"$3\" \"$1\" \"$2\"; \
             else printf '%s %d lost %s\\n%s end\\n' \"$2\" \"$3\" \"$1\" \"$2\"; fi; return; fi; \
             __vm_l=$f; IFS= read -r -N {probe_len} x <\"$f\"; \
             if [ \"${{#x}}\" = \"$p\" ] && [ \"$p\" -le {INLINE_MAX} ]; then printf '%s %d %d %s\\n%s%s end\\n' \"$2\" \"$3\" \"$p\" \"$1\" \"$x\" \"$2\"; return; fi; \
             n=$(wc -c <\"$f\"); n=${{n//[!0-9]/}}; \
             if [ \"$n\" -le {INLINE_MAX} ]; then printf '%s %d %d %s\\n' \"$2\" \"$3\" \"$n\" \"$1\"; head -c \"$n\" \"$f\"; printf '%s end\\n' \"$2\"; \
             elif [ -n \"$__vm_s\" ] && dd if=\"$f\" of=\"$__vm_s/.vmtest-out.$2\" bs=262144 2>/dev/null; then printf '%s %d %d %s shared\\n%s end\\n' \"$2\" \"$3\" \"$n\" \"$1\" \"$2\"; \
             else head -c \"$n\" \"$f\" >\"$f.h\"; : >\"$f\"; __vm_l=$f.h; printf '%s %d %d %s.h held\\n%s end\\n' \"$2\" \"$3\" \"$n\" \"$1\" \"$2\"; fi; }}",
            probe_len = INLINE_MAX + 1
        ),
        "__vm_c() { if [ -n \"$__vm_s\" ] && dd if=\"$__vm_d/o.$1\" of=\"$__vm_s/.vmtest-out.$2\" bs=262144 2>/dev/null; then printf '%s shared\\n%s end\\n' \"$2\" \"$2\"; else printf '%s held\\n%s end\\n' \"$2\" \"$2\"; fi; }".to_string(),
        format!(
            "__vm_g() {{ printf '%s segment\\n' \"$2\"; dd if=\"$__vm_d/o.$1\" bs={BLOCK} skip=\"$3\" count=\"$4\" 2>/dev/null; printf '%s end\\n' \"$2\"; }}"
        ),
        // ID TAG OP N LOOP TRY PAUSE CMD: tries CMD (each try bounded by TRY
        // seconds, its own output file) until `[ STATUS OP N ]` or LOOP seconds
        // pass; the pause grows from PAUSE to 1 s so a long wait does not keep the
        // guest's CPU busy. A kill between recording a try and opening its file
        // leaves no file: that try answers empty, not lost.
        format!(
            "__vm_w() {{ local rc=137 t=1; __vm_b \"$1.r\"; exec {e}>&-; \
             timeout -s KILL \"$6\" \"$BASH\" -c 'id=$1 op=$2 n=$3 end=$((SECONDS + $4)) d=$5 dir=$7 t=0; \
             while :; do t=$((t + 1)); printf \"%s 137\\n\" $t >\"$dir/o.$id.r\"; \
             ( set -euo pipefail; eval \"$6\" ) >\"$dir/o.$id.$t\" 30<&- </dev/null; rc=$?; printf \"%s %s\\n\" $t $rc >\"$dir/o.$id.r\"; \
             [ $rc $op $n ] && exit; [ $SECONDS -lt $end ] || exit; : >\"$dir/o.$id.$t\"; \
             read -r -t $d -u 30 2>/dev/null; [ $? -gt 128 ] || sleep $d 2>/dev/null || sleep 1; \
             case $t in 20) d=0.2 ;; 60) d=1 ;; esac; done' vmtest \"$1\" \"$3\" \"$4\" \"$5\" \"$7\" \"$8\" \"$__vm_d\" </dev/null; \
             read -r t rc <\"$__vm_d/o.$1.r\" || {{ t=1; rc=137; }}; \
             [ -e \"$__vm_d/o.$1.$t\" ] || : 2>/dev/null >\"$__vm_d/o.$1.$t\"; __vm_e \"$1.$t\" \"$2\" \"$rc\"; }}"
        ),
    ];
    let setup = format!(
        "__vm_d=; for __vm_t in ${{VMTEST_OUTPUT_DIR:-}} /dev/shm /run \"${{TMPDIR:-/tmp}}\" /tmp; do \
         if [ -d \"$__vm_t\" ] && [ -w \"$__vm_t\" ] && mkdir -m 700 \"$__vm_t/.vmtest-min.{nonce}\" 2>/dev/null; \
         then __vm_d=$__vm_t/.vmtest-min.{nonce}; break; fi; done; \
         __vm_l=; mkfifo -m 600 \"$__vm_d/pause\" 2>/dev/null && exec 30<>\"$__vm_d/pause\"; \
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
    let cleanup = if id.is_multiple_of(CLEANUP_EVERY) {
        "rm -f \"$__vm_d\"/o.* 2>/dev/null; "
    } else {
        ""
    };
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
                "{cleanup}__vm_b {id}; ( set -euo pipefail; {body} ) >&{e} {e}>&- 30<&- </dev/null; __vm_e {id} {tag} $?\n"
            )
        }
        Request::Once {
            command,
            limit: Some(limit),
        } => format!(
            "{cleanup}__vm_b {id}; timeout -s KILL {} \"$BASH\" -c 'set -euo pipefail; eval \"$1\"' vmtest {} >&{e} {e}>&- 30<&- </dev/null; __vm_e {id} {tag} $?\n",
            whole_seconds(limit),
            quote(command)
        ),
        Request::Until {
            command,
            stop,
            limit,
            waited,
        } => {
            let (op, status) = match stop {
                Status::Is(status) => ("-eq", status),
                Status::IsNot(status) => ("-ne", status),
            };
            let pause = if waited < Duration::from_secs(1) {
                "0.05"
            } else if waited < Duration::from_secs(10) {
                "0.2"
            } else {
                "1"
            };
            format!(
                "{cleanup}__vm_w {id} {tag} {op} {status} {} {} {pause} {}\n",
                whole_seconds(limit.min(UNTIL_SLICE)),
                // A second past the loop's end, so the last try finishes and
                // its output shows in a timeout error.
                whole_seconds(limit) + 1,
                quote(command)
            )
        }
    }
}

/// The line that copies output file `file` to the shared directory again.
pub(crate) fn copy_to_shared(file: &str, tag: &str) -> String {
    format!("__vm_c {file} {tag}\n")
}

/// The line that sends `count` blocks of output file `file` from block `skip` on.
pub(crate) fn segment(file: &str, tag: &str, skip: u64, count: u64) -> String {
    format!("__vm_g {file} {tag} {skip} {count}\n")
}

/// The line that makes the guest print `tag` once it has read it: everything the
/// guest sent before has then been sent.
pub(crate) fn probe(tag: &str) -> String {
    format!("printf '%s\\n' {tag}\n")
}

/// Whether `command` is words of characters the shell gives no meaning to, so
/// it runs the same without `eval`.
fn is_plain(command: &str) -> bool {
    /// Words that make the shell parse what follows differently: as the first
    /// word, a syntax error would end the guest's shell instead of failing.
    const RESERVED: &[&str] = &[
        "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until",
        "do", "done", "in", "function", "time", "coproc",
    ];
    let Some(first) = command.split_whitespace().next() else {
        return false;
    };
    command
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == ' ' || "_./:=@%+,-".contains(c))
        && !first.starts_with(|c: char| c.is_ascii_digit())
        && !first.contains('=')
        && !RESERVED.contains(&first)
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
            "__vm_b 3; ( set -euo pipefail; systemctl is-active sshd.service ) >&31 31>&- 30<&- </dev/null; __vm_e 3 t-3 $?\n"
        );
        let every_64th = request(
            Request::Once {
                command: "true",
                limit: None,
            },
            64,
            "t",
        );
        assert!(every_64th.starts_with("rm -f \"$__vm_d\"/o.* 2>/dev/null; __vm_b 64;"));
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
            "done",
            "if true",
            "time sleep 1",
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
                limit: Duration::from_secs(60),
                waited: Duration::from_secs(12),
            },
            6,
            "t",
        );
        assert_eq!(until, "__vm_w 6 t -ne 0 5 61 1 'test -e /x'\n");
    }
}
