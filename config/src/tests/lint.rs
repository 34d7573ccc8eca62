//! `Config::lint` (what `nnpctl check` says about a valid config) against the fake
//! directory: every finding, its exact text, and which lookups it costs.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};

use super::support::{cfg, down, numbered_group_rules, Expect, Fake};
use crate::*;

const AT: &str = "/etc/security/nnp.toml";

/// A PAM directory holding a stack for each of `services`.
fn pam_dir(services: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for s in services {
        std::fs::write(dir.path().join(s), "session required pam_nnp.so\n").unwrap();
    }
    let path = dir.path().to_path_buf();
    (dir, path)
}

fn lint(c: &Config, d: &Fake) -> Findings {
    c.lint(d, Path::new("/nonexistent/pam.d"))
}

fn user(name: &[u8], uid: u32) -> UserEntry {
    UserEntry {
        name: name.to_vec(),
        uid,
        gid: uid,
    }
}

/// alice (2001), bob (2002), restricted (4100), ops (4200).
fn cast() -> Fake {
    Fake::default()
        .user(b"alice", 2001, 2001)
        .user(b"bob", 2002, 2002)
        .group("restricted", 4100, &[b"alice"])
        .group("ops", 4200, &[])
}

#[test]
fn a_clean_config_has_no_findings() {
    let c = cfg("[[rule]]\nusers = [\"alice\"]\ngroups = [\"restricted\"]\nnnp = true\n");
    assert_eq!(lint(&c, &cast()), Findings::default());
}

#[test]
fn a_shadowed_rule_is_a_warning() {
    let c = cfg("[[rule]]\ngroups = [\"ops\"]\nnnp = false\n[[rule]]\ngroups = [\"ops\"]\nusers = [\"bob\"]\nnnp = true\n");
    let f = lint(&c, &cast());
    assert_eq!(
        f.warnings,
        vec![format!(
            "{AT}:4: rule 2 can never match: rule 1 at {AT}:1 already matches everyone it would"
        )]
    );
    assert!(f.problems.is_empty() && f.unchecked.is_empty());
}

#[test]
fn an_unknown_user_is_a_warning() {
    let c = cfg("[[rule]]\nusers = [\"nosuchuser\"]\nnnp = false\n");
    let f = lint(&c, &cast());
    assert_eq!(
        f.warnings,
        vec![format!("{AT}:1: user \"nosuchuser\" is not known to NSS")]
    );
    assert!(f.problems.is_empty());
}

#[test]
fn a_user_or_group_name_in_another_case_than_nss_has_is_a_warning() {
    let mut d = cast();
    d.case_insensitive = true;
    let c = cfg("[[rule]]\nusers = [\"ALICE\"]\ngroups = [\"Ops\"]\nnnp = true\n");
    let f = lint(&c, &d);
    assert_eq!(
        f.warnings,
        vec![
            format!("{AT}:1: user \"ALICE\" is \"alice\" in NSS (uid 2001); names match case-insensitively, but write the canonical name"),
            format!("{AT}:1: group \"Ops\" is \"ops\" (gid 4200) in NSS; matching is by gid, but write the canonical name"),
        ]
    );
}

#[test]
fn another_account_of_a_users_uid_is_named() {
    let d = cast().user(b"alias", 2001, 2001);
    let c = cfg("[[rule]]\nusers = [\"alice\"]\nnnp = true\n");
    assert_eq!(
        lint(&c, &d).warnings,
        vec![format!("{AT}:1: uid 2001 of user \"alice\" is also the account \"alias\": this rule restricts both (a second name is the same identity to the kernel)")]
    );
    let c = cfg("[[rule]]\nusers = [\"alice\"]\nnnp = false\n");
    assert_eq!(
        lint(&c, &d).warnings,
        vec![format!("{AT}:1: uid 2001 of user \"alice\" is also the account \"alias\": this exemption covers only \"alice\"; a login as \"alias\" is decided by the later rules")]
    );
}

#[test]
fn the_passwd_database_is_enumerated_once_and_only_for_a_user_that_exists() {
    let c = cfg("[[rule]]\nusers = [\"alice\", \"bob\"]\nnnp = true\n[[rule]]\nusers = [\"alice\"]\nnnp = false\n");
    let d = Fake::scripted([
        Expect::UserByName(b"alice".to_vec(), Ok(Some(user(b"alice", 2001)))),
        Expect::Accounts(vec![
            user(b"alice", 2001),
            user(b"bob", 2002),
            user(b"alias", 2001),
        ]),
        Expect::UserByName(b"bob".to_vec(), Ok(Some(user(b"bob", 2002)))),
        // the second rule's "alice" is the resolver's: no second lookup
        // /etc/passwd (read, not enumerated): no uid has two names there
        Expect::LocalUsers(Ok(vec![user(b"alice", 2001), user(b"bob", 2002)])),
    ]);
    let f = lint(&c, &d);
    // the shadowed exemption, and alias in both rules
    assert_eq!(f.warnings.len(), 3, "{:?}", f.warnings);
    // no user exists: no enumeration
    let c = cfg("[[rule]]\nusers = [\"ghost\"]\nnnp = true\n");
    let d = Fake::scripted([
        Expect::UserByName(b"ghost".to_vec(), Ok(None)),
        Expect::LocalUsers(Ok(vec![])),
    ]);
    assert_eq!(lint(&c, &d).warnings.len(), 1);
}

