// SPDX-License-Identifier: GPL-2.0
/* nnpctl audit's view of every task: a task iterator that writes, for each thread of the
 * reader's pid namespace, its ids, its credentials (real, effective, saved, filesystem; the
 * objective ones, as /proc/PID/status shows them), whether it has no_new_privs, whether it is
 * a kernel thread, and its supplementary groups.
 *
 * Why in the kernel: a process that forks and exits in a loop lives for a fraction of a
 * millisecond, less than reading /proc takes under load. The iterator walks the tasks in pid
 * order and reads each one while holding it, so a chain of such processes (each child's pid
 * above its parent's, until the pid counter wraps, which the reader checks) is always met:
 * the walk cannot pass the chain's newest member. The one way a task's pid goes down is a
 * thread other than the leader running a program (it takes the process id): every record
 * carries its process's thread count, so the reader can re-read a process whose threads the
 * walk did not all meet. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "guard.h"
#include "cred.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Makes struct nnp_task part of the BTF, so the skeleton has its Rust type. */
struct nnp_task nnp_task_type = {};
enum nnp_task_flag nnp_task_flag_type = NNP_T_NNP;

#define PF_KTHREAD 0x00200000
#define PFA_NO_NEW_PRIVS 0

/* The record and its groups are written at once, so one task is never split. Room for twice
 * the groups that are written: the bound on the write's size is a mask the verifier follows. */
struct task_buf {
	struct nnp_task t;
	__u32 groups[2 * NNP_TASK_GROUPS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct task_buf);
} task_buf SEC(".maps");

SEC("iter/task")
int nnp_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct seq_file *seq = ctx->meta->seq;
	__u32 zero = 0;

	if (!task)
		return 0;
	struct task_buf *b = bpf_map_lookup_elem(&task_buf, &zero);
	if (!b) {
		/* cannot happen (a per-CPU array's slot 0); the reader then sees a task it
		 * cannot judge rather than no task */
		struct nnp_task t = {};
		t.tgid = task->tgid;
		t.pid = task->pid;
		t.flags = NNP_T_UNREAD;
		bpf_seq_write(seq, &t, sizeof(t));
		return 0;
	}
	struct nnp_task *t = &b->t;
	__builtin_memset(t, 0, sizeof(*t));
	t->tgid = task->tgid;
	t->pid = task->pid;
	/* the process's start and name (a thread can name itself anything) */
	struct task_struct *leader = task->group_leader;
	if (leader) {
		t->start = leader->start_boottime;
		bpf_probe_read_kernel(t->comm, sizeof(t->comm), leader->comm);
	}
	/* how many threads the process has: the reader re-reads, from /proc after the walk, a
	 * process the walk met fewer threads of (a thread that ran a program took the process
	 * id, which the walk may already have passed) */
	struct signal_struct *sig = task->signal;
	if (sig)
		t->threads = sig->nr_threads;
	if (task->atomic_flags & (1UL << PFA_NO_NEW_PRIVS))
		t->flags |= NNP_T_NNP;
	if (task->exit_state)
		t->flags |= NNP_T_EXITED;
	if (task->flags & PF_KTHREAD) {
		t->flags |= NNP_T_KTHREAD;
		bpf_seq_write(seq, t, sizeof(*t));
		return 0;
	}
	const struct cred *c = task->real_cred;
	if (!c) {
		t->flags |= NNP_T_UNREAD;
		bpf_seq_write(seq, t, sizeof(*t));
		return 0;
	}
	t->uid = c->uid.val;
	t->euid = c->euid.val;
	t->suid = c->suid.val;
	t->fsuid = c->fsuid.val;
	t->gid = c->gid.val;
	t->egid = c->egid.val;
	t->sgid = c->sgid.val;
	t->fsgid = c->fsgid.val;
	if (cap_perm(c))
		t->flags |= NNP_T_CAPS;
	const struct group_info *gi = c->group_info;
	int n = gi ? gi->ngroups : 0;
	__u32 want = n > 0 ? n : 0;
	t->ngroups = want;
	if (want > NNP_TASK_GROUPS) {
		t->flags |= NNP_T_TRUNCATED;
		want = NNP_TASK_GROUPS;
	}
	/* the size as the verifier must see it: masked in the register the calls use (clang
	 * would otherwise mask a copy), below the groups buffer */
	__u64 size = want * sizeof(__u32);
	asm volatile("%[size] &= %[mask]" : [size] "+r"(size) : [mask] "i"(2 * NNP_TASK_GROUPS * sizeof(__u32) - 1));
	if (size && bpf_probe_read_kernel(b->groups, size, &gi->gid[0])) {
		t->flags |= NNP_T_UNREAD;
		size = 0;
	}
	t->nwritten = size / sizeof(__u32);
	bpf_seq_write(seq, b, sizeof(*t) + size);
	return 0;
}
