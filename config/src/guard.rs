//! The exec guard's policy: the rules compiled into the tables the kernel program reads
//! (`guard/src/bpf/guard.h` is the layout).
//!
//! The kernel decides from the task's real uid, real gid and supplementary groups (its own
//! view of the session: no NSS at exec time). Each table key carries the lowest index of
//! the rules it decides alone, with that rule's verdict, so the program's minimum over the
//! task's keys is the first rule that matches (services ignored, as nnp-shell decides).
//! A rule that needs a uid fact *and* a group fact (`users` or `uids` with `groups`) gets a
//! bit: its uid keys and its gid keys carry that bit, and it matches when both sides of the
//! task have it.
//!
//! Never narrower than the rules: a restricting (`nnp = true`) rule with a name that NSS
//! does not know or cannot answer for is compiled as "every task that reaches this rule"
//! (the table's `star`), and the table is *degraded* until a later compilation resolves the
//! name; an exemption (`nnp = false`) with such a name loses that name (an unknown name
//! simply does not match; a failed lookup also degrades). A config beyond the program's
//! limits is compiled wider, never refused.

use std::collections::{BTreeMap, BTreeSet};

use crate::decide::name_eq;
use crate::{escape_value, Config, Directory, LookupError, Mode, Resolver, Rule, Users, Verdict};

/// The kernel program's limits (`guard/src/bpf/guard.h`).
pub const MAX_KEYS: usize = 65536;
/// uid ranges the program holds.
pub const MAX_RANGES: usize = 256;
/// Rules needing a uid fact and a group fact at once (bits of a combo mask).
pub const MAX_COMBO: usize = 64;
/// `guard_allow` files.
pub const MAX_ALLOW: usize = 1024;

/// What the kernel does for a key's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardVerdict {
    /// `nnp = false`: allow.
    Exempt = 0,
    /// `nnp = true`, enforce: refuse a privilege-raising exec.
    Enforce = 1,
    /// `nnp = true`, audit: allow and report "would refuse".
    Audit = 2,
}

impl GuardVerdict {
    /// The verdict of a rule under a config's top-level mode: the decision's
    /// [`Verdict::of`], without its rule.
    pub fn of(rule: &Rule, top: Mode) -> GuardVerdict {
        match Verdict::of(rule, top) {
            Verdict::Enforce(_) => GuardVerdict::Enforce,
            Verdict::Audit(_) => GuardVerdict::Audit,
            // a rule always gives one of the three; "no rule" is allowed, as an exemption
            Verdict::Exempt(_) | Verdict::NoMatch => GuardVerdict::Exempt,
        }
    }
}

/// A table value: `(rule index << 2) | verdict`; rule indices start at 1, so 0 is "none".
pub fn encode(index: usize, verdict: GuardVerdict) -> u32 {
    (u32::try_from(index).unwrap_or(u32::MAX >> 2) << 2) | verdict as u32
}

/// The rule index and verdict of a table value.
pub fn decode(value: u32) -> (usize, GuardVerdict) {
    let verdict = match value & 3 {
        0 => GuardVerdict::Exempt,
        2 => GuardVerdict::Audit,
        _ => GuardVerdict::Enforce,
    };
    ((value >> 2) as usize, verdict)
}

/// One uid or gid key: the rules it decides alone, and the combined rules whose side it
/// satisfies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Entry {
    /// Value of the earliest rule this key decides alone (0: none).
    pub value: u32,
    /// Bit k: this key satisfies one side of combined rule k.
    pub combo: u64,
}

/// An inclusive uid range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First uid.
    pub lo: u32,
    /// Last uid.
    pub hi: u32,
    /// As [`Entry::value`].
    pub value: u32,
    /// As [`Entry::combo`].
    pub combo: u64,
}

