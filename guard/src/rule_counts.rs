//! The guard's per-rule counters: refused, killed and would-refuse execs by deciding rule,
//! in `rule_counts` (pinned as `rule_counts`, an array of `NNP_RULE_COUNT_SLOTS` slots,
//! `guard/src/bpf/guard.h`). Unlike the report's LRU map nothing is ever evicted, so while
//! a guard stays loaded a slot's counts only grow: `nnpctl metrics` exports them as
//! Prometheus counters.
//!
//! Slot 0 counts execs refused because some group could not be read, slot `i` (1 ..
//! [`MAX_RULE_COUNTS`]) the rule of index `i`, and the last slot every rule beyond, together.
//! A reload keeps the slot of every rule that keeps its index, its `FILE:LINE` and the
//! content of its file (the metadata's SHA-256), and zeroes the others, so a count never
//! passes from one rule to another (a `FILE:LINE` alone can name another rule after an edit
//! above it). A new program (`load`, `load --replace`, a reboot) starts every slot from 0.

use std::mem::{offset_of, size_of};

use libbpf_rs::{MapCore, MapFlags};

use crate::skel::types::nnp_rule_count;
use crate::{pinned, read_u64, u32b, GuardError};

/// Rules with a slot of their own (`NNP_MAX_RULE_COUNTS` in guard.h); every later rule is
/// counted in one shared slot.
pub const MAX_RULE_COUNTS: usize = 4096;

/// One slot's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleCount {
    /// Execs refused (LSM mode).
    pub refused: u64,
    /// Execs killed (kill mode).
    pub killed: u64,
    /// Execs an audit-mode rule would have refused.
    pub audit: u64,
}

/// The counts of a loaded guard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleCounts {
    /// Refused because some group of the process could not be read (no rule).
    pub unread: RuleCount,
    /// Rule `i + 1` (1-based index), for the first [`MAX_RULE_COUNTS`] rules.
    pub rules: Vec<RuleCount>,
    /// Every rule after the first [`MAX_RULE_COUNTS`], together; `None` when there are no
    /// such rules.
    pub beyond: Option<RuleCount>,
}

/// Parse one slot (`struct nnp_rule_count`, layout from the skeleton's types).
pub fn parse_rule_count(value: &[u8]) -> Option<RuleCount> {
    if value.len() < size_of::<nnp_rule_count>() {
        return None;
    }
    Some(RuleCount {
        refused: read_u64(value, offset_of!(nnp_rule_count, refused)),
        killed: read_u64(value, offset_of!(nnp_rule_count, killed)),
        audit: read_u64(value, offset_of!(nnp_rule_count, audit)),
    })
}

fn slot_of(i: usize) -> [u8; 4] {
    u32b(u32::try_from(i).unwrap_or(u32::MAX))
}

/// The counts of the loaded guard, for a rule list of `rules` rules (the metadata's).
pub fn read_rule_counts(rules: usize) -> Result<RuleCounts, GuardError> {
    let m = pinned("rule_counts").map_err(|e| {
        GuardError::System(format!(
            "{e} (a guard loaded by an earlier nnpctl keeps no per-rule counters: nnpctl guard load --replace)"
        ))
    })?;
    let read = |i: usize| -> Result<RuleCount, GuardError> {
        let v = m
            .lookup(&slot_of(i), MapFlags::ANY)
            .map_err(|e| crate::sys("reading the per-rule counters", e))?
            .ok_or_else(|| GuardError::System(format!("the per-rule counters have no slot {i}")))?;
        parse_rule_count(&v)
            .ok_or_else(|| GuardError::System("a per-rule counter slot is too short".to_string()))
    };
    let unread = read(0)?;
    let rules_v = (1..=rules.min(MAX_RULE_COUNTS))
        .map(read)
        .collect::<Result<Vec<_>, _>>()?;
    let beyond = if rules > MAX_RULE_COUNTS {
        Some(read(MAX_RULE_COUNTS + 1)?)
    } else {
        None
    };
    Ok(RuleCounts {
        unread,
        rules: rules_v,
        beyond,
    })
}

/// The slots a reload from the guard `old` (`None`: unknown) to `new` must zero: every rule
/// index whose rule is not surely the same — another `FILE:LINE`, or a file whose content
/// changed (its SHA-256 in the metadata) — and the shared slot when any rule beyond
/// [`MAX_RULE_COUNTS`] is not surely the same. Slot 0 (no rule) is kept.
pub fn changed_slots(old: Option<&crate::Meta>, new: &crate::Meta) -> Vec<usize> {
    let Some(old) = old else {
        return (1..=MAX_RULE_COUNTS + 1).collect();
    };
    let digest = |m: &crate::Meta, rule: &str| -> Option<String> {
        let file = rule.rsplit_once(':')?.0;
        m.files
            .iter()
            .find(|(p, _)| p.as_os_str() == file)
            .map(|(_, d)| d.clone())
            .filter(|d| d != "-")
    };
    let same = |i: usize| match (old.rules.get(i), new.rules.get(i)) {
        (Some(a), Some(b)) => a == b && digest(old, a).is_some_and(|d| Some(d) == digest(new, b)),
        (None, None) => true,
        _ => false,
    };
    let n = old.rules.len().max(new.rules.len());
    let mut out: Vec<usize> = (0..n.min(MAX_RULE_COUNTS))
        .filter(|&i| !same(i))
        .map(|i| i + 1)
        .collect();
    if (MAX_RULE_COUNTS..n).any(|i| !same(i)) {
        out.push(MAX_RULE_COUNTS + 1);
    }
    out
}

