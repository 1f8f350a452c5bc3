// SSH public keys: authorized_keys files, *.pub files, and the public half of an OpenSSH
// private key, with their OpenSSH SHA-256 fingerprints.
//
// authorized_keys (sshd(8), AUTHORIZED_KEYS FILE FORMAT): one key a line,
//   [options] keytype base64-blob [comment]
// options are comma-separated, name or name="value" (a '\"' inside quotes is a quote), with
// no unquoted blanks. '#' lines and blank lines are ignored. A line whose blob does not decode,
// or whose blob names a different key type than the line, is skipped with a warning (sshd
// would not accept it either).
//
// Key blob (RFC 4253 §6.6): string type, then type-specific fields (mpint e, n for RSA;
// p, q, g, y for DSA; string curve, string point for ECDSA; string key for Ed25519);
// certificates (*-cert-v01@openssh.com) have a nonce string after the type.
//
// openssh-key-v1 (OpenSSH PROTOCOL.key): PEM armour "-----BEGIN OPENSSH PRIVATE KEY-----"
// around base64 of: "openssh-key-v1\0", string ciphername, string kdfname, string
// kdfoptions, uint32 N, N x string public key, string private section (encrypted unless the
// cipher is "none"). Only the clear part is read.
//
// Fingerprint: "SHA256:" + unpadded base64 of SHA-256 over the blob, as ssh-keygen -l shows.
// Limits: 1 MiB of authorized_keys, 10 000 keys, 16 KiB a line and a blob, 64 KiB of armoured
// private key, 16 keys in one private key file.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "inspect/finding.h"
#include "inspect/parse.h"

namespace bulwark::inspect {

inline constexpr LineLimits k_authorized_keys_limits { 1u << 20, 100000, 16 * 1024 };
inline constexpr size_t k_max_authorized_keys = 10000;
inline constexpr size_t k_max_key_blob = 16 * 1024;

struct SshPublicKey {
    std::string type; // e.g. "ssh-ed25519", "ssh-rsa-cert-v01@openssh.com"
    std::string blob; // the decoded key blob
    std::string comment;
    std::string fingerprint; // "SHA256:..."
    unsigned bits = 0; // modulus or curve size; 0 when unknown
    bool certificate = false;
};

struct AuthorizedKey {
    SshPublicKey key;
    std::vector<std::pair<std::string, std::string>> options; // name, value ("" when none)
    size_t line = 0;
};

struct AuthorizedKeys {
    std::vector<AuthorizedKey> keys;
    Diagnostics diagnostics;
};

AuthorizedKeys parse_authorized_keys(std::string_view text);

// One "type base64 [comment]" line, as in a *.pub file.
Result<SshPublicKey> parse_public_key_line(std::string_view line);
// A *.pub file: its first line that is not blank or a comment.
Result<SshPublicKey> parse_public_key_file(std::string_view text);
// Decodes a key blob: type, bits, fingerprint.
Result<SshPublicKey> parse_public_key_blob(std::string_view blob);

std::string ssh_fingerprint(std::string_view blob);

struct OpenSshPrivateKeyInfo {
    std::string cipher; // "none" when not encrypted
    std::string kdf;
    std::vector<SshPublicKey> public_keys;
    bool encrypted() const { return cipher != "none"; }
};

// Reads the armoured openssh-key-v1 text (anything before the BEGIN line is ignored).
Result<OpenSshPrivateKeyInfo> parse_openssh_private_key(std::string_view text);

// Inventory and weak keys in one authorized_keys file:
//   ssh.authorized-key:<user>:<fingerprint>   info    every key, with its options
//   ssh.weak-key:<user>:<fingerprint>         medium  DSA, or RSA under 2048 bits
std::vector<Finding> check_authorized_keys(const AuthorizedKeys& keys, const std::string& path, const std::string& user);

} // namespace bulwark::inspect
