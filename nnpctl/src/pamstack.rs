//! A model of how Linux-PAM 1.5.2 (with Debian's `@include`) reads a service's stack and
//! runs its session phase, so that `nnpctl doctor` can tell whether a `pam_nnp.so` line is
//! ever loaded and reached. Reference: Linux-PAM's `libpam/pam_handlers.c`
//! (`_pam_assemble_line`, `_pam_parse_conf_file`, `_pam_load_conf_file`, `_pam_add_handler`),
//! `libpam/pam_misc.c` (`_pam_StrTok`, `_pam_parse_control`) and `libpam/pam_dispatch.c`
//! (`_pam_dispatch_aux`). Behaviour checked against the real library with pamtester is
//! noted where it is not in the upstream source (Debian's `@include`).
//!
//! Everything here is a pure function of the files' text, read through [`Files`], so it is
//! unit-tested without `/etc`.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

/// The administrator's PAM stacks (`PAM_CONFIG_DF`).
pub const PAM_DIR: &str = "/etc/pam.d";
/// Where libpam looks for a service's file, in order (`PAM_CONFIG_DF`, `PAM_CONFIG_DIST_DF`).
pub const CONFIG_DIRS: [&str; 2] = [PAM_DIR, "/usr/lib/pam.d"];
/// The service whose stack is used for a phase the service's own file does not configure.
const DEFAULT_SERVICE: &str = "other";
/// `BUF_SIZE` in `pam_handlers.c`: a logical line (continuations joined) must fit in it.
const BUF_SIZE: usize = 1024;
/// `PAM_SUBSTACK_MAX_LEVEL`.
const SUBSTACK_MAX_LEVEL: usize = 16;
/// libpam has no limit on `include` nesting (a loop recurses until it fails); doctor stops here.
const MAX_INCLUDE_DEPTH: usize = 32;
/// `_PAM_RETURN_VALUES`.
const RETURN_VALUES: usize = 32;
const PAM_SUCCESS: u8 = 0;
/// `PAM_MUST_FAIL_CODE`: what a broken line returns.
const PAM_PERM_DENIED: u8 = 6;
const PAM_IGNORE: u8 = 25;
/// What a module whose file could not be loaded returns (`h->func == NULL`).
const PAM_MODULE_UNKNOWN: u8 = 28;
/// A module returning this suspends the stack; it never ends it.
const PAM_INCOMPLETE: u8 = 31;

/// `_pam_token_returns`: the names of the return values in a `[value=action]` control.
const RETURN_NAMES: [&str; RETURN_VALUES + 1] = [
    "success",
    "open_err",
    "symbol_err",
    "service_err",
    "system_err",
    "buf_err",
    "perm_denied",
    "auth_err",
    "cred_insufficient",
    "authinfo_unavail",
    "user_unknown",
    "maxtries",
    "new_authtok_reqd",
    "acct_expired",
    "session_err",
    "cred_unavail",
    "cred_expired",
    "cred_err",
    "no_module_data",
    "conv_err",
    "authtok_err",
    "authtok_recover_err",
    "authtok_lock_busy",
    "authtok_disable_aging",
    "try_again",
    "ignore",
    "abort",
    "authtok_expired",
    "module_unknown",
    "bad_item",
    "conv_again",
    "incomplete",
    "default",
];

/// The name of a return value as a control spells it.
pub fn return_name(code: u8) -> &'static str {
    RETURN_NAMES.get(usize::from(code)).copied().unwrap_or("?")
}

/// How the model reads files: the real filesystem, or a table in tests.
pub trait Files {
    /// The bytes of a file, following symlinks (as libpam's `fopen` does).
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Whether a module file is there to be loaded (a regular file, symlinks followed).
    fn is_file(&self, path: &Path) -> bool;
}

/// The real filesystem.
pub struct RealFiles;

impl Files for RealFiles {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn is_file(&self, path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| m.is_file())
    }
}

/// What libpam does with one return value of a module (`_PAM_ACTION_*`, or a jump).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PamAction {
    Ignore,
    Ok,
    Done,
    Bad,
    Die,
    Reset,
    /// Skip this many following modules of the same (sub)stack.
    Jump(u32),
}

impl PamAction {
    pub fn name(self) -> String {
        match self {
            PamAction::Ignore => "ignore".into(),
            PamAction::Ok => "ok".into(),
            PamAction::Done => "done".into(),
            PamAction::Bad => "bad".into(),
            PamAction::Die => "die".into(),
            PamAction::Reset => "reset".into(),
            PamAction::Jump(n) => n.to_string(),
        }
    }
}

const ACTION_NAMES: [(&str, PamAction); 6] = [
    ("ignore", PamAction::Ignore),
    ("ok", PamAction::Ok),
    ("done", PamAction::Done),
    ("bad", PamAction::Bad),
    ("die", PamAction::Die),
    ("reset", PamAction::Reset),
];

/// Where a line is written: the file and the physical line where its logical line starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// What a session handler is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandlerKind {
    /// A module line. `file` is the path libpam dlopens; `present` whether it is there.
    Module {
        path: String,
        file: PathBuf,
        present: bool,
        args: Vec<String>,
    },
    /// A line libpam installs as "always fails" (`PAM_HT_MUST_FAIL`): it returns
    /// `PAM_PERM_DENIED` whatever its module.
    MustFail { reason: String },
    /// The marker of a `substack` line; the substack's lines follow one level deeper.
    Substack { name: String },
}

/// One entry of the session phase, in libpam's order.
#[derive(Clone, Debug)]
pub struct Handler {
    pub kind: HandlerKind,
    /// The `-` prefix: libpam does not log a failure to load the module (nothing else).
    pub silent: bool,
    /// The control field as written.
    pub control: String,
    pub actions: [PamAction; RETURN_VALUES],
    /// Substack depth (0: the service's own stack and everything it `include`s).
    pub level: usize,
    pub origin: Origin,
    /// A `[...]` control libpam could not parse (then every outcome is `bad`).
    pub control_error: Option<String>,
    /// The module cannot return `PAM_SUCCESS` for this service: a `pam_succeed_if.so`
    /// condition on `service` that is false (see [`service_condition_fails`]).
    pub never_succeeds: Option<String>,
}

impl Handler {
    /// The module path, for module lines.
    pub fn module(&self) -> Option<&str> {
        match &self.kind {
            HandlerKind::Module { path, .. } => Some(path),
            _ => None,
        }
    }
    pub fn args(&self) -> &[String] {
        match &self.kind {
            HandlerKind::Module { args, .. } => args,
            _ => &[],
        }
    }
    pub fn is_module(&self, name: &str) -> bool {
        self.module().is_some_and(|m| module_name(m) == name)
    }
    /// A short description: `session CONTROL MODULE` or what libpam made of the line.
    pub fn describe(&self) -> String {
        match &self.kind {
            HandlerKind::Module { path, .. } => format!("session {} {path}", self.control),
            HandlerKind::MustFail { reason } => format!("a broken session line ({reason})"),
            HandlerKind::Substack { name } => format!("session substack {name}"),
        }
    }
}