/// The compiled tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardTable {
    /// uid → entry (from `users`, intersected with `uids` where a rule has both).
    pub uids: BTreeMap<u32, Entry>,
    /// gid → entry (from `groups`).
    pub gids: BTreeMap<u32, Entry>,
    /// uid ranges (from `uids`).
    pub ranges: Vec<Range>,
    /// Combined rule k → its value.
    pub combo: Vec<u32>,
    /// Every task reaching this rule: `users = ["*"]`, or a restricting rule widened.
    pub star: Option<u32>,
    /// `guard_allow` paths.
    pub allow: Vec<String>,
    /// Why the table is degraded (wider than the rules until names resolve): one line per
    /// name that could not be resolved. Empty: complete.
    pub unresolved: Vec<String>,
    /// Where the table is wider than the rules for good (limits), and exemption names NSS
    /// does not know (they simply do not match).
    pub notes: Vec<String>,
}

/// The uid side of a rule.
enum UidSide {
    All,
    Set(BTreeSet<u32>),
    Ranges(Vec<(u32, u32)>),
}

/// Case variants of a restricting name that NSS is asked for (the module compares names
/// case-insensitively; a case-sensitive source knows one spelling).
fn name_variants(name: &str) -> Vec<String> {
    let mut v = vec![name.to_string()];
    let mut push = |s: String| {
        if !v.contains(&s) {
            v.push(s);
        }
    };
    push(name.to_lowercase());
    push(name.to_uppercase());
    let mut chars = name.chars();
    if let Some(first) = chars.next() {
        push(
            first
                .to_uppercase()
                .chain(chars.as_str().to_lowercase().chars())
                .collect(),
        );
    }
    v
}

enum Resolved<T> {
    Found(T),
    Unknown,
    Failed(LookupError),
}

impl Config {
    /// Compile the rules for the exec guard, resolving names through `dir`.
    pub fn guard_table(&self, dir: &dyn Directory) -> GuardTable {
        let mut res = Resolver::new(dir);
        self.guard_table_with(&mut res)
    }

    /// The uids a restricting name stands for: every account NSS gives for the name or a
    /// case variant of it, and every local account whose name equals it ignoring case.
    fn restricting_uids(dir: &dyn Directory, name: &str) -> Resolved<BTreeSet<u32>> {
        let mut uids = BTreeSet::new();
        let mut failed = None;
        for v in name_variants(name) {
            match dir.user_by_name(v.as_bytes()) {
                Ok(Some(u)) => {
                    uids.insert(u.uid);
                }
                Ok(None) => {}
                Err(e) => failed = Some(e),
            }
        }
        match dir.local_users() {
            Ok(local) => uids.extend(
                local
                    .iter()
                    .filter(|u| name_eq(name, &u.name))
                    .map(|u| u.uid),
            ),
            Err(e) => failed = Some(e),
        }
        match (failed, uids.is_empty()) {
            (Some(e), _) => Resolved::Failed(e),
            (None, true) => Resolved::Unknown,
            (None, false) => Resolved::Found(uids),
        }
    }

    /// The uid an exemption name stands for in the guard. The module exempts exactly the
    /// account named; the kernel knows only uids, so the guard exempts the uid only when no
    /// other account shares it (another name for the uid is not exempt in the module):
    /// otherwise the exemption is left out of the guard (wider) with a note.
    fn exempt_uid(
        dir: &dyn Directory,
        name: &str,
        notes: &mut Vec<String>,
        rule: &Rule,
    ) -> Resolved<BTreeSet<u32>> {
        let u = match dir.user_by_name(name.as_bytes()) {
            Ok(Some(u)) => u,
            Ok(None) => return Resolved::Unknown,
            Err(e) => return Resolved::Failed(e),
        };
        let shared = match dir.local_users() {
            Ok(local) => local
                .iter()
                .any(|o| o.uid == u.uid && o.name != name.as_bytes()),
            Err(e) => return Resolved::Failed(e),
        };
        let canonical = match dir.user_by_uid(u.uid) {
            Ok(Some(c)) => c.name == name.as_bytes(),
            Ok(None) => false,
            Err(e) => return Resolved::Failed(e),
        };
        if shared || !canonical {
            notes.push(format!(
                "{}: uid {} of \"{}\" is shared with another account: the guard does not exempt it (the kernel sees only the uid)",
                rule.at,
                u.uid,
                escape_value(name.as_bytes())
            ));
            return Resolved::Found(BTreeSet::new());
        }
        Resolved::Found(BTreeSet::from([u.uid]))
    }

