// SPDX-License-Identifier: GPL-2.0
/* nnp exec guard: refuse an exec whose new credentials raise privileges over the caller's,
 * for users the first matching rule restricts, outside rootless user namespaces.
 *
 * Two attach points share one decision:
 *  - lsm/bprm_creds_from_file (BPF LSM): the exec fails with -EPERM;
 *  - tp_btf/sched_prepare_exec (kernels without usable BPF LSM, 6.10+): the task gets
 *    SIGKILL before the new image runs a single instruction.
 *  - lsm/bprm_no_new_privs, on kernels with nnp's hook (kernel/ in the source tree), next to
 *    the first: with guard_action = "degrade" the exec runs with the caller's privileges
 *    (no_new_privs semantics for that exec only) instead of failing.
 * Both count every exec they see (NNP_C_EXECS): the loader only calls a mode live after
 * that counter moved across an exec of its own (an LSM program attaches even where the
 * kernel's LSM list lacks "bpf", and then never runs).
 *
 * The tables come in two sets (_a and _b); state[NNP_S_ACTIVE] says which is in force, so a
 * reload fills the other set and flips one u32: never a moment without a policy. The
 * contract with the loader (types, slots, limits) is guard.h. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "guard.h"
#include "filekey.bpf.h"
#include "cred.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define EPERM 1
#define SIGKILL 9
/* macros of the kernel's headers (not in vmlinux.h): include/linux/security.h,
 * include/linux/sched.h, include/linux/mount.h, and PER_CLEAR_ON_SETID of
 * include/uapi/linux/personality.h (READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE |
 * ADDR_COMPAT_LAYOUT | MMAP_PAGE_ZERO) */
#define LSM_UNSAFE_NO_NEW_PRIVS 4
#define PFA_NO_NEW_PRIVS 0
#define MNT_NOSUID 0x01
#define PER_CLEAR_ON_SETID 0x0740000
#define NNP_S_ISUID 04000
#define NNP_S_ISGID 02000
#define NNP_S_IXGRP 00010

/* uids_X: real uid -> the rules it decides alone, and the combined rules whose uid side it
 * satisfies (from `users`, intersected with `uids` where a rule has both). */
#define UID_TABLE(name) \
	struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, NNP_MAX_KEYS); \
		 __uint(map_flags, BPF_F_NO_PREALLOC); \
		 __type(key, __u32); __type(value, struct nnp_entry); } name SEC(".maps")
UID_TABLE(uids_a);
UID_TABLE(uids_b);
/* gids_X: gid (real or supplementary) -> as uids_X, for `groups`. */
UID_TABLE(gids_a);
UID_TABLE(gids_b);
/* ranges_X: position -> an inclusive uid range (`uids`), as uids_X. */
#define RANGE_TABLE(name) \
	struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, NNP_MAX_RANGES); \
		 __type(key, __u32); __type(value, struct nnp_range); } name SEC(".maps")
RANGE_TABLE(ranges_a);
RANGE_TABLE(ranges_b);
/* combo_X: bit k of a combo mask -> the value of combined rule k (a rule that needs a uid
 * fact and a group fact: it matches when both sides have bit k). */
#define COMBO_TABLE(name) \
	struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, NNP_MAX_COMBO); \
		 __type(key, __u32); __type(value, nnp_value); } name SEC(".maps")
COMBO_TABLE(combo_a);
COMBO_TABLE(combo_b);
/* gidlist_X: position -> the keys of gids_X in ascending order, so a task in many groups is
 * matched by binary search of its (kernel-sorted) groups for each key, not by a lookup per
 * group. */
#define GIDLIST_TABLE(name) \
	struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, NNP_MAX_KEYS); \
		 __type(key, __u32); __type(value, __u32); } name SEC(".maps")
GIDLIST_TABLE(gidlist_a);
GIDLIST_TABLE(gidlist_b);
/* allow_X: identity of a guard_allow file -> 1. */
#define ALLOW_TABLE(name) \
	struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, NNP_MAX_ALLOW); \
		 __uint(map_flags, BPF_F_NO_PREALLOC); \
		 __type(key, struct nnp_file_key); __type(value, __u32); } name SEC(".maps")
