//! The decision engine against a fake directory: identity matching, laziness, and "never a
//! silent no-match". Each of the review's cases has its regression test here.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::support::{cfg, down, numbered_group_rules, Expect, Fake};
use crate::*;

fn decide<'c>(
    c: &'c Config,
    dir: &Fake,
    user: &[u8],
    svc: Service<'_>,
) -> Result<Decision<'c>, DecideError> {
    let mut res = Resolver::new(dir);
    c.decide(&mut res, Who::Name(user), svc)
}

/// The verdict's spelling ("enforce", "no-match"...).
fn verdict(c: &Config, dir: &Fake, user: &[u8]) -> &'static str {
    decide(c, dir, user, Service::Named("sshd"))
        .unwrap()
        .verdict
        .as_str()
}

/// alice (2001) in restricted (4100), bob (2002) control, dave (2004) in restricted.
fn cast() -> Fake {
    Fake::default()
        .user(b"alice", 2001, 2001)
        .user(b"bob", 2002, 2002)
        .user(b"dave", 2004, 2004)
        .group("restricted", 4100, &[b"alice", b"dave"])
        .group("users", 100, &[])
}

const GROUP_RULE: &str = "[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n";

#[test]
fn first_match_wins_and_exemption_before_group_rule() {
    let c = cfg("[[rule]]\nusers = [\"dave\"]\nnnp = false\n\n[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n");
    let d = cast();
    let r = decide(&c, &d, b"dave", Service::Named("sshd")).unwrap();
    assert_eq!(
        (r.verdict.as_str(), r.rule().unwrap().at.index),
        ("exempt", 1)
    );
    let r = decide(&c, &d, b"alice", Service::Named("sshd")).unwrap();
    assert_eq!(
        (r.verdict.as_str(), r.rule().unwrap().at.index),
        ("enforce", 2)
    );
    assert!(r.sets_nnp() && r.restricts());
    assert_eq!(
        r.because.as_deref(),
        Some("group \"restricted\" (gid 4100)")
    );
    let r = decide(&c, &d, b"bob", Service::Named("sshd")).unwrap();
    assert_eq!(r.verdict.as_str(), "no-match");
    assert!(r.rule().is_none() && !r.sets_nnp());
}

#[test]
fn all_named_selectors_must_match_star_and_uid_ranges() {
    let c = cfg("[[rule]]\nusers = [\"alice\"]\ngroups = [\"restricted\"]\nnnp = true\n");
    let d = cast();
    assert_eq!(verdict(&c, &d, b"alice"), "enforce");
    assert_eq!(verdict(&c, &d, b"dave"), "no-match");
    let c = cfg("[[rule]]\nusers = [\"*\"]\nnnp = true\n");
    assert_eq!(verdict(&c, &d, b"bob"), "enforce");
    let c = cfg("[[rule]]\nuids = [\"2000-2001\", 2004]\nnnp = true\n");
    assert_eq!(verdict(&c, &d, b"alice"), "enforce");
    assert_eq!(verdict(&c, &d, b"dave"), "enforce");
    assert_eq!(verdict(&c, &d, b"bob"), "no-match");
}

#[test]
fn services_narrow_and_compare_in_lowercase() {
    // Linux-PAM lowercases PAM_SERVICE: services = ["NNPX"] must match "nnpx".
    let c = cfg("[[rule]]\nusers = [\"alice\"]\nservices = [\"NNPX\", \"login\"]\nnnp = true\n");
    let d = cast();
    let v = |s| decide(&c, &d, b"alice", s).unwrap().verdict.as_str();
    assert_eq!(v(Service::Named("nnpx")), "enforce");
    assert_eq!(v(Service::Named("NNPX")), "enforce");
    assert_eq!(v(Service::Named("login")), "enforce");
    assert_eq!(v(Service::Named("sshd")), "no-match");
    assert_eq!(v(Service::Unnamed), "no-match");
    assert_eq!(v(Service::Ignored), "enforce");
    let mut res = Resolver::new(&d);
    assert!(c
        .decide_any_service(&mut res, Who::Uid(2001))
        .unwrap()
        .sets_nnp());
}

#[test]
fn modes_top_level_and_per_rule() {
    let c = cfg("mode = \"audit\"\n[[rule]]\nusers = [\"alice\"]\nnnp = true\n[[rule]]\nusers = [\"dave\"]\nnnp = true\nmode = \"enforce\"\n");
    let d = cast();
    let a = decide(&c, &d, b"alice", Service::Unnamed).unwrap();
    assert_eq!((a.verdict.as_str(), a.mode), ("audit", Mode::Audit));
    assert!(a.restricts() && !a.sets_nnp());
    assert_eq!(verdict(&c, &d, b"dave"), "enforce");
    let mut res = Resolver::new(&d);
    assert!(!c
        .decide_any_service(&mut res, Who::Uid(2001))
        .unwrap()
        .sets_nnp());
}

