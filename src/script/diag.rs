//! Script diagnostics: what went wrong in a script, where, and how it is shown.
//!
//! A [`Diagnostic`] is a [`Span`] plus a boxed [`DiagKind`]. The kind is an enum of
//! precise variants with named fields, so tests and callers can match on the exact
//! problem; its `Display` is one lowercase line with user values in backticks.
//! Suggestions ("did you mean `succeed`?") are fields of the variants too, and
//! [`Diagnostic::help`] turns them into the label printed under the carets.
//!
//! [`Diagnostic::render`] prints the rustc/just layout: `error: …`, `--> file:line:col`,
//! a gutter, the source line, and carets sized to the span. Lines and columns are
//! stored 0-based and printed 1-based. The kind is boxed so that `Result<_, Diagnostic>`
//! stays two words plus a span.
//!
//! Lexer, parser and checker errors all live here; runtime errors are a separate
//! enum owned by the interpreter, which can still render them with a span.

use crate::color::Palette;
use crate::script::signature::ValueKind;
use crate::script::span::Span;
use std::fmt::{self, Display, Formatter, Write as _};

/// A problem in a script, at a place in its source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Diagnostic {
    /// Where the problem is.
    pub span: Span,
    /// What the problem is.
    pub kind: Box<DiagKind>,
}