#[test]
fn an_unknown_group_is_a_problem_in_a_restricting_rule_and_a_warning_in_an_exemption() {
    let c = cfg("[[rule]]\ngroups = [\"no-such-group\"]\nnnp = true\n");
    let f = lint(&c, &cast());
    assert_eq!(
        f.problems,
        vec![format!("{AT}:1: group \"no-such-group\" is not known to NSS: the module refuses every user who reaches this rule (nnp = true), because nobody can be proven not to be a member (a directory that is down answers \"not found\"); fix the name or create the group")]
    );
    assert!(f.warnings.is_empty() && f.unchecked.is_empty());
    let c = cfg("[[rule]]\ngroups = [\"nosuchgroup\"]\nnnp = false\n");
    let f = lint(&c, &cast());
    assert_eq!(
        f.warnings,
        vec![format!("{AT}:1: group \"nosuchgroup\" is not known to NSS (in an nnp = false rule it never matches)")]
    );
    assert!(f.problems.is_empty());
}

#[test]
fn a_lookup_that_fails_is_unchecked() {
    let c = cfg("[[rule]]\nusers = [\"alice\"]\ngroups = [\"restricted\"]\nnnp = true\n");
    let d = Fake::scripted([
        Expect::UserByName(b"alice".to_vec(), Err(down("user lookup (getpwnam_r)", 5))),
        Expect::GroupByName(
            b"restricted".to_vec(),
            Err(down("group lookup for \"restricted\" (getgrnam_r)", 5)),
        ),
        // the names of each uid in /etc/passwd: one each, nothing to compare
        Expect::LocalUsers(Ok(vec![user(b"alice", 2001)])),
    ]);
    let f = lint(&c, &d);
    assert_eq!(
        f.unchecked,
        vec![
            format!("{AT}:1: cannot check user \"alice\": user lookup (getpwnam_r) failed: Input/output error (errno 5)"),
            // the line names the group: the call is shown without it, as always
            format!("{AT}:1: cannot check group \"restricted\": group lookup (getgrnam_r) failed: Input/output error (errno 5)"),
        ]
    );
    assert!(f.problems.is_empty() && f.warnings.is_empty());
    // the table fake's sources down: the same
    let mut d = cast();
    d.user_db_down = true;
    d.group_db_down = true;
    assert_eq!(lint(&c, &d).unchecked.len(), 2);
}

#[test]
fn services_not_lowercase_or_without_a_pam_stack_are_warnings() {
    let (_keep, pam) = pam_dir(&["sshd", "login"]);
    let c = cfg("[[rule]]\nusers = [\"*\"]\nservices = [\"sshd\", \"Login\", \"ssh\", \"a/b\"]\nnnp = true\n");
    let f = c.lint(&cast(), &pam);
    let p = pam.display();
    assert_eq!(
        f.warnings,
        vec![
            format!("{AT}:1: service \"Login\" is compared as \"login\" (Linux-PAM names services in lowercase)"),
            format!("{AT}:1: service \"ssh\" has no PAM stack {p}/ssh (a typo? no login program uses it here)"),
            format!("{AT}:1: service \"a/b\" has no PAM stack {p}/a/b (a typo? no login program uses it here)"),
        ]
    );
}

#[test]
fn many_group_rules_read_the_group_file_once() {
    // 1,000 rules over a group file NSS reads first: one read, not 1,000 getgrnam_r scans.
    let mut d = cast().numbered_groups(1000);
    d.files_first = true;
    let f = lint(&cfg(&numbered_group_rules(1000)), &d);
    assert_eq!(f, Findings::default());
    assert_eq!(d.local_reads.get(), 1);
    assert_eq!(d.group_lookups.get(), 4);
}

/// `alice` then `alice2` in /etc/passwd, both uid 4242; only alice2 in `restricted` (4300).
fn uid_aliases() -> Fake {
    Fake::default()
        .user(b"alice", 4242, 4242)
        .user(b"alice2", 4242, 4242)
        .user(b"bob", 2002, 2002)
        .group("restricted", 4300, &[b"alice2"])
}

