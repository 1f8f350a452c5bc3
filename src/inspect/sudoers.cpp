#include "inspect/sudoers.h"

#include <array>
#include <optional>

#include "inspect/finding.h"

namespace bulwark::inspect {

const char* sudo_alias_kind_name(SudoAliasKind kind)
{
    switch (kind) {
    case SudoAliasKind::User:
        return "User_Alias";
    case SudoAliasKind::Runas:
        return "Runas_Alias";
    case SudoAliasKind::Host:
        return "Host_Alias";
    case SudoAliasKind::Cmnd:
        return "Cmnd_Alias";
    }
    return "User_Alias";
}

namespace {

bool is_ident_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

// Tags come in pairs; each pair is one slot whose value is the tag last given.
struct TagPair {
    std::string_view on;
    std::string_view off;
};
constexpr std::array<TagPair, 8> k_tags
    = { { { "NOPASSWD", "PASSWD" }, { "NOEXEC", "EXEC" }, { "SETENV", "NOSETENV" }, { "LOG_INPUT", "NOLOG_INPUT" },
        { "LOG_OUTPUT", "NOLOG_OUTPUT" }, { "MAIL", "NOMAIL" }, { "FOLLOW", "NOFOLLOW" }, { "INTERCEPT", "NOINTERCEPT" } } };
constexpr std::string_view k_command_options[]
    = { "CWD", "CHROOT", "ROLE", "TYPE", "TIMEOUT", "NOTBEFORE", "NOTAFTER", "APPARMOR_PROFILE", "PRIVS", "LIMITPRIVS" };
constexpr std::string_view k_digests[] = { "sha224", "sha256", "sha384", "sha512" };

// A cursor over one logical line. Words honour backslash escapes and "double quotes".
class Cursor {
public:
    explicit Cursor(std::string_view s)
        : m_s(s)
    {
    }

    bool at_end() const { return m_pos >= m_s.size(); }
    char peek(size_t ahead = 0) const { return m_pos + ahead < m_s.size() ? m_s[m_pos + ahead] : '\0'; }
    void skip_blanks()
    {
        while (m_pos < m_s.size() && is_space(m_s[m_pos]))
            ++m_pos;
    }
    bool accept(char c)
    {
        if (at_end() || m_s[m_pos] != c)
            return false;
        ++m_pos;
        return true;
    }
    bool accept(std::string_view s)
    {
        if (m_s.substr(m_pos, s.size()) != s)
            return false;
        m_pos += s.size();
        return true;
    }
    // The identifier at the cursor, not consumed.
    std::string_view peek_ident() const
    {
        size_t end = m_pos;
        while (end < m_s.size() && is_ident_char(m_s[end]))
            ++end;
        return m_s.substr(m_pos, end - m_pos);
    }
    // The first non-blank character after skipping n characters, not consumed.
    char peek_after_blanks(size_t n) const
    {
        size_t i = m_pos + n;
        while (i < m_s.size() && is_blank(m_s[i]))
            ++i;
        return i < m_s.size() ? m_s[i] : '\0';
    }
    void advance(size_t n) { m_pos = std::min(m_s.size(), m_pos + n); }
    void advance_past(char c)
    {
        skip_blanks();
        accept(c);
    }

    // A word, up to a blank or an unescaped character of stops. nullopt on an unterminated
    // quote.
    std::optional<std::string> word(std::string_view stops)
    {
        std::string out;
        if (peek() == '%' && peek(1) == ':') { // %:group, a non-Unix group
            out = "%:";
            m_pos += 2;
        }
        while (m_pos < m_s.size()) {
            char c = m_s[m_pos];
            if (c == '\\' && m_pos + 1 < m_s.size()) {
                out.push_back(m_s[m_pos + 1]);
                m_pos += 2;
                continue;
            }
            if (c == '"') {
                ++m_pos;
                bool closed = false;
                while (m_pos < m_s.size()) {
                    char d = m_s[m_pos];
                    if (d == '\\' && m_pos + 1 < m_s.size()) {
                        out.push_back(m_s[m_pos + 1]);
                        m_pos += 2;
                        continue;
                    }
                    ++m_pos;
                    if (d == '"') {
                        closed = true;
                        break;
                    }
                    out.push_back(d);
                }
                if (!closed)
                    return std::nullopt;
                continue;
            }
            if (is_space(c) || stops.find(c) != std::string_view::npos)
                break;
            out.push_back(c);
            ++m_pos;
        }
        return out;
    }