#[test]
fn non_utf8_user_name_is_matched_by_its_bytes() {
    // A passwd name "caf\xe9" in the restricted group must be asked about as its bytes: the
    // lossy "caf\u{fffd}" would find no groups and give NNP 0.
    let d = cast()
        .user(b"caf\xe9", 2010, 2010)
        .supp(b"caf\xe9", &[4100]);
    let c = cfg(GROUP_RULE);
    assert_eq!(verdict(&c, &d, b"caf\xe9"), "enforce");
    // and by uid (nnp-shell, audit)
    let mut res = Resolver::new(&d);
    let r = c
        .decide(&mut res, Who::Uid(2010), Service::Ignored)
        .unwrap();
    assert_eq!(r.user.unwrap().name, b"caf\xe9");
    // the control: the lossy spelling is no account at all
    assert!(matches!(
        decide(&c, &d, "caf\u{fffd}".as_bytes(), Service::Unnamed),
        Err(DecideError::UnknownUser(_))
    ));
}

#[test]
fn group_source_down_is_an_error_never_a_non_match() {
    // With the group's source UNAVAIL, a member must not get NNP 0 and PAM_SUCCESS.
    let mut d = cast();
    d.group_db_down = true;
    let c = cfg(GROUP_RULE);
    let e = decide(&c, &d, b"alice", Service::Named("sshd")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "rule /etc/security/nnp.toml:1 needs a fact that cannot be established: group lookup for \"restricted\" (getgrnam_r) failed: Input/output error (errno 5)"
    );
    // the user outside the group cannot prove it either
    assert!(decide(&c, &d, b"bob", Service::Named("sshd")).is_err());
    // getgrouplist failing (asked only for a negative answer) is an error too
    let mut d = cast();
    d.group_list_fails = true;
    assert!(decide(&c, &d, b"bob", Service::Named("sshd")).is_err());
    // ...but a positive answer from the group entry needs no group list
    assert_eq!(verdict(&c, &d, b"alice"), "enforce");
}

#[test]
fn unknown_group_in_an_nnp_true_rule_is_an_error_in_an_exemption_no_match() {
    // A cold SSSD cache with the directory down answers "not found" for the group.
    let mut d = cast();
    d.cold = vec![b"restricted".to_vec()];
    let c = cfg(GROUP_RULE);
    let e = decide(&c, &d, b"alice", Service::Named("sshd")).unwrap_err();
    assert!(matches!(e, DecideError::UnknownGroup { .. }), "{e}");
    assert!(e
        .to_string()
        .contains("names group \"restricted\", which NSS does not know"));
    let c = cfg(
        "[[rule]]\ngroups = [\"nosuch\"]\nnnp = false\n[[rule]]\nusers = [\"*\"]\nnnp = true\n",
    );
    assert_eq!(verdict(&c, &d, b"bob"), "enforce");
    // one known group of the alternatives that matches is enough
    let c = cfg("[[rule]]\ngroups = [\"nosuch\", \"restricted\"]\nnnp = true\n");
    assert_eq!(verdict(&c, &cast(), b"alice"), "enforce");
    assert!(decide(&c, &cast(), b"bob", Service::Unnamed).is_err());
}

#[test]
fn two_names_for_one_gid_match_by_gid() {
    // Two names for one gid: "staff-alias:x:4100:" before "restricted:x:4100:alice".
    let d = Fake::default()
        .user(b"alice", 2001, 2001)
        .user(b"erin", 2005, 4100) // primary gid 4100
        .group("staff-alias", 4100, &[])
        .group("restricted", 4100, &[])
        .supp(b"alice", &[4100]);
    let c = cfg(GROUP_RULE);
    assert_eq!(verdict(&c, &d, b"alice"), "enforce");
    assert_eq!(verdict(&c, &d, b"erin"), "enforce");
    let c = cfg("[[rule]]\ngroups = [\"staff-alias\"]\nnnp = true\n");
    assert_eq!(verdict(&c, &d, b"alice"), "enforce");
}

