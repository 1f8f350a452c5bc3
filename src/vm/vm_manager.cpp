#include "vm/vm_manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <thread>

#include "base/base64.h"
#include "base/log.h"
#include "base/names.h"
#include "base/system.h"
#include "base/time.h"
#include "image/image_store.h"
#include "image/overlay.h"
#include "jail/launcher.h"
#include "qemu/command_line.h"
#include "qemu/qmp.h"
#include "store/db.h"
#include "vm/monitor.h"

namespace bulwark {

using namespace std::chrono_literals;

static constexpr int64_t k_max_cpus = 64;
static constexpr int64_t k_min_memory_mib = 64;
static constexpr int64_t k_max_console_chunk = 1 << 20;

Json SnapshotRecord::to_json() const
{
    return Json {{"name", name}, {"created", created}, {"memory", has_memory}, {"vm_state_size", vm_state_size},
        {"disk_size", disk_size}};
}

Result<std::unique_ptr<VmManager>> VmManager::create(Db& db, ImageStore& images, VmConfig config)
{
    std::unique_ptr<VmManager> mgr(new VmManager(db, images, std::move(config)));
    mgr->m_monitor = TRY(ProcessMonitor::create());
    TRY(sys::mkdirs(mgr->m_config.home + "/vms", 0700));
    TRY(sys::mkdirs(mgr->m_config.home + "/run", 0700));
    if (mgr->m_config.jail) {
        mgr->m_cgroups = TRY_CTX(jail::detect_cgroups(), "the jail needs the cpu, memory and pids cgroup controllers");
        TRY(sys::mkdirs(mgr->m_config.home + "/jail", 0700));
        if (!sys::exists(mgr->m_config.jailer_binary))
            return Error(ErrorKind::Unavailable, "the jailer (" + mgr->m_config.jailer_binary + ") is missing");
    }
    mgr->m_janitor = std::thread([m = mgr.get()] {
        std::unique_lock lock(m->m_janitor_mutex);
        while (!m->m_janitor_wake.wait_for(lock, 1s, [m] { return m->m_stopping; })) {
            lock.unlock();
            try {
                m->trim_consoles();
            } catch (const std::exception& e) {
                log::error(std::string("console janitor: ") + e.what());
            }
            lock.lock();
        }
    });
    return mgr;
}

VmManager::~VmManager()
{
    {
        std::lock_guard lock(m_janitor_mutex);
        m_stopping = true;
    }
    m_janitor_wake.notify_all();
    if (m_janitor.joinable())
        m_janitor.join();
    if (m_monitor)
        m_monitor->shutdown();
}

void VmManager::trim_consoles()
{
    std::vector<std::string> running;
    {
        std::lock_guard lock(m_runtimes_mutex);
        for (const auto& [name, rt] : m_runtimes) {
            std::lock_guard rl(rt->mu);
            if (rt->running)
                running.push_back(name);
        }
    }
    for (const auto& name : running) {
        std::string path = vm_dir(name) + "/console.log";
        auto fd = sys::open(path, O_RDWR);
        if (fd.is_error())
            continue;
        auto st = sys::fstat(fd.value().get());
        if (st.is_error() || static_cast<uint64_t>(st.value().st_size) <= m_config.console_limit)
            continue;
        // Keep the newest part beside the log, then cut the log: QEMU appends (O_APPEND), so
        // its next write lands at the new end.
        size_t keep = static_cast<size_t>(std::min<uint64_t>(m_config.console_limit / 4, 1 << 20));
        std::string tail(keep, '\0');
        ssize_t n = ::pread(fd.value().get(), tail.data(), keep, st.value().st_size - static_cast<off_t>(keep));
        if (n > 0) {
            tail.resize(static_cast<size_t>(n));
            (void)sys::write_file_atomic(path + ".trimmed", tail, 0600);
        }
        if (::ftruncate(fd.value().get(), 0) == 0)
            log::warn("guest " + name + ": console log passed " + std::to_string(m_config.console_limit)
                + " bytes; cut back (its last part is in console.log.trimmed)");
    }
}

std::shared_ptr<VmManager::Runtime> VmManager::runtime(const std::string& name)
{
    std::lock_guard lock(m_runtimes_mutex);
    auto& rt = m_runtimes[name];
    if (!rt)
        rt = std::make_shared<Runtime>();
    return rt;
}

std::string VmManager::vm_dir(const std::string& name) const { return m_config.home + "/vms/" + name; }
std::string VmManager::run_dir(int64_t id) const { return m_config.home + "/run/" + std::to_string(id); }

static const char* k_vm_columns = "id, name, image_id, cpus, memory_mib, ephemeral, state, pid, pid_start_time, accel, created, started, stopped, jail_uid, quarantined";

static VmRecord vm_from_row(const Row& r)
{
    VmRecord v;
    v.id = r.integer(0);
    v.name = r.text(1);
    v.image_id = r.integer(2);
    v.cpus = r.integer(3);
    v.memory_mib = r.integer(4);
    v.ephemeral = r.integer(5) != 0;
    v.state = r.text(6);
    v.pid = r.integer(7);
    v.pid_start_time = r.integer(8);
    v.accel = r.text(9);
    v.created = r.text(10);
    v.started = r.text(11);
    v.stopped = r.text(12);
    v.jail_uid = r.integer(13);
    v.quarantined = r.integer(14) != 0;
    return v;
}

Result<VmRecord> VmManager::load(const std::string& name)
{
    TRY(validate_name(name, "guest name"));
    auto row = TRY(m_db.query_one(std::string("SELECT ") + k_vm_columns + " FROM vms WHERE name = ?", {name}));
    if (!row)
        return Error(ErrorKind::NotFound, "guest '" + name + "' does not exist (see: bulwark vm list)");
    return vm_from_row(*row);
}

void VmManager::add_event(const std::string& vm, const std::string& kind, const std::string& message)
{
    auto r = m_db.exec("INSERT INTO events (time, vm, kind, message) VALUES (?, ?, ?, ?)", {now_rfc3339(), vm, kind, message});
    if (r.is_error())
        log::error("cannot record event for " + vm + ": " + r.error().message());
    log::info("guest " + vm + ": " + kind + ": " + message);
}

VoidResult VmManager::create_overlay(const VerifiedImage& image, const std::string& overlay)
{
    return create_qcow2_overlay(overlay, image.disk_path, image.virtual_size, 0600);
}

Result<Json> VmManager::create_vm(const CreateVmRequest& req)
{
    TRY(validate_name(req.name, "guest name"));
    if (req.cpus < 1 || req.cpus > k_max_cpus)
        return Error(ErrorKind::InvalidArgument, "cpus must be between 1 and " + std::to_string(k_max_cpus) + " (got "
                + std::to_string(req.cpus) + ")");
    int64_t max_memory = static_cast<int64_t>(sys::host_memory_mib());
    if (req.memory_mib < k_min_memory_mib || req.memory_mib > max_memory)
        return Error(ErrorKind::InvalidArgument, "memory must be between " + std::to_string(k_min_memory_mib) + " and "
                + std::to_string(max_memory) + " MiB, the host's memory (got " + std::to_string(req.memory_mib) + ")");
    auto rt = runtime(req.name);
    std::lock_guard op(rt->op);
    if (TRY(m_db.query_one("SELECT id FROM vms WHERE name = ?", {req.name})))
        return Error(ErrorKind::Conflict, "guest '" + req.name + "' already exists");
    ImageRecord image = TRY(m_images.find(req.image));
    // The signature and the blobs are checked now (without re-hashing, so creation costs the
    // same for any image size); the digests are checked at every start.
    VerifiedImage verified = TRY(m_images.verify(image, VerifyDepth::SignatureOnly));

    std::string dir = vm_dir(req.name);
    // A directory without a database row is debris from a crash; it holds nothing of value.
    TRY(sys::remove_tree(dir));
    TRY(sys::mkdirs(dir, 0700));
    if (!req.nics.empty() && !m_network)
        return Error(ErrorKind::Unavailable, "this daemon has no network: guests cannot have --net");
    auto made = [&]() -> VoidResult {
        TRY(create_overlay(verified, overlay_path(req.name)));
        // The guest's row and its addresses are one transaction: no guest without the NICs it
        // asked for, no address held by a guest that was never created.
        return m_db.transaction([&]() -> VoidResult {
            TRY(m_db.exec("INSERT INTO vms (name, image_id, cpus, memory_mib, ephemeral, state, accel, created) VALUES (?, ?, ?, ?, ?, 'stopped', ?, ?)",
                {req.name, image.id, req.cpus, req.memory_mib, static_cast<int64_t>(req.ephemeral), accel_name(), now_rfc3339()}));
            if (!req.nics.empty())
                TRY(m_network->add_nics(m_db.last_insert_rowid(), req.nics));
            return {};
        });
    }();
    if (made.is_error()) {
        (void)sys::remove_tree(dir);
        return made.release_error();
    }
    add_event(req.name, "created", "from image " + image.ref() + (req.ephemeral ? " (ephemeral)" : ""));
    return describe(TRY(load(req.name)));
}

Result<int64_t> VmManager::id_of(const std::string& name)
{
    return TRY(load(name)).id;
}

Result<Json> VmManager::quarantine(const std::string& name, bool quarantined)
{
    if (!m_network)
        return Error(ErrorKind::Unavailable, "this daemon has no network");
    auto rt = runtime(name);
    std::lock_guard op(rt->op);
    VmRecord rec = TRY(load(name));
    TRY(m_network->set_quarantine(rec.id, quarantined));
    add_event(name, quarantined ? "quarantined" : "released",
        quarantined ? "its ports reach analysis ports only" : "its ports are back under the segment policy");
    return describe(TRY(load(name)));
}

std::string VmManager::image_ref(int64_t image_id)
{
    auto row = m_db.query_one("SELECT name, version FROM images WHERE id = ?", {image_id});
    if (row.is_ok() && row.value())
        return row.value()->text(0) + ":" + row.value()->text(1);
    return "#" + std::to_string(image_id);
}

Json VmManager::describe(const VmRecord& rec) { return describe(rec, image_ref(rec.image_id)); }

Json VmManager::describe(const VmRecord& rec, const std::string& image)
{
    Json j {{"name", rec.name}, {"state", rec.state}, {"cpus", rec.cpus}, {"memory_mib", rec.memory_mib},
        {"ephemeral", rec.ephemeral}, {"accel", rec.accel.empty() ? accel_name() : rec.accel}, {"created", rec.created},
        {"started", rec.started.empty() ? Json(nullptr) : Json(rec.started)},
        {"stopped", rec.stopped.empty() ? Json(nullptr) : Json(rec.stopped)},
        {"pid", rec.state == "stopped" ? Json(nullptr) : Json(rec.pid)}};
    j["image"] = image;
    if (m_network) {
        Json nics = Json::array();
        if (auto list = m_network->nics(rec.id); list.is_ok()) {
            for (const auto& nic : list.value())
                nics.push_back(nic.to_json());
        }
        j["nics"] = nics;
        j["quarantined"] = rec.quarantined;
    }
    if (rec.state != "stopped") {
        j["jail"] = rec.jail_uid == 0 ? Json(nullptr)
                                      : Json {{"uid", rec.jail_uid}, {"gid", rec.jail_uid},
                                            {"cgroup", jail::guest_cgroup(m_config.home, rec.id)}};
    }
    return j;
}

Result<Json> VmManager::list()
{
    Json out = Json::array();
    // One query for every image name, not one manifest parse per guest.
    std::map<int64_t, std::string> refs;
    for (const auto& r : TRY(m_db.query("SELECT id, name, version FROM images")))
        refs[r.integer(0)] = r.text(1) + ":" + r.text(2);
    for (const auto& row : TRY(m_db.query(std::string("SELECT ") + k_vm_columns + " FROM vms ORDER BY name"))) {
        VmRecord rec = vm_from_row(row);
        auto it = refs.find(rec.image_id);
        out.push_back(describe(rec, it != refs.end() ? it->second : "#" + std::to_string(rec.image_id)));
    }
    return out;
}

Result<Json> VmManager::show(const std::string& name)
{
    VmRecord rec = TRY(load(name));
    Json j = describe(rec);
    j["overlay"] = overlay_path(name);
    j["console_log"] = vm_dir(name) + "/console.log";
    if (rec.state == "running") {
        auto qmp = QmpClient::connect(run_dir(rec.id) + "/qmp.sock", 2s);
        if (qmp.is_ok()) {
            auto status = qmp.value().execute("query-status");
            if (status.is_ok())
                j["qemu_status"] = json_string_or(status.value(), "status", "unknown");
        } else {
            j["qemu_status"] = "not answering: " + qmp.error().message();
        }
    }
    j["snapshots"] = Json::array();
    for (const auto& s : TRY(snapshot_list(name)))
        j["snapshots"].push_back(s.to_json());
    j["events"] = TRY(events(name, 10));
    return j;
}

Result<Json> VmManager::events(const std::string& vm, int64_t count)
{
    std::vector<Row> rows;
    if (vm.empty())
        rows = TRY(m_db.query("SELECT time, vm, kind, message FROM (SELECT * FROM events ORDER BY id DESC LIMIT ?) ORDER BY id", {count}));
    else
        rows = TRY(m_db.query("SELECT time, vm, kind, message FROM (SELECT * FROM events WHERE vm = ? ORDER BY id DESC LIMIT ?) ORDER BY id", {vm, count}));
    Json out = Json::array();
    for (const auto& r : rows)
        out.push_back(Json {{"time", r.text(0)}, {"vm", r.text(1)}, {"kind", r.text(2)}, {"message", r.text(3)}});
    return out;
}

Result<Json> VmManager::start(const std::string& name)
{
    TRY(validate_name(name, "guest name"));
    auto rt = runtime(name);
    std::lock_guard op(rt->op);
    VmRecord rec = TRY(load(name));
    if (rec.state != "stopped")
        return Error(ErrorKind::Conflict, "guest '" + name + "' is " + rec.state);
    return start_locked(rec, *rt, "");
}

static std::string tail_of_file(const std::string& path, size_t bytes)
{
    auto fd = sys::open(path, O_RDONLY);
    if (fd.is_error())
        return {};
    auto st = sys::fstat(fd.value().get());
    if (st.is_error())
        return {};
    off_t size = st.value().st_size;
    off_t from = size > static_cast<off_t>(bytes) ? size - static_cast<off_t>(bytes) : 0;
    std::string s(static_cast<size_t>(size - from), '\0');
    ssize_t n = ::pread(fd.value().get(), s.data(), s.size(), from);
    s.resize(n > 0 ? static_cast<size_t>(n) : 0);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

// Reads the jailer's report: empty when every step succeeded (the pipe closed at exec).
Result<Json> VmManager::start_locked(const VmRecord& rec, Runtime& rt, const std::string& loadvm)
{
    std::string qemu = TRY_CTX(sys::find_executable(m_config.qemu_binary),
        "QEMU is not available; install the qemu-system-x86 package (or set BULWARK_QEMU)");
    ImageRecord image = TRY(m_images.find_by_id(rec.image_id));
    // Nothing boots unless everything it boots matches the signed manifest.
    VerifiedImage verified = TRY(m_images.verify(image, VerifyDepth::Cached));

    std::string overlay = overlay_path(rec.name);
    if (rec.ephemeral && loadvm.empty()) {
        // An ephemeral guest starts from the golden image every time: its old overlay,
        // and everything the last boot wrote, is discarded.
        TRY(sys::unlink_if_exists(overlay));
        TRY(create_overlay(verified, overlay));
    } else if (!sys::exists(overlay)) {
        return Error(ErrorKind::NotFound, "guest '" + rec.name + "' has lost its disk overlay (" + overlay + ")");
    }
    std::string rundir = run_dir(rec.id);
    TRY(sys::remove_tree(rundir));
    TRY(sys::mkdirs(rundir, 0700));
    std::string dir = vm_dir(rec.name);
    std::string console = dir + "/console.log";
    std::string qemu_log = dir + "/qemu.log";
    // Each boot gets a fresh console log; the previous one is kept beside it.
    if (sys::exists(console))
        TRY(sys::rename(console, console + ".prev"));
    {
        auto created = TRY(sys::open(console, O_WRONLY | O_CREAT | O_TRUNC, 0600));
    }
    (void)sys::unlink_if_exists(qemu_log);
    // A run that ended badly may have left its cgroup or jail directory behind.
    clean_up_jail(rec.id);

    QemuLaunchSpec spec;
    spec.qemu_binary = qemu;
    spec.name = rec.name;
    spec.cpus = static_cast<unsigned>(rec.cpus);
    spec.memory_mib = static_cast<unsigned>(rec.memory_mib);
    spec.kvm = m_config.kvm;
    spec.base_disk = verified.disk_path;
    spec.overlay = overlay;
    spec.kernel = verified.kernel_path;
    spec.initrd = verified.initrd_path;
    spec.cmdline = verified.cmdline;
    spec.qmp_socket = rundir + "/qmp.sock";
    spec.agent_socket = rundir + "/qga.sock";
    spec.console_log = console;
    spec.loadvm = loadvm;
    if (m_network) {
        for (const auto& nic : TRY(m_network->nics(rec.id)))
            spec.nics.push_back({m_network->socket_path(rec.id, nic.index), nic.mac});
    }

    SpawnOptions options;
    options.env = minimal_env();
    options.stdout_path = qemu_log;
    options.new_session = true;  // QEMU outlives bulwarkd and its terminal
    // The jailer reports a failed step on this pipe; its end closes when QEMU is exec'd.
    Fd status_read;
    Fd status_write;
    int64_t jail_uid = 0;
    if (m_config.jail) {
        auto jail = TRY(jail::make_guest_jail(m_config.jail_config, rec.id, spec, rundir));
        jail_uid = jail.spec.uid;
        // What the guest's QEMU may write is its own: overlay, console log, socket directory.
        for (const auto& path : {overlay, console, rundir}) {
            if (::chown(path.c_str(), jail.spec.uid, jail.spec.gid) < 0)
                return Error::from_errno("cannot give " + path + " to the guest's uid", errno);
        }
        TRY(sys::chmod(overlay, 0600));
        TRY(sys::mkdirs(jail.spec.root, 0700));
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) < 0)
            return Error::from_errno("pipe", errno);
        status_read = Fd(fds[0]);
        status_write = Fd(fds[1]);
        jail.spec.status_fd = status_write.get();
        jail.spec.argv = build_qemu_argv(jail.qemu);
        options.argv = jail::to_jailer_args(jail.spec);
        options.argv.insert(options.argv.begin(), m_config.jailer_binary);
        options.pass_fds = {status_write.get()};
    } else {
        options.argv = build_qemu_argv(spec);
    }
    // 'starting' is durable before QEMU exists, so a crash at any later point leaves a row
    // that reconcile() finds (and it finds the QEMU by its cgroup, or an unjailed one by its
    // run directory, if the pid below was never written).
    TRY(m_db.exec("UPDATE vms SET state = 'starting', pid = NULL, accel = ?, jail_uid = ? WHERE id = ?",
        {accel_name(), jail_uid == 0 ? SqlValue(nullptr) : SqlValue(jail_uid), rec.id}));
    auto child = Child::spawn(options);
    status_write = Fd();
    if (child.is_error()) {
        (void)m_db.exec("UPDATE vms SET state = 'stopped' WHERE id = ?", {rec.id});
        clean_up_jail(rec.id);
        return child.release_error();
    }
    pid_t pid = child.value().pid();
    auto start_time = process_start_time(pid);
    Fd pidfd = child.value().release_pidfd();

