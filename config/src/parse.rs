//! TOML text to rules, with every problem reported at its line and column.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::Diagnostic;
use crate::{escape_value, GuardAction, Mode, Rule, RuleRef, Users};

pub(crate) const TOP_KEYS: &str = "mode, shell, notice, guard_allow, guard_action, rule";
pub(crate) const RULE_KEYS: &str = "users, groups, uids, services, nnp, mode, shell";

/// A top-level setting and where it was given.
pub(crate) struct Setting<T> {
    pub value: T,
    pub file: Arc<Path>,
    pub line: usize,
    pub col: usize,
}

/// What one file contributes.
#[derive(Default)]
pub(crate) struct ParsedFile {
    pub mode: Option<Setting<Mode>>,
    pub shell: Option<Setting<String>>,
    pub notice: Option<Setting<String>>,
    pub guard_allow: Option<Setting<Vec<String>>>,
    pub guard_action: Option<Setting<GuardAction>>,
    pub rules: Vec<Rule>,
}

struct Ctx<'a> {
    path: &'a Path,
    file: Arc<Path>,
    text: &'a str,
    /// Byte offset of the start of every line, for line numbers without rescanning the text.
    line_starts: Vec<usize>,
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    /// 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset)
    }
}

impl Ctx<'_> {
    fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::at(self.path, self.text, span.start, msg));
    }

    /// An error for a word that is not one of `choices`, with a "did you mean" hint when
    /// one of them is close.
    fn err_suggest(&mut self, span: Range<usize>, msg: String, word: &str, choices: &[&str]) {
        let mut d = Diagnostic::at(self.path, self.text, span.start, msg);
        if let Some(best) = closest(word, choices) {
            d = d.with_hint(format!("did you mean \"{best}\"?"));
        }
        self.diags.push(d);
    }
}

/// The choice within edit distance 2 of `word` (case-insensitive), or sharing its first five
/// letters ("enforcing" -> "enforce"), if any.
fn closest<'c>(word: &str, choices: &[&'c str]) -> Option<&'c str> {
    let word = word.to_lowercase();
    let by_distance = choices
        .iter()
        .map(|c| (edit_distance(&word, c), *c))
        .filter(|&(d, c)| d <= 2 && d < c.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c);
    by_distance.or_else(|| {
        let prefix: String = word.chars().take(5).collect();
        choices
            .iter()
            .find(|c| prefix.chars().count() == 5 && c.starts_with(&prefix))
            .copied()
    })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Normalise a message of the TOML parser to one line.
fn one_line(msg: &str) -> String {
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parse one file's text. `first_index` is the 1-based load-order index its first rule gets.
pub(crate) fn parse_file(
    path: &Path,
    text: &str,
    first_index: usize,
) -> (ParsedFile, Vec<Diagnostic>) {
    // A UTF-8 byte-order mark, as some Windows editors write, is accepted and skipped.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let line_starts = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let mut ctx = Ctx {
        path,
        file: Arc::from(path),
        text,
        line_starts,
        diags: Vec::new(),
    };
    let mut out = ParsedFile::default();
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let mut msg = one_line(e.message());
            if msg == "duplicate key" {
                let key = text.get(span.clone()).unwrap_or("").trim();
                msg = format!("duplicate key \"{}\"", escape_value(key.trim_matches('"')));
            } else {
                msg = format!("TOML syntax error: {msg}");
            }
            ctx.err(span, msg);
            return (out, ctx.diags);
        }
    };
    for (key, value) in doc.get_ref().iter() {
        let k: &str = key.get_ref();
        match k {
            "mode" => {
                if let Some(m) = mode_value(&mut ctx, "mode", value) {
                    out.mode = Some(setting(&ctx, key.span(), m));
                }
            }
            "shell" => {
                if let Some(s) = shell_value(&mut ctx, value) {
                    out.shell = Some(setting(&ctx, key.span(), s));
                }
            }
            "notice" => match value.get_ref() {
                DeValue::String(s) => {
                    out.notice = Some(setting(&ctx, key.span(), s.to_string()));
                }
                other => {
                    let t = type_name(other);
                    ctx.err(
                        value.span(),
                        format!("\"notice\" must be a string, found {t}"),
                    );
                }
            },
            "guard_allow" => {
                if let Some(list) = string_list(&mut ctx, "guard_allow", value) {
                    let mut ok = true;
                    if let DeValue::Array(items) = value.get_ref() {
                        for (item, path) in items.iter().zip(&list) {
                            if !path.starts_with('/') {
                                ctx.err(
                                    item.span(),
                                    format!(
                                        "guard_allow entry \"{}\" is not an absolute path",
                                        escape_value(path)
                                    ),
                                );
                                ok = false;
                            }
                        }
                    }
                    if ok {
                        out.guard_allow = Some(setting(&ctx, key.span(), list));
                    }
                }
            }
            "guard_action" => {
                if let Some(a) = guard_action_value(&mut ctx, value) {
                    out.guard_action = Some(setting(&ctx, key.span(), a));
                }
            }
            "rule" => match value.get_ref() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        match item.get_ref() {
                            DeValue::Table(t) => {
                                let index = first_index + out.rules.len();
                                if let Some(rule) = parse_rule(&mut ctx, item.span(), t, index) {
                                    out.rules.push(rule);
                                }
                            }
                            other => {
                                let t = type_name(other);
                                ctx.err(
                                    item.span(),
                                    format!("each rule must be a table ([[rule]]), found {t}"),
                                );
                            }
                        }
                    }
                }
                DeValue::Table(_) => ctx.err(
                    key.span(),
                    "\"rule\" must be an array of tables: write [[rule]], not [rule]",
                ),
                other => {
                    let t = type_name(other);
                    ctx.err(
                        value.span(),
                        format!("\"rule\" must be an array of tables ([[rule]]), found {t}"),
                    );
                }
            },
            _ => ctx.err_suggest(
                key.span(),
                format!(
                    "unknown key \"{}\" (expected one of {TOP_KEYS})",
                    escape_value(k)
                ),
                k,
                &[
                    "mode",
                    "shell",
                    "notice",
                    "guard_allow",
                    "guard_action",
                    "rule",
                ],
            ),
        }
    }
    (out, ctx.diags)
}