#[test]
fn case_insensitive_directory_matches_names_in_any_case() {
    // SSSD with case_sensitive = false returns names lowercased.
    let mut d = Fake::default()
        .user(b"LDAPUser", 3001, 3001)
        .user(b"bob", 2002, 2002)
        .group("OpsRestricted", 5100, &[b"ldapuser"]);
    d.case_insensitive = true;
    let c = cfg("[[rule]]\ngroups = [\"OpsRestricted\"]\nnnp = true\n");
    assert_eq!(verdict(&c, &d, b"LDAPUSER"), "enforce");
    assert_eq!(verdict(&c, &d, b"bob"), "no-match");
    let c = cfg("[[rule]]\nusers = [\"LDAPUser\"]\nnnp = true\n");
    assert_eq!(verdict(&c, &d, b"ldapuser"), "enforce");
    assert_eq!(verdict(&c, &d, b"LdapUser"), "enforce");
    assert_eq!(verdict(&c, &d, b"bob"), "no-match");
}

#[test]
fn an_exemption_needs_the_same_account_not_a_similar_name() {
    // files is case-sensitive: "Admin" and "admin" are two accounts.
    let d = Fake::default()
        .user(b"admin", 1000, 1000)
        .user(b"Admin", 1666, 1666);
    let c =
        cfg("[[rule]]\nusers = [\"admin\"]\nnnp = false\n[[rule]]\nusers = [\"*\"]\nnnp = true\n");
    assert_eq!(verdict(&c, &d, b"admin"), "exempt");
    assert_eq!(verdict(&c, &d, b"Admin"), "enforce");
    // a restricting rule matches both spellings (more restriction is the safe side)
    let c = cfg("[[rule]]\nusers = [\"admin\"]\nnnp = true\n");
    assert_eq!(verdict(&c, &d, b"Admin"), "enforce");
}

#[test]
fn lazy_an_early_exemption_never_touches_the_group_database() {
    let mut d = cast().user(b"root", 0, 0);
    d.group_db_down = true;
    let c = cfg("[[rule]]\nusers = [\"root\"]\nnnp = false\n[[rule]]\nuids = [\"0-999\"]\nnnp = false\n[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n");
    assert_eq!(verdict(&c, &d, b"root"), "exempt");
    assert_eq!(d.group_lookups.get(), 0);
    assert_eq!(d.group_list_calls.get(), 0);
    // the restricted user reaches the group rule: an error, not a non-match
    assert!(decide(&c, &d, b"alice", Service::Named("sshd")).is_err());
}

#[test]
fn lazy_a_member_costs_one_group_lookup_and_no_group_list() {
    let d = cast();
    let c = cfg(GROUP_RULE);
    assert_eq!(verdict(&c, &d, b"alice"), "enforce");
    assert_eq!((d.group_lookups.get(), d.group_list_calls.get()), (1, 0));
    // a non-member needs the group list once (the negative answer)
    assert_eq!(verdict(&c, &d, b"bob"), "no-match");
    assert_eq!(d.group_list_calls.get(), 1);
}

#[test]
fn no_rules_nothing_looked_up_even_for_unknown_users() {
    let c = cfg("# nothing\n");
    let d = cast();
    let r = decide(&c, &d, b"nobody-here", Service::Named("sshd")).unwrap();
    assert_eq!(r.verdict.as_str(), "no-match");
    assert!(r.user.is_none());
    assert!(d.user_lookups.borrow().is_empty());
    // with rules, an unknown user is an error
    let c = cfg(GROUP_RULE);
    assert!(matches!(
        decide(&c, &d, b"nobody-here", Service::Named("sshd")),
        Err(DecideError::UnknownUser(_))
    ));
}

#[test]
fn many_group_rules_are_resolved_in_one_pass() {
    // Cost: 1,000 rules must not mean 1,000 group lookups when NSS reads
    // the local group file first: one read of that file, never an enumeration.
    let mut d = cast().numbered_groups(1000).supp(b"bob", &[100_999]);
    d.files_first = true;
    let c = cfg(&numbered_group_rules(1000));
    let r = decide(&c, &d, b"bob", Service::Named("sshd")).unwrap();
    assert_eq!(r.rule().unwrap().at.index, 1000);
    assert_eq!(d.local_reads.get(), 1);
    assert!(d.group_lookups.get() <= 5, "{}", d.group_lookups.get());
    assert_eq!(d.group_list_calls.get(), 1);
    // NSS does not read files first (sss, ldap): every name is asked by name, still correct
    let d2 = cast().numbered_groups(1000).supp(b"bob", &[100_999]);
    let r = decide(&c, &d2, b"bob", Service::Named("sshd")).unwrap();
    assert_eq!(r.rule().unwrap().at.index, 1000);
    assert_eq!(d2.group_lookups.get(), 1000);
    // names the file does not hold are asked by name: unknown ones stay errors
    let mut d3 = cast().numbered_groups(10);
    d3.files_first = true;
    assert!(decide(&c, &d3, b"bob", Service::Named("sshd")).is_err()); // g10.. unknown
}

