//! The guard's report: per-(rule, uid, file) counters the program keeps in `report_map`
//! (pinned as `report`, an LRU hash of at most `NNP_MAX_REPORT` entries), written wherever
//! it refuses, kills or (audit mode) would refuse an exec. `nnpctl guard report` and
//! `nnpctl metrics` read it: the "what breaks if I enforce" view.
//!
//! The key names the rule by its 1-based index in the loaded config's rule list (the
//! metadata's `rule` lines give its `FILE:LINE`). A reload whose rule list differs empties
//! the report, so an index never names another rule than the one that counted.

use std::mem::offset_of;
use std::mem::size_of;

use libbpf_rs::{MapCore, MapFlags};

use crate::skel::types::{nnp_file_key, nnp_report_key, nnp_report_value};
use crate::{pinned, read_u32, read_u64, FileKey, GuardError};

/// One entry of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportEntry {
    /// The deciding rule's 1-based index (0: groups that could not all be read).
    pub rule: usize,
    /// Real uid of the process that ran the file.
    pub uid: u32,
    /// The file, as the kernel identifies it.
    pub file_key: FileKey,
    /// The path it was run by (the first time), escaped.
    pub file: String,
    /// Execs counted.
    pub count: u64,
    /// CLOCK_BOOTTIME nanoseconds of the last one.
    pub last_ns: u64,
    /// The last one's action: "refused", "killed" or "would-refuse".
    pub action: &'static str,
}

/// The action's name (`enum nnp_action`) in the report and the metrics, as in the watch's
/// JSON. A value this loader does not know is "unknown" (the schema then rejects it in the
/// tests: a new action needs a name here, in docs/schema/ and in the catalog).
pub(crate) fn action_name(a: u32) -> &'static str {
    match a {
        1 => "refused",
        2 => "killed",
        3 => "would-refuse",
        _ => "unknown",
    }
}

/// Parse one entry (`struct nnp_report_key`, `struct nnp_report_value`, layouts from the
/// skeleton's types).
pub fn parse_report_entry(key: &[u8], value: &[u8]) -> Option<ReportEntry> {
    if key.len() < size_of::<nnp_report_key>() || value.len() < size_of::<nnp_report_value>() {
        return None;
    }
    let f = offset_of!(nnp_report_key, file);
    let file_key = FileKey {
        dev: read_u64(key, f + offset_of!(nnp_file_key, dev)),
        ino: read_u64(key, f + offset_of!(nnp_file_key, ino)),
        ctime_sec: read_u64(key, f + offset_of!(nnp_file_key, ctime_sec)) as i64,
        ctime_nsec: read_u32(key, f + offset_of!(nnp_file_key, ctime_nsec)),
        generation: read_u32(key, f + offset_of!(nnp_file_key, generation)),
    };
    let path = {
        let o = offset_of!(nnp_report_value, file);
        let b = value.get(o..o + 128).unwrap_or(&[]);
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        nnp_config::escape_value(&b[..end])
    };
    Some(ReportEntry {
        rule: (read_u32(key, offset_of!(nnp_report_key, value)) >> 2) as usize,
        uid: read_u32(key, offset_of!(nnp_report_key, uid)),
        file_key,
        file: path,
        count: read_u64(value, offset_of!(nnp_report_value, count)),
        last_ns: read_u64(value, offset_of!(nnp_report_value, last_ns)),
        action: action_name(read_u32(value, offset_of!(nnp_report_value, action))),
    })
}

/// Every entry of the loaded guard's report, in no particular order.
pub fn read_report() -> Result<Vec<ReportEntry>, GuardError> {
    let m = pinned("report").map_err(|e| {
        GuardError::System(format!(
            "{e} (a guard loaded by an earlier nnpctl keeps no report: nnpctl guard unload, then load)"
        ))
    })?;
    let mut out = Vec::new();
    for key in m.keys() {
        // an entry evicted between the listing and the lookup is simply gone
        if let Some(v) = m
            .lookup(&key, MapFlags::ANY)
            .map_err(|e| crate::sys("reading the report", e))?
        {
            out.extend(parse_report_entry(&key, &v));
        }
    }
    Ok(out)
}

