//! The interpreter: walks a checked script, computes values and calls the method
//! table.
//!
//! It never touches a socket or a process: machines are reached through
//! [`crate::backend::Backend`]. It relies on the checker for everything static
//! (names, arity, method receivers), and reports what only a run can tell (an
//! index out of range, `int("x")`, a failed assert) as a [`StepError`] at the
//! expression or statement that raised it. An error inside a procedure also
//! records each call that led there, so the report can show both places.
//!
//! Values follow `script::value`. The value of a method that returns text
//! is its output with trailing newlines dropped, as in shell command substitution;
//! methods that return nothing give `None`. Procedures are hoisted: [`Interpreter::run`]
//! registers every `def` of the statements before running them. A procedure runs
//! in its own frame: it reads its parameters, its own variables, then the
//! top-level ones as they are when it runs; what it assigns stays local.
//!
//! Polling conditions: `polling_condition` binds a [`Polling`], which captures
//! the variables of the procedure defining it. `with` makes conditions active for
//! its body; before each machine method, every active condition that is due (not
//! checked for its interval) runs its check in a frame of its own, logged as a
//! nest. A check's own methods check no condition. A failed check fails the step
//! with [`Error::PollingConditionFailed`], located at the check's failing line and
//! "called from" the method it ran before. A wait that loops on the host (the
//! guest-side retries of `wait_until_succeeds`, `wait_for_unit`, …) also checks
//! them between its rounds, at most every few seconds, through
//! [`Invocation::between`].

use crate::backend::Backend;
use crate::cancel::{Deadline, seconds};
use crate::error::Error;
use crate::exit::Status;
use crate::logger::NestEnd;
use crate::methods::{self, Between, DEFAULT_TIMEOUT, Invocation, Method, Value as Arg};
use crate::script::ast::{
    BinaryOp, Call, Check, Expr, ExprKind, Ident, Procedure, Statement, StatementKind, TextPart,
    UnaryOp,
};
use crate::script::builtins;
use crate::script::check::{MACHINES, VLANS, resolve_machine};
use crate::script::signature::{MAX_TTY, Receiver, ValueKind};
use crate::script::span::Span;
use crate::script::value::{Polling, Value};
use regex_lite::Regex;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// A runtime error and where it was raised.
#[derive(Debug)]
pub(crate) struct StepError {
    /// The statement or expression that raised it.
    pub span: Span,
    /// What went wrong (boxed: errors carry outputs and serial tails).
    pub error: Box<Error>,
    /// The procedure calls that led to it, outermost first.
    pub calls: Vec<Span>,
}

impl StepError {
    fn new(span: Span, error: Error) -> StepError {
        StepError {
            span,
            error: Box::new(error),
            calls: Vec::new(),
        }
    }

    /// An error in computing a value (the message of a value operation).
    fn value(span: Span, message: String) -> StepError {
        StepError::new(span, Error::InvalidValue { message })
    }
}

/// The check a wait runs between its rounds (see `Interpreter::between_rounds`).
type BetweenRounds<'f> = dyn FnMut(&mut dyn Backend) -> Result<(), Error> + 'f;

/// How a statement ended.
enum Flow {
    /// Go on with the next statement.
    Next,
    /// `break`.
    Break,
    /// `continue`.
    Continue,
    /// `return`, with the value.
    Return(Value),
}

/// The first pause between two runs of a failed `retry` body; it doubles up to
/// [`RETRY_MAX_PAUSE`].
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause between two runs of a failed `retry` body.
const RETRY_MAX_PAUSE: Duration = Duration::from_secs(1);

/// How often a polling condition is checked unless its `interval` says otherwise
/// (as in the NixOS driver).
const POLLING_INTERVAL: f64 = 2.0;

/// The pause between two checks of a polling condition's `.wait` (as in the
/// NixOS driver's `retry`).
const WAIT_PAUSE: Duration = Duration::from_secs(1);

/// Runs statements against a backend, keeping the script's variables.
pub(crate) struct Interpreter<'a> {
    backend: &'a mut dyn Backend,
    machines: Vec<String>,
    globals: HashMap<String, Value>,
    /// The variables of the procedures running, innermost last.
    frames: Vec<HashMap<String, Value>>,
    procedures: HashMap<String, Rc<Procedure>>,
    /// The statement running, which method failures point at.
    statement: Span,
    last_output: Option<String>,
    /// The polling conditions the enclosing `with` blocks made active, outermost
    /// first.
    active: Vec<Rc<Polling>>,
}

