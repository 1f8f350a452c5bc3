// The account databases of an image: /etc/passwd, /etc/shadow, /etc/group, /etc/gshadow.
//
// Formats (passwd(5), shadow(5), group(5), gshadow(5)): one entry a line, fields separated by
// ':' with no escaping.
//   passwd   name:password:uid:gid:gecos:home:shell              (7 fields)
//   shadow   name:hash:lastchg:min:max:warn:inactive:expire:reserved  (9; 8 accepted)
//   group    name:password:gid:member,member,...                 (4)
//   gshadow  name:password:admin,admin,...:member,member,...     (4)
// As glibc's nss_files does, leading blanks are ignored and empty lines and lines starting
// with '#' are skipped. NIS compat lines ('+' or '-' first) are skipped with a warning: they
// only mean something with "compat" in nsswitch.conf. A line with the wrong number of
// fields, an empty name or a non-numeric id is skipped with a warning. shadow day counts are
// days since 1970-01-01; an empty (or negative) count is "not set".
//
// Limits: 16 MiB of input, 1 M lines, 64 KiB a line, 200 000 entries, 10 000 members a group.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inspect/parse.h"

namespace bulwark::inspect {

inline constexpr LineLimits k_account_file_limits { 16u << 20, 1u << 20, 64 * 1024 };
inline constexpr size_t k_max_account_entries = 200000;
inline constexpr size_t k_max_group_members = 10000;

struct PasswdEntry {
    std::string name;
    std::string password; // "x" when the hash is in shadow
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::string gecos;
    std::string home;
    std::string shell; // empty means /bin/sh
    size_t line = 0;
};

struct ShadowEntry {
    std::string name;
    std::string hash;
    std::optional<int64_t> last_change; // days since the epoch; 0: change at next login
    std::optional<int64_t> min_age;
    std::optional<int64_t> max_age;
    std::optional<int64_t> warn_period;
    std::optional<int64_t> inactivity;
    std::optional<int64_t> expire; // the account expires on this day
    size_t line = 0;
};

struct GroupEntry {
    std::string name;
    std::string password;
    uint32_t gid = 0;
    std::vector<std::string> members;
    size_t line = 0;
};

struct GshadowEntry {
    std::string name;
    std::string password;
    std::vector<std::string> admins;
    std::vector<std::string> members;
    size_t line = 0;
};

struct PasswdFile {
    std::vector<PasswdEntry> entries;
    Diagnostics diagnostics;
};
struct ShadowFile {
    std::vector<ShadowEntry> entries;
    Diagnostics diagnostics;
};
struct GroupFile {
    std::vector<GroupEntry> entries;
    Diagnostics diagnostics;
};
struct GshadowFile {
    std::vector<GshadowEntry> entries;
    Diagnostics diagnostics;
};

PasswdFile parse_passwd(std::string_view text);
ShadowFile parse_shadow(std::string_view text);
GroupFile parse_group(std::string_view text);
GshadowFile parse_gshadow(std::string_view text);

// What crypt(3) scheme a password hash field uses.
enum class HashScheme {
    Empty, // "": no password at all
    Locked, // starts with '!' or '*': no password login ("!" + hash is a locked password)
    Des, // 13 characters of [./0-9A-Za-z]: traditional DES crypt
    BsdiDes, // "_" + 19 characters: BSDi extended DES
    Md5, // $1$
    NtHash, // $3$
    SunMd5, // $md5
    Bcrypt, // $2a$ $2b$ $2x$ $2y$
    Sha256, // $5$
    Sha512, // $6$
    Scrypt, // $7$
    Yescrypt, // $y$
    GostYescrypt, // $gy$
    Unknown,
};

HashScheme classify_hash(std::string_view hash);
const char* hash_scheme_name(HashScheme scheme);
// DES, BSDi DES, MD5, NT hash and Sun MD5 are cheap to crack; the rest are acceptable.
bool hash_scheme_is_weak(HashScheme scheme);

// False for the shells that refuse a login (nologin, false) and the special-purpose ones
// (sync, shutdown, halt); an empty shell is /bin/sh, a login shell.
bool is_login_shell(std::string_view shell);

} // namespace bulwark::inspect
