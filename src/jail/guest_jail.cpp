#include "jail/guest_jail.h"

#include <sys/stat.h>

#include "base/hash.h"
#include "base/system.h"

namespace bulwark::jail {

std::string cgroup_parent(const std::string& home)
{
    return "bulwark/" + to_hex(Sha256::of(home)).substr(0, 12);
}

std::string guest_cgroup(const std::string& home, int64_t vm_id)
{
    return cgroup_parent(home) + "/vm-" + std::to_string(vm_id);
}

std::string guest_jail_root(const std::string& home, int64_t vm_id) { return home + "/jail/" + std::to_string(vm_id); }

uid_t guest_uid(const GuestJailConfig& config, int64_t vm_id) { return config.uid_base + static_cast<uid_t>(vm_id); }

// A directory or file of the host, by its real path (binds never follow a final symlink).
static std::optional<std::string> real_if_exists(const std::string& path)
{
    auto real = sys::realpath(path);
    if (real.is_error())
        return std::nullopt;
    return real.value();
}

// Adds path (by its real path, once) as a bind at the same place.
static void add_bind(std::vector<BindMount>& out, const std::string& path, bool exec)
{
    auto real = real_if_exists(path);
    if (!real)
        return;
    for (const auto& m : out) {
        if (m.target == *real)
            return;
    }
    BindMount m;
    m.source = *real;
    m.target = *real;
    m.exec = exec;
    out.push_back(std::move(m));
}

BindMount device_mount(const std::string& path)
{
    BindMount m;
    m.source = m.target = path;
    m.device = true;
    return m;
}

std::vector<BindMount> program_runtime_mounts(const std::string& binary)
{
    std::vector<BindMount> out;
    // The binary, at its own path: QEMU finds its firmware and modules relative to it.
    add_bind(out, binary, true);
    // Shared libraries (and QEMU's loadable modules below them), the dynamic loader and its
    // cache. Debian keeps them all in the multiarch directory; /lib and /lib64 become
    // symlinks into /usr (runtime_symlinks).
    add_bind(out, "/usr/lib/x86_64-linux-gnu", true);
    add_bind(out, "/usr/lib64", true);
    add_bind(out, "/etc/ld.so.cache", false);
    return out;
}

std::vector<Symlink> runtime_symlinks() { return {{"/lib", "usr/lib"}, {"/lib64", "usr/lib64"}}; }

std::vector<BindMount> qemu_runtime_mounts(const std::string& qemu_binary, bool kvm)
{
    std::vector<BindMount> out = program_runtime_mounts(qemu_binary);
    // Firmware: SeaBIOS, option ROMs, QEMU's own blobs and keymaps.
    add_bind(out, "/usr/share/qemu", false);
    add_bind(out, "/usr/share/seabios", false);
    add_bind(out, "/usr/lib/ipxe/qemu", false);
    for (const char* dev : {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"})
        out.push_back(device_mount(dev));
    if (kvm)
        out.push_back(device_mount("/dev/kvm"));
    return out;
}

Result<GuestJail> make_guest_jail(const GuestJailConfig& config, int64_t vm_id, const QemuLaunchSpec& host,
    const std::string& run_dir)
{
    if (vm_id <= 0 || static_cast<uint64_t>(config.uid_base) + static_cast<uint64_t>(vm_id) > k_max_jail_id)
        return Error(ErrorKind::InvalidArgument, "guest id " + std::to_string(vm_id) + " has no uid below the jail's maximum");
    GuestJail jail;
    JailSpec& s = jail.spec;
    s.name = host.name;
    s.uid = guest_uid(config, vm_id);
    s.gid = s.uid;
    s.root = guest_jail_root(config.home, vm_id);
    s.cgroup = guest_cgroup(config.home, vm_id);
    s.limits.memory_bytes = (static_cast<uint64_t>(host.memory_mib) + config.memory_overhead_mib) << 20;
    // One core per vCPU, and one more for QEMU's own threads (main loop, I/O, RCU): a quota
    // of exactly the vCPUs would throttle device emulation behind the vCPUs' backs.
    s.limits.cpu_percent = 100 * (std::max(1u, host.cpus) + 1);
    s.limits.pids_max = config.pids_max;
    s.mounts = qemu_runtime_mounts(host.qemu_binary, host.kvm);
    s.symlinks = runtime_symlinks();

    jail.qemu = host;
    // QEMU runs by its real path, where qemu_runtime_mounts put it.
    jail.qemu.qemu_binary = TRY_CTX(sys::realpath(host.qemu_binary), "QEMU binary");
    auto bind = [&](const std::string& source, const char* target, bool writable) {
        BindMount m;
        m.source = source;
        m.target = target;
        m.writable = writable;
        s.mounts.push_back(std::move(m));
        return std::string(target);
    };
    jail.qemu.base_disk = bind(host.base_disk, k_jail_base, false);
    jail.qemu.overlay = bind(host.overlay, k_jail_overlay, true);
    if (!host.kernel.empty())
        jail.qemu.kernel = bind(host.kernel, k_jail_kernel, false);
    if (!host.initrd.empty())
        jail.qemu.initrd = bind(host.initrd, k_jail_initrd, false);
    jail.qemu.console_log = bind(host.console_log, k_jail_console, true);
    bind(run_dir, k_jail_run, true);
    jail.qemu.qmp_socket = std::string(k_jail_run) + "/qmp.sock";
    jail.qemu.agent_socket = std::string(k_jail_run) + "/qga.sock";
    for (size_t i = 0; i < jail.qemu.nics.size(); ++i)
        jail.qemu.nics[i].socket = std::string(k_jail_run) + "/net" + std::to_string(i) + ".sock";
    jail.run_dir = run_dir;
    return jail;
}

}  // namespace bulwark::jail