ALLOW_TABLE(allow_a);
ALLOW_TABLE(allow_b);
/* state: enum nnp_state_slot -> __u32. */
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, NNP_S_COUNT);
	 __type(key, __u32); __type(value, __u32); } state SEC(".maps");
/* counters: enum nnp_counter -> per-CPU count. */
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, NNP_C_COUNT);
	 __type(key, __u32); __type(value, __u64); } counters SEC(".maps");
/* events: struct nnp_event records for `nnpctl guard watch`. */
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 256 * 1024); } events SEC(".maps");
/* report: (rule, uid, file) -> count, last time, last action, path (guard.h). */
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, NNP_MAX_REPORT);
	 __type(key, struct nnp_report_key); __type(value, struct nnp_report_value); } report_map SEC(".maps");
/* rule_counts: deciding rule -> refused, killed, would refuse (guard.h: never evicted). */
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, NNP_RULE_COUNT_SLOTS);
	 __type(key, __u32); __type(value, struct nnp_rule_count); } rule_counts SEC(".maps");
/* report_new: a per-CPU scratch value for a new report entry (too big for the stack). */
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1);
	 __type(key, __u32); __type(value, struct nnp_report_value); } report_new SEC(".maps");

/* Make the contract's types part of the BTF, so the skeleton has their Rust types. */
struct nnp_event nnp_event_type = {};
struct nnp_report_key nnp_report_key_type = {};
struct nnp_report_value nnp_report_value_type = {};
struct nnp_rule_count nnp_rule_count_type = {};
enum nnp_state_slot nnp_state_slot_type = NNP_S_ACTIVE;
enum nnp_counter nnp_counter_type = NNP_C_EXECS;
enum nnp_action nnp_action_type = NNP_A_REFUSED;
enum nnp_guard_action nnp_guard_action_type = NNP_ACTION_REFUSE;

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);
	if (c)
		*c += 1;
}

static __always_inline __u32 state_get(__u32 i)
{
	__u32 *v = bpf_map_lookup_elem(&state, &i);
	return v ? *v : 0;
}

/* Keep the value of the earliest rule. */
static __always_inline void take(__u32 *best, __u32 v)
{
	if (v && (!*best || (v >> 2) < (*best >> 2)))
		*best = v;
}

/* ---- "does this exec raise privileges?" ---- */

/* Does one id map of a namespace give a host identity away: an extent that maps ids onto
 * themselves, or maps the parent's root, or more extents than are stored inline (not read:
 * counted as giving away)? */
static __always_inline int map_gives_identity(const struct uid_gid_map *m)
{
	__u32 n = BPF_CORE_READ(m, nr_extents);
	int gives = n > NNP_USERNS_EXTENTS;
#pragma unroll
	for (int i = 0; i < NNP_USERNS_EXTENTS; i++) {
		if (i < n) {
			__u32 first = BPF_CORE_READ(m, extent[i].first);
			__u32 lower = BPF_CORE_READ(m, extent[i].lower_first);
			if (first == lower || lower == 0)
				gives = 1;
		}
	}
	return gives;
}

struct userns_ctx {
	const struct user_namespace *ns;
	int rootless; /* result: 1 only if every namespace up to the initial one is rootless */
};

static long userns_step(__u64 i, void *c)
{
	struct userns_ctx *ctx = c;
	const struct user_namespace *ns = ctx->ns;
	if (!ns || BPF_CORE_READ(ns, level) == 0)
		return 1; /* reached the initial namespace: every level checked was rootless */
	if (map_gives_identity(&ns->uid_map) || map_gives_identity(&ns->gid_map)) {
		ctx->rootless = 0;
		return 1;
	}
	ctx->ns = BPF_CORE_READ(ns, parent);
	return 0;
}

/* Is the exec inside a user namespace whose mapping gives the caller no host identity it
 * lacks (a rootless container on its subordinate ids)? Namespaces that map ids onto
 * themselves or map root, at any level, count as the initial one (doubt: guarded).
 * A global function: the verifier checks it once, not once per state of its callers (inlined,
 * it was most of the load's verification time). ns: the new credentials' namespace. */
