//! Tests of the Python front-end: Python in, `.cmds` out (or the diagnostic, with
//! its position), so each case reads as the mapping it checks.

use super::*;

/// `src` converts to exactly `expected`.
#[track_caller]
fn converts(src: &str, expected: &str) {
    match convert(src) {
        Ok(cmds) => assert_eq!(cmds, expected, "\n--- got:\n{cmds}"),
        Err(e) => panic!("{}:{}: {e}", e.span.line + 1, e.span.column + 1),
    }
}

/// `src` is refused with `expected` (`line:col: message`), the span covering
/// `snippet`.
#[track_caller]
fn refused(src: &str, expected: &str, snippet: &str) {
    let error = convert(src).unwrap_err();
    assert_eq!(
        format!("{}:{}: {error}", error.span.line + 1, error.span.column + 1),
        expected
    );
    assert_eq!(&src[error.span.range()], snippet);
}

#[test]
fn calls_subtests_and_captures() {
    converts(
        "start_all()\nmachine.wait_for_unit(\"nginx\")\nout = machine.succeed(\"echo hi\", timeout=60)\n",
        "start_all()\nmachine.wait_for_unit(\"nginx\")\nout = machine.succeed(\"echo hi\", timeout=60)\n",
    );
    converts(
        "with subtest(\"a\"):\n    m.succeed(\n        \"x\"\n    )\n    m.fail('y')\n",
        "subtest \"a\" {\n    m.succeed(\"x\")\n    m.fail(\"y\")\n}\n",
    );
    converts(
        "rc, out = m.execute(\"true\")\n_, x = m.execute('a')\n",
        "rc, out = m.execute(\"true\")\n_, x = m.execute(\"a\")\n",
    );
}

