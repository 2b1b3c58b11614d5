import re
out = machine.succeed("uname -a")
if re.search(r"error", out) is None:
    machine.succeed("true")
assert re.search("Linux", out) is not None
assert None != re.match("L", out)
