//! The screen, the keyboard, the serial console's input and the guest's virtual
//! consoles: screenshots, OCR, keys, and tty text.
//!
//! A screenshot is QEMU's `screendump` (a PPM in the machine's state directory)
//! made into a PNG by our own encoder (`png.rs`) in the output directory. OCR runs
//! `tesseract` on prepared variants of the screen (`ocr.rs`); `wait_for_text`
//! stops at the first variant that matches, and does not read a screen again
//! that it has read before in the same wait: not an unchanged screen, nor one
//! it saw before a cursor blinked (a text console alternates between two
//! screens). Keys go through the monitor's
//! `sendkey`, characters as the NixOS driver maps them (`keys.rs`). The tty
//! methods read the guest's `/dev/vcsN` through its root shell.

use super::waits::poll;
use super::{Invocation, Method, MethodResult, TIMEOUT_ONLY, on_machine};
use crate::cancel::Deadline;
use crate::command::Status;
use crate::error::{Error, one_line};
use crate::image::Rgb;
use crate::keys::{sendkey_name, typed_key, untypable};
use crate::ocr::{self, TESSERACT_TIMEOUT, VARIANTS, Variant};
use crate::script::signature::{OptionSpec, Signature, ValueKind};
use crate::script::value::{Kind, Value};
use regex_lite::Regex;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `delay=seconds`: the pause after each key (the NixOS driver's 10 ms default
/// keeps a guest from dropping keys typed quickly).
const DELAY: OptionSpec = OptionSpec {
    name: "delay",
    kind: ValueKind::Seconds,
};
const DELAY_ONLY: &[OptionSpec] = &[DELAY];
/// The default of `delay=`, in seconds.
const DEFAULT_DELAY: f64 = 0.01;
/// The first pause between two tries of `wait_for_text`; it doubles up to
/// [`MAX_TEXT_PAUSE`].
const TEXT_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause between two tries of `wait_for_text`.
const MAX_TEXT_PAUSE: Duration = Duration::from_secs(1);

/// `screenshot NAME`: the screen as `NAME.png` in the output directory.
fn screenshot(call: &mut Invocation<'_>) -> MethodResult {
    let name = call.text(0).to_string();
    let path = screenshot_path(call.backend.output_dir(), &name)?;
    let file = path
        .file_name()
        .map(|file| file.to_string_lossy().into_owned())
        .unwrap_or_default();
    let machine = call.machine;
    let logger = call.backend.logger();
    logger.nest_with_image(
        machine,
        &format!("making screenshot {name}"),
        Some(&file),
        || {
            let screen = screen(call)?;
            let png = crate::png::encode_rgb(screen.width, screen.height, &screen.pixels);
            std::fs::write(&path, png)
                .map_err(|e| Error::io(format!("writing `{}`", path.display()), e))?;
            logger.log(
                machine,
                &format!(
                    "saved the {}x{} screen to {}",
                    screen.width,
                    screen.height,
                    path.display()
                ),
            );
            Ok(None)
        },
    )
}

/// Where `screenshot NAME` writes: `.png` is appended when NAME has no `.`; a
/// NAME with a `/` is a path (relative to the current directory), any other goes
/// into `output_dir`, as in the NixOS driver.
fn screenshot_path(output_dir: &Path, name: &str) -> Result<PathBuf, Error> {
    if name.is_empty() || name.ends_with('/') {
        return Err(Error::InvalidValue {
            message: format!("`{name}` is not a screenshot file name"),
        });
    }
    let file = match name.contains('.') {
        true => name.to_string(),
        false => format!("{name}.png"),
    };
    Ok(match name.contains('/') {
        true => PathBuf::from(file),
        false => output_dir.join(file),
    })
}

/// The machine's screen now.
fn screen(call: &mut Invocation<'_>) -> Result<Rgb, Error> {
    let ppm = call.vm()?.screendump()?;
    Rgb::from_ppm(&ppm).map_err(|message| Error::Machine {
        machine: call.machine_name(),
        message: format!("QEMU's screendump is unreadable: {message}"),
    })
}

/// Reads `screen` prepared as `variant`, tesseract taking at most `limit`.
fn read(
    call: &mut Invocation<'_>,
    screen: &Rgb,
    variant: Variant,
    limit: Duration,
) -> Result<String, Error> {
    let machine = call.machine_name();
    let work = call.vm()?.scratch_dir().to_path_buf();
    ocr::read(
        &machine,
        screen,
        variant,
        &work,
        limit,
        call.backend.cancel(),
    )
}

/// `get_screen_text`: the screen's text, read by OCR.
fn get_screen_text(call: &mut Invocation<'_>) -> MethodResult {
    call.nested("reading the screen (OCR)", |call| {
        let screen = screen(call)?;
        read(call, &screen, VARIANTS[0], TESSERACT_TIMEOUT).map(Some)
    })
}

/// `get_screen_text_variants`: the text of every variant, as a list (output
/// checks see them one after another).
fn get_screen_text_variants(call: &mut Invocation<'_>) -> MethodResult {
    call.nested("reading the screen (OCR, every variant)", |call| {
        let screen = screen(call)?;
        let mut texts = Vec::new();
        for variant in VARIANTS {
            texts.push(
                read(call, &screen, variant, TESSERACT_TIMEOUT)?
                    .trim_end()
                    .to_string(),
            );
        }
        let joined = texts.join("\n");
        call.value = Some(Value::List(texts.into_iter().map(Value::Str).collect()));
        Ok(Some(joined))
    })
}

/// A regex given at run time (the checker compiled literal ones already).
fn compile(pattern: &str) -> Result<Regex, Error> {
    Regex::new(pattern).map_err(|e| Error::invalid_regex(pattern, &e))
}

/// `wait_for_text REGEX`: OCR until a variant's text matches (and passes the
/// statement's check); returns that text.
fn wait_for_text(call: &mut Invocation<'_>) -> MethodResult {
    let pattern = call.text(0).to_string();
    let regex = compile(&pattern)?;
    let timeout = call.timeout();
    call.nested(
        &format!("waiting for `{pattern}` to appear on the screen"),
        |call| {
            let deadline = Deadline::after(timeout);
            let mut seen: Vec<u64> = Vec::new();
            let mut last: Vec<String> = Vec::new();
            let mut looks = 0;
            let mut pause = TEXT_PAUSE;
            loop {
                let ppm = call.vm()?.screendump()?;
                looks += 1;
                let hash = {
                    let mut hasher = DefaultHasher::new();
                    ppm.hash(&mut hasher);
                    hasher.finish()
                };
                if !seen.contains(&hash) {
                    seen.push(hash);
                    let screen = Rgb::from_ppm(&ppm).map_err(|message| Error::Machine {
                        machine: call.machine_name(),
                        message: format!("QEMU's screendump is unreadable: {message}"),
                    })?;
                    let mut texts = Vec::new();
                    for variant in VARIANTS {
                        // Tesseract gets the time left, so the wait ends on time.
                        let limit = TESSERACT_TIMEOUT.min(deadline.remaining());
                        let text = match read(call, &screen, variant, limit) {
                            Ok(text) => text,
                            Err(Error::Machine { .. }) if deadline.passed() => break,
                            Err(error) => return Err(error),
                        };
                        if regex.is_match(&text) && call.satisfies(&text)? {
                            return Ok(Some(text));
                        }
                        texts.push(format!("({} variant) {}", variant.name(), text.trim_end()));
                    }
                    if !texts.is_empty() {
                        last = texts;
                    }
                }
                if deadline.passed() {
                    break;
                }
                call.between_rounds()?;
                call.backend
                    .cancel()
                    .sleep(pause.min(deadline.remaining()))?;
                pause = (pause * 2).min(MAX_TEXT_PAUSE);
            }
            Err(Error::Timeout {
                machine: call.machine_name(),
                what: format!("`{pattern}` to appear on the screen"),
                seconds: timeout.as_secs_f64(),
                last: Some(format!(
                    "{looks} looks at the screen, {} different screens read by OCR; \
                     the last text read:\n{}",
                    seen.len(),
                    last.join("\n")
                )),
            })
        },
    )
}

/// The `delay=` option, or its default.
fn delay(call: &Invocation<'_>) -> Duration {
    call.seconds(&DELAY, DEFAULT_DELAY)
}

/// `send_key KEY`: one key, by character or by QEMU name.
fn send_key(call: &mut Invocation<'_>) -> MethodResult {
    let key = sendkey_name(call.text(0));
    if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::InvalidValue {
            message: format!(
                "`{}` is not a key: give one character or a QEMU key name such as `ctrl-alt-delete`",
                one_line(call.text(0))
            ),
        });
    }
    let pause = delay(call);
    call.backend
        .logger()
        .log(call.machine, &format!("sending key {key}"));
    call.vm()?.send_key(&key)?;
    call.backend.cancel().sleep(pause)?;
    Ok(None)
}