#[test]
fn local_file_names_it_is_unsure_about_are_asked_of_nss() {
    let mut d = cast().numbered_groups(8).supp(b"bob", &[100_007]);
    d.files_first = true;
    d.unsure = vec!["g7".into()];
    let c = cfg(&numbered_group_rules(8));
    let r = decide(&c, &d, b"bob", Service::Named("sshd")).unwrap();
    assert_eq!(r.rule().unwrap().at.index, 8);
    // g0..g3 single lookups, g4..g6 from the file, g7 asked again by name
    assert_eq!(d.group_lookups.get(), 5);
}

#[test]
fn an_alias_of_a_restricted_uid_is_restricted_wherever_it_is_listed() {
    // Issue 19: a second passwd name for alice's uid logged in without NNP.
    for alias_first in [false, true] {
        let mut d = Fake::default();
        if alias_first {
            d = d.user(b"alias", 2001, 2001);
        }
        d = d.user(b"alice", 2001, 2001).user(b"bob", 2002, 2002);
        if !alias_first {
            d = d.user(b"alias", 2001, 2001);
        }
        let c = cfg("[[rule]]\nusers = [\"alice\"]\nnnp = true\n");
        assert_eq!(verdict(&c, &d, b"alias"), "enforce", "{alias_first}");
        assert_eq!(verdict(&c, &d, b"alice"), "enforce");
        assert_eq!(verdict(&c, &d, b"bob"), "no-match"); // control
        let mut res = Resolver::new(&d);
        let r = c
            .decide(&mut res, Who::Uid(2001), Service::Ignored)
            .unwrap();
        assert_eq!(r.verdict.as_str(), "enforce", "by uid, {alias_first}");
        // a name written in another case than the account still covers the alias
        let c = cfg("[[rule]]\nusers = [\"ALICE\"]\nnnp = true\n");
        assert_eq!(verdict(&c, &d, b"alias"), "enforce");
        // an exemption covers only the account it names
        let c = cfg(
            "[[rule]]\nusers = [\"alice\"]\nnnp = false\n[[rule]]\nusers = [\"*\"]\nnnp = true\n",
        );
        assert_eq!(verdict(&c, &d, b"alice"), "exempt");
        assert_eq!(verdict(&c, &d, b"alias"), "enforce");
    }
}

#[test]
fn alias_lookup_is_lazy_and_a_failing_lookup_is_an_error() {
    let d = cast();
    // the exemption decides first: alice's name is never looked up for dave
    let c = cfg(
        "[[rule]]\nusers = [\"dave\"]\nnnp = false\n[[rule]]\nusers = [\"alice\"]\nnnp = true\n",
    );
    assert_eq!(verdict(&c, &d, b"dave"), "exempt");
    assert_eq!(d.user_lookups.borrow().as_slice(), &[b"dave".to_vec()]);
    // bob reaches the rule: "alice" is resolved to know whether bob is the same uid
    assert_eq!(verdict(&c, &d, b"bob"), "no-match");
    assert!(d.user_lookups.borrow().contains(&b"alice".to_vec()));
    // the same name as the login needs no lookup
    let d = cast();
    let c = cfg("[[rule]]\nusers = [\"alice\"]\nnnp = true\n");
    assert_eq!(verdict(&c, &d, b"alice"), "enforce");
    assert_eq!(d.user_lookups.borrow().as_slice(), &[b"alice".to_vec()]);
    // a source that fails while the rule's name is resolved: an error, never a non-match
    let mut d = cast();
    d.user_db_down = true;
    let mut res = Resolver::new(&d);
    assert!(matches!(
        c.decide(&mut res, Who::Uid(2002), Service::Ignored),
        Err(DecideError::Lookup { rule: Some(_), .. })
    ));
}

fn kernel<'c>(c: &'c Config, d: &Fake, uid: u32, gid: u32, groups: &[u32]) -> Decision<'c> {
    let mut res = Resolver::new(d);
    c.decide_any_service(&mut res, Who::Kernel { uid, gid, groups })
        .unwrap()
}