__attribute__((noinline)) int nnp_rootless_userns(__u64 ns_addr)
{
	const struct user_namespace *ns = (const void *)ns_addr;
	if (!ns || BPF_CORE_READ(ns, level) == 0)
		return 0;
	struct userns_ctx ctx = { .ns = ns, .rootless = 1 };
	long n = bpf_loop(NNP_MAX_USERNS, userns_step, &ctx, 0);
	if (n < 0 || n >= NNP_MAX_USERNS)
		return 0;
	return ctx.rootless;
}

static __always_inline int in_rootless_userns(const struct cred *new)
{
	const struct user_namespace *ns = new->user_ns;
	if (!ns || ns->level == 0)
		return 0;
	/* read, so the verifier sees a number (a global function takes no kernel pointer) */
	return nnp_rootless_userns((__u64)BPF_CORE_READ(new, user_ns));
}

static __always_inline int in_ids(__u32 x, __u32 a, __u32 b, __u32 c)
{
	return x == a || x == b || x == c;
}

struct ingroups_ctx { const struct group_info *gi; __u32 gid; int n; int found; };

static long ingroup_step(__u64 i, void *c)
{
	struct ingroups_ctx *ctx = c;
	kgid_t g;
	if ((int)i >= ctx->n)
		return 1;
	if (bpf_probe_read_kernel(&g, sizeof(g), &ctx->gi->gid[i]))
		return 1;
	if (g.val == ctx->gid) {
		ctx->found = 1;
		return 1;
	}
	return 0;
}

/* Do the new credentials hold a uid, gid or capability the old ones did not (all compared
 * as host ids: kuid/kgid values)? */
static __always_inline int raises(const struct cred *old, const struct cred *new)
{
	/* direct loads: old and new are BTF-typed kernel pointers (the current task's and the
	 * hook's argument), cheaper than a probe read per field on every exec */
	__u32 ouid = old->uid.val, oeuid = old->euid.val, osuid = old->suid.val;
	__u32 ogid = old->gid.val, oegid = old->egid.val, osgid = old->sgid.val;
	__u32 neuid = new->euid.val, nfsuid = new->fsuid.val;
	__u32 negid = new->egid.val, nfsgid = new->fsgid.val;
	if (!in_ids(neuid, ouid, oeuid, osuid) || !in_ids(nfsuid, ouid, oeuid, osuid))
		return 1;
	__u32 check[2] = { negid, nfsgid };
	for (int k = 0; k < 2; k++) {
		if (in_ids(check[k], ogid, oegid, osgid))
			continue;
		/* read, not dereferenced: the groups are indexed by a variable, read one by one */
		const struct group_info *gi = BPF_CORE_READ(old, group_info);
		int ngroups = gi ? BPF_CORE_READ(gi, ngroups) : 0;
		struct ingroups_ctx ic = { .gi = gi, .gid = check[k], .n = ngroups, .found = 0 };
		if (gi)
			bpf_loop(NNP_MAX_GROUPS, ingroup_step, &ic, 0);
		if (!ic.found)
			return 1;
	}
	__u64 operm = cap_perm(old);
	return (cap_perm(new) & ~operm) || (cap_eff(new) & ~operm);
}

/* ---- "which rule decides?" ---- */

struct groups_ctx {
	const struct group_info *gi;
	void *gids;
	__u32 *best;
	__u64 *mask;
	int n;
	int failed;
};

static long group_step(__u64 i, void *c)
{
	struct groups_ctx *ctx = c;
	kgid_t g;
	if ((int)i >= ctx->n)
		return 1;
	if (bpf_probe_read_kernel(&g, sizeof(g), &ctx->gi->gid[i])) {
		ctx->failed = 1; /* a group not read could be a restricting one */
		return 1;
	}
	__u32 key = g.val;
	struct nnp_entry *e = bpf_map_lookup_elem(ctx->gids, &key);
	if (e) {
		take(ctx->best, e->value);
		*ctx->mask |= e->combo;
	}
	return 0;
}

struct ranges_ctx {
	void *ranges;
	__u32 uid;
	__u32 *best;
	__u64 *mask;
	__u32 n;
};

static long range_step(__u64 i, void *c)
{
	struct ranges_ctx *ctx = c;
	__u32 k = (__u32)i;
	if (k >= ctx->n)
		return 1;
	struct nnp_range *r = bpf_map_lookup_elem(ctx->ranges, &k);
	if (r && r->lo <= ctx->uid && ctx->uid <= r->hi) {
		take(ctx->best, r->value);
		*ctx->mask |= r->combo;
	}
	return 0;
}