impl<'a> Interpreter<'a> {
    /// An interpreter for the given machines.
    pub(crate) fn new(backend: &'a mut dyn Backend, machines: Vec<String>) -> Interpreter<'a> {
        Interpreter {
            backend,
            machines,
            globals: HashMap::new(),
            frames: Vec::new(),
            procedures: HashMap::new(),
            statement: Span::default(),
            last_output: None,
            active: Vec::new(),
        }
    }

    /// Registers the procedures of `statements`, then runs them in order, stopping
    /// at the first error.
    pub(crate) fn run(&mut self, statements: &[Statement]) -> Result<(), StepError> {
        for statement in statements {
            if let StatementKind::Def(procedure) = &statement.kind {
                let name = procedure.name.name.clone();
                self.procedures.insert(name, Rc::new(procedure.clone()));
            }
        }
        self.block(statements).map(|_| ())
    }

    /// The text the last expression statement gave, if any (the interactive prompt
    /// prints it).
    pub(crate) fn take_output(&mut self) -> Option<String> {
        self.last_output.take()
    }

    fn block(&mut self, statements: &[Statement]) -> Result<Flow, StepError> {
        for statement in statements {
            match self.statement(statement)? {
                Flow::Next => {}
                flow => return Ok(flow),
            }
        }
        Ok(Flow::Next)
    }

    fn statement(&mut self, statement: &Statement) -> Result<Flow, StepError> {
        self.statement = statement.span;
        match &statement.kind {
            StatementKind::Expr(expr) => {
                let value = self.eval(expr)?;
                if self.frames.is_empty() && value != Value::None {
                    // Moved, not copied: the value may be a large command output.
                    self.last_output = Some(match value {
                        Value::Str(text) => text,
                        other => other.to_text(),
                    });
                }
            }
            StatementKind::Assign { targets, value } => self.assign(targets, value)?,
            StatementKind::SetItem {
                target,
                path,
                value,
            } => self.set_item(target, path, value)?,
            StatementKind::Assert { condition, message } => self.assert(condition, message)?,
            StatementKind::If {
                branches,
                otherwise,
            } => {
                for (condition, body) in branches {
                    if self.eval(condition)?.truthy() {
                        return self.block(body);
                    }
                }
                if let Some(body) = otherwise {
                    return self.block(body);
                }
            }
            StatementKind::For {
                var,
                iterable,
                body,
            } => {
                let items = self.eval(iterable)?;
                let items = items
                    .items()
                    .map_err(|message| StepError::value(iterable.span, message))?;
                for item in items {
                    self.bind(&var.name, item);
                    match self.block(body)? {
                        Flow::Break => break,
                        Flow::Next | Flow::Continue => {}
                        flow @ Flow::Return(_) => return Ok(flow),
                    }
                }
            }
            StatementKind::While { condition, body } => loop {
                // The condition's calls fail at the `while`, not at the body's last line.
                self.statement = statement.span;
                self.backend
                    .cancel()
                    .check()
                    .map_err(|error| StepError::new(statement.span, error))?;
                if !self.eval(condition)?.truthy() {
                    break;
                }
                match self.block(body)? {
                    Flow::Break => break,
                    Flow::Next | Flow::Continue => {}
                    flow @ Flow::Return(_) => return Ok(flow),
                }
            },
            StatementKind::Break => return Ok(Flow::Break),
            StatementKind::Continue => return Ok(Flow::Continue),
            StatementKind::Def(_) => {}
            StatementKind::Return(value) => {
                let value = match value {
                    Some(value) => self.eval(value)?,
                    None => Value::None,
                };
                return Ok(Flow::Return(value));
            }
            StatementKind::Subtest { name, body } => {
                let title = self.eval(name)?.to_text();
                let logger = self.backend.logger();
                logger.open_nest(None, &format!("subtest: {title}"));
                let result = self.block(body);
                if let Err(failure) = &result {
                    logger.error(
                        None,
                        &format!("subtest \"{title}\" failed: {}", failure.error),
                    );
                }
                logger.close_nest(match result {
                    Ok(_) => NestEnd::Finished,
                    Err(_) => NestEnd::Failed,
                });
                return result;
            }
            StatementKind::Retry { timeout, body } => {
                return self.retry(statement.span, timeout.as_ref(), body);
            }
            StatementKind::RetryCall { timeout, function } => {
                self.retry_call(statement.span, timeout.as_ref(), function)?;
            }
            StatementKind::PollingCondition(condition) => {
                let interval = match &condition.interval {
                    Some(interval) => self.seconds(interval, "option `interval`")?,
                    None => POLLING_INTERVAL,
                };
                let description = match &condition.description {
                    Some(description) => self.eval(description)?.to_text(),
                    None => condition.name.name.clone(),
                };
                let polling = Polling {
                    name: condition.name.name.clone(),
                    span: condition.name.span,
                    description,
                    interval: seconds(interval),
                    body: Rc::new(condition.body.clone()),
                    captured: self.frames.last().cloned().unwrap_or_default(),
                    last_checked: Cell::new(None),
                    checking: Cell::new(false),
                };
                self.bind(&condition.name.name, Value::Condition(Rc::new(polling)));
            }
            StatementKind::With { conditions, body } => {
                let active = self.active.len();
                for condition in conditions {
                    let condition = self.condition(condition)?;
                    self.active.push(condition);
                }
                let result = self.block(body);
                self.active.truncate(active);
                return result;
            }
            StatementKind::WaitCondition { condition, timeout } => {
                let limit = match timeout {
                    Some(timeout) => self.seconds(timeout, "option `timeout` of `wait`")?,
                    None => DEFAULT_TIMEOUT,
                };
                let limit = limit * self.backend.timeout_scale();
                let condition = self.condition(condition)?;
                self.wait_condition(&condition, limit, statement.span)?;
            }
        }
        Ok(Flow::Next)
    }

    /// Evaluates `expr` as a number of seconds; `what` names its slot.
    fn seconds(&mut self, expr: &Expr, what: &str) -> Result<f64, StepError> {
        match self.method_arg(expr, ValueKind::Seconds, what)? {
            Arg::Number(seconds) => Ok(seconds),
            Arg::Text(_) | Arg::Bool(_) => unreachable!("seconds convert to a number"),
        }
    }

    /// The polling condition `expr` names.
    fn condition(&mut self, expr: &Expr) -> Result<Rc<Polling>, StepError> {
        match self.eval(expr)? {
            Value::Condition(condition) => Ok(condition),
            other => Err(StepError::value(
                expr.span,
                format!("expected a polling condition, found {}", other.repr()),
            )),
        }
    }

    /// Checks the active polling conditions that are due, before a machine method
    /// runs; the first that fails fails the step.
    fn poll_conditions(&mut self) -> Result<(), StepError> {
        let active = self.active.clone();
        let trigger = self.statement;
        for condition in active {
            // Due is judged when its turn comes: `with c, c` checks `c` once.
            if !condition.due() {
                continue;
            }
            if let Err(mut failure) = self.check_condition(&condition, None) {
                failure.calls.insert(0, trigger);
                return Err(failure);
            }
        }
        Ok(())
    }

    /// The check a wait runs between its rounds while conditions are active: the
    /// due ones run in an interpreter of their own on the backend the wait lends,
    /// with the variables as they are now; a failure's place and calls go to
    /// `failed_at`, its error ends the wait.
    fn between_rounds<'f>(
        &self,
        failed_at: &'f RefCell<Option<(Span, Vec<Span>)>>,
    ) -> Option<Box<BetweenRounds<'f>>> {
        if self.active.is_empty() {
            return None;
        }
        let machines = self.machines.clone();
        let globals = self.globals.clone();
        let procedures = self.procedures.clone();
        let active = self.active.clone();
        let statement = self.statement;
        Some(Box::new(move |backend: &mut dyn Backend| {
            if !active.iter().any(|condition| condition.due()) {
                return Ok(());
            }
            let mut checker = Interpreter::new(backend, machines.clone());
            checker.globals = globals.clone();
            checker.procedures = procedures.clone();
            checker.active = active.clone();
            checker.statement = statement;
            checker.poll_conditions().map_err(|failure| {
                *failed_at.borrow_mut() = Some((failure.span, failure.calls));
                *failure.error
            })
        }))
    }

    /// Runs `condition`'s check once, logged as a nest. A failure that fails the
    /// test becomes [`Error::PollingConditionFailed`] (with `waited`, for a
    /// `.wait`); others (a signal, the global timeout) pass through.
    fn check_condition(
        &mut self,
        condition: &Polling,
        waited: Option<f64>,
    ) -> Result<(), StepError> {
        let logger = self.backend.logger();
        let description = &condition.description;
        logger.open_nest(None, &format!("checking polling condition '{description}'"));
        match condition.last_checked.get() {
            Some(last) => logger.log(
                None,
                &format!(
                    "time since last check: {:.2} s",
                    last.elapsed().as_secs_f64()
                ),
            ),
            None => logger.log(None, "(not checked yet)"),
        }
        let caller = self.statement;
        condition.checking.set(true);
        self.frames.push(condition.captured.clone());
        let result = self.block(&condition.body);
        self.frames.pop();
        condition.checking.set(false);
        self.statement = caller;
        condition.last_checked.set(Some(std::time::Instant::now()));
        let failed = |span, calls, failure| StepError {
            span,
            error: Box::new(Error::PollingConditionFailed {
                name: condition.name.clone(),
                description: description.clone(),
                waited,
                failure,
            }),
            calls,
        };
        let failure = match result {
            Ok(Flow::Return(value)) if value != Value::None && !value.truthy() => {
                Some(failed(condition.span, Vec::new(), None))
            }
            Ok(_) => None,
            Err(failure) if failure.error.status() != Status::TestFailed => {
                logger.close_nest(NestEnd::Failed);
                return Err(failure);
            }
            Err(StepError { span, error, calls }) => Some(failed(span, calls, Some(error))),
        };
        let verdict = if failure.is_some() {
            "failed"
        } else {
            "succeeded"
        };
        logger.log(None, &format!("polling condition {verdict}: {description}"));
        logger.close_nest(match failure {
            Some(_) => NestEnd::Failed,
            None => NestEnd::Finished,
        });
        failure.map_or(Ok(()), Err)
    }

    /// `name.wait`: checks `condition` until it holds, every second, for at most
    /// `limit` seconds.
    fn wait_condition(
        &mut self,
        condition: &Polling,
        limit: f64,
        span: Span,
    ) -> Result<(), StepError> {
        if condition.checking.get() {
            return Err(StepError::value(
                span,
                format!(
                    "polling condition `{}` waits on itself: its check is running",
                    condition.name
                ),
            ));
        }
        let deadline = Deadline::after(seconds(limit));
        let logger = self.backend.logger();
        logger.open_nest(None, &format!("waiting for {}", condition.description));
        let result = loop {
            match self.check_condition(condition, Some(limit)) {
                Ok(()) => break Ok(()),
                Err(failure)
                    if failure.error.status() == Status::TestFailed && !deadline.passed() => {}
                Err(failure) => break Err(failure),
            }
            if let Err(error) = self
                .backend
                .cancel()
                .sleep(WAIT_PAUSE.min(deadline.remaining()))
            {
                break Err(StepError::new(span, error));
            }
        };
        logger.close_nest(match result {
            Ok(()) => NestEnd::Finished,
            Err(_) => NestEnd::Failed,
        });
        result.map_err(|mut failure| {
            failure.calls.insert(0, span);
            failure
        })
    }

    /// Runs `body` until it passes, while it fails the test and time is left.
    fn retry(
        &mut self,
        span: Span,
        timeout: Option<&Expr>,
        body: &[Statement],
    ) -> Result<Flow, StepError> {
        let limit = self.retry_limit(timeout)?;
        let deadline = Deadline::after(seconds(limit));
        let logger = self.backend.logger();
        let mut pause = RETRY_PAUSE;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let failure = match self.block(body) {
                Ok(flow) => return Ok(flow),
                Err(failure) => failure,
            };
            if failure.error.status() != Status::TestFailed {
                return Err(failure);
            }
            if deadline.passed() {
                let StepError { span, error, calls } = failure;
                return Err(StepError {
                    span,
                    error: Box::new(Error::RetryGaveUp {
                        seconds: limit,
                        attempts,
                        last: error,
                    }),
                    calls,
                });
            }
            logger.log(
                None,
                &format!("retry: attempt {attempts} failed: {}", failure.error),
            );
            self.backend
                .cancel()
                .sleep(pause.min(deadline.remaining()))
                .map_err(|error| StepError::new(span, error))?;
            pause = (pause * 2).min(RETRY_MAX_PAUSE);
        }
    }

    /// `retry function`: calls `function(false)` until it gives a true value, a
    /// second apart, then `function(true)` once when the time is up; its
    /// failures end the retry.
    fn retry_call(
        &mut self,
        span: Span,
        timeout: Option<&Expr>,
        function: &Ident,
    ) -> Result<(), StepError> {
        let limit = self.retry_limit(timeout)?;
        let deadline = Deadline::after(seconds(limit));
        let procedure = self
            .procedures
            .get(&function.name)
            .cloned()
            .expect("the checker knows every procedure");
        for attempts in 1.. {
            let last_try = deadline.passed();
            let call = Call::retry_try(function, last_try);
            if self.procedure(&procedure, &call, span)?.truthy() {
                break;
            }
            if last_try {
                return Err(StepError::value(
                    span,
                    format!(
                        "retry gave up after {limit} s ({attempts} attempts): `{}` gave a false value",
                        function.name
                    ),
                ));
            }
            self.backend
                .cancel()
                .sleep(WAIT_PAUSE.min(deadline.remaining()))
                .map_err(|error| StepError::new(span, error))?;
        }
        Ok(())
    }

    /// The `timeout` of a `retry` in seconds (default 900), times the timeout
    /// scale.
    fn retry_limit(&mut self, timeout: Option<&Expr>) -> Result<f64, StepError> {
        let limit = match timeout {
            Some(timeout) => self.seconds(timeout, "option `timeout` of `retry`")?,
            None => DEFAULT_TIMEOUT,
        };
        Ok(limit * self.backend.timeout_scale())
    }

    /// `a = value` or `a, b = value`.
    fn assign(&mut self, targets: &[Ident], value: &Expr) -> Result<(), StepError> {
        if let [target] = targets {
            let value = self.eval(value)?;
            self.bind(&target.name, value);
            return Ok(());
        }
        let values = match &value.kind {
            ExprKind::Call(call) if self.status_method(call).is_some() => {
                let (output, status) = self.call(call, value.span, true)?;
                vec![Value::Int(i64::from(status.unwrap_or_default())), output]
            }
            _ => match self.eval(value)? {
                Value::List(items) if items.len() == targets.len() => items,
                other => {
                    return Err(StepError::value(
                        value.span,
                        format!(
                            "cannot unpack {} into {} names",
                            other.repr(),
                            targets.len()
                        ),
                    ));
                }
            },
        };
        for (target, value) in targets.iter().zip(values) {
            self.bind(&target.name, value);
        }
        Ok(())
    }

    /// `name[i]… = value`: changes the item in the variable where `lookup` finds it
    /// (the procedure's own, else the top-level one).
    fn set_item(&mut self, target: &Ident, path: &[Expr], value: &Expr) -> Result<(), StepError> {
        let value = self.eval(value)?;
        let keys = path
            .iter()
            .map(|index| self.eval(index))
            .collect::<Result<Vec<_>, _>>()?;
        let name = target.name.as_str();
        let in_frame = self
            .frames
            .last()
            .is_some_and(|frame| frame.contains_key(name));
        let scope = match self.frames.last_mut() {
            Some(frame) if in_frame => frame,
            _ => &mut self.globals,
        };
        let Some(mut slot) = scope.get_mut(name) else {
            // Not set yet: the error `lookup` gives.
            return self.lookup(target).map(|_| ());
        };
        for (i, (key, index)) in keys.iter().zip(path).enumerate() {
            let last = i + 1 == keys.len();
            slot = slot
                .item_mut(key, last)
                .map_err(|message| StepError::value(index.span, message))?;
        }
        *slot = value;
        Ok(())
    }

    /// The method a call means when it is a method of the table that gives an
    /// exit status (`execute`).
    fn status_method(&self, call: &Call) -> Option<&'static Method> {
        let receiver = match &call.target {
            Some(_) => Receiver::Machine,
            None if self.procedures.contains_key(&call.name.name) => return None,
            None => Receiver::Global,
        };
        methods::find(&call.name.name, receiver).filter(|m| m.signature.returns_status)
    }

    /// `assert condition[, message]`; a failed comparison shows both sides.
    fn assert(&mut self, condition: &Expr, message: &Option<Expr>) -> Result<(), StepError> {
        let (holds, sides) = match &condition.kind {
            ExprKind::Binary { op, left, right } if op.is_comparison() => {
                let left = self.eval(left)?;
                let right = self.eval(right)?;
                let holds = compare(*op, &left, &right)
                    .map_err(|message| StepError::value(condition.span, message))?;
                (holds, Some((*op, left, right)))
            }
            _ => (self.eval(condition)?.truthy(), None),
        };
        if holds {
            return Ok(());
        }
        let message = match message {
            Some(message) => Some(self.eval(message)?.to_text()),
            None => None,
        };
        Err(StepError::new(
            self.statement,
            Error::AssertFailed {
                message,
                comparison: sides
                    .map(|(op, left, right)| (op.as_str().to_string(), left.repr(), right.repr())),
            },
        ))
    }

    // Variables.

    fn bind(&mut self, name: &str, value: Value) {
        let scope = self.frames.last_mut().unwrap_or(&mut self.globals);
        scope.insert(name.to_string(), value);
    }

    fn lookup(&self, ident: &Ident) -> Result<Value, StepError> {
        let name = ident.name.as_str();
        let local = self.frames.last().and_then(|frame| frame.get(name));
        if let Some(value) = local.or_else(|| self.globals.get(name)) {
            return Ok(value.clone());
        }
        if let Some(machine) = resolve_machine(name, &self.machines) {
            return Ok(Value::Machine(machine.to_string()));
        }
        if name == MACHINES {
            let all = self.backend.machine_names();
            return Ok(Value::List(all.into_iter().map(Value::Machine).collect()));
        }
        if name == VLANS {
            let all = self
                .backend
                .vlans()
                .into_iter()
                .map(|n| Value::Int(n.into()));
            return Ok(Value::List(all.collect()));
        }
        Err(StepError::value(
            ident.span,
            format!(
                "variable `{name}` has no value here: it is not set yet, or set on a path that did not run"
            ),
        ))
    }

    // Expressions.

    fn eval(&mut self, expr: &Expr) -> Result<Value, StepError> {
        let at = |message: String| StepError::value(expr.span, message);
        Ok(match &expr.kind {
            ExprKind::Str(text) => {
                let mut out = String::new();
                for part in &text.parts {
                    match part {
                        TextPart::Literal(literal) => out.push_str(literal),
                        TextPart::Expr(hole) => out.push_str(&self.eval(hole)?.to_text()),
                    }
                }
                Value::Str(out)
            }
            ExprKind::Int(i) => Value::Int(*i),
            ExprKind::Float(f) => Value::Float(*f),
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::None => Value::None,
            ExprKind::List(items) => Value::List(
                items
                    .iter()
                    .map(|item| self.eval(item))
                    .collect::<Result<_, _>>()?,
            ),
            ExprKind::Dict(entries) => {
                let mut object: Vec<(String, Value)> = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    let key = match self.eval(key)? {
                        Value::Str(text) => text,
                        other => {
                            let message = format!(
                                "a JSON object's key must be a string, found {}",
                                other.repr()
                            );
                            return Err(StepError::value(key.span, message));
                        }
                    };
                    let value = self.eval(value)?;
                    // As in Python: a repeated key keeps its place, the last value wins.
                    match object.iter_mut().find(|(k, _)| *k == key) {
                        Some(entry) => entry.1 = value,
                        None => object.push((key, value)),
                    }
                }
                Value::Dict(object)
            }
            ExprKind::Name(ident) => self.lookup(ident)?,
            ExprKind::Index { base, index } => {
                let base = self.eval(base)?;
                let index = self.eval(index)?;
                base.index(&index).map_err(at)?
            }
            ExprKind::Slice { base, start, end } => {
                let base = self.eval(base)?;
                let start = start.as_deref().map(|e| self.eval(e)).transpose()?;
                let end = end.as_deref().map(|e| self.eval(e)).transpose()?;
                base.slice(start.as_ref(), end.as_ref()).map_err(at)?
            }
            ExprKind::Unary { op, operand } => {
                let value = self.eval(operand)?;
                match op {
                    UnaryOp::Not => Value::Bool(!value.truthy()),
                    UnaryOp::Neg => Value::Int(0)
                        .arithmetic(&value, "-", i64::checked_sub, |x, y| x - y)
                        .map_err(|_| at(format!("`-` cannot take {}", value.kind().describe())))?,
                }
            }
            ExprKind::Binary { op, left, right } => {
                let left = self.eval(left)?;
                match op {
                    BinaryOp::And if !left.truthy() => left,
                    BinaryOp::Or if left.truthy() => left,
                    BinaryOp::And | BinaryOp::Or => self.eval(right)?,
                    op => {
                        let right = self.eval(right)?;
                        binary(*op, &left, &right).map_err(at)?
                    }
                }
            }
            ExprKind::Call(call) => self.call(call, expr.span, false)?.0,
        })
    }

    /// Runs a call; returns its value and, with `want_status`, the exit status of
    /// a method that gives one.
    fn call(
        &mut self,
        call: &Call,
        span: Span,
        want_status: bool,
    ) -> Result<(Value, Option<i32>), StepError> {
        let name = call.name.name.as_str();
        let (value, status) = match &call.target {
            None => {
                if let Some(procedure) = self.procedures.get(name).cloned() {
                    (self.procedure(&procedure, call, span)?, None)
                } else if let Some(function) = builtins::function(name) {
                    let args = self.args(call)?;
                    let value = (function.run)(&args).map_err(|m| StepError::value(span, m))?;
                    (value, None)
                } else if let Some(method) = methods::find(name, Receiver::Global) {
                    return self.method(method, None, call, want_status);
                } else {
                    // A variable alone as a statement (the checker allows no other).
                    (self.lookup(&call.name)?, None)
                }
            }
            Some(target) => match self.eval(target)? {
                Value::Machine(machine) => {
                    let method = methods::find(name, Receiver::Machine)
                        .expect("the checker knows every method");
                    return self.method(method, Some(machine), call, want_status);
                }
                receiver => {
                    let method =
                        builtins::value_method(receiver.kind(), name).ok_or_else(|| {
                            StepError::value(
                                call.name.span,
                                format!("{} has no method `{name}`", receiver.kind().describe()),
                            )
                        })?;
                    let args = self.args(call)?;
                    let value =
                        (method.run)(&receiver, &args).map_err(|m| StepError::value(span, m))?;
                    (value, None)
                }
            },
        };
        if let Some(check) = &call.check {
            let operand = self.eval(&check.operand)?;
            let holds = compare(check.op, &value, &operand)
                .map_err(|message| StepError::value(check.span, message))?;
            if !holds {
                return Err(StepError::new(
                    self.statement,
                    Error::AssertFailed {
                        message: None,
                        comparison: Some((
                            check.op.as_str().to_string(),
                            value.repr(),
                            operand.repr(),
                        )),
                    },
                ));
            }
        }
        Ok((value, status))
    }

    fn args(&mut self, call: &Call) -> Result<Vec<Value>, StepError> {
        call.args.iter().map(|arg| self.eval(arg)).collect()
    }

    /// Runs a procedure in a new frame; an error inside gains this call's span.
    fn procedure(
        &mut self,
        procedure: &Procedure,
        call: &Call,
        span: Span,
    ) -> Result<Value, StepError> {
        let args = self.args(call)?;
        let frame = procedure
            .params
            .iter()
            .map(|param| param.name.clone())
            .zip(args)
            .collect();
        let caller = self.statement;
        self.frames.push(frame);
        let result = self.block(&procedure.body);
        self.frames.pop();
        self.statement = caller;
        match result {
            Ok(Flow::Return(value)) => Ok(value),
            Ok(_) => Ok(Value::None),
            Err(mut failure) => {
                failure.calls.insert(0, span);
                Err(failure)
            }
        }
    }

    /// Runs a method of the table on `machine` (or globally).
    fn method(
        &mut self,
        method: &'static Method,
        machine: Option<String>,
        call: &Call,
        want_status: bool,
    ) -> Result<(Value, Option<i32>), StepError> {
        if machine.is_some() {
            self.poll_conditions()?;
        }
        let signature = &method.signature;
        let mut args = Vec::with_capacity(call.args.len());
        let mut options = Vec::with_capacity(call.options.len());
        for (i, arg) in call.args.iter().enumerate() {
            if let Some(spec) = signature.positional_option(i) {
                let what = format!("option `{}` of `{}`", spec.name, signature.name);
                if let Some(value) = self.method_option(arg, spec.kind, &what)? {
                    options.push((spec, value));
                }
                continue;
            }
            let param = signature.params.get(i).or(signature.params.last());
            let param = param.copied().unwrap_or("argument");
            let what = format!("argument `{param}` of `{}`", signature.name);
            args.push(self.method_arg(arg, signature.kind_of(i), &what)?);
        }
        for option in &call.options {
            let spec = signature
                .option(&option.name.name)
                .expect("the checker knows every option");
            let what = format!("option `{}` of `{}`", spec.name, signature.name);
            if let Some(value) = self.method_option(&option.value, spec.kind, &what)? {
                options.push((spec, value));
            }
        }
        let check = match &call.check {
            Some(check) => Some(self.output_check(check)?),
            None => None,
        };
        let condition = check.as_ref().map(|check| {
            let holds = move |output: &str| Ok(check.holds(output));
            Box::new(holds) as Box<dyn Fn(&str) -> Result<bool, Error>>
        });
        let description = describe_call(signature.name, &args);
        let at = self.statement;
        // Where a polling condition checked during a wait failed, and the calls.
        let failed_at = RefCell::new(None);
        let mut between = self.between_rounds(&failed_at);
        let mut invocation = Invocation {
            backend: &mut *self.backend,
            machine: machine.as_deref(),
            args,
            options,
            condition: condition.as_deref(),
            status: None,
            value: None,
            between: between.as_mut().map(|check| check as Between<'_>),
        };
        let output = (method.run)(&mut invocation).map_err(|error| {
            let (span, calls) = failed_at.take().unwrap_or((at, Vec::new()));
            StepError {
                span,
                error: Box::new(error),
                calls,
            }
        })?;
        let status = invocation.status.filter(|_| want_status);
        let Some(output) = output else {
            return Ok((Value::None, status));
        };
        if let Some(check) = &check
            && !check.holds(&output)
        {
            return Err(StepError::new(
                at,
                Error::CheckFailed {
                    machine,
                    call: description,
                    check: check.describe(),
                    output,
                },
            ));
        }
        let value = match invocation.value.take() {
            Some(value) => value,
            None => {
                // Trimmed in place: a copy would double the memory a large output takes.
                let mut output = output;
                output.truncate(output.trim_end_matches('\n').len());
                Value::Str(output)
            }
        };
        Ok((value, status))
    }

    /// Evaluates `expr` as a method argument of `kind`; `what` names its slot.
    fn method_arg(&mut self, expr: &Expr, kind: ValueKind, what: &str) -> Result<Arg, StepError> {
        let value = self.eval(expr)?;
        to_arg(&value, kind).map_err(|expected| {
            let message = format!("{what} must be {expected}, found {}", value.repr());
            StepError::value(expr.span, message)
        })
    }

    /// An option's value, or `None` for Python's `None` (`user=None`): not given.
    fn method_option(
        &mut self,
        expr: &Expr,
        kind: ValueKind,
        what: &str,
    ) -> Result<Option<Arg>, StepError> {
        if matches!(expr.kind, ExprKind::None) {
            return Ok(None);
        }
        self.method_arg(expr, kind, what).map(Some)
    }

    /// A call's output check, its operand evaluated (and its regex compiled).
    fn output_check(&mut self, check: &Check) -> Result<OutputCheck, StepError> {
        let operand = self.eval(&check.operand)?.to_text();
        let regex = match check.op {
            BinaryOp::Matches | BinaryOp::NotMatches => Some(
                Regex::new(&operand)
                    .map_err(|e| StepError::value(check.span, invalid_regex(&operand, &e)))?,
            ),
            _ => None,
        };
        Ok(OutputCheck {
            op: check.op,
            operand,
            regex,
        })
    }
}

