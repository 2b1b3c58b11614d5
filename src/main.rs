//! The `vmtest-min` command: a thin shell around [`vmtest_min::main`].
//!
//! The only place that ends the process: it returns the exit status, and it prints
//! the error that stopped the program before anything booted (errors during a run
//! are in the run's log already).

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let argv = std::env::args_os().skip(1).collect();
    let env = |name: &str| std::env::var_os(name);
    match vmtest_min::main(argv, &env) {
        Ok(status) => status.into(),
        Err(error) => {
            // Hold stdout so the line does not interleave with it; a closed stderr
            // is no reason to fail differently.
            let _stdout = std::io::stdout().lock();
            let _ = writeln!(std::io::stderr().lock(), "vmtest-min: error: {error}");
            error.status().into()
        }
    }
}
