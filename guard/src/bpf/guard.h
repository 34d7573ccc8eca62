/* SPDX-License-Identifier: GPL-2.0 */
/* The one contract between the exec guard's BPF programs and their loader (nnp-guard):
 * table values, map keys and values, state slots, counters, limits and the event layout.
 * guard.bpf.c and allow_key.bpf.c include it; the loader reads these types through the
 * skeletons (libbpf-cargo generates them from the programs' BTF), so no offset is copied
 * by hand into Rust. build.rs reruns when this file changes. */
#ifndef NNP_GUARD_H
#define NNP_GUARD_H

/* Limits of the tables (the loader refuses nothing a valid config can hold: a config
 * beyond a limit is compiled wider, never narrower; see nnp_config::guard). */
#define NNP_MAX_KEYS 65536    /* entries of the uid and gid tables */
#define NNP_MAX_RANGES 256    /* uid ranges */
#define NNP_MAX_COMBO 64      /* rules that need a uid fact and a group fact at once */
#define NNP_MAX_ALLOW 1024    /* guard_allow files */
#define NNP_MAX_GROUPS 65536  /* NGROUPS_MAX: every supplementary group is looked at */
#define NNP_MAX_USERNS 33     /* user namespaces nest at most 32 deep below the initial one */
#define NNP_USERNS_EXTENTS 5  /* extents stored inline in struct uid_gid_map */

/* A rule's verdict, in the low two bits of a table value. */
enum nnp_verdict {
	NNP_V_EXEMPT = 0,  /* nnp = false: allow */
	NNP_V_ENFORCE = 1, /* nnp = true, mode enforce: refuse (lsm) or kill */
	NNP_V_AUDIT = 2,   /* nnp = true, mode audit: allow, report "would refuse" */
};

/* A table value: (1-based rule index << 2) | verdict; 0 is "no rule". The program keeps the
 * smallest index over every key the task matches: the first rule that matches decides. */
typedef __u32 nnp_value;

/* uids_X and gids_X: key a uid or gid. */
struct nnp_entry {
	nnp_value value; /* rules decided by this key alone (0: none) */
	__u32 pad;
	__u64 combo;     /* bit k: this key satisfies one side of combined rule k (combo_X[k]) */
};

/* ranges_X: key the range's position (0 .. state[NRANGES_X] - 1). */
struct nnp_range {
	__u32 lo, hi;    /* inclusive uid range */
	nnp_value value; /* as in nnp_entry */
	__u32 pad;
	__u64 combo;     /* as in nnp_entry: the uid side of combined rules */
};

/* allow_X: key the identity of a guard_allow file, as the kernel sees the opened file
 * (superblock device, inode number, inode generation, change time). A file that later
 * reuses the inode number has another generation or change time, so it never inherits an
 * entry; the loader learns the key from the kernel (allow_key.bpf.c), not from stat(2),
 * so btrfs subvolumes and overlayfs agree with what exec sees. */
struct nnp_file_key {
	__u64 dev;
	__u64 ino;
	__s64 ctime_sec;
	__u32 ctime_nsec;
	__u32 generation;
};

/* state: array of __u32. */
enum nnp_state_slot {
	NNP_S_ACTIVE = 0,    /* 0: the _a tables are in force; 1: the _b tables */
	NNP_S_STAR_A = 1,    /* users = ["*"] (or a rule widened while degraded): value */
	NNP_S_STAR_B = 2,
	NNP_S_NRANGES_A = 3, /* entries used in ranges_X */
	NNP_S_NRANGES_B = 4,
	NNP_S_NCOMBO_A = 5,  /* entries used in combo_X */
	NNP_S_NCOMBO_B = 6,
	NNP_S_ACTION = 7,    /* NNP_ACTION_DEGRADE: nnp_degrade asks for NNP semantics */
	NNP_S_NGIDS_A = 8,   /* entries used in gidlist_X (the keys of gids_X, sorted) */
	NNP_S_NGIDS_B = 9,
	NNP_S_COUNT = 16,
};

/* state[NNP_S_ACTION]: guard_action in force (0, a fresh map, is refuse). */
enum nnp_guard_action {
	NNP_ACTION_REFUSE = 0,  /* refuse (lsm) or kill: today's behaviour */
	NNP_ACTION_DEGRADE = 1, /* run the exec with the caller's privileges (kernel/ hook) */
};

