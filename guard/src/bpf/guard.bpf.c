// SPDX-License-Identifier: GPL-2.0
/* nnp exec guard: refuse an exec whose new credentials raise privileges over the caller's,
 * in the initial user namespace, for users the first matching rule restricts.
 *
 * Two attach points share one decision:
 *  - lsm/bprm_creds_from_file (BPF LSM): the exec fails with -EPERM;
 *  - tp_btf/sched_prepare_exec (kernels without usable BPF LSM, 6.10+): the task gets
 *    SIGKILL before the new image runs a single instruction.
 * The tables come in two sets (A and B); state[0] says which is active, so a reload fills the
 * inactive set and flips one u32: never a moment without a policy. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define MAX_RANGES 256
#define MAX_GROUPS 65536 /* NGROUPS_MAX: every supplementary group is looked at */
#define EPERM 1
#define SIGKILL 9

enum { V_EXEMPT = 0, V_ENFORCE = 1, V_AUDIT = 2 };
enum { S_ACTIVE = 0, S_STAR_A = 1, S_STAR_B = 2, S_NRANGES_A = 3, S_NRANGES_B = 4, S_NSTATE = 8 };
enum { C_EXECS = 0, C_RAISING = 1, C_REFUSED = 2, C_AUDITED = 3, C_NCOUNTERS = 4 };

struct range { __u32 lo, hi, value; };
struct file_id { __u64 dev; __u64 ino; };

struct event {
	__u64 time_ns;
	__u32 pid;
	__u32 uid;
	__u32 value;     /* the rule: index << 2 | verdict */
	__u32 action;    /* 1 refused (EPERM), 2 killed, 3 audit: would refuse */
	__u64 dev;
	__u64 ino;
	char comm[16];
	char file[128];
};

#define TABLE(name, ktype, vtype, n) \
	struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, n); \
		 __type(key, ktype); __type(value, vtype); } name SEC(".maps")
TABLE(uids_a, __u32, __u32, 65536);
TABLE(uids_b, __u32, __u32, 65536);
TABLE(gids_a, __u32, __u32, 65536);
TABLE(gids_b, __u32, __u32, 65536);
TABLE(allow_a, struct file_id, __u32, 1024);
TABLE(allow_b, struct file_id, __u32, 1024);

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, MAX_RANGES);
	 __type(key, __u32); __type(value, struct range); } ranges_a SEC(".maps"), ranges_b SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, S_NSTATE);
	 __type(key, __u32); __type(value, __u32); } state SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, C_NCOUNTERS);
	 __type(key, __u32); __type(value, __u64); } counters SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 256 * 1024); } events SEC(".maps");

/* kernel_cap_t before 6.3 */
struct kernel_cap_struct___old { __u32 cap[2]; } __attribute__((preserve_access_index));
struct cred___old {
	struct kernel_cap_struct___old cap_permitted;
	struct kernel_cap_struct___old cap_effective;
} __attribute__((preserve_access_index));

static __always_inline __u64 cap_perm(const struct cred *c)
{
	if (bpf_core_type_exists(struct kernel_cap_struct___old)) {
		const struct cred___old *o = (const void *)c;
		__u32 lo = BPF_CORE_READ(o, cap_permitted.cap[0]);
		__u32 hi = BPF_CORE_READ(o, cap_permitted.cap[1]);
		return ((__u64)hi << 32) | lo;
	}
	return BPF_CORE_READ(c, cap_permitted.val);
}

static __always_inline __u64 cap_eff(const struct cred *c)
{
	if (bpf_core_type_exists(struct kernel_cap_struct___old)) {
		const struct cred___old *o = (const void *)c;
		__u32 lo = BPF_CORE_READ(o, cap_effective.cap[0]);
		__u32 hi = BPF_CORE_READ(o, cap_effective.cap[1]);
		return ((__u64)hi << 32) | lo;
	}
	return BPF_CORE_READ(c, cap_effective.val);
}

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

static __always_inline void take(__u32 *best, __u32 *v)
{
	if (v && *v && (!*best || (*v >> 2) < (*best >> 2)))
		*best = *v;
}

struct groups_ctx {
	const struct group_info *gi;
	void *gids;
	__u32 *best;
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
	take(ctx->best, bpf_map_lookup_elem(ctx->gids, &key));
	return 0;
}

struct ranges_ctx {
	void *ranges;
	__u32 uid;
	__u32 *best;
	__u32 n;
};

