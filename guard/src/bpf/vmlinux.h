/* The kernel types the nnp guard reads, declared by hand with preserve_access_index: the
 * CO-RE loader relocates every field access against the running kernel's BTF, so this file
 * needs only the fields used, not a full (multi-megabyte) vmlinux.h. Layout-sensitive type:
 * kernel_cap_t is { u64 val } since Linux 6.3 and struct kernel_cap_struct { u32 cap[2] }
 * before; guard.bpf.c reads the old layout through the ___old flavour. The inode's change
 * time has three layouts (the inode___v* flavours). */
#ifndef NNP_VMLINUX_H
#define NNP_VMLINUX_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define BPF_F_NO_PREALLOC 1
enum { false = 0, true = 1 };
typedef __u32 u32;
typedef __u64 u64;
typedef unsigned int uid_t;
typedef unsigned int gid_t;
typedef __u32 dev_t;

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum { BPF_ANY = 0, BPF_NOEXIST = 1, BPF_EXIST = 2 };

typedef __s64 time64_t;
struct timespec64 {
	time64_t tv_sec;
	long tv_nsec;
};

#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)

typedef struct { uid_t val; } kuid_t;
typedef struct { gid_t val; } kgid_t;
typedef struct { __u64 val; } kernel_cap_t;

struct uid_gid_extent {
	u32 first;
	u32 lower_first;
	u32 count;
};

/* Up to 5 extents are stored inline; more live behind pointers (the guard then treats the
 * namespace like the initial one rather than read them). */
struct uid_gid_map {
	u32 nr_extents;
	struct uid_gid_extent extent[5];
};

struct user_namespace {
	struct uid_gid_map uid_map;
	struct uid_gid_map gid_map;
	struct user_namespace *parent;
	int level;
};

struct group_info {
	int ngroups;
	kgid_t gid[];
};

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t suid;
	kgid_t sgid;
	kuid_t euid;
	kgid_t egid;
	kuid_t fsuid;
	kgid_t fsgid;
	kernel_cap_t cap_permitted;
	kernel_cap_t cap_effective;
	struct user_namespace *user_ns;
	struct group_info *group_info;
};

struct super_block {
	dev_t s_dev;
};

struct inode {
	unsigned short i_mode; /* umode_t */
	kuid_t i_uid;
	kgid_t i_gid;
	unsigned long i_ino;
	struct super_block *i_sb;
	__u32 i_generation;
};

/* The inode's change time moved three times: i_ctime (timespec64) before 6.6, __i_ctime
 * (timespec64) in 6.6-6.10, i_ctime_sec + i_ctime_nsec since 6.11. */
struct inode___v61 {
	struct timespec64 i_ctime;
};
struct inode___v66 {
	struct timespec64 __i_ctime;
};
struct inode___v611 {
	time64_t i_ctime_sec;
	u32 i_ctime_nsec;
};

struct vfsmount {
	int mnt_flags;
};

struct path {
	struct vfsmount *mnt;
};

struct file {
	struct path f_path;
	struct inode *f_inode;
};

struct linux_binprm {
	struct file *file;
	struct cred *cred;
	const char *filename;
	int unsafe;            /* LSM_UNSAFE_* */
	unsigned int per_clear; /* personality flags to clear */
};

struct signal_struct {
	int nr_threads;
};

struct task_struct {
	unsigned int flags;
	unsigned long atomic_flags;
	int exit_state;
	int pid;
	int tgid;
	u64 start_boottime;
	const struct cred *real_cred;
	const struct cred *cred;
	char comm[16];
	struct task_struct *group_leader;
	struct signal_struct *signal;
};

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
	u64 session_id;
	u64 seq_num;
};

struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	u32 fd;
	struct file *file;
};

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
};

#pragma clang attribute pop

#endif
