// The jailer's own seccomp filter, loaded just before exec and kept by QEMU for its whole
// life (QEMU's -sandbox stacks its filter on top once it has parsed its command line).
//
// It is a deny-list: QEMU needs hundreds of syscalls, but none of the ones below. They are
// the ones an escaped guest would use to leave the box or to attack the kernel through rarely
// used code: new namespaces (user namespaces above all), mounts, module and kexec loading,
// BPF, perf, keyrings, ptrace, handle-based opens that bypass the mount tree. Calls for a
// foreign architecture (x32, i386 entry points) kill the process.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace bulwark::jail {

struct SeccompOptions {
    // Background snapshots need userfaultfd(2) in QEMU (see docs/jail.md).
    bool allow_userfaultfd = false;
};

// The syscalls the filter refuses with EPERM (clone3 gets ENOSYS so that threads fall back
// to clone(2), whose namespace flags the filter can see).
std::vector<std::string> denied_syscalls(const SeccompOptions& options);

// Loads the filter into the calling thread (no_new_privs must already be set).
VoidResult install_seccomp_filter(const SeccompOptions& options);

}  // namespace bulwark::jail
