//! curl: fetches one URL over plain HTTP; see `samples::curl`.

use samples::curl::{parse_args, run, USAGE};
use std::process::ExitCode;

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\ncurl: try 'curl --help' for more information");
            return ExitCode::from(2);
        }
    };
    if options.help {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match run(&options, &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if options.shows_errors() {
                eprintln!("{e}");
            }
            ExitCode::from(e.code)
        }
    }
}
