//! `cargo bench`: the save-to-browser benchmark of `hotreload::bench`, the
//! same code as `hotreload bench`, against the binary this build made.
//! `cargo bench -- --json` prints JSON; `-- --quick` a short run.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut options = hotreload::bench::Options::new(env!("CARGO_BIN_EXE_hotreload"));
    if args.iter().any(|a| a == "--quick") {
        options = options.quick();
    }
    let json = args.iter().any(|a| a == "--json");
    let report =
        hotreload::bench::run(&options, |step| eprintln!("bench: {step}")).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1);
        });
    hotreload::bench::print(&report, json, std::io::stdout()).expect("stdout");
    if !report.lost_nothing() {
        eprintln!("error: batches were missed or duplicated");
        std::process::exit(1);
    }
}
