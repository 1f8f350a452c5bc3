#include "inspect/ssh_keys.h"

#include <cstdint>
#include <cstring>
#include <set>

#include "base/base64.h"
#include "base/hash.h"

namespace bulwark::inspect {

namespace {

constexpr std::string_view k_key_types[]
    = { "ssh-rsa", "ssh-dss", "ssh-ed25519", "ssh-ed448", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
          "sk-ecdsa-sha2-nistp256@openssh.com", "sk-ssh-ed25519@openssh.com", "ssh-rsa-cert-v01@openssh.com",
          "ssh-dss-cert-v01@openssh.com", "ssh-ed25519-cert-v01@openssh.com", "ecdsa-sha2-nistp256-cert-v01@openssh.com",
          "ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-sha2-nistp521-cert-v01@openssh.com",
          "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", "sk-ssh-ed25519-cert-v01@openssh.com" };

bool known_key_type(std::string_view t)
{
    for (auto k : k_key_types) {
        if (t == k)
            return true;
    }
    return false;
}

// Reads RFC 4251 data types with bounds checks.
class SshReader {
public:
    explicit SshReader(std::string_view data)
        : m_data(data)
    {
    }

    bool u32(uint32_t& v)
    {
        if (m_data.size() - m_pos < 4)
            return false;
        v = 0;
        for (int i = 0; i < 4; ++i)
            v = (v << 8) | static_cast<uint8_t>(m_data[m_pos++]);
        return true;
    }
    bool string(std::string_view& s, size_t max = k_max_key_blob)
    {
        uint32_t len = 0;
        if (!u32(len) || len > max || len > m_data.size() - m_pos)
            return false;
        s = m_data.substr(m_pos, len);
        m_pos += len;
        return true;
    }
    bool bytes(size_t n, std::string_view& s)
    {
        if (n > m_data.size() - m_pos)
            return false;
        s = m_data.substr(m_pos, n);
        m_pos += n;
        return true;
    }

private:
    std::string_view m_data;
    size_t m_pos = 0;
};

// Bits of a big-endian unsigned integer (an mpint without its sign byte).
unsigned mpint_bits(std::string_view m)
{
    size_t i = 0;
    while (i < m.size() && m[i] == 0)
        ++i;
    if (i == m.size())
        return 0;
    unsigned top = static_cast<uint8_t>(m[i]);
    unsigned bits = 0;
    while (top) {
        ++bits;
        top >>= 1;
    }
    return static_cast<unsigned>((m.size() - i - 1) * 8) + bits;
}

std::string base64_unpadded(const std::string& bytes)
{
    std::string s = base64_encode(bytes);
    while (!s.empty() && s.back() == '=')
        s.pop_back();
    return s;
}

// Splits a line at blanks into at most 3 parts: first, second, and the rest.
std::vector<std::string_view> fields3(std::string_view s)
{
    std::vector<std::string_view> out;
    s = trim(s);
    while (!s.empty() && out.size() < 2) {
        size_t end = 0;
        while (end < s.size() && !is_blank(s[end]))
            ++end;
        out.push_back(s.substr(0, end));
        s = trim_left(s.substr(end));
    }
    if (!s.empty())
        out.push_back(s);
    return out;
}

Result<SshPublicKey> key_from_fields(std::string_view type, std::string_view b64, std::string_view comment)
{
    if (!known_key_type(type))
        return Error(ErrorKind::Corrupt, "unknown SSH key type '" + display_text(type, 64) + "'");
    if (b64.size() > k_max_key_blob * 4 / 3 + 4)
        return Error(ErrorKind::Corrupt, "SSH key blob is too large");
    auto blob = base64_decode(std::string(b64));
    if (!blob)
        return Error(ErrorKind::Corrupt, "SSH key blob is not valid base64");
    auto key = parse_public_key_blob(*blob);
    if (key.is_error())
        return key;
    if (key.value().type != type)
        return Error(ErrorKind::Corrupt,
            "SSH key line says '" + display_text(type, 64) + "' but its blob is '" + display_text(key.value().type, 64) + "'");
    key.value().comment = std::string(trim(comment));
    return key;
}

// Skips the options at the start of an authorized_keys line, as sshd's
// sshkey_advance_past_options does: up to the first blank outside double quotes.
size_t options_end(std::string_view s, bool& ok)
{
    bool quoted = false;
    size_t i = 0;
    for (; i < s.size(); ++i) {
        char c = s[i];
        if (!quoted && is_blank(c))
            break;
        if (c == '\\' && quoted && i + 1 < s.size() && s[i + 1] == '"') {
            ++i;
            continue;
        }
        if (c == '"')
            quoted = !quoted;
    }
    ok = !quoted;
    return i;
}

std::vector<std::pair<std::string, std::string>> split_options(std::string_view s, bool& ok)
{
    std::vector<std::pair<std::string, std::string>> out;
    size_t i = 0;
    ok = true;
    while (i < s.size()) {
        size_t start = i;
        while (i < s.size() && s[i] != ',' && s[i] != '=')
            ++i;
        std::string name = to_lower(s.substr(start, i - start));
        std::string value;
        if (i < s.size() && s[i] == '=') {
            ++i;
            if (i >= s.size() || s[i] != '"') {
                ok = false;
                return out;
            }
            ++i;
            bool closed = false;
            while (i < s.size()) {
                if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '"') {
                    value.push_back('"');
                    i += 2;
                    continue;
                }
                if (s[i] == '"') {
                    closed = true;
                    ++i;
                    break;
                }
                value.push_back(s[i++]);
            }
            if (!closed) {
                ok = false;
                return out;
            }
        }
        if (name.empty() || out.size() >= 64) {
            ok = false;
            return out;
        }
        out.emplace_back(std::move(name), std::move(value));
        if (i < s.size()) {
            if (s[i] != ',') {
                ok = false;
                return out;
            }
            ++i;
        }
    }
    return out;
}

} // namespace

