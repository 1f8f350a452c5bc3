#include "net/network.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

#include "base/log.h"
#include "base/process.h"
#include "base/system.h"
#include "base/time.h"
#include "jail/cgroup.h"
#include "jail/guest_jail.h"
#include "jail/launcher.h"
#include "net/packet.h"
#include "store/db.h"

namespace bulwark::net {

using namespace std::chrono_literals;

namespace {

constexpr std::size_t k_max_reply = 16 << 20;

int64_t monotonic_ms()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Json labels_json(const Labels& labels)
{
    Json j = Json::object();
    for (const auto& [k, v] : labels)
        j[k] = v;
    return j;
}

Result<Labels> labels_from_text(const std::string& text)
{
    auto j = TRY(parse_json(text));
    Labels labels;
    if (!j.is_object())
        return Error(ErrorKind::Corrupt, "stored labels are not an object");
    for (const auto& [k, v] : j.items()) {
        if (v.is_string())
            labels[k] = v.get<std::string>();
    }
    return labels;
}

// A locally administered, unicast MAC (52:54:00 is QEMU's prefix; 0x02 marks local).
std::string random_mac(uint8_t first)
{
    uint8_t b[5] {};
    std::size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
        if (n > 0)
            got += static_cast<std::size_t>(n);
    }
    MacAddr mac;
    mac.bytes = { first, b[0], b[1], b[2], b[3], b[4] };
    return mac.to_string();
}

} // namespace

Json Nic::to_json() const
{
    Json j { { "index", index }, { "segment", segment }, { "mac", mac }, { "ip", ip }, { "labels", labels_json(labels) } };
    if (max_fps)
        j["max_fps"] = *max_fps;
    if (max_bps)
        j["max_bps"] = *max_bps;
    return j;
}

namespace {

// "fps=N" / "mbit=N": a non-negative decimal within [0, max].
std::optional<int64_t> limit_value(const std::string& text, int64_t max)
{
    if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    int64_t v = std::stoll(text);
    return v <= max ? std::optional<int64_t>(v) : std::nullopt;
}

SqlValue optional_value(const std::optional<int64_t>& v)
{
    return v ? SqlValue(*v) : SqlValue(nullptr);
}

} // namespace

Result<NicRequest> parse_nic_request(const std::string& text)
{
    NicRequest r;
    std::size_t start = 0;
    bool first = true;
    while (start <= text.size()) {
        std::size_t comma = text.find(',', start);
        std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (first) {
            Labels check { { "segment", part } };
            if (validate_labels(check).is_error())
                return Error(
                    ErrorKind::InvalidArgument, "--net '" + text + "': a segment name is 1-63 characters of A-Z a-z 0-9 . _ -");
            r.segment = part;
            first = false;
        } else if (part.rfind("label=", 0) == 0) {
            r.labels = TRY_CTX(parse_label(part.substr(6), std::move(r.labels)), "--net '" + text + "'");
        } else if (part.rfind("fps=", 0) == 0) {
            r.max_fps = limit_value(part.substr(4), k_max_nic_fps);
            if (!r.max_fps)
                return Error(ErrorKind::InvalidArgument,
                    "--net '" + text + "': fps is frames per second, 0 (no limit) to " + std::to_string(k_max_nic_fps));
        } else if (part.rfind("mbit=", 0) == 0) {
            auto mbit = limit_value(part.substr(5), k_max_nic_mbit);
            if (!mbit)
                return Error(ErrorKind::InvalidArgument,
                    "--net '" + text + "': mbit is megabits per second, 0 (no limit) to " + std::to_string(k_max_nic_mbit));
            r.max_bps = *mbit * 125000;
        } else {
            return Error(
                ErrorKind::InvalidArgument, "--net '" + text + "': expected SEGMENT[,label=KEY=VALUE]...[,fps=N][,mbit=N]");
        }
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    return r;
}

Result<std::unique_ptr<Network>> Network::create(Db& db, NetworkConfig config)
{
    TRY(sys::mkdirs(config.home + "/net", 0700));
    auto network = std::unique_ptr<Network>(new Network(db, std::move(config)));
    network->m_supervisor = std::thread([n = network.get()] { n->supervise(); });
    return network;
}

Network::~Network()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
        // Closing the control socket ends the worker; passt ends with its socket too.
        m_control.reset();
        stop_all_uplinks_locked();
        if (m_pidfd.valid()) {
            (void)pidfd_send_signal(m_pidfd.get(), SIGTERM);
            (void)pidfd_wait(m_pidfd.get());
            m_pidfd.reset();
        }
    }
    if (m_supervisor.joinable())
        m_supervisor.join();
}

