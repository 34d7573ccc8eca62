//! `nnpctl`: validate the nnp configuration, explain a decision, audit running processes,
//! show NNP state, diagnose an installation. See nnpctl(8).
//!
//! Exit status, for every command: 0 all fine, 1 found a problem, 2 usage error, 3 could not
//! complete the check. Output is written when the command has decided, so a closed output
//! pipe (`| head`) ends it quietly with the status it would have had.
#![forbid(unsafe_code)]

mod audit;
mod check;
mod doctor;
mod explain;
mod guard;
mod journal;
mod metrics;
mod pamstack;
mod procfs;
mod report;
mod status;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "nnpctl",
    version,
    about = "Check and explain the nnp (no_new_privs) login policy",
    after_help = "Exit status: 0 all fine, 1 found a problem, 2 usage error, 3 could not complete the check."
)]
struct Cli {
    /// Main configuration file (its drop-ins are NAME.d/*.toml beside it) [default: /etc/security/nnp.toml]
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load and validate everything the module would load, with the same trust checks
    Check,
    /// Show the decision the module and nnp-shell would make for USER
    Explain {
        /// User name, passed to NSS as the exact bytes given
        user: std::ffi::OsString,
        /// PAM service name; without it, a service that no rule names
        #[arg(long, value_name = "NAME")]
        service: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List threads of restricted users' processes that lack NoNewPrivs
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
    /// Inspect the installation: PAM stacks, sshd, /etc/shells, LSMs, exec guard, config
    Doctor {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// The exec guard: a BPF program that refuses privilege-raising exec for restricted users
    Guard {
        #[command(subcommand)]
        command: GuardCommand,
    },
    /// Config, exec guard, refusals by rule and audit findings in Prometheus text format
    Metrics {
        /// Write to FILE atomically (a temporary file renamed over it), e.g.
        /// /var/lib/prometheus/node-exporter/nnp.prom; default: standard output
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum GuardCommand {
    /// Compile the config, load and attach the guard, pin it under /sys/fs/bpf/nnp
    Load {
        /// auto (the first live mode: LSM, else kill), lsm or kill
        #[arg(long, value_enum, default_value_t = guard::LoadMode::Auto, value_name = "MODE")]
        mode: guard::LoadMode,
        /// Replace a loaded guard by this version's program, with no unguarded moment
        /// (package upgrades)
        #[arg(long)]
        replace: bool,
    },
    /// Swap in the current config's rules atomically (a config error keeps the old guard)
    Reload,
    /// Unpin and detach the guard
    Unload,
    /// In force or not (loaded, live, current, complete), mode, tables, counters; exit 0 only when in force
    Status {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Stream refusals to stdout and syslog (authpriv); narrow a degraded guard once names resolve
    Watch {
        /// One JSON object per line
        #[arg(long)]
        json: bool,
        /// Seconds between retries of names a degraded guard could not resolve
        #[arg(long, default_value_t = 30, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86400))]
        retry: u64,
    },
    /// Who ran which privilege-raising file under which rule, refused or (audit mode) would be
    Report {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// What a command found: its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Exit 0: all fine.
    Fine,
    /// Exit 1: found a problem.
    Problem,
    /// Exit 3: could not complete the check.
    Incomplete,
}

impl Outcome {
    /// The exit status.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Fine => 0,
            Outcome::Problem => 1,
            Outcome::Incomplete => 3,
        }
    }
    /// A problem found outranks an incomplete check (the finding is certain).
    pub fn combine(self, other: Outcome) -> Outcome {
        match (self, other) {
            (Outcome::Problem, _) | (_, Outcome::Problem) => Outcome::Problem,
            (Outcome::Incomplete, _) | (_, Outcome::Incomplete) => Outcome::Incomplete,
            _ => Outcome::Fine,
        }
    }
}

/// What a command prints and how it ends.
pub struct Report {
    /// Standard output.
    pub out: String,
    /// Standard error (messages about what could not be checked).
    pub err: String,
    /// The exit status.
    pub outcome: Outcome,
}

impl Report {
    fn new() -> Report {
        Report {
            out: String::new(),
            err: String::new(),
            outcome: Outcome::Fine,
        }
    }
    /// Append a line to stdout.
    pub fn line(&mut self, s: impl AsRef<str>) {
        self.out.push_str(s.as_ref());
        self.out.push('\n');
    }
}

/// An error that stops a command: printed as `nnpctl: MESSAGE`.
#[derive(Debug)]
pub struct Failure {
    /// The message.
    pub msg: String,
    /// The exit status it means (1: the config is wrong; 3: could not check).
    pub outcome: Outcome,
}

impl Failure {
    /// Could not complete (exit 3).
    pub fn incomplete(msg: impl Into<String>) -> Failure {
        Failure {
            msg: msg.into(),
            outcome: Outcome::Incomplete,
        }
    }
}

impl From<nnp_config::LoadError> for Failure {
    fn from(e: nnp_config::LoadError) -> Self {
        Failure {
            msg: e.to_string(),
            outcome: Outcome::Problem,
        }
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        Failure::incomplete(e.to_string())
    }
}

fn try_main(cli: Cli) -> Result<Report, Failure> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Check => check::run(config),
        Command::Explain {
            user,
            service,
            json,
        } => explain::run(
            config,
            std::os::unix::ffi::OsStrExt::as_bytes(user.as_os_str()),
            service.as_deref(),
            json,
        ),
        Command::Audit { json } => audit::run(config, json),
        Command::Status { pids } => Ok(status::run(&pids)),
        Command::Doctor { json } => doctor::run(config, json),
        Command::Metrics { output } => metrics::run(config, output.as_deref()),
        Command::Guard { command } => match command {
            GuardCommand::Load { mode, replace } => guard::load(config, mode, replace),
            GuardCommand::Reload => guard::reload(config),
            GuardCommand::Unload => guard::unload(),
            GuardCommand::Status { json } => guard::status(json),
            GuardCommand::Report { json } => report::run(json),
            GuardCommand::Watch { json, retry } => {
                guard::watch(json, retry).map(|outcome| Report {
                    out: String::new(),
                    err: String::new(),
                    outcome,
                })
            }
        },
    }
}

/// Write everything; a closed pipe is a normal end (the reader has seen enough).
fn emit(out: &str, err: &str) {
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    let _ = std::io::stdout().lock().flush();
    let _ = std::io::stderr().lock().write_all(err.as_bytes());
}

fn main() -> ExitCode {
    // No panic reaches the user as exit 101: it is reported and means "could not complete".
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let _ = writeln!(std::io::stderr(), "nnpctl: internal error: {msg}");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(parse_error_status(&e));
        }
    };
    let (out, err, code) = finish(std::panic::catch_unwind(|| try_main(cli)));
    emit(&out, &err);
    ExitCode::from(code)
}

