//! Unit tests: every rule of SPEC and every error message, on real files.
#![allow(clippy::unwrap_used, clippy::panic)]

mod decide;
mod guard;
mod lint;
mod support;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use super::*;

/// Our effective uid (the owner of /proc/self), which stands in for root in these tests.
fn me() -> u32 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").unwrap().uid()
}

struct Fx {
    dir: tempfile::TempDir,
}

impl Fx {
    fn new() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        Fx { dir }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn main(&self) -> PathBuf {
        self.path("nnp.toml")
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        p
    }
    fn load(&self) -> Result<Config, LoadError> {
        load_as(&self.main(), me())
    }
    /// Error messages with the temp dir replaced by `D`.
    fn errors(&self) -> Vec<String> {
        let root = self.dir.path().display().to_string();
        match self.load() {
            Ok(c) => panic!("expected errors, loaded {} rules", c.rules.len()),
            Err(e) => e
                .diagnostics
                .iter()
                .map(|d| d.to_string().replace(&root, "D"))
                .collect(),
        }
    }
    fn error(&self, text: &str) -> String {
        self.write("nnp.toml", text);
        let e = self.errors();
        assert_eq!(e.len(), 1, "{e:?}");
        e[0].clone()
    }
}

fn groups(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

const SPEC_EXAMPLE: &str = r#"# /etc/security/nnp.toml
mode = "enforce"
shell = "/bin/bash"
notice = "This session runs with no_new_privs."

[[rule]]
groups = ["restricted", "jump"]
services = ["sshd", "login"]
nnp = true

[[rule]]
users = ["alice"]
uids = ["2000-2999", 3005]
nnp = false
mode = "audit"
shell = "/bin/zsh"
"#;

#[test]
fn spec_example_loads() {
    let fx = Fx::new();
    fx.write("nnp.toml", SPEC_EXAMPLE);
    let c = fx.load().unwrap();
    assert_eq!(c.mode, Mode::Enforce);
    assert_eq!(c.shell.as_deref(), Some("/bin/bash"));
    assert_eq!(
        c.notice.as_deref(),
        Some("This session runs with no_new_privs.")
    );
    assert_eq!(c.rules.len(), 2);
    let r = &c.rules[0];
    assert_eq!(r.at.line, 6);
    assert_eq!(r.at.index, 1);
    assert_eq!(r.groups, Some(groups(&["restricted", "jump"])));
    assert_eq!(r.services, Some(groups(&["sshd", "login"])));
    assert!(r.nnp);
    let r = &c.rules[1];
    assert_eq!(r.at.line, 11);
    assert_eq!(r.at.index, 2);
    assert_eq!(r.users, Some(Users::Names(groups(&["alice"]))));
    assert_eq!(r.uids, Some(vec![(2000, 2999), (3005, 3005)]));
    assert_eq!(r.mode, Some(Mode::Audit));
    assert_eq!(r.shell.as_deref(), Some("/bin/zsh"));
    assert_eq!(r.at.to_string(), format!("{}:11", fx.main().display()));
}

#[test]
fn defaults_when_top_level_keys_are_absent() {
    let fx = Fx::new();
    fx.write("nnp.toml", "[[rule]]\nusers = [\"a\"]\nnnp = true\n");
    let c = fx.load().unwrap();
    assert_eq!(c.mode, Mode::Enforce);
    assert_eq!(c.shell, None);
    assert_eq!(c.notice, None);
}

#[test]
fn missing_main_file_and_no_dropins_is_no_rules() {
    let fx = Fx::new();
    let c = fx.load().unwrap();
    assert!(c.rules.is_empty());
    assert!(c.files.is_empty());
}

#[test]
fn missing_main_file_with_dropins_loads_the_dropins() {
    let fx = Fx::new();
    fx.write("nnp.d/10-a.toml", "[[rule]]\nusers = [\"a\"]\nnnp = true\n");
    let c = fx.load().unwrap();
    assert_eq!(c.rules.len(), 1);
    assert_eq!(c.files, vec![fx.path("nnp.d/10-a.toml")]);
}

#[test]
fn dropins_in_byte_order_after_main_with_continuing_index() {
    let fx = Fx::new();
    fx.write("nnp.toml", "[[rule]]\nusers = [\"m\"]\nnnp = true\n");
    fx.write(
        "nnp.d/b.toml",
        "\n\n[[rule]]\nusers = [\"b\"]\nnnp = true\n",
    );
    fx.write("nnp.d/B.toml", "[[rule]]\nusers = [\"B\"]\nnnp = true\n");
    fx.write("nnp.d/a.toml", "[[rule]]\nusers = [\"a\"]\nnnp = true\n");
    // ignored: not *.toml, dot-files
    fx.write("nnp.d/c.toml.bak", "garbage");
    fx.write("nnp.d/.hidden.toml", "garbage");
    fx.write("nnp.d/README", "garbage");
    let c = fx.load().unwrap();
    let order: Vec<_> = c
        .rules
        .iter()
        .map(|r| match &r.users {
            Some(Users::Names(n)) => n[0].clone(),
            _ => String::new(),
        })
        .collect();
    assert_eq!(order, ["m", "B", "a", "b"]);
    let idx: Vec<_> = c.rules.iter().map(|r| r.at.index).collect();
    assert_eq!(idx, [1, 2, 3, 4]);
    assert_eq!(c.rules[3].at.line, 3);
    assert_eq!(&*c.rules[3].at.file, fx.path("nnp.d/b.toml").as_path());
    // what is not read is known, so check can name it (hidden names are not)
    assert_eq!(
        c.skipped,
        vec![fx.path("nnp.d/README"), fx.path("nnp.d/c.toml.bak")]
    );
    let f = c.lint(&support::Fake::default(), Path::new("/nonexistent/pam.d"));
    assert!(
        f.warnings.contains(&format!(
            "{}: not read (only *.toml files in the drop-in directory are)",
            fx.path("nnp.d/c.toml.bak").display()
        )),
        "{:?}",
        f.warnings
    );
}

#[test]
fn dropin_dir_is_name_dot_d() {
    assert_eq!(
        dropin_dir(Path::new("/etc/security/nnp.toml")),
        PathBuf::from("/etc/security/nnp.d")
    );
    assert_eq!(
        dropin_dir(Path::new("/x/other.toml")),
        PathBuf::from("/x/other.d")
    );
}

fn config(text: &str) -> Config {
    let fx = Fx::new();
    fx.write("nnp.toml", text);
    fx.load().unwrap()
}

#[test]
fn byte_order_mark_is_accepted() {
    let c = config("\u{feff}[[rule]]\nusers = [\"a\"]\nnnp = true\n");
    assert_eq!(c.rules.len(), 1);
}

// ---- every error message, with its file:line:col ----

#[test]
fn unknown_rule_key_lists_the_expected_ones() {
    let fx = Fx::new();
    assert_eq!(
        fx.error("[[rule]]\nusers = [\"a\"]\n      grups = [\"jump\"]\nnnp = true\n"),
        "D/nnp.toml:3:7: unknown key \"grups\" (expected one of users, groups, uids, services, nnp, mode, shell)"
    );
}

#[test]
fn unknown_top_level_key() {
    let fx = Fx::new();
    assert_eq!(
        fx.error("mdoe = \"audit\"\n"),
        "D/nnp.toml:1:1: unknown key \"mdoe\" (expected one of mode, shell, notice, guard_allow, guard_action, rule)"
    );
}

#[test]
fn wrong_types() {
    let fx = Fx::new();
    let r = |body: &str| fx.error(&format!("[[rule]]\n{body}\n"));
    assert_eq!(
        r("users = \"alice\"\nnnp = true"),
        "D/nnp.toml:2:9: \"users\" must be an array of strings, found a string"
    );
    assert_eq!(
        r("groups = [\"a\", 5]\nnnp = true"),
        "D/nnp.toml:2:16: \"groups\" must be an array of strings, found an integer in it"
    );
    assert_eq!(
        r("users = [\"a\"]\nnnp = \"yes\""),
        "D/nnp.toml:3:7: \"nnp\" must be true or false, found a string"
    );
    assert_eq!(
        r("users = [\"a\"]\nnnp = true\nmode = 1"),
        "D/nnp.toml:4:8: \"mode\" must be a string, found an integer"
    );
    assert_eq!(
        r("uids = [true]\nnnp = true"),
        "D/nnp.toml:2:9: \"uids\" entries must be integers or \"A-B\" strings, found a boolean"
    );
    assert_eq!(
        r("uids = 5\nnnp = true"),
        "D/nnp.toml:2:8: \"uids\" must be an array of uids and \"A-B\" ranges, found an integer"
    );
    assert_eq!(
        fx.error("notice = 3\n"),
        "D/nnp.toml:1:10: \"notice\" must be a string, found an integer"
    );
    assert_eq!(
        fx.error("shell = [\"/bin/sh\"]\n"),
        "D/nnp.toml:1:9: \"shell\" must be a string, found an array"
    );
    assert_eq!(
        fx.error("rule = 1\n"),
        "D/nnp.toml:1:8: \"rule\" must be an array of tables ([[rule]]), found an integer"
    );
    assert_eq!(
        fx.error("rule = [1]\n"),
        "D/nnp.toml:1:9: each rule must be a table ([[rule]]), found an integer"
    );
    assert_eq!(
        fx.error("[[rule]]\nusers = [\"a\"]\nnnp = true\nshell = 5\n"),
        "D/nnp.toml:4:9: \"shell\" must be a string, found an integer"
    );
    assert_eq!(
        fx.error("mode = true\n"),
        "D/nnp.toml:1:8: \"mode\" must be a string, found a boolean"
    );
    assert_eq!(
        fx.error("[rule]\nusers = [\"a\"]\nnnp = true\n"),
        "D/nnp.toml:1:2: \"rule\" must be an array of tables: write [[rule]], not [rule]"
    );
}

#[test]
fn empty_selectors() {
    let fx = Fx::new();
    for key in ["users", "groups", "uids", "services"] {
        let text = format!("[[rule]]\nusers = [\"x\"]\nnnp = true\n{key} = []\n");
        let text = if key == "users" {
            "[[rule]]\ngroups = [\"g\"]\nnnp = true\nusers = []\n".to_string()
        } else {
            text
        };
        let want = if key == "users" {
            "D/nnp.toml:4:9: \"users\" is empty: list at least one value, or remove the key"
                .to_string()
        } else {
            format!(
                "D/nnp.toml:4:{}: \"{key}\" is empty: list at least one value, or remove the key",
                key.len() + 4
            )
        };
        let got = fx.error(&text);
        // an empty users list also leaves the rule without that selector; groups remains
        assert_eq!(got, want);
    }
    assert_eq!(
        fx.error("[[rule]]\nusers = [\"\"]\nnnp = true\n"),
        "D/nnp.toml:2:10: empty string in \"users\""
    );
}

#[test]
fn uid_range_errors() {
    let fx = Fx::new();
    let r = |v: &str| fx.error(&format!("[[rule]]\nnnp = true\nuids = [{v}]\n"));
    assert_eq!(
        r("\"2999-2000\""),
        "D/nnp.toml:3:9: uid range \"2999-2000\" is reversed: 2999 is greater than 2000 (write \"2000-2999\")"
    );
    let malformed = |s: &str| {
        format!("D/nnp.toml:3:9: malformed uid range \"{s}\" (expected \"A-B\" with 0 <= A <= B <= 4294967294, e.g. \"2000-2999\", or a single uid)")
    };
    assert_eq!(r("\"2000-\""), malformed("2000-"));
    assert_eq!(r("\"abc\""), malformed("abc"));
    assert_eq!(r("\"1-2-3\""), malformed("1-2-3"));
    assert_eq!(r("\"-5\""), malformed("-5"));
    assert_eq!(r("\"0-4294967295\""), malformed("0-4294967295"));
    assert_eq!(
        r("-1"),
        "D/nnp.toml:3:9: uid -1 is out of range (0-4294967294)"
    );
    assert_eq!(
        r("4294967295"),
        "D/nnp.toml:3:9: uid 4294967295 is out of range (0-4294967294)"
    );
}

#[test]
fn rule_without_selector_or_nnp() {
    let fx = Fx::new();
    assert_eq!(
        fx.error("\n[[rule]]\nservices = [\"sshd\"]\nnnp = true\n"),
        "D/nnp.toml:2:1: rule has no selector: name at least one of users, groups, uids (\"services\" only narrows a rule)"
    );
    assert_eq!(
        fx.error("[[rule]]\nusers = [\"a\"]\n"),
        "D/nnp.toml:1:1: rule has no \"nnp\" key: add nnp = true (restrict) or nnp = false (exempt)"
    );
}

#[test]
fn relative_shell_and_bad_mode() {
    let fx = Fx::new();
    assert_eq!(
        fx.error("shell = \"bash\"\n"),
        "D/nnp.toml:1:9: shell \"bash\" is not an absolute path"
    );
    assert_eq!(
        fx.error("[[rule]]\nusers = [\"a\"]\nnnp = true\nshell = \"bin/zsh\"\n"),
        "D/nnp.toml:4:9: shell \"bin/zsh\" is not an absolute path"
    );
    assert_eq!(
        fx.error("mode = \"enforcing\"\n"),
        "D/nnp.toml:1:8: unknown mode \"enforcing\" (expected \"enforce\" or \"audit\")"
    );
}

#[test]
fn duplicate_keys() {
    let fx = Fx::new();
    assert_eq!(
        fx.error("mode = \"audit\"\nmode = \"enforce\"\n"),
        "D/nnp.toml:2:1: duplicate key \"mode\""
    );
    assert_eq!(
        fx.error("[[rule]]\nusers = [\"a\"]\nnnp = true\nnnp = false\n"),
        "D/nnp.toml:4:1: duplicate key \"nnp\""
    );
    // a top-level key may be set once across the main file and its drop-ins
    fx.write("nnp.toml", "mode = \"audit\"\n");
    fx.write("nnp.d/10.toml", "\nmode = \"enforce\"\n");
    assert_eq!(
        fx.errors(),
        ["D/nnp.d/10.toml:2:1: duplicate top-level key \"mode\": already set at D/nnp.toml:1:1"]
    );
}

#[test]
fn syntax_error_and_escaped_names() {
    let fx = Fx::new();
    let e = fx.error("[[rule]\n");
    assert!(e.starts_with("D/nnp.toml:1:"), "{e}");
    assert!(e.contains("TOML syntax error"), "{e}");
    assert_eq!(
        fx.error("\"a\\nb\" = 1\n"),
        "D/nnp.toml:1:1: unknown key \"a\\nb\" (expected one of mode, shell, notice, guard_allow, guard_action, rule)"
    );
}

#[test]
fn not_utf8() {
    let fx = Fx::new();
    let p = fx.main();
    fs::write(&p, b"# ok\nmode = \"\xff\"\n").unwrap();
    assert_eq!(fx.errors(), ["D/nnp.toml:2:9: file is not valid UTF-8"]);
}

#[test]
fn every_error_of_every_file_is_reported() {
    let fx = Fx::new();
    fx.write("nnp.toml", "bogus = 1\n[[rule]]\nusers = []\nnnp = 1\n");
    fx.write("nnp.d/a.toml", "[[rule]]\nuids = [\"9-1\"]\nnnp = true\n");
    let e = fx.errors();
    assert_eq!(e.len(), 4, "{e:?}");
    assert!(e[0].starts_with("D/nnp.toml:1:1: unknown key \"bogus\""));
    assert!(e[1].starts_with("D/nnp.toml:3:9: \"users\" is empty"));
    assert!(e[2].starts_with("D/nnp.toml:4:7: \"nnp\" must be true or false"));
    assert!(e[3].starts_with("D/nnp.d/a.toml:2:9: uid range \"9-1\" is reversed"));
}

#[test]
fn diagnostic_renders_a_caret() {
    let fx = Fx::new();
    fx.write("nnp.toml", "[[rule]]\nnnp = true\n  grups = [\"x\"]\n");
    let d = fx.load().unwrap_err().diagnostics.remove(0);
    let r = d.render();
    assert!(
        r.ends_with("3 |   grups = [\"x\"]\n  |   ^\n  = help: did you mean \"groups\"?"),
        "{r}"
    );
}

#[test]
fn hints_only_for_close_words() {
    let fx = Fx::new();
    let hint = |text: &str| {
        fx.write("nnp.toml", text);
        fx.load().unwrap_err().diagnostics.remove(0).hint
    };
    assert_eq!(
        hint("mdoe = \"audit\"\n").as_deref(),
        Some("did you mean \"mode\"?")
    );
    assert_eq!(
        hint("mode = \"enforcing\"\n").as_deref(),
        Some("did you mean \"enforce\"?")
    );
    assert_eq!(
        hint("[[rule]]\nusers = [\"a\"]\nnnp = true\nUser = [\"b\"]\n").as_deref(),
        Some("did you mean \"users\"?")
    );
    assert_eq!(hint("completely = 1\n"), None);
}

// ---- trust ----

#[test]
fn world_and_group_writable_files_are_untrusted() {
    let fx = Fx::new();
    let p = fx.write("nnp.toml", "");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o646)).unwrap();
    assert_eq!(
        fx.errors(),
        ["D/nnp.toml: untrusted file: writable by others (mode 0646)"]
    );
    fs::set_permissions(&p, fs::Permissions::from_mode(0o664)).unwrap();
    assert_eq!(
        fx.errors(),
        ["D/nnp.toml: untrusted file: writable by group (mode 0664)"]
    );
}

