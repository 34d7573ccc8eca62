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
use nnp_guard::GuardError;

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
    /// Stream refused, killed and would-refuse execs to stdout and the log: journald entries with MESSAGE_ID and NNP_* fields where journald runs, else syslog (authpriv); narrow a degraded guard once names resolve
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

/// A count and its noun, plural unless the count is 1: `1 rule`, `2 rules`.
fn plural<T: std::fmt::Display + PartialEq + From<u8>>(n: T, noun: &str) -> String {
    let s = if n == T::from(1) { "" } else { "s" };
    format!("{n} {noun}{s}")
}

/// What a command prints and how it ends.
pub struct Output {
    /// Standard output.
    pub out: String,
    /// Standard error (messages about what could not be checked).
    pub err: String,
    /// The exit status.
    pub outcome: Outcome,
}

impl Output {
    fn new() -> Output {
        Output {
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

/// An error that stops a command: printed as `nnpctl: MESSAGE` (a usage error as clap
/// prints it), exit status from [`Error::exit_status`].
#[derive(Debug)]
pub enum Error {
    /// The command line is wrong.
    Usage(clap::Error),
    /// The config cannot be loaded.
    Config(nnp_config::LoadError),
    /// The exec guard could not do it: its config is wrong, or the system cannot.
    Guard(GuardError),
    /// `guard reload` failed; the loaded guard is unchanged.
    Reload(GuardError),
    /// The JSON output could not be built.
    Json(serde_json::Error),
    /// A system call failed.
    System {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl Error {
    /// A failed system call while doing `what`.
    pub fn system(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::System {
            what: what.into(),
            source,
        }
    }

    /// The exit status this error means: 2 the command line is wrong, 1 the config is
    /// wrong, 3 could not check. The one place an error kind becomes an exit status.
    pub fn exit_status(&self) -> u8 {
        match self {
            Error::Usage(_) => USAGE,
            Error::Config(_) => Outcome::Problem.code(),
            Error::Guard(e) | Error::Reload(e) if e.is_config() => Outcome::Problem.code(),
            Error::Guard(_) | Error::Reload(_) | Error::Json(_) | Error::System { .. } => {
                Outcome::Incomplete.code()
            }
        }
    }
}

/// The exit status of a usage error.
const USAGE: u8 = 2;

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Usage(e) => e.fmt(f),
            Error::Config(e) => e.fmt(f),
            Error::Guard(e) => e.fmt(f),
            Error::Reload(e) => write!(f, "{e}; the loaded guard is unchanged"),
            Error::Json(e) => e.fmt(f),
            Error::System { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Usage(e) => Some(e),
            Error::Config(e) => Some(e),
            Error::Guard(e) | Error::Reload(e) => Some(e),
            Error::Json(e) => Some(e),
            Error::System { source, .. } => Some(source),
        }
    }
}

impl From<nnp_config::LoadError> for Error {
    fn from(e: nnp_config::LoadError) -> Self {
        Error::Config(e)
    }
}

impl From<GuardError> for Error {
    fn from(e: GuardError) -> Self {
        Error::Guard(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Json(e)
    }
}

fn try_main(cli: Cli) -> Result<Output, Error> {
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
                guard::watch(json, retry).map(|outcome| Output {
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
    let cli = match parse_args(std::env::args_os()) {
        Ok(Parsed::Command(cli)) => cli,
        Ok(Parsed::Text(text)) => {
            let _ = text.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap prints its own usage errors (with the usage line, styled for a terminal)
            match &e {
                Error::Usage(u) => {
                    let _ = u.print();
                }
                other => emit("", &format!("nnpctl: {other}\n")),
            }
            return ExitCode::from(e.exit_status());
        }
    };
    let (out, err, code) = finish(std::panic::catch_unwind(|| try_main(cli)));
    emit(&out, &err);
    ExitCode::from(code)
}

/// What the command line asks for.
enum Parsed {
    /// Run this command.
    Command(Cli),
    /// Print clap's help or version text to stdout and exit 0 (clap reports these as errors).
    Text(clap::Error),
}

/// Parse the command line; what clap refuses is a usage error.
fn parse_args<I, T>(argv: I) -> Result<Parsed, Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match Cli::try_parse_from(argv) {
        Ok(cli) => Ok(Parsed::Command(cli)),
        Err(e) if !e.use_stderr() => Ok(Parsed::Text(e)),
        Err(e) => Err(Error::Usage(e)),
    }
}

/// What a command that ran prints (stdout, stderr) and exits with: its output, or its
/// error as `nnpctl: MESSAGE` with the error's status, or 3 after a panic (the panic
/// hook has printed it).
fn finish(result: std::thread::Result<Result<Output, Error>>) -> (String, String, u8) {
    match result {
        Ok(Ok(report)) => (report.out, report.err, report.outcome.code()),
        Ok(Err(e)) => (String::new(), format!("nnpctl: {e}\n"), e.exit_status()),
        Err(_) => (String::new(), String::new(), Outcome::Incomplete.code()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn plural_unless_one() {
        assert_eq!(plural(1usize, "rule"), "1 rule");
        assert_eq!(plural(0u64, "exec"), "0 execs");
        assert_eq!(plural(2usize, "file"), "2 files");
    }

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
    }

    fn load_error() -> nnp_config::LoadError {
        nnp_config::LoadError {
            diagnostics: vec![nnp_config::Diagnostic::file(
                std::path::Path::new("/x"),
                "bad",
            )],
        }
    }

    /// A failed call in the guard: `sys` in nnp-guard builds these.
    fn guard_call() -> GuardError {
        GuardError::Call {
            what: "opening the pinned map report".into(),
            source: std::sync::Arc::new(std::io::Error::from_raw_os_error(2)),
        }
    }

    fn usage_error() -> Error {
        match parse_args(["nnpctl", "explian"]) {
            Err(e) => e,
            Ok(_) => panic!("a misspelt command parsed"),
        }
    }

    #[test]
    fn each_error_kind_has_its_exit_status() {
        let json = serde_json::from_str::<u8>("x").unwrap_err();
        let io = || std::io::Error::from_raw_os_error(2);
        let cases: Vec<(Error, u8)> = vec![
            (usage_error(), 2),
            (load_error().into(), 1),
            (GuardError::Config(load_error()).into(), 1),
            (GuardError::System("s".into()).into(), 3),
            (guard_call().into(), 3),
            (Error::Reload(GuardError::Config(load_error())), 1),
            (Error::Reload(GuardError::System("s".into())), 3),
            (Error::Reload(guard_call()), 3),
            (json.into(), 3),
            (Error::system("cannot read /proc", io()), 3),
        ];
        for (e, status) in cases {
            assert_eq!(e.exit_status(), status, "{e:?}");
            assert!(std::error::Error::source(&e).is_some(), "{e:?}");
        }
    }

    #[test]
    fn messages_are_the_causes_words() {
        let msg = |e: Error| finish(Ok(Err(e))).1;
        assert_eq!(
            msg(Error::system(
                "cannot read /proc",
                std::io::Error::from_raw_os_error(2)
            )),
            "nnpctl: cannot read /proc: No such file or directory (os error 2)\n"
        );
        assert_eq!(
            msg(Error::Reload(GuardError::Config(load_error()))),
            format!("nnpctl: {}; the loaded guard is unchanged\n", load_error())
        );
        assert_eq!(
            msg(GuardError::System("no guard".into()).into()),
            "nnpctl: no guard\n"
        );
        assert_eq!(
            msg(guard_call().into()),
            "nnpctl: opening the pinned map report: No such file or directory (os error 2)\n"
        );
        assert_eq!(
            msg(load_error().into()),
            format!("nnpctl: {}\n", load_error())
        );
    }

    /// The status main returns for a command line (None: it parses, the command runs), as
    /// main computes it: help and version text exit 0, an error by its kind.
    fn parse_status(argv: &[&str]) -> Option<u8> {
        match parse_args(argv) {
            Ok(Parsed::Command(_)) => None,
            Ok(Parsed::Text(_)) => Some(0),
            Err(e) => Some(e.exit_status()),
        }
    }

    #[test]
    fn usage_errors_exit_2() {
        // A misspelt command, an unknown option, a missing argument, a value out of range,
        // an unknown --mode: usage errors.
        assert!(matches!(usage_error(), Error::Usage(_)));
        assert_eq!(parse_status(&["nnpctl", "explian"]), Some(2));
        assert_eq!(parse_status(&["nnpctl", "check", "--frobnicate"]), Some(2));
        assert_eq!(parse_status(&["nnpctl", "explain"]), Some(2));
        assert_eq!(
            parse_status(&["nnpctl", "guard", "watch", "--retry", "0"]),
            Some(2)
        );
        assert_eq!(parse_status(&["nnpctl"]), Some(2));
        // --help and --version are not errors.
        assert_eq!(parse_status(&["nnpctl", "--help"]), Some(0));
        assert_eq!(parse_status(&["nnpctl", "--version"]), Some(0));
        assert_eq!(parse_status(&["nnpctl", "check"]), None);
    }

    #[test]
    fn an_unknown_guard_mode_is_a_usage_error() {
        match parse_args(["nnpctl", "guard", "load", "--mode", "enforce"]) {
            Err(e @ Error::Usage(_)) => assert_eq!(e.exit_status(), 2),
            Err(e) => panic!("not a usage error: {e:?}"),
            Ok(_) => panic!("--mode enforce parsed"),
        }
        assert_eq!(
            parse_status(&["nnpctl", "guard", "load", "--mode", "x"]),
            Some(2)
        );
        assert_eq!(
            parse_status(&["nnpctl", "guard", "load", "--mode"]),
            Some(2)
        );
        for mode in ["auto", "lsm", "kill"] {
            assert_eq!(
                parse_status(&["nnpctl", "guard", "load", "--mode", mode]),
                None
            );
        }
    }

    #[test]
    fn a_finished_command_prints_and_exits_as_its_outcome_says() {
        let report = Output {
            out: "o\n".into(),
            err: "e\n".into(),
            outcome: Outcome::Problem,
        };
        assert_eq!(finish(Ok(Ok(report))), ("o\n".into(), "e\n".into(), 1));
        assert_eq!(
            finish(Ok(Err(Error::system(
                "cannot read /proc",
                std::io::Error::from_raw_os_error(13)
            )))),
            (
                String::new(),
                "nnpctl: cannot read /proc: Permission denied (os error 13)\n".into(),
                3
            )
        );
        assert_eq!(finish(Ok(Err(load_error().into()))).2, 1);
        let fine = Output::new();
        assert_eq!(finish(Ok(Ok(fine))).2, 0);
        // A panic is "could not complete", never 101.
        assert_eq!(finish(Err(Box::new("boom"))).2, 3);
    }
}
