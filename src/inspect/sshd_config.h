// sshd_config(5): how the image's SSH server lets people in.
//
// Syntax: "Keyword arguments" or "Keyword=arguments", one a line; '#' lines and blank lines
// are ignored; keywords are case-insensitive; arguments may be "double quoted". For most
// keywords the first value obtained wins (sshd semantics), so a later line does not override
// an earlier one. "Match criteria" starts a conditional block that runs to the next Match or
// the end of the file; its settings are recorded apart, with their criteria. "Include
// pattern..." (relative patterns are under /etc/ssh) is replaced, in place, by the files
// matching the pattern in lexical order: the caller passes the contents of the files it
// found (e.g. /etc/ssh/sshd_config.d/*.conf) as extra sources, and each Include takes those
// whose path matches its glob (fnmatch). Included files may include others, up to 16 deep.
// Keyword aliases: ChallengeResponseAuthentication is KbdInteractiveAuthentication, and
// PermitRootLogin's without-password is prohibit-password.
//
// Limits: 64 sources, 1 MiB each, 100 000 lines, 16 KiB a line, 256 Match blocks, 10 000
// settings in all.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "inspect/finding.h"
#include "inspect/parse.h"

namespace bulwark::inspect {

inline constexpr LineLimits k_sshd_config_limits { 1u << 20, 100000, 16 * 1024 };
inline constexpr size_t k_sshd_max_sources = 64;
inline constexpr size_t k_sshd_max_matches = 256;
inline constexpr size_t k_sshd_max_settings = 10000;
inline constexpr int k_sshd_max_include_depth = 16;

struct SshdSetting {
    std::string keyword; // lowercase, aliases resolved ("kbdinteractiveauthentication")
    std::string value; // the arguments, unquoted, joined by one space
    std::string path;
    size_t line = 0;
};

struct SshdMatchBlock {
    std::string criteria; // e.g. "User backup" or "Address 10.0.0.0/8"
    std::map<std::string, SshdSetting> settings; // first value wins inside the block
    std::string path;
    size_t line = 0;
};

struct SshdInclude {
    std::string pattern; // absolute
    std::vector<std::string> matched; // the sources it pulled in, in order
    std::string path;
    size_t line = 0;
};

struct SshdConfig {
    std::string path; // the main file
    std::map<std::string, SshdSetting> global; // first value wins
    std::vector<SshdSetting> host_keys; // every HostKey, in order
    std::vector<SshdMatchBlock> matches;
    std::vector<SshdInclude> includes;
    Diagnostics diagnostics;
};

// main: /etc/ssh/sshd_config; extras: files that Include directives may name.
SshdConfig parse_sshd_config(const ConfigSource& main, std::span<const ConfigSource> extras = {});

struct OpenSshVersion {
    int major = 0;
    int minor = 0;
};
// "1:9.2p1-2+deb12u3" (a dpkg version of openssh-server) or "9.2p1" -> 9.2.
std::optional<OpenSshVersion> parse_openssh_version(std::string_view version);

// The settings that decide who can log in, after defaults. Defaults are OpenSSH's: with an
// unknown version, a current OpenSSH (>= 7.0) is assumed.
struct SshdEffective {
    std::string permit_root_login; // yes | prohibit-password | forced-commands-only | no
    bool password_authentication = true;
    bool permit_empty_passwords = false;
    bool pubkey_authentication = true;
    bool kbd_interactive_authentication = true;
    bool use_pam = false;
};
SshdEffective sshd_effective(const std::map<std::string, SshdSetting>& settings, std::optional<OpenSshVersion> version = {});

// Findings for risky global settings (id "ssh.<check>") and for the same settings inside a
// Match block (id "ssh.<check>:match:<criteria>"):
//   ssh.permit-root-login          high (yes), low (forced-commands-only)
//   ssh.permit-empty-passwords     critical when password or keyboard-interactive login is on,
//                                  else high
//   ssh.password-authentication    medium
//   ssh.kbd-interactive-authentication  low (with UsePAM this is password login too)
//   ssh.permit-user-environment    medium
//   ssh.hostbased-authentication   medium
//   ssh.ignore-rhosts-disabled     medium
//   ssh.strict-modes-disabled      medium
//   ssh.x11-forwarding             low
//   ssh.gateway-ports              low
//   ssh.pubkey-authentication-disabled  info
// Values sshd would reject are reported as parse warnings, not findings.
std::vector<Finding> check_sshd_config(const SshdConfig& config, std::optional<OpenSshVersion> version = {});

} // namespace bulwark::inspect