/* Is gid g among the task's groups (1; 0: no; -1: a group could not be read, which could be
 * a restricting one)? group_info is kept sorted by the kernel (groups_sort), so a binary
 * search: at most 17 reads for NGROUPS_MAX groups. A global function (the verifier checks
 * it once, not once per state of the loop that calls it); gi_addr: the task's struct
 * group_info, n: its ngroups. */
__attribute__((noinline)) int nnp_has_group(__u64 gi_addr, int n, __u32 g)
{
	const struct group_info *gi = (const void *)gi_addr;
	int lo = 0, hi = n - 1;
	for (int it = 0; it < 17; it++) {
		if (lo > hi)
			return 0;
		int mid = lo + (int)((__u32)(hi - lo) >> 1);
		kgid_t x;
		if (mid < 0 || mid >= NNP_MAX_GROUPS ||
		    bpf_probe_read_kernel(&x, sizeof(x), &gi->gid[mid]))
			return -1;
		if (x.val == g)
			return 1;
		if (x.val < g)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return 0;
}

struct tabgid_ctx {
	const struct group_info *gi;
	void *gidlist;
	void *gids;
	__u32 *best;
	__u64 *mask;
	int ngroups;
	__u32 n;
	int failed;
};

/* One key of the gid table: is the task in that group? */
static long tabgid_step(__u64 i, void *c)
{
	struct tabgid_ctx *ctx = c;
	__u32 k = (__u32)i;
	if (k >= ctx->n)
		return 1;
	__u32 *g = bpf_map_lookup_elem(ctx->gidlist, &k);
	if (!g) {
		ctx->failed = 1;
		return 1;
	}
	int in = nnp_has_group((__u64)ctx->gi, ctx->ngroups, *g);
	if (in < 0)
		ctx->failed = 1;
	else if (in) {
		struct nnp_entry *e = bpf_map_lookup_elem(ctx->gids, g);
		if (e) {
			take(ctx->best, e->value);
			*ctx->mask |= e->combo;
		}
	}
	return ctx->failed;
}

struct combo_ctx {
	void *combo;
	__u64 matched;
	__u32 *best;
};

static long combo_step(__u64 i, void *c)
{
	struct combo_ctx *ctx = c;
	__u32 k = (__u32)i;
	if (!(ctx->matched >> k))
		return 1;
	if ((ctx->matched >> k) & 1) {
		nnp_value *v = bpf_map_lookup_elem(ctx->combo, &k);
		if (v)
			take(ctx->best, *v);
	}
	return 0;
}

/* The rules the task's supplementary groups select, folded into out (best: the earliest
 * rule's value so far, in and out; mask: their combo bits; unread: a group could not be
 * read). A global function: the verifier checks it once with unknown arguments, not once
 * per state of its callers (inlined, the group search was nine tenths of the verification
 * of the program and most of the load's time). gi_addr: the task's struct group_info. */
struct nnp_group_out { __u32 best; __u32 unread; __u64 mask; };

__attribute__((noinline)) int nnp_group_rules(__u64 gi_addr, __u32 active, struct nnp_group_out *out)
{
	const struct group_info *gi = (const void *)gi_addr;
	if (!out)
		return 0;
	if (!gi) {
		/* every cred has a group_info: none read is a read that failed */
		out->unread = 1;
		return 0;
	}
	void *gids = active ? (void *)&gids_b : (void *)&gids_a;
	int ngroups = BPF_CORE_READ(gi, ngroups);
	__u32 ntab = state_get(active ? NNP_S_NGIDS_B : NNP_S_NGIDS_A);
	if (ngroups > NNP_MAX_GROUPS) {
		out->unread = 1;
	} else if ((__u64)ntab * 17 < (__u64)ngroups) {
		/* few table keys, many groups: search the task's groups for each key */
		struct tabgid_ctx tc = { .gi = gi, .gidlist = active ? (void *)&gidlist_b : (void *)&gidlist_a,
					 .gids = gids, .best = &out->best, .mask = &out->mask,
					 .ngroups = ngroups, .n = ntab, .failed = 0 };
		long done = bpf_loop(NNP_MAX_KEYS, tabgid_step, &tc, 0);
		if (tc.failed || done < 0)
			out->unread = 1;
	} else {
		/* look every group of the task up */
		struct groups_ctx gc = { .gi = gi, .gids = gids, .best = &out->best, .mask = &out->mask,
					 .n = ngroups, .failed = 0 };
		long done = bpf_loop(NNP_MAX_GROUPS, group_step, &gc, 0);
		if (gc.failed || done < 0)
			out->unread = 1;
	}
	return 0;
}

/* The deciding rule's value for the task's real uid, real gid and supplementary groups
 * (0: no rule). *unread: some group could not be read. */
static __always_inline __u32 rule_for(const struct cred *old, __u32 active, int *unread)
{
	void *uids = active ? (void *)&uids_b : (void *)&uids_a;
	void *gids = active ? (void *)&gids_b : (void *)&gids_a;
	void *ranges = active ? (void *)&ranges_b : (void *)&ranges_a;
	void *combo = active ? (void *)&combo_b : (void *)&combo_a;
	__u32 uid = old->uid.val, gid = old->gid.val;
	__u32 best = 0;
	__u64 umask = 0, gmask = 0;

	struct nnp_entry *e = bpf_map_lookup_elem(uids, &uid);
	if (e) {
		take(&best, e->value);
		umask |= e->combo;
	}
	take(&best, state_get(active ? NNP_S_STAR_B : NNP_S_STAR_A));
	struct ranges_ctx rc = { .ranges = ranges, .uid = uid, .best = &best, .mask = &umask,
				 .n = state_get(active ? NNP_S_NRANGES_B : NNP_S_NRANGES_A) };
	bpf_loop(NNP_MAX_RANGES, range_step, &rc, 0);
	e = bpf_map_lookup_elem(gids, &gid);
	if (e) {
		take(&best, e->value);
		gmask |= e->combo;
	}
	/* the supplementary groups: read, not dereferenced (indexed by a variable, read one
	 * by one), in a global function */
	struct nnp_group_out go = { .best = best, .mask = 0, .unread = 0 };
	nnp_group_rules((__u64)BPF_CORE_READ(old, group_info), active, &go);
	best = go.best;
	gmask |= go.mask;
	if (go.unread)
		*unread = 1;
	if (umask & gmask) {
		struct combo_ctx cc = { .combo = combo, .matched = umask & gmask, .best = &best };
		bpf_loop(NNP_MAX_COMBO, combo_step, &cc, 0);
	}
	return best;
}

static __always_inline int verdict(const struct cred *old, struct file *file, __u32 *value);

/* The common exec first: new ids the caller's real ones and no capability the caller does
 * not already hold. Every exec this passes, raises() passes too (it is a narrower test), so
 * it only saves work: six loads and no call on the path nearly every exec takes. */
static __always_inline int keeps_real_ids(const struct cred *old, const struct cred *new)
{
	__u32 uid = old->uid.val, gid = old->gid.val;
	__u64 operm = cap_perm(old);
	return new->euid.val == uid && new->fsuid.val == uid && new->egid.val == gid &&
	       new->fsgid.val == gid && !((cap_perm(new) | cap_eff(new)) & ~operm);
}

/* 0: allow; otherwise the event action (refuse or audit) with *value the deciding rule, for
 * an exec of a non-root caller that keeps_real_ids() did not pass. */
static __always_inline int decide(const struct cred *old, const struct cred *new,
				  struct file *file, __u32 *value)
{
	if (!raises(old, new))
		return 0;
	if (in_rootless_userns(new))
		return 0;
	count(NNP_C_RAISING);
	return verdict(old, file, value);
}

/* The rule's part of decide(), once the exec is known to raise (or, for nnp_degrade, could):
 * 0: allow; otherwise the event action with *value the deciding rule. */
static __always_inline int verdict(const struct cred *old, struct file *file, __u32 *value)
{
	int unread = 0;
	/* the table set in force, read once: the rules and the allow list of one policy */
	__u32 active = state_get(NNP_S_ACTIVE);
	__u32 best = rule_for(old, active, &unread);
	/* every doubt toward restriction: groups that could not all be read refuse a
	 * privilege-raising exec unless an enforcing rule already decides (an unread group
	 * could belong to an earlier enforcing rule than an exemption or audit rule found) */
	if (unread && (!best || (best & 3) != NNP_V_ENFORCE)) {
		*value = 0;
		return NNP_A_REFUSED;
	}
	if (!best || (best & 3) == NNP_V_EXEMPT)
		return 0;
	if (file) {
		struct nnp_file_key id = {};
		nnp_file_key(file, &id);
		if (bpf_map_lookup_elem(active ? (void *)&allow_b : (void *)&allow_a, &id))
			return 0;
	}
	*value = best;
	return (best & 3) == NNP_V_AUDIT ? NNP_A_AUDIT : NNP_A_REFUSED;
}

/* Count the exec in report_map under (rule, uid, file). */
static __always_inline void tally(struct linux_binprm *bprm, struct file *file, __u32 value,
				  __u32 action)
{
	struct nnp_report_key k = {};
	__u64 now = bpf_ktime_get_boot_ns();
	k.value = value;
	k.uid = (__u32)bpf_get_current_uid_gid();
	if (file)
		nnp_file_key(file, &k.file);
	struct nnp_report_value *v = bpf_map_lookup_elem(&report_map, &k);
	if (!v) {
		__u32 zero = 0;
		struct nnp_report_value *n = bpf_map_lookup_elem(&report_new, &zero);
		if (!n)
			return;
		n->count = 0;
		n->last_ns = now;
		n->action = action;
		bpf_probe_read_kernel_str(n->file, sizeof(n->file), BPF_CORE_READ(bprm, filename));
		bpf_map_update_elem(&report_map, &k, n, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&report_map, &k);
		if (!v)
			return;
	}
	__sync_fetch_and_add(&v->count, 1);
	v->last_ns = now;
	v->action = action;
}

/* Count the exec under its rule in rule_counts (rules beyond the array: the last slot). */
static __always_inline void count_rule(__u32 value, __u32 action)
{
	__u32 i = value >> 2;
	if (i > NNP_MAX_RULE_COUNTS)
		i = NNP_MAX_RULE_COUNTS + 1;
	struct nnp_rule_count *c = bpf_map_lookup_elem(&rule_counts, &i);
	if (!c)
		return;
	if (action == NNP_A_AUDIT)
		__sync_fetch_and_add(&c->audit, 1);
	else if (action == NNP_A_KILLED)
		__sync_fetch_and_add(&c->killed, 1);
	else
		__sync_fetch_and_add(&c->refused, 1);
}

static __always_inline void report(struct linux_binprm *bprm, struct file *file, __u32 value,
				   __u32 action)
{
	count(action == NNP_A_AUDIT ? NNP_C_AUDITED : NNP_C_REFUSED);
	count_rule(value, action);
	tally(bprm, file, value, action);
	struct nnp_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;
	struct task_struct *task = bpf_get_current_task_btf();
	e->time_ns = bpf_ktime_get_boot_ns();
	e->pid = BPF_CORE_READ(task, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->value = value;
	e->action = action;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	const char *fname = BPF_CORE_READ(bprm, filename);
	bpf_probe_read_kernel_str(e->file, sizeof(e->file), fname);
	bpf_ringbuf_submit(e, 0);
}

/* guard_action = "degrade": did nnp_degrade's request take a raise away from this exec? The
 * exec holds LSM_UNSAFE_NO_NEW_PRIVS without the task's own no_new_privs (only the
 * bprm_no_new_privs hook sets it so), and the file would have raised: set-user-ID, or
 * set-group-ID and group-executable, to an id other than the caller's real one on a mount
 * that honours them (bprm_fill_uid() skipped them), or file capabilities the caller lacks
 * (cap_bprm_creds_from_file(), the LSM before this one, marked PER_CLEAR_ON_SETID before it
 * took them away). The file is the one credentials come from: a script's interpreter. */
static __always_inline int degraded(struct linux_binprm *bprm, struct file *file)
{
	if (!(BPF_CORE_READ(bprm, unsafe) & LSM_UNSAFE_NO_NEW_PRIVS))
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (BPF_CORE_READ(task, atomic_flags) & (1UL << PFA_NO_NEW_PRIVS))
		return 0;
	if (BPF_CORE_READ(bprm, per_clear) & PER_CLEAR_ON_SETID)
		return 1;
	if (BPF_CORE_READ(file, f_path.mnt, mnt_flags) & MNT_NOSUID)
		return 0;
	const struct cred *old = task->cred;
	if (!old)
		return 0;
	__u32 mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & NNP_S_ISUID) && BPF_CORE_READ(file, f_inode, i_uid.val) != old->uid.val)
		return 1;
	if ((mode & (NNP_S_ISGID | NNP_S_IXGRP)) == (NNP_S_ISGID | NNP_S_IXGRP) &&
	    BPF_CORE_READ(file, f_inode, i_gid.val) != old->gid.val)
		return 1;
	return 0;
}

