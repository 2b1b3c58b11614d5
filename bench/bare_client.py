#!/usr/bin/env python3
"""A bare socket client for the benchmark: no driver, just the guest's root shell.

It plays the driver's part of the start-script contract (listens on the monitor
and shell sockets, runs the start script with the QEMU arguments appended, waits
for the backdoor handshake) and talks to the guest's bash directly, the way a
client without any framing would: whatever crosses the console is taken as it
comes. Its figures are the floor vmtest-min's are compared with (bench/run.sh).

  bare_client.py START_SCRIPT rtt N
      ms per round trip, N of each, on one booted guest:
        builtin       `echo $?`: one bash builtin and one round trip
        subshell      `(true); echo $?`: one subshell and one round trip
        subshell-bin  `(/bin/true); echo $?`: the same, running a program
        reference     the NixOS driver's framing, `timeout 900 bash -c '...' |
                      (base64 -w 0; echo)` then `echo ${PIPESTATUS[0]}` (two round
                      trips; min(N, 100) of them, it is slow)
  bare_client.py START_SCRIPT cat LINES RUNS
      writes LINES 77-byte lines (bench_lines.awk) to /tmp/bench.out in the guest,
      then times RUNS plain `cat /tmp/bench.out` over the console, 0.5 s apart (a
      busybox guest's kernel disables the console interrupt after ~200 MB without
      a pause). One line per run: `cat MB/s LOST_BYTES ok|lossy`, where lossy
      means the bytes that arrived are not exactly the file (size and SHA-256).
"""

import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def listen(path):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    return server


def read_until(conn, marker, quiet=None, nudge=None):
    """Reads until `marker`; returns everything up to and including it. With
    `quiet`, sends `nudge` whenever nothing arrived for that many seconds (a lost
    status line must not hang the benchmark)."""
    data = bytearray()
    conn.settimeout(quiet)
    while True:
        try:
            chunk = conn.recv(1 << 20)
        except socket.timeout:
            conn.sendall(nudge)
            continue
        if not chunk:
            raise RuntimeError("shell closed")
        data += chunk
        # Search only where the marker can newly appear: reading stays linear.
        at = data.find(marker, max(0, len(data) - len(chunk) - len(marker)))
        if at >= 0:
            conn.settimeout(None)
            return bytes(data[:at + len(marker)])


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
    shared = os.path.join(state, "xchg")
    os.mkdir(shared)
    env = dict(os.environ, TMPDIR=state, USE_TMPDIR="1", SHARED_DIR=shared)
    qemu = subprocess.Popen(args, cwd=state, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    mon, _ = monitor.accept()
    conn, _ = shell.accept()
    read_until(conn, b"Spawning backdoor root shell...")
    return qemu, mon, conn


def time_line(conn, line, marker, n):
    start = time.perf_counter()
    for _ in range(n):
        conn.sendall(line)
        read_until(conn, marker)
    return (time.perf_counter() - start) / n * 1000


def reference(conn, command):
    quoted = "'" + ("set -euo pipefail; " + command).replace("'", "'\\''") + "'"
    conn.sendall(f"timeout 900 bash -c {quoted} | (base64 -w 0; echo)\n".encode())
    read_until(conn, b"\n")
    conn.sendall(b"echo ${PIPESTATUS[0]}\n")
    read_until(conn, b"\n")


def rtt(conn, n):
    for name, line in [
        ("builtin", b"echo $?\n"),
        ("subshell", b"(true); echo $?\n"),
        ("subshell-bin", b"(/bin/true); echo $?\n"),
    ]:
        ms = time_line(conn, line, b"0\n", n)
        print(f"{name} {ms:.3f}", flush=True)
    m = min(n, 100)
    start = time.perf_counter()
    for _ in range(m):
        reference(conn, "true")
    print(f"reference {(time.perf_counter() - start) / m * 1000:.3f}", flush=True)


def expected_lines(lines):
    """The bytes bench_lines.awk writes, made on the host."""
    with open(os.path.join(HERE, "bench_lines.awk")) as f:
        assert "%06d" in f.read()  # keep the two in step
    pad = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:;!"
    return "".join(f"{i:06d} {pad}\n" for i in range(1, lines + 1)).encode()


def cat(conn, lines, runs):
    want = expected_lines(lines)
    want_sha = hashlib.sha256(want).digest()
    with open(os.path.join(HERE, "bench_lines.awk"), "rb") as f:
        program = f.read().decode()
    quoted = "'" + program.replace("'", "'\\''") + "'"
    conn.sendall(f"awk -v n={lines} {quoted} >/tmp/bench.out; echo made-$?\n".encode())
    read_until(conn, b"made-0\n")
    for run in range(runs):
        time.sleep(0.5)
        mark = f"bare-end-{run}".encode()
        start = time.perf_counter()
        conn.sendall(b"cat /tmp/bench.out; echo " + mark + b"\n")
        data = read_until(conn, b"\n" + mark + b"\n", quiet=5, nudge=b"echo; echo " + mark + b"\n")
        took = time.perf_counter() - start
        got = data[:-len(mark) - 1]
        whole = len(got) == len(want) and hashlib.sha256(got).digest() == want_sha
        print(f"cat {len(want) / took / 1e6:.2f} {len(want) - len(got)} {'ok' if whole else 'lossy'}",
              flush=True)


def main():
    script, mode = os.path.abspath(sys.argv[1]), sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="bare.") as state:
        qemu, mon, conn = boot(script, state)
        try:
            conn.sendall(b"echo ready\n")
            read_until(conn, b"ready\n")
            if mode == "rtt":
                rtt(conn, int(sys.argv[3]))
            elif mode == "cat":
                cat(conn, int(sys.argv[3]), int(sys.argv[4]))
            else:
                raise SystemExit(f"bare_client.py: unknown mode {mode}")
        finally:
            mon.sendall(b"quit\n")
            qemu.wait(timeout=30)


if __name__ == "__main__":
    main()
