// Checks over the parsed account databases and sudoers: pure functions, no file access.
//
// Account findings (subject: the user name, or the uid for duplicates):
//   account.uid0                 critical  uid 0 on an account other than root
//   account.passwordless-login   critical  empty password hash and a login shell
//   account.empty-password       high      empty password hash (shadow, or passwd when not "x")
//   account.weak-hash            high      DES, BSDi DES, MD5 ($1$), NT hash ($3$), Sun MD5
//   account.hash-in-passwd       high      a password hash in world-readable /etc/passwd
//   account.duplicate-uid        high      several accounts share a uid (subject: the uid)
//   account.duplicate-name       medium    an account name appears twice in passwd
//   account.sudo-group           medium    member of sudo, wheel or admin (or primary group)
//   account.unknown-hash         low       a hash scheme not recognised
//   account.password-expired     low       last change + max age is before today
//   account.system-login-shell   low       a system account (0 < uid < 1000) with a login shell
//   account.login-shell          info      a regular account (uid >= 1000) with a login shell
//   account.locked               info      hash starts with '!' or '*' but the shell allows login
//                                          (key-based logins still work)
//   account.expired              info      the shadow expire date is before today
//   account.missing-shadow       info      passwd says "x" but shadow has no entry
// Sudo findings (subject: the user, %group, #uid, alias member, or ALL):
//   sudo.nopasswd                critical  for ALL users; high when the commands are ALL or
//                                          allow a shell (sh, vi, less, find, python, ...);
//                                          medium for other specific commands
//   sudo.no-authenticate         critical  "Defaults !authenticate" (high when bound to a user)
//   sudo.all-users               high      a rule that lets every user run commands
//   sudo.no-env-reset            medium    "Defaults !env_reset"
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "inspect/accounts.h"
#include "inspect/finding.h"
#include "inspect/sudoers.h"

namespace bulwark::inspect {

struct AccountInputs {
    const PasswdFile* passwd = nullptr; // nullptr: the file is absent
    const ShadowFile* shadow = nullptr;
    const GroupFile* group = nullptr;
    int64_t today = 0; // the inspection date, in days since 1970-01-01
    std::string passwd_path = "/etc/passwd";
    std::string shadow_path = "/etc/shadow";
    std::string group_path = "/etc/group";
};

std::vector<Finding> check_accounts(const AccountInputs& in);

// sudo findings; each names the sudoers file and line of the rule.
std::vector<Finding> check_sudoers(const Sudoers& sudoers);

// True when running the command as root is as good as a root shell: ALL, a shell, an editor
// or pager or interpreter that can start one, or a wildcard in the command path.
bool sudo_command_grants_shell(std::string_view command);

} // namespace bulwark::inspect
