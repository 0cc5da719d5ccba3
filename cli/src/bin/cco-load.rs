//! `cco-load`: the command's first name, the same as `cco load`.

fn main() -> std::process::ExitCode {
    cco_cli::main_cco_load()
}
