//! Checks that keep the code base tidy: module docs, no debugging leftovers.
//!
//! The checks that read the crate's own tables (help text, method table, examples
//! against the checker) are unit tests in `src/tidy.rs`.

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
