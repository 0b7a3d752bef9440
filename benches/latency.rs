//! `cargo bench`: the save-to-browser benchmark, which is `hotreload bench
//! --browser` run on the binary this build made (the browser rows say how
//! to get Chromium where there is none). `cargo bench -- --json` prints
//! JSON; `-- --quick` a short run.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    // cargo passes `--bench` (and any filter); the binary takes only its own flags.
    let passed = std::env::args()
        .skip(1)
        .filter(|a| a == "--json" || a == "--quick");
    let status = Command::new(env!("CARGO_BIN_EXE_hotreload"))
        .args(["bench", "--browser"])
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
