//! The one answer to "is the exec guard in force": loaded (link pinned), live (the attached
//! program sees an exec made now, and for LSM mode the kernel's LSM list has `bpf`),
//! current (its rules are those of the files on disk now) and complete (not degraded).
//! `guard status`, `doctor`, `audit` and `explain` all ask [`GuardState::read`].

use crate::{Action, AttachMode, GuardAction, Meta};

/// The guard's state, read from the kernel and the metadata.
#[derive(Debug, Clone, Default)]
pub struct GuardState {
    /// A link is pinned.
    pub loaded: bool,
    /// The attached mode, as the kernel reports the link.
    pub mode: Option<AttachMode>,
    /// What a caught exec gets, as the kernel holds it (degrade, refuse, kill).
    pub action: Option<Action>,
    /// `guard_action` in the loaded config.
    pub requested: Option<GuardAction>,
    /// The kernel has the `bprm_no_new_privs` hook (degrade is possible).
    pub hook: bool,
    /// The attached program ran for an exec made now.
    pub live: bool,
    /// Why it is not live (when loaded).
    pub not_live: Option<String>,
    /// The metadata.
    pub meta: Option<Meta>,
    /// How the loaded policy differs from the files on disk.
    pub stale: Vec<String>,
    /// Names not resolved: the tables are wider than the rules.
    pub unresolved: Vec<String>,
    /// Counters: execs, raising, refused, audited.
    pub counters: [u64; 4],
    /// Execs run without the raise they would have had (`guard_action = "degrade"`); `None`
    /// when not loaded or the loaded program predates that counter.
    pub degraded_execs: Option<u64>,
    /// What could not be read.
    pub cannot_tell: Vec<String>,
}

/// The summary of a [`GuardState`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// Loaded, live, current, complete.
    InForce,
    /// Not loaded.
    NotLoaded,
    /// Loaded but not in force, for these reasons.
    NotInForce(Vec<String>),
    /// Could not tell, for these reasons.
    CannotTell(Vec<String>),
}

impl GuardState {
    /// Read the state now (runs one exec to prove liveness when loaded).
    pub fn read() -> GuardState {
        let mut s = GuardState {
            hook: crate::degrade_hook(),
            ..GuardState::default()
        };
        match crate::loaded() {
            Ok(l) => s.loaded = l,
            Err(e) => {
                // not "not loaded": we cannot see (not root, bpffs not readable)
                s.loaded = true;
                s.cannot_tell.push(e.to_string());
                return s;
            }
        }
        if !s.loaded {
            return s;
        }
        match crate::attached_mode() {
            Ok(m) => {
                s.mode = Some(m);
                match crate::attached_action(m) {
                    Ok(a) => s.action = Some(a),
                    Err(e) => s.cannot_tell.push(e.to_string()),
                }
            }
            Err(e) => s.cannot_tell.push(e.to_string()),
        }
        match crate::counters() {
            Ok(c) => s.counters = c,
            Err(e) => s.cannot_tell.push(e.to_string()),
        }
        match crate::degraded_execs() {
            Ok(d) => s.degraded_execs = d,
            Err(e) => s.cannot_tell.push(e.to_string()),
        }
        if s.mode == Some(AttachMode::Lsm) && crate::bpf_lsm_active() == Some(false) {
            s.not_live = Some(format!(
                "the LSM program is attached but bpf is not in the kernel's active LSM list ({}): it never runs; {}",
                crate::lsm_list().unwrap_or_default(),
                crate::lsm_hint()
            ));
        } else {
            match crate::pinned_live() {
                Ok(true) => s.live = true,
                Ok(false) => {
                    s.not_live = Some(
                        "the attached program did not see an exec made now: it does not run"
                            .to_string(),
                    )
                }
                Err(e) => s.cannot_tell.push(e.to_string()),
            }
        }
        s.meta = Meta::read();
        match &s.meta {
            Some(m) => {
                s.requested = Some(m.requested);
                s.stale = m.stale();
                s.unresolved = m.unresolved.clone();
                if s.stale.is_empty() {
                    // current only if the kernel holds what a load now would put there
                    match crate::drift(m) {
                        Ok(d) => s.stale.extend(d),
                        Err(e) => s.cannot_tell.push(e.to_string()),
                    }
                }
            }
            None => s.cannot_tell.push(format!(
                "the guard is pinned but {}/guard.meta is missing: cannot tell which config it holds",
                crate::RUN_DIR
            )),
        }
        s
    }

    /// The summary: in force only when loaded, live, current and complete.
    pub fn protection(&self) -> Protection {
        if !self.loaded {
            return Protection::NotLoaded;
        }
        let mut why = Vec::new();
        if let Some(n) = &self.not_live {
            why.push(format!("not live: {n}"));
        }
        for s in &self.stale {
            why.push(format!(
                "stale: {s} since the guard was loaded: run nnpctl guard reload"
            ));
        }
        for u in &self.unresolved {
            why.push(format!("degraded: {u}"));
        }
        if !why.is_empty() {
            return Protection::NotInForce(why);
        }
        if !self.cannot_tell.is_empty() || !self.live {
            return Protection::CannotTell(self.cannot_tell.clone());
        }
        Protection::InForce
    }