/// The file name of a module path.
pub fn module_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `pam_nnp.so` by name or path (also a build tree's `libpam_nnp.so`).
pub fn is_pam_nnp(module: &str) -> bool {
    matches!(module_name(module), "pam_nnp.so" | "libpam_nnp.so")
}

/// A line naming pam_nnp.so that libpam never loads as a session module.
#[derive(Clone, Debug)]
pub struct Ghost {
    /// The physical line where pam_nnp.so is written.
    pub origin: Origin,
    pub reason: String,
}

/// A service's session phase as libpam builds it.
#[derive(Clone, Debug, Default)]
pub struct Stack {
    /// The session handlers, in order.
    pub handlers: Vec<Handler>,
    /// The service configures no session module: libpam uses the `other` stack's.
    pub from_other: bool,
    /// Lines of the service's own files naming pam_nnp.so that never become a session
    /// module (also when the service falls back to `other`, whose lines are not here).
    pub ghosts: Vec<Ghost>,
    /// libpam cannot read the stack at all and fails every request of the service
    /// (`pam_start`: "Initialization failure"), with the reason.
    pub fatal: Option<String>,
    /// Files that could not be read (`PATH: error`): the model is incomplete.
    pub unreadable: Vec<String>,
    /// Some file of the stack names pam_nnp.so outside a comment.
    pub mentions_nnp: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Type {
    Any,
    Auth,
    Session,
    Account,
    Password,
}

fn parse_type(tok: &str) -> Option<Type> {
    [
        ("auth", Type::Auth),
        ("session", Type::Session),
        ("account", Type::Account),
        ("password", Type::Password),
    ]
    .into_iter()
    .find(|(n, _)| tok.eq_ignore_ascii_case(n))
    .map(|(_, t)| t)
}

/// One logical line: continuations joined, comment cut off.
#[derive(Debug, Clone)]
struct Logical {
    text: String,
    /// (byte offset in `text`, physical line number) of each joined piece.
    pieces: Vec<(usize, usize)>,
}

impl Logical {
    fn start_line(&self) -> usize {
        self.pieces.first().map_or(0, |p| p.1)
    }
    /// The physical line of the byte at `offset`.
    fn line_at(&self, offset: usize) -> usize {
        self.pieces
            .iter()
            .take_while(|p| p.0 <= offset)
            .last()
            .map_or(0, |p| p.1)
    }
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n')
}

/// `_pam_assemble_line`, for a whole file: the logical lines, and the error that makes libpam
/// give up on the file after them (a last line ending in `\`, a line too long).
fn assemble(text: &str) -> (Vec<Logical>, Option<(String, String)>) {
    let mut out = Vec::new();
    let mut cur: Option<Logical> = None;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let no = i + 1;
        let s = raw.trim_start_matches(is_blank);
        if s.is_empty() || s.starts_with('#') {
            // Nothing on this line; a pending continuation goes on to the next one.
            continue;
        }
        let line = cur.get_or_insert_with(|| Logical {
            text: String::new(),
            pieces: Vec::new(),
        });
        line.pieces.push((line.text.len(), no));
        let complete = if let Some(hash) = s.find('#') {
            line.text.push_str(&s[..hash]);
            true
        } else {
            let body = s.trim_end_matches(is_blank);
            if let Some(stripped) = body.strip_suffix('\\') {
                line.text.push_str(stripped);
                line.text.push(' ');
                false
            } else {
                line.text.push_str(body);
                true
            }
        };
        if line.text.len() >= BUF_SIZE - 1 {
            let start = line.start_line();
            let pending = line.text.clone();
            return (
                out,
                Some((
                    format!(
                        "line {start} is longer than libpam's {BUF_SIZE}-byte line buffer (libpam splits or rejects it)"
                    ),
                    pending,
                )),
            );
        }
        if complete {
            if let Some(l) = cur.take() {
                out.push(l);
            }
        }
    }
    match cur {
        Some(l) => (
            out,
            Some((
                format!(
                    "line {} ends with `\\` and no line follows it: libpam cannot read the file",
                    l.pieces.last().map_or(0, |p| p.1)
                ),
                l.text,
            )),
        ),
        None => (out, None),
    }
}

/// `_pam_StrTok(…, " \n\t", …)`: the next token from `*pos`, with its start offset. A token
/// starting with `[` runs to the first `]` (brackets removed, `\]` kept as `]`).
fn strtok(s: &str, pos: &mut usize) -> Option<(String, usize)> {
    let b = s.as_bytes();
    let mut i = *pos;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n') {
        i += 1;
    }
    if i >= b.len() {
        *pos = b.len();
        return None;
    }
    let start = i;
    if b[i] == b'[' {
        let mut tok = Vec::new();
        i += 1;
        while i < b.len() && b[i] != b']' {
            if b[i] == b'\\' && b.get(i + 1) == Some(&b']') {
                i += 1;
            }
            tok.push(b[i]);
            i += 1;
        }
        // the closing ']' (if any) is consumed
        *pos = (i + 1).min(b.len());
        return Some((String::from_utf8_lossy(&tok).into_owned(), start));
    }
    while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'\n') {
        i += 1;
    }
    let tok = String::from_utf8_lossy(&b[start..i]).into_owned();
    *pos = (i + 1).min(b.len());
    Some((tok, start))
}

/// `_pam_parse_control`: a `value=action …` list; anything malformed makes every value `bad`.
/// Values left unset get `default`'s action, else `bad`. The error, if any, is returned too.
fn parse_control(tok: &str) -> ([PamAction; RETURN_VALUES], Option<String>) {
    let mut set: [Option<PamAction>; RETURN_VALUES] = [None; RETURN_VALUES];
    let b = tok.as_bytes();
    let mut i = 0;
    let fail = |what: &str, at: usize| {
        (
            [PamAction::Bad; RETURN_VALUES],
            Some(format!(
                "{what} at \"{}\": libpam treats every outcome as bad",
                String::from_utf8_lossy(&b[at.min(b.len())..])
            )),
        )
    };
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let Some(ret) = RETURN_NAMES
            .iter()
            .position(|n| b[i..].starts_with(n.as_bytes()))
        else {
            return fail("expecting a return value", i);
        };
        i += RETURN_NAMES[ret].len();
        if i >= b.len() {
            return fail("expecting a return value", i);
        }
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            return fail("expecting '='", i);
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return fail("expecting an action", i);
        }
        let action = if let Some((n, a)) = ACTION_NAMES
            .iter()
            .find(|(n, _)| b[i..].starts_with(n.as_bytes()))
        {
            i += n.len();
            *a
        } else {
            if !b[i].is_ascii_digit() {
                return fail("expecting a jump number", i);
            }
            let mut n: u32 = 0;
            while i < b.len() && b[i].is_ascii_digit() {
                n = n.saturating_mul(10).saturating_add(u32::from(b[i] - b'0'));
                i += 1;
            }
            if n == 0 {
                return fail("expecting a non-zero jump", i);
            }
            PamAction::Jump(n)
        };
        if ret == RETURN_VALUES {
            for a in set.iter_mut().filter(|a| a.is_none()) {
                *a = Some(action);
            }
        } else {
            set[ret] = Some(action);
        }
    }
    (set.map(|a| a.unwrap_or(PamAction::Bad)), None)
}

/// The actions of a keyword control (`required`, …) or of a `[...]` control.
fn control_actions(tok: &str) -> ([PamAction; RETURN_VALUES], Option<String>) {
    let mut a = [None; RETURN_VALUES];
    let (ok, default) = match tok.to_ascii_lowercase().as_str() {
        "required" => {
            a[usize::from(PAM_IGNORE)] = Some(PamAction::Ignore);
            (PamAction::Ok, PamAction::Bad)
        }
        "requisite" => {
            a[usize::from(PAM_IGNORE)] = Some(PamAction::Ignore);
            (PamAction::Ok, PamAction::Die)
        }
        "optional" => (PamAction::Ok, PamAction::Ignore),
        "sufficient" => (PamAction::Done, PamAction::Ignore),
        _ => return parse_control(tok),
    };
    a[usize::from(PAM_SUCCESS)] = Some(ok);
    a[12] = Some(ok); // new_authtok_reqd
    (a.map(|x| x.unwrap_or(default)), None)
}

struct Loader<'a> {
    files: &'a dyn Files,
    module_dir: &'a Path,
    handlers: Vec<Handler>,
    ghosts: Vec<Ghost>,
    unreadable: Vec<String>,
    mentions_nnp: bool,
}

/// Why a file could not be loaded.
enum FileError {
    /// It could not be read (missing, unreadable): doctor cannot know what it holds.
    Unreadable(String),
    /// libpam gives up on it (and on whatever includes it).
    Broken(String),
}

