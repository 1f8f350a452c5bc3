// Secrets left in an image: private keys, cloud and SaaS tokens, passwords in configuration
// files and shell history.
//
// The scanner is hand-written, not regex-based: one pass over the bytes looks for cheap
// literal anchors ("-----BEGIN ", "AKIA", "ghp_", "xox", "://", ...) through a bitmap of
// two of their bytes (behind a vector prefilter on x86-64 that skips 16 bytes a step where
// no anchor can start), and each anchor hit is validated by a small bounded check around it.
// Per-line rules (generic assignments, history, .netrc, .pgpass, docker auths) run only on
// the files whose path calls for them. Every check reads a bounded window, so the work is
// linear in the input, with no backtracking.
//
// Redaction: a finding never contains a secret. The excerpt (at most k_max_excerpt bytes) is
// a short non-secret label (the key name, the command, the PEM header, the URL host) and at
// most the first 4 characters of the secret (2 for secrets under 20 characters, none under
// 12; a token's fixed public prefix such as "ghp_" or "xoxb-" may be shown whole), then
// "****". Ids are "secret.<rule>:<path>", with "#<n>" for the n-th finding of the same rule in
// the same file.
//
// Limits: the first 64 MiB of a file are scanned (a "secret.scan-incomplete" finding says
// when more was skipped); at most 100 findings a file and 20 per rule; lines over 64 KiB are
// skipped by the per-line rules.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "inspect/finding.h"

namespace bulwark::inspect {

inline constexpr size_t k_secret_scan_max_bytes = 64u << 20;
inline constexpr size_t k_max_secret_findings = 100;
inline constexpr size_t k_max_secret_findings_per_rule = 20;

struct SecretRule {
    std::string_view id; // the finding kind is "secret." + id
    Severity severity;
    std::string_view description;
};

// Every rule scan_content() can report, for documentation and tests.
std::span<const SecretRule> secret_rules();

// Which per-file rules apply, by path.
enum class SecretFileClass {
    Other, // token rules only
    History, // shell and database client history: passwords on command lines
    Netrc, // .netrc / _netrc
    Pgpass, // .pgpass
    GitCredentials, // .git-credentials (URL credentials)
    DockerConfig, // .docker/config.json, containers/auth.json
    EnvFile, // .env, .env.*, *.env
    Config, // configuration files and dotfiles in home directories
    PrivateKey, // id_rsa, *.pem, *.key, ssh_host_*_key, ...
};

SecretFileClass classify_secret_path(std::string_view path);

// Whether a file is worth reading for secrets: sensitive names anywhere, configuration files
// in system and home directories; never documentation, locales or virtual file systems.
bool interesting_path(std::string_view path);

// Scans one file's bytes. path is the file's path in the image; it decides which rules apply
// and names the findings.
std::vector<Finding> scan_content(std::string_view path, std::string_view bytes);

// A command line (a cron job, a unit's ExecStart) with every secret that the history and
// token rules find in it replaced by "****", for showing it in a finding. Secrets written
// with shell escapes may not be found verbatim and then stay; lines are cut at 64 KiB.
std::string redact_secrets_in_line(std::string_view line);

// Shannon entropy in bits per byte.
double shannon_entropy(std::string_view s);
// Whether a value is a placeholder, not a secret: "changeme", "${VAR}", "xxxx", "<password>",
// "example", "dummy", ...
bool is_placeholder_secret(std::string_view value);

} // namespace bulwark::inspect