/// The precise problem a [`Diagnostic`] reports.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DiagKind {
    // Lexical errors.
    /// A character that starts no token, such as `@`.
    UnexpectedCharacter {
        /// The character.
        character: char,
    },
    /// A string whose closing quote never comes.
    UnterminatedString {
        /// The closing delimiter that is missing: `"`, `'` or `"""`.
        delimiter: &'static str,
    },
    /// A heredoc whose terminator line never comes.
    UnterminatedHeredoc {
        /// The word that should end it, such as `EOF`.
        delimiter: String,
    },
    /// `<<` not followed by `WORD` or `'WORD'`.
    InvalidHeredocMarker,
    /// A non-blank heredoc line that lacks the terminator line's indentation.
    HeredocIndentation {
        /// The word that ends the heredoc.
        delimiter: String,
    },
    /// A backslash escape that is not one of the supported ones.
    InvalidEscape {
        /// The escape as written, such as `\q` or `\xff`.
        escape: String,
    },
    /// `${` not followed by an expression and `}`.
    InvalidInterpolation {
        /// Whether it is in a heredoc (which has no backslash escapes).
        heredoc: bool,
        /// What the parser expected inside, if it got that far.
        detail: Option<String>,
    },
    /// A number glued to other characters, such as `60s` or `5.`.
    InvalidNumber {
        /// The text as written.
        text: String,
    },

    // Syntax errors.
    /// A token the grammar does not allow here.
    UnexpectedToken {
        /// What could have come instead, in the order the parser tried them.
        expected: Vec<String>,
        /// What came, such as "identifier `foo`" or "newline".
        found: String,
    },
    /// A bare word where an argument is expected: `machine.succeed echo`.
    UnquotedArgument {
        /// The word.
        word: String,
        /// The method or function it follows, such as `succeed`.
        callee: String,
    },
    /// `timeout = 60` outside parentheses (options are written `timeout=60`).
    SpaceAroundOptionEquals {
        /// The option's name.
        option: String,
    },
    /// The input ends inside `(…)` or a subtest's `{…}`.
    UnclosedDelimiter {
        /// The opening delimiter: `(` or `{`.
        open: char,
    },
    /// `log "a" + x`: arithmetic right after shell-style arguments.
    OperatorAfterShellArguments {
        /// The operator.
        op: String,
        /// The method or function called.
        callee: String,
    },
    /// `a < b < c`: Python chains comparisons, the language does not.
    ChainedComparison {
        /// The first operator.
        first: &'static str,
        /// The operator that follows it.
        second: &'static str,
    },
    /// Blocks or expressions nested deeper than the limit.
    NestingTooDeep {
        /// "blocks" or "expressions".
        what: &'static str,
        /// The deepest nesting allowed.
        limit: usize,
    },

    // Errors found by the checker.
    /// A method or command that does not exist.
    UnknownMethod {
        /// The name as written.
        method: String,
        /// The nearest known name, if one is close.
        suggestion: Option<String>,
    },
    /// `name.method` where no machine is called `name`.
    UnknownMachine {
        /// The machine as written.
        machine: String,
        /// The nearest machine name, if one is close.
        suggestion: Option<String>,
    },
    /// An option the method does not take.
    UnknownOption {
        /// The method.
        method: String,
        /// The option as written.
        option: String,
        /// The nearest option the method takes, if one is close.
        suggestion: Option<String>,
    },
    /// The same option given twice in one call.
    DuplicateOption {
        /// The option.
        option: String,
    },
    /// Too few or too many positional arguments.
    WrongArgumentCount {
        /// The method.
        method: String,
        /// The fewest arguments it takes.
        min: usize,
        /// The most arguments it takes (`None`: no limit).
        max: Option<usize>,
        /// How many the call has.
        found: usize,
    },
    /// A positional argument of the wrong kind.
    WrongArgumentKind {
        /// The method.
        method: String,
        /// The parameter's name.
        param: String,
        /// The kind the parameter takes.
        expected: ValueKind,
        /// What was given: "a string", "a number" or the offending value.
        found: String,
    },
    /// An option value of the wrong kind.
    WrongOptionKind {
        /// The method.
        method: String,
        /// The option.
        option: String,
        /// The kind the option takes.
        expected: ValueKind,
        /// What was given: "a string", "a number" or the offending value.
        found: String,
    },
    /// A regex that regex-lite rejects.
    InvalidRegex {
        /// The regex as written (escapes resolved).
        regex: String,
        /// regex-lite's message.
        message: String,
    },
    /// `${name}` before any `name = …`.
    UndefinedVariable {
        /// The variable.
        name: String,
        /// The nearest defined variable, if one is close.
        suggestion: Option<String>,
    },
    /// `name = machine.start`: the method returns no text to capture.
    CaptureWithoutText {
        /// The method.
        method: String,
    },
    /// `machine.start == "x"`: the method returns no text to check.
    CheckWithoutText {
        /// The method.
        method: String,
    },
    /// A call of a name that is no function, command or procedure.
    UnknownFunction {
        /// The name as written.
        name: String,
        /// The nearest known name, if one is close.
        suggestion: Option<String>,
    },
    /// A builtin function or value method given an argument of the wrong kind.
    WrongArgument {
        /// The function or method.
        function: String,
        /// What it takes, such as "a string".
        expected: &'static str,
        /// What it was given, such as "a machine".
        found: &'static str,
    },
    /// `value.method` where values of that kind have no such method.
    NoSuchMethod {
        /// The value's kind, such as "a machine".
        kind: &'static str,
        /// The method as written.
        method: String,
        /// The nearest method of that kind, if one is close.
        suggestion: Option<String>,
    },
    /// An operator given operands it cannot take.
    WrongOperandKinds {
        /// The operator.
        op: &'static str,
        /// The kinds of the operands, such as "a machine" (one for `not` and `-`).
        kinds: Vec<&'static str>,
    },
    /// `for x in 5`.
    NotIterable {
        /// The kind, such as "a number".
        kind: &'static str,
    },
    /// `e[i] = v` where `e` is not a variable or an item of one.
    NotAPlace,
    /// `x[i] = v` where `x` is neither a list nor a JSON object.
    NotChangeable {
        /// The kind, such as "a string".
        kind: &'static str,
    },
    /// `with x { … }` or `x.wait` where `x` is not a polling condition.
    NotACondition {
        /// The kind, such as "a string".
        kind: &'static str,
    },
    /// `x[0]` on a value that has no positions or keys.
    NotIndexable {
        /// The kind, such as "a machine".
        kind: &'static str,
    },
    /// Python's `machine.start` standing alone: an attribute read, no call.
    MethodNotCalled {
        /// The attribute as written, such as `machine.start`.
        text: String,
    },
    /// `{key: value}` with a key that is no string.
    DictKey {
        /// The key's kind, such as "a number".
        found: &'static str,
    },
    /// `a, b = value` where the value is no list.
    CannotUnpack {
        /// The kind, such as "a string".
        kind: &'static str,
    },
    /// `rc, out = m.succeed …`: only methods that run one command give a status.
    NoStatus {
        /// The method.
        method: String,
    },
    /// `server = …`, `machines = …`, `for len in …`: the name is taken.
    ReservedName {
        /// The name.
        name: String,
        /// What it names, such as "a machine".
        what: &'static str,
    },
    /// `break` or `continue` outside a loop (a procedure or `retry` body ends the
    /// loop around it).
    OutsideLoop {
        /// `break` or `continue`.
        keyword: &'static str,
    },
    /// `return` outside a procedure.
    ReturnOutsideProcedure,
    /// `def` inside a block or a procedure.
    NestedProcedure,
    /// Two procedures of one name, or a procedure named like a builtin.
    DuplicateProcedure {
        /// The name.
        name: String,
    },
    /// A procedure that calls itself, directly or through others.
    Recursion {
        /// The procedures of the cycle, starting and ending with the same one.
        cycle: Vec<String>,
    },
    /// `while c { … }` where nothing can change `c`.
    ConditionNeverChanges,
    /// A machine method called without a machine.
    NeedsMachine {
        /// The method.
        method: String,
        /// A machine to show in the help, such as `server`.
        example: Option<String>,
    },
    /// A global command called on a machine.
    TakesNoMachine {
        /// The command.
        method: String,
        /// The machine as written.
        machine: String,
    },

    /// A bug in vmtest-min rather than a mistake in the script.
    Internal {
        /// What went wrong.
        message: String,
    },
}