    auto fail = [&](const std::string& why) -> Error {
        (void)pidfd_send_signal(pidfd.get(), SIGKILL);
        (void)pidfd_wait(pidfd.get());
        (void)m_db.exec("UPDATE vms SET state = 'stopped', pid = NULL WHERE id = ?", {rec.id});
        clean_up_jail(rec.id);
        if (rec.ephemeral)
            (void)sys::unlink_if_exists(overlay);
        std::string detail = tail_of_file(qemu_log, 600);
        add_event(rec.name, "start-failed", why);
        return Error(ErrorKind::Unavailable, "guest '" + rec.name + "' did not start: " + why + (detail.empty() ? "" : "\nQEMU said: " + detail));
    };
    if (auto r = m_db.exec("UPDATE vms SET pid = ?, pid_start_time = ? WHERE id = ?",
            {static_cast<int64_t>(pid), static_cast<int64_t>(start_time.value_or(0)), rec.id});
        r.is_error())
        return fail("cannot record QEMU's pid: " + r.error().message());
    if (status_read.valid()) {
        auto report = jail::read_status(status_read.get(), 10s);
        if (!report.empty())
            return fail("the jail could not be built: " + report);
    }

    // Wait until QMP answers: QEMU has parsed its command line and opened every file.
    auto deadline = deadline_in(30s);
    for (;;) {
        struct pollfd pfd {pidfd.get(), POLLIN, 0};
        if (::poll(&pfd, 1, 0) > 0)
            return fail("QEMU exited during start-up");
        if (sys::exists(spec.qmp_socket)) {
            auto qmp = QmpClient::connect(spec.qmp_socket, 5s);
            if (qmp.is_ok()) {
                auto status = qmp.value().execute("query-status");
                if (status.is_ok())
                    break;
            }
        }
        if (std::chrono::steady_clock::now() > deadline)
            return fail("QEMU did not answer on its QMP socket within 30 s");
        std::this_thread::sleep_for(5ms);
    }
    if (auto r = m_db.exec("UPDATE vms SET state = 'running', started = ? WHERE id = ?", {now_rfc3339(), rec.id}); r.is_error())
        return fail("cannot record that the guest runs: " + r.error().message());
    watch(rec.name, pid, std::move(pidfd), rt);
    add_event(rec.name, "started", std::string("QEMU pid ") + std::to_string(pid) + " (" + accel_name() + ")"
            + (loadvm.empty() ? "" : ", restored from snapshot " + loadvm));
    if (m_network && !spec.nics.empty()) {
        // QEMU listens on its NIC sockets before QMP answers. A guest whose ports could not be
        // connected runs without network (a cable unplugged), and says so.
        if (auto attached = m_network->attach(rec.id, rec.name); attached.is_error())
            add_event(rec.name, "network-failed", attached.error().message());
    }
    return describe(TRY(load(rec.name)));
}