    // Raw text up to an unescaped character of stops, unescaped and trimmed: a command with
    // its arguments. "Quoted" parts are kept as written; nullopt when a quote is not closed.
    std::optional<std::string> until(std::string_view stops)
    {
        std::string out;
        bool quoted = false;
        while (m_pos < m_s.size()) {
            char c = m_s[m_pos];
            if (c == '\\' && m_pos + 1 < m_s.size()) {
                char e = m_s[m_pos + 1];
                // Only the sudoers specials lose their backslash; others stay for the command.
                if (e == ',' || e == ':' || e == '=' || e == '\\')
                    out.push_back(e);
                else
                    out.append({ c, e });
                m_pos += 2;
                continue;
            }
            if (c == '"')
                quoted = !quoted;
            else if (!quoted && stops.find(c) != std::string_view::npos)
                break;
            out.push_back(c);
            ++m_pos;
        }
        if (quoted)
            return std::nullopt;
        return std::string(trim(out));
    }

private:
    std::string_view m_s;
    size_t m_pos = 0;
};

class SudoersParser {
public:
    explicit SudoersParser(Sudoers& out)
        : m_out(out)
    {
    }

    void parse_source(const ConfigSource& src)
    {
        m_path = src.path;
        LineReader reader(src.text, k_sudoers_limits, m_out.diagnostics, m_path);
        std::string logical;
        size_t logical_line = 0;
        bool continuing = false;
        bool overflow = false;
        std::string_view line;
        while (reader.next(line)) {
            size_t n = reader.line_number();
            if (!continuing) {
                logical_line = n;
                if (parse_hash_include(line, n))
                    continue;
            }
            std::string_view s = line;
            size_t cut = comment_start(s);
            bool continued = false;
            if (cut != std::string_view::npos) {
                s = s.substr(0, cut);
            } else {
                std::string_view t = trim_right(s);
                size_t backslashes = 0;
                while (backslashes < t.size() && t[t.size() - 1 - backslashes] == '\\')
                    ++backslashes;
                if (backslashes % 2 == 1) {
                    continued = true;
                    s = t.substr(0, t.size() - 1);
                }
            }
            if (!overflow && logical.size() + s.size() + 1 > k_sudoers_max_logical_line) {
                warn(logical_line,
                    "logical line (joined with backslashes) is longer than " + std::to_string(k_sudoers_max_logical_line)
                        + " bytes; skipped");
                overflow = true;
                logical.clear();
            }
            if (!overflow) {
                logical.append(s);
                if (continued)
                    logical.push_back(' ');
            }
            continuing = continued;
            if (!continued) {
                if (!overflow)
                    parse_logical(logical, logical_line);
                logical.clear();
                overflow = false;
            }
        }
        if (continuing && !overflow)
            parse_logical(logical, logical_line);
    }

private:
    void warn(size_t line, std::string message) { m_out.diagnostics.warn(m_path, line, std::move(message)); }

    bool room(std::size_t count, size_t line, const char* what)
    {
        if (count < k_sudoers_max_entries)
            return true;
        m_out.diagnostics.truncate(m_path, line,
            std::string("more than ") + std::to_string(k_sudoers_max_entries) + " " + what + "; the rest were ignored");
        return false;
    }

    // Where a comment starts on a physical line, or npos. A '#' followed by a digit right
    // after a separator is a uid or gid (#1000, %#100), not a comment.
    static size_t comment_start(std::string_view s)
    {
        bool quoted = false;
        for (size_t i = 0; i < s.size(); ++i) {
            char c = s[i];
            if (c == '\\') {
                ++i;
                continue;
            }
            if (c == '"') {
                quoted = !quoted;
                continue;
            }
            if (c != '#' || quoted)
                continue;
            bool digit_next = i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9';
            bool after_separator = i == 0 || std::string_view(" \t,(:=!%").find(s[i - 1]) != std::string_view::npos;
            if (digit_next && after_separator)
                continue;
            return i;
        }
        return std::string_view::npos;
    }

