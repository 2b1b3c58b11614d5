"a docstring"
f"{machine.fail('true')}"
n = "%d" % 3.9
if machine.execute("true")[0] == 0:
    pass
