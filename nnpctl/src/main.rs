//! `nnpctl`: validate the nnp configuration, explain a decision, audit running processes,
//! show NNP state, diagnose an installation. See nnpctl(8).
//!
//! Exit status: 0 fine, 1 a problem was found, 2 usage error.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod check;
mod doctor;
mod explain;
mod procfs;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "nnpctl",
    version,
    about = "Check and explain the nnp (no_new_privs) login policy",
    after_help = "Exit status: 0 fine, 1 a problem was found, 2 usage error."
)]
struct Cli {
    /// Main configuration file (its drop-ins are NAME.d/*.toml beside it)
    #[arg(long, global = true, value_name = "PATH", default_value = nnp_config::DEFAULT_CONFIG)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load and validate everything the module would load, with the same trust checks
    Check,
    /// Show the decision the module and nnp-shell would make for USER
    Explain {
        /// User name (resolved through NSS, like the module does)
        user: String,
        /// PAM service name; without it, a service that no rule names
        #[arg(long, value_name = "NAME")]
        service: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List running processes of restricted users that lack NoNewPrivs
    Audit {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show NoNewPrivs, Seccomp and uids of processes (default: nnpctl itself, which inherits the caller's)
    Status {
        /// Process ids
        pids: Vec<u32>,
    },
    /// Inspect the installation: PAM stacks, sshd, /etc/shells, LSMs, config
    Doctor,
}

/// What a command found.
pub enum Outcome {
    /// Exit 0.
    Fine,
    /// Exit 1.
    Problem,
}

/// An error that stops a command; printed as `nnpctl: MESSAGE`, exit 1.
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

fn try_main(cli: Cli) -> Result<Outcome, Failure> {
    match cli.command {
        Command::Check => check::run(&cli.config),
        Command::Explain {
            user,
            service,
            json,
        } => explain::run(&cli.config, &user, service.as_deref(), json),
        Command::Audit { json } => audit::run(&cli.config, json),
        Command::Status { pids } => status::run(&pids),
        Command::Doctor => doctor::run(&cli.config),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match try_main(cli) {
        Ok(Outcome::Fine) => ExitCode::SUCCESS,
        Ok(Outcome::Problem) => ExitCode::from(1),
        Err(Failure(msg)) => {
            eprintln!("nnpctl: {msg}");
            ExitCode::from(1)
        }
    }
}