#[test]
fn a_uid_without_passwd_entry_is_decided_from_its_kernel_credentials() {
    // Issue 20: rootless containers on subordinate ids made audit exit 3.
    let d = cast();
    let c = cfg(GROUP_RULE);
    // in the restricted group by the kernel's supplementary groups, or by its real gid
    let r = kernel(&c, &d, 100_000, 100_000, &[4100]);
    assert_eq!(r.verdict.as_str(), "enforce");
    assert!(r.user.is_none());
    assert_eq!(
        kernel(&c, &d, 100_000, 4100, &[]).verdict.as_str(),
        "enforce"
    );
    // not in it: no match (control), and getgrouplist is never asked (no name)
    assert_eq!(
        kernel(&c, &d, 100_000, 100_000, &[7]).verdict.as_str(),
        "no-match"
    );
    assert_eq!(d.group_list_calls.get(), 0);
    // uid ranges and "*" by uid
    let c = cfg("[[rule]]\nuids = [\"100000-165535\"]\nnnp = true\n");
    assert_eq!(kernel(&c, &d, 100_001, 1, &[]).verdict.as_str(), "enforce");
    assert_eq!(kernel(&c, &d, 99_999, 1, &[]).verdict.as_str(), "no-match");
    let c = cfg("[[rule]]\nusers = [\"*\"]\nnnp = true\n");
    assert_eq!(kernel(&c, &d, 100_001, 1, &[]).verdict.as_str(), "enforce");
    // user names by the uid they resolve to: none of them is a subordinate id
    let c = cfg("[[rule]]\nusers = [\"alice\"]\nnnp = true\n");
    assert_eq!(kernel(&c, &d, 100_001, 1, &[]).verdict.as_str(), "no-match");
    // a uid with a passwd entry is decided from its account, as before
    let c = cfg(GROUP_RULE);
    assert_eq!(kernel(&c, &d, 2001, 2001, &[]).verdict.as_str(), "enforce");
    assert_eq!(
        kernel(&c, &d, 2002, 2002, &[4100]).verdict.as_str(),
        "no-match"
    );
    // doubt toward restriction: a group that cannot be resolved is an error
    let mut d = cast();
    d.group_db_down = true;
    let mut res = Resolver::new(&d);
    assert!(c
        .decide_any_service(
            &mut res,
            Who::Kernel {
                uid: 100_000,
                gid: 100_000,
                groups: &[]
            }
        )
        .is_err());
    // and Who::Uid still says the account is unknown
    let mut res = Resolver::new(&d);
    assert!(matches!(
        c.decide(&mut res, Who::Uid(100_000), Service::Ignored),
        Err(DecideError::UnknownUser(_))
    ));
}

#[test]
fn shell_choice_ignores_services() {
    let c = cfg("shell = \"/bin/bash\"\n[[rule]]\nusers = [\"alice\"]\nservices = [\"sshd\"]\nnnp = true\nshell = \"/bin/zsh\"\n[[rule]]\nusers = [\"dave\"]\nnnp = false\n");
    let d = cast();
    let mut res = Resolver::new(&d);
    let s = c.shell_for(&mut res, Who::Uid(2001)).unwrap();
    assert_eq!((s.shell, s.source), ("/bin/zsh", "rule"));
    let s = c.shell_for(&mut res, Who::Uid(2004)).unwrap();
    assert_eq!((s.shell, s.source), ("/bin/bash", "top-level"));
    let c = cfg("[[rule]]\nusers = [\"alice\"]\nnnp = true\n");
    let s = c.shell_for(&mut res, Who::Uid(99)).unwrap();
    assert_eq!((s.shell, s.source), ("/bin/sh", "default"));
}

#[test]
fn a_lookup_error_keeps_its_cause() {
    use std::error::Error;
    let e = down("user lookup (getpwnam_r)", 5);
    assert_eq!(
        e.to_string(),
        "user lookup (getpwnam_r) failed: Input/output error (errno 5)"
    );
    assert!(e.source().is_some());
    let e = LookupError::File {
        path: "/etc/passwd".into(),
        source: std::sync::Arc::new(std::io::Error::from_raw_os_error(13)),
    };
    assert_eq!(
        e.to_string(),
        "reading /etc/passwd: Permission denied (os error 13)"
    );
    assert_eq!(
        e.source().map(|s| s.to_string()),
        Some("Permission denied (os error 13)".to_string())
    );
}

fn entry(name: &[u8], uid: u32) -> UserEntry {
    UserEntry {
        name: name.to_vec(),
        uid,
        gid: uid,
    }
}

fn group_entry(name: &str, gid: u32, members: &[&[u8]]) -> GroupEntry {
    GroupEntry {
        name: name.as_bytes().to_vec(),
        gid,
        members: members.iter().map(|m| m.to_vec()).collect(),
    }
}