/// A value as a method argument of `kind`, or what the kind wants.
fn to_arg(value: &Value, kind: ValueKind) -> Result<Arg, &'static str> {
    match (kind, value) {
        (ValueKind::Text | ValueKind::Regex, Value::Str(text)) => Ok(Arg::Text(text.clone())),
        (ValueKind::Text | ValueKind::Regex, _) => Err("a string"),
        (ValueKind::Seconds, Value::Int(n)) if *n >= 0 => Ok(Arg::Number(*n as f64)),
        (ValueKind::Seconds, Value::Float(f)) if *f >= 0.0 && f.is_finite() => Ok(Arg::Number(*f)),
        (ValueKind::Seconds, _) => Err("a non-negative number of seconds"),
        (ValueKind::Port, Value::Int(n)) if (1..=65535).contains(n) => Ok(Arg::Number(*n as f64)),
        (ValueKind::Port, Value::Str(text)) => match text.trim().parse::<i64>() {
            Ok(n) if (1..=65535).contains(&n) => Ok(Arg::Number(n as f64)),
            _ => Err("a port number from 1 to 65535"),
        },
        (ValueKind::Port, _) => Err("a port number from 1 to 65535"),
        (ValueKind::Bool, Value::Bool(flag)) => Ok(Arg::Bool(*flag)),
        (ValueKind::Bool, _) => Err("True or False"),
        // `send_chars` checks the characters itself, naming the one refused.
        (ValueKind::Keys, Value::Str(text)) => Ok(Arg::Text(text.clone())),
        (ValueKind::Keys, _) => Err("a string"),
        (ValueKind::Tty, Value::Int(n)) if (1..=MAX_TTY).contains(n) => Ok(Arg::Number(*n as f64)),
        // NixOS passes ttys as strings.
        (ValueKind::Tty, Value::Str(text)) => match text.trim().parse::<i64>() {
            Ok(n) if (1..=MAX_TTY).contains(&n) => Ok(Arg::Number(n as f64)),
            _ => Err("a tty number from 1 to 63"),
        },
        (ValueKind::Tty, _) => Err("a tty number from 1 to 63"),
    }
}

