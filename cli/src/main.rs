//! `cco`: see the crate's documentation and `cco --help`.

fn main() -> std::process::ExitCode {
    cco_cli::main_cco()
}