#[test]
fn file_owned_by_someone_else_is_untrusted() {
    let fx = Fx::new();
    fx.write("nnp.toml", "");
    let other = me() + 1000;
    assert_eq!(
        load_as(&fx.main(), other)
            .unwrap_err()
            .to_string()
            .replace(&fx.dir.path().display().to_string(), "D"),
        format!(
            "D/nnp.toml: untrusted file: owned by uid {}, not uid {other}",
            me()
        )
    );
}

#[test]
fn writable_directory_above_is_untrusted_unless_sticky() {
    let fx = Fx::new();
    fx.write("up/sub/nnp.toml", "[[rule]]\nusers = [\"a\"]\nnnp = true\n");
    let up = fx.path("up");
    fs::set_permissions(&up, fs::Permissions::from_mode(0o777)).unwrap();
    let main = fx.path("up/sub/nnp.toml");
    let e = load_as(&main, me()).unwrap_err().to_string();
    assert!(
        e.ends_with(&format!(
            "sub/nnp.toml: untrusted directory {} above it: writable by group and others (mode 0777)",
            fs::canonicalize(&up).unwrap().display()
        )),
        "{e}"
    );
    // a sticky directory above the one holding the config is accepted (like /tmp)
    fs::set_permissions(&up, fs::Permissions::from_mode(0o1777)).unwrap();
    assert_eq!(load_as(&main, me()).unwrap().rules.len(), 1);
}

