#include "scan/inspector.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "base/process.h"
#include "base/system.h"
#include "jail/cgroup.h"
#include "jail/guest_jail.h"
#include "jail/launcher.h"

namespace bulwark::scan {

namespace {

std::atomic<uint64_t> g_next_run {1};

struct Pipe {
    Fd read;
    Fd write;
    static Result<Pipe> make()
    {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) < 0)
            return Error::from_errno("pipe", errno);
        return Pipe {Fd(fds[0]), Fd(fds[1])};
    }
};

}  // namespace

std::optional<ScanProgress> parse_worker_progress(const std::string& line, const ScanProgress& last)
{
    auto doc = parse_json(line, {4096, 4});
    if (doc.is_error() || !doc.value().is_object())
        return std::nullopt;
    const Json& j = doc.value();
    ScanProgress p;
    const std::pair<const char*, uint64_t*> fields[] {{"files", &p.files}, {"files_total", &p.files_total}, {"bytes", &p.bytes_scanned}};
    for (auto [key, field] : fields) {
        if (!j.contains(key) || !j[key].is_number_unsigned())
            return std::nullopt;
        *field = j[key].get<uint64_t>();
    }
    if (p.files > p.files_total || p.files < last.files || p.files_total < last.files_total || p.bytes_scanned < last.bytes_scanned)
        return std::nullopt;
    return p;
}