fn setting<T>(ctx: &Ctx<'_>, span: Range<usize>, value: T) -> Setting<T> {
    let line = ctx.line(span.start);
    let start = ctx.line_starts[line - 1];
    let col = ctx.text[start..span.start].chars().count() + 1;
    Setting {
        value,
        file: ctx.file.clone(),
        line,
        col,
    }
}

fn mode_value(ctx: &mut Ctx<'_>, key: &str, value: &Spanned<DeValue<'_>>) -> Option<Mode> {
    keyword_value(
        ctx,
        key,
        value,
        &[("enforce", Mode::Enforce), ("audit", Mode::Audit)],
    )
}

/// `guard_action`: what the exec guard does with an exec it catches.
fn guard_action_value(ctx: &mut Ctx<'_>, value: &Spanned<DeValue<'_>>) -> Option<GuardAction> {
    keyword_value(
        ctx,
        "guard_action",
        value,
        &[
            ("degrade", GuardAction::Degrade),
            ("refuse", GuardAction::Refuse),
        ],
    )
}

/// A string that must be one of the words of `choices` (`"a" or "b"` in the message, a
/// "did you mean" hint for a near miss).
fn keyword_value<T: Copy>(
    ctx: &mut Ctx<'_>,
    key: &str,
    value: &Spanned<DeValue<'_>>,
    choices: &[(&str, T)],
) -> Option<T> {
    match value.get_ref() {
        DeValue::String(s) => {
            if let Some(&(_, v)) = choices.iter().find(|(w, _)| *w == s.as_ref()) {
                return Some(v);
            }
            let words: Vec<&str> = choices.iter().map(|&(w, _)| w).collect();
            let expected: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
            ctx.err_suggest(
                value.span(),
                format!(
                    "unknown {key} \"{}\" (expected {})",
                    escape_value(s.as_ref()),
                    expected.join(" or ")
                ),
                s.as_ref(),
                &words,
            );
            None
        }
        other => {
            let t = type_name(other);
            ctx.err(
                value.span(),
                format!("\"{key}\" must be a string, found {t}"),
            );
            None
        }
    }
}

fn shell_value(ctx: &mut Ctx<'_>, value: &Spanned<DeValue<'_>>) -> Option<String> {
    match value.get_ref() {
        DeValue::String(s) => {
            if s.starts_with('/') {
                Some(s.to_string())
            } else {
                ctx.err(
                    value.span(),
                    format!(
                        "shell \"{}\" is not an absolute path",
                        escape_value(s.as_bytes())
                    ),
                );
                None
            }
        }
        other => {
            let t = type_name(other);
            ctx.err(
                value.span(),
                format!("\"shell\" must be a string, found {t}"),
            );
            None
        }
    }
}

/// The items of `key`'s value, which must be an array of at least one of `what`.
fn nonempty_array<'v, 'a>(
    ctx: &mut Ctx<'_>,
    key: &str,
    what: &str,
    value: &'v Spanned<DeValue<'a>>,
) -> Option<&'v [Spanned<DeValue<'a>>]> {
    let DeValue::Array(items) = value.get_ref() else {
        let t = type_name(value.get_ref());
        ctx.err(
            value.span(),
            format!("\"{key}\" must be an array of {what}, found {t}"),
        );
        return None;
    };
    if items.is_empty() {
        ctx.err(
            value.span(),
            format!("\"{key}\" is empty: list at least one value, or remove the key"),
        );
        return None;
    }
    Some(items)
}

