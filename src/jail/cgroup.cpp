#include "jail/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <thread>

#include "base/process.h"
#include "base/system.h"

namespace bulwark::jail {

using namespace std::chrono_literals;

static constexpr const char* k_v1_controllers[] = {"cpu", "memory", "pids"};

Result<CgroupLayout> detect_cgroups(const std::string& root)
{
    CgroupLayout layout;
    layout.root = root;
    if (sys::exists(root + "/cgroup.controllers")) {
        auto available = TRY(sys::read_file(root + "/cgroup.controllers", 4096));
        for (const char* c : k_v1_controllers) {
            if (available.find(c) == std::string::npos)
                return Error(ErrorKind::Unavailable, std::string("the cgroup v2 controller '") + c + "' is not available in " + root);
        }
        layout.unified = true;
        layout.hierarchies.push_back(root);
        return layout;
    }
    for (const char* c : k_v1_controllers) {
        std::string dir = root + "/" + c;
        if (!sys::exists(dir + "/cgroup.procs"))
            return Error(ErrorKind::Unavailable, "the cgroup controller '" + std::string(c) + "' is not mounted at " + dir);
        layout.hierarchies.push_back(dir);
    }
    return layout;
}

static VoidResult write_control(const std::string& file, const std::string& value)
{
    int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return Error::from_errno("cannot open " + file, errno);
    ssize_t n = ::write(fd, value.data(), value.size());
    int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(value.size()))
        return Error::from_errno("cannot write '" + value + "' to " + file, n < 0 ? err : EIO);
    return {};
}

static std::vector<std::string> components(const std::string& path)
{
    std::vector<std::string> out;
    for (size_t pos = 0; pos <= path.size();) {
        size_t end = std::min(path.find('/', pos), path.size());
        out.push_back(path.substr(pos, end - pos));
        pos = end + 1;
    }
    return out;
}

// Creates the parents (kept: they are shared by every guest) and reports whether the leaf
// was made now.
static VoidResult make_path(const CgroupLayout& layout, const std::string& hierarchy, const std::string& path)
{
    auto parts = components(path);
    std::string dir = hierarchy;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (layout.unified) {
            // v2: a controller is usable in a child only when its parent delegates it.
            auto r = write_control(dir + "/cgroup.subtree_control", "+cpu +memory +pids");
            if (r.is_error())
                return r.error().with_context("cannot delegate cpu, memory and pids below " + dir);
        }
        dir += "/" + parts[i];
        if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST)
            return Error::from_errno("cannot create cgroup " + dir, errno);
    }
    return {};
}

static std::vector<pid_t> read_procs(const std::string& dir)
{
    std::vector<pid_t> out;
    auto text = sys::read_file(dir + "/cgroup.procs", 1 << 20);
    if (text.is_error())
        return out;
    const std::string& s = text.value();
    for (size_t pos = 0; pos < s.size();) {
        size_t end = s.find('\n', pos);
        if (end == std::string::npos)
            end = s.size();
        pid_t pid = 0;
        auto [p, ec] = std::from_chars(s.data() + pos, s.data() + end, pid);
        if (ec == std::errc() && pid > 0)
            out.push_back(pid);
        pos = end + 1;
    }
    return out;
}

VoidResult cgroup_create(const CgroupLayout& layout, const std::string& path, const Limits& limits)
{
    if (!cgroup_processes(layout, path).empty())
        return Error(ErrorKind::Conflict, "cgroup " + path + " still holds processes of an earlier run");
    auto attempt = [&]() -> VoidResult {
        for (const auto& h : layout.hierarchies)
            TRY(make_path(layout, h, path));
        const std::string quota = std::to_string(static_cast<uint64_t>(limits.cpu_percent) * 1000);
        const std::string memory = std::to_string(limits.memory_bytes);
        if (layout.unified) {
            std::string dir = layout.root + "/" + path;
            TRY(write_control(dir + "/memory.max", memory));
            if (sys::exists(dir + "/memory.swap.max"))
                TRY(write_control(dir + "/memory.swap.max", "0"));
            TRY(write_control(dir + "/cpu.max", quota + " 100000"));
            TRY(write_control(dir + "/pids.max", std::to_string(limits.pids_max)));
            return {};
        }
        std::string cpu = layout.hierarchies[0] + "/" + path;
        std::string mem = layout.hierarchies[1] + "/" + path;
        std::string pids = layout.hierarchies[2] + "/" + path;
        TRY(write_control(cpu + "/cpu.cfs_period_us", "100000"));
        TRY(write_control(cpu + "/cpu.cfs_quota_us", quota));
        TRY(write_control(mem + "/memory.limit_in_bytes", memory));
        // With swap accounting, memory + swap gets the same limit: no escape into swap.
        if (sys::exists(mem + "/memory.memsw.limit_in_bytes"))
            TRY(write_control(mem + "/memory.memsw.limit_in_bytes", memory));
        TRY(write_control(pids + "/pids.max", std::to_string(limits.pids_max)));
        return {};
    };
    auto r = attempt();
    if (r.is_error()) {
        (void)cgroup_destroy(layout, path, 1s);
        return r;
    }
    return {};
}

