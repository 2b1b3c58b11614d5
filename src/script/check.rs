//! The checker: validates a parsed script against the machines and methods of a
//! test, before any VM boots.
//!
//! It reports every problem it finds, not just the first, in source order: unknown
//! methods, machines and options (with the nearest name as a suggestion), calls on
//! the wrong receiver, argument counts and kinds, duplicate options, regexes that
//! regex-lite rejects, variables used before they are defined, and captures or checks
//! of methods that return no text. After a clean check the interpreter may rely on
//! all of this (for instance, that a `Text` parameter holds an `Arg::Text`).
//!
//! Variables are one flat, textual-order namespace: a subtest's body sees what was
//! defined before it, and what it defines stays visible afterwards. The [`Checker`]
//! keeps the set across [`Checker::check`] calls, so an interactive prompt can check
//! one statement at a time. A statement's own capture is defined after its texts are
//! checked (`x = m.succeed "${x}"` is an error), and even when the statement has
//! other errors, so one mistake does not cascade into "undefined variable" reports.
//!
//! Every lookup is a hash or tree lookup or a scan of one call's options, so checking
//! is linear in the script's size; suggestions are computed only for errors.

use crate::script::ast::legacy::{
    Arg, Call, CallStatement, CheckOp, Script, Statement, Text, TextPart,
};
use crate::script::diag::{DiagKind, Diagnostic};
use crate::script::lexer::{is_ident_continue, is_ident_start};
use crate::script::signature::{Receiver, Signature, ValueKind};
use crate::script::suggest::nearest;
use std::collections::{BTreeSet, HashMap};

/// What a script is checked against.
#[derive(Debug, Clone, Copy)]
pub struct CheckContext<'a> {
    /// The test's machine names, as configured (not Python-ized).
    pub machines: &'a [String],
    /// Every method a script may call.
    pub signatures: &'a [Signature],
}

/// Validates scripts statement by statement, remembering the variables defined so far.
#[derive(Debug, Clone)]
pub struct Checker<'a> {
    machines: &'a [String],
    signatures: &'a [Signature],
    methods: HashMap<&'static str, &'a Signature>,
    variables: BTreeSet<String>,
}