/// `send_chars TEXT`: types TEXT, one key per character; every character is
/// checked before the first key is sent.
fn send_chars(call: &mut Invocation<'_>) -> MethodResult {
    let text = call.text(0).to_string();
    let pause = delay(call);
    let keys: Option<Vec<String>> = text.chars().map(typed_key).collect();
    let Some(keys) = keys else {
        let c = untypable(&text).unwrap_or_default();
        return Err(Error::InvalidValue {
            message: format!(
                "send_chars: {c:?} in `{}` is not typed by any key of a US keyboard \
                 (nothing was sent; send_key sends a named key)",
                text.escape_debug()
            ),
        });
    };
    call.nested(&format!("sending keys {text:?}"), |call| {
        for key in keys {
            call.vm()?.send_key(&key)?;
            call.backend.cancel().sleep(pause)?;
        }
        Ok(None)
    })
}

/// `send_console TEXT`: writes TEXT to the guest's serial console input.
fn send_console(call: &mut Invocation<'_>) -> MethodResult {
    let text = call.text(0).to_string();
    call.backend.logger().log(
        call.machine,
        &format!("sending to the serial console: {text:?}"),
    );
    call.vm()?.send_console(text.as_bytes())?;
    Ok(None)
}

/// The tty number argument (1 to 63: `ValueKind::Tty` ensures it).
fn tty(call: &Invocation<'_>) -> u32 {
    call.number(0) as u32
}

