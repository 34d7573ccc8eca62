/* SPDX-License-Identifier: GPL-2.0 */
/* The identity of an opened file, computed the same way by the guard (at exec) and by the
 * loader's iterator (for guard_allow): one function, so the two can never disagree. */
#ifndef NNP_FILEKEY_BPF_H
#define NNP_FILEKEY_BPF_H

static __always_inline void nnp_file_key(struct file *file, struct nnp_file_key *k)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);

	k->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	k->ino = BPF_CORE_READ(inode, i_ino);
	k->generation = BPF_CORE_READ(inode, i_generation);
	if (bpf_core_field_exists(((struct inode___v611 *)0)->i_ctime_sec)) {
		struct inode___v611 *i = (void *)inode;
		k->ctime_sec = BPF_CORE_READ(i, i_ctime_sec);
		/* since 6.13 the top bit is a flag (I_CTIME_QUERIED, multigrain timestamps)
		 * that flips when the file is stat'ed: keep the nanoseconds only */
		k->ctime_nsec = BPF_CORE_READ(i, i_ctime_nsec) & 0x3fffffff;
	} else if (bpf_core_field_exists(((struct inode___v66 *)0)->__i_ctime)) {
		struct inode___v66 *i = (void *)inode;
		k->ctime_sec = BPF_CORE_READ(i, __i_ctime.tv_sec);
		k->ctime_nsec = BPF_CORE_READ(i, __i_ctime.tv_nsec);
	} else {
		struct inode___v61 *i = (void *)inode;
		k->ctime_sec = BPF_CORE_READ(i, i_ctime.tv_sec);
		k->ctime_nsec = BPF_CORE_READ(i, i_ctime.tv_nsec);
	}
}

#endif