/// Where a value sits in a call, for messages.
#[derive(Clone, Copy)]
enum Slot<'x> {
    Param(&'x str),
    Option(&'x str),
}

impl<'a> Checker<'a> {
    /// A checker for `ctx`, with no variables defined yet.
    pub fn new(ctx: &CheckContext<'a>) -> Checker<'a> {
        let mut methods = HashMap::with_capacity(ctx.signatures.len());
        for signature in ctx.signatures {
            methods.entry(signature.name).or_insert(signature);
        }
        Checker {
            machines: ctx.machines,
            signatures: ctx.signatures,
            methods,
            variables: BTreeSet::new(),
        }
    }

    /// Checks `script` and returns every problem found, in source order. Variables
    /// the script defines stay defined for later calls.
    pub fn check(&mut self, script: &Script) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for statement in &script.statements {
            self.statement(statement, &mut out);
        }
        out.sort_by_key(|diagnostic| diagnostic.span.offset);
        out
    }

    /// Marks `name` as defined, as if a statement had assigned it.
    pub fn define(&mut self, name: &str) {
        self.variables.insert(name.to_string());
    }

    /// Whether a variable called `name` has been defined.
    pub fn is_defined(&self, name: &str) -> bool {
        self.variables.contains(name)
    }

    fn statement(&mut self, statement: &Statement, out: &mut Vec<Diagnostic>) {
        match statement {
            Statement::Call(call) => self.call_statement(call, out),
            Statement::Assign { name, value, .. } => {
                self.text(value, out);
                self.define(&name.name);
            }
            Statement::Subtest { name, body, .. } => {
                self.text(name, out);
                for statement in body {
                    self.statement(statement, out);
                }
            }
        }
    }

    fn call_statement(&mut self, statement: &CallStatement, out: &mut Vec<Diagnostic>) {
        let call = &statement.call;
        let method = &call.method.name;
        let receiver = match call.target {
            Some(_) => Receiver::Machine,
            None => Receiver::Global,
        };
        let exact = self
            .signatures
            .iter()
            .find(|s| s.name == method.as_str() && s.receiver == receiver);
        match exact.or_else(|| self.methods.get(method.as_str()).copied()) {
            None => {
                let names = self.signatures.iter().map(|signature| signature.name);
                out.push(Diagnostic::new(
                    call.method.span,
                    DiagKind::UnknownMethod {
                        method: method.clone(),
                        suggestion: nearest(method, names).map(str::to_string),
                    },
                ));
                if let Some(target) = &call.target {
                    self.machine(target.name.as_str(), target.span, out);
                }
            }
            Some(signature) => {
                self.receiver(call, signature, out);
                self.arguments(call, signature, out);
                self.options(call, signature, out);
                if !signature.returns_text {
                    if let Some(capture) = &statement.capture {
                        out.push(Diagnostic::new(
                            capture.span,
                            DiagKind::CaptureWithoutText {
                                method: method.clone(),
                            },
                        ));
                    }
                    if let Some(check) = &statement.check {
                        out.push(Diagnostic::new(
                            check.span,
                            DiagKind::CheckWithoutText {
                                method: method.clone(),
                            },
                        ));
                    }
                }
            }
        }
        for arg in &call.args {
            if let Arg::Text(text) = arg {
                self.text(text, out);
            }
        }
        for option in &call.options {
            if let Arg::Text(text) = &option.value {
                self.text(text, out);
            }
        }
        if let Some(check) = &statement.check {
            self.text(&check.operand, out);
            if matches!(check.op, CheckOp::Matches | CheckOp::NotMatches) {
                self.regex(&check.operand, out);
            }
        }
        if let Some(capture) = &statement.capture {
            self.define(&capture.name);
        }
    }

    /// Global commands take no machine; machine methods need a known one.
    fn receiver(&self, call: &Call, signature: &Signature, out: &mut Vec<Diagnostic>) {
        let method = &call.method.name;
        match (signature.receiver, &call.target) {
            (Receiver::Global, None) => {}
            (Receiver::Global, Some(target)) => out.push(Diagnostic::new(
                target.span,
                DiagKind::TakesNoMachine {
                    method: method.clone(),
                    machine: target.name.clone(),
                },
            )),
            (Receiver::Machine, None) => out.push(Diagnostic::new(
                call.method.span,
                DiagKind::NeedsMachine {
                    method: method.clone(),
                    example: self.machines.first().map(|name| {
                        let valid =
                            name.starts_with(is_ident_start) && name.chars().all(is_ident_continue);
                        if valid {
                            name.clone()
                        } else {
                            python_name(name)
                        }
                    }),
                },
            )),
            (Receiver::Machine, Some(target)) => self.machine(&target.name, target.span, out),
        }
    }

    fn machine(&self, written: &str, span: crate::script::span::Span, out: &mut Vec<Diagnostic>) {
        if resolve_machine(written, self.machines).is_some() {
            return;
        }
        let single = (self.machines.len() == 1).then_some("machine");
        let candidates = self.machines.iter().map(String::as_str).chain(single);
        out.push(Diagnostic::new(
            span,
            DiagKind::UnknownMachine {
                machine: written.to_string(),
                suggestion: nearest(written, candidates).map(str::to_string),
            },
        ));
    }

    /// The number of positional arguments, and the kind of each.
    fn arguments(&self, call: &Call, signature: &Signature, out: &mut Vec<Diagnostic>) {
        let args = &call.args;
        let (min, max) = (signature.min_args(), signature.max_args());
        if args.len() < min || max.is_some_and(|max| args.len() > max) {
            let span = match (max, args.last()) {
                (Some(max), Some(last)) if args.len() > max => args[max].span().to(last.span()),
                _ => call.span,
            };
            out.push(Diagnostic::new(
                span,
                DiagKind::WrongArgumentCount {
                    method: call.method.name.clone(),
                    min,
                    max,
                    found: args.len(),
                },
            ));
        }
        let checked = max.map_or(args.len(), |max| max.min(args.len()));
        for (i, arg) in args[..checked].iter().enumerate() {
            let param = signature
                .params
                .get(i)
                .or(signature.params.last())
                .copied()
                .unwrap_or("argument");
            self.value(
                &call.method.name,
                Slot::Param(param),
                arg,
                signature.param_kind,
                out,
            );
        }
    }

    /// Known, given once, and of the right kind.
    fn options(&self, call: &Call, signature: &Signature, out: &mut Vec<Diagnostic>) {
        let method = &call.method.name;
        for (i, option) in call.options.iter().enumerate() {
            let name = &option.name.name;
            if call.options[..i]
                .iter()
                .any(|earlier| earlier.name.name == *name)
            {
                out.push(Diagnostic::new(
                    option.name.span,
                    DiagKind::DuplicateOption {
                        option: name.clone(),
                    },
                ));
                continue;
            }
            match signature.option(name) {
                Some(spec) => self.value(method, Slot::Option(name), &option.value, spec.kind, out),
                None => {
                    let names = signature.options.iter().map(|spec| spec.name);
                    out.push(Diagnostic::new(
                        option.name.span,
                        DiagKind::UnknownOption {
                            method: method.clone(),
                            option: name.clone(),
                            suggestion: nearest(name, names).map(str::to_string),
                        },
                    ));
                }
            }
        }
    }

    /// Text and Regex take strings (a literal regex must compile); Seconds takes a
    /// non-negative number.
    fn value(
        &self,
        method: &str,
        slot: Slot,
        arg: &Arg,
        kind: ValueKind,
        out: &mut Vec<Diagnostic>,
    ) {
        let found = match (kind, arg) {
            (ValueKind::Text, Arg::Text(_)) => return,
            (ValueKind::Regex, Arg::Text(text)) => return self.regex(text, out),
            (ValueKind::Seconds, Arg::Number(number))
                if number.value >= 0.0 && number.value.is_finite() =>
            {
                return;
            }
            (ValueKind::Port, Arg::Number(number))
                if number.value.fract() == 0.0 && (1.0..=65535.0).contains(&number.value) =>
            {
                return;
            }
            (ValueKind::Seconds | ValueKind::Port, Arg::Number(number)) => {
                format!("`{}`", number.value)
            }
            (ValueKind::Text | ValueKind::Regex, Arg::Number(_)) => "a number".to_string(),
            (ValueKind::Seconds | ValueKind::Port, Arg::Text(_)) => "a string".to_string(),
        };
        let method = method.to_string();
        let kind = match slot {
            Slot::Param(param) => DiagKind::WrongArgumentKind {
                method,
                param: param.to_string(),
                expected: kind,
                found,
            },
            Slot::Option(option) => DiagKind::WrongOptionKind {
                method,
                option: option.to_string(),
                expected: kind,
                found,
            },
        };
        out.push(Diagnostic::new(arg.span(), kind));
    }

    /// A regex without `${…}` must compile; one with variables is checked when it runs.
    fn regex(&self, text: &Text, out: &mut Vec<Diagnostic>) {
        let Some(regex) = text.as_literal() else {
            return;
        };
        if let Err(e) = regex_lite::Regex::new(&regex) {
            out.push(Diagnostic::new(
                text.span,
                DiagKind::InvalidRegex {
                    regex,
                    message: e.to_string(),
                },
            ));
        }
    }

    /// Every `${name}` must name a variable defined before.
    fn text(&self, text: &Text, out: &mut Vec<Diagnostic>) {
        for part in &text.parts {
            let TextPart::Var(ident) = part else {
                continue;
            };
            if self.variables.contains(&ident.name) {
                continue;
            }
            let defined = self.variables.iter().map(String::as_str);
            out.push(Diagnostic::new(
                ident.span,
                DiagKind::UndefinedVariable {
                    name: ident.name.clone(),
                    suggestion: nearest(&ident.name, defined).map(str::to_string),
                },
            ));
        }
    }
}

/// The machine a script means by `written`: the machine of that name, else the one
/// whose [`python_name`] it is, else the only machine when `written` is `machine`.
pub fn resolve_machine<'a>(written: &str, machines: &'a [String]) -> Option<&'a str> {
    let found = machines
        .iter()
        .find(|name| *name == written)
        .or_else(|| machines.iter().find(|name| python_name_is(name, written)))
        .or_else(|| (written == "machine" && machines.len() == 1).then(|| &machines[0]));
    found.map(String::as_str)
}