Result<std::vector<Nic>> Network::add_nics(int64_t vm_id, const std::vector<NicRequest>& requests)
{
    if (static_cast<int64_t>(requests.size()) > k_max_nics)
        return Error(ErrorKind::InvalidArgument, "a guest has at most " + std::to_string(k_max_nics) + " network interfaces");
    std::vector<Nic> out;
    for (std::size_t i = 0; i < requests.size(); ++i) {
        const auto& req = requests[i];
        TRY(validate_labels(req.labels));
        auto seg = TRY(m_db.query_one("SELECT subnet FROM net_segments WHERE name = ?", { req.segment }));
        std::string subnet_text;
        if (seg) {
            subnet_text = seg->text(0);
        } else {
            // The next free 10.77.N.0/24.
            auto rows = TRY(m_db.query("SELECT subnet FROM net_segments"));
            for (int n = 1; n < 255 && subnet_text.empty(); ++n) {
                std::string candidate = "10.77." + std::to_string(n) + ".0/24";
                bool used = false;
                for (const auto& r : rows)
                    used = used || r.text(0) == candidate;
                if (!used)
                    subnet_text = candidate;
            }
            if (subnet_text.empty())
                return Error(ErrorKind::Conflict, "no free subnet left for segment '" + req.segment + "'");
            TRY(m_db.exec("INSERT INTO net_segments (name, subnet, server_mac) VALUES (?, ?, ?)",
                { req.segment, subnet_text, random_mac(0x02) }));
        }
        auto subnet = Cidr::parse(subnet_text);
        if (!subnet)
            return Error(ErrorKind::Corrupt, "segment '" + req.segment + "' has a bad subnet " + subnet_text);
        uint32_t base = subnet->base.v4_host_order();
        uint32_t hosts = subnet->prefix >= 31 ? 0 : (1u << (32 - subnet->prefix)) - 2;
        std::string ip;
        // .1 is the switch's own address; guests get .10 upwards.
        for (uint32_t h = 10; h <= hosts && ip.empty(); ++h) {
            std::string candidate = IpAddr::v4(base + h).to_string();
            if (!TRY(m_db.query_one("SELECT 1 FROM vm_nics WHERE segment = ? AND ip = ?", { req.segment, candidate })))
                ip = candidate;
        }
        if (ip.empty())
            return Error(ErrorKind::Conflict, "segment '" + req.segment + "' has no free address");
        std::string mac;
        for (int attempt = 0; attempt < 16 && mac.empty(); ++attempt) {
            std::string candidate = random_mac(0x52);
            candidate.replace(0, 8, "52:54:00");
            if (!TRY(m_db.query_one("SELECT 1 FROM vm_nics WHERE mac = ?", { candidate })))
                mac = candidate;
        }
        if (mac.empty())
            return Error(ErrorKind::Internal, "could not find a free MAC address");
        Nic nic { vm_id, static_cast<int64_t>(i), req.segment, mac, ip, req.labels, req.max_fps, req.max_bps };
        TRY(m_db.exec(
            "INSERT INTO vm_nics (vm_id, idx, segment, mac, ip, labels, max_fps, max_bps) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            { vm_id, nic.index, nic.segment, nic.mac, nic.ip, json_dump(labels_json(nic.labels)), optional_value(nic.max_fps),
                optional_value(nic.max_bps) }));
        out.push_back(std::move(nic));
    }
    return out;
}

