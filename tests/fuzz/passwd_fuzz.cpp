// Fuzzes the account parsers and checks of golden-image inspection (src/inspect): passwd,
// shadow, group, gshadow, sudoers and crontab, then the account and sudo analysis over them.
//
// Input layout: parts separated by lines of "%%": passwd, shadow, group, sudoers, gshadow,
// crontab; missing parts are empty. sudoers also reads the passwd part as a second file, and
// shadow and group the whole input, so that the parsers see each other's inputs.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "inspect/account_checks.h"
#include "inspect/file_checks.h"

using namespace bulwark::inspect;

static void check(bool condition)
{
    if (!condition)
        std::abort();
}

static bool printable(std::string_view s)
{
    for (unsigned char c : s) {
        if (c < 0x20 || c >= 0x7f)
            return false;
    }
    return true;
}

static void check_findings(const std::vector<Finding>& findings)
{
    for (const auto& f : findings) {
        check(!f.kind.empty());
        check(f.id.compare(0, f.kind.size(), f.kind) == 0);
        check(printable(f.id));
        check(f.excerpt.size() <= k_max_excerpt);
        check(severity_from_name(severity_name(f.severity)) == f.severity);
    }
}

static std::vector<std::string_view> split_parts(std::string_view text)
{
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (;;) {
        size_t sep = text.find("\n%%\n", start);
        if (sep == std::string_view::npos) {
            parts.push_back(text.substr(start));
            break;
        }
        parts.push_back(text.substr(start, sep - start + 1));
        start = sep + 4;
    }
    while (parts.size() < 6)
        parts.emplace_back();
    return parts;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto parts = split_parts(text);

    PasswdFile passwd = parse_passwd(parts[0]);
    ShadowFile shadow = parse_shadow(parts[1]);
    GroupFile group = parse_group(parts[2]);
    GshadowFile gshadow = parse_gshadow(parts[4]);
    for (const auto& e : passwd.entries)
        check(!e.name.empty() && e.name.find(':') == std::string::npos);
    for (const auto& g : group.entries)
        check(g.members.size() <= k_max_group_members);
    (void)gshadow;

    AccountInputs in;
    in.passwd = &passwd;
    in.shadow = &shadow;
    in.group = &group;
    in.today = 19700;
    check_findings(check_accounts(in));

    ConfigSource sources[] = { { "/etc/sudoers", parts[3] }, { "/etc/sudoers.d/extra", parts[0] } };
    Sudoers sudoers = parse_sudoers(sources);
    check(sudoers.diagnostics.warnings.size() <= k_max_warnings);
    for (const auto& r : sudoers.rules) {
        check(!r.users.empty() && !r.hosts.empty() && !r.commands.empty());
        check(r.commands.size() <= k_sudoers_max_list);
        for (const auto& c : r.commands)
            check(!c.command.empty());
    }
    check_findings(check_sudoers(sudoers));

    CronTable cron = parse_crontab(parts[5], true);
    check_findings(check_crontab(cron, "/etc/crontab"));
    CronTable user_cron = parse_crontab(parts[5], false);
    check_findings(check_crontab(user_cron, "/var/spool/cron/crontabs/root"));

    // The account parsers on the whole input too (sudoers already sees the passwd part).
    (void)parse_shadow(text);
    (void)parse_group(text);
    return 0;
}