void VmManager::watch(const std::string& name, pid_t pid, Fd pidfd, Runtime& rt)
{
    {
        std::lock_guard lock(rt.mu);
        rt.pid = pid;
        rt.running = true;
        rt.expecting_exit = false;
    }
    m_monitor->watch(std::move(pidfd), [this, name, pid](std::optional<ExitStatus> status) { on_exit(name, pid, status); });
}

void VmManager::on_exit(const std::string& name, pid_t pid, std::optional<ExitStatus> status)
{
    auto rt = runtime(name);
    bool expected;
    {
        std::lock_guard lock(rt->mu);
        if (rt->pid != pid)
            return;
        rt->running = false;
        expected = rt->expecting_exit;
    }
    // Nothing of the guest may outlive 'stopped': whatever is left in its cgroup is killed,
    // and a kill by the memory limit is said as such.
    std::string oom;
    auto idrow = m_db.query_one("SELECT id, ephemeral FROM vms WHERE name = ? AND pid = ?", {name, static_cast<int64_t>(pid)});
    if (idrow.is_ok() && idrow.value()) {
        int64_t id = idrow.value()->integer(0);
        if (m_cgroups && jail::cgroup_oom_kills(*m_cgroups, jail::guest_cgroup(m_config.home, id)) > 0)
            oom = "; the kernel killed it at the jail's memory limit";
        clean_up_jail(id);
        if (m_network)
            m_network->detach(id);
    }
    // An ephemeral guest's writes die with it: its overlay is deleted before the guest is
    // marked stopped (a start, which needs 'stopped', cannot race with the deletion).
    if (idrow.is_ok() && idrow.value() && idrow.value()->integer(1) != 0) {
        auto removed = sys::unlink_if_exists(overlay_path(name));
        if (removed.is_error())
            log::error("cannot discard the overlay of ephemeral guest " + name + ": " + removed.error().message());
    }
    auto updated = m_db.exec("UPDATE vms SET state = 'stopped', pid = NULL, stopped = ? WHERE name = ? AND pid = ?",
        {now_rfc3339(), name, static_cast<int64_t>(pid)});
    if (updated.is_error())
        log::error("cannot record that guest " + name + " stopped: " + updated.error().message());
    if (!expected) {
        if (!status)
            add_event(name, "exited", "QEMU (pid " + std::to_string(pid) + ", adopted after a restart) exited; its exit status is unknown");
        else if (status->success())
            add_event(name, "powered-off", "the guest shut itself down");
        else
            add_event(name, "crashed", "QEMU (pid " + std::to_string(pid) + ") " + status->describe() + oom);
    }
    rt->exited.notify_all();
}

