//! The `stackplan` binary: parse the command line, run, render any error, pick the exit
//! code. Everything else is in the library.

use clap::Parser;
use stackplan::cli::{self, Cli, Printer};

fn main() {
    let cli = Cli::parse();
    let mut printer = Printer::new();
    if let Err(error) = cli::run(cli, &mut printer) {
        cli::print_error(&error);
        std::process::exit(error.exit_code());
    }
}