    /// [`Config::guard_table`] with a resolver whose caches may be shared.
    pub fn guard_table_with(&self, res: &mut Resolver<'_>) -> GuardTable {
        let dir = res.directory();
        let mut t = GuardTable {
            allow: self.guard_allow.clone(),
            ..GuardTable::default()
        };
        for rule in &self.rules {
            let value = encode(rule.at.index, GuardVerdict::of(rule, self.mode));
            let mut widen = Vec::new();
            let mut lost = false;
            // the uid side: users ∩ uids
            let mut side = match &rule.users {
                None | Some(Users::All) => UidSide::All,
                Some(Users::Names(names)) => {
                    let mut set = BTreeSet::new();
                    for n in names {
                        let shown = escape_value(n.as_bytes());
                        let found = if rule.nnp {
                            Self::restricting_uids(dir, n)
                        } else {
                            Self::exempt_uid(dir, n, &mut t.notes, rule)
                        };
                        match found {
                            Resolved::Found(u) => set.extend(u),
                            Resolved::Unknown if rule.nnp => widen
                                .push(format!("{}: user \"{shown}\" is not known to NSS", rule.at)),
                            Resolved::Unknown => t.notes.push(format!(
                                "{}: user \"{shown}\" is not known to NSS: the exemption does not match it",
                                rule.at
                            )),
                            Resolved::Failed(e) => {
                                widen.push(format!(
                                    "{}: cannot resolve user \"{shown}\": {e}",
                                    rule.at
                                ));
                                lost = !rule.nnp;
                            }
                        }
                    }
                    UidSide::Set(set)
                }
            };
            if let Some(ranges) = &rule.uids {
                side = match side {
                    UidSide::All => UidSide::Ranges(ranges.clone()),
                    UidSide::Set(s) => UidSide::Set(
                        s.into_iter()
                            .filter(|u| ranges.iter().any(|&(a, b)| a <= *u && *u <= b))
                            .collect(),
                    ),
                    r @ UidSide::Ranges(_) => r,
                };
            }
            // the group side
            let mut gids: Option<BTreeSet<u32>> = None;
            if let Some(groups) = &rule.groups {
                let mut set = BTreeSet::new();
                for g in groups {
                    let shown = escape_value(g.as_bytes());
                    match res.group(self, g) {
                        Ok(Some(e)) => {
                            set.insert(e.gid);
                        }
                        Ok(None) if rule.nnp => {
                            widen.push(format!("{}: group \"{shown}\" is not known to NSS", rule.at))
                        }
                        Ok(None) => t.notes.push(format!(
                            "{}: group \"{shown}\" is not known to NSS: the exemption does not match it",
                            rule.at
                        )),
                        Err(e) => {
                            widen.push(format!(
                                "{}: cannot resolve group \"{shown}\": {e}",
                                rule.at
                            ));
                            lost = !rule.nnp;
                        }
                    }
                }
                gids = Some(set);
            }
            if rule.nnp && !widen.is_empty() {
                if GuardVerdict::of(rule, self.mode) == GuardVerdict::Audit {
                    // An audit rule only reports, so widening it would let it shadow later
                    // enforcing rules (narrower): it is left out, and later rules decide.
                    for w in &widen {
                        t.unresolved.push(format!(
                            "{w}: the audit rule is left out until it resolves (later rules decide)"
                        ));
                    }
                    continue;
                }
                // never narrower: every task that reaches this rule is guarded by it
                t.star = Some(t.star.map_or(value, |s| s.min(value)));
                for w in &widen {
                    t.unresolved.push(format!(
                        "{w}: the rule guards every non-root user who reaches it"
                    ));
                }
                continue;
            }
            if lost {
                for w in &widen {
                    t.unresolved
                        .push(format!("{w}: the exemption does not apply"));
                }
            }
            t.add(rule, value, side, gids);
        }
        t
    }
}