Result<Json> VmManager::terminate_locked(const VmRecord& rec, Runtime& rt, std::chrono::seconds graceful_timeout, bool graceful)
{
    {
        std::lock_guard lock(rt.mu);
        if (!rt.running)
            return Error(ErrorKind::Conflict, "guest '" + rec.name + "' is not running");
        rt.expecting_exit = true;
    }
    TRY(m_db.exec("UPDATE vms SET state = 'stopping' WHERE id = ? AND state = 'running'", {rec.id}));
    auto wait_exit = [&](std::chrono::milliseconds timeout) {
        std::unique_lock lock(rt.mu);
        return rt.exited.wait_for(lock, timeout, [&] { return !rt.running; });
    };
    std::string how;
    std::string qmp_path = run_dir(rec.id) + "/qmp.sock";
    if (graceful) {
        auto qmp = QmpClient::connect(qmp_path, 5s);
        if (qmp.is_ok() && qmp.value().execute("system_powerdown").is_ok() && wait_exit(graceful_timeout))
            how = "shut down cleanly (ACPI power button)";
        else if (qmp.is_ok() || (qmp = QmpClient::connect(qmp_path, 2s)).is_ok()) {
            (void)qmp.value().execute("quit");
            if (wait_exit(5s))
                how = "did not shut down within " + std::to_string(graceful_timeout.count()) + " s; QEMU was told to quit";
        }
    }
    if (how.empty()) {
        pid_t pid;
        {
            std::lock_guard lock(rt.mu);
            pid = rt.pid;
        }
        // The pidfd belongs to the monitor; signal by pid only after checking it is still
        // the same process (start time) to avoid hitting a recycled pid.
        auto st = process_start_time(pid);
        if (st && static_cast<int64_t>(*st) == rec.pid_start_time)
            ::kill(pid, SIGKILL);
        if (!wait_exit(10s))
            return Error(ErrorKind::Timeout, "guest '" + rec.name + "' (pid " + std::to_string(pid) + ") did not die after SIGKILL");
        how = graceful ? "did not shut down in time; killed" : "killed";
    }
    (void)m_db.exec("UPDATE vms SET state = 'stopped', pid = NULL, stopped = ? WHERE id = ?", {now_rfc3339(), rec.id});
    add_event(rec.name, "stopped", how);
    Json j = describe(TRY(load(rec.name)));
    j["how"] = how;
    return j;
}

