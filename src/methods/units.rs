//! systemd units: waiting for them, starting and stopping them, reading their state.
//!
//! Everything goes through the guest's `systemctl`, as in the NixOS driver; a wait
//! costs one round trip per try because the state is read and judged by one small
//! shell script in the guest.

use super::waits::poll;
use super::{Invocation, Method, MethodResult, STATE, STATE_OPTIONS, UNIT_OPTIONS, USER, command};
use crate::command::{Outcome, Status, quote as shell_quote};
use crate::error::{Error, one_line};
use crate::script::signature::Signature;
use crate::script::value::{Kind, Value};

/// Exit status of the wait script for a failed unit.
const FAILED: i32 = 3;
/// Exit status of the wait script for an inactive unit with no job pending.
const INACTIVE: i32 = 4;

/// `script` run as root, or with `user` as the NixOS driver runs `systemctl --user`:
/// in a login shell of the user, with the user's runtime directory (`script` uses
/// `$SYSTEMCTL`, which is `systemctl` or `systemctl --user`).
pub(super) fn as_user(script: &str, user: Option<&str>) -> String {
    match user {
        None => format!("SYSTEMCTL=systemctl\n{script}"),
        Some(user) => format!(
            "su -l {} --shell /bin/sh -c {}",
            shell_quote(user),
            shell_quote(&format!(
                "export XDG_RUNTIME_DIR=/run/user/$(id -u)\nSYSTEMCTL='systemctl --user'\n{script}"
            ))
        ),
    }
}

/// `systemctl QUERY`, or `systemctl --user QUERY` as `user` (through [`as_user`]).
fn systemctl_command(query: &str, user: Option<&str>) -> String {
    as_user(&format!("$SYSTEMCTL {query}"), user)
}

/// What `systemctl_command` runs, as a log line shows it.
fn systemctl_shown(query: &str, user: Option<&str>) -> String {
    match user {
        None => format!("systemctl {query}"),
        Some(user) => format!("systemctl --user {query} (as {user})"),
    }
}

/// The `user=` option of a call, if given.
fn user<'c>(call: &'c Invocation<'_>) -> Option<&'c str> {
    call.text_option(&USER)
}

/// One try of `wait_for_unit`: prints the unit's ActiveState and exits 0 (active),
/// [`FAILED`], [`INACTIVE`] (inactive, and still inactive once no job is pending)
/// or 1 (not yet). When `systemctl` gives no state, what it said (stderr too)
/// follows, so a timeout shows the reason (a user's missing bus, say).
fn wait_script(unit: &str) -> String {
    format!(
        r#"unit={unit}
state() {{ o=$($SYSTEMCTL --no-pager show "$unit" --property=ActiveState 2>&1) || true; s=$(printf '%s\n' "$o" | sed -n 's/^ActiveState=//p'); }}
state; echo "$s"
[ -n "$s" ] || printf '%s\n' "$o"
case "$s" in
  active) exit 0 ;;
  failed) exit {FAILED} ;;
  inactive)
    if $SYSTEMCTL list-jobs --full 2>&1 | grep "No jobs" >/dev/null && state && [ "$s" = inactive ]; then exit {INACTIVE}; fi
    exit 1 ;;
  *) exit 1 ;;
esac"#,
        unit = shell_quote(unit)
    )
}

pub(super) fn wait_for_unit(call: &mut Invocation<'_>) -> MethodResult {
    let unit = call.text(0).to_string();
    let machine = call.machine_name();
    let script = as_user(&wait_script(&unit), user(call));
    let whose = user(call).map_or(String::new(), |user| format!(" of user {user}"));
    call.nested(&format!("waiting for unit {unit}{whose}"), |call| {
        poll(
            call,
            &script,
            &format!("unit `{unit}` to be active"),
            // Status 1 means "not yet"; anything else settles the wait.
            Status::IsNot(1),
            &|_, outcome| {
                let state = outcome.output.trim();
                let fail = |message: String| {
                    Err(Error::Assertion {
                        machine: machine.clone(),
                        message,
                    })
                };
                match outcome.status {
                    0 => Ok(true),
                    FAILED => fail(format!("unit `{unit}` reached state `{state}`")),
                    INACTIVE => fail(format!(
                        "unit `{unit}` is inactive and there are no pending jobs"
                    )),
                    _ => Ok(false),
                }
            },
        )
    })?;
    Ok(None)
}

/// `systemctl QUERY`, whatever its status (as the NixOS driver's `systemctl`);
/// `rc, out = machine.systemctl(…)` gets both.
pub(super) fn systemctl(call: &mut Invocation<'_>) -> MethodResult {
    let command = systemctl_command(call.text(0), user(call));
    let shown = systemctl_shown(call.text(0), user(call));
    let timeout = call.timeout();
    let outcome = call.nested(&format!("running: {}", one_line(&shown)), |call| {
        call.vm()?.execute(&command, timeout, None)
    })?;
    call.status = Some(outcome.status);
    Ok(Some(outcome.output))
}

pub(super) fn start_job(call: &mut Invocation<'_>) -> MethodResult {
    job(call, "start", "starting")
}

pub(super) fn stop_job(call: &mut Invocation<'_>) -> MethodResult {
    job(call, "stop", "stopping")
}