#[test]
fn the_directory_holding_the_config_must_be_roots_alone_even_sticky() {
    // With config=/srv/sticky/nnp.toml (mode 1777) anyone could mkdir nnp.d there.
    let fx = Fx::new();
    fx.write("sticky/nnp.toml", "[[rule]]\nusers = [\"a\"]\nnnp = true\n");
    let dir = fx.path("sticky");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
    let main = dir.join("nnp.toml");
    let e = load_as(&main, me()).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: untrusted directory holding the config (anyone who can write here can create the main file or the drop-in directory; a sticky directory is accepted only further up): writable by group and others (mode 1777)",
            fs::canonicalize(&dir).unwrap().display()
        )
    );
    // even with the main file absent: an absent file there could be created by anyone
    fs::remove_file(&main).unwrap();
    assert!(load_as(&main, me()).is_err());
    // control: the same directory, root's alone
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(load_as(&main, me()).unwrap().rules.len(), 0);
}

#[test]
fn a_users_symlink_in_a_writable_directory_is_untrusted() {
    use std::os::unix::fs::lchown;
    if me() != 0 {
        return; // needs root to give the symlink to another user
    }
    let fx = Fx::new();
    fx.write("etc/real.toml", "[[rule]]\nusers = [\"a\"]\nnnp = true\n");
    fs::create_dir_all(fx.path("pub")).unwrap();
    fs::create_dir_all(fx.path("conf")).unwrap();
    fs::set_permissions(fx.path("pub"), fs::Permissions::from_mode(0o1777)).unwrap();
    symlink(fx.path("etc/real.toml"), fx.path("pub/link.toml")).unwrap();
    symlink(fx.path("pub/link.toml"), fx.path("conf/nnp.toml")).unwrap();
    let main = fx.path("conf/nnp.toml");
    // root's symlink in the sticky directory: only root can replace it
    assert_eq!(load_as(&main, 0).unwrap().rules.len(), 1);
    // a user's symlink there: the user chooses what is read
    lchown(fx.path("pub/link.toml"), Some(65534), Some(65534)).unwrap();
    let e = load_as(&main, 0).unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "untrusted symlink {}: owned by uid 65534 in directory {}",
            fx.path("pub/link.toml").display(),
            fx.path("pub").display()
        )),
        "{e}"
    );
    // a user's symlink in a directory only root can write is fine (root placed it there)
    fs::set_permissions(fx.path("pub"), fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(load_as(&main, 0).unwrap().rules.len(), 1);
}

