#include "inspect/sshd_config.h"

#include <fnmatch.h>

#include <algorithm>
#include <functional>

namespace bulwark::inspect {

namespace {

// Splits the arguments as sshd's argv_split does: blanks separate, "double" and 'single'
// quotes group, backslash escapes; an unquoted word starting with '#' ends the line.
std::optional<std::vector<std::string>> split_args(std::string_view s)
{
    std::vector<std::string> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_space(s[i]))
            ++i;
        if (i >= s.size() || s[i] == '#')
            break;
        std::string word;
        while (i < s.size() && !is_space(s[i])) {
            char c = s[i];
            if (c == '\\' && i + 1 < s.size()) {
                word.push_back(s[i + 1]);
                i += 2;
            } else if (c == '"' || c == '\'') {
                size_t end = s.find(c, i + 1);
                if (end == std::string_view::npos)
                    return std::nullopt;
                word.append(s.substr(i + 1, end - i - 1));
                i = end + 1;
            } else {
                word.push_back(c);
                ++i;
            }
        }
        if (out.size() >= 256)
            return std::nullopt;
        out.push_back(std::move(word));
    }
    return out;
}

std::string join(const std::vector<std::string>& words, size_t from)
{
    std::string out;
    for (size_t i = from; i < words.size(); ++i)
        out += (i > from ? " " : "") + words[i];
    return out;
}

std::string canonical_keyword(std::string_view keyword)
{
    std::string k = to_lower(keyword);
    if (k == "challengeresponseauthentication")
        return "kbdinteractiveauthentication";
    return k;
}

// Keywords whose value is yes/no, to warn about values sshd would refuse.
bool is_yes_no_keyword(std::string_view k)
{
    static constexpr std::string_view keywords[] = { "passwordauthentication", "permitemptypasswords", "pubkeyauthentication",
        "kbdinteractiveauthentication", "hostbasedauthentication", "ignorerhosts", "strictmodes", "x11forwarding", "usepam",
        "gssapiauthentication", "permittty", "printmotd", "tcpkeepalive", "usedns" };
    return std::find(std::begin(keywords), std::end(keywords), k) != std::end(keywords);
}

class SshdParser {
public:
    SshdParser(SshdConfig& out, std::span<const ConfigSource> extras)
        : m_out(out)
        , m_extras(extras)
        , m_used(extras.size(), false)
    {
    }

    void parse(const ConfigSource& src, int depth)
    {
        if (++m_sources > k_sshd_max_sources) {
            m_out.diagnostics.truncate(
                src.path, 0, "more than " + std::to_string(k_sshd_max_sources) + " files were included; the rest were not read");
            return;
        }
        m_chain.push_back(src.path);
        int outer_match = m_match; // a Match in an included file ends with that file
        LineReader reader(src.text, k_sshd_config_limits, m_out.diagnostics, src.path);
        std::string_view line;
        while (reader.next(line))
            parse_line(src.path, reader.line_number(), line, depth);
        m_match = outer_match;
        m_chain.pop_back();
    }

    void finish()
    {
        for (size_t i = 0; i < m_extras.size(); ++i) {
            if (!m_used[i])
                m_out.diagnostics.warn(
                    m_extras[i].path, 0, "not named by any Include directive; ignored (sshd does not read it)");
        }
    }

private:
    void warn(const std::string& path, size_t line, std::string message)
    {
        m_out.diagnostics.warn(path, line, std::move(message));
    }

    void parse_line(const std::string& path, size_t n, std::string_view line, int depth)
    {
        std::string_view s = trim(line);
        if (s.empty() || s[0] == '#')
            return;
        size_t end = 0;
        while (end < s.size() && !is_space(s[end]) && s[end] != '=')
            ++end;
        std::string_view keyword = s.substr(0, end);
        std::string_view rest = trim_left(s.substr(end));
        if (!rest.empty() && rest[0] == '=')
            rest = trim_left(rest.substr(1));
        if (keyword.empty()) {
            warn(path, n, "line has no keyword; skipped");
            return;
        }
        auto args = split_args(rest);
        if (!args) {
            warn(path, n, "unterminated quote or too many arguments; skipped");
            return;
        }
        std::string k = canonical_keyword(keyword);
        if (args->empty()) {
            warn(path, n, "keyword " + display_text(keyword, 64) + " has no value; skipped (sshd would refuse this file)");
            return;
        }
        if (k == "match") {
            if (m_out.matches.size() >= k_sshd_max_matches) {
                m_out.diagnostics.truncate(
                    path, n, "more than " + std::to_string(k_sshd_max_matches) + " Match blocks; the rest were ignored");
                m_match = -2; // settings of an ignored block must not land in the global section
                return;
            }
            m_out.matches.push_back(SshdMatchBlock { join(*args, 0), {}, path, n });
            m_match = static_cast<int>(m_out.matches.size()) - 1;
            return;
        }
        if (k == "include") {
            for (const auto& pattern : *args)
                include(path, n, pattern, depth);
            return;
        }
        if (m_match == -2)
            return;
        if (m_settings >= k_sshd_max_settings) {
            m_out.diagnostics.truncate(
                path, n, "more than " + std::to_string(k_sshd_max_settings) + " settings; the rest were ignored");
            return;
        }
        ++m_settings;
        SshdSetting setting { k, join(*args, 0), path, n };
        if (is_yes_no_keyword(k) && !iequals(setting.value, "yes") && !iequals(setting.value, "no"))
            warn(path, n, keyword_name(keyword) + " takes yes or no; sshd would refuse this value");
        if (k == "permitrootlogin") {
            std::string v = to_lower(setting.value);
            if (v != "yes" && v != "no" && v != "prohibit-password" && v != "without-password" && v != "forced-commands-only")
                warn(path, n, "PermitRootLogin has an invalid value; sshd would refuse it");
        }
        if (k == "hostkey") {
            if (m_match >= 0)
                warn(path, n, "HostKey is not allowed inside a Match block; ignored");
            else
                m_out.host_keys.push_back(setting);
            return;
        }
        auto& target = m_match >= 0 ? m_out.matches[static_cast<size_t>(m_match)].settings : m_out.global;
        target.emplace(k, std::move(setting)); // the first value wins
    }