impl FileError {
    fn text(&self) -> &str {
        match self {
            FileError::Unreadable(s) | FileError::Broken(s) => s,
        }
    }
}

impl Loader<'_> {
    /// `_pam_open_config_file`: an absolute path, or the name in each config dir in turn.
    fn open(&mut self, name: &str) -> Result<(PathBuf, String), FileError> {
        let candidates: Vec<PathBuf> = if name.starts_with('/') {
            vec![PathBuf::from(name)]
        } else {
            CONFIG_DIRS
                .iter()
                .map(|d| Path::new(d).join(name))
                .collect()
        };
        let mut first_err: Option<String> = None;
        for p in &candidates {
            match self.files.read(p) {
                Ok(bytes) => return Ok((p.clone(), String::from_utf8_lossy(&bytes).into_owned())),
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(format!("{}: {e}", p.display()));
                    }
                }
            }
        }
        let e = first_err.unwrap_or_else(|| format!("{name}: not found"));
        self.unreadable.push(e.clone());
        Err(FileError::Unreadable(e))
    }

    /// `_pam_load_conf_file`.
    fn load(&mut self, name: &str, req: Type, level: usize, depth: usize) -> Result<(), FileError> {
        if level >= SUBSTACK_MAX_LEVEL {
            return Err(FileError::Broken(format!(
                "{name}: substacks nested {SUBSTACK_MAX_LEVEL} deep (libpam's limit)"
            )));
        }
        if depth > MAX_INCLUDE_DEPTH {
            let e = format!("{name}: includes nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)");
            self.unreadable.push(e.clone());
            return Err(FileError::Unreadable(e));
        }
        let (path, text) = self.open(name)?;
        self.parse(&path, &text, req, level, depth)
    }

    /// `_pam_parse_conf_file` for a file read with a known service (no service field).
    fn parse(
        &mut self,
        path: &Path,
        text: &str,
        req: Type,
        level: usize,
        depth: usize,
    ) -> Result<(), FileError> {
        let (lines, error) = assemble(text);
        // libpam may stop before a pam_nnp line (a broken line above it): any mention counts.
        let pending = error.as_ref().map(|e| e.1.as_str());
        if lines
            .iter()
            .map(|l| l.text.as_str())
            .chain(pending)
            .any(|t| words(t).any(|(w, _)| is_pam_nnp(w.trim_matches(['[', ']']))))
        {
            self.mentions_nnp = true;
        }
        for line in &lines {
            self.line(path, line, req, level, depth)?;
        }
        match error {
            Some((e, _)) => Err(FileError::Broken(format!("{}: {e}", path.display()))),
            None => Ok(()),
        }
    }

    fn line(
        &mut self,
        path: &Path,
        line: &Logical,
        req: Type,
        level: usize,
        depth: usize,
    ) -> Result<(), FileError> {
        let origin = Origin {
            file: path.to_path_buf(),
            line: line.start_line(),
        };
        let text = line.text.as_str();
        let mut pos = 0;
        let mut toks = Vec::new();
        while let Some(t) = strtok(text, &mut pos) {
            toks.push(t);
        }
        // Words naming pam_nnp.so: (is it the module field?, physical line).
        let module_at = toks.get(2).map(|t| t.1);
        let nnp: Vec<(bool, usize)> = words(text)
            .filter(|(w, _)| is_pam_nnp(w.trim_matches(['[', ']'])))
            .map(|(_, off)| (Some(off) == module_at, line.line_at(off)))
            .collect();
        if !nnp.is_empty() {
            self.mentions_nnp = true;
        }
        let tok = |i: usize| toks.get(i).map(|t| t.0.as_str());

        // Debian's @include (checked with pamtester: case-insensitive, extra words ignored,
        // the including file's type filter applies, a file that cannot be loaded makes the
        // including file fail, no name crashes libpam 1.5.2).
        if tok(0).is_some_and(|t| t.eq_ignore_ascii_case("@include")) {
            let Some(name) = tok(1) else {
                return Err(FileError::Broken(format!(
                    "{origin}: @include without a file name (libpam 1.5.2 crashes on it)"
                )));
            };
            return match self.load(name, req, level, depth + 1) {
                Ok(()) => Ok(()),
                Err(FileError::Unreadable(e)) => Err(FileError::Unreadable(e)),
                Err(FileError::Broken(e)) => {
                    Err(FileError::Broken(format!("{origin}: @include {name}: {e}")))
                }
            };
        }

        let mut must_fail: Option<String> = None;
        let mut silent = false;
        let ty = match tok(0) {
            None => {
                must_fail = Some("empty module type".into());
                if req == Type::Any {
                    Type::Auth
                } else {
                    req
                }
            }
            Some(t) => {
                let t = match t.strip_prefix('-') {
                    Some(rest) => {
                        silent = true;
                        rest
                    }
                    None => t,
                };
                match parse_type(t) {
                    Some(ty) => ty,
                    None => {
                        must_fail = Some(format!("illegal module type \"{t}\""));
                        if req == Type::Any {
                            Type::Auth
                        } else {
                            req
                        }
                    }
                }
            }
        };
        if req != Type::Any && ty != req {
            return Ok(());
        }
        if ty != Type::Session {
            // Another phase. A pam_nnp.so on a line joined to it, or on a line libpam turns
            // into an always-failing auth entry, never runs for a session.
            for &(is_module, pl) in &nnp {
                let reason = if pl != origin.line {
                    Some(joined(&origin, text))
                } else if let Some(m) = &must_fail {
                    Some(format!(
                        "{m}: libpam makes this line an always-failing auth entry"
                    ))
                } else if !is_module {
                    Some(format!("\"{text}\" passes it as an argument"))
                } else {
                    None
                };
                if let Some(reason) = reason {
                    self.ghost(path, pl, reason);
                }
            }
            return Ok(());
        }

        // The control as written: a `[...]` token keeps its brackets.
        let control = match toks.get(1) {
            Some((c, at)) if text.as_bytes().get(*at) == Some(&b'[') => format!("[{c}]"),
            Some((c, _)) => c.clone(),
            None => String::new(),
        };
        let (actions, control_error) = match tok(1) {
            None => {
                must_fail.get_or_insert_with(|| "no control flag".into());
                ([PamAction::Bad; RETURN_VALUES], None)
            }
            Some(c) if c.eq_ignore_ascii_case("include") || c.eq_ignore_ascii_case("substack") => {
                let substack = c.eq_ignore_ascii_case("substack");
                let name = tok(2).map(str::to_string);
                if substack {
                    self.handlers.push(Handler {
                        kind: HandlerKind::Substack {
                            name: name.clone().unwrap_or_default(),
                        },
                        silent,
                        control: control.clone(),
                        actions: [PamAction::Ignore; RETURN_VALUES],
                        level,
                        origin: origin.clone(),
                        control_error: None,
                        never_succeeds: None,
                    });
                }
                let loaded = match &name {
                    None => Err(FileError::Broken("no file name".into())),
                    Some(n) => {
                        self.load(n, Type::Session, level + usize::from(substack), depth + 1)
                    }
                };
                match loaded {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        let what = format!(
                            "{} {}: {}",
                            c.to_ascii_lowercase(),
                            name.as_deref().unwrap_or(""),
                            e.text()
                        );
                        self.handlers.push(Handler {
                            kind: HandlerKind::MustFail { reason: what },
                            silent,
                            control: control.clone(),
                            actions: [PamAction::Bad; RETURN_VALUES],
                            level,
                            origin,
                            control_error: None,
                            never_succeeds: None,
                        });
                        return Ok(());
                    }
                }
            }
            Some(c) => control_actions(c),
        };
        let module = tok(2).map(str::to_string);
        if module.is_none() {
            must_fail.get_or_insert_with(|| "no module name".into());
        }
        let kind = match (&must_fail, &module) {
            (Some(reason), _) => HandlerKind::MustFail {
                reason: reason.clone(),
            },
            (None, Some(m)) => {
                let file = if m.starts_with('/') {
                    PathBuf::from(m)
                } else {
                    // DEFAULT_MODULE_PATH ends with '/' and is simply prepended.
                    self.module_dir.join(m)
                };
                let present = self.files.is_file(&file)
                    || (m.contains("$ISA")
                        && self
                            .files
                            .is_file(Path::new(&file.to_string_lossy().replace("$ISA", "."))));
                HandlerKind::Module {
                    path: m.clone(),
                    file,
                    present,
                    args: toks.iter().skip(3).map(|t| t.0.clone()).collect(),
                }
            }
            (None, None) => HandlerKind::MustFail {
                reason: "no module name".into(),
            },
        };
        // Every pam_nnp.so token but the module of a session module line is never loaded.
        for &(is_module, pl) in &nnp {
            if is_module && matches!(kind, HandlerKind::Module { .. }) {
                continue;
            }
            let reason = if pl != origin.line {
                joined(&origin, text)
            } else if let HandlerKind::MustFail { reason } = &kind {
                format!("{reason}: libpam makes this line an always-failing session entry")
            } else {
                format!("\"{}\" passes it as an argument", text.trim())
            };
            self.ghost(path, pl, reason);
        }
        self.handlers.push(Handler {
            kind,
            silent,
            control,
            actions,
            level,
            origin,
            control_error,
            never_succeeds: None,
        });
        Ok(())
    }

    fn ghost(&mut self, path: &Path, line: usize, reason: String) {
        self.ghosts.push(Ghost {
            origin: Origin {
                file: path.to_path_buf(),
                line,
            },
            reason,
        });
    }
}

