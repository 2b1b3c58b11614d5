//! The `vmtest-min` command: a thin shell around [`vmtest_min::run::main`].

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let code = vmtest_min::run::main(argv);
    std::process::exit(code.code());
}