/// The guest command that prints tty N's screen, folded at its width.
fn tty_text_command(tty: u32) -> String {
    format!("fold -w \"$(stty -F /dev/tty{tty} size | cut -d ' ' -f 2)\" /dev/vcs{tty}")
}

/// `get_tty_text N`: the text on virtual console N.
fn get_tty_text(call: &mut Invocation<'_>) -> MethodResult {
    let command = tty_text_command(tty(call));
    let (timeout, limit) = call.command_limits();
    let outcome = call.succeed_command(&command, timeout, limit)?;
    Ok(Some(outcome.output))
}

/// `dump_tty_contents N`: virtual console N's text into the guest's journal
/// (and so onto the serial console), 80 columns wide.
fn dump_tty_contents(call: &mut Invocation<'_>) -> MethodResult {
    let tty = tty(call);
    let command = format!("fold -w 80 /dev/vcs{tty} | systemd-cat");
    let (timeout, limit) = call.command_limits();
    call.nested(&format!("dumping the contents of tty {tty}"), |call| {
        call.succeed_command(&command, timeout, limit)?;
        Ok(None)
    })
}

/// `wait_until_tty_matches N REGEX`: polls tty N's text until REGEX is found.
fn wait_until_tty_matches(call: &mut Invocation<'_>) -> MethodResult {
    let tty = tty(call);
    let pattern = call.text(1).to_string();
    let regex = compile(&pattern)?;
    let command = tty_text_command(tty);
    let what = format!("`{pattern}` to appear on tty {tty}");
    let outcome = call.nested(
        &format!("waiting for `{pattern}` to appear on tty {tty}"),
        |call| {
            poll(call, &command, &what, Status::SUCCESS, &|call, outcome| {
                Ok(outcome.status == 0
                    && regex.is_match(&outcome.output)
                    && call.satisfies(&outcome.output)?)
            })
        },
    )?;
    Ok(Some(outcome.output))
}

