//! The deterministic simulation (`outpost_tests::sim`) over a few hundred seeds: devices, the
//! server's sync logic and a faulty network in one process. A failure names its seed and the
//! `soak` command that replays it.

use outpost_tests::sim::{self, Config, Sabotage};

/// Steps with faults per seed; with [`SEEDS`] seeds in four tests, the whole file takes about
/// half a minute in a debug build on two cores.
const STEPS: usize = 80;
const SEEDS: u64 = 75;

const CONFIG: Config = Config {
    steps: STEPS,
    sabotage: None,
};

/// Runs seeds `first..first + SEEDS`, failing on the first that breaks an invariant.
fn seeds_from(first: u64) {
    for seed in first..first + SEEDS {
        if let Err(failure) = sim::run(seed, &CONFIG) {
            panic!("{failure}\nreplay: {}", sim::replay_command(seed, STEPS));
        }
    }
}

#[test]
fn seeds_0_to_74_converge() {
    seeds_from(0);
}

#[test]
fn seeds_75_to_149_converge() {
    seeds_from(75);
}

#[test]
fn seeds_150_to_224_converge() {
    seeds_from(150);
}

#[test]
fn seeds_225_to_299_converge() {
    seeds_from(225);
}

/// The same seed takes the same steps to the same heads; another seed does not.
#[test]
fn a_seed_replays_identically() {
    let config = Config {
        steps: 200,
        sabotage: None,
    };
    let first = sim::run(7, &config).expect("seed 7 passes");
    let again = sim::run(7, &config).expect("seed 7 passes again");
    assert_eq!(first, again);
    let other = sim::run(8, &config).expect("seed 8 passes");
    assert_ne!(first.digest, other.digest);
}

/// A server that forgets acknowledged commits when it restarts is caught: the checks can
/// fail.
#[test]
fn a_server_that_forgets_acknowledged_commits_fails_the_checks() {
    let config = Config {
        steps: STEPS,
        sabotage: Some(Sabotage::ForgetCommits),
    };
    // Only runs whose server restarts after acknowledging something can catch it.
    let failure = (0..10)
        .find_map(|seed| sim::run(seed, &config).err())
        .expect("one of the first ten seeds catches the sabotage");
    assert!(failure.reason.contains("is not on the server"), "{failure}");
    eprintln!("{failure}");
    sim::run(failure.seed, &CONFIG).expect("the same seed passes unsabotaged");
}