/// The whitespace-separated words of a line with their byte offsets.
fn words(text: &str) -> impl Iterator<Item = (&str, usize)> {
    text.split(is_blank)
        .scan(0usize, |off, w| {
            let start = *off;
            *off += w.len() + 1;
            Some((w, start))
        })
        .filter(|(w, _)| !w.is_empty())
}

fn joined(origin: &Origin, text: &str) -> String {
    format!(
        "a `\\` at the end of the line before joins it to line {}: libpam reads \"{}\"",
        origin.line,
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

/// The session phase of `service` as libpam 1.5.2 builds it: the service's file from
/// [`CONFIG_DIRS`] (or `other`'s session lines when it has none), includes, substacks
/// and `@include` followed. `module_dir` is libpam's `DEFAULT_MODULE_PATH`.
pub fn load_service(files: &dyn Files, module_dir: &Path, service: &str) -> Stack {
    let mut stack = load_one(files, module_dir, service);
    if stack.handlers.is_empty()
        && stack.fatal.is_none()
        && stack.unreadable.is_empty()
        && service != DEFAULT_SERVICE
    {
        let other = load_one(files, module_dir, DEFAULT_SERVICE);
        stack.handlers = other.handlers;
        stack.from_other = true;
        stack.fatal = other.fatal;
        // `other`'s own ghosts are reported under its name; the service keeps its own
        // (a pam_nnp.so line of its file that never became a session line is why libpam
        // falls back to `other` at all).
        stack.unreadable.extend(other.unreadable);
        stack.mentions_nnp |= other.mentions_nnp;
    }
    // PAM_SERVICE is the service's name, also when the lines are other's.
    for h in &mut stack.handlers {
        if let HandlerKind::Module {
            path,
            present: true,
            args,
            ..
        } = &h.kind
        {
            if module_name(path) == "pam_succeed_if.so" {
                h.never_succeeds = service_condition_fails(args, service);
            }
        }
    }
    stack
}

/// Options pam_succeed_if.so skips wherever they stand (`strcmp`), even as a condition's
/// value.
const SUCCEED_IF_OPTIONS: [&str; 6] = [
    "debug",
    "use_uid",
    "quiet",
    "quiet_fail",
    "quiet_success",
    "audit",
];

/// The first `service` condition of a `pam_succeed_if.so` line that is false for `service`,
/// as `service OP VALUE`: then the module never returns `PAM_SUCCESS` (it evaluates its
/// conditions in order and stops at the first one not met, or at an error, and succeeds
/// only when all are met). Evaluated as Linux-PAM's pam_succeed_if.c does (1.5.2 and
/// later): the option words are dropped, the rest taken three at a time; `=` and `!=` are
/// `strcmp`, `in` and `notin` its `:`-separated list match (`evaluate_inlist`). Only the
/// attribute `service` and the qualifiers `=`, `!=`, `in` and `notin` written in lower case
/// are evaluated; the rest (globs, user, group, host conditions) may go either way.
/// Services libpam could never be started as (upper case: `pam_start` lowers the name),
/// and those 1.5.2 would read as another attribute (its chain of `if`s turns a service
/// named `ruser`, `rhost` or `tty` into that item's value), are never evaluated.
pub fn service_condition_fails(args: &[String], service: &str) -> Option<String> {
    if service.bytes().any(|b| b.is_ascii_uppercase())
        || ["ruser", "rhost", "tty"].contains(&service)
    {
        return None;
    }
    let words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !SUCCEED_IF_OPTIONS.contains(a))
        .collect();
    for c in words.chunks_exact(3) {
        let (left, qual, right) = (c[0], c[1], c[2]);
        if left != "service" {
            continue;
        }
        let met = match qual {
            "=" => service == right,
            "!=" => service != right,
            "in" => in_list(service, right),
            "notin" => !in_list(service, right),
            _ => continue,
        };
        if !met {
            return Some(format!("{left} {qual} {right}"));
        }
    }
    None
}

/// pam_succeed_if.c's `evaluate_inlist`, step by step (a `strstr` scan that only counts
/// a match starting a `:`-separated element and ending one).
fn in_list(left: &str, list: &str) -> bool {
    let (left, mut right) = (left.as_bytes(), list.as_bytes());
    loop {
        let Some(at) = find(right, left) else {
            return false;
        };
        if at == 0 || right[at - 1] == b':' {
            let end = at + left.len();
            if end == right.len() || right[end] == b':' {
                return true;
            }
        }
        // strchr(p, ':') from the match (p moved past it only when it started an element)
        let from = if at == 0 || right[at - 1] == b':' {
            at + left.len()
        } else {
            at
        };
        match right[from..].iter().position(|&b| b == b':') {
            Some(i) => right = &right[from + i + 1..],
            None => return false,
        }
    }
}

/// `strstr`: the first offset of `needle` in `hay` (an empty needle is found at 0).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn load_one(files: &dyn Files, module_dir: &Path, service: &str) -> Stack {
    let mut l = Loader {
        files,
        module_dir,
        handlers: Vec::new(),
        ghosts: Vec::new(),
        unreadable: Vec::new(),
        mentions_nnp: false,
    };
    let fatal = match l.load(service, Type::Any, 0, 0) {
        Ok(()) | Err(FileError::Unreadable(_)) => None,
        Err(FileError::Broken(e)) => Some(e),
    };
    Stack {
        handlers: l.handlers,
        from_other: false,
        ghosts: l.ghosts,
        fatal,
        unreadable: l.unreadable,
        mentions_nnp: l.mentions_nnp,
    }
}

// ---- the session phase, run with every outcome of every module (pam_dispatch.c) ----

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Impression {
    Undef,
    Positive,
    Negative,
}

/// What has happened to the pam_nnp line under study.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Target {
    Pending,
    /// It ran and returned this value.
    Ran(u8),
    /// Its module file is missing: libpam "ran" it as `PAM_MODULE_UNKNOWN`.
    NotLoaded,
    /// Handler `by` returned `code` and its action skipped the line.
    Skipped {
        by: usize,
        code: u8,
    },
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct State {
    idx: usize,
    prev_level: usize,
    impression: Impression,
    /// `status == PAM_SUCCESS`.
    status_ok: bool,
    substates: Vec<(Impression, bool)>,
    target: Target,
}

