// SPDX-License-Identifier: GPL-2.0
/* guard_allow keys from the kernel: the loader opens each allowed path and runs this
 * task_file iterator, which writes, for every open descriptor of the loader's own process,
 * the file's identity exactly as guard.bpf.c computes it at exec (nnp_file_key). So the
 * allow table holds what exec will see on every filesystem (btrfs subvolumes report
 * another device to stat(2); overlayfs inodes are the overlay's), never a guess. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "guard.h"
#include "filekey.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Makes struct nnp_fd_key part of the BTF, so the skeleton has its Rust type. */
struct nnp_fd_key nnp_fd_key_type = {};

SEC("iter/task_file")
int nnp_allow_key(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct nnp_fd_key out = {};

	/* the reader of the iterator is the loader: its tgid as the kernel counts it (the
	 * loader may run in another pid namespace, where getpid() differs) */
	if (!task || !file || BPF_CORE_READ(task, tgid) != (__u32)(bpf_get_current_pid_tgid() >> 32))
		return 0;
	out.fd = ctx->fd;
	nnp_file_key(file, &out.key);
	bpf_seq_write(ctx->meta->seq, &out, sizeof(out));
	return 0;
}