Result<std::vector<Nic>> Network::nics(int64_t vm_id)
{
    std::vector<Nic> out;
    for (const auto& r : TRY(m_db.query(
             "SELECT idx, segment, mac, ip, labels, max_fps, max_bps FROM vm_nics WHERE vm_id = ? ORDER BY idx", { vm_id }))) {
        Nic nic { vm_id, r.integer(0), r.text(1), r.text(2), r.text(3), TRY(labels_from_text(r.text(4))) };
        if (!r.is_null(5))
            nic.max_fps = r.integer(5);
        if (!r.is_null(6))
            nic.max_bps = r.integer(6);
        out.push_back(std::move(nic));
    }
    return out;
}

VoidResult Network::start_worker_locked()
{
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        return Error::from_errno("socketpair", errno);
    Fd ours(pair[0]);
    Fd theirs(pair[1]);
    auto eve = TRY(sys::open(eve_path(), O_WRONLY | O_CREAT | O_APPEND, 0600));
    std::vector<int> keep { theirs.get(), eve.get() };
    std::vector<std::string> worker_argv { m_config.switch_binary, "--control-fd", std::to_string(theirs.get()), "--eve-fd",
        std::to_string(eve.get()) };
    SpawnOptions options;
    options.env = minimal_env();
    options.stdout_path = m_config.home + "/net/switch.log";
    options.pass_fds = keep;
    Fd status_read, status_write;
    jail::CgroupLayout layout;
    if (m_config.jailed) {
        layout = TRY(cgroups_locked());
        jail::JailSpec spec;
        spec.name = "switch";
        spec.uid = spec.gid = m_config.uid;
        spec.root = m_config.home + "/jail/switch";
        spec.cgroup = jail::cgroup_parent(m_config.home) + "/switch";
        // One thread; memory for flow tables, reassembly buffers and the compiled rules.
        spec.limits = { 1ull << 30, 100, 8 };
        std::string binary = TRY(sys::realpath(m_config.switch_binary));
        spec.mounts = jail::program_runtime_mounts(binary);
        spec.mounts.push_back(jail::device_mount("/dev/null"));
        spec.symlinks = jail::runtime_symlinks();
        spec.mount_proc = true; // sanitizer builds read /proc/self/maps
        worker_argv[0] = binary;
        spec.argv = worker_argv;
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) < 0)
            return Error::from_errno("pipe", errno);
        status_read = Fd(fds[0]);
        status_write = Fd(fds[1]);
        spec.status_fd = status_write.get();
        spec.keep_fds = keep;
        (void)jail::cgroup_destroy(layout, spec.cgroup);
        (void)sys::remove_tree(spec.root);
        TRY(sys::mkdirs(m_config.home + "/jail", 0700));
        TRY(sys::mkdirs(spec.root, 0700));
        options.argv = jail::to_jailer_args(spec);
        options.argv.insert(options.argv.begin(), m_config.jailer_binary);
        options.pass_fds.push_back(status_write.get());
    } else {
        options.argv = worker_argv;
    }
    auto child = TRY_CTX(Child::spawn(options), "cannot start the switch worker");
    status_write.reset();
    theirs.reset();
    if (status_read.valid()) {
        std::string report = jail::read_status(status_read.get(), 10s);
        if (!report.empty()) {
            (void)pidfd_send_signal(child.pidfd(), SIGKILL);
            (void)pidfd_wait(child.pidfd());
            return Error(ErrorKind::Unavailable, "the switch worker's jail could not be built: " + report);
        }
    }
    m_pid = child.pid();
    m_pidfd = child.release_pidfd();
    m_control.emplace(std::move(ours));
    m_wanted = true;
    log::info("switch worker started (pid " + std::to_string(m_pid) + ")");
    // The uplinks' passt processes were connected to the old worker: new ones are started as
    // the replay attaches each guest again.
    stop_all_uplinks_locked();
    m_attached.clear();
    m_uplink_segments.reset(); // read from the stored policy again
    return replay_locked();
}

