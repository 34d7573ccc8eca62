//! Test support: the one fake [`Directory`] of the config tests, and [`cfg`].
//!
//! [`Fake`] works in two modes:
//! - **a table** of users and groups (built with [`Fake::user`], [`Fake::group`],
//!   [`Fake::supp`]) answering as a `files` source would — or SSSD with
//!   `case_sensitive = false` — with switches for sources that are down, and call counters;
//! - **scripted**, like kanidm's `TestHandler`: [`Fake::scripted`] takes the calls the code
//!   under test must make, in order, with their answers; a call out of order panics, and
//!   dropping the fake asserts that every expected call was made.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;

use crate::*;

/// The configuration text as if it were `/etc/security/nnp.toml`.
pub(crate) fn cfg(text: &str) -> Config {
    parse_text(Path::new("/etc/security/nnp.toml"), text).unwrap()
}

/// `n` rules, rule k restricting the group `gk` (see [`Fake::numbered_groups`]).
pub(crate) fn numbered_group_rules(n: u32) -> String {
    (0..n)
        .map(|k| format!("[[rule]]\ngroups = [\"g{k}\"]\nnnp = true\n"))
        .collect()
}

/// A source that is down: the error NSS gives for `what` with `errno`.
pub(crate) fn down(what: &str, errno: i32) -> LookupError {
    LookupError::Source(nnp_sys::SysError {
        what: what.into(),
        errno,
    })
}

/// One call a scripted [`Fake`] expects, with its answer.
#[derive(Debug)]
pub(crate) enum Expect {
    /// [`Directory::user_by_name`] of these bytes.
    UserByName(Vec<u8>, Result<Option<UserEntry>, LookupError>),
    /// [`Directory::user_by_uid`].
    UserByUid(u32, Result<Option<UserEntry>, LookupError>),
    /// [`Directory::group_by_name`] of these bytes.
    GroupByName(Vec<u8>, Result<Option<GroupEntry>, LookupError>),
    /// [`Directory::group_ids`] of this user.
    GroupIds(Vec<u8>, Result<Vec<u32>, LookupError>),
    /// [`Directory::local_groups`] (any wanted names).
    LocalGroups(Option<FileGroups>),
    /// [`Directory::local_users`].
    LocalUsers(Result<Vec<UserEntry>, LookupError>),
    /// [`Directory::accounts`].
    Accounts(Vec<UserEntry>),
}

/// The fake directory (see the module's doc).
#[derive(Default)]
pub(crate) struct Fake {
    /// passwd in order (getpwuid returns the first account of a uid)
    pub(crate) users: Vec<UserEntry>,
    /// groups in /etc/group order (the first name wins, like getgrnam_r)
    pub(crate) groups: Vec<GroupEntry>,
    /// supplementary gids by user name, beyond the groups listing the user (getgrouplist
    /// adds the primary one and every group whose entry lists the user)
    pub(crate) supp: HashMap<Vec<u8>, Vec<u32>>,
    /// names compared ignoring ASCII case, user names returned lowercase (SSSD)
    pub(crate) case_insensitive: bool,
    /// every group lookup fails
    pub(crate) group_db_down: bool,
    /// getgrouplist fails
    pub(crate) group_list_fails: bool,
    /// user name lookups fail (a passwd source down)
    pub(crate) user_db_down: bool,
    /// user and group names NSS answers "not found" for although they exist (a directory
    /// not up, a cold cache); the local passwd file does not hold them either
    pub(crate) cold: Vec<Vec<u8>>,
    /// NSS reads the local group file first: `local_groups` answers from `groups`
    pub(crate) files_first: bool,
    /// names on a line of the local group file the parser is unsure about
    pub(crate) unsure: Vec<String>,
    /// group name lookups made
    pub(crate) group_lookups: Cell<usize>,
    /// getgrouplist calls made
    pub(crate) group_list_calls: Cell<usize>,
    /// local group file reads
    pub(crate) local_reads: Cell<usize>,
    /// user names looked up, in order
    pub(crate) user_lookups: RefCell<Vec<Vec<u8>>>,
    /// scripted mode: the calls still expected, in order
    script: Option<RefCell<VecDeque<Expect>>>,
}