Result<Json> VmManager::stop(const std::string& name, std::chrono::seconds timeout)
{
    TRY(validate_name(name, "guest name"));
    auto rt = runtime(name);
    std::lock_guard op(rt->op);
    VmRecord rec = TRY(load(name));
    return terminate_locked(rec, *rt, timeout, true);
}

Result<Json> VmManager::kill(const std::string& name)
{
    TRY(validate_name(name, "guest name"));
    auto rt = runtime(name);
    std::lock_guard op(rt->op);
    VmRecord rec = TRY(load(name));
    return terminate_locked(rec, *rt, 0s, false);
}

VoidResult VmManager::remove(const std::string& name)
{
    TRY(validate_name(name, "guest name"));
    auto rt = runtime(name);
    std::lock_guard op(rt->op);
    VmRecord rec = TRY(load(name));
    if (rec.state != "stopped")
        return Error(ErrorKind::Conflict, "guest '" + name + "' is " + rec.state + "; stop it first");
    TRY(m_db.exec("DELETE FROM vms WHERE id = ?", {rec.id}));
    TRY(sys::remove_tree(vm_dir(name)));
    TRY(sys::remove_tree(run_dir(rec.id)));
    clean_up_jail(rec.id);
    add_event(name, "removed", "overlay and logs deleted");
    return {};
}