#[test]
fn roots_symlink_in_a_directory_others_can_write_is_untrusted() {
    // Before: root's symlink was trusted wherever it sat. In a directory others can write to
    // (not sticky), anyone can rename another root-owned symlink over it and choose what is
    // read (an empty file: no rules).
    let fx = Fx::new();
    fx.write("etc/real.toml", "[[rule]]\nusers = [\"a\"]\nnnp = true\n");
    fs::create_dir_all(fx.path("w")).unwrap();
    fs::create_dir_all(fx.path("conf")).unwrap();
    symlink(fx.path("etc/real.toml"), fx.path("w/current")).unwrap();
    symlink(fx.path("w/current"), fx.path("conf/nnp.toml")).unwrap();
    let main = fx.path("conf/nnp.toml");
    // control: the directory holding the link is root's alone
    assert_eq!(load_as(&main, me()).unwrap().rules.len(), 1);
    for mode in [0o777, 0o775, 0o757] {
        fs::set_permissions(fx.path("w"), fs::Permissions::from_mode(mode)).unwrap();
        let e = load_as(&main, me()).unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "untrusted symlink {}: directory {} lets others rename an entry over it",
                fx.path("w/current").display(),
                fx.path("w").display()
            )),
            "mode {mode:o}: {e}"
        );
    }
    // control: sticky, only the link's owner (root) can rename or remove it
    fs::set_permissions(fx.path("w"), fs::Permissions::from_mode(0o1777)).unwrap();
    assert_eq!(load_as(&main, me()).unwrap().rules.len(), 1);
}