std::string ssh_fingerprint(std::string_view blob)
{
    Digest d = Sha256::of(std::string(blob));
    return "SHA256:" + base64_unpadded(std::string(d.begin(), d.end()));
}

Result<SshPublicKey> parse_public_key_blob(std::string_view blob)
{
    if (blob.size() > k_max_key_blob)
        return Error(ErrorKind::Corrupt, "SSH key blob is too large");
    SshReader r(blob);
    std::string_view type;
    if (!r.string(type, 128) || !known_key_type(type))
        return Error(ErrorKind::Corrupt, "SSH key blob does not start with a known key type");
    SshPublicKey key;
    key.type = std::string(type);
    key.blob = std::string(blob);
    key.fingerprint = ssh_fingerprint(blob);
    std::string_view base = type;
    size_t cert = base.find("-cert-v01@openssh.com");
    if (cert != std::string_view::npos) {
        key.certificate = true;
        base = base.substr(0, cert);
        std::string_view nonce;
        if (!r.string(nonce))
            return Error(ErrorKind::Corrupt, "SSH certificate blob is truncated");
    }
    auto truncated = [&]() { return Error(ErrorKind::Corrupt, "SSH " + key.type + " key blob is truncated or malformed"); };
    // The type-specific fields must all be there, as sshd checks before accepting a key.
    std::string_view a, b, c, d;
    if (base == "ssh-rsa") {
        if (!r.string(a) || !r.string(b)) // e, n
            return truncated();
        key.bits = mpint_bits(b);
    } else if (base == "ssh-dss") {
        if (!r.string(a) || !r.string(b) || !r.string(c) || !r.string(d)) // p, q, g, y
            return truncated();
        key.bits = mpint_bits(a);
    } else if (base.find("ecdsa-sha2-nistp") != std::string_view::npos) {
        if (!r.string(a, 64) || !r.string(b)) // curve name, point
            return truncated();
        std::string_view curve = base.substr(base.find("nistp"), 8);
        if (a != curve)
            return Error(ErrorKind::Corrupt, "SSH " + key.type + " key blob names another curve");
        key.bits = curve == "nistp256" ? 256 : curve == "nistp384" ? 384 : 521;
        if (base.rfind("sk-", 0) == 0 && !r.string(c)) // application
            return truncated();
    } else if (base.find("ed25519") != std::string_view::npos) {
        if (!r.string(a) || a.size() != 32)
            return truncated();
        key.bits = 256;
        if (base.rfind("sk-", 0) == 0 && !r.string(c))
            return truncated();
    } else if (base == "ssh-ed448") {
        if (!r.string(a) || a.size() != 57)
            return truncated();
        key.bits = 456;
    }
    return key;
}

Result<SshPublicKey> parse_public_key_line(std::string_view line)
{
    auto f = fields3(line);
    if (f.size() < 2)
        return Error(ErrorKind::Corrupt, "not an SSH public key line (type, base64 blob, comment)");
    return key_from_fields(f[0], f[1], f.size() > 2 ? f[2] : std::string_view {});
}

Result<SshPublicKey> parse_public_key_file(std::string_view text)
{
    Diagnostics diag;
    LineReader reader(text, k_authorized_keys_limits, diag);
    std::string_view line;
    while (reader.next(line)) {
        std::string_view s = trim(line);
        if (s.empty() || s[0] == '#')
            continue;
        return parse_public_key_line(s);
    }
    return Error(ErrorKind::Corrupt, "no public key in the file");
}