/// What can happen to one pam_nnp line when libpam opens a session, over every outcome of
/// every module (conservative: any module may return any value, except that a broken line
/// always returns `PAM_PERM_DENIED` and a missing module `PAM_MODULE_UNKNOWN`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// A session can succeed without the line running: (handler index, return value) of the
    /// module whose action skips it.
    pub skipped: Option<(usize, u8)>,
    /// A session can succeed with the line's module file missing (libpam skips it).
    pub not_loaded: bool,
    /// A session can succeed although the line returned this error.
    pub error_ignored: Option<u8>,
    /// A session can succeed when the line returns `PAM_IGNORE` (a user it does not restrict).
    pub ignore_ok: bool,
    /// Some session can succeed at all.
    pub any_success: bool,
}

/// Explore the session phase for the pam_nnp handler at `target`.
pub fn reach(handlers: &[Handler], target: usize) -> Reach {
    let mut out = Reach::default();
    let mut seen: HashSet<State> = HashSet::new();
    let mut todo = vec![State {
        idx: 0,
        prev_level: 0,
        impression: Impression::Undef,
        status_ok: false,
        substates: vec![(Impression::Undef, false); SUBSTACK_MAX_LEVEL + 1],
        target: Target::Pending,
    }];
    while let Some(st) = todo.pop() {
        if !seen.insert(st.clone()) {
            continue;
        }
        let Some(h) = handlers.get(st.idx) else {
            if st.impression == Impression::Positive && st.status_ok {
                out.any_success = true;
                match st.target {
                    Target::Skipped { by, code } => {
                        out.skipped.get_or_insert((by, code));
                    }
                    Target::NotLoaded => out.not_loaded = true,
                    Target::Ran(PAM_IGNORE) => out.ignore_ok = true,
                    Target::Ran(PAM_SUCCESS) | Target::Pending => {}
                    Target::Ran(code) => {
                        out.error_ignored.get_or_insert(code);
                    }
                }
            }
            continue;
        };
        let level = h.level.min(SUBSTACK_MAX_LEVEL);
        let mut base = st.clone();
        if base.prev_level < level {
            base.substates[level] = (base.impression, base.status_ok);
        }
        base.prev_level = level;
        let codes: Vec<u8> = match &h.kind {
            HandlerKind::Substack { .. } => {
                base.idx += 1;
                todo.push(base);
                continue;
            }
            HandlerKind::MustFail { .. } => vec![PAM_PERM_DENIED],
            HandlerKind::Module { present: false, .. } => vec![PAM_MODULE_UNKNOWN],
            HandlerKind::Module { .. } => (0..RETURN_VALUES as u8)
                .filter(|&c| c != PAM_INCOMPLETE)
                .filter(|&c| c != PAM_SUCCESS || h.never_succeeds.is_none())
                .collect(),
        };
        // One representative per distinct effect.
        let mut tried: HashSet<(PamAction, u8)> = HashSet::new();
        for code in codes {
            let class = match code {
                PAM_SUCCESS => 0,
                PAM_IGNORE => 1,
                _ => 2,
            };
            let action = h.actions[usize::from(code)];
            if !tried.insert((action, class)) {
                continue;
            }
            let mut s = base.clone();
            if st.idx == target && s.target == Target::Pending {
                s.target = match &h.kind {
                    HandlerKind::Module { present: false, .. } => Target::NotLoaded,
                    _ => Target::Ran(code),
                };
            }
            let mut end = st.idx; // the last handler this step consumes
            let mut decided = false;
            match action {
                PamAction::Reset => {
                    (s.impression, s.status_ok) = s.substates[level];
                }
                PamAction::Ok | PamAction::Done => {
                    if s.impression == Impression::Undef
                        || (s.impression == Impression::Positive && s.status_ok)
                    {
                        s.impression = Impression::Positive;
                        s.status_ok = code == PAM_SUCCESS;
                    }
                    decided = action == PamAction::Done && s.impression == Impression::Positive;
                }
                PamAction::Bad | PamAction::Die => {
                    if s.impression != Impression::Negative {
                        s.impression = Impression::Negative;
                        s.status_ok = code == PAM_SUCCESS;
                    }
                    decided = action == PamAction::Die;
                }
                PamAction::Ignore => {}
                PamAction::Jump(n) => {
                    let mut left = n;
                    while end + 1 < handlers.len() && handlers[end + 1].level >= h.level && left > 0
                    {
                        loop {
                            end += 1;
                            if !(end + 1 < handlers.len() && handlers[end + 1].level > h.level) {
                                break;
                            }
                        }
                        left -= 1;
                    }
                    if left > 0 {
                        // "bad jump in stack"
                        s.impression = Impression::Negative;
                        s.status_ok = false;
                    }
                }
            }
            if decided {
                while end + 1 < handlers.len() && handlers[end + 1].level >= h.level {
                    end += 1;
                }
            }
            if s.target == Target::Pending && st.idx < target && target <= end {
                s.target = Target::Skipped { by: st.idx, code };
            }
            s.idx = end + 1;
            todo.push(s);
        }
    }
    out
}

/// libpam's `DEFAULT_MODULE_PATH`, read from the library itself (a string ending in
/// `/security/`), else the usual directory for this architecture.
pub fn module_dir(files: &dyn Files) -> PathBuf {
    let triple = format!("{}-linux-gnu", std::env::consts::ARCH);
    let libs = [
        format!("/lib/{triple}/libpam.so.0"),
        format!("/usr/lib/{triple}/libpam.so.0"),
        "/lib64/libpam.so.0".to_string(),
        "/usr/lib64/libpam.so.0".to_string(),
        "/lib/libpam.so.0".to_string(),
        "/usr/lib/libpam.so.0".to_string(),
    ];
    for lib in &libs {
        if let Ok(bytes) = files.read(Path::new(lib)) {
            if let Some(dir) = security_dir_in(&bytes) {
                return PathBuf::from(dir);
            }
        }
    }
    PathBuf::from(format!("/lib/{triple}/security/"))
}