/// A machine name as the NixOS driver exposes it to Python:
/// `re.sub(r"^[^A-Za-z_]|[^A-Za-z0-9_]", "_", name)`.
pub fn python_name(name: &str) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| python_char(i, c))
        .collect()
}

fn python_char(i: usize, c: char) -> char {
    let keep = c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit());
    if keep { c } else { '_' }
}

/// `python_name(name) == written`, without allocating.
fn python_name_is(name: &str, written: &str) -> bool {
    let mut written = written.chars();
    name.chars()
        .enumerate()
        .all(|(i, c)| written.next() == Some(python_char(i, c)))
        && written.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::parser::parse;

    fn machines(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    /// Parses and checks `src` against `machines`; returns all rendered diagnostics.
    fn run_with(machine_names: &[&str], src: &str) -> String {
        let machines = machines(machine_names);
        let signatures = crate::methods::signatures();
        let ctx = CheckContext {
            machines: &machines,
            signatures: &signatures,
        };
        let script = match parse(src) {
            Ok(script) => script,
            Err(e) => panic!("parsing failed:\n{}", e.render("test.cmds", src, false)),
        };
        Checker::new(&ctx)
            .check(&script)
            .iter()
            .map(|d| d.render("test.cmds", src, false))
            .collect::<Vec<_>>()
            .join("")
    }

    /// Checks `src` with machines `server` and `client`; compares every diagnostic.
    #[track_caller]
    fn check(src: &str, expected: &str) {
        assert_eq!(run_with(&["server", "client"], src), expected);
    }

    #[track_caller]
    fn ok(src: &str) {
        check(src, "");
    }

    #[test]
    fn valid_scripts() {
        ok("start_all");
        ok("start_all()");
        ok("join_all\nserial_stdout_on\nserial_stdout_off");
        ok("log \"hi\"");
        ok("sleep 5\nsleep 0.5\nsleep 0");
        ok("server.start\nserver.shutdown\nserver.crash\nserver.wait_for_shutdown");
        ok("server.succeed \"a\"\nserver.succeed \"a\" \"b\" 'c'");
        ok("server.succeed(\"a\", \"b\", timeout=5)");
        ok("server.fail \"false\" timeout=1");
        ok("x = server.execute \"a\"");
        ok("server.wait_until_succeeds \"test -e /x\" timeout=60");
        ok("server.wait_until_fails \"x\" == \"y\"");
        ok("server.wait_for_console_text \"login: +$\" timeout=30");
        ok("server.send_monitor_command \"info status\" contains \"running\"");
        ok("server.succeed \"echo hello\" =~ \"hel+o\"");
        ok("server.succeed \"x\" !~ \"(a|b)*\"");
        ok("server.succeed \"x\" == \"(\"");
        ok("server.succeed \"$HOME\"");
    }

    #[test]
    fn the_example_checks() {
        let src = crate::script::EXAMPLE;
        assert_eq!(run_with(&["machine", "client"], src), "");
    }

    #[test]
    fn variables() {
        ok("x = server.succeed \"a\"\nserver.succeed \"${x}\"");
        ok("x = \"a\"\ny = \"${x}\"\nserver.succeed \"${y}\" timeout=1 == \"${x}\"");
        ok("subtest \"s\" {\n  x = \"a\"\n}\nlog \"${x}\"");
        ok("x = \"a\"\nsubtest \"${x}\" {\n  log \"${x}\"\n}");
        ok("x = server.succeed \"a\"\nserver.succeed <<EOF\n${x}\nEOF");
        ok("server.succeed <<'EOF'\n${x}\nEOF");
        ok("server.succeed '${x}'");
        check(
            "log \"${name}\"",
            "\
error: undefined variable `name`
 --> test.cmds:1:8
  |
1 | log \"${name}\"
  |        ^^^^ define it earlier with `name = …`, or write `$name` to leave it to the shell
",
        );
        check(
            "name = \"a\"\nlog \"${nmae}\"",
            "\
error: undefined variable `nmae`
 --> test.cmds:2:8
  |
2 | log \"${nmae}\"
  |        ^^^^ did you mean `name`?
",
        );
        check(
            "x = server.succeed \"${x}\"",
            "\
error: undefined variable `x`
 --> test.cmds:1:23
  |
1 | x = server.succeed \"${x}\"
  |                       ^ define it earlier with `x = …`, or write `$x` to leave it to the shell
",
        );
        check(
            "log \"${later}\"\nlater = \"x\"",
            "\
error: undefined variable `later`
 --> test.cmds:1:8
  |
1 | log \"${later}\"
  |        ^^^^^ define it earlier with `later = …`, or write `$later` to leave it to the shell
",
        );
        check(
            "server.succeed <<EOF\n  echo ${HOME}\nEOF\n",
            "\
error: undefined variable `HOME`
 --> test.cmds:2:10
  |
2 |   echo ${HOME}
  |          ^^^^ define it earlier with `HOME = …`, or write `$HOME` to leave it to the shell
",
        );
        check(
            "x = server.foo \"${y}\"\nlog \"${x}\"",
            "\
error: unknown method `foo`
 --> test.cmds:1:12
  |
1 | x = server.foo \"${y}\"
  |            ^^^
error: undefined variable `y`
 --> test.cmds:1:19
  |
1 | x = server.foo \"${y}\"
  |                   ^ define it earlier with `y = …`, or write `$y` to leave it to the shell
",
        );
    }

    #[test]
    fn unknown_methods() {
        assert_eq!(
            run_with(&["machine"], "machine.succed \"echo hi\""),
            "\
error: unknown method `succed`
 --> test.cmds:1:9
  |
1 | machine.succed \"echo hi\"
  |         ^^^^^^ did you mean `succeed`?
"
        );
        check(
            "strat_all",
            "\
error: unknown method `strat_all`
 --> test.cmds:1:1
  |
1 | strat_all
  | ^^^^^^^^^ did you mean `start_all`?
",
        );
        check(
            "server.screenshot \"x\"",
            "\
error: unknown method `screenshot`
 --> test.cmds:1:8
  |
1 | server.screenshot \"x\"
  |        ^^^^^^^^^^
",
        );
        check(
            "srver.reboot",
            "\
error: unknown machine `srver`
 --> test.cmds:1:1
  |
1 | srver.reboot
  | ^^^^^ did you mean `server`?
error: unknown method `reboot`
 --> test.cmds:1:7
  |
1 | srver.reboot
  |       ^^^^^^
",
        );
    }

    #[test]
    fn machines_resolve() {
        assert_eq!(
            run_with(&["my-vm"], "my-vm.start\nmy_vm.start\nmachine.start"),
            ""
        );
        assert_eq!(run_with(&["1st"], "_st.start\nmachine.start"), "");
        assert_eq!(run_with(&["a", "b"], "a.start\nb.start"), "");
        assert_eq!(
            run_with(&["a", "b"], "machine.start"),
            "\
error: unknown machine `machine`
 --> test.cmds:1:1
  |
1 | machine.start
  | ^^^^^^^
"
        );
        assert_eq!(
            run_with(&["server"], "machin.start"),
            "\
error: unknown machine `machin`
 --> test.cmds:1:1
  |
1 | machin.start
  | ^^^^^^ did you mean `machine`?
"
        );
        check(
            "clinet.start",
            "\
error: unknown machine `clinet`
 --> test.cmds:1:1
  |
1 | clinet.start
  | ^^^^^^ did you mean `client`?
",
        );
    }

    #[test]
    fn resolve_machine_rules() {
        let names = machines(&["server", "my-vm", "2nd", "my_vm"]);
        assert_eq!(resolve_machine("server", &names), Some("server"));
        assert_eq!(resolve_machine("my-vm", &names), Some("my-vm"));
        assert_eq!(resolve_machine("my_vm", &names), Some("my_vm"));
        assert_eq!(resolve_machine("_nd", &names), Some("2nd"));
        assert_eq!(resolve_machine("2nd", &names), Some("2nd"));
        assert_eq!(resolve_machine("machine", &names), None);
        assert_eq!(resolve_machine("serve", &names), None);
        assert_eq!(resolve_machine("server_", &names), None);
        let one = machines(&["web.example"]);
        assert_eq!(resolve_machine("web_example", &one), Some("web.example"));
        assert_eq!(resolve_machine("machine", &one), Some("web.example"));
        assert_eq!(resolve_machine("machine", &[]), None);
        let exact = machines(&["machine", "other"]);
        assert_eq!(resolve_machine("machine", &exact), Some("machine"));
    }

    #[test]
    fn python_names() {
        assert_eq!(python_name("server"), "server");
        assert_eq!(python_name("my-vm"), "my_vm");
        assert_eq!(python_name("1st"), "_st");
        assert_eq!(python_name("a1"), "a1");
        assert_eq!(python_name("-x"), "_x");
        assert_eq!(python_name("é"), "_");
        assert_eq!(python_name(""), "");
        assert!(python_name_is("1st", "_st"));
        assert!(!python_name_is("1st", "_s"));
        assert!(!python_name_is("1st", "_stx"));
    }

    #[test]
    fn ports_and_sleep_on_both_receivers() {
        ok("server.wait_for_open_port 80");
        ok("server.wait_for_open_port(80, addr=\"client\", timeout=5)");
        ok("sleep 1");
        ok("server.sleep(1)");
        check(
            "server.wait_for_open_port 0",
            "\
error: argument `port` of `wait_for_open_port` must be a port number from 1 to 65535, found `0`
 --> test.cmds:1:27
  |
1 | server.wait_for_open_port 0
  |                           ^
",
        );
        check(
            "server.wait_for_open_port \"80\"",
            "\
error: argument `port` of `wait_for_open_port` must be a port number from 1 to 65535, found a string
 --> test.cmds:1:27
  |
1 | server.wait_for_open_port \"80\"
  |                           ^^^^ write the number without quotes
",
        );
    }

    #[test]
    fn receivers() {
        check(
            "succeed \"x\"",
            "\
error: `succeed` must be called on a machine
 --> test.cmds:1:1
  |
1 | succeed \"x\"
  | ^^^^^^^ write `server.succeed`
",
        );
        assert_eq!(
            run_with(&[], "start"),
            "\
error: `start` must be called on a machine
 --> test.cmds:1:1
  |
1 | start
  | ^^^^^
"
        );
        assert_eq!(
            run_with(&["web-1", "2x"], "start"),
            "\
error: `start` must be called on a machine
 --> test.cmds:1:1
  |
1 | start
  | ^^^^^ write `web-1.start`
"
        );
        assert_eq!(
            run_with(&["2x"], "start"),
            "\
error: `start` must be called on a machine
 --> test.cmds:1:1
  |
1 | start
  | ^^^^^ write `_x.start`
"
        );
        check(
            "server.start_all",
            "\
error: `start_all` is not called on a machine
 --> test.cmds:1:1
  |
1 | server.start_all
  | ^^^^^^ write `start_all` without `server.`
",
        );
    }

    #[test]
    fn argument_counts() {
        check(
            "server.succeed",
            "\
error: `succeed` takes at least 1 argument, found 0
 --> test.cmds:1:1
  |
1 | server.succeed
  | ^^^^^^^^^^^^^^
",
        );
        check(
            "server.succeed()",
            "\
error: `succeed` takes at least 1 argument, found 0
 --> test.cmds:1:1
  |
1 | server.succeed()
  | ^^^^^^^^^^^^^^^^
",
        );
        check(
            "server.execute \"a\" \"b\" \"c\"",
            "\
error: `execute` takes 1 argument, found 3
 --> test.cmds:1:20
  |
1 | server.execute \"a\" \"b\" \"c\"
  |                    ^^^^^^^
",
        );
        check(
            "start_all \"now\"",
            "\
error: `start_all` takes no arguments, found 1
 --> test.cmds:1:11
  |
1 | start_all \"now\"
  |           ^^^^^
",
        );
        check(
            "sleep",
            "\
error: `sleep` takes 1 argument, found 0
 --> test.cmds:1:1
  |
1 | sleep
  | ^^^^^
",
        );
    }

    #[test]
    fn argument_kinds() {
        check(
            "sleep \"5\"",
            "\
error: argument `seconds` of `sleep` must be a non-negative number of seconds, found a string
 --> test.cmds:1:7
  |
1 | sleep \"5\"
  |       ^^^ write the number without quotes
",
        );
        check(
            "sleep -1",
            "\
error: argument `seconds` of `sleep` must be a non-negative number of seconds, found `-1`
 --> test.cmds:1:7
  |
1 | sleep -1
  |       ^^
",
        );
        check(
            "log 5",
            "\
error: argument `message` of `log` must be a string, found a number
 --> test.cmds:1:5
  |
1 | log 5
  |     ^ put it in quotes
",
        );
        check(
            "server.succeed \"a\" 5",
            "\
error: argument `command` of `succeed` must be a string, found a number
 --> test.cmds:1:20
  |
1 | server.succeed \"a\" 5
  |                    ^ put it in quotes
",
        );
        check(
            "server.wait_for_console_text 1",
            "\
error: argument `regex` of `wait_for_console_text` must be a regex string, found a number
 --> test.cmds:1:30
  |
1 | server.wait_for_console_text 1
  |                              ^ put it in quotes
",
        );
    }

    #[test]
    fn options() {
        check(
            "server.succeed \"a\" timout=5",
            "\
error: unknown option `timout` for `succeed`
 --> test.cmds:1:20
  |
1 | server.succeed \"a\" timout=5
  |                    ^^^^^^ did you mean `timeout`?
",
        );
        check(
            "server.start retries=5",
            "\
error: unknown option `retries` for `start`
 --> test.cmds:1:14
  |
1 | server.start retries=5
  |              ^^^^^^^
",
        );
        check(
            "server.succeed(\"a\", timeout=1, timeout=2)",
            "\
error: option `timeout` is given twice
 --> test.cmds:1:32
  |
1 | server.succeed(\"a\", timeout=1, timeout=2)
  |                                ^^^^^^^
",
        );
        check(
            "server.succeed \"a\" timeout=\"60\"",
            "\
error: option `timeout` of `succeed` must be a non-negative number of seconds, found a string
 --> test.cmds:1:28
  |
1 | server.succeed \"a\" timeout=\"60\"
  |                            ^^^^ write the number without quotes
",
        );
        check(
            "server.succeed \"a\" timeout=-5",
            "\
error: option `timeout` of `succeed` must be a non-negative number of seconds, found `-5`
 --> test.cmds:1:28
  |
1 | server.succeed \"a\" timeout=-5
  |                            ^^
",
        );
    }

    #[test]
    fn regexes() {
        check(
            "server.succeed \"a\" =~ \"(unclosed\"",
            "\
error: invalid regex `(unclosed`: found open group without closing ')'
 --> test.cmds:1:23
  |
1 | server.succeed \"a\" =~ \"(unclosed\"
  |                       ^^^^^^^^^^^
",
        );
        check(
            "server.succeed \"a\" !~ '*'",
            "\
error: invalid regex `*`: uncounted repetition operator must be applied to a sub-expression
 --> test.cmds:1:23
  |
1 | server.succeed \"a\" !~ '*'
  |                       ^^^
",
        );
        check(
            "server.wait_for_console_text \"[a-\"",
            "\
error: invalid regex `[a-`: non-empty character class has no closing bracket after dash
 --> test.cmds:1:30
  |
1 | server.wait_for_console_text \"[a-\"
  |                              ^^^^^
",
        );
        ok("x = \"(\"\nserver.succeed \"a\" =~ \"${x}\"");
        ok("server.succeed \"a\" contains \"(\"");
    }

    #[test]
    fn captures_and_checks_need_text() {
        check(
            "x = server.start",
            "\
error: `start` returns no text to capture
 --> test.cmds:1:1
  |
1 | x = server.start
  | ^
",
        );
        check(
            "start_all() == \"\"",
            "\
error: `start_all` returns no text to check
 --> test.cmds:1:13
  |
1 | start_all() == \"\"
  |             ^^^^^
",
        );
    }

    #[test]
    fn reports_every_problem_in_source_order() {
        check(
            "server.succed \"a\"\nsubtest \"s\" {\n  sleep \"x\" 2\n  clinet.fail(\"${v}\", timeout=1, timeout=2) =~ \"(\"\n}\nx = start_all",
            "\
error: unknown method `succed`
 --> test.cmds:1:8
  |
1 | server.succed \"a\"
  |        ^^^^^^ did you mean `succeed`?
error: argument `seconds` of `sleep` must be a non-negative number of seconds, found a string
 --> test.cmds:3:9
  |
3 |   sleep \"x\" 2
  |         ^^^ write the number without quotes
error: `sleep` takes 1 argument, found 2
 --> test.cmds:3:13
  |
3 |   sleep \"x\" 2
  |             ^
error: unknown machine `clinet`
 --> test.cmds:4:3
  |
4 |   clinet.fail(\"${v}\", timeout=1, timeout=2) =~ \"(\"
  |   ^^^^^^ did you mean `client`?
error: undefined variable `v`
 --> test.cmds:4:18
  |
4 |   clinet.fail(\"${v}\", timeout=1, timeout=2) =~ \"(\"
  |                  ^ define it earlier with `v = …`, or write `$v` to leave it to the shell
error: option `timeout` is given twice
 --> test.cmds:4:34
  |
4 |   clinet.fail(\"${v}\", timeout=1, timeout=2) =~ \"(\"
  |                                  ^^^^^^^
error: invalid regex `(`: found open group without closing ')'
 --> test.cmds:4:48
  |
4 |   clinet.fail(\"${v}\", timeout=1, timeout=2) =~ \"(\"
  |                                                ^^^
error: `start_all` returns no text to capture
 --> test.cmds:6:1
  |
6 | x = start_all
  | ^
",
        );
    }

    #[test]
    fn variables_persist_across_calls() {
        let machines = machines(&["server"]);
        let signatures = crate::methods::signatures();
        let ctx = CheckContext {
            machines: &machines,
            signatures: &signatures,
        };
        let mut checker = Checker::new(&ctx);
        let first = parse("x = server.succeed \"hostname\"").unwrap();
        assert!(checker.check(&first).is_empty());
        assert!(checker.is_defined("x"));
        let second = parse("log \"${x} ${y}\"").unwrap();
        let diagnostics = checker.check(&second);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].to_string(), "undefined variable `y`");
        checker.define("y");
        assert!(checker.check(&second).is_empty());
    }

    #[test]
    fn thousand_line_script() {
        let mut src = String::from("start_all\n");
        for i in 0..200 {
            src.push_str(&format!("v{i} = server.succeed \"echo {i}\" timeout=5\n"));
            src.push_str(&format!(
                "client.succeed(\"ping ${{v{i}}}\") =~ \"^[0-9]+ ok$\"\n"
            ));
            src.push_str(&format!("subtest \"step {i}\" {{\n    server.wait_for_console_text \"login.*\" == \"${{v{i}}}\"\n"));
            src.push_str("}\n");
        }
        assert_eq!(src.lines().count(), 1001);
        assert_eq!(run_with(&["server", "client"], &src), "");
        let broken = src.replace("client.succeed(", "clinet.succed(");
        let machines = machines(&["server", "client"]);
        let signatures = crate::methods::signatures();
        let ctx = CheckContext {
            machines: &machines,
            signatures: &signatures,
        };
        let diagnostics = Checker::new(&ctx).check(&parse(&broken).unwrap());
        assert_eq!(diagnostics.len(), 400);
    }

    /// Lexes, parses, checks and renders many random scripts built from fragments
    /// of the language: nothing may panic, and lexemes must tile the source.
    #[test]
    fn random_inputs_never_panic() {
        const FRAGMENTS: &[&str] = &[
            "server", "machine", ".", "succeed", "start", "sleep", "x", " ", "\t", "\n", "\r",
            "\"", "'", "\"\"\"", "\\", "$", "${", "${x}", "{", "}", "(", ")", ",", ";", "=", "=~",
            "!", "~", "contains", "#", "5", "-", "0.5", ".5", "<<", "EOF", "'EOF'", "\nEOF\n",
            "  EOF", "subtest", "timeout", "é", "\\x", "\\u{", "41",
        ];
        let machines = machines(&["server"]);
        let signatures = crate::methods::signatures();
        let ctx = CheckContext {
            machines: &machines,
            signatures: &signatures,
        };
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut checker = Checker::new(&ctx);
        for _ in 0..20_000 {
            let len = next() % 24;
            let src: String = (0..len)
                .map(|_| FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize])
                .collect();
            if let Ok(tokens) = crate::script::lexer::lex(&src) {
                let joined: String = tokens.iter().map(|t| t.lexeme(&src)).collect();
                assert_eq!(joined, src);
            }
            match parse(&src) {
                Ok(script) => {
                    for diagnostic in checker.check(&script) {
                        diagnostic.render("fuzz", &src, true);
                    }
                }
                Err(diagnostic) => {
                    diagnostic.render("fuzz", &src, false);
                }
            }
        }
    }
}