    static std::string keyword_name(std::string_view keyword) { return display_text(keyword, 64); }

    void include(const std::string& path, size_t n, const std::string& pattern, int depth)
    {
        std::string absolute = !pattern.empty() && pattern[0] == '/' ? pattern : "/etc/ssh/" + pattern;
        SshdInclude inc { absolute, {}, path, n };
        std::vector<size_t> hits;
        for (size_t i = 0; i < m_extras.size(); ++i) {
            if (::fnmatch(absolute.c_str(), m_extras[i].path.c_str(), FNM_PATHNAME) == 0)
                hits.push_back(i);
        }
        std::sort(hits.begin(), hits.end(), [&](size_t a, size_t b) { return m_extras[a].path < m_extras[b].path; });
        if (m_out.includes.size() < k_sshd_max_sources * 4) {
            for (size_t i : hits)
                inc.matched.push_back(m_extras[i].path);
            m_out.includes.push_back(inc);
        }
        for (size_t i : hits) {
            if (std::find(m_chain.begin(), m_chain.end(), m_extras[i].path) != m_chain.end()) {
                warn(path, n, "Include loop through " + display_text(m_extras[i].path, 128) + "; not followed");
                continue;
            }
            if (depth + 1 > k_sshd_max_include_depth) {
                warn(path, n,
                    "Include nested deeper than " + std::to_string(k_sshd_max_include_depth)
                        + "; not followed (sshd would refuse this)");
                continue;
            }
            m_used[i] = true;
            parse(m_extras[i], depth + 1);
        }
    }

    SshdConfig& m_out;
    std::span<const ConfigSource> m_extras;
    std::vector<bool> m_used;
    std::vector<std::string> m_chain;
    int m_match = -1; // index of the current Match block; -1 global; -2 an ignored block
    size_t m_sources = 0;
    size_t m_settings = 0;
};

std::optional<bool> yes_no(std::string_view v)
{
    if (iequals(v, "yes"))
        return true;
    if (iequals(v, "no"))
        return false;
    return std::nullopt;
}

} // namespace

SshdConfig parse_sshd_config(const ConfigSource& main, std::span<const ConfigSource> extras)
{
    SshdConfig out;
    out.path = main.path;
    SshdParser parser(out, extras);
    parser.parse(main, 0);
    parser.finish();
    return out;
}

std::optional<OpenSshVersion> parse_openssh_version(std::string_view v)
{
    size_t colon = v.find(':');
    if (colon != std::string_view::npos && colon < 10)
        v = v.substr(colon + 1);
    size_t dot = v.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot > 4)
        return std::nullopt;
    auto major = parse_u32(v.substr(0, dot));
    size_t end = dot + 1;
    while (end < v.size() && end < dot + 5 && v[end] >= '0' && v[end] <= '9')
        ++end;
    auto minor = parse_u32(v.substr(dot + 1, end - dot - 1));
    if (!major || !minor)
        return std::nullopt;
    return OpenSshVersion { static_cast<int>(*major), static_cast<int>(*minor) };
}

namespace {

std::string default_value(std::string_view keyword, std::optional<OpenSshVersion> version)
{
    if (keyword == "permitrootlogin")
        return version && (version->major < 7) ? "yes" : "prohibit-password";
    static const std::pair<std::string_view, std::string_view> defaults[] = { { "passwordauthentication", "yes" },
        { "permitemptypasswords", "no" }, { "pubkeyauthentication", "yes" }, { "kbdinteractiveauthentication", "yes" },
        { "usepam", "no" }, { "permituserenvironment", "no" }, { "hostbasedauthentication", "no" }, { "ignorerhosts", "yes" },
        { "strictmodes", "yes" }, { "x11forwarding", "no" }, { "gatewayports", "no" } };
    for (const auto& [k, v] : defaults) {
        if (k == keyword)
            return std::string(v);
    }
    return "";
}

} // namespace

