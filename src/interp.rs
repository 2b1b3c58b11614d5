//! The interpreter: walks a checked script and calls the method table.
//!
//! It never touches a socket or a process: machines are reached through
//! [`crate::backend::Backend`]. Runtime errors keep the span of the statement that
//! raised them, so they are reported with the script line, as parse errors are.

use crate::backend::Backend;
use crate::error::Error;
use crate::logger::NestEnd;
use crate::methods::{self, Invocation, Value};
use crate::script::ast::{Arg, CallStatement, Check, CheckOp, Statement, Text, TextPart};
use crate::script::check::resolve_machine;
use crate::script::span::Span;
use regex_lite::Regex;
use std::collections::HashMap;

/// A runtime error and the statement that raised it.
#[derive(Debug)]
pub struct StepError {
    /// The statement.
    pub span: Span,
    /// What went wrong (boxed: errors carry outputs and serial tails).
    pub error: Box<Error>,
}

/// Runs statements against a backend, keeping the script's variables.
pub struct Interpreter<'a> {
    backend: &'a mut dyn Backend,
    machines: Vec<String>,
    vars: HashMap<String, String>,
    last_output: Option<String>,
}

impl<'a> Interpreter<'a> {
    /// An interpreter for the given machines.
    pub fn new(backend: &'a mut dyn Backend, machines: Vec<String>) -> Interpreter<'a> {
        Interpreter {
            backend,
            machines,
            vars: HashMap::new(),
            last_output: None,
        }
    }

    /// Runs `statements` in order, stopping at the first error.
    pub fn run(&mut self, statements: &[Statement]) -> Result<(), StepError> {
        statements
            .iter()
            .try_for_each(|statement| self.statement(statement))
    }

    /// The text the last call returned, if it returns text and was not captured
    /// (the interactive prompt prints it).
    pub fn take_output(&mut self) -> Option<String> {
        self.last_output.take()
    }

    fn statement(&mut self, statement: &Statement) -> Result<(), StepError> {
        match statement {
            Statement::Call(call) => self.call(call),
            Statement::Assign { name, value, .. } => {
                let value = self.text(value);
                self.vars.insert(name.name.clone(), value);
                Ok(())
            }
            Statement::Subtest { name, body, .. } => {
                let title = self.text(name);
                let logger = self.backend.logger();
                logger.open_nest(None, &format!("subtest: {title}"));
                let result = self.run(body);
                if let Err(failure) = &result {
                    logger.error(
                        None,
                        &format!("subtest \"{title}\" failed: {}", failure.error),
                    );
                }
                logger.close_nest(match result {
                    Ok(()) => NestEnd::Finished,
                    Err(_) => NestEnd::Failed,
                });
                result
            }
        }
    }

    fn call(&mut self, statement: &CallStatement) -> Result<(), StepError> {
        let at = |error: Error| StepError {
            span: statement.span,
            error: Box::new(error),
        };
        let call = &statement.call;
        let method = methods::find(&call.method.name, call.target.is_some())
            .expect("the checker knows every method");
        let machine = call.target.as_ref().map(|target| {
            resolve_machine(&target.name, &self.machines)
                .expect("the checker knows every machine")
                .to_string()
        });
        let args: Vec<Value> = call.args.iter().map(|arg| self.value(arg)).collect();
        let options = call
            .options
            .iter()
            .map(|option| (option.name.name.clone(), self.value(&option.value)))
            .collect();
        let check = match &statement.check {
            Some(check) => Some(OutputCheck::new(check, self.text(&check.operand)).map_err(
                |error| StepError {
                    span: check.span,
                    error: Box::new(error),
                },
            )?),
            None => None,
        };
        let condition = check.as_ref().map(|check| {
            let holds = move |output: &str| Ok(check.holds(output));
            Box::new(holds) as Box<dyn Fn(&str) -> Result<bool, Error>>
        });
        let description = describe_call(&call.method.name, &args);
        let output = {
            let mut invocation = Invocation {
                backend: &mut *self.backend,
                machine: machine.as_deref(),
                args,
                options,
                condition: condition.as_deref(),
            };
            (method.run)(&mut invocation).map_err(at)?
        };
        let output = output.unwrap_or_default();
        if let Some(check) = &check
            && !check.holds(&output)
        {
            return Err(at(Error::CheckFailed {
                machine,
                call: description,
                check: check.describe(),
                output,
            }));
        }
        match &statement.capture {
            Some(capture) => {
                self.vars.insert(
                    capture.name.clone(),
                    output.trim_end_matches('\n').to_string(),
                );
            }
            None if method.signature.returns_text => self.last_output = Some(output),
            None => {}
        }
        Ok(())
    }

    fn value(&self, arg: &Arg) -> Value {
        match arg {
            Arg::Text(text) => Value::Text(self.text(text)),
            Arg::Number(number) => Value::Number(number.value),
        }
    }

    fn text(&self, text: &Text) -> String {
        let mut out = String::new();
        for part in &text.parts {
            match part {
                TextPart::Literal(literal) => out.push_str(literal),
                TextPart::Var(var) => out.push_str(
                    self.vars
                        .get(&var.name)
                        .map(String::as_str)
                        .unwrap_or_default(),
                ),
            }
        }
        out
    }
}

/// "succeed `echo hi`": a call as named in messages.
fn describe_call(method: &str, args: &[Value]) -> String {
    match args.first() {
        Some(Value::Text(text)) => format!("{method} `{}`", crate::error::one_line(text)),
        Some(Value::Number(number)) => format!("{method} {number}"),
        None => method.to_string(),
    }
}

/// An output check with its operand evaluated (and its regex compiled).
struct OutputCheck {
    op: CheckOp,
    operand: String,
    regex: Option<Regex>,
}

impl OutputCheck {
    fn new(check: &Check, operand: String) -> Result<OutputCheck, Error> {
        let regex = match check.op {
            CheckOp::Matches | CheckOp::NotMatches => {
                Some(Regex::new(&operand).map_err(|e| Error::InvalidValue {
                    message: format!("invalid regex `{operand}`: {e}"),
                })?)
            }
            _ => None,
        };
        Ok(OutputCheck {
            op: check.op,
            operand,
            regex,
        })
    }

    fn holds(&self, output: &str) -> bool {
        let trimmed = output.trim_end_matches('\n');
        match self.op {
            CheckOp::Matches => self.regex_matches(output),
            CheckOp::NotMatches => !self.regex_matches(output),
            CheckOp::Equals => trimmed == self.operand,
            CheckOp::NotEquals => trimmed != self.operand,
            CheckOp::Contains => output.contains(&self.operand),
            CheckOp::NotContains => !output.contains(&self.operand),
        }
    }

    /// Searches the output as Python's `re.search` would: `$` also matches just
    /// before a final newline, so `echo hello` satisfies `=~ "hello$"`.
    fn regex_matches(&self, output: &str) -> bool {
        self.regex.as_ref().is_some_and(|re| {
            re.is_match(output)
                || output
                    .strip_suffix('\n')
                    .is_some_and(|without| re.is_match(without))
        })
    }

    fn describe(&self) -> String {
        format!("{} {:?}", self.op.as_str(), self.operand)
    }
}