impl Diagnostic {
    /// A diagnostic of `kind` at `span`.
    pub(crate) fn new(span: Span, kind: DiagKind) -> Diagnostic {
        Diagnostic {
            span,
            kind: Box::new(kind),
        }
    }

    /// The label printed under the carets, such as "did you mean `succeed`?".
    pub(crate) fn help(&self) -> Option<String> {
        self.kind.help()
    }

    /// Whether the input simply ended too early (an unterminated string or heredoc,
    /// an unclosed parenthesis or subtest block), so that an interactive prompt can
    /// read more lines and try again.
    pub(crate) fn is_incomplete(&self) -> bool {
        matches!(
            *self.kind,
            DiagKind::UnterminatedString { .. }
                | DiagKind::UnterminatedHeredoc { .. }
                | DiagKind::UnclosedDelimiter { .. }
        )
    }

    /// The diagnostic as rustc and just print it: the message, the position in
    /// `file`, the source line from `src` and carets under the span, followed by the
    /// help if any. Tabs are shown as four spaces. `color` adds ANSI bold and colors.
    /// The result ends with a newline.
    pub(crate) fn render(&self, file: &str, src: &str, color: bool) -> String {
        let paint = Palette::new(color);
        let mut out = format!(
            "{}{}\n",
            paint.red("error"),
            paint.bold(&format!(": {self}"))
        );
        out.push_str(&snippet(
            file,
            src,
            self.span,
            self.help().as_deref(),
            color,
        ));
        out
    }
}

/// The `--> file:line:col` line, the source line and carets under `span`, followed
/// by `label` if given; every line ends with a newline. Runtime errors use it too,
/// so that a failed step points at its statement the way a script error does.
pub(crate) fn snippet(
    file: &str,
    src: &str,
    span: Span,
    label: Option<&str>,
    color: bool,
) -> String {
    let paint = Palette::new(color);
    let line_number = span.line + 1;
    let width = line_number.to_string().len();
    let pad = " ".repeat(width);

    // The source line holding the span's first byte.
    let mut offset = span.offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
    let line = &src[line_start..line_end];
    let line = line.strip_suffix('\r').unwrap_or(line);
    let before = &src[line_start..offset];
    let before = &before[..before.len().min(line.len())];
    let inside_end = span.end().min(line_start + line.len()).max(offset);
    let inside = &src[offset..inside_end];
    let caret_indent = display_width(before);
    let carets = display_width(inside).max(1);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "{pad}{} {file}:{line_number}:{}",
        paint.blue("-->"),
        span.column + 1
    );
    let _ = writeln!(out, "{pad} {}", paint.blue("|"));
    let shown = display_line(line);
    if shown.is_empty() {
        let _ = writeln!(out, "{}", paint.blue(&format!("{line_number} |")));
    } else {
        let _ = writeln!(
            out,
            "{} {}",
            paint.blue(&format!("{line_number} |")),
            shown.trim_end()
        );
    }
    let mut underline = "^".repeat(carets);
    if let Some(label) = label {
        underline.push(' ');
        underline.push_str(label);
    }
    let _ = writeln!(
        out,
        "{pad} {} {}{}",
        paint.blue("|"),
        " ".repeat(caret_indent),
        paint.red(&underline)
    );
    out
}

