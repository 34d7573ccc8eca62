//! The exec guard's compiled tables against the one decision: a differential test over a
//! cast of accounts (case variants, aliases, non-UTF-8 names, members by primary and
//! supplementary gid, uid ranges, combined selectors), and the "never narrower" rules for
//! names that do not resolve.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;

use super::support::{cfg, Expect, Fake};
use crate::guard::{decode, GuardVerdict};
use crate::*;

fn cast() -> Fake {
    Fake::default()
        .user(b"alice", 2001, 2001)
        .user(b"bob", 2002, 2002)
        .user(b"Carl", 2003, 2003)
        .user(b"dave", 2004, 2004)
        .user(b"alias", 2001, 2001) // a second name for alice's uid
        .user(b"erin", 2005, 4100) // restricted by primary gid
        .user(b"fr\xe9d", 2006, 2006) // not UTF-8
        .user(b"gina", 3005, 3005)
        .user(b"hal", 2500, 2500)
        .user(b"root", 0, 0)
        .group("restricted", 4100, &[b"alice", b"dave"])
        .group("ops", 4200, &[b"bob", b"gina", b"fr\xe9d"])
        .group("jump", 4300, &[b"hal", b"Carl"])
        .group("restricted-too", 4100, &[]) // a second name for gid 4100
}

/// The module's verdict (services ignored, as nnp-shell and the guard decide) and the
/// guard's compiled answer, for every account of the cast.
type Row<'c> = (
    String,
    Option<(usize, Verdict<'c>)>,
    Option<(usize, GuardVerdict)>,
);

fn differential<'c>(c: &'c Config, d: &Fake) -> Vec<Row<'c>> {
    let t = c.guard_table(d);
    d.users
        .iter()
        .filter(|u| u.uid != 0) // root is never guarded
        .map(|u| {
            let mut res = Resolver::new(d);
            let m = c
                .decide(&mut res, Who::Name(&u.name), Service::Ignored)
                .unwrap();
            let module = m.rule().map(|r| (r.at.index, m.verdict));
            let (uid, gid, groups) = d.creds(u);
            let guard = t.lookup(uid, gid, &groups).map(decode);
            (escape_value(&u.name), module, guard)
        })
        .collect()
}

