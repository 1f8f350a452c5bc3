#include "inspect/accounts.h"

#include "inspect/finding.h"

namespace bulwark::inspect {

namespace {

// Calls handle(fields, line) for every entry line with exactly one of the accepted field
// counts; other lines are warned about. handle returns whether it kept the entry.
template <typename Handle>
void for_each_entry(
    std::string_view text, const char* what, size_t min_fields, size_t max_fields, Diagnostics& diag, Handle handle)
{
    LineReader reader(text, k_account_file_limits, diag);
    std::string_view line;
    size_t entries = 0;
    while (reader.next(line)) {
        size_t n = reader.line_number();
        std::string_view s = trim_left(line);
        if (s.empty() || s[0] == '#')
            continue;
        if (s[0] == '+' || s[0] == '-') {
            diag.warn({}, n, std::string("NIS compat entry in ") + what + "; skipped");
            continue;
        }
        auto fields = split_fields(s, ':', max_fields);
        if (!fields || fields->size() < min_fields) {
            diag.warn({}, n, std::string(what) + " entry does not have " + std::to_string(max_fields) + " fields; skipped");
            continue;
        }
        if ((*fields)[0].empty()) {
            diag.warn({}, n, std::string(what) + " entry has an empty name; skipped");
            continue;
        }
        if (entries >= k_max_account_entries) {
            diag.truncate({}, n,
                std::string(what) + " has more than " + std::to_string(k_max_account_entries)
                    + " entries; the rest were ignored");
            return;
        }
        if (handle(*fields, n))
            ++entries;
    }
}

std::vector<std::string> split_members(std::string_view list, Diagnostics& diag, size_t line)
{
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= list.size()) {
        size_t end = list.find(',', start);
        if (end == std::string_view::npos)
            end = list.size();
        std::string_view m = trim(list.substr(start, end - start));
        if (!m.empty()) {
            if (out.size() >= k_max_group_members) {
                diag.warn(
                    {}, line, "group has more than " + std::to_string(k_max_group_members) + " members; the rest were ignored");
                break;
            }
            out.emplace_back(m);
        }
        start = end + 1;
    }
    return out;
}

// A shadow day count: empty or negative is "not set"; nullopt in ok=false for garbage.
std::optional<int64_t> parse_days(std::string_view s, bool& ok)
{
    if (s.empty())
        return std::nullopt;
    if (s[0] == '-') {
        if (!parse_u64(s.substr(1)))
            ok = false;
        return std::nullopt;
    }
    auto v = parse_u64(s);
    if (!v || *v > (1ULL << 40)) {
        ok = false;
        return std::nullopt;
    }
    return static_cast<int64_t>(*v);
}

bool is_crypt64(char c)
{
    return c == '.' || c == '/' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool starts_with(std::string_view s, std::string_view p)
{
    return s.substr(0, p.size()) == p;
}

} // namespace

PasswdFile parse_passwd(std::string_view text)
{
    PasswdFile out;
    for_each_entry(text, "passwd", 7, 7, out.diagnostics, [&](const std::vector<std::string_view>& f, size_t n) {
        auto uid = parse_u32(f[2]);
        auto gid = parse_u32(f[3]);
        if (!uid || !gid) {
            out.diagnostics.warn({}, n, "passwd entry " + display_text(f[0], 64) + " has a non-numeric uid or gid; skipped");
            return false;
        }
        out.entries.push_back(PasswdEntry {
            std::string(f[0]), std::string(f[1]), *uid, *gid, std::string(f[4]), std::string(f[5]), std::string(f[6]), n });
        return true;
    });
    return out;
}

ShadowFile parse_shadow(std::string_view text)
{
    ShadowFile out;
    for_each_entry(text, "shadow", 8, 9, out.diagnostics, [&](const std::vector<std::string_view>& f, size_t n) {
        ShadowEntry e;
        e.name = std::string(f[0]);
        e.hash = std::string(f[1]);
        e.line = n;
        bool ok = true;
        e.last_change = parse_days(f[2], ok);
        e.min_age = parse_days(f[3], ok);
        e.max_age = parse_days(f[4], ok);
        e.warn_period = parse_days(f[5], ok);
        e.inactivity = parse_days(f[6], ok);
        e.expire = parse_days(f[7], ok);
        if (!ok)
            out.diagnostics.warn(
                {}, n, "shadow entry " + display_text(f[0], 64) + " has a non-numeric day count; it was read as not set");
        out.entries.push_back(std::move(e));
        return true;
    });
    return out;
}

GroupFile parse_group(std::string_view text)
{
    GroupFile out;
    for_each_entry(text, "group", 4, 4, out.diagnostics, [&](const std::vector<std::string_view>& f, size_t n) {
        auto gid = parse_u32(f[2]);
        if (!gid) {
            out.diagnostics.warn({}, n, "group entry " + display_text(f[0], 64) + " has a non-numeric gid; skipped");
            return false;
        }
        out.entries.push_back(
            GroupEntry { std::string(f[0]), std::string(f[1]), *gid, split_members(f[3], out.diagnostics, n), n });
        return true;
    });
    return out;
}

GshadowFile parse_gshadow(std::string_view text)
{
    GshadowFile out;
    for_each_entry(text, "gshadow", 4, 4, out.diagnostics, [&](const std::vector<std::string_view>& f, size_t n) {
        out.entries.push_back(GshadowEntry { std::string(f[0]), std::string(f[1]), split_members(f[2], out.diagnostics, n),
            split_members(f[3], out.diagnostics, n), n });
        return true;
    });
    return out;
}

HashScheme classify_hash(std::string_view h)
{
    if (h.empty())
        return HashScheme::Empty;
    if (h[0] == '!' || h[0] == '*')
        return HashScheme::Locked;
    if (h.size() == 13) {
        bool des = true;
        for (char c : h)
            des = des && is_crypt64(c);
        if (des)
            return HashScheme::Des;
    }
    if (h.size() == 20 && h[0] == '_') {
        bool des = true;
        for (char c : h.substr(1))
            des = des && is_crypt64(c);
        if (des)
            return HashScheme::BsdiDes;
    }
    if (starts_with(h, "$1$"))
        return HashScheme::Md5;
    if (starts_with(h, "$3$"))
        return HashScheme::NtHash;
    if (starts_with(h, "$md5"))
        return HashScheme::SunMd5;
    if (starts_with(h, "$2a$") || starts_with(h, "$2b$") || starts_with(h, "$2x$") || starts_with(h, "$2y$"))
        return HashScheme::Bcrypt;
    if (starts_with(h, "$5$"))
        return HashScheme::Sha256;
    if (starts_with(h, "$6$"))
        return HashScheme::Sha512;
    if (starts_with(h, "$7$"))
        return HashScheme::Scrypt;
    if (starts_with(h, "$y$"))
        return HashScheme::Yescrypt;
    if (starts_with(h, "$gy$"))
        return HashScheme::GostYescrypt;
    return HashScheme::Unknown;
}

const char* hash_scheme_name(HashScheme scheme)
{
    switch (scheme) {
    case HashScheme::Empty:
        return "empty";
    case HashScheme::Locked:
        return "locked";
    case HashScheme::Des:
        return "DES crypt";
    case HashScheme::BsdiDes:
        return "BSDi extended DES";
    case HashScheme::Md5:
        return "MD5 crypt ($1$)";
    case HashScheme::NtHash:
        return "NT hash ($3$)";
    case HashScheme::SunMd5:
        return "Sun MD5 ($md5)";
    case HashScheme::Bcrypt:
        return "bcrypt ($2b$)";
    case HashScheme::Sha256:
        return "SHA-256 crypt ($5$)";
    case HashScheme::Sha512:
        return "SHA-512 crypt ($6$)";
    case HashScheme::Scrypt:
        return "scrypt ($7$)";
    case HashScheme::Yescrypt:
        return "yescrypt ($y$)";
    case HashScheme::GostYescrypt:
        return "gost-yescrypt ($gy$)";
    case HashScheme::Unknown:
        return "unknown";
    }
    return "unknown";
}

bool hash_scheme_is_weak(HashScheme scheme)
{
    return scheme == HashScheme::Des || scheme == HashScheme::BsdiDes || scheme == HashScheme::Md5 || scheme == HashScheme::NtHash
        || scheme == HashScheme::SunMd5;
}

bool is_login_shell(std::string_view shell)
{
    static constexpr std::string_view refusing[]
        = { "/usr/sbin/nologin", "/sbin/nologin", "/usr/bin/nologin", "/bin/nologin", "/bin/false", "/usr/bin/false", "/bin/sync",
              "/usr/bin/sync", "/sbin/shutdown", "/usr/sbin/shutdown", "/sbin/halt", "/usr/sbin/halt" };
    shell = trim(shell);
    for (auto r : refusing) {
        if (shell == r)
            return false;
    }
    return true;
}

} // namespace bulwark::inspect