impl Display for Diagnostic {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for Diagnostic {}

impl DiagKind {
    /// The help label for this problem, if there is one.
    pub(crate) fn help(&self) -> Option<String> {
        use DiagKind::*;
        let did_you_mean = |s: &Option<String>| s.as_ref().map(|s| format!("did you mean `{s}`?"));
        match self {
            UnexpectedCharacter { character } => match character {
                '!' => Some("checks are written `!~`, `!=` or `!contains`".into()),
                '$' => Some("write a variable alone, `name`, or inside a string, `\"${name}\"`".into()),
                _ => None,
            },
            UnterminatedString { delimiter } => Some(format!("add a closing `{delimiter}`")),
            UnterminatedHeredoc { delimiter } => {
                Some(format!("end the heredoc with a line holding only `{delimiter}`"))
            }
            InvalidHeredocMarker => Some("write `<<WORD` or `<<'WORD'`, where WORD is a name".into()),
            HeredocIndentation { delimiter } => Some(format!(
                "indent every line at least as far as the line `{delimiter}`"
            )),
            InvalidEscape { escape } => Some(escape_help(escape)),
            InvalidInterpolation { heredoc: true, .. } => {
                Some("to keep `${` as written, use a raw heredoc: `<<'EOF'`".into())
            }
            InvalidInterpolation { heredoc: false, .. } => {
                Some("write `\\${` for a literal `${`; inside `${…}`, quote with `'…'`".into())
            }
            InvalidNumber { .. } => Some("numbers are written like `5` or `0.5`".into()),
            UnexpectedToken { .. } => None,
            UnquotedArgument { word, callee } => Some(format!(
                "quote it: `\"{word}\"`; to pass a value, use parentheses: `{callee}({word})`"
            )),
            SpaceAroundOptionEquals { option } => Some(format!("write `{option}=…` without spaces")),
            UnclosedDelimiter { open } => {
                let close = match open {
                    '(' => ')',
                    '[' => ']',
                    _ => '}',
                };
                Some(format!("the input ends before the matching `{close}`"))
            }
            NestingTooDeep { .. } => None,
            ChainedComparison { first, second } => {
                Some(format!("write `a {first} b and b {second} c`"))
            }
            OperatorAfterShellArguments { op, callee } => Some(format!(
                "to compute an argument, use parentheses: `{callee}(… {op} …)`"
            )),
            UnknownFunction { suggestion, .. } | NoSuchMethod { suggestion, .. } => {
                did_you_mean(suggestion)
            }
            WrongOperandKinds { .. } | NotIterable { .. } | NotIndexable { .. } => None,
            NotAPlace => Some("assign to a variable, or to `name[index]`".into()),
            NotChangeable { .. } => Some("build a new value and assign it: `x = …`".into()),
            NotACondition { .. } => {
                Some("define it first with `polling_condition name { … }`".into())
            }
            WrongArgument { .. } => None,
            CannotUnpack { .. } => None,
            MethodNotCalled { .. } => None,
            DictKey { .. } => Some("JSON objects have string keys: quote it".into()),
            NoStatus { .. } => Some("`rc, out = m.execute(…)` gives both".into()),
            ReservedName { .. } => Some("choose another name".into()),
            OutsideLoop { .. } | ReturnOutsideProcedure | NestedProcedure => None,
            DuplicateProcedure { .. } => None,
            Recursion { .. } => Some("recursion is not allowed: write a loop".into()),
            ConditionNeverChanges => Some(
                "assign one of its variables in the body, call a method in the condition, or `break`"
                    .into(),
            ),
            UnknownMethod { suggestion, .. }
            | UnknownMachine { suggestion, .. }
            | UnknownOption { suggestion, .. } => did_you_mean(suggestion),
            DuplicateOption { .. } | WrongArgumentCount { .. } => None,
            WrongArgumentKind {
                expected, found, ..
            }
            | WrongOptionKind {
                expected, found, ..
            } => match (expected, found.as_str()) {
                (ValueKind::Seconds | ValueKind::Port, "a string") => {
                    Some("write the number without quotes".into())
                }
                (ValueKind::Text | ValueKind::Regex, "a number") => Some("put it in quotes".into()),
                _ => None,
            },
            InvalidRegex { .. } => None,
            UndefinedVariable { name, suggestion } => did_you_mean(suggestion).or_else(|| {
                Some(format!(
                    "define it earlier with `{name} = …`, or write `${name}` to leave it to the shell"
                ))
            }),
            CaptureWithoutText { .. } | CheckWithoutText { .. } => None,
            NeedsMachine { method, example } => example
                .as_ref()
                .map(|machine| format!("write `{machine}.{method}`")),
            TakesNoMachine { method, machine } => {
                Some(format!("write `{method}` without `{machine}.`"))
            }
            Internal { .. } => None,
        }
    }
}

impl Display for DiagKind {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        use DiagKind::*;
        match self {
            UnexpectedCharacter { character } => {
                write!(f, "unexpected character `{}`", show(&character.to_string()))
            }
            UnterminatedString { .. } => write!(f, "unterminated string"),
            UnterminatedHeredoc { delimiter } => {
                write!(f, "unterminated heredoc, no line `{delimiter}` ends it")
            }
            InvalidHeredocMarker => write!(f, "invalid heredoc marker"),
            HeredocIndentation { delimiter } => write!(
                f,
                "heredoc line is indented less than its terminator `{delimiter}`"
            ),
            InvalidEscape { escape } => write!(f, "invalid escape `{}`", show(escape)),
            InvalidInterpolation { detail: None, .. } => {
                write!(f, "invalid interpolation, expected `${{expression}}`")
            }
            InvalidInterpolation {
                detail: Some(detail),
                ..
            } => write!(f, "invalid interpolation: {detail}"),
            InvalidNumber { text } => write!(f, "invalid number `{}`", show(text)),
            UnexpectedToken { expected, found } => {
                if expected.is_empty() {
                    write!(f, "unexpected {found}")
                } else {
                    write!(f, "expected {}, found {found}", or_list(expected))
                }
            }
            UnquotedArgument { word, .. } => write!(
                f,
                "arguments must be quoted strings or numbers, found `{word}`"
            ),
            SpaceAroundOptionEquals { option } => {
                write!(f, "spaces around `=` in option `{option}`")
            }
            UnclosedDelimiter { open } => write!(f, "unclosed `{open}`"),
            ChainedComparison { first, second } => {
                write!(f, "comparisons do not chain: `{first}` then `{second}`")
            }
            OperatorAfterShellArguments { op, .. } => {
                write!(f, "`{op}` after shell-style arguments, which are literals")
            }
            NestingTooDeep { what, limit } => write!(f, "{what} nested more than {limit} deep"),
            UnknownFunction { name, .. } => write!(f, "unknown function `{name}`"),
            NoSuchMethod { kind, method, .. } => write!(f, "{kind} has no method `{method}`"),
            WrongArgument {
                function,
                expected,
                found,
            } => write!(f, "`{function}` takes {expected}, found {found}"),
            WrongOperandKinds { op, kinds } => match kinds.as_slice() {
                [one] => write!(f, "`{op}` cannot take {one}"),
                _ => write!(f, "`{op}` cannot take {}", kinds.join(" and ")),
            },
            NotIterable { kind } => write!(f, "cannot loop over {kind}"),
            NotACondition { kind } => write!(f, "expected a polling condition, found {kind}"),
            NotChangeable { kind } => write!(f, "cannot change an item of {kind} in place"),
            NotAPlace => write!(f, "cannot assign to this expression"),
            NotIndexable { kind } => write!(f, "cannot index {kind}"),
            CannotUnpack { kind } => write!(f, "cannot unpack {kind} into several names"),
            MethodNotCalled { text } => write!(
                f,
                "`{text}` without `()` does nothing in Python; did you mean `{text}()`?"
            ),
            DictKey { found } => write!(f, "a JSON object's key must be a string, found {found}"),
            NoStatus { method } => write!(f, "`{method}` gives no exit status to unpack"),
            ReservedName { name, what } => write!(f, "cannot assign to `{name}`, which is {what}"),
            OutsideLoop { keyword } => write!(f, "`{keyword}` outside a loop"),
            ReturnOutsideProcedure => write!(f, "`return` outside a procedure"),
            NestedProcedure => write!(f, "procedures are defined at the top level only"),
            DuplicateProcedure { name } => write!(f, "`{name}` is already defined"),
            Recursion { cycle } => {
                let path: Vec<String> = cycle.iter().map(|name| format!("`{name}`")).collect();
                write!(f, "recursive call: {}", path.join(" calls "))
            }
            ConditionNeverChanges => write!(f, "the condition of this `while` never changes"),
            UnknownMethod { method, .. } => write!(f, "unknown method `{method}`"),
            UnknownMachine { machine, .. } => write!(f, "unknown machine `{machine}`"),
            UnknownOption { method, option, .. } => {
                write!(f, "unknown option `{option}` for `{method}`")
            }
            DuplicateOption { option } => write!(f, "option `{option}` is given twice"),
            WrongArgumentCount {
                method,
                min,
                max,
                found,
            } => {
                let takes = match max {
                    Some(0) => "no arguments".to_string(),
                    Some(max) if max == min => plural(*max, "argument"),
                    Some(max) => format!("{min} to {}", plural(*max, "argument")),
                    None => format!("at least {}", plural(*min, "argument")),
                };
                write!(f, "`{method}` takes {takes}, found {found}")
            }
            WrongArgumentKind {
                method,
                param,
                expected,
                found,
            } => write!(
                f,
                "argument `{param}` of `{method}` must be {}, found {found}",
                kind_name(*expected)
            ),
            WrongOptionKind {
                method,
                option,
                expected,
                found,
            } => write!(
                f,
                "option `{option}` of `{method}` must be {}, found {found}",
                kind_name(*expected)
            ),
            InvalidRegex { regex, message } => write!(
                f,
                "invalid regex `{}`: {}",
                show(regex),
                message.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            UndefinedVariable { name, .. } => write!(f, "undefined variable `{name}`"),
            CaptureWithoutText { method } => write!(f, "`{method}` returns no text to capture"),
            CheckWithoutText { method } => write!(f, "`{method}` returns no text to check"),
            NeedsMachine { method, .. } => write!(f, "`{method}` must be called on a machine"),
            TakesNoMachine { method, .. } => write!(f, "`{method}` is not called on a machine"),
            Internal { message } => write!(
                f,
                "internal error, this may indicate a bug in vmtest-min: {message}"
            ),
        }
    }
}

/// How a [`ValueKind`] reads in a message.
fn kind_name(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Text => "a string",
        ValueKind::Regex => "a regex string",
        ValueKind::Seconds => "a non-negative number of seconds",
        ValueKind::Port => "a port number from 1 to 65535",
        ValueKind::Bool => "True or False",
        ValueKind::Keys => {
            "text a US keyboard types (letters, digits, punctuation, space, tab, newline)"
        }
        ValueKind::Tty => "a tty number from 1 to 63",
    }
}