Result<Json> run_inspector(const InspectorConfig& config, const InspectorInput& input)
{
    jail::CgroupLayout layout;
    if (config.jailed)
        layout = TRY_CTX(jail::detect_cgroups(), "the inspector's jail");
    uint64_t run = g_next_run++;
    std::string tag = "inspect-" + std::to_string(::getpid()) + "-" + std::to_string(run);
    jail::JailSpec spec;
    spec.name = "inspector";
    spec.uid = spec.gid = config.uid;
    spec.root = config.home + "/jail/" + tag;
    spec.cgroup = jail::cgroup_parent(config.home) + "/" + tag;
    // One CPU per content-scanning thread. 16 tasks: the worker and its scanning threads
    // (at most k_max_scan_threads), with room to spare.
    unsigned threads = std::clamp(config.threads, 1u, k_max_scan_threads);
    spec.limits = {config.memory_bytes, 100 * threads, 16};
    // Its own binary and the shared libraries: no firmware, no devices beyond null and
    // urandom, no QEMU. A procfs of its own PID namespace, for sanitizer builds.
    std::string worker = TRY_CTX(sys::realpath(config.worker), "the inspector worker");
    spec.mounts = jail::program_runtime_mounts(worker);
    spec.mounts.push_back(jail::device_mount("/dev/null"));
    spec.mounts.push_back(jail::device_mount("/dev/urandom"));
    spec.symlinks = jail::runtime_symlinks();
    spec.mount_proc = true;

    auto status = TRY(Pipe::make());
    auto output = TRY(Pipe::make());
    auto progress = TRY(Pipe::make());
    spec.status_fd = status.write.get();
    std::vector<int> keep {input.image_fd, output.write.get(), progress.write.get()};
    spec.argv = {worker, "--image-fd", std::to_string(input.image_fd), "--out-fd", std::to_string(output.write.get()),
        "--progress-fd", std::to_string(progress.write.get()), "--max-file-mib", std::to_string(config.max_file_mib), "--content", input.content ? "1" : "0",
        "--threads", std::to_string(threads)};
    for (const auto& [name, fd] : input.backing) {
        keep.push_back(fd);
        spec.argv.insert(spec.argv.end(), {"--backing", name + "=" + std::to_string(fd)});
    }
    for (const auto& [name, fd] : input.yara) {
        keep.push_back(fd);
        spec.argv.insert(spec.argv.end(), {"--yara", name + "=" + std::to_string(fd)});
    }
    spec.keep_fds = keep;
    TRY(sys::mkdirs(config.home + "/jail", 0700));
    TRY(sys::mkdirs(spec.root, 0700));
    auto clean_up = [&] {
        if (config.jailed)
            (void)jail::cgroup_destroy(layout, spec.cgroup);
        (void)::rmdir(spec.root.c_str());
    };

    SpawnOptions options;
    options.env = minimal_env();
    if (config.jailed) {
        options.argv = jail::to_jailer_args(spec);
        options.argv.insert(options.argv.begin(), config.jailer);
    } else {
        // BULWARK_JAIL=off (development hosts without root): no namespaces, no uid change.
        options.argv = spec.argv;
        options.address_space_limit = config.memory_bytes + (4ULL << 30);
        status.write.reset();
    }
    options.pass_fds = keep;
    if (status.write.valid())
        options.pass_fds.push_back(status.write.get());
    auto child = Child::spawn(options);
    status.write.reset();
    output.write.reset();
    progress.write.reset();
    if (child.is_error()) {
        clean_up();
        return child.release_error();
    }

    // Read the status pipe, the report and the progress lines until the output closes or the
    // deadline passes.
    auto deadline = std::chrono::steady_clock::now() + config.timeout;
    std::string report, step, progress_buf;
    ScanProgress last_progress;
    bool output_open = true, status_open = true, progress_open = true;
    bool too_big = false, timed_out = false;
    while (output_open || status_open) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfds[3] {{status_open ? status.read.get() : -1, POLLIN, 0}, {output_open ? output.read.get() : -1, POLLIN, 0},
            {progress_open ? progress.read.get() : -1, POLLIN, 0}};
        int n = ::poll(pfds, 3, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
        if (n < 0 && errno != EINTR) {
            clean_up();
            return Error::from_errno("poll", errno);
        }
        char buf[65536];
        auto drain = [&](int i, bool& open, std::string& into, size_t cap) {
            if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                return;
            ssize_t got = ::read(pfds[i].fd, buf, sizeof buf);
            if (got <= 0) {
                if (got < 0 && errno == EINTR)
                    return;
                open = false;
                return;
            }
            if (into.size() + static_cast<size_t>(got) > cap) {
                too_big = true;
                open = false;
                return;
            }
            into.append(buf, static_cast<size_t>(got));
        };
        drain(0, status_open, step, 4096);
        drain(1, output_open, report, config.max_report_bytes);
        if (progress_open) {
            drain(2, progress_open, progress_buf, 1 << 20);
            size_t nl;
            while ((nl = progress_buf.find('\n')) != std::string::npos) {
                auto line = parse_worker_progress(progress_buf.substr(0, nl), last_progress);
                progress_buf.erase(0, nl + 1);
                if (!line)
                    continue;
                last_progress = *line;
                if (input.progress)
                    input.progress(last_progress);
            }
            if (progress_buf.size() > 65536)
                progress_buf.clear();
        }
        if (too_big)
            break;
    }
    if (timed_out || too_big)
        (void)pidfd_send_signal(child.value().pidfd(), SIGKILL);
    auto exit = child.value().wait(std::chrono::seconds(30));
    bool oom = config.jailed && jail::cgroup_oom_kills(layout, spec.cgroup) > 0;
    clean_up();
    while (!step.empty() && step.back() == '\n')
        step.pop_back();
    if (!step.empty())
        return Error(ErrorKind::Internal, "the inspector's jail could not be built: " + step);
    if (timed_out)
        return Error(ErrorKind::Timeout, "the inspection did not finish within " + std::to_string(config.timeout.count()) + " s; the inspector was killed");
    if (too_big)
        return Error(ErrorKind::Corrupt, "the inspector's report passed " + std::to_string(config.max_report_bytes >> 20) + " MiB; the inspector was killed");
    if (exit.is_error() || !exit.value().success()) {
        std::string how = exit.is_ok() ? exit.value().describe() : exit.error().message();
        return Error(ErrorKind::Corrupt, "the inspector died on this image (" + how + (oom ? "; it reached its memory limit" : "") + ")");
    }
    auto parsed = parse_json(report, {config.max_report_bytes, 32});
    if (parsed.is_error())
        return Error(ErrorKind::Internal, "the inspector's report does not parse: " + parsed.error().message());
    const Json& j = parsed.value();
    if (!j.is_object() || !j.contains("ok"))
        return Error(ErrorKind::Internal, "the inspector's report has no outcome");
    if (!json_bool_or(j, "ok", false)) {
        std::string kind = j.contains("error") ? json_string_or(j["error"], "kind", "corrupt") : "corrupt";
        std::string message = j.contains("error") ? json_string_or(j["error"], "message", "?") : "?";
        return Error(error_kind_from_name(kind).value_or(ErrorKind::Corrupt), message);
    }
    if (!j.contains("report") || !j["report"].is_object())
        return Error(ErrorKind::Internal, "the inspector's report is empty");
    return j["report"];
}

}  // namespace bulwark::scan
