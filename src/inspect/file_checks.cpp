#include "inspect/file_checks.h"

#include <sys/stat.h>

#include <algorithm>

#include "inspect/secrets.h"

namespace bulwark::inspect {

namespace {

bool starts_with(std::string_view s, std::string_view prefix)
{
    return s.substr(0, prefix.size()) == prefix;
}

bool in_system_dir(std::string_view path)
{
    static constexpr std::string_view dirs[] = { "/etc", "/usr", "/bin", "/sbin", "/boot", "/var/lib" };
    for (auto d : dirs) {
        if (starts_with(path, d) && (path.size() == d.size() || path[d.size()] == '/'))
            return true;
    }
    // /lib and its multilib siblings
    for (std::string_view d : { "/lib", "/lib32", "/lib64", "/libx32" }) {
        if (starts_with(path, d) && (path.size() == d.size() || path[d.size()] == '/'))
            return true;
    }
    return false;
}

std::string octal_mode(uint32_t mode)
{
    char buf[8];
    buf[0] = '0';
    for (int i = 0; i < 4; ++i)
        buf[1 + i] = static_cast<char>('0' + ((mode >> (3 * (3 - i))) & 7));
    return std::string(buf, 5);
}

// Lexically resolves target against dir: "." and ".." segments, no file system access.
std::string resolve(std::string_view dir, std::string_view target)
{
    std::string joined = !target.empty() && target[0] == '/' ? std::string(target) : std::string(dir) + "/" + std::string(target);
    std::vector<std::string_view> parts;
    std::string_view rest = joined;
    while (!rest.empty()) {
        size_t slash = rest.find('/');
        std::string_view seg = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view {} : rest.substr(slash + 1);
        if (seg.empty() || seg == ".")
            continue;
        if (seg == "..") {
            if (!parts.empty())
                parts.pop_back();
            continue;
        }
        parts.push_back(seg);
    }
    std::string out;
    for (auto p : parts)
        out += "/" + std::string(p);
    return out.empty() ? "/" : out;
}

bool valid_unit_name(std::string_view name)
{
    if (name.empty() || name.size() > 256 || name.find('.') == std::string_view::npos)
        return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' || c == '_' || c == '.'
            || c == '\\' || c == '@' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

} // namespace

std::vector<Finding> check_file_modes(std::span<const FileEntry> files)
{
    std::vector<Finding> out;
    for (const auto& f : files) {
        mode_t type = f.mode & S_IFMT;
        std::string where = display_text(f.path, 256);
        if (type == S_IFREG && (f.mode & S_ISUID)) {
            Finding x = make_finding("file.setuid", f.path, f.uid == 0 ? Severity::Medium : Severity::Low, f.path,
                where + " is setuid " + (f.uid == 0 ? std::string("root") : "uid " + std::to_string(f.uid)) + " (mode "
                    + octal_mode(f.mode) + ")");
            out.push_back(std::move(x));
        }
        if (type == S_IFREG && (f.mode & S_ISGID))
            out.push_back(make_finding("file.setgid", f.path, Severity::Low, f.path,
                where + " is setgid gid " + std::to_string(f.gid) + " (mode " + octal_mode(f.mode) + ")"));
        bool world_writable = (f.mode & S_IWOTH) != 0;
        bool risky = (type == S_IFREG && world_writable) || (type == S_IFDIR && world_writable && !(f.mode & S_ISVTX));
        if (risky && in_system_dir(f.path))
            out.push_back(make_finding("file.world-writable", f.path, Severity::High, f.path,
                where
                    + (type == S_IFDIR ? " is a directory that any user can write, without the sticky bit"
                                       : " is a system file that any user can write")
                    + " (mode " + octal_mode(f.mode) + ")"));
    }
    return out;
}

std::vector<EnabledUnit> enabled_systemd_units(std::span<const SymlinkEntry> links)
{
    std::vector<EnabledUnit> out;
    for (const auto& l : links) {
        bool user = false;
        std::string_view rest;
        if (starts_with(l.link, "/etc/systemd/system/")) {
            rest = std::string_view(l.link).substr(20);
        } else if (starts_with(l.link, "/etc/systemd/user/")) {
            rest = std::string_view(l.link).substr(18);
            user = true;
        } else {
            continue;
        }
        size_t slash = rest.find('/');
        if (slash == std::string_view::npos || rest.find('/', slash + 1) != std::string_view::npos)
            continue;
        std::string_view dir = rest.substr(0, slash);
        std::string_view unit = rest.substr(slash + 1);
        std::string_view wanted_by;
        if (dir.size() > 6 && dir.substr(dir.size() - 6) == ".wants")
            wanted_by = dir.substr(0, dir.size() - 6);
        else if (dir.size() > 9 && dir.substr(dir.size() - 9) == ".requires")
            wanted_by = dir.substr(0, dir.size() - 9);
        else
            continue;
        if (!valid_unit_name(unit) || !valid_unit_name(wanted_by))
            continue;
        std::string link_dir = l.link.substr(0, l.link.rfind('/'));
        std::string target = resolve(link_dir, l.target);
        if (target == "/dev/null")
            continue;
        out.push_back(EnabledUnit { std::string(unit), std::string(wanted_by), l.link, target, user });
    }
    return out;
}

std::vector<Finding> check_systemd_units(std::span<const EnabledUnit> units)
{
    std::vector<Finding> out;
    static constexpr std::string_view legacy[]
        = { "telnet", "telnetd", "inetutils-telnetd", "rsh", "rlogin", "rexec", "rshd", "rlogind", "rexecd", "tftp", "tftpd",
              "tftpd-hpa", "atftpd", "vsftpd", "proftpd", "pure-ftpd", "ftpd", "inetd", "xinetd", "openbsd-inetd" };
    for (const auto& u : units) {
        std::string name = display_text(u.unit, 128);
        std::string_view stem = std::string_view(u.unit).substr(0, u.unit.rfind('.'));
        size_t at = stem.find('@');
        if (at != std::string_view::npos)
            stem = stem.substr(0, at);
        Finding f = make_finding("systemd.enabled", u.unit, Severity::Info, u.link,
            (u.user_unit ? "user unit " : "unit ") + name + " is enabled (wanted by " + display_text(u.wanted_by, 128) + ")");
        out.push_back(std::move(f));
        if (std::find(std::begin(legacy), std::end(legacy), stem) != std::end(legacy))
            out.push_back(make_finding("systemd.legacy-service", u.unit, Severity::Medium, u.link,
                name + " is a clear-text legacy network service and it is enabled"));
        bool system_target = starts_with(u.target, "/etc/systemd/") || starts_with(u.target, "/lib/systemd/")
            || starts_with(u.target, "/usr/lib/systemd/");
        if (!system_target)
            out.push_back(make_finding("systemd.unit-outside-system-dirs", u.unit, Severity::Medium, u.link,
                name + " is enabled from " + display_text(u.target, 256) + ", outside the systemd unit directories"));
    }
    return out;
}

CronTable parse_crontab(std::string_view text, bool system_crontab)
{
    CronTable out;
    LineReader reader(text, k_crontab_limits, out.diagnostics);
    std::string_view line;
    while (reader.next(line)) {
        size_t n = reader.line_number();
        std::string_view s = trim(line);
        if (s.empty() || s[0] == '#')
            continue;
        // NAME = value
        size_t name_end = 0;
        while (name_end < s.size()
            && ((s[name_end] >= 'A' && s[name_end] <= 'Z') || (s[name_end] >= 'a' && s[name_end] <= 'z')
                || (s[name_end] >= '0' && s[name_end] <= '9') || s[name_end] == '_'))
            ++name_end;
        std::string_view after = trim_left(s.substr(name_end));
        if (name_end > 0 && !(s[0] >= '0' && s[0] <= '9') && !after.empty() && after[0] == '=') {
            if (out.environment.size() < 1000)
                out.environment.emplace_back(std::string(s.substr(0, name_end)), std::string(trim(after.substr(1))));
            continue;
        }
        // Fields separated by blanks; the command is the rest of the line.
        auto next_field = [](std::string_view& rest) {
            rest = trim_left(rest);
            size_t end = 0;
            while (end < rest.size() && !is_blank(rest[end]))
                ++end;
            std::string_view f = rest.substr(0, end);
            rest = rest.substr(end);
            return f;
        };
        std::string_view rest = s;
        CronJob job;
        job.line = n;
        if (s[0] == '@') {
            std::string_view special = next_field(rest);
            static constexpr std::string_view specials[]
                = { "@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly" };
            if (std::find(std::begin(specials), std::end(specials), special) == std::end(specials)) {
                out.diagnostics.warn({}, n, "unknown @ schedule; skipped");
                continue;
            }
            job.schedule = std::string(special);
        } else {
            bool ok = true;
            for (int i = 0; i < 5 && ok; ++i) {
                std::string_view f = next_field(rest);
                ok = !f.empty() && std::all_of(f.begin(), f.end(), [](char c) {
                    return (c >= '0' && c <= '9') || c == '*' || c == '/' || c == ',' || c == '-' || (c >= 'a' && c <= 'z')
                        || (c >= 'A' && c <= 'Z') || c == '~';
                });
                job.schedule += (i ? " " : "") + std::string(f);
            }
            if (!ok) {
                out.diagnostics.warn({}, n, "not a crontab entry (five time fields, or an @ schedule); skipped");
                continue;
            }
        }
        if (system_crontab)
            job.user = std::string(next_field(rest));
        job.command = std::string(trim(rest));
        if (job.command.empty() || (system_crontab && job.user.empty())) {
            out.diagnostics.warn({}, n, "crontab entry has no command; skipped");
            continue;
        }
        if (out.jobs.size() >= k_max_cron_jobs) {
            out.diagnostics.truncate({}, n, "more than " + std::to_string(k_max_cron_jobs) + " jobs; the rest were ignored");
            break;
        }
        out.jobs.push_back(std::move(job));
    }
    return out;
}

std::vector<Finding> check_crontab(const CronTable& table, const std::string& path)
{
    std::vector<Finding> out;
    for (const auto& job : table.jobs) {
        std::string subject = path + ":" + std::to_string(job.line);
        // Jobs carry passwords on their command lines (mysqldump -p...): mask them first.
        std::string shown = redact_secrets_in_line(job.command);
        std::string cmd = display_text(shown, 160);
        std::string who = job.user.empty() ? "" : " as " + display_text(job.user, 64);
        auto add = [&](const char* kind, Severity s, const std::string& message) {
            Finding f = make_finding(kind, subject, s, path, message);
            f.line = job.line;
            f.excerpt = display_text(shown, k_max_excerpt);
            out.push_back(std::move(f));
        };
        add("cron.entry", Severity::Info, "cron runs \"" + cmd + "\"" + who + " at \"" + display_text(job.schedule, 64) + "\"");
        std::string lower = to_lower(job.command);
        bool fetch = lower.find("curl ") != std::string::npos || lower.find("wget ") != std::string::npos;
        size_t pipe = lower.find('|');
        bool to_shell = false;
        while (pipe != std::string::npos && !to_shell) {
            std::string_view after = trim_left(std::string_view(lower).substr(pipe + 1));
            for (std::string_view sh : { "sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash", "sudo sh",
                     "sudo bash", "python", "python3", "perl" }) {
                if (after.substr(0, sh.size()) == sh
                    && (after.size() == sh.size() || is_space(after[sh.size()]) || after[sh.size()] == '-'))
                    to_shell = true;
            }
            pipe = lower.find('|', pipe + 1);
        }
        if (fetch && to_shell)
            add("cron.download-exec", Severity::High,
                "cron downloads a script and pipes it into an interpreter" + who + ": \"" + cmd + "\"");
        for (std::string_view tmp : { "/tmp/", "/var/tmp/", "/dev/shm/" }) {
            if (job.command.find(tmp) != std::string::npos) {
                add("cron.tmp-command", Severity::Medium,
                    "cron runs a command that involves " + std::string(tmp) + ", which any user can write" + who + ": \"" + cmd
                        + "\"");
                break;
            }
        }
    }
    return out;
}

} // namespace bulwark::inspect