AuthorizedKeys parse_authorized_keys(std::string_view text)
{
    AuthorizedKeys out;
    LineReader reader(text, k_authorized_keys_limits, out.diagnostics);
    std::string_view line;
    while (reader.next(line)) {
        size_t n = reader.line_number();
        std::string_view s = trim(line);
        if (s.empty() || s[0] == '#')
            continue;
        AuthorizedKey entry;
        entry.line = n;
        auto f = fields3(s);
        if (f.empty() || !known_key_type(f[0])) {
            bool ok = true;
            size_t end = options_end(s, ok);
            if (!ok) {
                out.diagnostics.warn({}, n, "unterminated quote in the key options; skipped");
                continue;
            }
            entry.options = split_options(s.substr(0, end), ok);
            if (!ok) {
                out.diagnostics.warn({}, n, "malformed key options; skipped");
                continue;
            }
            f = fields3(s.substr(end));
        }
        if (f.size() < 2) {
            out.diagnostics.warn({}, n, "not a key line (options, type, base64 blob, comment); skipped");
            continue;
        }
        auto key = key_from_fields(f[0], f[1], f.size() > 2 ? f[2] : std::string_view {});
        if (key.is_error()) {
            out.diagnostics.warn({}, n, key.error().message() + "; skipped");
            continue;
        }
        if (out.keys.size() >= k_max_authorized_keys) {
            out.diagnostics.truncate(
                {}, n, "more than " + std::to_string(k_max_authorized_keys) + " keys; the rest were ignored");
            break;
        }
        entry.key = key.release_value();
        out.keys.push_back(std::move(entry));
    }
    return out;
}

Result<OpenSshPrivateKeyInfo> parse_openssh_private_key(std::string_view text)
{
    static constexpr std::string_view begin = "-----BEGIN OPENSSH PRIVATE KEY-----";
    static constexpr std::string_view end = "-----END OPENSSH PRIVATE KEY-----";
    static constexpr size_t max_armoured = 64 * 1024;
    auto corrupt = [](const std::string& why) { return Error(ErrorKind::Corrupt, "OpenSSH private key " + why); };
    size_t b = text.find(begin);
    if (b == std::string_view::npos)
        return corrupt("has no BEGIN line");
    text = text.substr(b + begin.size());
    if (text.size() > max_armoured)
        text = text.substr(0, max_armoured);
    size_t e = text.find(end);
    if (e == std::string_view::npos)
        return corrupt("has no END line (or is over 64 KiB)");
    std::string b64;
    for (char c : text.substr(0, e)) {
        if (!is_space(c))
            b64.push_back(c);
    }
    auto raw = base64_decode(b64);
    if (!raw)
        return corrupt("is not valid base64");
    static constexpr std::string_view magic("openssh-key-v1\0", 15);
    if (std::string_view(*raw).substr(0, magic.size()) != magic)
        return corrupt("does not start with openssh-key-v1");
    SshReader r(std::string_view(*raw).substr(magic.size()));
    std::string_view cipher, kdf, kdf_options;
    uint32_t count = 0;
    if (!r.string(cipher, 64) || !r.string(kdf, 64) || !r.string(kdf_options, 1024) || !r.u32(count))
        return corrupt("header is truncated");
    if (count == 0 || count > 16)
        return corrupt("claims " + std::to_string(count) + " keys (1 to 16 accepted)");
    OpenSshPrivateKeyInfo info;
    info.cipher = display_text(cipher, 64);
    info.kdf = display_text(kdf, 64);
    for (uint32_t i = 0; i < count; ++i) {
        std::string_view blob;
        if (!r.string(blob))
            return corrupt("public key " + std::to_string(i + 1) + " is truncated");
        auto key = parse_public_key_blob(blob);
        if (key.is_error())
            return key.release_error();
        info.public_keys.push_back(key.release_value());
    }
    return info;
}

std::vector<Finding> check_authorized_keys(const AuthorizedKeys& keys, const std::string& path, const std::string& user)
{
    std::vector<Finding> out;
    std::set<std::string> seen;
    for (const auto& k : keys.keys) {
        if (!seen.insert(k.key.fingerprint).second)
            continue; // the same key listed again: one finding, at its first line
        std::string subject = user + ":" + k.key.fingerprint;
        std::string options;
        for (const auto& [name, value] : k.options)
            options += (options.empty() ? "" : ",") + name + (value.empty() ? "" : "=\"" + value + "\"");
        Finding f = make_finding("ssh.authorized-key", subject, Severity::Info, path,
            "key " + k.key.fingerprint + " (" + k.key.type + (k.key.bits ? " " + std::to_string(k.key.bits) : "") + ", comment '"
                + display_text(k.key.comment, 64) + "'" + (options.empty() ? "" : ", options " + display_text(options, 128))
                + ") may log in as '" + display_text(user, 64) + "'");
        f.line = k.line;
        out.push_back(std::move(f));
        bool dsa = k.key.type.rfind("ssh-dss", 0) == 0;
        bool short_rsa = k.key.type.rfind("ssh-rsa", 0) == 0 && k.key.bits < 2048;
        if (dsa || short_rsa) {
            Finding w = make_finding("ssh.weak-key", subject, Severity::Medium, path,
                "key " + k.key.fingerprint + " is "
                    + (dsa ? "a DSA key (deprecated, 1024 bits)" : "an RSA key of only " + std::to_string(k.key.bits) + " bits"));
            w.line = k.line;
            out.push_back(std::move(w));
        }
    }
    return out;
}

} // namespace bulwark::inspect