#[test]
fn names_of_one_uid_decided_differently_for_the_user_manager_are_a_problem() {
    // Review (HIGH): `check` said ok while alice2's user manager (PAM_USER alice) ran
    // without no_new_privs.
    let c = cfg("[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n");
    let f = lint(&c, &uid_aliases());
    assert_eq!(
        f.problems,
        vec![format!("{AT}:1: uid 4242 has the accounts \"alice\" (no rule matches), \"alice2\" (no_new_privs by rule 1 at {AT}:1) in /etc/passwd, which the rules decide differently for systemd's user manager (service systemd-user): there is one manager per uid, whichever name logged in, and pam_nnp gives it the strictest decision, no_new_privs, for every one of them; decide every name of the uid alike (the same rules, or one account)")]
    );
    // the second form: an exemption of the first name before a restriction of the second
    let c = cfg(
        "[[rule]]\nusers = [\"alice\"]\nnnp = false\n[[rule]]\nusers = [\"alice2\"]\nnnp = true\n",
    );
    let f = lint(&c, &uid_aliases());
    assert_eq!(
        f.problems,
        vec![format!("{AT}:4: uid 4242 has the accounts \"alice\" (exempt by rule 1 at {AT}:1), \"alice2\" (no_new_privs by rule 2 at {AT}:4) in /etc/passwd, which the rules decide differently for systemd's user manager (service systemd-user): there is one manager per uid, whichever name logged in, and pam_nnp gives it the strictest decision, no_new_privs, for every one of them; decide every name of the uid alike (the same rules, or one account)")]
    );
    // audit against nothing
    let c = cfg("[[rule]]\ngroups = [\"restricted\"]\nnnp = true\nmode = \"audit\"\n");
    let f = lint(&c, &uid_aliases());
    assert_eq!(f.problems.len(), 1);
    assert!(
        f.problems[0].contains("the strictest decision, audit mode"),
        "{:?}",
        f.problems
    );
}

#[test]
fn names_of_one_uid_decided_alike_and_uids_with_one_name_are_fine() {
    // controls: both names restricted; neither; exempt and no match (both do nothing)
    let d = uid_aliases().group("everyone", 4400, &[b"alice", b"alice2"]);
    for text in [
        "[[rule]]\ngroups = [\"everyone\"]\nnnp = true\n",
        "[[rule]]\nusers = [\"bob\"]\nnnp = true\n",
        "[[rule]]\nusers = [\"alice\"]\nnnp = false\n",
    ] {
        let f = lint(&cfg(text), &d);
        assert!(f.problems.is_empty(), "{text}: {:?}", f.problems);
        assert!(f.unchecked.is_empty(), "{text}: {:?}", f.unchecked);
    }
    // a uid with one account, restricted or not
    let d = cast();
    let f = lint(
        &cfg("[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n"),
        &d,
    );
    assert_eq!(f, Findings::default());
    // no rules: nothing is read
    let d = Fake::scripted([]);
    assert_eq!(lint(&cfg("# none\n"), &d), Findings::default());
}

#[test]
fn a_uid_alias_that_cannot_be_decided_is_unchecked() {
    let c = cfg("[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n");
    let d = Fake::scripted([
        Expect::GroupByName(
            b"restricted".to_vec(),
            Ok(Some(GroupEntry {
                name: b"restricted".to_vec(),
                gid: 4300,
                members: vec![],
            })),
        ),
        Expect::LocalUsers(Ok(vec![user(b"alice", 4242), user(b"alice2", 4242)])),
        Expect::UserByName(b"alice".to_vec(), Ok(Some(user(b"alice", 4242)))),
        Expect::GroupIds(b"alice".to_vec(), Ok(vec![4242])),
        Expect::UserByName(b"alice2".to_vec(), Err(down("user lookup (getpwnam_r)", 5))),
    ]);
    let f = lint(&c, &d);
    assert_eq!(
        f.unchecked,
        vec!["uid 4242: cannot decide account \"alice2\" for systemd's user manager (service systemd-user): user lookup (getpwnam_r) failed: Input/output error (errno 5)".to_string()]
    );
    assert!(f.problems.is_empty());
    // /etc/passwd unreadable
    let d = Fake::scripted([
        Expect::GroupByName(b"restricted".to_vec(), Ok(None)),
        Expect::LocalUsers(Err(LookupError::File {
            path: "/etc/passwd".into(),
            source: std::sync::Arc::new(std::io::Error::from_raw_os_error(13)),
        })),
    ]);
    let f = lint(&c, &d);
    assert_eq!(
        f.unchecked,
        vec!["cannot compare the names each uid has in /etc/passwd (systemd's user manager is one per uid): reading /etc/passwd: Permission denied (os error 13)".to_string()]
    );
}
