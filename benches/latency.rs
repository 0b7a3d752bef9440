//! `cargo bench`: the save-to-browser benchmark of `hotreload::bench`, the
//! same code as `hotreload bench`, against the binary this build made.
//! `cargo bench -- --json` prints JSON; `-- --quick` a short run.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut options = hotreload::bench::Options::new(env!("CARGO_BIN_EXE_hotreload"));
    if args.iter().any(|a| a == "--quick") {
        options.clients = vec![1, 100];
        options.trials = 5;
        options.idle = std::time::Duration::from_secs(2);
        options.tree_files = 10_000;
        options.tree_dirs = 1_000;
        options.storm_files = 1_000;
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