#[test]
fn scripted_a_non_member_costs_one_group_lookup_and_one_group_list() {
    let c = cfg(GROUP_RULE);
    let d = Fake::scripted([
        Expect::UserByName(b"bob".to_vec(), Ok(Some(entry(b"bob", 2002)))),
        Expect::GroupByName(
            b"restricted".to_vec(),
            Ok(Some(group_entry("restricted", 4100, &[b"alice"]))),
        ),
        Expect::GroupIds(b"bob".to_vec(), Ok(vec![2002])),
    ]);
    assert_eq!(verdict(&c, &d, b"bob"), "no-match");
}

#[test]
fn scripted_after_four_group_lookups_the_rest_come_from_one_read_of_the_file() {
    let c = cfg(&numbered_group_rules(6));
    let mut calls = vec![Expect::UserByName(
        b"bob".to_vec(),
        Ok(Some(entry(b"bob", 2002))),
    )];
    for k in 0..4 {
        let g = format!("g{k}");
        calls.push(Expect::GroupByName(
            g.as_bytes().to_vec(),
            Ok(Some(group_entry(&g, 5000 + k, &[]))),
        ));
        if k == 0 {
            calls.push(Expect::GroupIds(b"bob".to_vec(), Ok(vec![2002, 5005])));
        }
    }
    let mut file = FileGroups::default();
    for k in 4..6 {
        let g = format!("g{k}");
        file.found.insert(g.clone(), group_entry(&g, 5000 + k, &[]));
    }
    calls.push(Expect::LocalGroups(Some(file)));
    let d = Fake::scripted(calls);
    let r = decide(&c, &d, b"bob", Service::Named("sshd")).unwrap();
    assert_eq!(r.rule().unwrap().at.index, 6);
}

// --- systemd's user manager: one per uid, whichever name logged in -------------------------

/// The review's setup: `alice` then `alice2` in /etc/passwd, both uid 4242 (`alias_first`:
/// alice2 listed first), only alice2 in `restricted` (4300); bob (2002) alone on his uid.
fn uid_aliases(alias_first: bool) -> Fake {
    let mut d = Fake::default();
    if alias_first {
        d = d.user(b"alice2", 4242, 4242).user(b"alice", 4242, 4242);
    } else {
        d = d.user(b"alice", 4242, 4242).user(b"alice2", 4242, 4242);
    }
    d.user(b"bob", 2002, 2002).user(b"dave", 2004, 2004).group(
        "restricted",
        4300,
        &[b"alice2", b"dave"],
    )
}

fn manager<'c>(c: &'c Config, d: &Fake, user: &[u8]) -> Result<Decision<'c>, DecideError> {
    let mut res = Resolver::new(d);
    c.decide_module(&mut res, Who::Name(user), Some(USER_MANAGER_SERVICE))
}

#[test]
fn the_user_manager_is_decided_for_every_name_of_the_uid() {
    // Review (HIGH): systemd opens user@4242.service's session with PAM_USER "alice" (the
    // uid's first passwd name) when alice2 logs in; the module decided for alice, so alice2's
    // ssh session had NoNewPrivs 1 and her user manager 0 (systemd-run --user escaped).
    let c = cfg("[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n");
    for alias_first in [false, true] {
        let d = uid_aliases(alias_first);
        // each account alone, for a session: as before
        assert_eq!(verdict(&c, &d, b"alice2"), "enforce");
        assert_eq!(verdict(&c, &d, b"alice"), "no-match");
        // the user manager, whichever name PAM_USER is
        for user in [&b"alice"[..], b"alice2"] {
            let r = manager(&c, &d, user).unwrap();
            assert_eq!(r.verdict.as_str(), "enforce", "{alias_first} {user:?}");
            assert_eq!(
                r.user.as_ref().unwrap().name,
                user,
                "the account asked about"
            );
        }
        let r = manager(&c, &d, b"alice").unwrap();
        assert_eq!(
            r.alias.as_ref().map(|a| a.name.as_slice()),
            Some(&b"alice2"[..])
        );
        assert_eq!(
            r.because.as_deref(),
            Some("account \"alice2\" of uid 4242 (every name of a uid counts): group \"restricted\" (gid 4300)")
        );
        // alice2's own decision needs no other account
        assert!(manager(&c, &d, b"alice2").unwrap().alias.is_none());
        // the service is recognised as pam_nnp gets it, in any case; by uid too
        let mut res = Resolver::new(&d);
        let r = c
            .decide_module(&mut res, Who::Name(b"alice"), Some("Systemd-User"))
            .unwrap();
        assert!(r.sets_nnp());
        let mut res = Resolver::new(&d);
        assert!(c
            .decide_user_manager(&mut res, Who::Uid(4242))
            .unwrap()
            .sets_nnp());
        // any other service is still decided for the account alone
        let mut res = Resolver::new(&d);
        let r = c
            .decide_module(&mut res, Who::Name(b"alice"), Some("sshd"))
            .unwrap();
        assert_eq!(r.verdict.as_str(), "no-match");
        // controls: a uid with one account, restricted or not
        assert_eq!(
            manager(&c, &d, b"bob").unwrap().verdict.as_str(),
            "no-match"
        );
        let r = manager(&c, &d, b"dave").unwrap();
        assert_eq!((r.verdict.as_str(), r.alias.is_none()), ("enforce", true));
    }
}