/* An exec keeps_real_ids() could not pass: decide, then count and report what is not allowed
 * (kill: SIGKILL what is refused, the tracepoint's way). Returns the event action (0: allow).
 * Not inlined, so its code and its stack (the report's records) stay off the path of the
 * common exec: the JIT gives a function with 64 bytes of stack or more a per-CPU private
 * stack, whose cache lines every exec would then touch. */
static __noinline int check_rest(struct linux_binprm *bprm, struct file *file,
				 const struct cred *old, const struct cred *new, int kill)
{
	__u32 value = 0;
	int action = decide(old, new, file, &value);
	if (!action)
		return 0;
	if (kill && action == NNP_A_REFUSED) {
		bpf_send_signal(SIGKILL);
		action = NNP_A_KILLED;
	}
	report(bprm, file, value, action);
	return action;
}

/* Every exec: 0 (allowed) or the event action, reported. task: the current task. */
static __always_inline int check_exec(struct task_struct *task, struct linux_binprm *bprm,
				      struct file *file, int kill)
{
	const struct cred *old = task->cred;
	const struct cred *new = bprm->cred;
	if (!old || !new)
		return 0;
	if (old->uid.val == 0)
		return 0; /* root is never guarded */
	if (keeps_real_ids(old, new))
		return 0;
	return check_rest(bprm, file, old, new, kill);
}