static long range_step(__u64 i, void *c)
{
	struct ranges_ctx *ctx = c;
	__u32 k = (__u32)i;
	if (k >= ctx->n)
		return 1;
	struct range *r = bpf_map_lookup_elem(ctx->ranges, &k);
	if (r && r->lo <= ctx->uid && ctx->uid <= r->hi)
		take(ctx->best, &r->value);
	return 0;
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

/* 0: allow; otherwise the event action (1 refuse, 3 audit) with *value the deciding rule */
static __always_inline int decide(struct linux_binprm *bprm, struct file *file, __u32 *value)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *old = BPF_CORE_READ(task, cred);
	const struct cred *new = BPF_CORE_READ(bprm, cred);
	if (!old || !new)
		return 0;
	count(C_EXECS);
	/* inside a user namespace with its own mapping: allowed */
	if (BPF_CORE_READ(new, user_ns, level) != 0)
		return 0;
	__u32 uid = BPF_CORE_READ(old, uid.val);
	if (uid == 0)
		return 0; /* root is never guarded */
	__u32 ouid = uid, oeuid = BPF_CORE_READ(old, euid.val), osuid = BPF_CORE_READ(old, suid.val);
	__u32 ogid = BPF_CORE_READ(old, gid.val), oegid = BPF_CORE_READ(old, egid.val),
	      osgid = BPF_CORE_READ(old, sgid.val);
	__u32 neuid = BPF_CORE_READ(new, euid.val), nfsuid = BPF_CORE_READ(new, fsuid.val);
	__u32 negid = BPF_CORE_READ(new, egid.val), nfsgid = BPF_CORE_READ(new, fsgid.val);
	const struct group_info *gi = BPF_CORE_READ(old, group_info);
	int ngroups = gi ? BPF_CORE_READ(gi, ngroups) : 0;
	int raising = 0;
	if (!in_ids(neuid, ouid, oeuid, osuid) || !in_ids(nfsuid, ouid, oeuid, osuid))
		raising = 1;
	if (!raising) {
		__u32 check[2] = { negid, nfsgid };
		for (int k = 0; k < 2; k++) {
			if (in_ids(check[k], ogid, oegid, osgid))
				continue;
			struct ingroups_ctx ic = { .gi = gi, .gid = check[k], .n = ngroups, .found = 0 };
			if (gi)
				bpf_loop(MAX_GROUPS, ingroup_step, &ic, 0);
			if (!ic.found)
				raising = 1;
		}
	}
	__u64 operm = cap_perm(old);
	if ((cap_perm(new) & ~operm) || (cap_eff(new) & ~operm))
		raising = 1;
	if (!raising)
		return 0;
	count(C_RAISING);

	__u32 active = state_get(S_ACTIVE);
	void *uids = active ? (void *)&uids_b : (void *)&uids_a;
	void *gids = active ? (void *)&gids_b : (void *)&gids_a;
	void *ranges = active ? (void *)&ranges_b : (void *)&ranges_a;
	void *allow = active ? (void *)&allow_b : (void *)&allow_a;
	__u32 best = 0;
	take(&best, bpf_map_lookup_elem(uids, &uid));
	__u32 star = state_get(active ? S_STAR_B : S_STAR_A);
	take(&best, &star);
	struct ranges_ctx rc = { .ranges = ranges, .uid = uid, .best = &best,
				 .n = state_get(active ? S_NRANGES_B : S_NRANGES_A) };
	bpf_loop(MAX_RANGES, range_step, &rc, 0);
	take(&best, bpf_map_lookup_elem(gids, &ogid));
	if (gi) {
		struct groups_ctx gc = { .gi = gi, .gids = gids, .best = &best, .n = ngroups, .failed = 0 };
		long done = bpf_loop(MAX_GROUPS, group_step, &gc, 0);
		/* every doubt toward restriction: groups that could not all be read refuse a
		 * privilege-raising exec unless a rule already restricts */
		if ((gc.failed || done < 0 || ngroups > MAX_GROUPS) && (!best || (best & 3) == V_EXEMPT)) {
			*value = 0;
			return 1;
		}
	}
	if (!best || (best & 3) == V_EXEMPT)
		return 0;
	struct file_id id = {};
	if (file) {
		id.dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
		id.ino = BPF_CORE_READ(file, f_inode, i_ino);
		if (bpf_map_lookup_elem(allow, &id))
			return 0;
	}
	*value = best;
	return (best & 3) == V_AUDIT ? 3 : 1;
}

static __always_inline void report(struct linux_binprm *bprm, struct file *file, __u32 value, __u32 action)
{
	count(action == 3 ? C_AUDITED : C_REFUSED);
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;
	struct task_struct *task = bpf_get_current_task_btf();
	e->time_ns = bpf_ktime_get_boot_ns();
	e->pid = BPF_CORE_READ(task, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->value = value;
	e->action = action;
	e->dev = file ? BPF_CORE_READ(file, f_inode, i_sb, s_dev) : 0;
	e->ino = file ? BPF_CORE_READ(file, f_inode, i_ino) : 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	const char *fname = BPF_CORE_READ(bprm, filename);
	bpf_probe_read_kernel_str(e->file, sizeof(e->file), fname);
	bpf_ringbuf_submit(e, 0);
}

SEC("lsm/bprm_creds_from_file")
int BPF_PROG(nnp_lsm, struct linux_binprm *bprm, struct file *file, int ret)
{
	if (ret)
		return ret;
	__u32 value = 0;
	int action = decide(bprm, file, &value);
	if (!action)
		return 0;
	report(bprm, file, value, action);
	return action == 1 ? -EPERM : 0;
}

SEC("tp_btf/sched_prepare_exec")
int BPF_PROG(nnp_kill, struct task_struct *task, struct linux_binprm *bprm)
{
	struct file *file = BPF_CORE_READ(bprm, file);
	__u32 value = 0;
	int action = decide(bprm, file, &value);
	if (!action)
		return 0;
	if (action == 1) {
		bpf_send_signal(SIGKILL);
		action = 2;
	}
	report(bprm, file, value, action);
	return 0;
}
