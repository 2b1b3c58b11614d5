//! Rebooting a guest: `reboot`, and `start`'s `allow_reboot=` that decides what a
//! reboot does to QEMU.
//!
//! As in the NixOS driver, `reboot` presses ctrl-alt-delete through the monitor
//! and the guest's init reboots. A machine started with `allow_reboot=True` runs
//! QEMU without `-no-reboot`: the guest resets and boots again in the same QEMU
//! (its forwarded ports stay), and the next step waits for its root shell to
//! announce itself again. A machine started without it (the default, so that a
//! guest rebooting by mistake ends at once) sees QEMU exit once the guest has shut
//! down; `reboot` then starts QEMU again on the same state directory, where the
//! NixOS driver would leave the machine off.

use super::{Invocation, Method, MethodResult, on_machine};
use crate::backend::OnReboot;
use crate::script::signature::{OptionSpec, ValueKind};

/// `allow_reboot=True`: a guest reboot resets QEMU instead of ending it.
pub(super) const ALLOW_REBOOT: OptionSpec = OptionSpec {
    name: "allow_reboot",
    kind: ValueKind::Bool,
};

/// What `allow_reboot=` of this call asks for.
pub(super) fn on_reboot(call: &Invocation<'_>) -> OnReboot {
    match call.flag(&ALLOW_REBOOT) {
        true => OnReboot::Reset,
        false => OnReboot::Exit,
    }
}

pub(super) fn reboot(call: &mut Invocation<'_>) -> MethodResult {
    call.nested("rebooting (ctrl-alt-delete)", |call| call.vm()?.reboot())?;
    Ok(None)
}

/// The methods this module runs, with their signatures.
pub(super) static TABLE: &[Method] = &[Method {
    signature: on_machine(
        "reboot",
        "press ctrl-alt-delete; the next step waits for the rebooted guest",
    ),
    run: reboot,
}];
