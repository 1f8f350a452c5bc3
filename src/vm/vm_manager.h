// Guests: a qcow2 overlay on a golden image plus a spec, run by QEMU.
//
// Every operation on one guest holds that guest's operation lock, so they are serialised;
// operations on different guests run in parallel. QEMU runs in its own session and outlives
// bulwarkd; a restarted bulwarkd reattaches (see reconcile()).
//
// Persisted guest states: stopped, starting (QEMU spawned, not yet answering QMP), running,
// stopping. Transitional states found at start-up are repaired by reconcile().
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "base/json.h"
#include "base/process.h"
#include "base/result.h"
#include "jail/cgroup.h"
#include "jail/guest_jail.h"
#include "qemu/guest_agent.h"
#include "net/network.h"
#include "vm/monitor.h"

namespace bulwark {

class Db;
class ImageStore;
struct VerifiedImage;

struct VmConfig {
    std::string home;
    std::string qemu_binary = "qemu-system-x86_64";
    std::string qemu_img = "qemu-img";
    bool kvm = false;
    // A guest can print without end: its console log is cut back to its last part when it
    // grows past this (checked every second).
    uint64_t console_limit = 16 << 20;
    // Every QEMU runs inside its own jail (docs/jail.md) unless this is switched off, which
    // only the jail's own benchmark and hosts without root should do.
    bool jail = true;
    std::string jailer_binary;  // bulwark-jailer
    jail::GuestJailConfig jail_config;
};

struct CreateVmRequest {
    std::string name;
    std::string image;  // "name" or "name:version"
    int64_t cpus = 1;
    int64_t memory_mib = 256;
    bool ephemeral = false;
    std::vector<net::NicRequest> nics;  // one per --net, on Bulwark's switch
};

struct VmRecord {
    int64_t id = 0;
    std::string name;
    int64_t image_id = 0;
    int64_t cpus = 0;
    int64_t memory_mib = 0;
    bool ephemeral = false;
    std::string state;
    int64_t pid = 0;
    int64_t pid_start_time = 0;
    std::string accel;
    int64_t jail_uid = 0;  // 0: not jailed
    bool quarantined = false;  // its NICs reach analysis guests only (net/network.h)
    std::string created;
    std::string started;
    std::string stopped;
};

struct SnapshotRecord {
    std::string name;
    std::string created;
    bool has_memory = false;
    int64_t vm_state_size = 0;
    int64_t disk_size = 0;
    Json to_json() const;
};

class VmManager {
public:
    static Result<std::unique_ptr<VmManager>> create(Db& db, ImageStore& images, VmConfig config);
    ~VmManager();

    // At start-up: reattach to QEMU processes that are still running, mark the rest stopped.
    VoidResult reconcile();

    Result<Json> create_vm(const CreateVmRequest& request);
    Result<Json> start(const std::string& name);
    Result<Json> stop(const std::string& name, std::chrono::seconds timeout);
    Result<Json> kill(const std::string& name);
    VoidResult remove(const std::string& name);
    Result<Json> list();
    Result<Json> show(const std::string& name);
    Result<Json> console(const std::string& name, int64_t offset, int64_t max_bytes);
    Result<GuestExecResult> exec(const std::string& name, const std::vector<std::string>& argv, std::chrono::seconds timeout);

    Result<SnapshotRecord> snapshot_create(const std::string& vm, const std::string& snapshot);
    Result<std::vector<SnapshotRecord>> snapshot_list(const std::string& vm);
    Result<Json> snapshot_revert(const std::string& vm, const std::string& snapshot);
    VoidResult snapshot_remove(const std::string& vm, const std::string& snapshot);

    Result<Json> events(const std::string& vm, int64_t count);

    // Moves every port of the guest into (or out of) quarantine, at once if it runs; the flag
    // is stored, so it holds across restarts of the guest, the switch and the daemon.
    Result<Json> quarantine(const std::string& name, bool quarantined);
    // The network side (may be null: no guest then has a NIC).
    void set_network(net::Network* network) { m_network = network; }
    net::Network* network() const { return m_network; }
    Result<int64_t> id_of(const std::string& name);

    std::string accel_name() const { return m_config.kvm ? "kvm" : "tcg"; }

private:
    struct Runtime {
        std::mutex op;     // serialises operations on this guest
        std::mutex agent;  // serialises guest-agent sessions (exec)
        std::mutex mu;  // guards the fields below
        std::condition_variable exited;
        pid_t pid = 0;
        bool running = false;
        bool expecting_exit = false;
    };

    VmManager(Db& db, ImageStore& images, VmConfig config) : m_db(db), m_images(images), m_config(std::move(config)) {}

    std::shared_ptr<Runtime> runtime(const std::string& name);
    Result<VmRecord> load(const std::string& name);
    std::string vm_dir(const std::string& name) const;
    std::string run_dir(int64_t id) const;
    std::string overlay_path(const std::string& name) const { return vm_dir(name) + "/disk.qcow2"; }
    VoidResult create_overlay(const VerifiedImage& image, const std::string& overlay);
    Result<Json> start_locked(const VmRecord& rec, Runtime& rt, const std::string& loadvm);
    Result<Json> terminate_locked(const VmRecord& rec, Runtime& rt, std::chrono::seconds graceful_timeout, bool graceful);
    void watch(const std::string& name, pid_t pid, Fd pidfd, Runtime& rt);
    void on_exit(const std::string& name, pid_t pid, std::optional<ExitStatus> status);
    void add_event(const std::string& vm, const std::string& kind, const std::string& message);
    Result<Json> overlay_info(const std::string& overlay);
    Json describe(const VmRecord& rec);
    Json describe(const VmRecord& rec, const std::string& image_ref);
    std::string image_ref(int64_t image_id);

    Db& m_db;
    ImageStore& m_images;
    VmConfig m_config;
    void trim_consoles();

    // Everything a guest's last run left on the host (its cgroup and any process still in it,
    // its jail directory) is removed; the guest's record is not touched.
    void clean_up_jail(int64_t vm_id);

    net::Network* m_network = nullptr;
    std::optional<jail::CgroupLayout> m_cgroups;
    std::unique_ptr<ProcessMonitor> m_monitor;
    std::thread m_janitor;
    std::mutex m_janitor_mutex;
    std::condition_variable m_janitor_wake;
    bool m_stopping = false;
    std::mutex m_runtimes_mutex;
    std::map<std::string, std::shared_ptr<Runtime>> m_runtimes;
};

}  // namespace bulwark
