def ready(last_try):
    if last_try:
        machine.succeed("journalctl -u foo")
    return "yes" in machine.succeed("echo yes")

retry(ready, timeout=30)
rc, out = machine.execute("exit 1")
text = machine.execute("echo hi")[1].strip()