/* counters: per-CPU array of __u64. */
enum nnp_counter {
	NNP_C_EXECS = 0,   /* every exec the attached program saw: the loader's liveness proof */
	NNP_C_RAISING = 1, /* execs that raise privileges (guarded or not) */
	NNP_C_REFUSED = 2, /* refused or killed */
	NNP_C_AUDITED = 3, /* audit mode: would have been refused */
	NNP_C_DEGRADED = 4, /* guard_action = "degrade": ran without the raise it would have had */
	NNP_C_COUNT = 5,
};

/* What happened to an exec, in an event. */
enum nnp_action {
	NNP_A_REFUSED = 1, /* lsm: execve failed with EPERM */
	NNP_A_KILLED = 2,  /* kill: SIGKILL before the new image ran */
	NNP_A_AUDIT = 3,   /* audit mode: allowed, would have been refused */
};

/* events: ring buffer records. */
struct nnp_event {
	__u64 time_ns;   /* CLOCK_BOOTTIME */
	__u32 pid;       /* tgid */
	__u32 uid;       /* real uid */
	nnp_value value; /* the deciding rule (0: groups that could not all be read) */
	__u32 action;    /* enum nnp_action */
	char comm[16];
	char file[128];  /* bprm->filename, truncated */
};

/* report: one entry per (rule, real uid, file) that a refused, killed or audited exec named,
 * for `nnpctl guard report` and `nnpctl metrics` (an LRU hash: the least recently seen
 * entries make room when it is full). */
#define NNP_MAX_REPORT 8192
struct nnp_report_key {
	nnp_value value;          /* the deciding rule, as in nnp_event (0: unread groups) */
	__u32 uid;                /* real uid */
	struct nnp_file_key file; /* the file exec'd, as the kernel identifies it */
};
struct nnp_report_value {
	__u64 count;     /* execs counted (refused, killed or would refuse) */
	__u64 last_ns;   /* CLOCK_BOOTTIME of the last one */
	__u32 action;    /* enum nnp_action of the last one */
	__u32 pad;
	char file[128];  /* bprm->filename of the first one, truncated */
};

/* rule_counts: refused, killed and would-refuse execs by deciding rule, for the metrics'
 * per-rule counters. An array: nothing is ever evicted, so a count only grows while the
 * guard stays loaded (the report above forgets its least recently seen entries). Slot 0
 * counts execs refused because some group could not be read (value 0), slot i (1 ..
 * NNP_MAX_RULE_COUNTS) rule i, and slot NNP_MAX_RULE_COUNTS + 1 every rule beyond that,
 * together. The loader zeroes a slot on reload when its rule changes. */
#define NNP_MAX_RULE_COUNTS 4096
#define NNP_RULE_COUNT_SLOTS (NNP_MAX_RULE_COUNTS + 2)
struct nnp_rule_count {
	__u64 refused;   /* NNP_A_REFUSED */
	__u64 killed;    /* NNP_A_KILLED */
	__u64 audit;     /* NNP_A_AUDIT: would have been refused */
};

/* allow_key.bpf.c output: one record per open descriptor of the loader. */
struct nnp_fd_key {
	__u32 fd;
	__u32 pad;
	struct nnp_file_key key;
};

/* tasks.bpf.c output (nnpctl audit): one record per task (thread) of the reader's pid
 * namespace, read in the kernel while the iterator walks the tasks in pid order, followed
 * by min(ngroups, NNP_TASK_GROUPS) supplementary gids. */
#define NNP_TASK_GROUPS 1024
enum nnp_task_flag {
	NNP_T_NNP = 1,         /* no_new_privs is set */
	NNP_T_KTHREAD = 2,     /* a kernel thread (PF_KTHREAD) */
	NNP_T_CAPS = 4,        /* holds a permitted capability */
	NNP_T_TRUNCATED = 8,   /* more than NNP_TASK_GROUPS groups: only the first follow */
	NNP_T_UNREAD = 16,     /* credentials or groups could not be read */
	NNP_T_EXITED = 32,     /* exited (a zombie, or dead): runs nothing, exec included */
};
struct nnp_task {
	__u32 tgid;      /* process id, as the reader's pid namespace counts (the initial one) */
	__u32 pid;       /* thread id */
	__u32 uid, euid, suid, fsuid;
	__u32 gid, egid, sgid, fsgid;
	__u32 flags;     /* enum nnp_task_flag */
	__u32 ngroups;   /* the task's supplementary groups (all of them, not only those that follow) */
	__u32 nwritten;  /* gids that follow this record */
	__u32 threads;   /* the thread group's threads not yet released (signal->nr_threads) */
	__u64 start;     /* the process's (its group leader's) start_boottime, ns */
	char comm[16];   /* the process's (its group leader's) comm */
};

#endif