#[test]
fn an_exemption_of_the_first_name_does_not_lift_the_second_names_user_manager() {
    // The review's second form: alice exempt (nnp = false) before alice2 restricted.
    let c = cfg(
        "[[rule]]\nusers = [\"alice\"]\nnnp = false\n[[rule]]\nusers = [\"alice2\"]\nnnp = true\n",
    );
    for alias_first in [false, true] {
        let d = uid_aliases(alias_first);
        assert_eq!(verdict(&c, &d, b"alice"), "exempt");
        assert_eq!(verdict(&c, &d, b"alice2"), "enforce");
        for user in [&b"alice"[..], b"alice2"] {
            let r = manager(&c, &d, user).unwrap();
            assert_eq!(r.verdict.as_str(), "enforce", "{alias_first} {user:?}");
            assert_eq!(r.rule().unwrap().at.index, 2);
        }
    }
}

#[test]
fn aliases_decided_alike_give_their_common_decision() {
    // controls: both names restricted, both not, both exempt
    let d = uid_aliases(false).group("everyone", 4400, &[b"alice", b"alice2"]);
    let c = cfg("[[rule]]\ngroups = [\"everyone\"]\nnnp = true\n");
    let r = manager(&c, &d, b"alice").unwrap();
    assert_eq!((r.verdict.as_str(), r.alias.is_none()), ("enforce", true));
    // an enforce of the account asked about decides without another lookup
    assert_eq!(d.user_lookups.borrow().as_slice(), &[b"alice".to_vec()]);
    let c = cfg("[[rule]]\ngroups = [\"nobody-here\"]\nnnp = false\n");
    let r = manager(&c, &d, b"alice").unwrap();
    assert_eq!((r.verdict.as_str(), r.alias.is_none()), ("no-match", true));
    let c = cfg("[[rule]]\nuids = [4242]\nnnp = false\n");
    let r = manager(&c, &d, b"alice").unwrap();
    assert_eq!(r.verdict.as_str(), "exempt");
    // audit beats nothing, and enforce beats audit
    let c = cfg("[[rule]]\nusers = [\"alice2\"]\nnnp = false\n[[rule]]\nusers = [\"alice\"]\nnnp = true\nmode = \"audit\"\n");
    let r = manager(&c, &d, b"alice2").unwrap();
    assert_eq!(r.verdict.as_str(), "audit");
    let c = cfg("[[rule]]\nusers = [\"alice\"]\nnnp = false\n[[rule]]\nusers = [\"alice2\"]\nnnp = false\nmode = \"audit\"\n[[rule]]\ngroups = [\"restricted\"]\nnnp = true\n");
    assert_eq!(
        manager(&c, &d, b"alice").unwrap().verdict.as_str(),
        "exempt"
    );
    // no rules: nothing looked up, as for every service
    let d = uid_aliases(false);
    let c = cfg("# none\n");
    assert_eq!(
        manager(&c, &d, b"nobody").unwrap().verdict.as_str(),
        "no-match"
    );
    assert!(d.user_lookups.borrow().is_empty());
}

fn user_entry(name: &[u8], uid: u32) -> UserEntry {
    UserEntry {
        name: name.to_vec(),
        uid,
        gid: uid,
    }
}