    // "#include" and "#includedir" lines, which would otherwise be comments.
    bool parse_hash_include(std::string_view line, size_t n)
    {
        std::string_view s = trim_left(line);
        for (std::string_view kw : { std::string_view("#includedir"), std::string_view("#include") }) {
            if (s.substr(0, kw.size()) == kw && s.size() > kw.size() && is_blank(s[kw.size()])) {
                parse_include(s.substr(kw.size()), kw.size() > 8, n);
                return true;
            }
        }
        return false;
    }

    void parse_include(std::string_view rest, bool directory, size_t n)
    {
        Cursor c(rest);
        c.skip_blanks();
        auto target = c.word("");
        c.skip_blanks();
        if (!target || target->empty() || !c.at_end()) {
            warn(n, "malformed include directive; skipped");
            return;
        }
        if (m_out.includes.size() >= k_sudoers_max_entries) {
            m_out.diagnostics.truncate(m_path, n, "too many include directives; the rest were ignored");
            return;
        }
        m_out.includes.push_back(SudoInclude { directory, std::move(*target), m_path, n });
    }

    void parse_logical(std::string_view logical, size_t n)
    {
        std::string_view s = trim(logical);
        if (s.empty())
            return;
        for (std::string_view kw : { std::string_view("@includedir"), std::string_view("@include") }) {
            if (s.substr(0, kw.size()) == kw && s.size() > kw.size() && is_blank(s[kw.size()])) {
                parse_include(s.substr(kw.size()), kw.size() > 8, n);
                return;
            }
        }
        if (s.substr(0, 8) == "Defaults" && (s.size() == 8 || std::string_view(" \t@:!>").find(s[8]) != std::string_view::npos)) {
            if (!parse_defaults(s.substr(8), n))
                warn(n, "malformed Defaults line (" + m_error + "); skipped (sudo would refuse this file)");
            return;
        }
        static constexpr std::pair<std::string_view, SudoAliasKind> aliases[] = { { "User_Alias", SudoAliasKind::User },
            { "Runas_Alias", SudoAliasKind::Runas }, { "Host_Alias", SudoAliasKind::Host }, { "Cmnd_Alias", SudoAliasKind::Cmnd },
            { "Cmd_Alias", SudoAliasKind::Cmnd } };
        for (const auto& [kw, kind] : aliases) {
            if (s.substr(0, kw.size()) == kw && s.size() > kw.size() && is_blank(s[kw.size()])) {
                if (!parse_aliases(s.substr(kw.size()), kind, n))
                    warn(n,
                        std::string("malformed ") + std::string(kw) + " line (" + m_error
                            + "); skipped (sudo would refuse this file)");
                return;
            }
        }
        if (!parse_user_spec(s, n))
            warn(n, "malformed user specification (" + m_error + "); skipped (sudo would refuse this file)");
    }

    bool fail(std::string message)
    {
        m_error = std::move(message);
        return false;
    }

    // item (',' item)*, each item optionally negated with '!'. allow_empty: "()" in Runas.
    bool read_list(Cursor& c, std::string_view stops, std::vector<std::string>& out, bool allow_empty = false)
    {
        for (;;) {
            c.skip_blanks();
            std::string item;
            while (c.accept('!')) {
                item.push_back('!');
                c.skip_blanks();
            }
            auto w = c.word(stops);
            if (!w)
                return fail("unterminated quote");
            if (w->empty()) {
                if (allow_empty && item.empty() && out.empty())
                    return true;
                return fail("expected a name");
            }
            if (out.size() >= k_sudoers_max_list)
                return fail("list has more than " + std::to_string(k_sudoers_max_list) + " items");
            out.push_back(item + *w);
            c.skip_blanks();
            if (!c.accept(','))
                return true;
        }
    }

