//! The syntax tree the parser, checker and interpreter still use while they move
//! to the tree of [`super`]; removed once they have.

use crate::script::span::Span;

/// A whole parsed script.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The statements, in source order.
    pub statements: Vec<Statement>,
}

/// One statement.
// A call is much larger than the other variants, but statements are few and walked
// in place; boxing it would only add a dereference to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `[target.]method args… [check]`, or `name = [target.]method args… [check]`.
    Call(CallStatement),
    /// `name = "text"`: binds a variable to a string.
    Assign {
        /// The variable being bound.
        name: Ident,
        /// Its value (interpolated when the statement runs).
        value: Text,
        /// The whole statement.
        span: Span,
    },
    /// `subtest "name" { … }`.
    Subtest {
        /// The subtest's title (interpolated).
        name: Text,
        /// The statements inside the braces.
        body: Vec<Statement>,
        /// From `subtest` to the closing brace.
        span: Span,
    },
}

impl Statement {
    /// Where the whole statement is written.
    pub fn span(&self) -> Span {
        match self {
            Statement::Call(call) => call.span,
            Statement::Assign { span, .. } | Statement::Subtest { span, .. } => *span,
        }
    }
}

/// A call of a method, with an optional capture and output check.
#[derive(Debug, Clone, PartialEq)]
pub struct CallStatement {
    /// `name = …`: the variable that receives the call's output.
    pub capture: Option<Ident>,
    /// The call itself.
    pub call: Call,
    /// `=~ "re"`, `== "text"`, …: a check of the call's output.
    pub check: Option<Check>,
    /// The whole statement.
    pub span: Span,
}

/// `[target.]method arg… option=value…`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The machine before the dot; `None` for a global command such as `start_all`.
    pub target: Option<Ident>,
    /// The method or command name.
    pub method: Ident,
    /// Positional arguments, in order.
    pub args: Vec<Arg>,
    /// `name=value` options, in order.
    pub options: Vec<CallOption>,
    /// From the target (or method) to the end of the last argument or option.
    pub span: Span,
}

/// A name in the source: a machine, a method, a variable or an option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The name as written.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// A positional argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A string, raw or interpolated (quoted string or heredoc).
    Text(Text),
    /// A number such as `5` or `0.5`.
    Number(Number),
}

impl Arg {
    /// Where the argument is written.
    pub fn span(&self) -> Span {
        match self {
            Arg::Text(text) => text.span,
            Arg::Number(number) => number.span,
        }
    }
}

/// A numeric literal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number {
    /// Its value.
    pub value: f64,
    /// Where it is written.
    pub span: Span,
}

/// `name=value`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOption {
    /// The option's name.
    pub name: Ident,
    /// Its value.
    pub value: Arg,
}

/// A string literal, split into literal pieces and `${var}` references.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    /// The pieces, in order; a raw string (`'…'`, `<<'EOF'`) is one `Literal`.
    pub parts: Vec<TextPart>,
    /// The whole literal, quotes included (for a heredoc: the `<<EOF` marker through
    /// the terminator line).
    pub span: Span,
}

impl Text {
    /// The text's value when it has no `${…}` references, `None` otherwise.
    pub fn as_literal(&self) -> Option<String> {
        let mut value = String::new();
        for part in &self.parts {
            match part {
                TextPart::Literal(literal) => value.push_str(literal),
                TextPart::Var(_) => return None,
            }
        }
        Some(value)
    }
}

/// A piece of a [`Text`].
#[derive(Debug, Clone, PartialEq)]
pub enum TextPart {
    /// Literal text, escapes already resolved.
    Literal(String),
    /// `${name}`: the value of a captured or assigned variable.
    Var(Ident),
}

/// An output check after a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Which comparison.
    pub op: CheckOp,
    /// The right-hand side: a regex for `=~`/`!~`, text otherwise.
    pub operand: Text,
    /// From the operator to the end of the operand.
    pub span: Span,
}

/// The comparison an output check makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOp {
    /// `=~`: the output matches the regex somewhere.
    Matches,
    /// `!~`: the output does not match the regex.
    NotMatches,
    /// `==`: the output, trailing newlines dropped, equals the text.
    Equals,
    /// `!=`: the output, trailing newlines dropped, differs from the text.
    NotEquals,
    /// `contains`: the output contains the text.
    Contains,
    /// `!contains`: the output does not contain the text.
    NotContains,
}

impl CheckOp {
    /// The operator as written in a script.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOp::Matches => "=~",
            CheckOp::NotMatches => "!~",
            CheckOp::Equals => "==",
            CheckOp::NotEquals => "!=",
            CheckOp::Contains => "contains",
            CheckOp::NotContains => "!contains",
        }
    }
}
