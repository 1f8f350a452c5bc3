// File-level checks over metadata the caller read from the image's file system, and the
// crontab parser. Pure functions: no file access.
//
// Findings:
//   file.setuid:<path>            medium (root-owned), low (other owner)  setuid regular file
//   file.setgid:<path>            low                                    setgid regular file
//   file.world-writable:<path>    high   a file, or a directory without the sticky bit, that
//                                        anyone can write, under /etc /usr /bin /sbin /lib*
//                                        /boot /var/lib (symlinks are ignored: their mode
//                                        means nothing)
//   systemd.enabled:<unit>        info   a unit enabled through a .wants/ or .requires/ link
//   systemd.legacy-service:<unit> medium telnet, rsh, rlogin, rexec, tftp, ftp servers
//   systemd.unit-outside-system-dirs:<unit>  medium  the link points outside /etc/systemd,
//                                        /lib/systemd, /usr/lib/systemd (or /dev/null)
//   cron.download-exec:<path>:<line>  high    a downloaded script piped into a shell
//   cron.tmp-command:<path>:<line>    medium  a job that runs something from /tmp, /var/tmp
//                                             or /dev/shm, which any user can write
//   cron.entry:<path>:<line>          info    every job, as an inventory
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "inspect/finding.h"
#include "inspect/parse.h"

namespace bulwark::inspect {

struct FileEntry {
    std::string path; // absolute, inside the image
    uint32_t mode = 0; // st_mode: type and permission bits
    uint32_t uid = 0;
    uint32_t gid = 0;
};

std::vector<Finding> check_file_modes(std::span<const FileEntry> files);

struct SymlinkEntry {
    std::string link; // e.g. /etc/systemd/system/multi-user.target.wants/ssh.service
    std::string target; // as stored in the link, e.g. /lib/systemd/system/ssh.service
};

struct EnabledUnit {
    std::string unit; // ssh.service
    std::string wanted_by; // multi-user.target
    std::string link;
    std::string target; // resolved lexically against the link's directory when relative
    bool user_unit = false; // under /etc/systemd/user
};

// Units enabled by links in /etc/systemd/{system,user}/<target>.{wants,requires}/; masked
// units (links to /dev/null) are left out.
std::vector<EnabledUnit> enabled_systemd_units(std::span<const SymlinkEntry> links);
std::vector<Finding> check_systemd_units(std::span<const EnabledUnit> units);

// crontab(5). A system crontab (/etc/crontab, /etc/cron.d/*) has a user field after the
// schedule; a user crontab (/var/spool/cron/crontabs/<user>) does not. Lines: comments,
// NAME=value environment settings, and jobs: five time fields or @reboot/@hourly/@daily/
// @midnight/@weekly/@monthly/@yearly/@annually, then [user], then the command.
// Limits: 1 MiB, 100 000 lines, 16 KiB a line, 10 000 jobs.
inline constexpr LineLimits k_crontab_limits { 1u << 20, 100000, 16 * 1024 };
inline constexpr size_t k_max_cron_jobs = 10000;

struct CronJob {
    std::string schedule; // "*/5 * * * *" or "@reboot"
    std::string user; // empty in a user crontab
    std::string command;
    size_t line = 0;
};

struct CronTable {
    std::vector<CronJob> jobs;
    std::vector<std::pair<std::string, std::string>> environment;
    Diagnostics diagnostics;
};

CronTable parse_crontab(std::string_view text, bool system_crontab);
std::vector<Finding> check_crontab(const CronTable& table, const std::string& path);

} // namespace bulwark::inspect
