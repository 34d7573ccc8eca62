//! The resolver: looks the facts a decision needs up through a [`Directory`] on demand and
//! caches them — group names across users (audit asks for many uids), and one user's facts
//! ([`UserFacts`]) for the rest of one decision.

use std::collections::{HashMap, HashSet};

use crate::{Config, Directory, GroupEntry, LookupError, UserEntry};

/// After this many single group-name lookups in one resolver, the remaining names of the
/// config are read from `/etc/group` in one pass when NSS reads `files` first (a 1,000-rule
/// config over a 20,000-line /etc/group costs one read, not 1,000 `getgrnam_r` scans).
const SCAN_AFTER: usize = 4;

pub(crate) type GroupFact = Result<Option<GroupEntry>, LookupError>;

/// The facts about one user, looked up on demand and kept for the rest of the decision.
pub(crate) struct UserFacts {
    /// The account; for kernel credentials without a passwd entry, an empty name with the
    /// process's uid and gid.
    pub(crate) entry: UserEntry,
    /// The name given at login, when it differs from the canonical one.
    pub(crate) given: Option<Vec<u8>>,
    /// Every gid of the user, once asked.
    pub(crate) gids: Option<Result<Vec<u32>, LookupError>>,
    /// Decided from kernel credentials: no account name, the gids are the kernel's.
    pub(crate) kernel: bool,
}

impl UserFacts {
    /// The account, unless decided from kernel credentials alone.
    pub(crate) fn account(&self) -> Option<UserEntry> {
        (!self.kernel).then(|| self.entry.clone())
    }
}

/// Looks facts up on demand and caches them: group names across users (audit asks for many
/// uids), the user's facts within one decision.
pub struct Resolver<'d> {
    dir: &'d dyn Directory,
    groups: HashMap<String, GroupFact>,
    single_lookups: usize,
    /// The local group file was read for the config's names (once per resolver).
    scanned: bool,
    users: HashMap<Vec<u8>, Result<Option<UserEntry>, LookupError>>,
}

impl<'d> Resolver<'d> {
    /// A resolver with empty caches.
    pub fn new(dir: &'d dyn Directory) -> Self {
        Resolver {
            dir,
            groups: HashMap::new(),
            single_lookups: 0,
            scanned: false,
            users: HashMap::new(),
        }
    }

    /// A group by name, cached; after a few single lookups the config's remaining group
    /// names are read from the local group file in one pass when NSS reads it first
    /// ([`Directory::local_groups`]); names not found there are asked with `getgrnam_r`.
    /// Never an enumeration of the group database.
    pub(crate) fn group(&mut self, config: &Config, name: &str) -> GroupFact {
        if let Some(f) = self.groups.get(name) {
            return f.clone();
        }
        if self.single_lookups >= SCAN_AFTER && !self.scanned {
            self.scanned = true;
            let wanted: HashSet<&str> = config
                .rules
                .iter()
                .filter_map(|r| r.groups.as_ref())
                .flatten()
                .filter(|g| !self.groups.contains_key(g.as_str()))
                .map(String::as_str)
                .collect();
            if let Some(local) = self.dir.local_groups(&wanted) {
                for (n, e) in local.found {
                    if !local.unsure.contains(&n) {
                        self.groups.entry(n).or_insert(Ok(Some(e)));
                    }
                }
            }
            if let Some(f) = self.groups.get(name) {
                return f.clone();
            }
        }
        self.single_lookups += 1;
        let f = self.dir.group_by_name(name.as_bytes());
        self.groups.insert(name.to_string(), f.clone());
        f
    }

    /// The directory behind this resolver.
    pub(crate) fn directory(&self) -> &'d dyn Directory {
        self.dir
    }

    /// The account of exactly these name bytes (cached).
    pub(crate) fn user_named(&mut self, name: &[u8]) -> Result<Option<UserEntry>, LookupError> {
        self.users
            .entry(name.to_vec())
            .or_insert_with(|| self.dir.user_by_name(name))
            .clone()
    }

    /// Does a rule's user name resolve to this uid? (for exemptions; cached)
    pub(crate) fn name_is_uid(&mut self, name: &str, uid: u32) -> Result<bool, LookupError> {
        Ok(self
            .user_named(name.as_bytes())?
            .is_some_and(|e| e.uid == uid))
    }

    /// The uid a restricting rule's user name means: the account of that name, else (a name
    /// written in another case than a case-sensitive source holds) of its lowercase form, as
    /// the module matches names case-insensitively and the guard resolves them.
    pub(crate) fn restricting_name_uid(&mut self, name: &str) -> Result<Option<u32>, LookupError> {
        if let Some(e) = self.user_named(name.as_bytes())? {
            return Ok(Some(e.uid));
        }
        let lower = name.to_lowercase();
        if lower != name {
            return Ok(self.user_named(lower.as_bytes())?.map(|e| e.uid));
        }
        Ok(None)
    }
}
