// The jailer's steps, in order (docs/jail.md says what each one defends against):
//
//   fds, environment -> cgroup -> namespaces -> fork (the child is pid 1 of its own pid
//   namespace; the parent stays as its unprivileged supervisor) -> hostname -> root (tmpfs)
//   -> mounts -> pivot_root -> rlimits -> capabilities -> uid/gid -> no_new_privs ->
//   parent-death signal -> seccomp -> exec.
//
// A failed step is reported on the status fd as "<step>: <message>" and the jailer exits
// with k_jail_failed; everything it made before forking is undone. Mounts need no undoing:
// they exist only in the jail's own mount namespace and vanish with it.
#pragma once

#include <chrono>
#include <string>

#include "jail/jail_spec.h"

namespace bulwark::jail {

// The jailer's exit code when a step failed (QEMU's own codes are small).
inline constexpr int k_jail_failed = 125;

// Runs the steps for spec; never returns (execs the program, or exits).
[[noreturn]] void run_jailer(const JailSpec& spec);

// bulwarkd's side of the status fd: what the jailer reported ("" when the program was exec'd,
// which closes the fd), or a timeout message.
std::string read_status(int fd, std::chrono::milliseconds timeout);

}  // namespace bulwark::jail
