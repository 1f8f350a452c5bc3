// The jail of one guest: which host files its QEMU sees, where, and with which limits.
// bulwarkd builds it for every start; the security tests build the same one to run a probe
// in QEMU's place.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "jail/jail_spec.h"
#include "qemu/command_line.h"

namespace bulwark::jail {

// The jail-side paths QEMU is given (the host files are bind-mounted there).
inline constexpr const char* k_jail_base = "/disk/base.qcow2";
inline constexpr const char* k_jail_overlay = "/disk/overlay.qcow2";
inline constexpr const char* k_jail_kernel = "/boot/kernel";
inline constexpr const char* k_jail_initrd = "/boot/initrd";
inline constexpr const char* k_jail_console = "/log/console.log";
inline constexpr const char* k_jail_run = "/run";

inline constexpr uid_t k_default_uid_base = 2000000000;

struct GuestJailConfig {
    std::string home;                 // bulwarkd's data directory
    uid_t uid_base = k_default_uid_base;  // a guest's uid and gid are uid_base + its id
    uint32_t pids_max = 256;          // QEMU's threads (vCPUs, I/O workers, RCU...)
    uint64_t memory_overhead_mib = 384;  // QEMU itself, above the guest's RAM (TCG's code cache)
};

struct GuestJail {
    JailSpec spec;             // argv still empty: the caller sets the program
    QemuLaunchSpec qemu;       // the launch spec with every path rewritten to the jail's
    std::string run_dir;       // host path of the guest's socket directory (bind-mounted at /run)
};

// This daemon's cgroup parent ("bulwark/<12 hex of the home's digest>"): several daemons on
// one host never share cgroups.
std::string cgroup_parent(const std::string& home);
std::string guest_cgroup(const std::string& home, int64_t vm_id);
std::string guest_jail_root(const std::string& home, int64_t vm_id);
uid_t guest_uid(const GuestJailConfig& config, int64_t vm_id);

// What any dynamically linked program of this host needs in a jail: the binary itself (exec,
// at its real path), the shared libraries and the loader cache; with runtime_symlinks()
// for /lib and /lib64. Paths that do not exist are left out.
std::vector<BindMount> program_runtime_mounts(const std::string& binary);
std::vector<Symlink> runtime_symlinks();
// A character device of the host, made anew in the jail.
BindMount device_mount(const std::string& path);

// The host paths QEMU needs to run at all: program_runtime_mounts(QEMU), its firmware
// directories and the devices it opens.
std::vector<BindMount> qemu_runtime_mounts(const std::string& qemu_binary, bool kvm);

// Builds the jail for the guest described by host (its paths are host paths). The QEMU
// argv of the result (build_qemu_argv(result.qemu)) refers to jail paths only.
Result<GuestJail> make_guest_jail(const GuestJailConfig& config, int64_t vm_id, const QemuLaunchSpec& host,
    const std::string& run_dir);

}  // namespace bulwark::jail