    /// Why the action in force is not the one the config asks for (`guard_action =
    /// "degrade"` on a kernel without the hook, a guard loaded without its degrade program,
    /// or kill mode); `None` when it is.
    pub fn action_fallback(&self) -> Option<String> {
        fallback(self.requested?, self.action?, self.hook)
    }

    /// The action a guard has or would have for `requested`: the loaded guard's, else what
    /// `nnpctl guard load` (mode auto) would attach on this kernel: kill where bpf is not an
    /// active LSM, degrade where `requested` is degrade and the kernel has the hook, refuse
    /// otherwise.
    pub fn action_or_would_load(&self, requested: GuardAction) -> Action {
        if let Some(a) = self.action {
            return a;
        }
        would_load(requested, self.hook, crate::bpf_lsm_active())
    }

    /// Is the guard in force?
    pub fn in_force(&self) -> bool {
        self.protection() == Protection::InForce
    }
}

/// What a load in mode auto attaches: see [`GuardState::action_or_would_load`].
fn would_load(requested: GuardAction, hook: bool, bpf_lsm: Option<bool>) -> Action {
    if bpf_lsm == Some(false) {
        Action::Kill
    } else if requested == GuardAction::Degrade && hook {
        Action::Degrade
    } else {
        Action::Refuse
    }
}

/// Why `requested` is not `action`: a kernel without the hook, or (`hook`) a kernel with
/// it whose loaded guard has no degrade program (an older nnpctl loaded it, or the program
/// did not attach), where the kernel is not to blame.
fn fallback(requested: GuardAction, action: Action, hook: bool) -> Option<String> {
    match (requested, action) {
        (GuardAction::Degrade, Action::Refuse) if hook => Some(
            "guard_action = \"degrade\" falls back to refuse: this kernel has the bprm_no_new_privs hook but the loaded guard has no degrade program (loaded by an nnpctl without it, or it did not attach): nnpctl guard load --replace attaches it".to_string(),
        ),
        _ => crate::action_fallback(requested, action),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_blames_the_kernel_only_without_the_hook() {
        let no_hook = fallback(GuardAction::Degrade, Action::Refuse, false).unwrap_or_default();
        assert!(
            no_hook.contains("this kernel lacks the bprm_no_new_privs hook"),
            "{no_hook}"
        );
        let hook = fallback(GuardAction::Degrade, Action::Refuse, true).unwrap_or_default();
        assert!(!hook.contains("lacks"), "{hook}");
        assert!(hook.contains("has the bprm_no_new_privs hook"), "{hook}");
        assert!(hook.contains("no degrade program"), "{hook}");
        assert!(hook.contains("nnpctl guard load --replace"), "{hook}");
        // kill mode: the mode, not the kernel, with or without the hook
        for h in [false, true] {
            let kill = fallback(GuardAction::Degrade, Action::Kill, h).unwrap_or_default();
            assert!(kill.contains("falls back to kill"), "{kill}");
        }
        // nothing to explain when the action is the one asked for
        assert_eq!(fallback(GuardAction::Degrade, Action::Degrade, true), None);
        assert_eq!(fallback(GuardAction::Refuse, Action::Refuse, true), None);
        assert_eq!(fallback(GuardAction::Refuse, Action::Refuse, false), None);
    }

    #[test]
    fn state_uses_its_hook_for_the_fallback() {
        let mut s = GuardState {
            loaded: true,
            action: Some(Action::Refuse),
            requested: Some(GuardAction::Degrade),
            hook: true,
            ..GuardState::default()
        };
        let msg = s.action_fallback().unwrap_or_default();
        assert!(msg.contains("no degrade program"), "{msg}");
        s.hook = false;
        let msg = s.action_fallback().unwrap_or_default();
        assert!(msg.contains("lacks the bprm_no_new_privs hook"), "{msg}");
    }

    #[test]
    fn would_load_follows_the_kernel() {
        use GuardAction as G;
        assert_eq!(would_load(G::Degrade, true, Some(true)), Action::Degrade);
        assert_eq!(would_load(G::Degrade, true, None), Action::Degrade);
        assert_eq!(would_load(G::Degrade, false, Some(true)), Action::Refuse);
        assert_eq!(would_load(G::Refuse, true, Some(true)), Action::Refuse);
        assert_eq!(would_load(G::Degrade, true, Some(false)), Action::Kill);
        assert_eq!(would_load(G::Refuse, false, Some(false)), Action::Kill);
        // a loaded guard's action wins
        let s = GuardState {
            loaded: true,
            action: Some(Action::Refuse),
            hook: true,
            ..GuardState::default()
        };
        assert_eq!(s.action_or_would_load(G::Degrade), Action::Refuse);
    }
}