VoidResult Network::replay_locked()
{
    for (const auto& r : TRY(m_db.query("SELECT name, subnet, server_mac FROM net_segments ORDER BY name"))) {
        auto subnet = Cidr::parse(r.text(1));
        if (!subnet)
            continue;
        std::string server_ip = IpAddr::v4(subnet->base.v4_host_order() + 1).to_string();
        TRY(request_locked({ { "op", "segment" }, { "name", r.text(0) }, { "subnet", r.text(1) }, { "server_ip", server_ip },
                               { "server_mac", r.text(2) } },
            {}));
    }
    if (auto row = TRY(m_db.query_one("SELECT value FROM net_config WHERE key = 'policy'"))) {
        auto fd = TRY(sys::memfd_with(row->text(0), "bulwark-doc"));
        TRY(request_locked({ { "op", "policy" } }, { fd.get() }));
    }
    if (auto row = TRY(m_db.query_one("SELECT value FROM net_config WHERE key = 'rules'"))) {
        auto fd = TRY(sys::memfd_with(row->text(0), "bulwark-doc"));
        TRY(request_locked({ { "op", "rules" } }, { fd.get() }));
    }
    for (const auto& r :
        TRY(m_db.query("SELECT DISTINCT v.id, v.name FROM vms v JOIN vm_nics n ON n.vm_id = v.id WHERE v.state = 'running'"))) {
        if (auto attached = attach_locked(r.integer(0), r.text(1)); attached.is_error())
            log::warn("network of guest '" + r.text(1) + "' not reconnected: " + attached.error().message());
    }
    return {};
}

Result<Json> Network::request_locked(const Json& message, const std::vector<int>& fds)
{
    if (!m_control)
        return Error(ErrorKind::Unavailable, "the switch worker is not running");
    auto sent
        = fds.empty() ? m_control->write(json_dump(message) + "\n") : m_control->write_with_fds(json_dump(message) + "\n", fds);
    if (sent.is_error())
        return Error(ErrorKind::Unavailable, "the switch worker is gone: " + sent.error().message());
    auto line = m_control->read_line(k_max_reply, deadline_in(30s));
    if (line.is_error())
        return Error(ErrorKind::Unavailable, "the switch worker did not answer: " + line.error().message());
    auto reply = TRY(parse_json(line.value(), JsonLimits { k_max_reply, 32 }));
    if (!json_bool_or(reply, "ok", false)) {
        auto kind = error_kind_from_name(json_string_or(reply, "kind", "Internal")).value_or(ErrorKind::Internal);
        return Error(kind, json_string_or(reply, "error", "the switch refused the request"));
    }
    reply.erase("ok");
    return reply;
}

Result<Json> Network::request(const Json& message, const std::vector<int>& fds)
{
    std::lock_guard lock(m_mutex);
    if (!m_control)
        TRY(start_worker_locked());
    return request_locked(message, fds);
}

VoidResult Network::attach_locked(int64_t vm_id, const std::string& vm_name)
{
    auto quarantined = TRY(m_db.query_one("SELECT quarantined FROM vms WHERE id = ?", { vm_id }));
    bool q = quarantined && quarantined->integer(0) != 0;
    for (const auto& nic : TRY(nics(vm_id))) {
        std::string path = m_config.socket_path(vm_id, nic.index);
        // QEMU creates the socket while it starts; it listens before QMP answers.
        auto sock = TRY_CTX(unix_connect(path), "cannot connect to the guest's network socket");
        std::string name = nic.index == 0 ? vm_name : vm_name + "." + std::to_string(nic.index);
        Json port { { "op", "port_add" }, { "id", nic.port_id() }, { "name", name }, { "segment", nic.segment },
            { "mac", nic.mac }, { "ip", nic.ip }, { "labels", labels_json(nic.labels) }, { "quarantined", q } };
        if (nic.max_fps)
            port["max_fps"] = *nic.max_fps;
        if (nic.max_bps)
            port["max_bps"] = *nic.max_bps;
        TRY(request_locked(port, { sock.get() }));
    }
    m_attached[vm_id] = vm_name;
    // An uplink that cannot start leaves the guest on its segment without one (logged, and
    // retried by the supervisor), rather than failing the guest's start.
    reconcile_uplinks_locked();
    return {};
}