fn same(m: Option<(usize, Verdict<'_>)>, g: Option<(usize, GuardVerdict)>) -> bool {
    match (m, g) {
        (None, None) => true,
        (None, Some((_, GuardVerdict::Exempt))) | (Some((_, Verdict::Exempt(_))), None) => true,
        (Some((i, v)), Some((j, w))) => {
            i == j
                && matches!(
                    (v, w),
                    (Verdict::Exempt(_), GuardVerdict::Exempt)
                        | (Verdict::Enforce(_), GuardVerdict::Enforce)
                        | (Verdict::Audit(_), GuardVerdict::Audit)
                )
        }
        _ => false,
    }
}

const CONFIG: &str = r#"
[[rule]]
users = ["dave"]
nnp = false

[[rule]]
users = ["CARL"]
nnp = true

[[rule]]
users = ["alice"]
nnp = true

[[rule]]
groups = ["restricted-too"]
nnp = true
mode = "audit"

[[rule]]
users = ["gina", "bob"]
groups = ["ops"]
nnp = true

[[rule]]
uids = ["2500-2600"]
groups = ["jump"]
nnp = true

[[rule]]
uids = ["2006"]
nnp = true
mode = "audit"
"#;

#[test]
fn module_and_guard_agree_account_by_account() {
    // Issue 19: one identity semantics. Carl (rule "CARL"), alias (alice's uid), erin (by
    // primary gid, through a second name of the gid), gina and bob (users AND groups), hal
    // (uid range AND group), fréd (not UTF-8, uid rule).
    let c = cfg(CONFIG);
    let d = cast();
    let rows = differential(&c, &d);
    for (name, m, g) in &rows {
        assert!(same(*m, *g), "{name}: module {m:?}, guard {g:?}");
    }
    let find = |n: &str| rows.iter().find(|r| r.0 == n).unwrap();
    assert_eq!(find("Carl").2, Some((2, GuardVerdict::Enforce)));
    assert_eq!(find("alias").2, Some((3, GuardVerdict::Enforce)));
    assert_eq!(find("erin").2, Some((4, GuardVerdict::Audit)));
    assert_eq!(find("gina").2, Some((5, GuardVerdict::Enforce)));
    assert_eq!(find("hal").2, Some((6, GuardVerdict::Enforce)));
    assert_eq!(find("dave").2, Some((1, GuardVerdict::Exempt)));
}

#[test]
fn combined_rules_need_both_facts() {
    // Issue 19: a rule combining users/uids with groups was refused by the guard compiler
    // (no guard at all); now each side alone does not match.
    let c = cfg("[[rule]]\nusers = [\"bob\"]\ngroups = [\"restricted\"]\nnnp = true\n[[rule]]\nuids = [\"2000-2001\"]\ngroups = [\"ops\"]\nnnp = true\n");
    let t = c.guard_table(&cast());
    assert!(!t.degraded());
    assert_eq!(t.lookup(2002, 2002, &[4200]), None, "bob not in restricted");
    assert_eq!(
        t.lookup(2002, 2002, &[4100]).map(decode),
        Some((1, GuardVerdict::Enforce))
    );
    assert_eq!(t.lookup(2001, 2001, &[4100]), None, "alice not in ops");
    assert_eq!(
        t.lookup(2001, 2001, &[4200]).map(decode),
        Some((2, GuardVerdict::Enforce))
    );
    assert_eq!(t.lookup(2003, 2003, &[4200]), None, "outside the range");
}

#[test]
fn first_match_by_lowest_index() {
    let c = cfg("[[rule]]\nusers = [\"dave\"]\nnnp = false\n[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n[[rule]]\nuids = [\"2000-2999\"]\nnnp = true\nmode = \"audit\"\n");
    let t = c.guard_table(&cast());
    assert_eq!(
        t.lookup(2004, 2004, &[4100]).map(decode),
        Some((1, GuardVerdict::Exempt))
    );
    assert_eq!(
        t.lookup(2001, 2001, &[4100]).map(decode),
        Some((2, GuardVerdict::Enforce))
    );
    assert_eq!(
        t.lookup(2002, 2002, &[]).map(decode),
        Some((3, GuardVerdict::Audit))
    );
    assert_eq!(t.lookup(5000, 5000, &[]), None);
}

#[test]
fn an_unknown_restricting_name_widens_the_rule_and_degrades() {
    // Issue 19: `users = ["dan"]` loaded while the directory does not know dan left him out
    // (then his setuid exec reached euid 0); an unknown group made the load fail (no guard
    // at all). Now the rule guards every task that reaches it, and says why.
    let mut d = cast().user(b"dan", 2600, 2600);
    d.cold = vec![b"dan".to_vec(), b"ops".to_vec()];
    let c =
        cfg("[[rule]]\nusers = [\"dave\"]\nnnp = false\n[[rule]]\nusers = [\"dan\"]\nnnp = true\n");
    let t = c.guard_table(&d);
    assert!(t.degraded(), "{t:?}");
    assert!(
        t.unresolved[0].contains("user \"dan\""),
        "{:?}",
        t.unresolved
    );
    assert_eq!(
        t.lookup(2600, 2600, &[]).map(decode),
        Some((2, GuardVerdict::Enforce))
    );
    assert_eq!(
        t.lookup(2004, 2004, &[]).map(decode),
        Some((1, GuardVerdict::Exempt)),
        "an earlier exemption still decides"
    );
    let c = cfg("[[rule]]\ngroups = [\"ops\"]\nnnp = true\n");
    let t = c.guard_table(&d);
    assert!(t.degraded());
    assert_eq!(
        t.lookup(2001, 2001, &[]).map(decode),
        Some((1, GuardVerdict::Enforce))
    );
    // the directory back: narrow again
    d.cold.clear();
    let t = c.guard_table(&d);
    assert!(!t.degraded());
    assert_eq!(t.lookup(2001, 2001, &[]), None);
    // control: a lookup that fails (not "not found") widens too
    let mut d = cast();
    d.group_db_down = true;
    let t = c.guard_table(&d);
    assert!(t.degraded() && t.lookup(2001, 2001, &[]).is_some());
}

#[test]
fn an_unknown_exemption_name_does_not_match_and_a_failed_one_degrades() {
    let mut d = cast();
    let c = cfg("[[rule]]\ngroups = [\"nosuch\"]\nnnp = false\n[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n");
    let t = c.guard_table(&d);
    assert!(!t.degraded());
    assert_eq!(
        t.lookup(2001, 2001, &[4100]).map(decode),
        Some((2, GuardVerdict::Enforce))
    );
    d.group_db_down = true;
    let c =
        cfg("[[rule]]\ngroups = [\"ops\"]\nnnp = false\n[[rule]]\nusers = [\"bob\"]\nnnp = true\n");
    let t = c.guard_table(&d);
    assert!(t.degraded());
    assert_eq!(
        t.lookup(2002, 2002, &[4200]).map(decode),
        Some((2, GuardVerdict::Enforce)),
        "the exemption that could not be resolved is not applied"
    );
}

#[test]
fn an_exemption_of_a_shared_uid_is_not_applied_by_the_guard() {
    // alice and alias share uid 2001: the module exempts only the account named, the kernel
    // sees only the uid, so the guard keeps restricting it (wider, with a note).
    let c = cfg("[[rule]]\nusers = [\"alice\"]\nnnp = false\n[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n");
    let t = c.guard_table(&cast());
    assert_eq!(
        t.lookup(2001, 2001, &[4100]).map(decode),
        Some((2, GuardVerdict::Enforce))
    );
    assert!(
        t.notes.iter().any(|n| n.contains("shared")),
        "{:?}",
        t.notes
    );
    // control: dave's uid is his alone
    let c = cfg("[[rule]]\nusers = [\"dave\"]\nnnp = false\n[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n");
    assert_eq!(
        c.guard_table(&cast())
            .lookup(2004, 2004, &[4100])
            .map(decode),
        Some((1, GuardVerdict::Exempt))
    );
}

#[test]
fn a_restricting_name_in_another_case_covers_the_account() {
    // Issue 19 (case): rule "carl", account "Carl" — the module restricts Carl, the guard
    // left him out. Control: an exemption stays exact.
    let c = cfg("[[rule]]\nusers = [\"carl\"]\nnnp = true\n");
    let t = c.guard_table(&cast());
    assert!(t.uids.contains_key(&2003), "{t:?}");
    let c = cfg("[[rule]]\nusers = [\"carl\"]\nnnp = false\n");
    let t = c.guard_table(&cast());
    assert!(t.uids.is_empty());
}

#[test]
fn more_combined_rules_than_the_program_holds_are_enforced_wider() {
    let mut text = String::new();
    for i in 0..70 {
        text.push_str(&format!(
            "[[rule]]\nuids = [\"{}\"]\ngroups = [\"ops\"]\nnnp = true\n",
            10_000 + i
        ));
    }
    let t = cfg(&text).guard_table(&cast());
    assert_eq!(t.combo.len(), crate::guard::MAX_COMBO);
    // rule 70 (beyond the limit) is enforced for the whole group
    assert_eq!(
        t.lookup(5, 5, &[4200]).map(decode),
        Some((65, GuardVerdict::Enforce))
    );
    assert!(!t.notes.is_empty());
}

#[test]
fn more_ranges_than_the_program_holds_are_merged_wider() {
    let mut text = String::new();
    for i in 0..300u32 {
        text.push_str(&format!(
            "[[rule]]\nuids = [\"{}\"]\nnnp = {}\n",
            10_000 + 2 * i,
            i % 2 == 0
        ));
    }
    let mut t = cfg(&text).guard_table(&cast());
    t.fit();
    assert_eq!(t.ranges.len(), crate::guard::MAX_RANGES);
    // every restricting uid is still guarded
    for i in (0..300u32).step_by(2) {
        let v = t.lookup(10_000 + 2 * i, 1, &[]).map(decode);
        assert!(matches!(v, Some((_, GuardVerdict::Enforce))), "{i}: {v:?}");
    }
}

#[test]
fn passwd_file_reading() {
    let dir = std::env::temp_dir().join(format!("nnp-passwd-{}", std::process::id()));
    std::fs::write(
        &dir,
        b"root:x:0:0::/:/bin/sh\nCarl:x:2003:2003::/:/bin/sh\nbad\n",
    )
    .unwrap();
    let u = crate::nssfiles::passwd_users(&dir).unwrap();
    assert_eq!(u.len(), 2);
    assert_eq!(u[1].name, b"Carl");
    let _ = std::fs::remove_file(&dir);
    assert!(
        crate::nssfiles::passwd_users(Path::new("/nonexistent/passwd"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn widening_never_lets_an_audit_rule_shadow_a_later_enforcing_one() {
    // Widening an audit rule with an unknown group to everyone (star = audit) would shadow a
    // later enforcing rule; the same through merged ranges.
    let mut d = cast();
    d.cold = vec![b"ghosts".to_vec()];
    let c = cfg("[[rule]]\ngroups = [\"ghosts\"]\nnnp = true\nmode = \"audit\"\n[[rule]]\nusers = [\"bob\"]\nnnp = true\n");
    let t = c.guard_table(&d);
    assert!(t.degraded());
    assert_eq!(
        t.lookup(2002, 2002, &[]).map(decode),
        Some((2, GuardVerdict::Enforce))
    );
    // control: an enforcing rule with an unknown name is widened
    let c = cfg(
        "[[rule]]\ngroups = [\"ghosts\"]\nnnp = true\n[[rule]]\nusers = [\"bob\"]\nnnp = false\n",
    );
    assert_eq!(
        c.guard_table(&d).lookup(2002, 2002, &[]).map(decode),
        Some((1, GuardVerdict::Enforce))
    );
    // ranges: an exemption of 256 ranges, then an audit uid, then an enforcing uid
    let mut text = String::from("[[rule]]\nuids = [");
    for i in 0..256 {
        text.push_str(&format!("\"{}\", ", 100_000 + 2 * i));
    }
    text.push_str("]\nnnp = false\n[[rule]]\nuids = [\"1009\"]\nnnp = true\nmode = \"audit\"\n[[rule]]\nuids = [\"1010\"]\nnnp = true\n");
    let mut t = cfg(&text).guard_table(&cast());
    t.fit();
    assert_eq!(
        t.lookup(1010, 1010, &[]).map(decode),
        Some((3, GuardVerdict::Enforce))
    );
}

#[test]
fn scripted_a_restricting_name_asks_its_case_variants_and_the_local_passwd_once() {
    let c = cfg("[[rule]]\nusers = [\"alice\"]\nnnp = true\n");
    let alice = UserEntry {
        name: b"alice".to_vec(),
        uid: 2001,
        gid: 2001,
    };
    let d = Fake::scripted([
        Expect::UserByName(b"alice".to_vec(), Ok(Some(alice.clone()))),
        Expect::UserByName(b"ALICE".to_vec(), Ok(None)),
        Expect::UserByName(b"Alice".to_vec(), Ok(None)),
        Expect::LocalUsers(Ok(vec![
            alice,
            UserEntry {
                name: b"ALICE".to_vec(),
                uid: 2999,
                gid: 2999,
            },
        ])),
    ]);
    let t = c.guard_table(&d);
    assert!(!t.degraded());
    assert_eq!(t.uids.keys().copied().collect::<Vec<_>>(), vec![2001, 2999]);
}

#[test]
fn one_mapping_of_rule_and_mode_to_a_verdict() {
    use GuardVerdict as G;
    let cases = [
        ("enforce", "nnp = false", "exempt", G::Exempt),
        (
            "enforce",
            "nnp = false\nmode = \"audit\"",
            "exempt",
            G::Exempt,
        ),
        ("enforce", "nnp = true", "enforce", G::Enforce),
        ("enforce", "nnp = true\nmode = \"audit\"", "audit", G::Audit),
        ("audit", "nnp = true", "audit", G::Audit),
        (
            "audit",
            "nnp = true\nmode = \"enforce\"",
            "enforce",
            G::Enforce,
        ),
        ("audit", "nnp = false", "exempt", G::Exempt),
    ];
    let d = cast();
    for (top, rule, module, guard) in cases {
        let c = cfg(&format!(
            "mode = \"{top}\"\n[[rule]]\nusers = [\"*\"]\n{rule}\n"
        ));
        let r = &c.rules[0];
        assert_eq!(Verdict::of(r, c.mode).as_str(), module, "{top}: {rule}");
        assert_eq!(GuardVerdict::of(r, c.mode), guard, "{top}: {rule}");
        let mut res = Resolver::new(&d);
        let decided = c
            .decide(&mut res, Who::Uid(2001), Service::Ignored)
            .unwrap();
        assert_eq!(decided.verdict, Verdict::of(r, c.mode));
        assert_eq!(decided.mode, r.mode_under(c.mode));
    }
}

#[test]
fn more_keys_than_the_program_holds_widen_the_earliest_enforcing_rule_left_out() {
    use crate::guard::{encode, Entry, GuardTable, MAX_KEYS};
    let max = u32::try_from(MAX_KEYS).unwrap();
    // rule 2 exempts uids 0..MAX_KEYS; rule 5 enforces for the two highest uids (left out),
    // rule 7 (enforce) is a combined rule whose gid side is a key left out
    let mut t = GuardTable::default();
    for uid in 1..=max + 2 {
        let value = if uid > max {
            encode(5, GuardVerdict::Enforce)
        } else {
            encode(2, GuardVerdict::Exempt)
        };
        t.uids.insert(uid, Entry { value, combo: 0 });
    }
    t.combo = vec![encode(7, GuardVerdict::Enforce)];
    for gid in 1..=max + 1 {
        let combo = u64::from(gid == max + 1);
        t.gids.insert(gid, Entry { value: 0, combo });
    }
    t.fit();
    assert_eq!(t.uids.len(), MAX_KEYS);
    assert_eq!(t.gids.len(), MAX_KEYS);
    assert_eq!(t.star, Some(encode(5, GuardVerdict::Enforce)));
    assert_eq!(t.notes.len(), 2, "{:?}", t.notes);
    // the uids left out are guarded (by rule 5 through star); an exempted uid kept stays exempt
    assert_eq!(
        t.lookup(max + 2, 1, &[]).map(decode),
        Some((5, GuardVerdict::Enforce))
    );
    assert_eq!(
        t.lookup(7, 1, &[]).map(decode),
        Some((2, GuardVerdict::Exempt))
    );

    // control: only exemptions and audit left out: nothing widened
    let mut t = GuardTable::default();
    for uid in 1..=max + 1 {
        let value = match uid {
            u if u == max + 1 => encode(3, GuardVerdict::Audit),
            _ => encode(2, GuardVerdict::Exempt),
        };
        t.uids.insert(uid, Entry { value, combo: 0 });
    }
    t.fit();
    assert_eq!(t.star, None);
    assert_eq!(t.uids.len(), MAX_KEYS);
}