VoidResult cgroup_join(const CgroupLayout& layout, const std::string& path, pid_t pid)
{
    for (const auto& h : layout.hierarchies)
        TRY(write_control(h + "/" + path + "/cgroup.procs", std::to_string(pid)));
    return {};
}

VoidResult cgroup_leave(const CgroupLayout& layout, pid_t pid)
{
    for (const auto& h : layout.hierarchies)
        TRY(write_control(h + "/cgroup.procs", std::to_string(pid)));
    return {};
}

std::vector<pid_t> cgroup_processes(const CgroupLayout& layout, const std::string& path)
{
    std::vector<pid_t> out;
    for (const auto& h : layout.hierarchies) {
        for (pid_t p : read_procs(h + "/" + path)) {
            if (std::find(out.begin(), out.end(), p) == out.end())
                out.push_back(p);
        }
    }
    return out;
}

bool cgroup_exists(const CgroupLayout& layout, const std::string& path)
{
    for (const auto& h : layout.hierarchies) {
        if (sys::exists(h + "/" + path))
            return true;
    }
    return false;
}

uint64_t cgroup_oom_kills(const CgroupLayout& layout, const std::string& path)
{
    std::string file = layout.unified ? layout.root + "/" + path + "/memory.events"
                                      : layout.hierarchies[1] + "/" + path + "/memory.oom_control";
    auto text = sys::read_file(file, 4096);
    if (text.is_error())
        return 0;
    const std::string key = "oom_kill ";
    for (size_t pos = 0; pos < text.value().size();) {
        size_t end = text.value().find('\n', pos);
        if (end == std::string::npos)
            end = text.value().size();
        if (text.value().compare(pos, key.size(), key) == 0) {
            uint64_t n = 0;
            std::from_chars(text.value().data() + pos + key.size(), text.value().data() + end, n);
            return n;
        }
        pos = end + 1;
    }
    return 0;
}

VoidResult cgroup_destroy(const CgroupLayout& layout, const std::string& path, std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto pids = cgroup_processes(layout, path);
        if (pids.empty())
            break;
        for (pid_t pid : pids) {
            // Through a pidfd, so a pid recycled between the read and the kill is never hit.
            auto fd = pidfd_open(pid);
            if (fd.is_error())
                continue;
            auto member = sys::read_file("/proc/" + std::to_string(pid) + "/cgroup", 1 << 16);
            if (member.is_ok() && member.value().find(":/" + path + "\n") != std::string::npos)
                (void)pidfd_send_signal(fd.value().get(), SIGKILL);
        }
        if (std::chrono::steady_clock::now() > deadline)
            return Error(ErrorKind::Timeout, "cgroup " + path + " still holds processes after SIGKILL");
        std::this_thread::sleep_for(2ms);
    }
    for (const auto& h : layout.hierarchies) {
        std::string dir = h + "/" + path;
        // An emptied cgroup can stay busy for a moment while the kernel finishes the exits.
        while (::rmdir(dir.c_str()) < 0 && errno != ENOENT) {
            if (errno != EBUSY || std::chrono::steady_clock::now() > deadline)
                return Error::from_errno("cannot remove cgroup " + dir, errno);
            std::this_thread::sleep_for(2ms);
        }
    }
    return {};
}

}  // namespace bulwark::jail
