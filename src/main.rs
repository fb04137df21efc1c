//! The `stackplan` binary: parse the command line, run, render any error, pick the exit
//! code. Everything else is in the library.

use clap::Parser;
use stackplan::cli::{self, Cli, Printer};

/// Planning a large stack allocates tens of thousands of small strings and maps; mimalloc
/// spends about a third less time on them than glibc's allocator (`bench/plan-large-stack.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::parse();
    let mut printer = Printer::new();
    match cli::run(cli, &mut printer) {
        // The process exits next: what the command finished with (a plan of 10,000 targets)
        // is left to the OS rather than freed piece by piece.
        Ok(finished) => std::mem::forget(finished),
        Err(error) => {
            cli::print_error(&error);
            std::process::exit(error.exit_code());
        }
    }
}