Result<jail::CgroupLayout> Network::cgroups_locked()
{
    if (!m_cgroups)
        m_cgroups = TRY(jail::detect_cgroups());
    return *m_cgroups;
}

Result<std::vector<std::string>> Network::uplink_segments_locked()
{
    if (m_uplink_segments)
        return *m_uplink_segments;
    auto row = TRY(m_db.query_one("SELECT value FROM net_config WHERE key = 'policy'"));
    std::vector<std::string> segments;
    if (row) {
        auto doc = TRY(parse_json(row->text(0), JsonLimits { k_max_policy_bytes * 4, 16 }));
        segments = TRY(SegmentPolicy::from_json(doc)).uplink_segments;
    }
    m_uplink_segments = segments;
    return segments;
}

namespace {

std::string uplink_cgroup(const std::string& home, uint32_t id)
{
    return jail::cgroup_parent(home) + "/uplink-" + std::to_string(id);
}

// The back-off after `failures` deaths or failed starts in a row: 1 s, 2 s, 4 s ... 30 s.
int64_t retry_delay_ms(int failures)
{
    return std::min<int64_t>(30000, 500ll << std::min(failures, 6));
}

} // namespace

VoidResult Network::start_uplink_locked(const Nic& nic, const std::string& port_name, int failures)
{
    if (m_config.passt_binary.empty())
        return Error(ErrorKind::Unavailable,
            "passt is not installed (apt-get install passt), so segment '" + nic.segment + "' has no uplink");
    auto seg = TRY(m_db.query_one("SELECT subnet, server_mac FROM net_segments WHERE name = ?", { nic.segment }));
    auto subnet = seg ? Cidr::parse(seg->text(0)) : std::nullopt;
    if (!subnet)
        return Error(ErrorKind::Corrupt, "segment '" + nic.segment + "' has no subnet");
    std::string gateway = IpAddr::v4(subnet->base.v4_host_order() + 1).to_string();
    uint32_t id = nic.uplink_port_id();
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        return Error::from_errno("socketpair", errno);
    Fd ours(pair[0]);
    Fd theirs(pair[1]);
    std::string log_path = m_config.home + "/net/uplink-" + std::to_string(id) + ".log";
    // passt opens its log itself; created here first so that its mode is ours.
    TRY(sys::open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600));
    // No DHCP, NDP or router advertisements (the switch answers DHCP), IPv4 only, nothing
    // forwarded inward, and the gateway address not mapped to the host's loopback: the
    // guest's flows become the host's sockets toward real destinations only. DNS to the
    // gateway's address goes to the host's resolver (the switch sends it only with
    // [uplink] dns).
    std::vector<std::string> argv { m_config.passt_binary, "--foreground", "--quiet", "--fd", std::to_string(theirs.get()),
        "--ipv4-only", "--no-dhcp", "--no-ndp", "--no-dhcpv6", "--no-ra", "--no-map-gw", "--tcp-ports", "none", "--udp-ports",
        "none", "--address", nic.ip, "--netmask", std::to_string(subnet->prefix), "--gateway", gateway, "--mac-addr",
        seg->text(1), "--mtu", "1500", "--dns-forward", gateway, "--log-file", log_path, "--log-size", "1048576" };
    if (::geteuid() == 0) {
        argv.emplace_back("--runas");
        argv.emplace_back(std::to_string(m_config.uplink_uid) + ":" + std::to_string(m_config.uplink_uid));
    }
    SpawnOptions options;
    options.argv = argv;
    options.env = minimal_env();
    options.pass_fds = { theirs.get() };
    auto child = TRY_CTX(Child::spawn(options), "cannot start passt for " + port_name + "'s uplink");
    theirs.reset();
    Uplink up { nic.vm_id, child.release_pidfd(), child.pid(), monotonic_ms(), failures };
    auto kill = [&up] {
        (void)pidfd_send_signal(up.pidfd.get(), SIGKILL);
        (void)pidfd_wait(up.pidfd.get());
    };
    if (m_config.jailed) {
        // passt does not fork in the foreground, so joining right after the start holds all of
        // it: a few MiB of buffers and one process.
        auto confine = [&]() -> VoidResult {
            auto layout = TRY(cgroups_locked());
            std::string path = uplink_cgroup(m_config.home, id);
            (void)jail::cgroup_destroy(layout, path);
            TRY(jail::cgroup_create(layout, path, jail::Limits { 256ull << 20, 100, 4 }));
            return jail::cgroup_join(layout, path, up.pid);
        };
        if (auto placed = confine(); placed.is_error()) {
            kill();
            return Error(placed.error().kind(), "cannot confine passt: " + placed.error().message());
        }
    }
    Json add { { "op", "uplink_add" }, { "id", id }, { "owner", nic.port_id() }, { "name", port_name + "/uplink" } };
    if (auto added = request_locked(add, { ours.get() }); added.is_error()) {
        kill();
        return added.release_error();
    }
    log::info("uplink of " + port_name + " started (passt pid " + std::to_string(up.pid) + ")");
    m_uplinks[id] = std::move(up);
    return {};
}

