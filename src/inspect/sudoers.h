// sudoers(5): who may run what as whom, from /etc/sudoers and the files it includes.
//
// Syntax handled (sudoers(5), "SUDOERS FILE FORMAT"):
// - '#' starts a comment, except in "#include" / "#includedir" lines and in a uid ("#1000");
//   a backslash at the end of a line joins it with the next one.
// - "#include f", "@include f", "#includedir d", "@includedir d" are returned in
//   Sudoers::includes so that the caller can read those files and parse them too (in a later
//   call, with the other sources; sudo reads the files of a directory in lexical order and
//   skips names containing '.' or ending in '~').
// - Defaults[@host|:user|!cmnd|>runas][list] param, !param, param=value, param+=value, ...
// - User_Alias, Runas_Alias, Host_Alias, Cmnd_Alias (and Cmd_Alias): NAME = item, ... with
//   several definitions per line separated by ':'.
// - User specs: user_list host_list = [(runas[:group])] [OPTION=value...] [TAG:...] [!]cmnd,
//   ... [: host_list = ...]. A Runas spec and tags carry over to the following commands of the
//   same list until changed, as in sudo. Users may be names, %group, %:group, #uid, %#gid,
//   +netgroup, aliases or ALL, each optionally negated with '!'.
// - In words, "\," "\:" "\=" "\\" "\ " and friends are escapes; "..." quotes in user names and
//   Defaults values.
// A line that does not parse is skipped with a warning (sudo itself would refuse the whole
// file: the warning says so, so a policy can treat it as suspicious).
//
// Limits: 64 sources, 1 MiB each, 64 KiB a logical line (after joining), 100 000 lines,
// 20 000 rules, aliases and defaults each, 1 000 items in a list, 1 000 commands a rule.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "inspect/parse.h"

namespace bulwark::inspect {

inline constexpr LineLimits k_sudoers_limits { 1u << 20, 100000, 64 * 1024 };
inline constexpr size_t k_sudoers_max_sources = 64;
inline constexpr size_t k_sudoers_max_logical_line = 64 * 1024;
inline constexpr size_t k_sudoers_max_entries = 20000;
inline constexpr size_t k_sudoers_max_list = 1000;

enum class SudoAliasKind { User, Runas, Host, Cmnd };
const char* sudo_alias_kind_name(SudoAliasKind kind);

struct SudoAlias {
    SudoAliasKind kind = SudoAliasKind::User;
    std::string name;
    std::vector<std::string> members; // as written, '!' kept for negated members
    std::string path;
    size_t line = 0;
};

struct SudoDefault {
    char binding_type = 0; // 0 (global), '@' host, ':' user, '!' command, '>' runas
    std::vector<std::string> binding; // the list after the binding character
    std::string name; // the parameter, e.g. "authenticate", "env_reset", "secure_path"
    bool negated = false; // "!name"
    std::string op; // "", "=", "+=" or "-="
    std::string value;
    std::string path;
    size_t line = 0;
};

struct SudoCommand {
    std::string command; // "ALL", an alias name, or a path with its arguments (unescaped)
    bool negated = false; // "!cmnd": explicitly not allowed
    std::string digest; // "sha256:..." when the command is pinned by digest
    std::vector<std::string> runas_users; // empty: the default (root)
    std::vector<std::string> runas_groups;
    bool runas_given = false; // a Runas spec applied (even "()")
    std::vector<std::string> tags; // the tags in effect, e.g. "NOPASSWD", "SETENV"
    bool nopasswd = false; // NOPASSWD in effect: no authentication for this command
    std::vector<std::pair<std::string, std::string>> options; // CWD=, CHROOT=, TIMEOUT=, ...
};

struct SudoRule {
    std::vector<std::string> users; // as written ('!' kept)
    std::vector<std::string> hosts;
    std::vector<SudoCommand> commands;
    std::string path;
    size_t line = 0;
};

struct SudoInclude {
    bool directory = false; // #includedir / @includedir
    std::string target; // the path as written (relative paths are relative to the file's dir)
    std::string path; // the file the directive is in
    size_t line = 0;
};

struct Sudoers {
    std::vector<SudoRule> rules;
    std::vector<SudoAlias> aliases;
    std::vector<SudoDefault> defaults;
    std::vector<SudoInclude> includes;
    Diagnostics diagnostics;
};

// Parses the sources in order, as if they were one file (aliases defined in one apply in
// the next), e.g. /etc/sudoers followed by the files of /etc/sudoers.d.
Sudoers parse_sudoers(std::span<const ConfigSource> sources);
Sudoers parse_sudoers(std::string_view text);

} // namespace bulwark::inspect
