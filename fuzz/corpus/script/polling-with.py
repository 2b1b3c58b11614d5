@polling_condition(seconds_interval=0, description="service up")
def up():
    machine.succeed("systemctl is-active foo")

with up:
    machine.succeed("echo body")
up.wait(timeout=10)