/// `send_key` and `send_chars`: one text parameter and `delay=`.
const fn keys(
    name: &'static str,
    param: &'static [&'static str],
    summary: &'static str,
) -> Signature {
    Signature {
        options: DELAY_ONLY,
        positional_options: true,
        ..on_machine(name, summary)
    }
    .with_params(param)
}

/// The methods this module runs, with their signatures.
pub(super) static TABLE: &[Method] = &[
    Method {
        signature: on_machine(
            "screenshot",
            "save the screen as NAME.png in the output directory",
        )
        .with_params(&["name"]),
        run: screenshot,
    },
    Method {
        signature: Signature {
            returns_text: true,
            ..on_machine(
                "get_screen_text",
                "the text on the screen, read by OCR (tesseract)",
            )
        },
        run: get_screen_text,
    },
    Method {
        signature: Signature {
            returns_text: true,
            returns: Some(Kind::List),
            ..on_machine(
                "get_screen_text_variants",
                "the screen's text as read from each OCR variant, as a list",
            )
        },
        run: get_screen_text_variants,
    },
    Method {
        signature: Signature {
            param_kind: ValueKind::Regex,
            options: TIMEOUT_ONLY,
            positional_options: true,
            returns_text: true,
            ..on_machine(
                "wait_for_text",
                "wait until OCR finds a regex on the screen; returns the text read",
            )
        }
        .with_params(&["regex"]),
        run: wait_for_text,
    },
    Method {
        signature: keys(
            "send_key",
            &["key"],
            "press a key: a character or a QEMU key name",
        ),
        run: send_key,
    },
    Method {
        signature: Signature {
            param_kinds: &[ValueKind::Keys],
            ..keys(
                "send_chars",
                &["text"],
                "type text on the keyboard, key by key",
            )
        },
        run: send_chars,
    },
    Method {
        signature: on_machine(
            "send_console",
            "write text to the guest's serial console input",
        )
        .with_params(&["text"]),
        run: send_console,
    },
    Method {
        signature: Signature {
            param_kind: ValueKind::Tty,
            options: TIMEOUT_ONLY,
            returns_text: true,
            ..on_machine("get_tty_text", "the text on virtual console N (/dev/vcsN)")
        }
        .with_params(&["tty"]),
        run: get_tty_text,
    },
    Method {
        signature: Signature {
            param_kind: ValueKind::Tty,
            options: TIMEOUT_ONLY,
            ..on_machine(
                "dump_tty_contents",
                "write virtual console N's text to the guest's journal",
            )
        }
        .with_params(&["tty"]),
        run: dump_tty_contents,
    },
    Method {
        signature: Signature {
            param_kind: ValueKind::Regex,
            param_kinds: &[ValueKind::Tty],
            options: TIMEOUT_ONLY,
            positional_options: true,
            returns_text: true,
            ..on_machine(
                "wait_until_tty_matches",
                "wait until virtual console N's text matches a regex; returns the text",
            )
        }
        .with_params(&["tty", "regex"]),
        run: wait_until_tty_matches,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screenshot_names_become_png_files_in_the_output_directory() {
        let out = Path::new("/out");
        let path = |name| screenshot_path(out, name).map_err(|e| e.to_string());
        assert_eq!(path("login"), Ok(PathBuf::from("/out/login.png")));
        assert_eq!(path("login.png"), Ok(PathBuf::from("/out/login.png")));
        assert_eq!(path("a.b"), Ok(PathBuf::from("/out/a.b")));
        assert_eq!(path("v1.2/x"), Ok(PathBuf::from("v1.2/x")));
        assert_eq!(path("shots/x"), Ok(PathBuf::from("shots/x.png")));
        assert_eq!(
            path(""),
            Err("`` is not a screenshot file name".to_string())
        );
        assert_eq!(
            path("dir/"),
            Err("`dir/` is not a screenshot file name".to_string())
        );
    }
}
