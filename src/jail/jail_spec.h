// What the jailer is asked to build: the complete description of one guest's box.
//
// bulwarkd fills a JailSpec, turns it into the jailer's argv (to_jailer_args), and the
// jailer parses it back (parse_jailer_args) and validates it before touching anything. The
// spec is the only input the jailer has: no environment, no config files.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"

namespace bulwark::jail {

// One file or directory of the host, made visible inside the jail.
struct BindMount {
    std::string source;     // host path (absolute, no symlink in its last component)
    std::string target;     // path inside the jail (absolute)
    bool writable = false;  // otherwise read-only
    bool device = false;    // a character device: made anew in the jail (mknod), not bound
    bool exec = false;      // executables and shared libraries: the mount allows exec
};

// A symbolic link created inside the jail (e.g. /lib64 -> usr/lib64).
struct Symlink {
    std::string link;    // path inside the jail
    std::string target;  // what it points to (relative or jail-absolute)
};

struct Limits {
    uint64_t memory_bytes = 0;     // memory cgroup limit (RSS + page cache)
    uint32_t cpu_percent = 0;      // CPU bandwidth: 100 per host CPU
    uint32_t pids_max = 0;         // processes and threads
};

inline constexpr uid_t k_min_jail_id = 1000;
inline constexpr uid_t k_max_jail_id = 0x7ffffffe;
inline constexpr size_t k_max_mounts = 64;
inline constexpr size_t k_max_args = 512;
inline constexpr size_t k_max_path = 1024;

struct JailSpec {
    std::string name;                // the guest's name: the jail's hostname, and in messages
    uid_t uid = 0;                   // the guest's own unprivileged uid and gid
    gid_t gid = 0;
    std::string root;                // empty host directory that becomes the jail's /
    std::string cgroup;              // cgroup path below each controller's root
    Limits limits;
    std::vector<BindMount> mounts;
    std::vector<Symlink> symlinks;
    int status_fd = -1;              // the jailer reports a failed step here (closed at exec)
    std::vector<int> keep_fds;       // further fds handed to QEMU as they are
    bool keep_sys_ptrace = false;    // the one exception: userfaultfd for background snapshots
    // A procfs of the jail's own PID namespace at /proc, showing process directories only
    // (subset=pid): the program itself and its children. QEMU gets none; the image
    // inspector gets one because sanitizer builds read /proc/self/maps.
    bool mount_proc = false;
    std::vector<std::string> argv;   // argv[0]: the program, as a path inside the jail
};

// Checks every field; the jailer refuses a spec that fails it, before any step.
VoidResult validate(const JailSpec& spec);

// The jailer's command line for spec (without the jailer's own path as argv[0]).
std::vector<std::string> to_jailer_args(const JailSpec& spec);
// The inverse, for the jailer's main: strict (unknown options, repeated scalars, numbers out
// of range and trailing garbage are errors), and the result is validated.
Result<JailSpec> parse_jailer_args(std::span<const std::string> args);

// Is path absolute and already normal (no "." or ".." components, no "//", no trailing '/')?
bool is_normal_absolute_path(const std::string& path);

}  // namespace bulwark::jail