#[test]
fn an_explicit_main_file_must_exist() {
    let fx = Fx::new();
    let e = load_required_as(&fx.main(), me()).unwrap_err().to_string();
    assert_eq!(
        e.replace(&fx.dir.path().display().to_string(), "D"),
        "D/nnp.toml: cannot read file: No such file or directory (it is named explicitly, so it must exist)"
    );
    assert!(fx.load().unwrap().rules.is_empty());
}

#[test]
fn symlinks_are_followed_and_the_target_is_checked() {
    let fx = Fx::new();
    fx.write("real/nnp.toml", "[[rule]]\nusers = [\"a\"]\nnnp = true\n");
    symlink(fx.path("real/nnp.toml"), fx.main()).unwrap();
    assert_eq!(fx.load().unwrap().rules.len(), 1);
    // the target's directory becoming writable makes the link untrusted
    fs::set_permissions(fx.path("real"), fs::Permissions::from_mode(0o757)).unwrap();
    let e = fx.errors();
    assert!(
        e[0].contains("untrusted directory") && e[0].contains("/real above it"),
        "{e:?}"
    );
}

#[test]
fn dangling_symlink_and_loop_are_errors_not_missing() {
    let fx = Fx::new();
    symlink(fx.path("nowhere.toml"), fx.main()).unwrap();
    assert_eq!(
        fx.errors(),
        ["D/nnp.toml: cannot read file: dangling symlink (its target does not exist)"]
    );
    fs::remove_file(fx.main()).unwrap();
    symlink(fx.main(), fx.main()).unwrap();
    assert_eq!(
        fx.errors(),
        ["D/nnp.toml: cannot read file: too many levels of symbolic links (a symlink loop?)"]
    );
}