SshdEffective sshd_effective(const std::map<std::string, SshdSetting>& settings, std::optional<OpenSshVersion> version)
{
    auto value = [&](const char* k) {
        auto it = settings.find(k);
        return it != settings.end() ? it->second.value : default_value(k, version);
    };
    auto flag = [&](const char* k) {
        auto v = yes_no(value(k));
        return v ? *v : *yes_no(default_value(k, version));
    };
    SshdEffective e;
    e.permit_root_login = to_lower(value("permitrootlogin"));
    if (e.permit_root_login == "without-password")
        e.permit_root_login = "prohibit-password";
    e.password_authentication = flag("passwordauthentication");
    e.permit_empty_passwords = flag("permitemptypasswords");
    e.pubkey_authentication = flag("pubkeyauthentication");
    e.kbd_interactive_authentication = flag("kbdinteractiveauthentication");
    e.use_pam = flag("usepam");
    return e;
}

std::vector<Finding> check_sshd_config(const SshdConfig& config, std::optional<OpenSshVersion> version)
{
    std::vector<Finding> out;
    SshdEffective global = sshd_effective(config.global, version);

    // settings: what this context sets explicitly; with_defaults: the global section, where
    // a missing keyword means its default.
    auto check = [&](const std::map<std::string, SshdSetting>& settings, bool with_defaults, const std::string& suffix,
                     const std::string& where, const std::string& fallback_path, size_t fallback_line) {
        auto lookup = [&](const char* k) -> std::optional<std::pair<std::string, const SshdSetting*>> {
            auto it = settings.find(k);
            if (it != settings.end())
                return std::make_pair(to_lower(it->second.value), &it->second);
            if (with_defaults)
                return std::make_pair(default_value(k, version), nullptr);
            return std::nullopt;
        };
        auto report = [&](const char* kind, Severity severity, const std::pair<std::string, const SshdSetting*>& v,
                          const std::string& message) {
            Finding f = make_finding(kind, "", severity, v.second ? v.second->path : fallback_path,
                message + (v.second ? "" : " (the default)") + where);
            f.id += suffix;
            f.line = v.second ? v.second->line : fallback_line;
            if (v.second)
                f.excerpt = display_text(v.second->keyword + " " + v.second->value, k_max_excerpt);
            out.push_back(std::move(f));
        };

        bool password_login = global.password_authentication || (global.kbd_interactive_authentication && global.use_pam);
        if (auto v = lookup("passwordauthentication")) {
            if (v->first == "yes") {
                password_login = true;
                report("ssh.password-authentication", Severity::Medium, *v, "sshd accepts password logins");
            }
        }
        if (auto v = lookup("permitrootlogin")) {
            if (v->first == "yes")
                report("ssh.permit-root-login", Severity::High, *v, "sshd lets root log in, with a password too");
            else if (v->first == "forced-commands-only")
                report("ssh.permit-root-login", Severity::Low, *v, "sshd lets root log in with keys that have a forced command");
        }
        if (auto v = lookup("permitemptypasswords"); v && v->first == "yes")
            report("ssh.permit-empty-passwords", password_login ? Severity::Critical : Severity::High, *v,
                "sshd accepts logins to accounts with an empty password");
        if (auto v = lookup("kbdinteractiveauthentication"); v && v->first == "yes" && global.use_pam)
            report("ssh.kbd-interactive-authentication", Severity::Low, *v,
                "sshd accepts keyboard-interactive logins, which with UsePAM yes are password logins");
        if (auto v = lookup("permituserenvironment"); v && v->first != "no")
            report("ssh.permit-user-environment", Severity::Medium, *v,
                "sshd lets users set environment variables (LD_PRELOAD) through ~/.ssh/environment or key options");
        if (auto v = lookup("hostbasedauthentication"); v && v->first == "yes")
            report("ssh.hostbased-authentication", Severity::Medium, *v, "sshd trusts other hosts to vouch for users");
        if (auto v = lookup("ignorerhosts"); v && v->first == "no")
            report("ssh.ignore-rhosts-disabled", Severity::Medium, *v, "sshd reads users' .rhosts and .shosts files");
        if (auto v = lookup("strictmodes"); v && v->first == "no")
            report("ssh.strict-modes-disabled", Severity::Medium, *v,
                "sshd accepts authorized_keys files that other users can write");
        if (auto v = lookup("x11forwarding"); v && v->first == "yes")
            report("ssh.x11-forwarding", Severity::Low, *v, "sshd forwards X11 connections");
        if (auto v = lookup("gatewayports"); v && v->first != "no")
            report("ssh.gateway-ports", Severity::Low, *v, "sshd lets remote port forwardings listen on every address");
        if (auto v = lookup("pubkeyauthentication"); v && v->first == "no")
            report("ssh.pubkey-authentication-disabled", Severity::Info, *v, "sshd does not accept key logins");
    };

    check(config.global, true, "", "", config.path, 0);
    for (const auto& m : config.matches)
        check(m.settings, false, ":match:" + display_text(m.criteria, 96), " (in \"Match " + display_text(m.criteria, 96) + "\")",
            m.path, m.line);
    return out;
}

} // namespace bulwark::inspect
