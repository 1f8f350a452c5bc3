#include "jail/jail_spec.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "base/names.h"

namespace bulwark::jail {

bool is_normal_absolute_path(const std::string& path)
{
    if (path.empty() || path[0] != '/' || path.size() > k_max_path)
        return false;
    if (path == "/")
        return true;
    if (path.back() == '/')
        return false;
    size_t pos = 1;
    while (pos <= path.size()) {
        size_t end = path.find('/', pos);
        if (end == std::string::npos)
            end = path.size();
        std::string_view part(path.data() + pos, end - pos);
        if (part.empty() || part == "." || part == "..")
            return false;
        for (char c : part) {
            // Control characters and ',' (QEMU's option separator) never appear in a path
            // that Bulwark builds; refusing them keeps them out of QEMU's command line too.
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ',')
                return false;
        }
        pos = end + 1;
    }
    return true;
}

static bool is_inside(const std::string& path, const std::string& dir)
{
    return dir == "/" || path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

static Error invalid(const std::string& what) { return Error(ErrorKind::InvalidArgument, "jail spec: " + what); }

VoidResult validate(const JailSpec& spec)
{
    TRY(validate_name(spec.name, "guest name"));
    if (spec.uid < k_min_jail_id || spec.uid > k_max_jail_id || spec.gid < k_min_jail_id || spec.gid > k_max_jail_id)
        return invalid("uid and gid must be between " + std::to_string(k_min_jail_id) + " and " + std::to_string(k_max_jail_id));
    if (!is_normal_absolute_path(spec.root) || spec.root == "/")
        return invalid("root must be a normal absolute path other than /, not '" + spec.root + "'");
    if (spec.cgroup.empty() || spec.cgroup.size() > 200)
        return invalid("a cgroup path is required");
    for (size_t pos = 0; pos <= spec.cgroup.size();) {
        size_t end = std::min(spec.cgroup.find('/', pos), spec.cgroup.size());
        auto part = spec.cgroup.substr(pos, end - pos);
        if (validate_name(part, "cgroup path component").is_error())
            return invalid("cgroup path '" + spec.cgroup + "' must be names joined by '/'");
        pos = end + 1;
    }
    if (spec.limits.memory_bytes < (16ULL << 20) || spec.limits.memory_bytes > (1ULL << 50))
        return invalid("memory limit out of range (16 MiB .. 1 PiB)");
    if (spec.limits.cpu_percent < 1 || spec.limits.cpu_percent > 100 * 4096)
        return invalid("cpu limit out of range (1 .. 409600 percent)");
    if (spec.limits.pids_max < 4 || spec.limits.pids_max > 65536)
        return invalid("pids limit out of range (4 .. 65536)");
    if (spec.mounts.size() > k_max_mounts || spec.symlinks.size() > k_max_mounts)
        return invalid("too many mounts or symlinks");
    std::set<std::string> targets;
    for (const auto& m : spec.mounts) {
        if (!is_normal_absolute_path(m.source))
            return invalid("bind source '" + m.source + "' is not a normal absolute path");
        if (!is_normal_absolute_path(m.target) || m.target == "/")
            return invalid("bind target '" + m.target + "' is not a normal absolute path other than /");
        if (!targets.insert(m.target).second)
            return invalid("bind target '" + m.target + "' is used twice");
        if (m.device && (m.writable || m.exec))
            return invalid("device " + m.target + " cannot also be a writable or executable bind");
        if (m.writable && m.exec)
            return invalid("bind " + m.target + " cannot be both writable and executable");
    }
    // Mount targets may not nest: each is made on the jail's own tmpfs, so one bind cannot
    // hide or shadow another.
    for (const auto& a : targets) {
        for (const auto& b : targets) {
            if (a != b && is_inside(b, a))
                return invalid("bind target '" + b + "' lies inside bind target '" + a + "'");
        }
    }
    if (spec.mount_proc) {
        for (const auto& t : targets) {
            if (is_inside(t, "/proc") || is_inside("/proc", t))
                return invalid("bind target '" + t + "' collides with /proc");
        }
    }
    for (const auto& s : spec.symlinks) {
        if (!is_normal_absolute_path(s.link) || s.link == "/")
            return invalid("symlink '" + s.link + "' is not a normal absolute path");
        if (s.target.empty() || s.target.size() > k_max_path || s.target.find('\0') != std::string::npos)
            return invalid("symlink target for '" + s.link + "' is empty or too long");
        for (const auto& t : targets) {
            if (is_inside(s.link, t) || is_inside(t, s.link))
                return invalid("symlink '" + s.link + "' collides with bind target '" + t + "'");
        }
    }
    if (spec.status_fd >= 0 && spec.status_fd < 3)
        return invalid("the status fd must be 3 or above");
    for (int fd : spec.keep_fds) {
        if (fd < 3 || fd == spec.status_fd)
            return invalid("kept fd " + std::to_string(fd) + " must be 3 or above and not the status fd");
    }
    if (spec.argv.empty() || spec.argv.size() > k_max_args)
        return invalid("the program's argv is empty or too long");
    if (!is_normal_absolute_path(spec.argv[0]))
        return invalid("the program '" + spec.argv[0] + "' must be an absolute path inside the jail");
    size_t total = 0;
    for (const auto& a : spec.argv) {
        if (a.find('\0') != std::string::npos)
            return invalid("an argument contains a NUL byte");
        total += a.size() + 1;
    }
    if (total > (1 << 20))
        return invalid("the program's arguments exceed 1 MiB");
    return {};
}

std::vector<std::string> to_jailer_args(const JailSpec& spec)
{
    std::vector<std::string> a {
        "--name", spec.name,
        "--uid", std::to_string(spec.uid),
        "--gid", std::to_string(spec.gid),
        "--root", spec.root,
        "--cgroup", spec.cgroup,
        "--memory", std::to_string(spec.limits.memory_bytes),
        "--cpu-percent", std::to_string(spec.limits.cpu_percent),
        "--pids", std::to_string(spec.limits.pids_max),
    };
    for (const auto& m : spec.mounts) {
        const char* kind = m.device ? "--dev" : m.writable ? "--bind-rw" : m.exec ? "--bind-exec" : "--bind-ro";
        a.insert(a.end(), {kind, m.source, m.target});
    }
    for (const auto& s : spec.symlinks)
        a.insert(a.end(), {"--symlink", s.link, s.target});
    if (spec.status_fd >= 0)
        a.insert(a.end(), {"--status-fd", std::to_string(spec.status_fd)});
    for (int fd : spec.keep_fds)
        a.insert(a.end(), {"--keep-fd", std::to_string(fd)});
    if (spec.keep_sys_ptrace)
        a.push_back("--keep-sys-ptrace");
    if (spec.mount_proc)
        a.push_back("--proc");
    a.push_back("--");
    a.insert(a.end(), spec.argv.begin(), spec.argv.end());
    return a;
}

template<typename T>
static Result<T> parse_number(const std::string& option, const std::string& text)
{
    T value {};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        return invalid(option + " needs a number, not '" + text + "'");
    return value;
}

Result<JailSpec> parse_jailer_args(std::span<const std::string> args)
{
    JailSpec spec;
    std::set<std::string> seen;
    size_t i = 0;
    auto take = [&](const std::string& option) -> Result<std::string> {
        if (i >= args.size())
            return invalid(option + " needs a value");
        return args[i++];
    };
    while (i < args.size()) {
        const std::string& opt = args[i++];
        if (opt == "--") {
            spec.argv.assign(args.begin() + static_cast<ptrdiff_t>(i), args.end());
            i = args.size();
            break;
        }
        bool repeatable = opt == "--bind-ro" || opt == "--bind-rw" || opt == "--bind-exec" || opt == "--dev"
            || opt == "--symlink" || opt == "--keep-fd";
        if (!repeatable && !seen.insert(opt).second)
            return invalid(opt + " given twice");
        if (opt == "--name")
            spec.name = TRY(take(opt));
        else if (opt == "--uid")
            spec.uid = TRY(parse_number<uid_t>(opt, TRY(take(opt))));
        else if (opt == "--gid")
            spec.gid = TRY(parse_number<gid_t>(opt, TRY(take(opt))));
        else if (opt == "--root")
            spec.root = TRY(take(opt));
        else if (opt == "--cgroup")
            spec.cgroup = TRY(take(opt));
        else if (opt == "--memory")
            spec.limits.memory_bytes = TRY(parse_number<uint64_t>(opt, TRY(take(opt))));
        else if (opt == "--cpu-percent")
            spec.limits.cpu_percent = TRY(parse_number<uint32_t>(opt, TRY(take(opt))));
        else if (opt == "--pids")
            spec.limits.pids_max = TRY(parse_number<uint32_t>(opt, TRY(take(opt))));
        else if (opt == "--bind-ro" || opt == "--bind-rw" || opt == "--bind-exec" || opt == "--dev") {
            BindMount m;
            m.source = TRY(take(opt));
            m.target = TRY(take(opt));
            m.writable = opt == "--bind-rw";
            m.exec = opt == "--bind-exec";
            m.device = opt == "--dev";
            spec.mounts.push_back(std::move(m));
            if (spec.mounts.size() > k_max_mounts)
                return invalid("too many mounts");
        } else if (opt == "--symlink") {
            Symlink s;
            s.link = TRY(take(opt));
            s.target = TRY(take(opt));
            spec.symlinks.push_back(std::move(s));
            if (spec.symlinks.size() > k_max_mounts)
                return invalid("too many symlinks");
        } else if (opt == "--status-fd")
            spec.status_fd = TRY(parse_number<int>(opt, TRY(take(opt))));
        else if (opt == "--keep-fd") {
            spec.keep_fds.push_back(TRY(parse_number<int>(opt, TRY(take(opt)))));
            if (spec.keep_fds.size() > 64)
                return invalid("too many kept fds");
        } else if (opt == "--keep-sys-ptrace")
            spec.keep_sys_ptrace = true;
        else if (opt == "--proc")
            spec.mount_proc = true;
        else
            return invalid("unknown option '" + opt + "'");
    }
    TRY(validate(spec));
    return spec;
}

}  // namespace bulwark::jail
