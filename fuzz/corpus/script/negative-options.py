import time
machine.succeed("true", timeout=-5)
time.sleep(-1)
x = -3 + -1.5