void Network::stop_uplink_locked(uint32_t id, bool tell_switch)
{
    auto it = m_uplinks.find(id);
    if (it == m_uplinks.end())
        return;
    if (tell_switch && m_control)
        (void)request_locked({ { "op", "port_remove" }, { "id", id } }, {});
    (void)pidfd_send_signal(it->second.pidfd.get(), SIGKILL);
    (void)pidfd_wait(it->second.pidfd.get());
    m_uplinks.erase(it);
    if (m_config.jailed) {
        if (auto layout = cgroups_locked(); layout.is_ok())
            (void)jail::cgroup_destroy(layout.value(), uplink_cgroup(m_config.home, id));
    }
}

void Network::stop_all_uplinks_locked()
{
    while (!m_uplinks.empty())
        stop_uplink_locked(m_uplinks.begin()->first, false);
}

bool Network::reap_uplinks_locked()
{
    bool due = false;
    for (auto it = m_uplinks.begin(); it != m_uplinks.end();) {
        auto status = pidfd_try_reap(it->second.pidfd.get());
        if (!status) {
            ++it;
            continue;
        }
        log::warn("passt of uplink port " + std::to_string(it->first) + " exited: " + status->describe());
        uint32_t id = it->first;
        // One that ran for a minute starts its back-off afresh.
        int failures = monotonic_ms() - it->second.started_ms >= 60000 ? 1 : it->second.failures + 1;
        ++m_uplink_restarts;
        ++it;
        stop_uplink_locked(id, true);
        m_uplink_retries[id] = { failures, monotonic_ms() + retry_delay_ms(failures) };
        due = true;
    }
    for (const auto& [id, retry] : m_uplink_retries)
        due = due || monotonic_ms() >= retry.after_ms;
    return due;
}