impl Fake {
    /// A scripted fake: exactly these calls, in this order.
    pub(crate) fn scripted(calls: impl IntoIterator<Item = Expect>) -> Fake {
        let mut fake = Fake::default();
        fake.script = Some(RefCell::new(calls.into_iter().collect()));
        fake
    }
    pub(crate) fn user(mut self, name: &[u8], uid: u32, gid: u32) -> Self {
        self.users.push(UserEntry {
            name: name.to_vec(),
            uid,
            gid,
        });
        self
    }
    pub(crate) fn group(mut self, name: &str, gid: u32, members: &[&[u8]]) -> Self {
        self.groups.push(GroupEntry {
            name: name.as_bytes().to_vec(),
            gid,
            members: members.iter().map(|m| m.to_vec()).collect(),
        });
        self
    }
    /// The groups `g0`..`g{n-1}`, gid 100000 + k, no members.
    pub(crate) fn numbered_groups(mut self, n: u32) -> Self {
        for k in 0..n {
            self = self.group(&format!("g{k}"), 100_000 + k, &[]);
        }
        self
    }
    pub(crate) fn supp(mut self, user: &[u8], gids: &[u32]) -> Self {
        self.supp.insert(user.to_vec(), gids.to_vec());
        self
    }
    /// The kernel's view of an account's session: uid, primary gid, supplementary gids.
    pub(crate) fn creds(&self, u: &UserEntry) -> (u32, u32, Vec<u32>) {
        let groups = self
            .groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == &u.name))
            .map(|g| g.gid)
            .collect();
        (u.uid, u.gid, groups)
    }
    fn eq(&self, a: &[u8], b: &[u8]) -> bool {
        if self.case_insensitive {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    }
    /// The accounts a passwd file or an enumeration lists (not the cold ones).
    fn listed_users(&self) -> Vec<UserEntry> {
        self.users
            .iter()
            .filter(|u| !self.is_cold(&u.name))
            .cloned()
            .collect()
    }
    fn is_cold(&self, name: &[u8]) -> bool {
        self.cold.iter().any(|c| c == name)
    }
    /// In scripted mode, the answer of the next expected call (`take` recognises it);
    /// `None` in table mode.
    fn scripted_answer<T>(
        &self,
        call: impl Fn() -> String,
        take: impl FnOnce(Expect) -> Result<T, Expect>,
    ) -> Option<T> {
        let script = self.script.as_ref()?;
        let next = script.borrow_mut().pop_front();
        match next.map(take) {
            Some(Ok(answer)) => Some(answer),
            Some(Err(expected)) => panic!("{} called, but the script expects {expected:?}", call()),
            None => panic!("{} called, but the script is used up", call()),
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let Some(script) = &self.script else { return };
        let left = script.borrow();
        if !left.is_empty() && !std::thread::panicking() {
            panic!("expected calls never made: {left:?}");
        }
    }
}

impl Directory for Fake {
    fn user_by_name(&self, name: &[u8]) -> Result<Option<UserEntry>, LookupError> {
        self.user_lookups.borrow_mut().push(name.to_vec());
        let call = || format!("user_by_name(\"{}\")", escape_value(name));
        if let Some(a) = self.scripted_answer(call, |e| match e {
            Expect::UserByName(n, a) if n == name => Ok(a),
            e => Err(e),
        }) {
            return a;
        }
        if self.user_db_down {
            return Err(down("user lookup (getpwnam_r)", 0));
        }
        if self.is_cold(name) {
            return Ok(None);
        }
        let found = self.users.iter().find(|u| self.eq(&u.name, name)).cloned();
        Ok(found.map(|mut u| {
            if self.case_insensitive {
                u.name = u.name.to_ascii_lowercase(); // SSSD case_sensitive = false
            }
            u
        }))
    }
    fn user_by_uid(&self, uid: u32) -> Result<Option<UserEntry>, LookupError> {
        if let Some(a) = self.scripted_answer(
            || format!("user_by_uid({uid})"),
            |e| match e {
                Expect::UserByUid(u, a) if u == uid => Ok(a),
                e => Err(e),
            },
        ) {
            return a;
        }
        Ok(self.users.iter().find(|u| u.uid == uid).cloned())
    }
    fn group_by_name(&self, name: &[u8]) -> Result<Option<GroupEntry>, LookupError> {
        self.group_lookups.set(self.group_lookups.get() + 1);
        let call = || format!("group_by_name(\"{}\")", escape_value(name));
        if let Some(a) = self.scripted_answer(call, |e| match e {
            Expect::GroupByName(n, a) if n == name => Ok(a),
            e => Err(e),
        }) {
            return a;
        }
        if self.group_db_down {
            return Err(down(
                &format!("group lookup for \"{}\" (getgrnam_r)", escape_value(name)),
                5,
            ));
        }
        if self.is_cold(name) {
            return Ok(None);
        }
        Ok(self.groups.iter().find(|g| self.eq(&g.name, name)).cloned())
    }
    fn group_ids(&self, user: &[u8], primary: u32) -> Result<Vec<u32>, LookupError> {
        self.group_list_calls.set(self.group_list_calls.get() + 1);
        let call = || format!("group_ids(\"{}\", {primary})", escape_value(user));
        if let Some(a) = self.scripted_answer(call, |e| match e {
            Expect::GroupIds(n, a) if n == user => Ok(a),
            e => Err(e),
        }) {
            return a;
        }
        if self.group_list_fails {
            return Err(down("group list lookup (getgrouplist)", 0));
        }
        let mut v = vec![primary];
        v.extend(
            self.groups
                .iter()
                .filter(|g| g.members.iter().any(|m| m == user))
                .map(|g| g.gid),
        );
        v.extend(self.supp.get(user).cloned().unwrap_or_default());
        Ok(v)
    }
    fn local_groups(&self, want: &HashSet<&str>) -> Option<FileGroups> {
        self.local_reads.set(self.local_reads.get() + 1);
        let call = || format!("local_groups({} names)", want.len());
        if let Some(a) = self.scripted_answer(call, |e| match e {
            Expect::LocalGroups(a) => Ok(a),
            e => Err(e),
        }) {
            return a;
        }
        if !self.files_first {
            return None;
        }
        let mut out = FileGroups::default();
        for g in &self.groups {
            let Ok(n) = std::str::from_utf8(&g.name) else {
                continue;
            };
            if !want.contains(n) {
                continue;
            }
            if self.unsure.iter().any(|u| u == n) {
                out.unsure.insert(n.to_string());
            } else {
                out.found.entry(n.to_string()).or_insert_with(|| g.clone());
            }
        }
        Some(out)
    }
    fn local_users(&self) -> Result<Vec<UserEntry>, LookupError> {
        if let Some(a) = self.scripted_answer(
            || "local_users()".to_string(),
            |e| match e {
                Expect::LocalUsers(a) => Ok(a),
                e => Err(e),
            },
        ) {
            return a;
        }
        Ok(self.listed_users())
    }
    fn accounts(&self) -> Vec<UserEntry> {
        if let Some(a) = self.scripted_answer(
            || "accounts()".to_string(),
            |e| match e {
                Expect::Accounts(a) => Ok(a),
                e => Err(e),
            },
        ) {
            return a;
        }
        self.listed_users()
    }
}

#[test]
fn a_script_answers_its_calls_in_order() {
    let d = Fake::scripted([
        Expect::UserByName(b"alice".to_vec(), Ok(None)),
        Expect::GroupByName(b"staff".to_vec(), Err(down("group source", 5))),
    ]);
    assert_eq!(d.user_by_name(b"alice").unwrap(), None);
    assert!(d.group_by_name(b"staff").is_err());
}

#[test]
#[should_panic(expected = "expected calls never made")]
fn a_script_with_a_call_left_fails_on_drop() {
    let d = Fake::scripted([
        Expect::UserByUid(7, Ok(None)),
        Expect::UserByUid(8, Ok(None)),
    ]);
    assert_eq!(d.user_by_uid(7).unwrap(), None);
}

#[test]
#[should_panic(expected = "group_by_name(\"other\") called, but the script expects")]
fn a_script_refuses_a_call_out_of_order() {
    let d = Fake::scripted([Expect::GroupByName(b"staff".to_vec(), Ok(None))]);
    let _ = d.group_by_name(b"other");
}

#[test]
#[should_panic(expected = "called, but the script is used up")]
fn a_script_refuses_a_call_beyond_its_end() {
    let d = Fake::scripted([]);
    let _ = d.local_users();
}
