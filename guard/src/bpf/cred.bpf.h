/* SPDX-License-Identifier: GPL-2.0 */
/* A credential's capability sets, on every kernel layout: kernel_cap_t is { u64 val } since
 * Linux 6.3 and struct kernel_cap_struct { u32 cap[2] } before (the ___old flavour). Used by
 * the guard (guard.bpf.c) and by audit's task iterator (tasks.bpf.c). */
#ifndef NNP_CRED_BPF_H
#define NNP_CRED_BPF_H

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
		__u32 lo = o->cap_permitted.cap[0];
		__u32 hi = o->cap_permitted.cap[1];
		return ((__u64)hi << 32) | lo;
	}
	return c->cap_permitted.val;
}

static __always_inline __u64 cap_eff(const struct cred *c)
{
	if (bpf_core_type_exists(struct kernel_cap_struct___old)) {
		const struct cred___old *o = (const void *)c;
		__u32 lo = o->cap_effective.cap[0];
		__u32 hi = o->cap_effective.cap[1];
		return ((__u64)hi << 32) | lo;
	}
	return c->cap_effective.val;
}

#endif