#[test]
fn fifo_directory_and_device_are_refused_without_blocking() {
    let fx = Fx::new();
    let made = std::process::Command::new("mkfifo")
        .args(["-m", "644"])
        .arg(fx.main())
        .status()
        .unwrap();
    assert!(made.success());
    assert_eq!(
        fx.errors(),
        ["D/nnp.toml: not a regular file: it is a FIFO"]
    );
    fs::remove_file(fx.main()).unwrap();
    fs::create_dir(fx.main()).unwrap();
    assert_eq!(
        fx.errors(),
        ["D/nnp.toml: not a regular file: it is a directory"]
    );
    fs::remove_dir(fx.main()).unwrap();
    symlink("/dev/null", fx.main()).unwrap();
    assert_eq!(
        fx.errors(),
        ["D/nnp.toml: not a regular file: it is a character device"]
    );
}

#[test]
fn files_over_one_mib_are_refused() {
    let fx = Fx::new();
    let mut text = String::from("# big\n");
    text.push_str(&"#".repeat(1024 * 1024));
    fx.write("nnp.toml", &text);
    assert_eq!(
        fx.errors(),
        [format!(
            "D/nnp.toml: file is too large ({} bytes; the limit is 1048576 bytes)",
            text.len()
        )]
    );
}

#[test]
fn dropin_directory_is_checked_too() {
    let fx = Fx::new();
    fx.write("nnp.d/a.toml", "[[rule]]\nusers = [\"a\"]\nnnp = true\n");
    fs::set_permissions(fx.path("nnp.d"), fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(
        fx.errors(),
        ["D/nnp.d: untrusted drop-in directory: writable by group and others (mode 0777)"]
    );
    fs::set_permissions(fx.path("nnp.d"), fs::Permissions::from_mode(0o755)).unwrap();
    let p = fx.path("nnp.d/a.toml");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(
        fx.errors(),
        ["D/nnp.d/a.toml: untrusted file: writable by group and others (mode 0666)"]
    );
    fs::remove_dir_all(fx.path("nnp.d")).unwrap();
    fx.write("nnp.d", "not a dir");
    assert_eq!(
        fx.errors(),
        ["D/nnp.d: drop-in directory is not a directory: it is not a regular file"]
    );
}

#[test]
fn dropin_named_toml_that_is_a_directory_is_an_error() {
    let fx = Fx::new();
    fs::create_dir_all(fx.path("nnp.d/x.toml")).unwrap();
    assert_eq!(
        fx.errors(),
        ["D/nnp.d/x.toml: not a regular file: it is a directory"]
    );
}

#[test]
fn shadowed_rules_are_found() {
    let c = config(
        "[[rule]]\ngroups = [\"g\", \"h\"]\nnnp = true\n\n[[rule]]\ngroups = [\"g\"]\nusers = [\"x\"]\nnnp = false\n\n[[rule]]\nusers = [\"*\"]\nnnp = true\n\n[[rule]]\nuids = [\"10-20\"]\nnnp = true\n\n[[rule]]\ngroups = [\"other\"]\nservices = [\"sshd\"]\nnnp = true\n",
    );
    let s = c.shadowed();
    let pairs: Vec<_> = s.iter().map(|s| (s.rule.at.index, s.by.at.index)).collect();
    assert_eq!(pairs, [(2, 1), (4, 3), (5, 3)]);
    // a narrower earlier rule does not shadow a wider later one
    let c = config("[[rule]]\nusers = [\"a\"]\nservices = [\"sshd\"]\nnnp = true\n[[rule]]\nusers = [\"a\"]\nnnp = false\n");
    assert!(c.shadowed().is_empty());
    let c = config("[[rule]]\nuids = [\"10-20\"]\nnnp = true\n[[rule]]\nuids = [15, \"12-20\"]\nnnp = false\n[[rule]]\nuids = [\"15-21\"]\nnnp = false\n");
    let pairs: Vec<_> = c
        .shadowed()
        .iter()
        .map(|s| (s.rule.at.index, s.by.at.index))
        .collect();
    assert_eq!(pairs, [(2, 1)]);
}

// ---- hostile input (issue: hardening) ----

#[test]
fn fifty_megabyte_file_is_refused_without_reading_it() {
    let fx = Fx::new();
    let p = fx.write("nnp.toml", "");
    fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(50 * 1024 * 1024)
        .unwrap();
    assert_eq!(
        fx.errors(),
        ["D/nnp.toml: file is too large (52428800 bytes; the limit is 1048576 bytes)"]
    );
}

#[test]
fn random_bytes_are_refused_with_a_position() {
    let fx = Fx::new();
    let mut state: u32 = 0x1234_5678;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state & 0xff) as u8
        })
        .collect();
    fs::write(fx.main(), &bytes).unwrap();
    let e = fx.errors();
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("D/nnp.toml:"), "{e:?}");
}