    bool parse_defaults(std::string_view rest, size_t n)
    {
        Cursor c(rest);
        char binding_type = 0;
        std::vector<std::string> binding;
        if (c.peek() == '@' || c.peek() == ':' || c.peek() == '!' || c.peek() == '>') {
            binding_type = c.peek();
            c.advance(1);
            // A binding list is written without blanks; its end is the first blank.
            if (!read_list(c, ",=", binding))
                return false;
        }
        c.skip_blanks();
        if (c.at_end())
            return fail("no parameter");
        std::vector<SudoDefault> defaults;
        for (;;) {
            c.skip_blanks();
            SudoDefault d;
            d.binding_type = binding_type;
            d.binding = binding;
            d.path = m_path;
            d.line = n;
            while (c.accept('!')) {
                d.negated = !d.negated;
                c.skip_blanks();
            }
            std::string_view name = c.peek_ident();
            if (name.empty())
                return fail("expected a parameter name");
            d.name = std::string(name);
            c.advance(name.size());
            c.skip_blanks();
            if (c.accept("+="))
                d.op = "+=";
            else if (c.accept("-="))
                d.op = "-=";
            else if (c.accept('='))
                d.op = "=";
            if (!d.op.empty()) {
                c.skip_blanks();
                auto v = c.word(",");
                if (!v)
                    return fail("unterminated quote");
                d.value = std::move(*v);
            }
            defaults.push_back(std::move(d));
            c.skip_blanks();
            if (c.at_end())
                break;
            if (!c.accept(','))
                return fail("expected ',' between parameters");
        }
        for (auto& d : defaults) {
            if (!room(m_out.defaults.size(), n, "Defaults entries"))
                break;
            m_out.defaults.push_back(std::move(d));
        }
        return true;
    }

    static bool valid_alias_name(std::string_view name)
    {
        if (name.empty() || !(name[0] >= 'A' && name[0] <= 'Z'))
            return false;
        for (char c : name) {
            if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
                return false;
        }
        return true;
    }

    bool parse_aliases(std::string_view rest, SudoAliasKind kind, size_t n)
    {
        Cursor c(rest);
        std::vector<SudoAlias> aliases;
        for (;;) {
            c.skip_blanks();
            std::string_view name = c.peek_ident();
            if (!valid_alias_name(name))
                return fail("invalid alias name");
            c.advance(name.size());
            c.skip_blanks();
            if (!c.accept('='))
                return fail("expected '=' after the alias name");
            SudoAlias alias { kind, std::string(name), {}, m_path, n };
            if (kind == SudoAliasKind::Cmnd) {
                for (;;) {
                    SudoCommand cmd;
                    if (!parse_command(c, cmd))
                        return false;
                    if (alias.members.size() >= k_sudoers_max_list)
                        return fail("alias has too many members");
                    alias.members.push_back((cmd.negated ? "!" : "") + cmd.command);
                    c.skip_blanks();
                    if (!c.accept(','))
                        break;
                }
            } else if (!read_list(c, ",:=()", alias.members)) {
                return false;
            }
            aliases.push_back(std::move(alias));
            c.skip_blanks();
            if (c.at_end())
                break;
            if (!c.accept(':'))
                return fail("expected ':' between alias definitions");
        }
        for (auto& alias : aliases) {
            if (!room(m_out.aliases.size(), n, "aliases"))
                break;
            m_out.aliases.push_back(std::move(alias));
        }
        return true;
    }

    // [!...] [sha2xx:digest] command-with-arguments, up to ',' or ':'.
    bool parse_command(Cursor& c, SudoCommand& cmd)
    {
        c.skip_blanks();
        while (c.accept('!')) {
            cmd.negated = !cmd.negated;
            c.skip_blanks();
        }
        std::string_view ident = c.peek_ident();
        for (auto d : k_digests) {
            if (ident == d && c.peek(ident.size()) == ':') {
                c.advance(ident.size() + 1);
                c.skip_blanks();
                auto digest = c.word("");
                if (!digest || digest->empty())
                    return fail("expected a digest");
                cmd.digest = std::string(d) + ":" + *digest;
                c.skip_blanks();
                break;
            }
        }
        auto command = c.until(",:");
        if (!command)
            return fail("unterminated quote in a command");
        cmd.command = std::move(*command);
        if (cmd.command.empty())
            return fail("expected a command");
        return true;
    }