/// `systemctl start|stop UNIT`, which must succeed (the NixOS driver ignores a
/// failure here, which hides broken units until a later, vaguer error).
fn job(call: &mut Invocation<'_>, verb: &str, doing: &str) -> MethodResult {
    let unit = call.text(0).to_string();
    let command = systemctl_command(&format!("{verb} {}", shell_quote(&unit)), user(call));
    let outcome = call.nested(&format!("{doing} unit {unit}"), |call| {
        checked(call, command)
    })?;
    Ok(Some(outcome.output))
}

/// Runs `command`, which must exit 0, within the call's timeout.
fn checked(call: &mut Invocation<'_>, command: String) -> Result<Outcome, Error> {
    let timeout = call.timeout();
    call.succeed_command(&command, timeout, None)
}

/// Reads one property of a unit (`systemctl show UNIT --property=P`).
fn property(call: &mut Invocation<'_>, unit: &str, name: &str) -> Result<String, Error> {
    let query = format!(
        "--no-pager show {} --property={}",
        shell_quote(unit),
        shell_quote(name)
    );
    let command = systemctl_command(&query, user(call));
    let outcome = checked(call, command)?;
    let line = outcome.output.lines().next().unwrap_or_default();
    match line.strip_prefix(&format!("{name}=")) {
        Some(value) => Ok(value.to_string()),
        None => Err(Error::Assertion {
            machine: call.machine_name(),
            message: format!(
                "`systemctl show {unit} --property={name}` gave `{}`, not `{name}=…`",
                one_line(line)
            ),
        }),
    }
}

/// `get_unit_info UNIT [user=]`: every property `systemctl show` prints, as a
/// dict of strings (`info["ActiveState"]`), as the NixOS driver returns it.
pub(super) fn get_unit_info(call: &mut Invocation<'_>) -> MethodResult {
    let unit = call.text(0).to_string();
    let command = systemctl_command(
        &format!("--no-pager show {}", shell_quote(&unit)),
        user(call),
    );
    let whose = user(call).map_or(String::new(), |user| format!(" of user {user}"));
    let outcome = call.nested(&format!("reading unit {unit}{whose}"), |call| {
        checked(call, command)
    })?;
    let dict = properties(&outcome.output)
        .into_iter()
        .map(|(key, value)| (key, Value::Str(value)))
        .collect();
    call.value = Some(Value::Dict(dict));
    Ok(Some(outcome.output))
}

/// The `KEY=VALUE` lines of `systemctl show`, in order; other lines are skipped.
fn properties(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(key, _)| !key.is_empty())
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

pub(super) fn get_unit_property(call: &mut Invocation<'_>) -> MethodResult {
    let unit = call.text(0).to_string();
    let name = call.text(1).to_string();
    property(call, &unit, &name).map(Some)
}

pub(super) fn require_unit_state(call: &mut Invocation<'_>) -> MethodResult {
    let unit = call.text(0).to_string();
    let wanted = call.text_option(&STATE).unwrap_or("active").to_string();
    let machine = call.machine_name();
    call.nested(
        &format!("checking that unit {unit} is in state {wanted}"),
        |call| {
            let state = property(call, &unit, "ActiveState")?;
            if state != wanted {
                return Err(Error::Assertion {
                    machine,
                    message: format!("unit `{unit}` is in state `{state}`, not `{wanted}`"),
                });
            }
            Ok(())
        },
    )?;
    Ok(None)
}

/// A systemd method's signature: a command's, taking the unit options, also
/// positionally.
const fn unit(
    name: &'static str,
    params: &'static [&'static str],
    summary: &'static str,
) -> Signature {
    Signature {
        options: UNIT_OPTIONS,
        positional_options: true,
        ..command(name, params, summary)
    }
}

/// The methods this module runs, with their signatures.
pub(super) static TABLE: &[Method] = &[
    Method {
        signature: Signature {
            returns_text: false,
            ..unit(
                "wait_for_unit",
                &["unit"],
                "wait until a systemd unit is active; fail at once if it failed",
            )
        },
        run: wait_for_unit,
    },
    Method {
        signature: Signature {
            returns_status: true,
            ..unit(
                "systemctl",
                &["arguments"],
                "run `systemctl ARGUMENTS`, whatever its status; returns its output",
            )
        },
        run: systemctl,
    },
    Method {
        signature: unit(
            "start_job",
            &["unit"],
            "`systemctl start UNIT`, which must succeed",
        ),
        run: start_job,
    },
    Method {
        signature: unit(
            "stop_job",
            &["unit"],
            "`systemctl stop UNIT`, which must succeed",
        ),
        run: stop_job,
    },
    Method {
        signature: Signature {
            returns: Some(Kind::Dict),
            ..unit(
                "get_unit_info",
                &["unit"],
                "every property `systemctl show` gives for a unit, as a dict of strings",
            )
        },
        run: get_unit_info,
    },
    Method {
        signature: Signature {
            returns_text: false,
            ..unit(
                "wait_for_job",
                &["unit"],
                "the 2021 driver's name of wait_for_unit",
            )
        },
        run: wait_for_unit,
    },
    Method {
        signature: unit(
            "get_unit_property",
            &["unit", "property"],
            "the value of one property of a unit",
        ),
        run: get_unit_property,
    },
    Method {
        signature: Signature {
            options: STATE_OPTIONS,
            positional_options: true,
            returns_text: false,
            ..command(
                "require_unit_state",
                &["unit"],
                "fail unless a unit is in a state (state=active)",
            )
        },
        run: require_unit_state,
    },
];