#[test]
fn scripted_the_user_manager_asks_getpwuid_and_etc_passwd_and_an_error_is_an_error() {
    let c = cfg(GROUP_RULE);
    let restricted = || Ok(Some(group_entry("restricted", 4100, &[])));
    let d = Fake::scripted([
        Expect::UserByName(b"alice".to_vec(), Ok(Some(user_entry(b"alice", 4242)))),
        Expect::GroupByName(b"restricted".to_vec(), restricted()),
        Expect::GroupIds(b"alice".to_vec(), Ok(vec![4242])),
        // the uid's other names: its getpwuid name, then /etc/passwd
        Expect::UserByUid(4242, Ok(Some(user_entry(b"alice", 4242)))),
        Expect::LocalUsers(Ok(vec![
            user_entry(b"root", 0),
            user_entry(b"alice", 4242),
            user_entry(b"ghost", 4242),
            user_entry(b"moved", 4242),
            user_entry(b"alice2", 4242),
            user_entry(b"alice3", 4242),
        ])),
        // not known to NSS, or another uid there: nobody logs in to this uid by that name
        Expect::UserByName(b"ghost".to_vec(), Ok(None)),
        Expect::UserByName(b"moved".to_vec(), Ok(Some(user_entry(b"moved", 5000)))),
        Expect::UserByName(b"alice2".to_vec(), Ok(Some(user_entry(b"alice2", 4242)))),
        Expect::GroupIds(
            b"alice2".to_vec(),
            Err(down("group list lookup (getgrouplist)", 5)),
        ),
        Expect::UserByName(b"alice3".to_vec(), Ok(Some(user_entry(b"alice3", 4242)))),
        Expect::GroupIds(b"alice3".to_vec(), Ok(vec![4242])),
    ]);
    let e = manager(&c, &d, b"alice").unwrap_err();
    assert_eq!(
        e.to_string(),
        "account \"alice2\" (uid 4242 too; every name of a uid counts for what runs as that uid, so its decision counts): rule /etc/security/nnp.toml:1 needs a fact that cannot be established: group list lookup (getgrouplist) failed: Input/output error (errno 5)"
    );
    // an enforce beats the error
    let d = Fake::scripted([
        Expect::UserByName(b"alice".to_vec(), Ok(Some(user_entry(b"alice", 4242)))),
        Expect::GroupByName(b"restricted".to_vec(), restricted()),
        Expect::GroupIds(b"alice".to_vec(), Ok(vec![4242])),
        Expect::UserByUid(4242, Ok(Some(user_entry(b"alice", 4242)))),
        Expect::LocalUsers(Ok(vec![
            user_entry(b"alice2", 4242),
            user_entry(b"alice3", 4242),
        ])),
        Expect::UserByName(b"alice2".to_vec(), Ok(Some(user_entry(b"alice2", 4242)))),
        Expect::GroupIds(
            b"alice2".to_vec(),
            Err(down("group list lookup (getgrouplist)", 5)),
        ),
        Expect::UserByName(b"alice3".to_vec(), Ok(Some(user_entry(b"alice3", 4242)))),
        Expect::GroupIds(b"alice3".to_vec(), Ok(vec![4242, 4100])),
    ]);
    let r = manager(&c, &d, b"alice").unwrap();
    assert_eq!(r.verdict.as_str(), "enforce");
    assert_eq!(r.alias.unwrap().name, b"alice3");
    // /etc/passwd that cannot be read: an error (on_error applies), never "no other account"
    let d = Fake::scripted([
        Expect::UserByName(b"alice".to_vec(), Ok(Some(user_entry(b"alice", 4242)))),
        Expect::GroupByName(b"restricted".to_vec(), restricted()),
        Expect::GroupIds(b"alice".to_vec(), Ok(vec![4242])),
        Expect::UserByUid(4242, Ok(Some(user_entry(b"alice", 4242)))),
        Expect::LocalUsers(Err(LookupError::File {
            path: "/etc/passwd".into(),
            source: std::sync::Arc::new(std::io::Error::from_raw_os_error(13)),
        })),
    ]);
    let e = manager(&c, &d, b"alice").unwrap_err();
    assert_eq!(
        e.to_string(),
        "the other accounts of uid 4242 cannot be listed (every name of a uid counts for what runs as that uid, so their decisions count): reading /etc/passwd: Permission denied (os error 13)"
    );
    // a getpwuid name that is not in /etc/passwd (a directory's first name) counts too
    let d = Fake::scripted([
        Expect::UserByName(b"alice".to_vec(), Ok(Some(user_entry(b"alice", 4242)))),
        Expect::GroupByName(b"restricted".to_vec(), restricted()),
        Expect::GroupIds(b"alice".to_vec(), Ok(vec![4242])),
        Expect::UserByUid(4242, Ok(Some(user_entry(b"ldapalice", 4242)))),
        Expect::LocalUsers(Ok(vec![])),
        Expect::UserByName(
            b"ldapalice".to_vec(),
            Ok(Some(user_entry(b"ldapalice", 4242))),
        ),
        Expect::GroupIds(b"ldapalice".to_vec(), Ok(vec![4242, 4100])),
    ]);
    assert!(manager(&c, &d, b"alice").unwrap().sets_nnp());
}
