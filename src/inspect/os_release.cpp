#include "inspect/os_release.h"

#include <optional>

namespace bulwark::inspect {

namespace {

bool valid_key(std::string_view key)
{
    if (key.empty() || key.size() > 64)
        return false;
    for (size_t i = 0; i < key.size(); ++i) {
        char c = key[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

// Parses the shell word that is the value; nullopt with a reason on a syntax error.
std::optional<std::string> parse_value(std::string_view s, std::string& error)
{
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
        char c = s[i];
        if (is_blank(c)) {
            // Whitespace ends the word; only a comment may follow.
            std::string_view rest = trim_left(s.substr(i));
            if (!rest.empty() && rest[0] != '#') {
                error = "unquoted whitespace in the value";
                return std::nullopt;
            }
            return out;
        }
        if (c == '\'') {
            size_t end = s.find('\'', i + 1);
            if (end == std::string_view::npos) {
                error = "unterminated single quote";
                return std::nullopt;
            }
            out.append(s.substr(i + 1, end - i - 1));
            i = end + 1;
        } else if (c == '"') {
            ++i;
            bool closed = false;
            while (i < s.size()) {
                char d = s[i];
                if (d == '"') {
                    closed = true;
                    ++i;
                    break;
                }
                if (d == '\\' && i + 1 < s.size()) {
                    char e = s[i + 1];
                    if (e == '$' || e == '"' || e == '\\' || e == '`' || e == '\n') {
                        out.push_back(e);
                        i += 2;
                        continue;
                    }
                }
                if (d == '$' || d == '`') {
                    error = "unescaped shell expansion in a double-quoted value";
                    return std::nullopt;
                }
                out.push_back(d);
                ++i;
            }
            if (!closed) {
                error = "unterminated double quote";
                return std::nullopt;
            }
        } else if (c == '\\') {
            if (i + 1 >= s.size()) {
                error = "backslash at the end of the line (multi-line values are not allowed)";
                return std::nullopt;
            }
            out.push_back(s[i + 1]);
            i += 2;
        } else if (c == '$' || c == '`' || c == ';' || c == '|' || c == '&' || c == '<' || c == '>' || c == '(' || c == ')') {
            error = "unquoted shell special character in the value";
            return std::nullopt;
        } else {
            out.push_back(c);
            ++i;
        }
    }
    return out;
}

} // namespace

OsRelease parse_os_release(std::string_view text)
{
    OsRelease result;
    LineReader reader(text, k_os_release_limits, result.diagnostics);
    std::string_view line;
    while (reader.next(line)) {
        size_t n = reader.line_number();
        std::string_view s = trim(line);
        if (s.empty() || s[0] == '#')
            continue;
        size_t eq = s.find('=');
        if (eq == std::string_view::npos) {
            result.diagnostics.warn({}, n, "not a KEY=VALUE assignment; skipped");
            continue;
        }
        std::string_view key = s.substr(0, eq);
        if (!valid_key(key)) {
            result.diagnostics.warn({}, n, "invalid key name; skipped");
            continue;
        }
        std::string error;
        auto value = parse_value(s.substr(eq + 1), error);
        if (!value) {
            result.diagnostics.warn({}, n, "value of " + std::string(key) + ": " + error + "; skipped");
            continue;
        }
        auto it = result.fields.find(std::string(key));
        if (it == result.fields.end() && result.fields.size() >= k_os_release_max_keys) {
            result.diagnostics.truncate(
                {}, n, "more than " + std::to_string(k_os_release_max_keys) + " keys; the rest were ignored");
            continue;
        }
        result.fields[std::string(key)] = std::move(*value);
    }

    auto get = [&](const char* key, const char* fallback) {
        auto it = result.fields.find(key);
        return it != result.fields.end() ? it->second : std::string(fallback);
    };
    result.id = get("ID", "linux");
    result.version_id = get("VERSION_ID", "");
    result.version_codename = get("VERSION_CODENAME", "");
    result.pretty_name = get("PRETTY_NAME", "Linux");
    result.name = get("NAME", "Linux");
    std::string like = get("ID_LIKE", "");
    std::string_view rest = like;
    while (!rest.empty()) {
        rest = trim_left(rest);
        size_t end = 0;
        while (end < rest.size() && !is_space(rest[end]))
            ++end;
        if (end == 0)
            break;
        if (result.id_like.size() >= k_os_release_max_id_like) {
            result.diagnostics.warn({}, 0,
                "ID_LIKE names more than " + std::to_string(k_os_release_max_id_like) + " distributions; the rest were ignored");
            break;
        }
        result.id_like.emplace_back(rest.substr(0, end));
        rest = rest.substr(end);
    }
    return result;
}

} // namespace bulwark::inspect
