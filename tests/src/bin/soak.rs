//! Runs the deterministic simulation over many seeds (see `outpost_tests::sim`) and stops at
//! the first failure, printing the seed and the command that replays it.
//!
//! ```sh
//! cargo run --release -p outpost-tests --bin soak -- --seeds N [--start S] [--steps M]
//! ```

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use outpost_tests::sim::{self, Config};

#[derive(Debug, Parser)]
#[command(about = "Runs the deterministic sync simulation over many seeds")]
struct Args {
    /// How many seeds to run.
    #[arg(long)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Steps with faults per seed, before healing.
    #[arg(long, default_value_t = 400)]
    steps: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = Config {
        steps: args.steps,
        sabotage: None,
    };
    let started = Instant::now();
    let mut totals = sim::Stats::default();
    let mut reported = Instant::now();
    for (done, seed) in (args.start..args.start.saturating_add(args.seeds)).enumerate() {
        match sim::run(seed, &config) {
            Ok(outcome) => totals.add(&outcome.stats),
            Err(failure) => {
                eprintln!("{failure}");
                eprintln!("replay: {}", sim::replay_command(seed, args.steps));
                return ExitCode::FAILURE;
            }
        }
        let done = done as u64 + 1;
        if reported.elapsed().as_secs() >= 10 || done == args.seeds {
            reported = Instant::now();
            eprintln!(
                "{done}/{} seeds passed ({:.1} s)",
                args.seeds,
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "{} seeds from {} passed, {} steps each, in {:.1} s",
        args.seeds,
        args.start,
        args.steps,
        started.elapsed().as_secs_f64()
    );
    println!("{totals}");
    ExitCode::SUCCESS
}
