import json
conf = json.loads(machine.succeed("cat /etc/conf.json"))
conf["devices"].append({"id": "b"})
conf["devices"][0] = None
conf["n"] += 1
out = json.dumps(conf)