Result<Json> VmManager::console(const std::string& name, int64_t offset, int64_t max_bytes)
{
    TRY(load(name));
    max_bytes = std::clamp<int64_t>(max_bytes, 1, k_max_console_chunk);
    std::string path = vm_dir(name) + "/console.log";
    auto fd = sys::open(path, O_RDONLY);
    if (fd.is_error())
        return Json {{"data_b64", ""}, {"offset", 0}, {"size", 0}};
    auto st = TRY(sys::fstat(fd.value().get()));
    int64_t size = st.st_size;
    if (offset < 0)
        offset = std::max<int64_t>(0, size + offset);  // negative: the last -offset bytes
    if (offset > size)
        offset = 0;  // the log was rotated by a new boot
    std::string data(static_cast<size_t>(std::min(max_bytes, size - offset)), '\0');
    ssize_t n = ::pread(fd.value().get(), data.data(), data.size(), offset);
    if (n < 0)
        return Error::from_errno("read " + path, errno);
    data.resize(static_cast<size_t>(n));
    // The console is guest output, any bytes at all: it travels base64-encoded.
    return Json {{"offset", offset + n}, {"size", size}, {"data_b64", base64_encode(data)}};
}

Result<GuestExecResult> VmManager::exec(const std::string& name, const std::vector<std::string>& argv, std::chrono::seconds timeout)
{
    TRY(validate_name(name, "guest name"));
    // Not under the operation lock: a long command must not keep stop or kill waiting.
    // The agent serves one client at a time, so commands in one guest take turns.
    auto rt = runtime(name);
    std::lock_guard agent_lock(rt->agent);
    VmRecord rec = TRY(load(name));
    if (rec.state != "running")
        return Error(ErrorKind::Conflict, "guest '" + name + "' is not running");
    auto agent = TRY_CTX(GuestAgent::connect(run_dir(rec.id) + "/qga.sock", 10s),
        "the guest agent of '" + name + "' is not answering (has the guest finished booting?)");
    return agent.exec(argv, timeout);
}

Result<Json> VmManager::overlay_info(const std::string& overlay)
{
    // -U: the image may be open in a running QEMU.
    auto out = TRY(run_command({m_config.qemu_img, "info", "-U", "--output=json", overlay}, 30s));
    if (!out.status.success())
        return Error(ErrorKind::Io, "qemu-img info failed: " + out.output.substr(0, 300));
    return parse_json(out.output);
}

Result<SnapshotRecord> VmManager::snapshot_create(const std::string& vm, const std::string& snapshot)
{
    TRY(validate_name(vm, "guest name"));
    TRY(validate_name(snapshot, "snapshot name"));
    auto rt = runtime(vm);
    std::lock_guard op(rt->op);
    VmRecord rec = TRY(load(vm));
    if (rec.ephemeral)
        return Error(ErrorKind::Conflict, "guest '" + vm + "' is ephemeral: its disk is discarded at every boot, so a snapshot would not survive");
    if (TRY(m_db.query_one("SELECT id FROM snapshots WHERE vm_id = ? AND name = ?", {rec.id, snapshot})))
        return Error(ErrorKind::Conflict, "guest '" + vm + "' already has a snapshot named '" + snapshot + "'");
    if (rec.state != "running" && rec.state != "stopped")
        return Error(ErrorKind::Conflict, "guest '" + vm + "' is " + rec.state);
    bool memory = rec.state == "running";
    std::string overlay = overlay_path(vm);
    // A snapshot with this tag in the overlay but not in the database was left by a crash
    // between the two: remove it so the tag names exactly one state.
    if (auto info = overlay_info(overlay); info.is_ok() && info.value().contains("snapshots")) {
        for (const auto& snap : info.value()["snapshots"]) {
            if (json_string_or(snap, "name", "") != snapshot)
                continue;
            if (memory) {
                auto qmp = TRY(QmpClient::connect(run_dir(rec.id) + "/qmp.sock", 5s));
                TRY(qmp.run_job("snapshot-delete", Json {{"tag", snapshot}, {"devices", {k_disk_node}}}, "orphan-" + snapshot, 10min));
            } else {
                (void)run_command({m_config.qemu_img, "snapshot", "-d", snapshot, overlay}, 5min);
            }
        }
    }
    if (memory) {
        auto qmp = TRY(QmpClient::connect(run_dir(rec.id) + "/qmp.sock", 5s));
        TRY(qmp.run_job("snapshot-save", Json {{"tag", snapshot}, {"vmstate", k_disk_node}, {"devices", {k_disk_node}}},
            "save-" + snapshot, 10min));
    } else {
        auto out = TRY(run_command({m_config.qemu_img, "snapshot", "-c", snapshot, overlay}, 5min));
        if (!out.status.success())
            return Error(ErrorKind::Io, "qemu-img could not create the snapshot: " + out.output.substr(0, 300));
    }
    SnapshotRecord s;
    s.name = snapshot;
    s.created = now_rfc3339();
    s.has_memory = memory;
    auto info = overlay_info(overlay);
    if (info.is_ok()) {
        s.disk_size = json_int_or(info.value(), "actual-size", 0);
        if (info.value().contains("snapshots")) {
            for (const auto& snap : info.value()["snapshots"]) {
                if (json_string_or(snap, "name", "") == snapshot)
                    s.vm_state_size = json_int_or(snap, "vm-state-size", 0);
            }
        }
    }
    auto recorded = m_db.exec("INSERT INTO snapshots (vm_id, name, created, has_memory, vm_state_size, disk_size) VALUES (?, ?, ?, ?, ?, ?)",
        {rec.id, s.name, s.created, static_cast<int64_t>(s.has_memory), s.vm_state_size, s.disk_size});
    if (recorded.is_error()) {
        // Do not leave a snapshot in the overlay that the database does not know about.
        if (memory) {
            if (auto qmp = QmpClient::connect(run_dir(rec.id) + "/qmp.sock", 5s); qmp.is_ok())
                (void)qmp.value().run_job("snapshot-delete", Json {{"tag", snapshot}, {"devices", {k_disk_node}}}, "undo-" + snapshot, 10min);
        } else {
            (void)run_command({m_config.qemu_img, "snapshot", "-d", snapshot, overlay}, 5min);
        }
        return recorded.release_error();
    }
    add_event(vm, "snapshot", "created " + snapshot + (memory ? " (disk and memory)" : " (disk only)"));
    return s;
}

