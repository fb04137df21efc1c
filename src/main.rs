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
    if let Err(error) = cli::run(cli, &mut printer) {
        cli::print_error(&error);
        std::process::exit(error.exit_code());
    }
}
