//! `cargo bench`: the save-to-browser benchmark, which is `hotreload bench`
//! run on the binary this build made. `cargo bench -- --json` prints JSON;
//! `-- --quick` a short run.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    // cargo passes `--bench` (and any filter); the binary takes only its own flags.
    let passed = std::env::args()
        .skip(1)
        .filter(|a| a == "--json" || a == "--quick");
    let status = Command::new(env!("CARGO_BIN_EXE_hotreload"))
        .arg("bench")
        .args(passed)
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: cannot run the hotreload binary: {e}");
            ExitCode::FAILURE
        }
    }
}