#[test]
fn deeply_nested_arrays_are_refused_not_a_stack_overflow() {
    let fx = Fx::new();
    let depth = 100_000;
    let text = format!("x = {}1{}\n", "[".repeat(depth), "]".repeat(depth));
    let e = fx.error(&text);
    assert!(e.starts_with("D/nnp.toml:1:"), "{e}");
    assert!(e.contains("TOML syntax error"), "{e}");
}

#[test]
fn deeply_nested_inline_tables_are_refused() {
    let fx = Fx::new();
    let depth = 100_000;
    let text = format!("x = {}1{}\n", "{a = ".repeat(depth), "}".repeat(depth));
    let e = fx.error(&text);
    assert!(e.starts_with("D/nnp.toml:1:"), "{e}");
}

#[test]
fn a_file_replaced_after_open_is_read_from_the_opened_descriptor() {
    let fx = Fx::new();
    fx.write("nnp.toml", "[[rule]]\nusers = [\"a\"]\nnnp = true\n");
    let evil = fx.write("evil.toml", "[[rule]]\nusers = [\"a\"]\nnnp = false\n");
    fs::set_permissions(&evil, fs::Permissions::from_mode(0o666)).unwrap();
    let (from, to) = (evil.clone(), fx.main());
    source::tests_hook::set(move |p| {
        if p == to {
            fs::rename(&from, &to).unwrap();
        }
    });
    let c = fx.load();
    source::tests_hook::clear();
    let c = c.unwrap();
    // the trusted original was opened; the world-writable replacement is never read
    assert!(c.rules[0].nnp);
}