/// Empty the report when the rule list of the new policy is not the loaded one's (an index
/// would name another rule). Best effort: called under the lock by reload.
pub(crate) fn forget_if_rules_changed(old: Option<&crate::Meta>, new_rules: &[String]) {
    if old.is_some_and(|m| m.rules == new_rules) {
        return;
    }
    if let Ok(m) = pinned("report") {
        let keys: Vec<Vec<u8>> = m.keys().collect();
        for k in keys {
            let _ = m.delete(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn put(b: &mut [u8], at: usize, v: &[u8]) {
        b[at..at + v.len()].copy_from_slice(v);
    }

    #[test]
    fn parses_an_entry_laid_out_as_the_skeleton_says() {
        let mut k = vec![0u8; size_of::<nnp_report_key>()];
        let mut v = vec![0u8; size_of::<nnp_report_value>()];
        put(
            &mut k,
            offset_of!(nnp_report_key, value),
            &((3u32 << 2) | 2).to_ne_bytes(),
        );
        put(
            &mut k,
            offset_of!(nnp_report_key, uid),
            &61001u32.to_ne_bytes(),
        );
        let f = offset_of!(nnp_report_key, file);
        put(
            &mut k,
            f + offset_of!(nnp_file_key, dev),
            &8388609u64.to_ne_bytes(),
        );
        put(
            &mut k,
            f + offset_of!(nnp_file_key, ino),
            &77u64.to_ne_bytes(),
        );
        put(
            &mut k,
            f + offset_of!(nnp_file_key, ctime_sec),
            &(-5i64).to_ne_bytes(),
        );
        put(
            &mut k,
            f + offset_of!(nnp_file_key, ctime_nsec),
            &9u32.to_ne_bytes(),
        );
        put(
            &mut k,
            f + offset_of!(nnp_file_key, generation),
            &4u32.to_ne_bytes(),
        );
        put(
            &mut v,
            offset_of!(nnp_report_value, count),
            &12u64.to_ne_bytes(),
        );
        put(
            &mut v,
            offset_of!(nnp_report_value, last_ns),
            &5_000_000_000u64.to_ne_bytes(),
        );
        put(
            &mut v,
            offset_of!(nnp_report_value, action),
            &3u32.to_ne_bytes(),
        );
        put(
            &mut v,
            offset_of!(nnp_report_value, file),
            b"/usr/bin/su\x1b[2J\0junk",
        );
        let e = parse_report_entry(&k, &v).unwrap();
        assert_eq!(
            e,
            ReportEntry {
                rule: 3,
                uid: 61001,
                file_key: FileKey {
                    dev: 8388609,
                    ino: 77,
                    ctime_sec: -5,
                    ctime_nsec: 9,
                    generation: 4
                },
                file: "/usr/bin/su\\u{1b}[2J".to_string(),
                count: 12,
                last_ns: 5_000_000_000,
                action: "would-refuse",
            }
        );
        put(
            &mut v,
            offset_of!(nnp_report_value, action),
            &2u32.to_ne_bytes(),
        );
        assert_eq!(parse_report_entry(&k, &v).unwrap().action, "killed");
        put(
            &mut v,
            offset_of!(nnp_report_value, action),
            &1u32.to_ne_bytes(),
        );
        assert_eq!(parse_report_entry(&k, &v).unwrap().action, "refused");
    }

    #[test]
    fn a_path_without_a_terminator_is_cut_at_the_field() {
        let k = vec![0u8; size_of::<nnp_report_key>()];
        let mut v = vec![0u8; size_of::<nnp_report_value>()];
        let o = offset_of!(nnp_report_value, file);
        for b in &mut v[o..o + 128] {
            *b = b'a';
        }
        let e = parse_report_entry(&k, &v).unwrap();
        assert_eq!(e.file.len(), 128);
        assert_eq!(e.rule, 0);
    }

    #[test]
    fn an_unknown_action_is_not_taken_for_another() {
        let k = vec![0u8; size_of::<nnp_report_key>()];
        let mut v = vec![0u8; size_of::<nnp_report_value>()];
        put(
            &mut v,
            offset_of!(nnp_report_value, action),
            &9u32.to_ne_bytes(),
        );
        assert_eq!(parse_report_entry(&k, &v).unwrap().action, "unknown");
    }

    #[test]
    fn short_records_are_refused() {
        assert!(parse_report_entry(&[0; 4], &[0; 200]).is_none());
        assert!(parse_report_entry(&[0; 64], &[0; 8]).is_none());
    }
}