/// A non-empty list of non-empty strings.
fn string_list(ctx: &mut Ctx<'_>, key: &str, value: &Spanned<DeValue<'_>>) -> Option<Vec<String>> {
    let items = nonempty_array(ctx, key, "strings", value)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items.iter() {
        match item.get_ref() {
            DeValue::String(s) if s.is_empty() => {
                ctx.err(item.span(), format!("empty string in \"{key}\""));
                ok = false;
            }
            DeValue::String(s) => out.push(s.to_string()),
            other => {
                let t = type_name(other);
                ctx.err(
                    item.span(),
                    format!("\"{key}\" must be an array of strings, found {t} in it"),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

const MAX_UID: u64 = u32::MAX as u64 - 1; // (uid_t)-1 means "no uid"

fn parse_uid(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>()
        .ok()
        .filter(|&n| n <= MAX_UID)
        .map(|n| n as u32)
}

fn uid_list(ctx: &mut Ctx<'_>, value: &Spanned<DeValue<'_>>) -> Option<Vec<(u32, u32)>> {
    let items = nonempty_array(ctx, "uids", "uids and \"A-B\" ranges", value)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items.iter() {
        match item.get_ref() {
            DeValue::Integer(i) => {
                let digits = i.as_str().replace('_', "");
                match i64::from_str_radix(&digits, i.radix()) {
                    Ok(n) if (0..=MAX_UID as i64).contains(&n) => out.push((n as u32, n as u32)),
                    _ => {
                        ctx.err(
                            item.span(),
                            format!("uid {} is out of range (0-{MAX_UID})", i.as_str()),
                        );
                        ok = false;
                    }
                }
            }
            DeValue::String(s) => {
                let parsed = match s.split_once('-') {
                    Some((a, b)) => parse_uid(a.trim()).zip(parse_uid(b.trim())),
                    None => parse_uid(s.trim()).map(|n| (n, n)),
                };
                match parsed {
                    Some((a, b)) if a <= b => out.push((a, b)),
                    Some((a, b)) => {
                        ctx.err(
                            item.span(),
                            format!(
                                "uid range \"{}\" is reversed: {a} is greater than {b} (write \"{b}-{a}\")",
                                escape_value(s.as_bytes())
                            ),
                        );
                        ok = false;
                    }
                    None => {
                        ctx.err(
                            item.span(),
                            format!(
                                "malformed uid range \"{}\" (expected \"A-B\" with 0 <= A <= B <= {MAX_UID}, e.g. \"2000-2999\", or a single uid)",
                                escape_value(s.as_bytes())
                            ),
                        );
                        ok = false;
                    }
                }
            }
            other => {
                let t = type_name(other);
                ctx.err(
                    item.span(),
                    format!("\"uids\" entries must be integers or \"A-B\" strings, found {t}"),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn parse_rule(
    ctx: &mut Ctx<'_>,
    header: Range<usize>,
    table: &DeTable<'_>,
    index: usize,
) -> Option<Rule> {
    let before = ctx.diags.len();
    let mut users = None;
    let mut groups = None;
    let mut uids = None;
    let mut services = None;
    let mut nnp = None;
    let mut mode = None;
    let mut shell = None;
    for (key, value) in table.iter() {
        let k: &str = key.get_ref();
        match k {
            "users" => {
                users = string_list(ctx, "users", value).map(|v| {
                    if v.iter().any(|u| u == "*") {
                        Users::All
                    } else {
                        Users::Names(v)
                    }
                })
            }
            "groups" => groups = string_list(ctx, "groups", value),
            "uids" => uids = uid_list(ctx, value),
            "services" => services = string_list(ctx, "services", value),
            "nnp" => match value.get_ref() {
                DeValue::Boolean(b) => nnp = Some(*b),
                other => {
                    let t = type_name(other);
                    ctx.err(
                        value.span(),
                        format!("\"nnp\" must be true or false, found {t}"),
                    );
                }
            },
            "mode" => mode = mode_value(ctx, "mode", value),
            "shell" => shell = shell_value(ctx, value),
            _ => ctx.err_suggest(
                key.span(),
                format!(
                    "unknown key \"{}\" (expected one of {RULE_KEYS})",
                    escape_value(k)
                ),
                k,
                &[
                    "users", "groups", "uids", "services", "nnp", "mode", "shell",
                ],
            ),
        }
    }
    let has = |k: &str| table.iter().any(|(key, _)| key.get_ref() == k);
    if !has("users") && !has("groups") && !has("uids") {
        ctx.err(
            header.clone(),
            "rule has no selector: name at least one of users, groups, uids (\"services\" only narrows a rule)",
        );
    }
    if !has("nnp") {
        ctx.err(
            header.clone(),
            "rule has no \"nnp\" key: add nnp = true (restrict) or nnp = false (exempt)",
        );
    }
    if ctx.diags.len() != before {
        return None;
    }
    let line = ctx.line(header.start);
    Some(Rule {
        at: RuleRef {
            file: ctx.file.clone(),
            line,
            index,
        },
        users,
        groups,
        uids,
        services,
        nnp: nnp?,
        mode,
        shell,
    })
}