    bool parse_user_spec(std::string_view s, size_t n)
    {
        Cursor c(s);
        std::vector<std::string> users;
        if (!read_list(c, ",:=()", users))
            return false;
        // A line is kept whole or not at all, as sudo refuses it whole.
        std::vector<SudoRule> rules;
        for (;;) {
            SudoRule rule;
            rule.users = users;
            rule.path = m_path;
            rule.line = n;
            if (!read_list(c, ",:=()", rule.hosts))
                return false;
            c.skip_blanks();
            if (!c.accept('='))
                return fail("expected '=' after the host list");
            if (!parse_cmnd_spec_list(c, rule))
                return false;
            rules.push_back(std::move(rule));
            c.skip_blanks();
            if (c.at_end())
                break;
            if (!c.accept(':'))
                return fail("expected ':' or the end of the line after a command");
        }
        for (auto& rule : rules) {
            if (!room(m_out.rules.size(), n, "rules"))
                break;
            m_out.rules.push_back(std::move(rule));
        }
        return true;
    }

    bool parse_cmnd_spec_list(Cursor& c, SudoRule& rule)
    {
        std::vector<std::string> runas_users;
        std::vector<std::string> runas_groups;
        bool runas_given = false;
        std::array<std::optional<bool>, k_tags.size()> tags {};
        for (;;) {
            c.skip_blanks();
            if (c.accept('(')) {
                runas_users.clear();
                runas_groups.clear();
                runas_given = true;
                if (!read_list(c, ",:=()", runas_users, true))
                    return false;
                c.skip_blanks();
                if (c.accept(':') && !read_list(c, ",:=()", runas_groups, true))
                    return false;
                c.skip_blanks();
                if (!c.accept(')'))
                    return fail("expected ')' after the Runas list");
            }
            SudoCommand cmd;
            for (;;) {
                c.skip_blanks();
                std::string_view ident = c.peek_ident();
                if (ident.empty())
                    break;
                bool consumed = false;
                for (auto opt : k_command_options) {
                    if (ident == opt && c.peek_after_blanks(ident.size()) == '=') {
                        c.advance(ident.size());
                        c.advance_past('=');
                        c.skip_blanks();
                        auto v = c.word(",:");
                        if (!v)
                            return fail("unterminated quote");
                        cmd.options.emplace_back(std::string(ident), std::move(*v));
                        consumed = true;
                        break;
                    }
                }
                for (size_t t = 0; !consumed && t < k_tags.size(); ++t) {
                    bool on = ident == k_tags[t].on;
                    if ((on || ident == k_tags[t].off) && c.peek_after_blanks(ident.size()) == ':') {
                        c.advance(ident.size());
                        c.advance_past(':');
                        tags[t] = on;
                        consumed = true;
                    }
                }
                if (!consumed)
                    break;
            }
            if (!parse_command(c, cmd))
                return false;
            cmd.runas_users = runas_users;
            cmd.runas_groups = runas_groups;
            cmd.runas_given = runas_given;
            for (size_t t = 0; t < k_tags.size(); ++t) {
                if (tags[t])
                    cmd.tags.emplace_back(*tags[t] ? k_tags[t].on : k_tags[t].off);
            }
            cmd.nopasswd = tags[0].value_or(false);
            if (rule.commands.size() >= k_sudoers_max_list)
                return fail("rule has more than " + std::to_string(k_sudoers_max_list) + " commands");
            rule.commands.push_back(std::move(cmd));
            c.skip_blanks();
            if (!c.accept(','))
                return true;
        }
    }

    Sudoers& m_out;
    std::string m_path;
    std::string m_error;
};

} // namespace

Sudoers parse_sudoers(std::span<const ConfigSource> sources)
{
    Sudoers out;
    SudoersParser parser(out);
    size_t count = 0;
    for (const auto& src : sources) {
        if (++count > k_sudoers_max_sources) {
            out.diagnostics.truncate(
                src.path, 0, "more than " + std::to_string(k_sudoers_max_sources) + " sudoers files; the rest were not read");
            break;
        }
        parser.parse_source(src);
    }
    return out;
}

Sudoers parse_sudoers(std::string_view text)
{
    ConfigSource src { "", text };
    return parse_sudoers(std::span<const ConfigSource>(&src, 1));
}

} // namespace bulwark::inspect