SEC("lsm/bprm_creds_from_file")
int BPF_PROG(nnp_lsm, struct linux_binprm *bprm, struct file *file, int ret)
{
	count(NNP_C_EXECS);
	if (ret)
		return ret;
	if (degraded(bprm, file))
		count(NNP_C_DEGRADED);
	int action = check_exec(bpf_get_current_task_btf(), bprm, file, 0);
	return action == NNP_A_REFUSED ? -EPERM : 0;
}

SEC("tp_btf/sched_prepare_exec")
int BPF_PROG(nnp_kill, struct task_struct *task, struct linux_binprm *bprm)
{
	count(NNP_C_EXECS);
	/* task is current (fs/exec.c: trace_sched_prepare_exec(current, bprm)); the argument
	 * spares a helper call on every exec */
	check_exec(task, bprm, bprm->file, 1);
	return 0;
}

/* guard_action = "degrade" (state[NNP_S_ACTION]), on kernels with the bprm_no_new_privs hook:
 * ask that an exec the guard would refuse run with the caller's privileges instead. The hook
 * runs before the kernel and the LSMs compute the new credentials, so "does it raise?" is not
 * known yet: every exec decide() would refuse if it raised is asked about (same rules, same
 * userns and guard_allow exceptions). For an exec that raises nothing that changes nothing.
 * The answer holds for the whole exec: binfmt_script reuses the bprm, so a setuid interpreter
 * named by a script asked about is degraded too. What still raises (a guard_allow file left
 * alone here whose interpreter is not allowed) meets nnp_lsm and is refused as before. */
SEC("lsm/bprm_no_new_privs")
int BPF_PROG(nnp_degrade, struct linux_binprm *bprm, int ret)
{
	if (ret)
		return ret;
	if (state_get(NNP_S_ACTION) != NNP_ACTION_DEGRADE)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *old = task->cred;
	const struct cred *new = bprm->cred;
	if (!old || !new || BPF_CORE_READ(old, uid.val) == 0)
		return 0;
	if (in_rootless_userns(new))
		return 0;
	__u32 value = 0;
	return verdict(old, BPF_CORE_READ(bprm, file), &value) == NNP_A_REFUSED ? 1 : 0;
}