void Network::reconcile_uplinks_locked()
{
    (void)reap_uplinks_locked();
    if (!m_control)
        return;
    auto segments = uplink_segments_locked();
    if (segments.is_error()) {
        log::error("the stored network policy cannot be read: " + segments.error().message());
        return;
    }
    std::set<uint32_t> wanted;
    for (const auto& [vm_id, vm_name] : m_attached) {
        auto list = nics(vm_id);
        if (list.is_error())
            continue;
        for (const auto& nic : list.value()) {
            if (!std::binary_search(segments.value().begin(), segments.value().end(), nic.segment))
                continue;
            uint32_t id = nic.uplink_port_id();
            wanted.insert(id);
            if (m_uplinks.count(id))
                continue;
            int failures = 0;
            if (auto retry = m_uplink_retries.find(id); retry != m_uplink_retries.end()) {
                if (monotonic_ms() < retry->second.after_ms)
                    continue;
                failures = retry->second.failures;
            }
            std::string name = nic.index == 0 ? vm_name : vm_name + "." + std::to_string(nic.index);
            if (auto started = start_uplink_locked(nic, name, failures); started.is_error()) {
                log::error("uplink of " + name + " not started: " + started.error().message());
                m_uplink_retries[id] = { failures + 1, monotonic_ms() + retry_delay_ms(failures + 1) };
            } else {
                m_uplink_retries.erase(id);
            }
        }
    }
    for (auto it = m_uplinks.begin(); it != m_uplinks.end();) {
        uint32_t id = it->first;
        ++it;
        if (!wanted.count(id))
            stop_uplink_locked(id, true);
    }
    std::erase_if(m_uplink_retries, [&](const auto& r) { return !wanted.count(r.first); });
}

VoidResult Network::resume()
{
    auto running = TRY(m_db.query_one("SELECT 1 FROM vms v JOIN vm_nics n ON n.vm_id = v.id WHERE v.state = 'running' LIMIT 1"));
    if (!running)
        return {};
    std::lock_guard lock(m_mutex);
    if (m_control)
        return {};
    return start_worker_locked();
}

VoidResult Network::attach(int64_t vm_id, const std::string& vm_name)
{
    if (TRY(nics(vm_id)).empty())
        return {};
    std::lock_guard lock(m_mutex);
    if (!m_control)
        return start_worker_locked(); // the replay attaches every running guest, this one too
    return attach_locked(vm_id, vm_name);
}

void Network::detach(int64_t vm_id)
{
    auto list = nics(vm_id);
    if (list.is_error() || list.value().empty())
        return;
    std::lock_guard lock(m_mutex);
    m_attached.erase(vm_id);
    for (const auto& nic : list.value())
        stop_uplink_locked(nic.uplink_port_id(), true);
    if (!m_control)
        return;
    for (const auto& nic : list.value())
        (void)request_locked({ { "op", "port_remove" }, { "id", nic.port_id() } }, {});
}

Result<Json> Network::apply_policy(const std::string& text, const std::string& source)
{
    auto policy = TRY(parse_segment_policy(text, source));
    auto uplink_segments = policy.uplink_segments;
    std::string canonical = json_dump(policy.to_json());
    TRY(m_db.exec("INSERT INTO net_config (key, value, updated) VALUES ('policy', ?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                  "excluded.value, updated = excluded.updated",
        { canonical, now_rfc3339() }));
    auto fd = TRY(sys::memfd_with(canonical, "bulwark-policy"));
    TRY(request({ { "op", "policy" } }, { fd.get() }));
    {
        // Uplinks follow the policy's [uplink] segments at once, for guests already running.
        std::lock_guard lock(m_mutex);
        m_uplink_segments = std::move(uplink_segments);
        m_uplink_retries.clear();
        reconcile_uplinks_locked();
    }
    return show_policy();
}

Result<Json> Network::show_policy()
{
    return request({ { "op", "policy_show" } });
}

Result<Json> Network::apply_rules(const std::string& text)
{
    if (text.size() > (32u << 20))
        return Error(ErrorKind::InvalidArgument, "a rules file over 32 MiB");
    auto fd = TRY(sys::memfd_with(text, "bulwark-rules"));
    // Loaded first, stored only when the switch took them: a file with no usable rule does not
    // replace the running set.
    auto result = TRY(request({ { "op", "rules" } }, { fd.get() }));
    TRY(m_db.exec("INSERT INTO net_config (key, value, updated) VALUES ('rules', ?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                  "excluded.value, updated = excluded.updated",
        { text, now_rfc3339() }));
    return result;
}