Result<std::vector<SnapshotRecord>> VmManager::snapshot_list(const std::string& vm)
{
    VmRecord rec = TRY(load(vm));
    std::vector<SnapshotRecord> out;
    for (const auto& r : TRY(m_db.query("SELECT name, created, has_memory, vm_state_size, disk_size FROM snapshots WHERE vm_id = ? ORDER BY id", {rec.id}))) {
        SnapshotRecord s;
        s.name = r.text(0);
        s.created = r.text(1);
        s.has_memory = r.integer(2) != 0;
        s.vm_state_size = r.integer(3);
        s.disk_size = r.integer(4);
        out.push_back(s);
    }
    return out;
}

Result<Json> VmManager::snapshot_revert(const std::string& vm, const std::string& snapshot)
{
    TRY(validate_name(vm, "guest name"));
    TRY(validate_name(snapshot, "snapshot name"));
    auto rt = runtime(vm);
    std::lock_guard op(rt->op);
    VmRecord rec = TRY(load(vm));
    auto row = TRY(m_db.query_one("SELECT has_memory FROM snapshots WHERE vm_id = ? AND name = ?", {rec.id, snapshot}));
    if (!row)
        return Error(ErrorKind::NotFound, "guest '" + vm + "' has no snapshot named '" + snapshot + "'");
    bool memory = row->integer(0) != 0;
    Json result;
    if (rec.state == "running") {
        if (!memory)
            return Error(ErrorKind::Conflict, "snapshot '" + snapshot + "' holds no memory state; stop guest '" + vm + "' before reverting to it");
        auto qmp = TRY(QmpClient::connect(run_dir(rec.id) + "/qmp.sock", 5s));
        TRY(qmp.run_job("snapshot-load", Json {{"tag", snapshot}, {"vmstate", k_disk_node}, {"devices", {k_disk_node}}},
            "load-" + snapshot, 10min));
        // snapshot-load leaves the guest paused when it was saved running; resume it.
        auto status = qmp.execute("query-status");
        if (status.is_ok() && json_string_or(status.value(), "status", "") != "running")
            (void)qmp.execute("cont");
        result = describe(rec);
    } else if (rec.state == "stopped") {
        if (memory) {
            // Reverting a stopped guest to a running state means starting it from there.
            result = TRY(start_locked(rec, *rt, snapshot));
        } else {
            auto out = TRY(run_command({m_config.qemu_img, "snapshot", "-a", snapshot, overlay_path(vm)}, 5min));
            if (!out.status.success())
                return Error(ErrorKind::Io, "qemu-img could not apply the snapshot: " + out.output.substr(0, 300));
            result = describe(rec);
        }
    } else {
        return Error(ErrorKind::Conflict, "guest '" + vm + "' is " + rec.state);
    }
    add_event(vm, "reverted", "to snapshot " + snapshot);
    return result;
}

VoidResult VmManager::snapshot_remove(const std::string& vm, const std::string& snapshot)
{
    TRY(validate_name(vm, "guest name"));
    TRY(validate_name(snapshot, "snapshot name"));
    auto rt = runtime(vm);
    std::lock_guard op(rt->op);
    VmRecord rec = TRY(load(vm));
    if (!TRY(m_db.query_one("SELECT id FROM snapshots WHERE vm_id = ? AND name = ?", {rec.id, snapshot})))
        return Error(ErrorKind::NotFound, "guest '" + vm + "' has no snapshot named '" + snapshot + "'");
    if (rec.state == "running") {
        auto qmp = TRY(QmpClient::connect(run_dir(rec.id) + "/qmp.sock", 5s));
        TRY(qmp.run_job("snapshot-delete", Json {{"tag", snapshot}, {"devices", {k_disk_node}}}, "delete-" + snapshot, 10min));
    } else if (rec.state == "stopped") {
        auto out = TRY(run_command({m_config.qemu_img, "snapshot", "-d", snapshot, overlay_path(vm)}, 5min));
        if (!out.status.success())
            return Error(ErrorKind::Io, "qemu-img could not delete the snapshot: " + out.output.substr(0, 300));
    } else {
        return Error(ErrorKind::Conflict, "guest '" + vm + "' is " + rec.state);
    }
    TRY(m_db.exec("DELETE FROM snapshots WHERE vm_id = ? AND name = ?", {rec.id, snapshot}));
    add_event(vm, "snapshot", "removed " + snapshot);
    return {};
}

