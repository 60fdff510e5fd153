//! `swarmdeck bench …`: measurements on practice labs of the bench's own (needs root).

use clap::{Args, Subcommand};

use crate::bench::ConnectBench;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Connect + status in process vs the docker CLI over ssh (cold, warm, many hosts).
    /// Starts its own labs and always tears them down.
    Connect {
        /// Hosts in the swarm lab (all managers).
        #[arg(long, default_value_t = 3)]
        hosts: usize,
        /// Hosts for the "many hosts" measurement.
        #[arg(long, default_value_t = 12)]
        many: usize,
        /// Rounds per measurement (medians are over rounds).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
}

pub fn run(args: BenchArgs, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Connect {
            hosts,
            many,
            rounds,
        } => {
            let bench = ConnectBench {
                hosts,
                many_hosts: many,
                rounds,
                ..ConnectBench::default()
            };
            let report = bench.run(rt, &mut |line| eprintln!("bench: {line}"))?;
            print!("{}", report.render());
            Ok(())
        }
    }
}
