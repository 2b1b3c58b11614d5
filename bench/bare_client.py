#!/usr/bin/env python3
"""A bare socket client for the benchmark: no driver, just the guest's root shell.

It plays the driver's part of the start-script contract (listens on the monitor
and shell sockets, runs the start script with the QEMU arguments appended, waits
for the backdoor handshake), then times N round trips of several framings on the
same guest, so that vmtest-min's per-command cost can be put beside them:

  builtin    `echo $?` -- one bash builtin and one round trip: the floor
  subshell   `(true); echo $?` -- one subshell and one round trip
  vmtest     the line vmtest-min sends for `succeed "true"` (see src/shell.rs)
  reference  the NixOS driver's framing: `timeout 900 bash -c '...' | (base64 -w 0; echo)`
             then `echo ${PIPESTATUS[0]}`, two round trips

Usage: bare_client.py START_SCRIPT N [BULK_BYTES]
Prints one line per framing: name, ms per command. With BULK_BYTES, also the
throughput of bulk output through the vmtest framing and the reference framing.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time


def listen(path):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    return server


def read_until(conn, marker):
    data = bytearray()
    while True:
        chunk = conn.recv(1 << 20)
        if not chunk:
            raise RuntimeError("shell closed")
        data += chunk
        # Search only where the marker can newly appear: reading stays linear.
        if marker in data[-(len(chunk) + len(marker)):]:
            return bytes(data)


def boot(script, state):
    monitor = listen(os.path.join(state, "monitor"))
    shell = listen(os.path.join(state, "shell"))
    args = [
        script,
        "-monitor", "unix:" + os.path.join(state, "monitor"),
        "-chardev", "socket,id=shell,path=" + os.path.join(state, "shell"),
        "-device", "virtio-serial", "-device", "virtconsole,chardev=shell",
        "-device", "virtio-rng-pci", "-serial", "stdio", "-no-reboot", "-nographic",
    ]
    env = dict(os.environ, TMPDIR=state, USE_TMPDIR="1", SHARED_DIR=state)
    qemu = subprocess.Popen(args, cwd=state, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    mon, _ = monitor.accept()
    conn, _ = shell.accept()
    read_until(conn, b"Spawning backdoor root shell...")
    return qemu, mon, conn


def time_framing(conn, line, marker, n):
    start = time.perf_counter()
    for _ in range(n):
        conn.sendall(line)
        read_until(conn, marker)
    return (time.perf_counter() - start) / n * 1000


def vmtest_line(command, nonce):
    quoted = "'" + command.replace("'", "'\\''") + "'"
    f = '"${TMPDIR:-/tmp}"/.vmtest-min.1'
    return (f"(set -euo pipefail; eval {quoted}) >{f} </dev/null; __vmtest_rc=$?; "
            f"[ -s {f} ] && cat {f}; printf '\\n%s %d\\n' {nonce} \"$__vmtest_rc\"\n").encode()


def reference(conn, command):
    quoted = "'" + ("set -euo pipefail; " + command).replace("'", "'\\''") + "'"
    conn.sendall(f"timeout 900 bash -c {quoted} | (base64 -w 0; echo)\n".encode())
    data = read_until(conn, b"\n")
    conn.sendall(b"echo ${PIPESTATUS[0]}\n")
    read_until(conn, b"\n")
    return data


def main():
    script, n = os.path.abspath(sys.argv[1]), int(sys.argv[2])
    bulk = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    with tempfile.TemporaryDirectory(prefix="bare.") as state:
        qemu, mon, conn = boot(script, state)
        try:
            conn.sendall(b"echo ready\n")
            read_until(conn, b"ready\n")
            framings = [
                ("builtin", b"echo $?\n", b"\n"),
                ("subshell", b"(true); echo $?\n", b"\n"),
                ("vmtest", vmtest_line("true", "NONCE"), b"NONCE 0\n"),
            ]
            for name, line, marker in framings:
                print(f"{name} {time_framing(conn, line, marker, n):.3f}")
            start = time.perf_counter()
            for _ in range(n):
                reference(conn, "true")
            print(f"reference {(time.perf_counter() - start) / n * 1000:.3f}")
            if bulk:
                command = f"{{ yes 01234567890123456789012345678901234567890123456789012345678901234567890123 || :; }} | head -c {bulk}"
                start = time.perf_counter()
                conn.sendall(vmtest_line(command, "BULK"))
                data = read_until(conn, b"BULK 0\n")
                took = time.perf_counter() - start
                print(f"bulk-vmtest {len(data) / took / 1e6:.2f} MB/s")
                start = time.perf_counter()
                data = reference(conn, command)
                took = time.perf_counter() - start
                print(f"bulk-reference {len(data) * 3 / 4 / took / 1e6:.2f} MB/s")
        finally:
            mon.sendall(b"quit\n")
            qemu.wait(timeout=30)


if __name__ == "__main__":
    main()