#[test]
fn a_file_made_writable_after_open_is_refused() {
    let fx = Fx::new();
    fx.write("nnp.toml", "[[rule]]\nusers = [\"a\"]\nnnp = true\n");
    source::tests_hook::set(|p| {
        fs::set_permissions(p, fs::Permissions::from_mode(0o666)).unwrap();
    });
    let e = fx.errors();
    source::tests_hook::clear();
    assert_eq!(
        e,
        ["D/nnp.toml: untrusted file: writable by group and others (mode 0666)"]
    );
}

#[test]
fn parse_text_needs_no_files() {
    let c = parse_text(
        Path::new("/x.toml"),
        "[[rule]]\nusers = [\"a\"]\nnnp = true\n",
    )
    .unwrap();
    assert_eq!(c.rules.len(), 1);
    let e = parse_text(Path::new("/x.toml"), "nope = 1\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "/x.toml:1:1: unknown key \"nope\" (expected one of mode, shell, notice, guard_allow, guard_action, rule)"
    );
}

#[test]
fn guard_allow_takes_absolute_paths() {
    let c = parse_text(
        Path::new("/x.toml"),
        "guard_allow = [\"/usr/bin/newuidmap\", \"/usr/bin/newgidmap\"]\n",
    )
    .unwrap();
    assert_eq!(c.guard_allow, ["/usr/bin/newuidmap", "/usr/bin/newgidmap"]);
    let e = parse_text(Path::new("/x.toml"), "guard_allow = [\"newuidmap\"]\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "/x.toml:1:16: guard_allow entry \"newuidmap\" is not an absolute path"
    );
}

#[test]
fn guard_action_degrade_or_refuse() {
    let c = parse_text(Path::new("/x.toml"), "").unwrap();
    assert_eq!(c.guard_action, crate::GuardAction::Degrade);
    let c = parse_text(Path::new("/x.toml"), "guard_action = \"refuse\"\n").unwrap();
    assert_eq!(c.guard_action, crate::GuardAction::Refuse);
    let c = parse_text(Path::new("/x.toml"), "guard_action = \"degrade\"\n").unwrap();
    assert_eq!(c.guard_action, crate::GuardAction::Degrade);
    let e = parse_text(Path::new("/x.toml"), "guard_action = \"refuze\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "/x.toml:1:16: unknown guard_action \"refuze\" (expected \"degrade\" or \"refuse\")"
        ),
        "{e}"
    );
    assert!(e.contains("refuse"), "{e}");
    let e = parse_text(Path::new("/x.toml"), "guard_action = 1\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "/x.toml:1:16: \"guard_action\" must be a string, found an integer"
    );
}

#[test]
fn guard_action_once_across_files() {
    let fx = Fx::new();
    fx.write("nnp.toml", "guard_action = \"refuse\"\n");
    fx.write("nnp.d/10.toml", "\nguard_action = \"degrade\"\n");
    assert_eq!(
        fx.errors(),
        ["D/nnp.d/10.toml:2:1: duplicate top-level key \"guard_action\": already set at D/nnp.toml:1:1"]
    );
}
