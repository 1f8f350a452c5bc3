#include "jail/seccomp.h"

#include <sched.h>
#include <seccomp.h>

#include <cerrno>

namespace bulwark::jail {

std::vector<std::string> denied_syscalls(const SeccompOptions& options)
{
    std::vector<std::string> names {
        // leaving the box
        "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
        "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "open_by_handle_at", "name_to_handle_at",
        // other processes
        "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
        // the kernel's rarely used attack surface
        "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "init_module", "finit_module",
        "delete_module", "kexec_load", "kexec_file_load", "lookup_dcookie", "fanotify_init", "quotactl",
        "quotactl_fd", "nfsservctl", "vm86", "vm86old", "uselib", "acct", "swapon", "swapoff", "reboot",
        "syslog", "iopl", "ioperm", "mknod", "mknodat", "settimeofday", "clock_settime", "clock_adjtime",
        "adjtimex", "sethostname", "setdomainname", "personality", "io_uring_setup", "io_uring_enter",
        "io_uring_register",
    };
    if (!options.allow_userfaultfd)
        names.emplace_back("userfaultfd");
    return names;
}

VoidResult install_seccomp_filter(const SeccompOptions& options)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return Error(ErrorKind::Internal, "seccomp_init failed");
    struct Guard {
        scmp_filter_ctx ctx;
        ~Guard() { seccomp_release(ctx); }
    } guard {ctx};
    auto check = [](int rc, const std::string& what) -> VoidResult {
        if (rc < 0)
            return Error::from_errno("seccomp: " + what, -rc);
        return {};
    };
    // Foreign-architecture entry points bypass a filter written for the native table.
    TRY(check(seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS), "bad-arch action"));
    for (const auto& name : denied_syscalls(options)) {
        int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr == __NR_SCMP_ERROR)
            continue;  // not a syscall on this architecture
        TRY(check(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0), "deny " + name));
    }
    // clone(2) stays (threads need it), but not with a flag that makes a new namespace.
    for (int flag : {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP,
             CLONE_NEWTIME}) {
        TRY(check(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, static_cast<scmp_datum_t>(flag), static_cast<scmp_datum_t>(flag))),
            "deny clone with namespace flags"));
    }
    // clone3 passes its flags in memory, where a filter cannot look: make it unknown, and
    // glibc falls back to clone(2).
    TRY(check(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "deny clone3"));
    TRY(check(seccomp_load(ctx), "load"));
    return {};
}

}  // namespace bulwark::jail