/// Zero the slots of the rules a reload changed ([`changed_slots`]), after the new tables
/// are in force and every run of the program that read the old ones has ended: a count
/// made under the old rule never appears under the new one's name. Best effort (a guard
/// loaded by an earlier nnpctl has no counters); called under the lock by reload.
pub(crate) fn forget_changed(old: Option<&crate::Meta>, new: &crate::Meta) {
    let slots = changed_slots(old, new);
    if slots.is_empty() {
        return;
    }
    let Ok(m) = pinned("rule_counts") else {
        return;
    };
    let _ = crate::wait_for_runs();
    let zero = vec![0u8; size_of::<nnp_rule_count>()];
    for i in slots {
        let _ = m.update(&slot_of(i), &zero, MapFlags::ANY);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A guard's metadata: its rules, each `FILE:LINE`, and its files with their digests.
    fn meta(rules: &[String], files: &[(&str, &str)]) -> crate::Meta {
        let mut t = String::from("mode kill\nconfig /c\nexplicit 0\nloaded_at 0\n");
        for (f, d) in files {
            t.push_str(&format!("file {d} {f}\n"));
        }
        for r in rules {
            t.push_str(&format!("rule {r}\n"));
        }
        crate::Meta::parse(&t).unwrap()
    }

    fn rules(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_limit_is_the_programs() {
        let h = include_str!("bpf/guard.h");
        assert!(
            h.contains(&format!("#define NNP_MAX_RULE_COUNTS {MAX_RULE_COUNTS}\n")),
            "guard.h and MAX_RULE_COUNTS disagree"
        );
    }

    #[test]
    fn parses_a_slot_laid_out_as_the_skeleton_says() {
        let mut v = vec![0u8; size_of::<nnp_rule_count>()];
        for (o, x) in [
            (offset_of!(nnp_rule_count, refused), 3u64),
            (offset_of!(nnp_rule_count, killed), 5),
            (offset_of!(nnp_rule_count, audit), 1 << 40),
        ] {
            v[o..o + 8].copy_from_slice(&x.to_ne_bytes());
        }
        assert_eq!(
            parse_rule_count(&v),
            Some(RuleCount {
                refused: 3,
                killed: 5,
                audit: 1 << 40
            })
        );
        assert_eq!(parse_rule_count(&v[..8]), None);
    }

    #[test]
    fn a_reload_keeps_the_rules_that_keep_their_index_and_their_file() {
        let files = [("/c", "aa"), ("/d/10.toml", "bb"), ("/d/20.toml", "cc")];
        let old = meta(&rules(&["/c:1", "/c:5", "/d/10.toml:1"]), &files);
        // same rules, same files: nothing zeroed
        assert!(changed_slots(Some(&old), &old).is_empty());
        // a drop-in appended: only its (new) slot
        let new = meta(
            &rules(&["/c:1", "/c:5", "/d/10.toml:1", "/d/20.toml:1"]),
            &files,
        );
        assert_eq!(changed_slots(Some(&old), &new), vec![4]);
        // the last rule removed: its slot
        let new = meta(&rules(&["/c:1", "/c:5"]), &files);
        assert_eq!(changed_slots(Some(&old), &new), vec![3]);
        // a rule inserted first: every index names another rule now
        let new = meta(&rules(&["/c:1", "/c:3", "/c:7", "/d/10.toml:1"]), &files);
        assert_eq!(changed_slots(Some(&old), &new), vec![2, 3, 4]);
        // /c edited (a rule inserted above line 5 moves another rule to line 5): every rule
        // of /c starts anew, the drop-in's is kept
        let edited = [("/c", "ab"), ("/d/10.toml", "bb")];
        let new = meta(&rules(&["/c:1", "/c:5", "/d/10.toml:1"]), &edited);
        assert_eq!(changed_slots(Some(&old), &new), vec![1, 2]);
        // a file that could not be read ("-") is never the same
        let unread = [("/c", "aa"), ("/d/10.toml", "-")];
        let new = meta(&rules(&["/c:1", "/c:5", "/d/10.toml:1"]), &unread);
        assert_eq!(changed_slots(Some(&new), &new), vec![3]);
        // unknown old guard: every slot but the unread-groups one
        let all = changed_slots(None, &old);
        assert_eq!(all.len(), MAX_RULE_COUNTS + 1);
        assert_eq!(all[0], 1);
    }

    #[test]
    fn the_shared_slot_is_zeroed_only_when_the_rules_beyond_the_limit_change() {
        let files = [("/c", "aa"), ("/d", "bb")];
        let many: Vec<String> = (1..=MAX_RULE_COUNTS + 3)
            .map(|i| format!("/c:{i}"))
            .collect();
        let old = meta(&many, &files);
        assert!(changed_slots(Some(&old), &old).is_empty());
        let mut more = many.clone();
        more.push("/d:1".into());
        assert_eq!(
            changed_slots(Some(&old), &meta(&more, &files)),
            vec![MAX_RULE_COUNTS + 1]
        );
        let mut first = many.clone();
        first[0] = "/d:1".into();
        assert_eq!(changed_slots(Some(&old), &meta(&first, &files)), vec![1]);
        // from exactly the limit to one more: the shared slot starts anew
        let at_limit = meta(&many[..MAX_RULE_COUNTS], &files);
        assert_eq!(
            changed_slots(Some(&at_limit), &old),
            vec![MAX_RULE_COUNTS + 1]
        );
    }
}
