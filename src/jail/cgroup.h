// Per-guest cgroups: CPU bandwidth, memory and pid limits that hold QEMU from its first
// instruction, and the handle bulwarkd uses to find and kill everything a guest left running.
//
// Both layouts are supported: cgroup v1 (one hierarchy per controller, as on this project's
// CI machines) and the unified v2 hierarchy (Debian 12's default). Guests live below
// "<root>/bulwark/<instance>/<guest>", outside any service manager's tree.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "base/result.h"
#include "jail/jail_spec.h"

namespace bulwark::jail {

struct CgroupLayout {
    bool unified = false;             // cgroup v2
    std::string root;                 // "/sys/fs/cgroup"
    // The directories a guest's cgroup path is created under: one per controller (v1), or
    // the root itself (v2).
    std::vector<std::string> hierarchies;
};

// Finds the controllers a jail needs (cpu, memory, pids) under root.
Result<CgroupLayout> detect_cgroups(const std::string& root = "/sys/fs/cgroup");

// Creates the cgroup at path (relative, e.g. "bulwark/1a2b3c/vm-7") in every hierarchy and
// writes the limits. A leftover empty cgroup of the same name is reused; one that still holds
// processes is a conflict. On failure nothing is left behind.
VoidResult cgroup_create(const CgroupLayout& layout, const std::string& path, const Limits& limits);

// Moves pid into the cgroup in every hierarchy.
VoidResult cgroup_join(const CgroupLayout& layout, const std::string& path, pid_t pid);

// Moves pid back to the root cgroup in every hierarchy (so its own cgroup can be removed).
VoidResult cgroup_leave(const CgroupLayout& layout, pid_t pid);

// Every process in the cgroup (any hierarchy), as host pids.
std::vector<pid_t> cgroup_processes(const CgroupLayout& layout, const std::string& path);

bool cgroup_exists(const CgroupLayout& layout, const std::string& path);

// How many times the memory limit made the kernel kill a process in the cgroup.
uint64_t cgroup_oom_kills(const CgroupLayout& layout, const std::string& path);

// Kills every process still in the cgroup, waits until it is empty and removes it. A missing
// cgroup is not an error.
VoidResult cgroup_destroy(const CgroupLayout& layout, const std::string& path,
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace bulwark::jail