/// Applies a non-short-circuit binary operator.
fn binary(op: BinaryOp, left: &Value, right: &Value) -> Result<Value, String> {
    match op {
        BinaryOp::Add => left.add(right),
        BinaryOp::Sub => left.arithmetic(right, "-", i64::checked_sub, |x, y| x - y),
        BinaryOp::Mul => left.arithmetic(right, "*", i64::checked_mul, |x, y| x * y),
        BinaryOp::Div => left.arithmetic(right, "/", |_, _| None, |x, y| x / y),
        op => compare(op, left, right).map(Value::Bool),
    }
}

/// Applies a comparison operator.
fn compare(op: BinaryOp, left: &Value, right: &Value) -> Result<bool, String> {
    use BinaryOp::*;
    use std::cmp::Ordering::*;
    let name = op.as_str();
    Ok(match op {
        Eq => left.equals(right),
        Ne => !left.equals(right),
        Lt => left.compare(right, name)? == Less,
        Le => left.compare(right, name)? != Greater,
        Gt => left.compare(right, name)? == Greater,
        Ge => left.compare(right, name)? != Less,
        In => right.contains(left, name)?,
        NotIn => !right.contains(left, name)?,
        Contains => left.contains(right, name)?,
        NotContains => !left.contains(right, name)?,
        Matches | NotMatches => {
            let (Value::Str(text), Value::Str(pattern)) = (left, right) else {
                return Err(format!(
                    "`{name}` takes a string and a regex, found {} and {}",
                    left.kind().describe(),
                    right.kind().describe()
                ));
            };
            let regex = Regex::new(pattern).map_err(|e| invalid_regex(pattern, &e))?;
            search(&regex, text) == (op == Matches)
        }
        Add | Sub | Mul | Div | And | Or => {
            return Err(format!("`{name}` is not a comparison"));
        }
    })
}