fn first(slot: &mut u32, value: u32) {
    if *slot == 0 {
        *slot = value;
    }
}

impl GuardTable {
    fn add(&mut self, rule: &Rule, value: u32, side: UidSide, gids: Option<BTreeSet<u32>>) {
        let gids = match gids {
            None => {
                match side {
                    UidSide::All => {
                        self.star.get_or_insert(value);
                    }
                    UidSide::Set(s) => {
                        for u in s {
                            first(&mut self.uids.entry(u).or_default().value, value);
                        }
                    }
                    UidSide::Ranges(r) => self.push_ranges(&r, value, 0),
                }
                return;
            }
            Some(g) => g,
        };
        if matches!(side, UidSide::All) {
            for g in gids {
                first(&mut self.gids.entry(g).or_default().value, value);
            }
            return;
        }
        if matches!(&side, UidSide::Set(s) if s.is_empty()) || gids.is_empty() {
            return; // matches nobody
        }
        if self.combo.len() >= MAX_COMBO {
            if value & 3 == GuardVerdict::Enforce as u32 {
                // wider: the group side alone
                self.notes.push(format!(
                    "{}: more than {MAX_COMBO} rules combine a user or uid selector with groups: this one is enforced for the whole groups",
                    rule.at
                ));
                for g in gids {
                    first(&mut self.gids.entry(g).or_default().value, value);
                }
            } else {
                self.notes.push(format!(
                    "{}: more than {MAX_COMBO} rules combine a user or uid selector with groups: this {} is not applied by the guard",
                    rule.at,
                    if rule.nnp { "audit rule" } else { "exemption" }
                ));
            }
            return;
        }
        let bit = 1u64 << self.combo.len();
        self.combo.push(value);
        match side {
            UidSide::All => {}
            UidSide::Set(s) => {
                for u in s {
                    self.uids.entry(u).or_default().combo |= bit;
                }
            }
            UidSide::Ranges(r) => self.push_ranges(&r, 0, bit),
        }
        for g in gids {
            self.gids.entry(g).or_default().combo |= bit;
        }
    }

    fn push_ranges(&mut self, ranges: &[(u32, u32)], value: u32, combo: u64) {
        for &(lo, hi) in ranges {
            self.ranges.push(Range {
                lo,
                hi,
                value,
                combo,
            });
        }
    }

    /// Do the two tables make the kernel program decide the same (uid, gid, range and
    /// combined-rule entries and the every-user value; `allow` paths and notes aside)?
    pub fn same_decisions(&self, other: &GuardTable) -> bool {
        self.uids == other.uids
            && self.gids == other.gids
            && self.ranges == other.ranges
            && self.combo == other.combo
            && self.star == other.star
    }

    /// Is the table wider than the rules until names resolve?
    pub fn degraded(&self) -> bool {
        !self.unresolved.is_empty()
    }

    /// Make the table fit the kernel program's limits, wider where it must: uid ranges
    /// beyond the limit are merged into one covering range per excess (a restricting one)
    /// or dropped (an exemption's); uid or gid keys beyond the limit are dropped and, where
    /// one of them enforced (alone or as a side of a combined rule), the earliest such rule
    /// guards every task (`star`); notes say so.
    pub fn fit(&mut self) {
        self.fit_keys();
        self.fit_ranges();
    }

