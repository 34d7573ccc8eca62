//! The arguments of a `pam_nnp.so` line: `[config=PATH] [on_error=deny|allow] [debug]`.
//! Parsed here once for the module and for `nnpctl doctor`, which reports on each line.

use std::fmt;
use std::path::PathBuf;

/// What an error does to the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Refuse the session (`PAM_SESSION_ERR`). The default.
    #[default]
    Deny,
    /// Let the session proceed without NNP (`PAM_IGNORE`).
    Allow,
}

impl OnError {
    /// The spelling in the PAM line.
    pub fn as_str(self) -> &'static str {
        match self {
            OnError::Deny => "deny",
            OnError::Allow => "allow",
        }
    }
}

/// Parsed module arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Main config file.
    pub config: PathBuf,
    /// `config=` was given: then a missing file is an error, not "no rules".
    pub config_explicit: bool,
    /// What an error does.
    pub on_error: OnError,
    /// Log decisions that do nothing, too.
    pub debug: bool,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            config: PathBuf::from(crate::DEFAULT_CONFIG),
            config_explicit: false,
            on_error: OnError::Deny,
            debug: false,
        }
    }
}

/// A module argument that is not understood: an error like any other, which follows the
/// `on_error=` given on the same line (deny when there is none). Each variant holds the
/// argument as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// `config=` without an absolute path.
    ConfigNotAbsolute(Vec<u8>),
    /// `on_error=` with neither `deny` nor `allow`.
    BadOnError(Vec<u8>),
    /// An argument the module does not know.
    Unknown(Vec<u8>),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::ConfigNotAbsolute(arg) => write!(
                f,
                "bad module argument \"{}\": config= needs an absolute path",
                crate::escape_value(arg)
            ),
            ArgError::BadOnError(arg) => write!(
                f,
                "bad module argument \"{}\": on_error= takes deny or allow",
                crate::escape_value(arg)
            ),
            ArgError::Unknown(arg) => write!(
                f,
                "unknown module argument \"{}\" (expected config=PATH, on_error=deny|allow, debug)",
                crate::escape_value(arg)
            ),
        }
    }
}

impl std::error::Error for ArgError {}

/// Parse the arguments of the PAM line. Every argument is looked at, so that a valid
/// `on_error=` is honoured even when another argument is wrong; the returned `Args` carries it.
pub fn parse(args: &[&[u8]]) -> (Args, Option<ArgError>) {
    let mut out = Args::default();
    let mut error = None;
    let mut fail = |e: ArgError| {
        if error.is_none() {
            error = Some(e);
        }
    };
    for &arg in args {
        if let Some(v) = arg.strip_prefix(b"config=") {
            match std::str::from_utf8(v) {
                Ok(p) if p.starts_with('/') => {
                    out.config = PathBuf::from(p);
                    out.config_explicit = true;
                }
                _ => fail(ArgError::ConfigNotAbsolute(arg.to_vec())),
            }
        } else if let Some(v) = arg.strip_prefix(b"on_error=") {
            match v {
                b"deny" => out.on_error = OnError::Deny,
                b"allow" => out.on_error = OnError::Allow,
                _ => fail(ArgError::BadOnError(arg.to_vec())),
            }
        } else if arg == b"debug" {
            out.debug = true;
        } else {
            fail(ArgError::Unknown(arg.to_vec()));
        }
    }
    (out, error)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let (a, e) = parse(&[]);
        assert_eq!(a, Args::default());
        assert!(e.is_none());
        assert_eq!(a.config, PathBuf::from("/etc/security/nnp.toml"));
    }

    #[test]
    fn all_arguments() {
        let (a, e) = parse(&[b"config=/x/y.toml", b"on_error=allow", b"debug"]);
        assert!(e.is_none());
        assert_eq!(a.config, PathBuf::from("/x/y.toml"));
        assert!(a.config_explicit);
        assert_eq!(a.on_error, OnError::Allow);
        assert!(a.debug);
    }

    #[test]
    fn unknown_argument_is_an_error_but_on_error_is_kept() {
        let (a, e) = parse(&[b"degub", b"on_error=allow"]);
        assert_eq!(a.on_error, OnError::Allow);
        assert_eq!(
            e.unwrap().to_string(),
            "unknown module argument \"degub\" (expected config=PATH, on_error=deny|allow, debug)"
        );
    }

    #[test]
    fn bad_values() {
        assert_eq!(
            parse(&[b"on_error=maybe"]).1.unwrap().to_string(),
            "bad module argument \"on_error=maybe\": on_error= takes deny or allow"
        );
        assert_eq!(
            parse(&[b"config=relative.toml"]).1.unwrap().to_string(),
            "bad module argument \"config=relative.toml\": config= needs an absolute path"
        );
        assert_eq!(
            parse(&[b"bad\nline"]).1.unwrap().to_string(),
            "unknown module argument \"bad\\nline\" (expected config=PATH, on_error=deny|allow, debug)"
        );
    }
}