void VmManager::clean_up_jail(int64_t vm_id)
{
    if (m_cgroups) {
        auto r = jail::cgroup_destroy(*m_cgroups, jail::guest_cgroup(m_config.home, vm_id));
        if (r.is_error())
            log::error("guest #" + std::to_string(vm_id) + ": " + r.error().message());
    }
    // The jail's root is an empty mountpoint on the host (its mounts lived in the jail's own
    // mount namespace); rmdir, never a recursive delete.
    std::string root = jail::guest_jail_root(m_config.home, vm_id);
    if (::rmdir(root.c_str()) < 0 && errno != ENOENT)
        log::error("cannot remove the jail directory " + root + ": " + errno_message(errno));
}

// Every process with an argument that starts with prefix (scans /proc).
static std::vector<pid_t> find_processes_with_arg(const std::string& prefix)
{
    std::vector<pid_t> out;
    std::vector<std::string> pids;
    for (auto& n : sys::list_dir("/proc")) {
        if (n.find_first_not_of("0123456789") == std::string::npos)
            pids.push_back(std::move(n));
    }
    for (const auto& p : pids) {
        auto cmdline = sys::read_file("/proc/" + p + "/cmdline", 1 << 20);
        if (cmdline.is_error())
            continue;
        const std::string& c = cmdline.value();
        for (size_t pos = 0; pos < c.size();) {
            size_t end = c.find('\0', pos);
            if (end == std::string::npos)
                end = c.size();
            if (c.compare(pos, prefix.size(), prefix) == 0) {
                out.push_back(static_cast<pid_t>(std::stol(p)));
                break;
            }
            pos = end + 1;
        }
    }
    return out;
}

// Does pid still name the QEMU we started for this guest? Checked by start time (pid reuse)
// and command line (the guest's name).
static bool is_our_qemu(const VmRecord& rec)
{
    if (rec.pid <= 0)
        return false;
    auto st = process_start_time(static_cast<pid_t>(rec.pid));
    if (!st || static_cast<int64_t>(*st) != rec.pid_start_time)
        return false;
    auto cmdline = sys::read_file("/proc/" + std::to_string(rec.pid) + "/cmdline", 1 << 20);
    if (cmdline.is_error())
        return false;
    std::string needle = std::string("guest=") + rec.name + ",";
    return cmdline.value().find(needle) != std::string::npos;
}

VoidResult VmManager::reconcile()
{
    for (const auto& row : TRY(m_db.query(std::string("SELECT ") + k_vm_columns + " FROM vms WHERE state != 'stopped'"))) {
        VmRecord rec = vm_from_row(row);
        bool alive = is_our_qemu(rec);
        auto rt = runtime(rec.name);
        std::lock_guard op(rt->op);
        if (rec.state == "starting") {
            // The start never finished (bulwarkd died mid-way) and nobody was told it
            // succeeded: undo it. The pid may not have been recorded yet, so look for any
            // QEMU serving this guest's run directory.
            for (pid_t stray : find_processes_with_arg("unix:" + run_dir(rec.id) + "/qmp.sock,"))
                ::kill(stray, SIGKILL);
            if (alive)
                ::kill(static_cast<pid_t>(rec.pid), SIGKILL);
            // A jailed one is found by its cgroup, whatever its command line says.
            clean_up_jail(rec.id);
            TRY(m_db.exec("UPDATE vms SET state = 'stopped', pid = NULL, stopped = ? WHERE id = ?", {now_rfc3339(), rec.id}));
            add_event(rec.name, "start-interrupted", "bulwarkd stopped during the start; the half-started QEMU was killed");
            continue;
        }
        if (!alive) {
            clean_up_jail(rec.id);
            if (rec.ephemeral)
                TRY(sys::unlink_if_exists(overlay_path(rec.name)));
            TRY(m_db.exec("UPDATE vms SET state = 'stopped', pid = NULL, stopped = ? WHERE id = ?", {now_rfc3339(), rec.id}));
            add_event(rec.name, "exited", "QEMU (pid " + std::to_string(rec.pid) + ") exited while bulwarkd was not running");
            continue;
        }
        auto pidfd = pidfd_open(static_cast<pid_t>(rec.pid));
        if (pidfd.is_error()) {
            TRY(m_db.exec("UPDATE vms SET state = 'stopped', pid = NULL WHERE id = ?", {rec.id}));
            continue;
        }
        TRY(m_db.exec("UPDATE vms SET state = 'running' WHERE id = ?", {rec.id}));
        watch(rec.name, static_cast<pid_t>(rec.pid), pidfd.release_value(), *rt);
        auto qmp = QmpClient::connect(run_dir(rec.id) + "/qmp.sock", 3s);
        add_event(rec.name, "reattached", "QEMU pid " + std::to_string(rec.pid) + " is still running"
                + (qmp.is_ok() ? "; QMP answers" : "; QMP does not answer: " + qmp.error().message()));
    }
    // Socket directories of guests that are not running are stale.
    std::set<std::string> live_ids;
    for (const auto& r : TRY(m_db.query("SELECT id FROM vms WHERE state != 'stopped'")))
        live_ids.insert(std::to_string(r.integer(0)));
    for (const auto& n : sys::list_dir(m_config.home + "/run")) {
        if (!live_ids.count(n))
            (void)sys::remove_tree(m_config.home + "/run/" + n);
    }
    // Overlay directories without a guest are debris from a create that did not finish.
    auto rows = TRY(m_db.query("SELECT name FROM vms"));
    std::set<std::string> known;
    for (const auto& r : rows)
        known.insert(r.text(0));
    for (const auto& n : sys::list_dir(m_config.home + "/vms")) {
        if (!known.count(n)) {
            log::warn("removing " + vm_dir(n) + ": left by an interrupted create");
            (void)sys::remove_tree(vm_dir(n));
        }
    }
    return {};
}

}  // namespace bulwark