fn invalid_regex(pattern: &str, error: &regex_lite::Error) -> String {
    format!("invalid regex `{pattern}`: {error}")
}

/// Searches `text` as Python's `re.search` would: `$` also matches just before a
/// final newline, so `echo hello` satisfies `=~ "hello$"`.
fn search(regex: &Regex, text: &str) -> bool {
    regex.is_match(text)
        || text
            .strip_suffix('\n')
            .is_some_and(|without| regex.is_match(without))
}

/// "succeed `echo hi`": a call as named in messages.
fn describe_call(method: &str, args: &[Arg]) -> String {
    match args.first() {
        Some(Arg::Text(text)) => format!("{method} `{}`", crate::error::one_line(text)),
        Some(Arg::Number(number)) => format!("{method} {number}"),
        Some(Arg::Bool(flag)) => format!("{method} {flag}"),
        None => method.to_string(),
    }
}

/// An output check with its operand evaluated (and its regex compiled).
struct OutputCheck {
    op: BinaryOp,
    operand: String,
    regex: Option<Regex>,
}

impl OutputCheck {
    /// Whether `output` (raw, trailing newlines included) passes.
    fn holds(&self, output: &str) -> bool {
        let trimmed = output.trim_end_matches('\n');
        let matches = || self.regex.as_ref().is_some_and(|re| search(re, output));
        match self.op {
            BinaryOp::Matches => matches(),
            BinaryOp::NotMatches => !matches(),
            BinaryOp::Eq => trimmed == self.operand,
            BinaryOp::Ne => trimmed != self.operand,
            BinaryOp::Contains => output.contains(&self.operand),
            BinaryOp::NotContains => !output.contains(&self.operand),
            _ => false,
        }
    }