#[test]
fn strings_keep_python_values() {
    converts(r#"m.succeed("a\?b")"#, "m.succeed(\"a\\\\?b\")\n");
    converts(
        r#"m.succeed('it\'s "q"')"#,
        "m.succeed(\"it's \\\"q\\\"\")\n",
    );
    converts(
        r#"m.succeed(r"\d+ ${x}")"#,
        "m.succeed(\"\\\\d+ \\${x}\")\n",
    );
    converts("m.succeed(\"a\" \"b\"\n  'c')", "m.succeed(\"abc\")\n");
    converts("m.succeed(\"a\" + x)", "m.succeed(\"a\" + x)\n");
    converts(
        "m.succeed(f\"ping -c {n + 1} {host}\")",
        "m.succeed(\"ping -c ${n + 1} ${host}\")\n",
    );
    converts(
        "m.succeed(\"\"\"\n  cat a\n  echo \"b\"\n\"\"\")",
        "m.succeed(\"\"\"\n  cat a\n  echo \"b\"\n\"\"\")\n",
    );
    converts(
        "x = \"echo '{}' {n}\".format(key, n=3)",
        "x = \"echo '${key}' ${3}\"\n",
    );
    converts(
        "x = \"-p %s -u %d%%\" % (port, user)",
        "x = \"-p ${port} -u ${int(user)}%\"\n",
    );
    converts(
        "x = \"%s/config.xml\" % confdir",
        "x = \"${confdir}/config.xml\"\n",
    );
}

#[test]
fn expressions_and_statements() {
    converts(
        "assert \"ok\" in m.succeed(\"cat /f\"), \"no ok\"\n",
        "assert \"ok\" in m.succeed(\"cat /f\"), \"no ok\"\n",
    );
    converts(
        "if a == 1 and not b:\n    x = -1\nelif c is None:\n    pass\nelse:\n    x = (a + b) * 2\n",
        "if a == 1 and not b {\n    x = -1\n} else if c == None {\n} else {\n    x = (a + b) * 2\n}\n",
    );
    converts(
        "for m in [a, b]:\n    m.succeed(\"x\")\nfor host in master, slave:\n    break\n",
        "for m in [a, b] {\n    m.succeed(\"x\")\n}\nfor host in [master, slave] {\n    break\n}\n",
    );
    converts(
        "def check(m, port: int) -> None:\n    \"\"\"Doc.\"\"\"\n    return m.succeed(f\"nc -z localhost {port}\").strip()\n",
        "def check(m, port) {\n    return m.succeed(\"nc -z localhost ${port}\").strip()\n}\n",
    );
    converts("x += 1\ny = z[-1][1:]\n", "x = x + 1\ny = z[-1][1:]\n");
    converts(
        "while True: m.sleep(1)\n",
        "while true {\n    m.sleep(1)\n}\n",
    );
    converts("raise Exception(\"bad\")", "assert false, \"bad\"\n");
    converts(
        "x = a - (b - c)\ny = (a - b) - c",
        "x = a - (b - c)\ny = a - b - c\n",
    );
}

#[test]
fn modules_map_to_builtins() {
    converts(
        "import json\nimport re, time\nj = json.loads(m.succeed(\"cat j\"))\ntime.sleep(2)\nt = time.monotonic()\n",
        "j = json(m.succeed(\"cat j\"))\nsleep(2)\nt = time()\n",
    );
    converts(
        "assert re.search(\"a.b\", out, flags=re.DOTALL)\nip = re.search(r\"inet6 (\\S+)/\", out).group(1)\n",
        "assert out =~ \"(?s)a.b\"\nip = match(\"inet6 (\\\\S+)/\", out)[1]\n",
    );
    converts(
        "assert re.match(\"x\", out)\nprint(out)\nm.log(f\"{out}\")\n",
        "assert out =~ \"^(?:x)\"\nlog(out)\nm.log(\"${out}\")\n",
    );
}

#[test]
fn compiled_regexes_quoting_and_procedure_arguments() {
    converts(
        "p = re.compile(r\"^a.$\", re.MULTILINE)\nassert p.search(out)\nv = p.match(out).group(0)\nm = p.search(out)\nv = m.group(1)\n",
        "p = \"(?m)^a.$\"\nassert out =~ p\nv = match(\"^(?:${p})\", out)[0]\nm = match(p, out)\nv = m[1]\n",
    );
    converts(
        "m.succeed(\"echo \" + shlex.quote(s))",
        "m.succeed(\"echo \" + (\"'\" + s.replace(\"'\", \"'\\\"'\\\"'\") + \"'\"))\n",
    );
    converts(
        "def f(m, scope, temporary=False, n=1):\n    return n\nf(a, \"x\", n=2)\nf(a, \"y\")\n",
        "def f(m, scope, temporary, n) {\n    return n\n}\nf(a, \"x\", false, 2)\nf(a, \"y\", false, 1)\n",
    );
    converts(
        "for client, desc in ((a, \"g\"), (b, \"i\")):\n    client.succeed(desc)\n",
        "for _client_desc in [[a, \"g\"], [b, \"i\"]] {\n    client = _client_desc[0]\n    desc = _client_desc[1]\n    client.succeed(desc)\n}\n",
    );
}

#[test]
fn conditional_and_comprehension_values_become_statements() {
    converts(
        "flag = \"temporary\" if temporary else \"-temporary\"\n",
        "if temporary {\n    flag = \"temporary\"\n} else {\n    flag = \"-temporary\"\n}\n",
    );
    converts(
        "jobs = [x.strip() for x in out.splitlines() if x]\n",
        "jobs = []\nfor x in out.splitlines() {\n    if x {\n        jobs = jobs + [x.strip()]\n    }\n}\n",
    );
    refused(
        "n = len([x for x in y])",
        "1:12: unexpected comprehension other than `x = [e for v in items if c]` (outside the Python that vmtest-min reads); write a `for` loop that appends: `x = x + [e]`",
        "for",
    );
    refused(
        "x = [a for a in b] + c",
        "1:5: unexpected conditional expression or comprehension inside a larger value (outside the Python that vmtest-min reads); assign it to a name on its own line first",
        "[a for a in b]",
    );
    refused(
        "f(a if b else c)",
        "1:5: unexpected conditional expression (`a if c else b`) other than a whole value assigned (outside the Python that vmtest-min reads); write an `if` statement that assigns a variable",
        "if",
    );
}

#[test]
fn durations_are_seconds() {
    converts(
        "import datetime as dt\nm.wait_for_unit(\"x\", timeout=dt.timedelta(seconds=30))\nm.sleep(datetime.timedelta(minutes=2, seconds=5))\n",
        "m.wait_for_unit(\"x\", timeout=30)\nm.sleep(2 * 60 + 5)\n",
    );
}

#[test]
fn named_groups_are_read_by_number() {
    converts(
        "p = re.compile(r\"(a)(?:b)(?P<path>[/a-z(]+)\")\nm = p.search(out)\nx = m.group('path')\ny = re.search(r\"(?P<v>\\d+)\", out).group(\"v\")\n",
        "p = \"(a)(?:b)(?P<path>[/a-z(]+)\"\nm = match(p, out)\nx = m[2]\ny = match(\"(?P<v>\\\\d+)\", out)[1]\n",
    );
    refused(
        "x = m.group('path')",
        "1:13: unexpected name of a group of a regex not written in this script (outside the Python that vmtest-min reads); number the group: `.group(1)`",
        "'path'",
    );
}

#[test]
fn machine_names_and_path_names() {
    converts(
        "c.succeed(f\"curl http://{server.name}:631/\")\nn = os.path.basename(file)\n",
        "c.succeed(\"curl http://${str(server)}:631/\")\nn = file.split(\"/\")[-1]\n",
    );
}

#[test]
fn retry_takes_a_procedure_or_a_lambda() {
    converts(
        "def ready(_):\n    out = m.succeed(\"ls\")\n    return \"x\" in out\nretry(ready, timeout=30)\n",
        "def ready(_) {\n    out = m.succeed(\"ls\")\n    return \"x\" in out\n}\nretry timeout=30 ready\n",
    );
    converts(
        "retry(lambda _: \"no entries\" in s.succeed(\"lpq -a\"))\n",
        "retry {\n    assert \"no entries\" in s.succeed(\"lpq -a\")\n}\n",
    );
}

#[test]
fn comments_and_blank_lines_are_kept() {
    converts(
        "# head\n\nstart_all()  # boot\n\n\n# before\nwith subtest(\"s\"):\n    # inside\n    m.succeed(\"x\")\n    # last\n# tail\n",
        "# head\n\nstart_all()  # boot\n\n# before\nsubtest \"s\" {\n    # inside\n    m.succeed(\"x\")\n    # last\n}\n# tail\n",
    );
    converts(
        "m.succeed(\n    # why\n    \"a\",\n    \"b\",\n)\n",
        "# why\nm.succeed(\"a\", \"b\")\n",
    );
}

#[test]
fn dict_literals_are_json_objects() {
    converts(
        "conf = {}\nentry = {\"id\": name, 'n': 1, \"devices\": [{\"deviceID\": d}],}\n",
        "conf = {}\nentry = {\"id\": name, \"n\": 1, \"devices\": [{\"deviceID\": d}]}\n",
    );
    converts(
        "x = {\n    \"a\": 1,\n    \"b\": f(\n        2\n    ),\n}\nlog(f\"{x['a']}\")\n",
        "x = {\"a\": 1, \"b\": f(2)}\nlog(\"${x['a']}\")\n",
    );
}

#[test]
fn outside_the_subset_one_diagnostic_at_the_construct() {
    refused(
        "start_all()\nimport subprocess\n",
        "2:8: unexpected `import subprocess` (outside the Python that vmtest-min reads); host-side Python cannot run here; the modules read are json, re, time, os, shlex, typing and datetime",
        "subprocess",
    );
    refused(
        "class A:\n    pass\n",
        "1:1: unexpected class definition (outside the Python that vmtest-min reads); write `def` procedures",
        "class",
    );
    refused(
        "f(lambda: 1)",
        "1:3: unexpected lambda (outside the Python that vmtest-min reads); write a `def` procedure",
        "lambda",
    );
    refused(
        "x = {\"a\", 1}",
        "1:5: unexpected set literal (outside the Python that vmtest-min reads); use a list: `[a, b]`",
        "{\"a\"",
    );
    refused(
        "x = {k: 1 for k in y}",
        "1:5: unexpected dict comprehension (outside the Python that vmtest-min reads); write a `for` loop",
        "{k: 1",
    );
    refused(
        "print(m.id)",
        "1:7: unexpected attribute `m.id` (outside the Python that vmtest-min reads); attributes are not values; call a method, e.g. `m.succeed(\"hostname\")`",
        "m.id",
    );
    refused(
        "machine.start\n",
        "1:1: `machine.start` without `()` does nothing in Python; did you mean `machine.start()`?",
        "machine.start",
    );
    refused(
        "x = json.load(y)",
        "1:5: unexpected `json.load` (outside the Python that vmtest-min reads); read JSON with `json(text)`, write it with `to_json(value)`",
        "json.load",
    );
}

#[test]
fn syntax_errors_point_at_python_positions() {
    refused(
        "with subtest(\"a\"):\nm.succeed(\"x\")\n",
        "2:1: expected an indented block, found name `m`",
        "m",
    );
    refused(
        "m.succeed(\"x\"",
        "1:14: expected `)`, found the end of the line",
        "",
    );
    refused("x = f\"{a b}\"", "1:10: expected `}`, found name `b`", "b");
}

#[test]
fn the_front_end_is_chosen_by_extension_then_content() {
    let py = "import json\nstart_all()\nwith subtest(\"x\"):\n    m.succeed(\"a\")\n";
    let cmds = "start_all\nsubtest \"x\" {\n    m.succeed \"a\"\n}\n";
    assert!(is_python(Path::new("t.py"), cmds));
    assert!(!is_python(Path::new("t.cmds"), py));
    assert!(is_python(Path::new("test-script"), py));
    assert!(!is_python(Path::new("test-script"), cmds));
    assert!(!is_python(Path::new("test-script"), "m.succeed(\"a\")\n"));
    let mixed = "start_all()\nm.succeed(\"a\") =~ \"b\"\nx = m.succeed 'c'\n";
    assert!(!is_python(Path::new("test-script"), mixed));
}

#[test]
fn items_change_in_place() {
    converts(
        "conf = json.loads(out)\nconf[\"devices\"].append({\"id\": name})\nconf[\"n\"] += 1\nl.extend([1, 2])\nconf[\"a\"][0] = l\n",
        "conf = json(out)\nconf[\"devices\"] = conf[\"devices\"] + [{\"id\": name}]\nconf[\"n\"] = conf[\"n\"] + 1\nl = l + [1, 2]\nconf[\"a\"][0] = l\n",
    );
    refused(
        "m.name = 1\n",
        "1:1: unexpected assignment to an attribute or to an item of anything but a variable (outside the Python that vmtest-min reads); assign to a name, or to `name[index]`",
        "m.name",
    );
}

#[test]
fn json_dumps_is_to_json() {
    converts(
        "import json\nx = json.dumps({\"a\": [1, None]})\n",
        "x = to_json({\"a\": [1, None]})\n",
    );
}

#[test]
fn polling_conditions_decorate_a_def() {
    converts(
        "@polling_condition\ndef foo_running():\n    \"check that foo is running\"\n    machine.succeed(\"pgrep -x foo\")\n\nwith foo_running:\n    machine.succeed(\"foo --work\")\n",
        "polling_condition foo_running description=\"check that foo is running\" {\n    machine.succeed(\"pgrep -x foo\")\n}\n\nwith foo_running {\n    machine.succeed(\"foo --work\")\n}\n",
    );
    converts(
        "@polling_condition(seconds_interval=10, description=\"up\")\ndef up() -> None:\n    return True\nup.wait()\nup.wait(timeout=30)\nwith up, other:\n    pass\n",
        "polling_condition up interval=10 description=\"up\" {\n    return true\n}\nup.wait\nup.wait timeout=30\nwith up, other {\n}\n",
    );
    // A docstring later in the body is no description; `seconds_interval` may be a timedelta.
    converts(
        "@polling_condition(seconds_interval=datetime.timedelta(minutes=1))\ndef up():\n    if x:\n        \"not a description\"\n        pass\n",
        "polling_condition up interval=(1 * 60) {\n    if x {\n    }\n}\n",
    );
    refused(
        "@functools.cache\ndef f():\n    pass\n",
        "1:2: unexpected decorator other than `@polling_condition` (outside the Python that vmtest-min reads); write a plain `def` procedure",
        "functools",
    );
    refused(
        "@polling_condition(interval=5)\ndef f():\n    pass\n",
        "1:20: unexpected `polling_condition` option `interval` (outside the Python that vmtest-min reads); give `seconds_interval` and `description`",
        "interval",
    );
    refused(
        "@polling_condition(5)\ndef f():\n    pass\n",
        "1:20: unexpected positional argument of `polling_condition` (outside the Python that vmtest-min reads); name it: `seconds_interval=…` or `description=…`",
        "5",
    );
    refused(
        "@polling_condition\ndef f(m):\n    pass\n",
        "2:7: unexpected polling condition with parameters (outside the Python that vmtest-min reads); read the values it needs from variables",
        "m",
    );
}

#[test]
fn a_regex_search_compared_with_none_is_the_search() {
    converts(
        "assert re.search(r\"v 2\", out) is not None\nif re.search(\"e\", out) is None:\n    log(\"no\")\nx = None != re.search(\"a\", out)\ny = re.search(\"a\", out) == None\n",
        "assert match(\"v 2\", out) != None\nif match(\"e\", out) == None {\n    log(\"no\")\n}\nx = None != match(\"a\", out)\ny = match(\"a\", out) == None\n",
    );
}

#[test]
fn execute_gives_a_pair_only_unpacked_or_indexed_by_one() {
    converts(
        "x = m.execute(\"a\")[1].strip()\nm.execute(\"b\")\nrc, out = m.execute(\"c\")\n",
        "x = m.execute(\"a\").strip()\nm.execute(\"b\")\nrc, out = m.execute(\"c\")\n",
    );
    refused(
        "if m.execute(\"a\")[0] == 0:\n    pass\n",
        "1:19: unexpected the exit status of `execute(…)` as a value (outside the Python that vmtest-min reads); write `rc, out = m.execute(…)` and use `rc`",
        "0",
    );
    refused(
        "out = m.execute(\"a\")\n",
        "1:7: unexpected `execute(…)` as a value (Python's is a `(status, output)` pair) (outside the Python that vmtest-min reads); write `rc, out = m.execute(…)`, or `m.execute(…)[1]` for the output",
        "m.execute(\"a\")",
    );
}

#[test]
fn a_bare_string_with_holes_keeps_its_calls() {
    converts(
        "\"a docstring\"\nf\"{m.fail('true')}\"\n",
        "_ = \"${m.fail('true')}\"\n",
    );
}

#[test]
fn compared_comparisons_keep_their_parentheses() {
    converts(
        "x = (a < b) == (b < a)\ny = a - b - c\n",
        "x = (a < b) == (b < a)\ny = a - b - c\n",
    );
}

#[test]
fn names_that_are_cmds_words_are_refused() {
    refused(
        "retry = 1\n",
        "1:1: unexpected the name `retry`, a word of the `.cmds` language (outside the Python that vmtest-min reads); rename it",
        "retry",
    );
    refused(
        "def f(true):\n    pass\n",
        "1:7: unexpected the name `true`, a word of the `.cmds` language (outside the Python that vmtest-min reads); rename it",
        "true",
    );
    refused(
        "for subtest in x:\n    pass\n",
        "1:5: unexpected the name `subtest`, a word of the `.cmds` language (outside the Python that vmtest-min reads); rename it",
        "subtest",
    );
}

#[test]
fn percent_d_prints_the_whole_part() {
    converts("y = \"%d\" % 3.9\n", "y = \"${int(3.9)}\"\n");
}

#[test]
fn negative_literals_are_literals() {
    converts("x = -5\ny = -1.5\nz = -(a)\n", "x = -5\ny = -1.5\nz = -a\n");
}

#[test]
fn loop_else_and_floor_division_are_refused_clearly() {
    refused(
        "while x:\n    pass\nelse:\n    pass\n",
        "3:1: unexpected `else` after a loop (outside the Python that vmtest-min reads); test a variable after the loop",
        "else",
    );
    refused(
        "x = a // b\n",
        "1:7: unexpected operator `//` (outside the Python that vmtest-min reads); for values that are not negative, `int(a / b)` (it rounds toward zero)",
        "//",
    );
}
