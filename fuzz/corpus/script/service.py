import json

start_all()
machine.wait_for_unit("multi-user.target")

def check(m, port):
    m.wait_for_open_port(port)
    out = m.succeed(f"curl -s http://localhost:{port}/")
    assert "ok" in out, out

with subtest("the service answers"):
    for m in [server, client]:
        check(m, 80)
    rc, out = machine.execute("echo '{\"a\": [1, 2]}'")
    assert rc == 0
    assert json.loads(out)["a"][1] == 2
