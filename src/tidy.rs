//! Checks that keep the crate and its documentation in step: every option of
//! `--help` and every method is in the man page, and the examples pass the checker.
//!
//! They live inside the crate (not in `tests/`) because they read private tables
//! (`cli::HELP`, `methods::METHODS`); the checks that only read files are in
//! `tests/it/tidy.rs`.

use std::fs;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_option_and_method_is_in_the_man_page() {
    let man = fs::read_to_string(root().join("man/vmtest-min.1")).expect("man page");
    let man = man.replace("\\-", "-");
    for word in crate::cli::HELP.split_whitespace() {
        let option = word.trim_end_matches(',');
        if option.starts_with('-') && option.len() > 1 {
            assert!(man.contains(option), "man page lacks option {option}");
        }
    }
    for method in crate::methods::all() {
        let name = method.signature.name;
        assert!(man.contains(name), "man page lacks method {name}");
    }
    for section in [
        "SYNOPSIS",
        "OPTIONS",
        "SCRIPT LANGUAGE",
        "EXIT STATUS",
        "ENVIRONMENT",
        "FILES",
        "EXAMPLES",
    ] {
        assert!(
            man.contains(&format!(".SH {section}")),
            "man page lacks {section}"
        );
    }
}

#[test]
fn the_examples_pass_the_checker() {
    let guest = ["machine", "client", "server"];
    for entry in fs::read_dir(root().join("examples")).expect("examples") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "cmds") {
            continue;
        }
        let source = fs::read_to_string(&path).expect("read example");
        let two = ["two-machines.cmds", "language.cmds"];
        let machines: Vec<String> = if two.iter().any(|name| path.ends_with(name)) {
            guest[1..].iter().map(|s| s.to_string()).collect()
        } else {
            vec![guest[0].to_string()]
        };
        let signatures = crate::methods::signatures();
        let context = crate::script::check::CheckContext {
            machines: &machines,
            signatures: &signatures,
        };
        if let Err(diagnostics) = crate::script::load("example", &source, &context) {
            let rendered: Vec<String> = diagnostics
                .iter()
                .map(|d| d.render(&path.display().to_string(), &source, false))
                .collect();
            panic!("{}", rendered.join("\n"));
        }
    }
}
