/* The kernel types the nnp guard reads, declared by hand with preserve_access_index: the
 * CO-RE loader relocates every field access against the running kernel's BTF, so this file
 * needs only the fields used, not a full (multi-megabyte) vmlinux.h. Layout-sensitive type:
 * kernel_cap_t is { u64 val } since Linux 6.3 and struct kernel_cap_struct { u32 cap[2] }
 * before; guard.bpf.c reads the old layout through the ___old flavour. */
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
	BPF_MAP_TYPE_RINGBUF = 27,
};

#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)

typedef struct { uid_t val; } kuid_t;
typedef struct { gid_t val; } kgid_t;
typedef struct { __u64 val; } kernel_cap_t;

struct user_namespace {
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
	unsigned long i_ino;
	struct super_block *i_sb;
};

struct file {
	struct inode *f_inode;
};

struct linux_binprm {
	struct file *file;
	struct cred *cred;
	const char *filename;
};

struct task_struct {
	int pid;
	int tgid;
	const struct cred *cred;
	char comm[16];
};

#pragma clang attribute pop

#endif
