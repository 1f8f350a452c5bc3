#include "inspect/account_checks.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

namespace bulwark::inspect {

namespace {

constexpr uint32_t k_first_regular_uid = 1000;
constexpr uint32_t k_nobody_uid = 65534;
constexpr int64_t k_max_age_unset = 99999; // shadow's conventional "never expires"

Finding at(Finding f, size_t line)
{
    f.line = line;
    return f;
}

std::string quoted(std::string_view name)
{
    return "'" + display_text(name, 64) + "'";
}

} // namespace

std::vector<Finding> check_accounts(const AccountInputs& in)
{
    std::vector<Finding> out;
    if (!in.passwd)
        return out;
    std::unordered_map<std::string, const ShadowEntry*> shadow;
    if (in.shadow) {
        for (const auto& e : in.shadow->entries)
            shadow.emplace(e.name, &e); // the first entry wins, as getspnam() does
    }

    std::map<uint32_t, std::vector<const PasswdEntry*>> by_uid;
    std::set<std::string> seen_names;
    for (const auto& p : in.passwd->entries) {
        by_uid[p.uid].push_back(&p);
        if (!seen_names.insert(p.name).second) {
            out.push_back(at(make_finding("account.duplicate-name", p.name, Severity::Medium, in.passwd_path,
                                 "account name " + quoted(p.name) + " appears more than once in passwd; the first entry is used"),
                p.line));
            continue;
        }
        bool login_shell = is_login_shell(p.shell);
        std::string who = "account " + quoted(p.name);

        if (p.uid == 0 && p.name != "root")
            out.push_back(at(make_finding("account.uid0", p.name, Severity::Critical, in.passwd_path,
                                 who + " has uid 0: it is root under another name"),
                p.line));

        // The hash that login checks: shadow's when passwd says "x", else passwd's own field.
        const ShadowEntry* sh = nullptr;
        std::string_view hash;
        std::string hash_path = in.passwd_path;
        size_t hash_line = p.line;
        if (p.password == "x") {
            auto it = shadow.find(p.name);
            if (it == shadow.end()) {
                if (in.shadow)
                    out.push_back(at(make_finding("account.missing-shadow", p.name, Severity::Info, in.passwd_path,
                                         who + " refers to shadow for its password but shadow has no entry for it"),
                        p.line));
                hash = "*";
            } else {
                sh = it->second;
                hash = sh->hash;
                hash_path = in.shadow_path;
                hash_line = sh->line;
            }
        } else {
            hash = p.password;
            HashScheme in_passwd = classify_hash(hash);
            if (in_passwd != HashScheme::Empty && in_passwd != HashScheme::Locked)
                out.push_back(at(make_finding("account.hash-in-passwd", p.name, Severity::High, in.passwd_path,
                                     who + " keeps its password hash in world-readable passwd"),
                    p.line));
        }

        HashScheme scheme = classify_hash(hash);
        if (scheme == HashScheme::Empty) {
            out.push_back(at(make_finding("account.empty-password", p.name, Severity::High, hash_path,
                                 who + " has an empty password: anyone can log in as it where passwords are accepted"),
                hash_line));
            if (login_shell)
                out.push_back(
                    at(make_finding("account.passwordless-login", p.name, Severity::Critical, hash_path,
                           who + " has an empty password and the login shell " + quoted(p.shell.empty() ? "/bin/sh" : p.shell)),
                        hash_line));
        } else if (hash_scheme_is_weak(scheme)) {
            out.push_back(at(make_finding("account.weak-hash", p.name, Severity::High, hash_path,
                                 who + " has a password hashed with " + hash_scheme_name(scheme) + ", which is cheap to crack"),
                hash_line));
        } else if (scheme == HashScheme::Unknown) {
            out.push_back(at(make_finding("account.unknown-hash", p.name, Severity::Low, hash_path,
                                 who + " has a password hash of an unrecognised scheme"),
                hash_line));
        } else if (scheme == HashScheme::Locked && login_shell && (sh || p.password != "x")) {
            out.push_back(at(make_finding("account.locked", p.name, Severity::Info, hash_path,
                                 who + " has a locked password but a login shell: key-based logins still work"),
                hash_line));
        }

        if (sh && sh->expire && *sh->expire < in.today)
            out.push_back(at(make_finding("account.expired", p.name, Severity::Info, in.shadow_path,
                                 who + " expired on day " + std::to_string(*sh->expire) + " since 1970"),
                sh->line));
        bool usable = scheme != HashScheme::Locked && scheme != HashScheme::Empty;
        if (sh && usable && sh->last_change && *sh->last_change > 0 && sh->max_age && *sh->max_age < k_max_age_unset
            && *sh->last_change + *sh->max_age < in.today)
            out.push_back(
                at(make_finding("account.password-expired", p.name, Severity::Low, in.shadow_path,
                       "the password of " + who + " is past its maximum age of " + std::to_string(*sh->max_age) + " days"),
                    sh->line));

        if (login_shell && p.uid >= k_first_regular_uid && p.uid != k_nobody_uid)
            out.push_back(at(make_finding("account.login-shell", p.name, Severity::Info, in.passwd_path,
                                 who + " (uid " + std::to_string(p.uid) + ") has the login shell "
                                     + quoted(p.shell.empty() ? "/bin/sh" : p.shell)),
                p.line));
        else if (login_shell && p.uid > 0 && p.uid < k_first_regular_uid)
            out.push_back(at(make_finding("account.system-login-shell", p.name, Severity::Low, in.passwd_path,
                                 "system " + who + " (uid " + std::to_string(p.uid) + ") has the login shell "
                                     + quoted(p.shell.empty() ? "/bin/sh" : p.shell)),
                p.line));
    }

    for (const auto& [uid, entries] : by_uid) {
        std::set<std::string> names;
        for (const auto* e : entries)
            names.insert(e->name);
        if (names.size() < 2)
            continue;
        std::string list;
        size_t shown = 0;
        for (const auto& n : names) {
            if (shown++ == 10) {
                list += ", ...";
                break;
            }
            list += (list.empty() ? "" : ", ") + quoted(n);
        }
        out.push_back(at(make_finding("account.duplicate-uid", std::to_string(uid), Severity::High, in.passwd_path,
                             "uid " + std::to_string(uid) + " is shared by " + list),
            entries[1]->line));
    }

    if (in.group) {
        // Members of the administrative groups, by name, and by primary group.
        std::map<std::string, std::pair<std::string, size_t>> admins; // user -> (group, line)
        for (const auto& g : in.group->entries) {
            if (g.name != "sudo" && g.name != "wheel" && g.name != "admin")
                continue;
            for (const auto& m : g.members)
                admins.emplace(m, std::make_pair(g.name, g.line));
            for (const auto& p : in.passwd->entries) {
                if (p.gid == g.gid)
                    admins.emplace(p.name, std::make_pair(g.name, g.line));
            }
        }
        for (const auto& [user, where] : admins)
            out.push_back(at(make_finding("account.sudo-group", user, Severity::Medium, in.group_path,
                                 "account " + quoted(user) + " is in the administrative group " + quoted(where.first)),
                where.second));
    }
    return out;
}

bool sudo_command_grants_shell(std::string_view command)
{
    static constexpr std::string_view shells[] = { "sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "ash",
        "busybox", "su", "sudo", "env", "vi", "vim", "rvim", "view", "nvim", "ex", "ed", "nano", "pico", "emacs", "less", "more",
        "most", "man", "pager", "find", "xargs", "awk", "gawk", "mawk", "nawk", "perl", "python", "python2", "python3", "ruby",
        "irb", "lua", "php", "node", "nodejs", "tclsh", "wish", "expect", "gdb", "strace", "script", "tar", "zip", "rsync", "git",
        "ftp", "ssh", "scp", "socat", "nc", "ncat", "nmap", "docker", "podman", "systemctl", "journalctl", "apt", "apt-get",
        "aptitude", "dpkg", "pip", "pip3", "make", "cp", "mv", "tee", "dd", "chmod", "chown", "crontab", "mount", "watch", "time",
        "timeout", "nice", "ionice", "chroot", "setsid", "stdbuf", "taskset", "unshare", "nsenter", "flock", "runuser",
        "start-stop-daemon", "install", "ln", "rm", "bpftrace", "openssl", "sqlite3", "mysql", "psql", "vipw", "vigr", "visudo",
        "passwd", "usermod", "useradd", "chpasswd" };
    command = trim(command);
    if (command == "ALL")
        return true;
    std::string_view program = command.substr(0, command.find_first_of(" \t"));
    if (program.find_first_of("*?[") != std::string_view::npos)
        return true;
    std::string_view base = program.substr(program.rfind('/') == std::string_view::npos ? 0 : program.rfind('/') + 1);
    // python3.11, perl5.36 and the like
    size_t cut = base.find_first_of(".0123456789");
    std::string_view stem = cut == 0 || cut == std::string_view::npos ? base : base.substr(0, cut);
    for (auto s : shells) {
        if (base == s || stem == s)
            return true;
    }
    return false;
}

namespace {

bool is_alias_name(std::string_view s)
{
    if (s.empty() || !(s[0] >= 'A' && s[0] <= 'Z') || s == "ALL")
        return false;
    for (char c : s) {
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

constexpr size_t k_max_expansion = 1000;
constexpr size_t k_max_expansion_steps = 1000000;
constexpr int k_max_alias_depth = 8;

class AliasExpander {
public:
    explicit AliasExpander(const Sudoers& s)
    {
        for (const auto& a : s.aliases)
            m_aliases[static_cast<int>(a.kind)].emplace(a.name, &a); // the first definition wins
    }

    // Expands items (users or commands) through aliases of kind; negated items are dropped
    // (they take away, never grant). Each result carries the alias it came through.
    std::vector<std::pair<std::string, std::string>> expand(const std::vector<std::string>& items, SudoAliasKind kind)
    {
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& item : items)
            expand_one(item, kind, "", 0, out);
        return out;
    }

private:
    // m_steps bounds the work over the whole file: nested aliases of many members (or of
    // negations only) would otherwise grow exponentially with the depth. Past the budget,
    // an alias is reported by its own name.
    void expand_one(const std::string& item, SudoAliasKind kind, const std::string& via, int depth,
        std::vector<std::pair<std::string, std::string>>& out)
    {
        if (out.size() >= k_max_expansion || item.empty() || item[0] == '!')
            return;
        const auto& table = m_aliases[static_cast<int>(kind)];
        auto it = is_alias_name(item) ? table.find(item) : table.end();
        if (it == table.end() || depth >= k_max_alias_depth || m_steps >= k_max_expansion_steps) {
            out.emplace_back(item, via);
            return;
        }
        for (const auto& m : it->second->members) {
            ++m_steps;
            expand_one(m, kind, via.empty() ? item : via, depth + 1, out);
        }
    }

    size_t m_steps = 0;
    std::map<std::string, const SudoAlias*> m_aliases[4];
};

} // namespace

std::vector<Finding> check_sudoers(const Sudoers& sudoers)
{
    std::vector<Finding> out;
    AliasExpander expander(sudoers);

    struct Grant {
        Severity severity = Severity::Medium;
        std::vector<std::string> commands;
        std::string via;
        std::string path;
        size_t line = 0;
    };
    std::map<std::string, Grant> nopasswd; // principal -> what it may run without a password
    std::set<std::string> all_users_reported;

    for (const auto& rule : sudoers.rules) {
        auto principals = expander.expand(rule.users, SudoAliasKind::User);
        bool everyone = std::any_of(principals.begin(), principals.end(), [](const auto& p) { return p.first == "ALL"; })
            && std::any_of(rule.commands.begin(), rule.commands.end(), [](const auto& c) { return !c.negated; });
        std::vector<std::string> commands;
        bool any_shell = false;
        bool any_nopasswd = false;
        for (const auto& cmd : rule.commands) {
            if (cmd.negated || !cmd.nopasswd)
                continue;
            any_nopasswd = true;
            for (const auto& [c, via] : expander.expand({ cmd.command }, SudoAliasKind::Cmnd)) {
                if (sudo_command_grants_shell(c))
                    any_shell = true;
                if (commands.size() < 20)
                    commands.push_back(via.empty() ? c : c + " (via " + via + ")");
            }
        }
        if (everyone && all_users_reported.insert(rule.path + ":" + std::to_string(rule.line)).second) {
            out.push_back(at(make_finding("sudo.all-users", rule.path + ":" + std::to_string(rule.line), Severity::High,
                                 rule.path, "a sudo rule lets every user run commands as another user"),
                rule.line));
        }
        if (!any_nopasswd)
            continue;
        for (const auto& [who, via] : principals) {
            if (nopasswd.size() >= k_max_expansion && !nopasswd.count(who))
                continue;
            Grant& g = nopasswd[who];
            if (g.line == 0) {
                g.path = rule.path;
                g.line = rule.line;
                g.via = via;
            }
            Severity s = who == "ALL" ? Severity::Critical : any_shell ? Severity::High : Severity::Medium;
            g.severity = std::max(g.severity, s);
            for (size_t k = 0; k < commands.size() && g.commands.size() < 20; ++k) {
                if (std::find(g.commands.begin(), g.commands.end(), commands[k]) == g.commands.end())
                    g.commands.push_back(commands[k]);
            }
        }
    }
    for (const auto& [who, g] : nopasswd) {
        std::string list;
        for (const auto& c : g.commands)
            list += (list.empty() ? "" : ", ") + display_text(c, 96);
        std::string whom = who == "ALL" ? std::string("every user") : quoted(who);
        std::string msg = "sudo lets " + whom + (g.via.empty() ? "" : " (through " + display_text(g.via, 64) + ")")
            + " run without a password: " + list;
        if (g.severity >= Severity::High && who != "ALL")
            msg += " (as good as a root shell)";
        out.push_back(at(make_finding("sudo.nopasswd", who, g.severity, g.path, msg), g.line));
    }

    for (const auto& d : sudoers.defaults) {
        std::string binding;
        for (const auto& b : d.binding)
            binding += (binding.empty() ? "" : ",") + b;
        // "Defaults:%admin" is subject "user:%admin"; a global Defaults is "all".
        const char* scope = d.binding_type == '@' ? "host:"
            : d.binding_type == ':'               ? "user:"
            : d.binding_type == '!'               ? "cmnd:"
                                                  : "runas:";
        std::string subject = d.binding_type ? scope + binding : std::string("all");
        std::string written
            = "Defaults" + (d.binding_type ? std::string(1, d.binding_type) + display_text(binding, 64) : std::string());
        if (d.name == "authenticate" && d.negated) {
            Severity s = d.binding_type == 0 ? Severity::Critical : Severity::High;
            out.push_back(at(make_finding("sudo.no-authenticate", subject, s, d.path,
                                 "\"" + written + " !authenticate\" turns off password checks for every matching sudo rule"),
                d.line));
        } else if (d.name == "env_reset" && d.negated) {
            out.push_back(
                at(make_finding("sudo.no-env-reset", subject, Severity::Medium, d.path,
                       "\"" + written + " !env_reset\" lets users pass their environment to the commands they run as root"),
                    d.line));
        }
    }
    return out;
}

} // namespace bulwark::inspect
