//! Checks that keep the code base and its documentation in step.

use std::fs;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_module_opens_with_a_doc_comment_and_has_no_debug_leftovers() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("tests"), &mut files);
    for file in files {
        let text = fs::read_to_string(&file).expect("read");
        assert!(
            text.starts_with("//!"),
            "{} lacks a //! module doc",
            file.display()
        );
        for banned in ["dbg", "todo", "unimplemented"].map(|name| format!("{name}!(")) {
            assert!(
                !text.contains(&banned),
                "{} contains {banned}",
                file.display()
            );
        }
    }
}

#[test]
fn every_option_and_method_is_in_the_man_page() {
    let man = fs::read_to_string(root().join("man/vmtest-min.1")).expect("man page");
    let man = man.replace("\\-", "-");
    for word in vmtest_min::cli::HELP.split_whitespace() {
        let option = word.trim_end_matches(',');
        if option.starts_with('-') && option.len() > 1 {
            assert!(man.contains(option), "man page lacks option {option}");
        }
    }
    for method in vmtest_min::methods::METHODS {
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
        let signatures = vmtest_min::methods::signatures();
        let context = vmtest_min::script::check::CheckContext {
            machines: &machines,
            signatures: &signatures,
        };
        if let Err(diagnostics) = vmtest_min::script::load("example", &source, &context) {
            let rendered: Vec<String> = diagnostics
                .iter()
                .map(|d| d.render(&path.display().to_string(), &source, false))
                .collect();
            panic!("{}", rendered.join("\n"));
        }
    }
}