/// "1 argument", "2 arguments".
fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// "a", "a or b", "a, b or c".
pub(crate) fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The help for an invalid escape, tailored to what was attempted.
fn escape_help(escape: &str) -> String {
    if let Some(hex) = escape.strip_prefix("\\x") {
        match u32::from_str_radix(hex, 16) {
            Ok(value) if hex.len() == 2 => {
                format!("`\\x` escapes stop at `\\x7f`; write `\\u{{{value:x}}}`")
            }
            _ => "write `\\xHH` with two hex digits".into(),
        }
    } else if escape.starts_with("\\u") {
        "write `\\u{HHHH}` with 1 to 6 hex digits naming a unicode character".into()
    } else {
        "write `\\\\` for a backslash or use a raw `'…'` string; \
         escapes: `\\n` `\\t` `\\r` `\\0` `\\\"` `\\$` `\\xHH` `\\u{HHHH}`"
            .into()
    }
}

/// `text` with control characters escaped, so that a message stays on one line and
/// cannot drive the terminal.
pub(crate) fn show(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A source line as displayed: tabs become four spaces, other control characters `?`.
fn display_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '\t' => out.push_str("    "),
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// How many columns `text` takes in [`display_line`]'s rendering.
fn display_width(text: &str) -> usize {
    text.chars().map(|c| if c == '\t' { 4 } else { 1 }).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(offset: usize, len: usize, line: usize, column: usize) -> Span {
        Span {
            offset,
            len,
            line,
            column,
        }
    }

    #[track_caller]
    fn check(src: &str, span: Span, kind: DiagKind, expected: &str) {
        let diagnostic = Diagnostic::new(span, kind);
        assert_eq!(diagnostic.render("test.cmds", src, false), expected);
    }

    #[test]
    fn render_unknown_method() {
        check(
            "start_all\n\nmachine.succed \"echo hi\"\n",
            span(19, 6, 2, 8),
            DiagKind::UnknownMethod {
                method: "succed".into(),
                suggestion: Some("succeed".into()),
            },
            "\
error: unknown method `succed`
 --> test.cmds:3:9
  |
3 | machine.succed \"echo hi\"
  |         ^^^^^^ did you mean `succeed`?
",
        );
    }

    #[test]
    fn render_without_help_at_line_start() {
        check(
            "foo\n",
            span(0, 3, 0, 0),
            DiagKind::DuplicateOption {
                option: "timeout".into(),
            },
            "\
error: option `timeout` is given twice
 --> test.cmds:1:1
  |
1 | foo
  | ^^^
",
        );
    }

    #[test]
    fn render_two_digit_gutter() {
        let src = "\n".repeat(11) + "x y\n";
        check(
            &src,
            span(13, 1, 11, 2),
            DiagKind::UnexpectedCharacter { character: '@' },
            "\
error: unexpected character `@`
  --> test.cmds:12:3
   |
12 | x y
   |   ^
",
        );
    }

    #[test]
    fn render_tabs_widen_to_four_columns() {
        check(
            "\tmachine.succed\t\"x\"\n",
            span(9, 6, 0, 9),
            DiagKind::UnknownMethod {
                method: "succed".into(),
                suggestion: None,
            },
            "\
error: unknown method `succed`
 --> test.cmds:1:10
  |
1 |     machine.succed    \"x\"
  |             ^^^^^^
",
        );
    }

    #[test]
    fn render_empty_span_gets_one_caret() {
        check(
            "abc",
            span(3, 0, 0, 3),
            DiagKind::UnclosedDelimiter { open: '(' },
            "\
error: unclosed `(`
 --> test.cmds:1:4
  |
1 | abc
  |    ^ the input ends before the matching `)`
",
        );
    }

    #[test]
    fn render_span_on_newline_points_past_the_line() {
        check(
            "x =\r\ny\n",
            span(3, 2, 0, 3),
            DiagKind::UnexpectedToken {
                expected: vec!["string".into(), "identifier".into()],
                found: "newline".into(),
            },
            "\
error: expected string or identifier, found newline
 --> test.cmds:1:4
  |
1 | x =
  |    ^
",
        );
    }

    #[test]
    fn render_multi_line_span_underlines_the_first_line() {
        check(
            "a <<EOF\nbody\nEOF\n",
            span(2, 14, 0, 2),
            DiagKind::InvalidRegex {
                regex: "(".into(),
                message: "unclosed group".into(),
            },
            "\
error: invalid regex `(`: unclosed group
 --> test.cmds:1:3
  |
1 | a <<EOF
  |   ^^^^^
",
        );
    }

    #[test]
    fn render_empty_line_and_characters_not_bytes() {
        check(
            "",
            span(0, 0, 0, 0),
            DiagKind::UnexpectedToken {
                expected: vec![],
                found: "end of input".into(),
            },
            "\
error: unexpected end of input
 --> test.cmds:1:1
  |
1 |
  | ^
",
        );
        check(
            "ö \"ü\" x",
            span(3, 4, 0, 2),
            DiagKind::Internal {
                message: "test".into(),
            },
            "\
error: internal error, this may indicate a bug in vmtest-min: test
 --> test.cmds:1:3
  |
1 | ö \"ü\" x
  |   ^^^
",
        );
    }

    #[test]
    fn render_in_color() {
        let diagnostic = Diagnostic::new(
            span(0, 1, 0, 0),
            DiagKind::UnexpectedCharacter { character: '!' },
        );
        assert_eq!(
            diagnostic.render("t", "!", true),
            "\x1b[1;31merror\x1b[0m\x1b[1m: unexpected character `!`\x1b[0m\n \
             \x1b[1;34m-->\x1b[0m t:1:1\n  \x1b[1;34m|\x1b[0m\n\x1b[1;34m1 |\x1b[0m !\n  \
             \x1b[1;34m|\x1b[0m \x1b[1;31m^ checks are written `!~`, `!=` or `!contains`\x1b[0m\n"
        );
    }

    #[test]
    fn messages() {
        #[track_caller]
        fn message(kind: DiagKind, expected: &str) {
            assert_eq!(Diagnostic::new(Span::default(), kind).to_string(), expected);
        }
        use DiagKind::*;
        message(
            WrongArgumentCount {
                method: "start".into(),
                min: 0,
                max: Some(0),
                found: 1,
            },
            "`start` takes no arguments, found 1",
        );
        message(
            WrongArgumentCount {
                method: "sleep".into(),
                min: 1,
                max: Some(1),
                found: 2,
            },
            "`sleep` takes 1 argument, found 2",
        );
        message(
            WrongArgumentCount {
                method: "x".into(),
                min: 1,
                max: Some(3),
                found: 0,
            },
            "`x` takes 1 to 3 arguments, found 0",
        );
        message(
            WrongArgumentCount {
                method: "succeed".into(),
                min: 1,
                max: None,
                found: 0,
            },
            "`succeed` takes at least 1 argument, found 0",
        );
        message(
            UnexpectedToken {
                expected: vec!["a".into(), "b".into(), "c".into()],
                found: "d".into(),
            },
            "expected a, b or c, found d",
        );
        message(
            InvalidRegex {
                regex: "a\n(".into(),
                message: "unclosed\n  group".into(),
            },
            "invalid regex `a\\n(`: unclosed group",
        );
        message(
            UnexpectedCharacter { character: '\u{7}' },
            "unexpected character `\\u{7}`",
        );
    }

    #[test]
    fn escape_helps() {
        assert_eq!(
            escape_help("\\xff"),
            "`\\x` escapes stop at `\\x7f`; write `\\u{ff}`"
        );
        assert_eq!(escape_help("\\x4"), "write `\\xHH` with two hex digits");
        assert_eq!(
            escape_help("\\u{110000}"),
            "write `\\u{HHHH}` with 1 to 6 hex digits naming a unicode character"
        );
        assert_eq!(
            escape_help("\\q"),
            "write `\\\\` for a backslash or use a raw `'…'` string; \
             escapes: `\\n` `\\t` `\\r` `\\0` `\\\"` `\\$` `\\xHH` `\\u{HHHH}`"
        );
    }

    #[test]
    fn incomplete_kinds() {
        let incomplete = |kind| Diagnostic::new(Span::default(), kind).is_incomplete();
        assert!(incomplete(DiagKind::UnterminatedString { delimiter: "\"" }));
        assert!(incomplete(DiagKind::UnterminatedHeredoc {
            delimiter: "EOF".into()
        }));
        assert!(incomplete(DiagKind::UnclosedDelimiter { open: '{' }));
        assert!(!incomplete(DiagKind::InvalidHeredocMarker));
    }
}