/// The first NUL-terminated string of the form `/…/security/` in a binary.
fn security_dir_in(bytes: &[u8]) -> Option<String> {
    bytes
        .split(|&b| b == 0)
        .filter(|s| s.starts_with(b"/") && s.ends_with(b"/security/") && s.len() < 256)
        .find(|s| s.iter().all(|b| b.is_ascii_graphic()))
        .map(|s| String::from_utf8_lossy(s).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Table {
        files: HashMap<PathBuf, String>,
        modules: Vec<PathBuf>,
    }

    impl Files for Table {
        fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
            self.files
                .get(path)
                .map(|s| s.as_bytes().to_vec())
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }
        fn is_file(&self, path: &Path) -> bool {
            self.modules.iter().any(|m| m == path)
        }
    }

    const DIR: &str = "/lib/x86_64-linux-gnu/security/";

    fn table(files: &[(&str, &str)]) -> Table {
        let modules = [
            "pam_permit.so",
            "pam_deny.so",
            "pam_unix.so",
            "pam_nnp.so",
            "pam_succeed_if.so",
            "pam_exec.so",
            "pam_systemd.so",
            "pam_keyinit.so",
            "pam_limits.so",
        ]
        .iter()
        .map(|m| Path::new(DIR).join(m))
        .collect();
        Table {
            files: files
                .iter()
                .map(|(n, t)| (Path::new("/etc/pam.d").join(n), t.to_string()))
                .collect(),
            modules,
        }
    }

    fn stack(files: &[(&str, &str)]) -> Stack {
        load_service(&table(files), Path::new(DIR), "svc")
    }

    fn nnp_index(s: &Stack) -> usize {
        s.handlers
            .iter()
            .position(|h| h.module().is_some_and(is_pam_nnp))
            .unwrap_or(usize::MAX)
    }

    fn verdict(svc: &str) -> Reach {
        let s = stack(&[("svc", svc)]);
        reach(&s.handlers, nnp_index(&s))
    }

    #[test]
    fn ordinary_stack_is_fine() {
        let r = verdict("session required pam_permit.so\nsession required pam_nnp.so\n");
        assert_eq!(r.skipped, None);
        assert!(!r.not_loaded && r.error_ignored.is_none() && r.any_success && r.ignore_ok);
    }

    #[test]
    fn debian_common_session_include() {
        let cs = "session\t[default=1]\t\t\tpam_permit.so\nsession\trequisite\t\t\tpam_deny.so\nsession\trequired\t\t\tpam_permit.so\nsession\trequired\tpam_unix.so \nsession\toptional\tpam_systemd.so \n";
        let s = stack(&[
            (
                "svc",
                "@include common-auth\n@include common-session\nsession required pam_nnp.so\n",
            ),
            ("common-session", cs),
            (
                "common-auth",
                "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\n",
            ),
        ]);
        assert!(s.fatal.is_none() && s.unreadable.is_empty());
        assert_eq!(s.handlers.len(), 6);
        let r = reach(&s.handlers, 5);
        assert_eq!(r.skipped, None);
        assert!(r.error_ignored.is_none());
    }

    /// RHEL 9's password-auth (and system-auth) session block, pam_nnp after `after` lines.
    fn rhel_auth(nnp_after: usize) -> String {
        let mut lines = vec![
            "session     optional                   pam_keyinit.so revoke",
            "session     required                   pam_limits.so",
            "-session    optional                   pam_systemd.so",
            "session     [success=1 default=ignore] pam_succeed_if.so service in crond quiet use_uid",
            "session     required                   pam_unix.so",
        ];
        lines.insert(
            nnp_after,
            "session     required                   pam_nnp.so",
        );
        lines.join("\n") + "\n"
    }

    fn rhel(service: &str, sshd: &str, password_auth: &str) -> Stack {
        load_service(
            &table(&[(service, sshd), ("password-auth", password_auth)]),
            Path::new(DIR),
            service,
        )
    }

    #[test]
    fn rhel_password_auth_include_then_pam_nnp() {
        let sshd = "session required pam_permit.so\nsession include password-auth\nsession required pam_nnp.so\n";
        let s = rhel(
            "sshd",
            sshd,
            &rhel_auth(5).replace("session     required                   pam_nnp.so\n", ""),
        );
        assert_eq!(s.handlers.len(), 7);
        let r = reach(&s.handlers, nnp_index(&s));
        assert_eq!(r.skipped, None);
        assert!(r.any_success && r.error_ignored.is_none());
    }

    #[test]
    fn the_crond_jump_is_never_taken_by_another_service() {
        let sshd = "session required pam_permit.so\nsession include password-auth\n";
        // right after the jump: for sshd pam_succeed_if never succeeds, so never jumps
        let s = rhel("sshd", sshd, &rhel_auth(4));
        let jump = &s.handlers[4];
        assert!(jump.is_module("pam_succeed_if.so"));
        assert_eq!(jump.never_succeeds.as_deref(), Some("service in crond"));
        assert_eq!(reach(&s.handlers, nnp_index(&s)).skipped, None);
        // control: for crond it succeeds and jumps over pam_nnp
        let s = rhel("crond", sshd, &rhel_auth(4));
        assert_eq!(s.handlers[4].never_succeeds, None);
        assert_eq!(
            reach(&s.handlers, nnp_index(&s)).skipped,
            Some((4, PAM_SUCCESS))
        );
        // the same in other's lines: PAM_SERVICE is still the service's name
        let s = load_service(
            &table(&[
                ("sshd", "auth required pam_permit.so\n"),
                ("other", &rhel_auth(4)),
            ]),
            Path::new(DIR),
            "sshd",
        );
        assert!(s.from_other);
        assert_eq!(reach(&s.handlers, nnp_index(&s)).skipped, None);
    }

    #[test]
    fn service_conditions_as_pam_succeed_if_evaluates_them() {
        let f = |args: &str, svc: &str| {
            let a: Vec<String> = args.split(' ').map(str::to_string).collect();
            service_condition_fails(&a, svc)
        };
        assert_eq!(
            f("service in crond quiet use_uid", "sshd").as_deref(),
            Some("service in crond")
        );
        assert_eq!(f("service in crond quiet use_uid", "crond"), None);
        assert_eq!(f("service in sshd:su quiet", "su"), None);
        assert_eq!(
            f("service in sshd:su quiet", "s"),
            Some("service in sshd:su".into())
        );
        assert_eq!(
            f("service in sshd:su", "sudo").as_deref(),
            Some("service in sshd:su")
        );
        assert_eq!(f("service notin crond:atd", "sshd"), None);
        assert!(f("service notin crond:atd", "atd").is_some());
        assert_eq!(f("service = sshd", "sshd"), None);
        assert!(f("service != sshd", "sshd").is_some());
        // options are dropped wherever they stand, even where a value is expected
        assert_eq!(
            f("service quiet in debug crond", "sshd").as_deref(),
            Some("service in crond")
        );
        // any false service condition, after others: the module cannot succeed
        assert!(f("uid >= 1000 service in crond", "sshd").is_some());
        // not evaluated: other attributes, globs, upper case, 1.5.2's aliased names
        assert_eq!(f("user in crond", "sshd"), None);
        assert_eq!(f("service =~ cron*", "sshd"), None);
        assert_eq!(f("SERVICE in crond", "sshd"), None);
        assert_eq!(f("service IN crond", "sshd"), None);
        assert_eq!(f("service in crond", "tty"), None);
        assert_eq!(f("service in crond", "Sshd"), None);
        // an incomplete condition is not read as one
        assert_eq!(f("service in", "sshd"), None);
    }

    #[test]
    fn in_list_is_evaluate_inlist() {
        for (left, list, want) in [
            ("su", "sshd:su", true),
            ("su", "su", true),
            ("su", "sudo:su", true),
            ("su", "sudo", false),
            ("su", "xsu:sux", false),
            ("su", ":su:", true),
            ("sshd", "sshd", true),
            ("a:b", "x:a:b", true),
            ("su", "", false),
            ("ab", "xab:ab", true),
        ] {
            assert_eq!(in_list(left, list), want, "{left} in {list}");
        }
    }

    #[test]
    fn continuation_swallows_the_next_line() {
        let s = stack(&[(
            "svc",
            "session required pam_permit.so \\\nsession required pam_nnp.so\n",
        )]);
        assert_eq!(s.handlers.len(), 1);
        assert_eq!(
            s.handlers[0].args(),
            &[
                "session".to_string(),
                "required".into(),
                "pam_nnp.so".into()
            ]
        );
        assert_eq!(s.ghosts.len(), 1);
        assert_eq!(s.ghosts[0].origin.line, 2);
        assert!(
            s.ghosts[0].reason.contains("joins it to line 1"),
            "{}",
            s.ghosts[0].reason
        );
        // a comment or blank line in between does not end the continuation
        let s = stack(&[(
            "svc",
            "session required pam_permit.so \\\n# note\n\nsession required pam_nnp.so\n",
        )]);
        assert_eq!(s.ghosts.len(), 1);
        assert_eq!(s.ghosts[0].origin.line, 4);
        // a '#' ends the line: no continuation
        let s = stack(&[(
            "svc",
            "session required pam_permit.so # x \\\nsession required pam_nnp.so\n",
        )]);
        assert!(s.ghosts.is_empty());
        assert_eq!(nnp_index(&s), 1);
        // a continuation that is the module itself is fine
        let s = stack(&[("svc", "session required \\\n  pam_nnp.so debug\n")]);
        assert!(s.ghosts.is_empty());
        assert_eq!(s.handlers[0].args(), &["debug".to_string()]);
        assert_eq!(s.handlers[0].origin.line, 1);
    }

    #[test]
    fn continuation_at_end_of_file_is_fatal() {
        let s = stack(&[(
            "svc",
            "session required pam_permit.so\nsession required pam_nnp.so \\\n",
        )]);
        assert!(
            s.fatal
                .as_deref()
                .is_some_and(|f| f.contains("no line follows")),
            "{:?}",
            s.fatal
        );
        assert!(s.mentions_nnp);
    }

    #[test]
    fn comments_and_blank_lines() {
        let s = stack(&[(
            "svc",
            "# session required pam_nnp.so\n\n   \n\tsession required pam_permit.so#c\n",
        )]);
        assert_eq!(s.handlers.len(), 1);
        assert!(!s.mentions_nnp);
        assert!(s.ghosts.is_empty());
    }

    #[test]
    fn sufficient_before_ends_the_stack() {
        let s = stack(&[("svc", "session required pam_permit.so\nsession sufficient pam_permit.so\nsession required pam_nnp.so\n")]);
        let r = reach(&s.handlers, 2);
        assert_eq!(r.skipped, Some((1, PAM_SUCCESS)));
        // after pam_nnp: fine
        let r = verdict("session required pam_permit.so\nsession required pam_nnp.so\nsession sufficient pam_permit.so\n");
        assert_eq!(r.skipped, None);
    }

    #[test]
    fn success_done_before_ends_the_stack() {
        let r = verdict("session required pam_permit.so\nsession [success=done default=ignore] pam_permit.so\nsession required pam_nnp.so\n");
        assert_eq!(r.skipped, Some((1, PAM_SUCCESS)));
    }

    #[test]
    fn rhel_jump_skips_pam_nnp() {
        let jump =
            "session [success=1 default=ignore] pam_succeed_if.so service in sshd:svc:su quiet";
        let r = verdict(&format!(
            "session required pam_permit.so\n{jump}\nsession required pam_nnp.so\n"
        ));
        assert_eq!(r.skipped, Some((1, PAM_SUCCESS)));
        // control: pam_nnp before the jump
        let r = verdict(&format!("session required pam_permit.so\nsession required pam_nnp.so\n{jump}\nsession required pam_unix.so\n"));
        assert_eq!(r.skipped, None);
        // a jump that lands before pam_nnp is fine
        let r = verdict(&format!(
            "{jump}\nsession required pam_unix.so\nsession required pam_nnp.so\n"
        ));
        assert_eq!(r.skipped, None);
    }

    #[test]
    fn jumps_count_substacks_as_one_and_includes_flat() {
        let sub = (
            "two",
            "session required pam_permit.so\nsession required pam_permit.so\n",
        );
        let s = stack(&[("svc", "session [success=1 default=ignore] pam_permit.so\nsession substack two\nsession required pam_nnp.so\n"), sub]);
        assert_eq!(s.handlers.len(), 5);
        assert_eq!(reach(&s.handlers, 4).skipped, None);
        let s = stack(&[("svc", "session [success=2 default=ignore] pam_permit.so\nsession substack two\nsession required pam_nnp.so\nsession required pam_unix.so\n"), sub]);
        assert_eq!(reach(&s.handlers, 4).skipped, Some((0, PAM_SUCCESS)));
        // a jump to the end leaves nothing that succeeded: the session fails, no bypass
        let s = stack(&[("svc", "session [success=2 default=ignore] pam_permit.so\nsession substack two\nsession required pam_nnp.so\n"), sub]);
        assert_eq!(reach(&s.handlers, 4).skipped, None);
        let s = stack(&[("svc", "session [success=2 default=ignore] pam_permit.so\nsession include two\nsession required pam_nnp.so\n"), sub]);
        assert_eq!(reach(&s.handlers, 3).skipped, None);
        let s = stack(&[("svc", "session [success=3 default=ignore] pam_permit.so\nsession include two\nsession required pam_nnp.so\nsession required pam_permit.so\n"), sub]);
        assert_eq!(reach(&s.handlers, 3).skipped, Some((0, PAM_SUCCESS)));
    }

    #[test]
    fn sufficient_in_a_substack_ends_only_the_substack() {
        let s = stack(&[
            ("svc", "session required pam_permit.so\nsession substack sub\nsession required pam_nnp.so\n"),
            ("sub", "session sufficient pam_permit.so\n"),
        ]);
        assert_eq!(reach(&s.handlers, 3).skipped, None);
        // … but skips what follows it inside the substack
        let s = stack(&[
            (
                "svc",
                "session required pam_permit.so\nsession substack sub\n",
            ),
            (
                "sub",
                "session sufficient pam_permit.so\nsession required pam_nnp.so\n",
            ),
        ]);
        assert_eq!(reach(&s.handlers, 3).skipped, Some((2, PAM_SUCCESS)));
        // through include it ends the whole stack
        let s = stack(&[
            ("svc", "session required pam_permit.so\nsession include sub\nsession required pam_nnp.so\n"),
            ("sub", "session sufficient pam_permit.so\n"),
        ]);
        assert_eq!(reach(&s.handlers, 2).skipped, Some((1, PAM_SUCCESS)));
    }

    #[test]
    fn requisite_failure_before_is_no_bypass() {
        let r = verdict("session required pam_permit.so\nsession requisite pam_unix.so\nsession required pam_nnp.so\n");
        assert_eq!(r.skipped, None);
    }

    #[test]
    fn die_in_a_substack_then_reset_is_a_bypass() {
        let s = stack(&[
            ("svc", "session substack sub\nsession [default=reset] pam_permit.so\nsession required pam_permit.so\n"),
            ("sub", "session requisite pam_unix.so\nsession required pam_nnp.so\n"),
        ]);
        // pam_unix fails: `die` ends the substack before pam_nnp, the reset forgets the failure
        assert!(matches!(reach(&s.handlers, 2).skipped, Some((1, c)) if c != PAM_SUCCESS));
    }

    #[test]
    fn optional_swallows_errors_required_does_not() {
        let r = verdict("session required pam_permit.so\nsession optional pam_nnp.so\n");
        assert!(r.error_ignored.is_some());
        let r = verdict("session required pam_permit.so\nsession required pam_nnp.so\n");
        assert!(r.error_ignored.is_none());
        let r = verdict("session required pam_permit.so\nsession [success=ok ignore=ignore default=bad] pam_nnp.so\n");
        assert!(r.error_ignored.is_none());
        // a later reset forgets pam_nnp's failure
        let r = verdict("session required pam_nnp.so\nsession [default=reset] pam_permit.so\nsession required pam_permit.so\n");
        assert!(r.error_ignored.is_some());
    }

    #[test]
    fn missing_module() {
        let mut t = table(&[(
            "svc",
            "session required pam_permit.so\nsession required pam_nnp.so\n",
        )]);
        t.modules.retain(|m| !m.ends_with("pam_nnp.so"));
        let s = load_service(&t, Path::new(DIR), "svc");
        let r = reach(&s.handlers, 1);
        assert!(!r.any_success && !r.not_loaded);
        // '-' only silences the log: with optional the session goes on without it
        let mut t = table(&[(
            "svc",
            "session required pam_permit.so\n-session optional pam_nnp.so\n",
        )]);
        t.modules.retain(|m| !m.ends_with("pam_nnp.so"));
        let s = load_service(&t, Path::new(DIR), "svc");
        assert!(s.handlers[1].silent);
        let r = reach(&s.handlers, 1);
        assert!(r.any_success && r.not_loaded);
        // absolute paths are taken as they are
        let s = stack(&[(
            "svc",
            "session required pam_permit.so\nsession required /opt/pam_nnp.so\n",
        )]);
        assert!(
            matches!(&s.handlers[1].kind, HandlerKind::Module { present: false, file, .. } if file == Path::new("/opt/pam_nnp.so"))
        );
        let s = stack(&[("svc", "session required pam_permit.so\nsession required /lib/x86_64-linux-gnu/security/pam_nnp.so\n")]);
        assert!(matches!(
            &s.handlers[1].kind,
            HandlerKind::Module { present: true, .. }
        ));
    }

    #[test]
    fn missing_other_module_locks_out() {
        let r = verdict("session required pam_gone.so\nsession required pam_nnp.so\n");
        assert!(!r.any_success);
    }

    #[test]
    fn includes_and_errors() {
        // a missing @include: unreadable (doctor cannot tell what it held)
        let s = stack(&[("svc", "@include gone\nsession required pam_nnp.so\n")]);
        assert_eq!(s.unreadable.len(), 1);
        assert!(s.unreadable[0].starts_with("/etc/pam.d/gone: "));
        // @include with no name crashes libpam
        let s = stack(&[(
            "svc",
            "session required pam_permit.so\n@include\nsession required pam_nnp.so\n",
        )]);
        assert!(s.fatal.is_some());
        // a broken file behind `session include` makes that line always fail
        let s = stack(&[
            ("svc", "session required pam_permit.so\nsession include inc\nsession required pam_nnp.so\n"),
            ("inc", "session required pam_permit.so\n@include\n"),
        ]);
        assert!(s.fatal.is_none());
        assert!(matches!(s.handlers[2].kind, HandlerKind::MustFail { .. }));
        assert!(!reach(&s.handlers, 3).any_success);
        // case-insensitive keywords, @include inside an include, uppercase @INCLUDE
        let s = stack(&[
            (
                "svc",
                "  @INCLUDE a extra words\nSESSION Required pam_nnp.so\n",
            ),
            ("a", "@include b\n"),
            ("b", "Session REQUIRED pam_permit.so\n"),
        ]);
        assert_eq!(s.handlers.len(), 2);
        assert_eq!(nnp_index(&s), 1);
        // type filter passes through @include in a session include: a bad type line there
        // becomes an always-failing session entry
        let s = stack(&[
            ("svc", "session include a\nsession required pam_nnp.so\n"),
            ("a", "@include b\n"),
            (
                "b",
                "bogus required pam_permit.so\nauth required pam_deny.so\n",
            ),
        ]);
        assert_eq!(s.handlers.len(), 2);
        assert!(matches!(s.handlers[0].kind, HandlerKind::MustFail { .. }));
    }

    #[test]
    fn other_is_used_when_the_service_has_no_session_lines() {
        let s = stack(&[
            ("svc", "auth required pam_permit.so\n"),
            (
                "other",
                "session required pam_permit.so\nsession required pam_nnp.so\n",
            ),
        ]);
        assert!(s.from_other);
        assert_eq!(nnp_index(&s), 1);
    }

    #[test]
    fn a_service_falling_back_to_other_keeps_its_own_ghosts_only() {
        let other = (
            "other",
            "session required pam_permit.so\nsesion required pam_nnp.so\n",
        );
        // joined to an account line: the service has no session line, libpam uses other's
        let s = stack(&[
            (
                "svc",
                "auth required pam_permit.so\naccount required pam_permit.so \\\nsession required pam_nnp.so\n",
            ),
            other,
        ]);
        assert!(s.from_other);
        assert_eq!(s.ghosts.len(), 1, "{:?}", s.ghosts);
        assert_eq!(s.ghosts[0].origin.file, Path::new("/etc/pam.d/svc"));
        assert_eq!(s.ghosts[0].origin.line, 3);
        // a misspelled type: an always-failing auth entry, again no session line
        let s = stack(&[("svc", "sesion required pam_nnp.so\n"), other]);
        assert!(s.from_other);
        assert_eq!(s.ghosts.len(), 1, "{:?}", s.ghosts);
        assert!(s.ghosts[0].reason.contains("illegal module type"));
        // control: the same without the backslash is the service's own session line
        let s = stack(&[
            (
                "svc",
                "auth required pam_permit.so\naccount required pam_permit.so\nsession required pam_nnp.so\n",
            ),
            other,
        ]);
        assert!(!s.from_other);
        assert!(s.ghosts.is_empty());
        assert_eq!(nnp_index(&s), 0);
    }

    #[test]
    fn usr_lib_pam_d_is_read_when_etc_has_no_file() {
        let mut t = table(&[]);
        t.files.insert(
            PathBuf::from("/usr/lib/pam.d/svc"),
            "session required pam_nnp.so\n".into(),
        );
        let s = load_service(&t, Path::new(DIR), "svc");
        assert_eq!(s.handlers.len(), 1);
        assert_eq!(s.handlers[0].origin.file, Path::new("/usr/lib/pam.d/svc"));
    }

    #[test]
    fn tokens_and_controls() {
        let mut p = 0;
        let line = "session [ success=ok \\] default=bad ]pam_nnp.so config=[a b]";
        let mut toks = Vec::new();
        while let Some((t, _)) = strtok(line, &mut p) {
            toks.push(t);
        }
        assert_eq!(
            toks,
            vec![
                "session",
                " success=ok ] default=bad ",
                "pam_nnp.so",
                "config=[a",
                "b]"
            ]
        );
        let s = stack(&[(
            "svc",
            "session [success=1 default=ignore] pam_permit.so\nsession required pam_nnp.so\n",
        )]);
        assert_eq!(s.handlers[0].control, "[success=1 default=ignore]");
        assert_eq!(s.handlers[1].control, "required");
        let (a, e) = parse_control("success=1 default=ignore");
        assert!(e.is_none());
        assert_eq!(a[0], PamAction::Jump(1));
        assert_eq!(a[14], PamAction::Ignore);
        let (a, e) = parse_control("success = done new_authtok_reqd=ok");
        assert!(e.is_none());
        assert_eq!(
            (a[0], a[12], a[14]),
            (PamAction::Done, PamAction::Ok, PamAction::Bad)
        );
        let (a, e) = parse_control("success=okay");
        assert!(e.is_some());
        assert_eq!(a, [PamAction::Bad; RETURN_VALUES]);
        let (_, e) = parse_control("success=0");
        assert!(e.is_some());
        // an unclosed bracket takes the rest of the line: no module name
        let s = stack(&[(
            "svc",
            "session required pam_permit.so\nsession [success=ok default=bad pam_nnp.so\n",
        )]);
        assert!(matches!(s.handlers[1].kind, HandlerKind::MustFail { .. }));
        assert_eq!(
            s.ghosts.len(),
            1,
            "pam_nnp.so is inside the control token here"
        );
        assert!(s.ghosts[0].reason.contains("no module name"));
        // CR is not a separator: "pam_nnp.so\r" is another file
        let s = stack(&[("svc", "session required pam_nnp.so\r\n")]);
        assert!(matches!(
            &s.handlers[0].kind,
            HandlerKind::Module { present: false, .. }
        ));
    }

    #[test]
    fn pam_nnp_as_an_argument_or_bad_type_is_a_ghost() {
        let s = stack(&[("svc", "session required pam_permit.so pam_nnp.so\n")]);
        assert_eq!(s.ghosts.len(), 1);
        let s = stack(&[(
            "svc",
            "sesion required pam_nnp.so\nsession required pam_permit.so\n",
        )]);
        assert_eq!(s.ghosts.len(), 1);
        assert!(s.ghosts[0].reason.contains("illegal module type"));
        // an auth line loading pam_nnp is simply not a session line
        let s = stack(&[(
            "svc",
            "auth required pam_nnp.so\nsession required pam_permit.so\n",
        )]);
        assert!(s.ghosts.is_empty());
    }

    #[test]
    fn long_lines() {
        let long = format!("session required pam_permit.so {}\n", "x".repeat(1100));
        let s = stack(&[("svc", &long)]);
        assert!(s.fatal.is_some());
    }

    #[test]
    fn security_dir_from_libpam_bytes() {
        let bytes = b"\x7fELF\0/etc/pam.d/%s\0/lib/security\0/lib/x86_64-linux-gnu/security/\0x";
        assert_eq!(
            security_dir_in(bytes).as_deref(),
            Some("/lib/x86_64-linux-gnu/security/")
        );
        assert_eq!(security_dir_in(b"nothing\0here"), None);
    }
}