    /// Keys beyond [`MAX_KEYS`] (the highest ids): dropped, and the earliest enforcing rule
    /// among them widened to every task. An exemption or an audit rule dropped only lets later
    /// rules decide (stricter, or no report).
    fn fit_keys(&mut self) {
        let enforcing = |v: u32| v & 3 == GuardVerdict::Enforce as u32;
        let combo = self.combo.clone();
        let mut widen: Option<u32> = None;
        let mut notes = Vec::new();
        for (table, what) in [(&mut self.uids, "uid"), (&mut self.gids, "gid")] {
            let Some(&first_dropped) = table.keys().nth(MAX_KEYS) else {
                continue;
            };
            let dropped = table.split_off(&first_dropped);
            for e in dropped.values() {
                let alone = Some(e.value).filter(|&v| enforcing(v));
                let combined = (0..MAX_COMBO)
                    .filter(|&k| e.combo >> k & 1 == 1)
                    .filter_map(|k| combo.get(k).copied())
                    .filter(|&v| enforcing(v));
                for v in alone.into_iter().chain(combined) {
                    widen = Some(widen.map_or(v, |w| w.min(v)));
                }
            }
            notes.push(format!(
                "more than {MAX_KEYS} {what}s: the {} highest are left out{}",
                dropped.len(),
                if widen.is_some() {
                    "; the earliest enforcing rule among them guards every non-root user"
                } else {
                    " (their rules did not enforce: later rules decide for them)"
                }
            ));
        }
        if let Some(v) = widen {
            self.star = Some(self.star.map_or(v, |s| s.min(v)));
        }
        self.notes.extend(notes);
    }

    fn fit_ranges(&mut self) {
        if self.ranges.len() > MAX_RANGES {
            let extra = self.ranges.split_off(MAX_RANGES - 1);
            // Only what enforces is kept, merged into one range over all of them: the
            // earliest enforcing value, and the combined rules that enforce. Audit values
            // are dropped (they only report; widening one could shadow a later enforcing
            // rule), exemptions too.
            let enforcing = |v: u32| v & 3 == GuardVerdict::Enforce as u32;
            let enforcing_bits = self
                .combo
                .iter()
                .enumerate()
                .filter(|(_, v)| enforcing(**v))
                .fold(0u64, |m, (k, _)| m | (1u64 << k));
            let kept: Vec<&Range> = extra
                .iter()
                .filter(|r| enforcing(r.value) || r.combo & enforcing_bits != 0)
                .collect();
            if !kept.is_empty() {
                self.ranges.push(Range {
                    lo: kept.iter().map(|r| r.lo).min().unwrap_or(0),
                    hi: kept.iter().map(|r| r.hi).max().unwrap_or(0),
                    value: kept
                        .iter()
                        .map(|r| r.value)
                        .filter(|v| enforcing(*v))
                        .min()
                        .unwrap_or(0),
                    combo: kept.iter().fold(0, |m, r| m | r.combo) & enforcing_bits,
                });
            }
            self.notes.push(format!(
                "more than {MAX_RANGES} uid ranges: the last {} are merged into one wider range",
                extra.len()
            ));
        }
    }

    /// The value the kernel program computes for a task (its real uid, real gid and
    /// supplementary gids): the lowest rule index among all matching keys and combined
    /// rules. For tests, `nnpctl explain` and `nnpctl audit`.
    pub fn lookup(&self, uid: u32, gid: u32, groups: &[u32]) -> Option<u32> {
        let mut best: Option<u32> = None;
        let mut take = |v: u32| {
            if v != 0 && best.is_none_or(|b| (v >> 2) < (b >> 2)) {
                best = Some(v);
            }
        };
        let (mut umask, mut gmask) = (0u64, 0u64);
        if let Some(e) = self.uids.get(&uid) {
            take(e.value);
            umask |= e.combo;
        }
        if let Some(s) = self.star {
            take(s);
        }
        for r in &self.ranges {
            if r.lo <= uid && uid <= r.hi {
                take(r.value);
                umask |= r.combo;
            }
        }
        for g in std::iter::once(&gid).chain(groups) {
            if let Some(e) = self.gids.get(g) {
                take(e.value);
                gmask |= e.combo;
            }
        }
        let matched = umask & gmask;
        for (k, &v) in self.combo.iter().enumerate() {
            if k < 64 && (matched >> k) & 1 == 1 {
                take(v);
            }
        }
        best
    }
}
