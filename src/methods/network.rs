//! The guest's network as the host sees it: `forward_port` (a host port to a
//! guest port through QEMU's user-mode network) and `wait_for_open_unix_socket`.

use super::waits::poll;
use super::{Invocation, Method, MethodResult, TIMEOUT, on_machine};
use crate::command::{Status, quote};
use crate::script::signature::{OptionSpec, Signature, ValueKind};

/// `host_port=`: the host's side of `forward_port` (default 8080, as in the NixOS driver).
const HOST_PORT: OptionSpec = OptionSpec {
    name: "host_port",
    kind: ValueKind::Port,
};

/// `guest_port=`: the guest's side of `forward_port` (default 80).
const GUEST_PORT: OptionSpec = OptionSpec {
    name: "guest_port",
    kind: ValueKind::Port,
};

/// `is_datagram=True`: wait for a datagram socket, not a stream socket.
const IS_DATAGRAM: OptionSpec = OptionSpec {
    name: "is_datagram",
    kind: ValueKind::Bool,
};

/// A port option's value, or `default`; ports are whole numbers from 1 to 65535
/// (the checker and the interpreter ensure it).
fn port(call: &Invocation<'_>, spec: &OptionSpec, default: u16) -> u16 {
    call.number_option(spec).map_or(default, |port| port as u16)
}

/// `forward_port [HOST_PORT [GUEST_PORT]]`: connections to `127.0.0.1:HOST_PORT`
/// on the host reach `GUEST_PORT` in the guest. Only the host's loopback listens
/// (the NixOS driver listens on every address): a test's guest stays off the
/// network.
pub(super) fn forward_port(call: &mut Invocation<'_>) -> MethodResult {
    let host_port = port(call, &HOST_PORT, 8080);
    let guest_port = port(call, &GUEST_PORT, 80);
    call.backend.logger().log(
        call.machine,
        &format!("forwarding host port {host_port} (127.0.0.1) to guest port {guest_port}"),
    );
    call.vm()?.forward_port(host_port, guest_port)?;
    Ok(None)
}

/// `wait_for_open_unix_socket ADDR [is_datagram=] [timeout=]`: waits until
/// something listens on the guest's unix socket `ADDR` (a path), trying `nc -z -U` (or
/// `-uU`) in the guest, as the NixOS driver does.
pub(super) fn wait_for_open_unix_socket(call: &mut Invocation<'_>) -> MethodResult {
    let path = call.text(0).to_string();
    let (kind, flags) = match call.flag(&IS_DATAGRAM) {
        true => ("datagram", "-uU"),
        false => ("stream", "-U"),
    };
    let command = format!("nc -z {flags} {}", quote(&path));
    let what = format!("a UNIX-domain {kind} socket listening on `{path}`");
    call.nested(
        &format!("waiting for UNIX-domain {kind} on '{path}'"),
        |call| {
            poll(call, &command, &what, Status::SUCCESS, &|_, o| {
                Ok(o.status == 0)
            })
        },
    )?;
    Ok(None)
}

/// The methods this module runs, with their signatures.
pub(super) static TABLE: &[Method] = &[
    Method {
        signature: Signature {
            options: &[HOST_PORT, GUEST_PORT],
            positional_options: true,
            ..on_machine(
                "forward_port",
                "forward host port host_port=8080 (on 127.0.0.1) to guest port guest_port=80",
            )
        },
        run: forward_port,
    },
    Method {
        signature: Signature {
            options: &[IS_DATAGRAM, TIMEOUT],
            positional_options: true,
            ..on_machine(
                "wait_for_open_unix_socket",
                "wait until a process listens on a unix socket in the guest",
            )
        }
        .with_params(&["addr"]),
        run: wait_for_open_unix_socket,
    },
];