/// The exit status of a command line clap refused: 2 (a usage error), or 0 for `--help` and
/// `--version`, which clap reports as errors too (printed to stdout).
fn parse_error_status(e: &clap::Error) -> u8 {
    if e.use_stderr() {
        2
    } else {
        0
    }
}

/// What a command that ran prints (stdout, stderr) and exits with: its report, or its
/// failure as `nnpctl: MESSAGE` with the failure's status, or 3 after a panic (the panic
/// hook has printed it).
fn finish(result: std::thread::Result<Result<Report, Failure>>) -> (String, String, u8) {
    match result {
        Ok(Ok(report)) => (report.out, report.err, report.outcome.code()),
        Ok(Err(f)) => (
            String::new(),
            format!("nnpctl: {}\n", f.msg),
            f.outcome.code(),
        ),
        Err(_) => (String::new(), String::new(), Outcome::Incomplete.code()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses() {
        assert_eq!(Outcome::Fine.code(), 0);
        assert_eq!(Outcome::Problem.code(), 1);
        assert_eq!(Outcome::Incomplete.code(), 3);
        assert_eq!(
            Outcome::Fine.combine(Outcome::Incomplete),
            Outcome::Incomplete
        );
        assert_eq!(
            Outcome::Incomplete.combine(Outcome::Problem),
            Outcome::Problem
        );
        assert_eq!(Outcome::Problem.combine(Outcome::Fine), Outcome::Problem);
        assert_eq!(Outcome::Fine.combine(Outcome::Fine), Outcome::Fine);
        let f: Failure = nnp_config::LoadError {
            diagnostics: vec![nnp_config::Diagnostic::file(
                std::path::Path::new("/x"),
                "bad",
            )],
        }
        .into();
        assert_eq!(f.outcome, Outcome::Problem);
        assert_eq!(Failure::incomplete("x").outcome.code(), 3);
    }

    /// The status main returns for a command line (None: it parses, the command runs).
    fn parse_status(argv: &[&str]) -> Option<u8> {
        Cli::try_parse_from(argv)
            .err()
            .map(|e| parse_error_status(&e))
    }

    #[test]
    fn usage_errors_exit_2() {
        // A misspelt command, an unknown option, a missing argument, a value out of range,
        // an unknown --mode: usage errors.
        assert_eq!(parse_status(&["nnpctl", "explian"]), Some(2));
        assert_eq!(parse_status(&["nnpctl", "check", "--frobnicate"]), Some(2));
        assert_eq!(parse_status(&["nnpctl", "explain"]), Some(2));
        assert_eq!(
            parse_status(&["nnpctl", "guard", "watch", "--retry", "0"]),
            Some(2)
        );
        assert_eq!(
            parse_status(&["nnpctl", "guard", "load", "--mode", "x"]),
            Some(2)
        );
        assert_eq!(parse_status(&["nnpctl"]), Some(2));
        // --help and --version are not errors.
        assert_eq!(parse_status(&["nnpctl", "--help"]), Some(0));
        assert_eq!(parse_status(&["nnpctl", "--version"]), Some(0));
        assert_eq!(parse_status(&["nnpctl", "check"]), None);
    }

    #[test]
    fn a_finished_command_prints_and_exits_as_its_outcome_says() {
        let report = Report {
            out: "o\n".into(),
            err: "e\n".into(),
            outcome: Outcome::Problem,
        };
        assert_eq!(finish(Ok(Ok(report))), ("o\n".into(), "e\n".into(), 1));
        assert_eq!(
            finish(Ok(Err(Failure::incomplete("no /proc")))),
            (String::new(), "nnpctl: no /proc\n".into(), 3)
        );
        let f = Failure {
            msg: "bad".into(),
            outcome: Outcome::Problem,
        };
        assert_eq!(finish(Ok(Err(f))).2, 1);
        let fine = Report::new();
        assert_eq!(finish(Ok(Ok(fine))).2, 0);
        // A panic is "could not complete", never 101.
        assert_eq!(finish(Err(Box::new("boom"))).2, 3);
    }
}