VoidResult Network::set_quarantine(int64_t vm_id, bool quarantined)
{
    TRY(m_db.exec("UPDATE vms SET quarantined = ? WHERE id = ?", { int64_t(quarantined), vm_id }));
    std::lock_guard lock(m_mutex);
    if (!m_control)
        return {}; // the flag is durable; a worker started later reads it
    for (const auto& nic : TRY(nics(vm_id))) {
        auto r = request_locked({ { "op", "quarantine" }, { "id", nic.port_id() }, { "on", quarantined } }, {});
        if (r.is_error() && r.error().kind() != ErrorKind::NotFound)
            return r.release_error();
    }
    return {};
}

Result<Json> Network::status()
{
    Json j = TRY(request({ { "op", "status" } }));
    std::lock_guard lock(m_mutex);
    j["worker"] = { { "pid", m_pid }, { "restarts", m_restarts } };
    Json uplinks = Json::array();
    for (const auto& [id, up] : m_uplinks)
        uplinks.push_back({ { "port", id }, { "vm_id", up.vm_id }, { "pid", up.pid } });
    j["uplinks"] = { { "running", uplinks }, { "restarts", m_uplink_restarts } };
    j["eve"] = eve_path();
    return j;
}

Result<uint32_t> Network::capture_port(int64_t vm_id, int64_t nic, bool uplink)
{
    auto list = TRY(nics(vm_id));
    if (list.empty())
        return Error(ErrorKind::InvalidArgument, "the guest has no network interface");
    if (nic < 0 || nic >= static_cast<int64_t>(list.size()))
        return Error(ErrorKind::InvalidArgument,
            "the guest has " + std::to_string(list.size()) + " network interface(s); --nic is 0 to "
                + std::to_string(list.size() - 1));
    const Nic& n = list[static_cast<std::size_t>(nic)];
    if (!uplink)
        return n.port_id();
    std::lock_guard lock(m_mutex);
    if (!m_uplinks.count(n.uplink_port_id()))
        return Error(ErrorKind::InvalidArgument,
            "NIC " + std::to_string(nic) + " has no uplink running (segment '" + n.segment
                + "' is not in the policy's [uplink] segments, or the guest is not running)");
    return n.uplink_port_id();
}

VoidResult Network::capture_start(int64_t vm_id, int64_t nic, bool uplink, Fd file)
{
    uint32_t port = TRY(capture_port(vm_id, nic, uplink));
    TRY(request({ { "op", "capture" }, { "id", port } }, { file.get() }));
    return {};
}

Result<Json> Network::capture_stop(int64_t vm_id, int64_t nic, bool uplink)
{
    uint32_t port = TRY(capture_port(vm_id, nic, uplink));
    return request({ { "op", "capture" }, { "id", port } });
}

void Network::supervise()
{
    int failures = 0;
    for (;;) {
        int pidfd = -1;
        {
            std::lock_guard lock(m_mutex);
            if (m_stopping)
                return;
            if (!m_control && m_wanted) {
                // A worker ran before and is gone (its restart failed): try again, backing off.
                auto started = start_worker_locked();
                if (started.is_error()) {
                    ++failures;
                    log::error("the switch worker could not be restarted: " + started.error().message());
                } else {
                    failures = 0;
                }
            }
            // Dead passt processes are noticed within one round; the wanted set is worked out
            // again only when one died or a retry is due.
            if (m_control && reap_uplinks_locked())
                reconcile_uplinks_locked();
            pidfd = m_pidfd.valid() ? m_pidfd.get() : -1;
        }
        if (pidfd < 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200 + std::min(5000, 250 * failures)));
            continue;
        }
        struct pollfd pfd {
            pidfd, POLLIN, 0
        };
        if (::poll(&pfd, 1, 200) <= 0)
            continue;
        std::lock_guard lock(m_mutex);
        if (m_stopping)
            return;
        auto status = pidfd_try_reap(m_pidfd.get());
        if (!status)
            continue;
        log::warn("the switch worker (pid " + std::to_string(m_pid) + ") exited: " + status->describe() + "; restarting it");
        m_pidfd.reset();
        m_control.reset();
        m_pid = -1;
        ++m_restarts;
    }
}

} // namespace bulwark::net