    fn describe(&self) -> String {
        format!("{} {:?}", self.op.as_str(), self.operand)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::Cancel;
    use crate::color::Palette;
    use crate::logger::Logger;
    use crate::script::check::CheckContext;
    use std::sync::Arc;

    /// A backend without machines: scripts may compute, log and sleep.
    struct NoMachines {
        logger: Arc<Logger>,
        cancel: Cancel,
    }

    impl Backend for NoMachines {
        fn vm(&mut self, name: &str) -> Result<&mut dyn crate::backend::Vm, Error> {
            Err(Error::Machine {
                machine: name.to_string(),
                message: "no machines in unit tests".to_string(),
            })
        }
        fn start_all(&mut self) -> Result<(), Error> {
            Ok(())
        }
        fn join_all(&mut self) -> Result<(), Error> {
            Ok(())
        }
        fn logger(&self) -> Arc<Logger> {
            self.logger.clone()
        }
        fn cancel(&self) -> &Cancel {
            &self.cancel
        }
        fn machine_names(&self) -> Vec<String> {
            Vec::new()
        }
        fn vlans(&self) -> Vec<u32> {
            vec![2, 1]
        }
        fn create_machine(&mut self, _: Vec<String>, name: &str) -> Result<String, Error> {
            Err(Error::Machine {
                machine: name.to_string(),
                message: "no machines in unit tests".to_string(),
            })
        }
        fn output_dir(&self) -> &std::path::Path {
            std::path::Path::new(".")
        }
    }

    /// Checks and runs `src`; on failure returns `line:column: error`, then the
    /// `line:column` of each call that led there, then the details.
    fn run(src: &str) -> Result<(), String> {
        let signatures = methods::signatures();
        let ctx = CheckContext {
            machines: &[],
            signatures: &signatures,
        };
        let script = match crate::script::load("test.cmds", src, &ctx) {
            Ok(script) => script,
            Err(diagnostics) => {
                let rendered: Vec<String> = diagnostics
                    .iter()
                    .map(|d| d.render("test.cmds", src, false))
                    .collect();
                panic!("{src:?} does not check:\n{}", rendered.join(""))
            }
        };
        let mut backend = NoMachines {
            logger: Arc::new(Logger::new(Palette::new(false), None, false)),
            cancel: Cancel::new(Duration::from_secs(60)),
        };
        let mut interpreter = Interpreter::new(&mut backend, Vec::new());
        interpreter.run(&script.statements).map_err(|failure| {
            let at = |span: Span| format!("{}:{}", span.line + 1, span.column + 1);
            let mut lines = vec![format!("{}: {}", at(failure.span), failure.error)];
            lines.extend(
                failure
                    .calls
                    .iter()
                    .map(|call| format!("called at {}", at(*call))),
            );
            lines.extend(failure.error.details());
            lines.join("\n")
        })
    }

    #[track_caller]
    fn passes(src: &str) {
        if let Err(e) = run(src) {
            panic!("{src:?} failed:\n{e}");
        }
    }

    #[track_caller]
    fn fails(src: &str, expected: &str) {
        assert_eq!(run(src), Err(expected.to_string()));
    }

    #[test]
    fn values_and_operators() {
        passes("x = 1 + 2 * 3\nassert x == 7\nassert 7 / 2 == 3.5\nassert -x == 0 - 7");
        passes("s = \"a\" + str(1) + \"${1 + 1}\"\nassert s == \"a12\"\nassert s[-1] == \"2\"");
        passes("l = [1, 2] + [3]\nassert l[1:] == [2, 3] and len(l) == 3 and 2 in l");
        passes("assert not (1 > 2) and (\"b\" not in \"abc\") == false");
        passes("assert (None or \"x\") == \"x\" and (0 and 1) == 0");
        passes("assert \"abc\" =~ \"^a.c$\" and \"abc\" !~ \"z\" and \"abc\" contains \"b\"");
        passes("assert int(\" 42\\n\") == 42 and float(\"1.5\") == 1.5 and str(True) == \"True\"");
    }

    #[test]
    fn strings_json_and_regex_groups() {
        passes("assert \" a b \".strip().split() == [\"a\", \"b\"]");
        passes("assert \",\".join([\"a\", \"b\"]).upper() == \"A,B\"");
        passes(
            "j = json(\"{\\\"a\\\": [1, {\\\"b\\\": null}]}\")\nassert j[\"a\"][1][\"b\"] == None",
        );
        passes("g = match('(\\d+)-(\\d+)?', \"at 12-\")\nassert g == [\"12-\", \"12\", None]");
        passes("assert match('z', \"abc\") == None");
    }

    #[test]
    fn loops_and_conditions() {
        passes(
            "n = 0\nfor i in range(10) {\n  if i == 2 { continue }\n  if i == 5 { break }\n  n = n + i\n}\nassert n == 0 + 1 + 3 + 4",
        );
        passes("s = \"\"\nfor c in \"abc\" { s = c + s }\nassert s == \"cba\"");
        passes(
            "k = []\nfor key in json(\"{\\\"x\\\": 1, \\\"y\\\": 2}\") { k = k + [key] }\nassert k == [\"x\", \"y\"]",
        );
        passes("n = 0\nwhile n < 5 { n = n + 1 }\nassert n == 5");
        passes(
            "if false { assert false } else if true { x = 1 } else { assert false }\nassert x == 1",
        );
        passes("a, b = [1, \"two\"]\nassert b == \"two\"");
        passes("a = 1\na");
        passes("n = 0\nfor v in vlans { n = n + v }\nassert n == 3 and machines == []");
    }

    #[test]
    fn procedures() {
        passes("def add(a, b) {\n  return a + b\n}\nassert add(1, 2) == 3");
        passes("x = 1\ndef f() {\n  x = 5\n  return x\n}\nassert f() == 5 and x == 1");
        passes("def f() {\n  return port + 1\n}\nport = 80\nassert f() == 81");
        passes(
            "def f() {\n  for i in [1, 2] {\n    if i == 2 { return i }\n  }\n}\nassert f() == 2",
        );
        passes("def f() {\n  log \"x\"\n}\nassert f() == None");
    }

    #[test]
    fn failures_point_at_what_failed() {
        fails(
            "x = \"4\"\nassert x == \"3\"",
            "2:1: assertion failed: `==` does not hold\nleft:  '4'\nright: '3'",
        );
        fails(
            "assert 1 > 2, \"too ${'small'}\"",
            "1:1: assertion failed: too small\nleft:  1\nright: 2",
        );
        fails("assert []", "1:1: assertion failed");
        fails(
            "l = [1]\ny = 1 + l[3]",
            "2:9: index 3 is out of range for a list of 1",
        );
        fails(
            "n = int(\"x\")",
            "1:5: `int` cannot read 'x' as a whole number",
        );
        fails("a, b = [1]", "1:8: cannot unpack [1] into 2 names");
        fails(
            "sleep(json(\"-1\"))",
            "1:7: argument `seconds` of `sleep` must be a non-negative number of seconds, found -1",
        );
        fails(
            "def inner(v) {\n  log \"before\"\n  assert v == 1\n}\ndef outer() {\n  inner(2)\n}\nouter()",
            "3:3: assertion failed: `==` does not hold\ncalled at 8:1\ncalled at 6:3\nleft:  2\nright: 1",
        );
        fails(
            "def f() {\n  return late\n}\nf()\nlate = 1",
            "2:10: variable `late` has no value here: it is not set yet, or set on a path that did not run\ncalled at 4:1",
        );
        fails(
            "if true {\n  x = 1\n}\nif false {\n  y = 1\n}\nlog(str(y))",
            "7:9: variable `y` has no value here: it is not set yet, or set on a path that did not run",
        );
    }

    #[test]
    fn retry_until_the_block_passes_or_time_runs_out() {
        passes("n = 0\nretry timeout=10 {\n  n = n + 1\n  assert n == 3\n}\nassert n == 3");
        let failure = run("retry timeout=0 {\n  assert 1 == 2\n}").unwrap_err();
        assert_eq!(
            failure,
            "2:3: retry gave up after 0 s (1 attempts); last failure: assertion failed: `==` does not hold\nleft:  1\nright: 2"
        );
    }

    #[test]
    fn int_of_a_float_is_its_whole_part() {
        passes("assert \"${int(3.9)}\" == \"3\" and int(-3.9) == -3");
    }

    #[test]
    fn retry_calls_a_procedure_until_it_gives_true() {
        passes(
            "t0 = time()\ndef ready(last) {\n  return time() >= t0 + 0.5\n}\nretry timeout=10 ready",
        );
        passes("def last(last_try) {\n  return last_try\n}\nretry timeout=0 last");
        fails(
            "def never(_) {\n  return false\n}\nretry timeout=0 never",
            "4:1: retry gave up after 0 s (1 attempts): `never` gave a false value",
        );
        fails(
            "def bad(_) {\n  assert 1 == 2\n}\nretry timeout=60 bad",
            "2:3: assertion failed: `==` does not hold\ncalled at 4:1\nleft:  1\nright: 2",
        );
    }

    #[test]
    fn polling_condition_waits() {
        passes(
            "t0 = time()\npolling_condition later interval=0 {\n  return time() >= t0 + 0.5\n}\nlater.wait timeout=10",
        );
        passes(
            "polling_condition up {\n  log \"checked\"\n}\nwith up {\n  up.wait\n}\nassert str(up) == \"<polling condition up>\"",
        );
        fails(
            "polling_condition never description=\"never holds\" {\n  return 0\n}\nnever.wait timeout=0",
            "1:19: polling condition `never` (never holds) did not hold within 0 s: its check returned a false value\ncalled at 4:1",
        );
        fails(
            "def check(v) {\n  assert v == 2\n}\npolling_condition two {\n  check(1)\n}\ndef f() {\n  two.wait timeout=0\n}\nf()",
            "2:3: polling condition `two` did not hold within 0 s: assertion failed: `==` does not hold\ncalled at 10:1\ncalled at 8:3\ncalled at 5:3\nleft:  1\nright: 2",
        );
    }

    #[test]
    fn a_condition_waits_on_another_but_never_on_itself() {
        passes(
            "polling_condition b interval=0 {\n  log \"b\"\n}\npolling_condition a interval=0 {\n  b.wait timeout=5\n}\nwith a, b {\n  a.wait timeout=5\n}",
        );
        fails(
            "polling_condition c {\n  c.wait timeout=0\n}\nc.wait timeout=0",
            "2:3: polling condition `c` did not hold within 0 s: polling condition `c` waits on itself: its check is running\ncalled at 4:1",
        );
    }

    #[test]
    fn items_change_in_place() {
        passes(
            "j = json(\"{\\\"a\\\": [1, 2]}\")\nj[\"a\"][-1] = 5\nj[\"b\"] = []\nj[\"b\"].append(j[\"a\"])\nassert to_json(j) == '{\"a\": [1, 5], \"b\": [[1, 5]]}'",
        );
        passes(
            "l = [1]\ndef f() {\n  l.append(2)\n  l[0] = 0\n  return l\n}\nassert f() == [0, 2] and l == [1]",
        );
        passes("l = [1]\ndef f() {\n  l[0] = 7\n}\nf()\nassert l == [7]");
        fails(
            "l = [1]\nl[3] = 1",
            "2:3: index 3 is out of range for a list of 1",
        );
        fails(
            "j = json(\"{}\")\nj[\"a\"][\"b\"] = 1",
            "2:3: key `a` not found: the object is empty",
        );
        fails(
            "j = [\"ab\"]\nj[0][0] = \"x\"",
            "2:6: a string cannot be changed in place",
        );
    }
}
