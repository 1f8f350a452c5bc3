// bulwarkd's side of the virtual network: the addresses it assigns, the state it keeps (in the
// database, so it survives restarts), and the switch worker it starts, feeds and supervises.
//
// The switch worker (bulwark-switch) runs in a jail of its own: uid BULWARK_JAIL_UID_BASE - 1,
// no network, no files. bulwarkd connects to each guest's `-netdev stream` socket (QEMU listens
// on it, in the guest's run directory) and hands the connected socket to the worker. If the
// worker dies, a new one is started and given the whole state again: segments, policy, rules,
// every running guest's ports (QEMU accepts a new connection) and their quarantine flags.
//
// Uplinks: on a segment the policy gives an uplink ([uplink] segments), each guest NIC gets a
// passt process of its own (Debian's passt: user-mode networking without privileges, which
// drops to the uid BULWARK_JAIL_UID_BASE - 2, seccomp-filters and namespaces itself, in a
// cgroup with limits set here). passt holds one end of a socketpair, the switch the other as
// the guest port's uplink; passt turns the guest's flows into sockets of the host's own. A passt
// that dies is restarted (with back-off); so is every passt when the switch worker restarts.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "base/json.h"
#include "base/result.h"
#include "base/socket.h"
#include "jail/cgroup.h"
#include "net/segment_policy.h"

namespace bulwark {

class Db;

namespace net {

inline constexpr int64_t k_max_nics = 8;

// Per-NIC rate limits `vm create --net` may set (the switch's defaults otherwise: 20,000
// frames/s and 50 MiB/s); 0 turns a limit off.
inline constexpr int64_t k_max_nic_fps = 10'000'000;
inline constexpr int64_t k_max_nic_mbit = 100'000;

struct NicRequest {
    std::string segment;
    Labels labels;
    std::optional<int64_t> max_fps; // frames/s
    std::optional<int64_t> max_bps; // bytes/s
};
// "SEGMENT[,label=K=V][,fps=N][,mbit=N]..." as `vm create --net` takes it.
Result<NicRequest> parse_nic_request(const std::string& text);

struct Nic {
    int64_t vm_id = 0;
    int64_t index = 0;
    std::string segment;
    std::string mac;
    std::string ip;
    Labels labels;
    std::optional<int64_t> max_fps, max_bps; // unset: the switch's defaults
    uint32_t port_id() const { return static_cast<uint32_t>(vm_id * 16 + index); }
    // The switch port of the NIC's uplink (index < k_max_nics, so it stays in the guest's 16).
    uint32_t uplink_port_id() const { return port_id() + static_cast<uint32_t>(k_max_nics); }
    Json to_json() const;
};

struct NetworkConfig {
    std::string home;
    std::string switch_binary; // bulwark-switch
    std::string jailer_binary;
    bool jailed = true;
    uid_t uid = 0; // the worker's uid and gid when jailed
    std::string passt_binary; // empty: no uplink can start (an error names the package)
    uid_t uplink_uid = 0; // passt's uid and gid (when bulwarkd runs as root)
    // The guest's stream socket of NIC `index` (a host path in its run directory).
    std::function<std::string(int64_t vm_id, int64_t index)> socket_path;
};

class Network {
public:
    static Result<std::unique_ptr<Network>> create(Db& db, NetworkConfig config);
    ~Network();

    // Assigns a MAC and an address on each requested segment (creating a segment, with the
    // next free 10.77.N.0/24, the first time it is named). Runs in the caller's transaction.
    Result<std::vector<Nic>> add_nics(int64_t vm_id, const std::vector<NicRequest>& requests);
    Result<std::vector<Nic>> nics(int64_t vm_id);

    // At daemon start, after the guests are reattached: when any running guest has a NIC, start
    // the worker (which reconnects them all).
    VoidResult resume();

    // The guest's QEMU is up: connect its ports to the switch. Errors are reported, and the
    // guest keeps running without network (nothing is half-connected: a port is added whole).
    VoidResult attach(int64_t vm_id, const std::string& vm_name);
    void detach(int64_t vm_id);

    // Parses and stores a TOML policy, and hands it to the switch; returns the compiled result.
    Result<Json> apply_policy(const std::string& text, const std::string& source);
    Result<Json> show_policy();
    // Stores and loads IDS rules; returns {rules, errors: [{line, error}]}.
    Result<Json> apply_rules(const std::string& text);
    VoidResult set_quarantine(int64_t vm_id, bool quarantined);
    Result<Json> status();
    // A capture of NIC `nic` of the guest (its uplink's traffic instead with `uplink`).
    VoidResult capture_start(int64_t vm_id, int64_t nic, bool uplink, Fd file);
    Result<Json> capture_stop(int64_t vm_id, int64_t nic, bool uplink);
    std::string socket_path(int64_t vm_id, int64_t index) const { return m_config.socket_path(vm_id, index); }
    std::string eve_path() const { return m_config.home + "/net/eve.json"; }

private:
    Network(Db& db, NetworkConfig config)
        : m_db(db)
        , m_config(std::move(config))
    {
    }

    // One request to the worker (serialised); starts the worker first when it is not running.
    Result<Json> request(const Json& message, const std::vector<int>& fds = {});
    Result<Json> request_locked(const Json& message, const std::vector<int>& fds);
    VoidResult start_worker_locked();
    VoidResult replay_locked();
    VoidResult attach_locked(int64_t vm_id, const std::string& vm_name);
    void supervise();

    struct Uplink {
        int64_t vm_id = 0;
        Fd pidfd;
        pid_t pid = -1;
        int64_t started_ms = 0;
        int failures = 0; // deaths in a row before this start (for the back-off)
    };
    struct UplinkRetry {
        int failures = 0;
        int64_t after_ms = 0;
    };
    // Segments the stored policy gives an uplink (read from the database once, then kept).
    Result<std::vector<std::string>> uplink_segments_locked();
    VoidResult start_uplink_locked(const Nic& nic, const std::string& port_name, int failures);
    void stop_uplink_locked(uint32_t id, bool tell_switch);
    void stop_all_uplinks_locked();
    // Reaps the passt processes that died (their ports leave the switch); true if any did or
    // a retry is due.
    bool reap_uplinks_locked();
    // Starts the uplinks the policy wants for the attached guests and stops the others.
    void reconcile_uplinks_locked();
    Result<uint32_t> capture_port(int64_t vm_id, int64_t nic, bool uplink);
    // The host's cgroup layout, found once (the worker's and every passt's start need it).
    Result<jail::CgroupLayout> cgroups_locked();

    Db& m_db;
    NetworkConfig m_config;
    std::mutex m_mutex; // guards everything below
    std::optional<LineChannel> m_control;
    pid_t m_pid = -1;
    Fd m_pidfd;
    uint64_t m_restarts = 0;
    bool m_stopping = false;
    bool m_wanted = false; // a worker has run: keep one running
    std::thread m_supervisor;
    std::map<int64_t, std::string> m_attached; // guests whose ports the worker has: id → name
    std::map<uint32_t, Uplink> m_uplinks; // by uplink port id
    std::map<uint32_t, UplinkRetry> m_uplink_retries; // uplinks waiting to be started again
    std::optional<std::vector<std::string>> m_uplink_segments; // sorted
    std::optional<jail::CgroupLayout> m_cgroups;
    uint64_t m_uplink_restarts = 0;
};

} // namespace net
} // namespace bulwark
