#include "inspect/secrets.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <set>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "base/base64.h"
#include "inspect/parse.h"
#include "inspect/ssh_keys.h"

namespace bulwark::inspect {

namespace {

enum Rule : size_t {
    PemPrivateKey,
    AwsAccessKeyId,
    AwsSecretAccessKey,
    GcpServiceAccountKey,
    AzureStorageKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    StripeSecretKey,
    UrlCredentials,
    GenericAssignment,
    HistoryPassword,
    NetrcPassword,
    PgpassPassword,
    DockerRegistryAuth,
    RuleCount,
};

constexpr std::array<SecretRule, RuleCount> k_rules = { {
    { "pem-private-key", Severity::Critical, "a PEM private key (RSA, EC, DSA, OPENSSH, PKCS#8, PGP); medium when encrypted" },
    { "aws-access-key-id", Severity::High, "an AWS access key id (AKIA..., ASIA...)" },
    { "aws-secret-access-key", Severity::Critical, "an AWS secret access key, named as such or next to an access key id" },
    { "gcp-service-account-key", Severity::Critical, "a Google Cloud service account key (JSON with a private_key)" },
    { "azure-storage-key", Severity::Critical, "an Azure storage account key (AccountKey= in a connection string)" },
    { "github-token", Severity::High, "a GitHub token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)" },
    { "gitlab-token", Severity::High, "a GitLab personal access token (glpat-)" },
    { "slack-token", Severity::High, "a Slack token (xoxa-, xoxb-, xoxp-, xoxr-, xoxs-)" },
    { "stripe-secret-key", Severity::Critical, "a Stripe live secret or restricted key (sk_live_, rk_live_)" },
    { "url-credentials", Severity::High, "a password in a URL (scheme://user:password@host), e.g. in .git-credentials" },
    { "generic-assignment", Severity::High, "a password, secret, token or API key assigned in a configuration or .env file" },
    { "history-password", Severity::High, "a password on a command line in shell or database client history" },
    { "netrc-password", Severity::High, "a password in a .netrc file" },
    { "pgpass-password", Severity::High, "a password in a .pgpass file" },
    { "docker-registry-auth", Severity::High, "registry credentials in a Docker or Podman auth file" },
} };

constexpr size_t k_max_line = 64 * 1024;

bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_upper_or_digit(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_b64(char c)
{
    return is_alnum(c) || c == '+' || c == '/';
}
bool is_word(char c)
{
    return is_alnum(c) || c == '_';
}
bool is_token(char c)
{
    return is_alnum(c) || c == '_' || c == '-';
}

std::string_view basename_of(std::string_view path)
{
    size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool ends_with(std::string_view s, std::string_view suffix)
{
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool starts_with(std::string_view s, std::string_view prefix)
{
    return s.substr(0, prefix.size()) == prefix;
}

// Length of the run of characters accepted by pred starting at pos, up to max.
template <typename Pred> size_t run_length(std::string_view s, size_t pos, size_t max, Pred pred)
{
    size_t k = pos;
    while (k < s.size() && k - pos < max && pred(s[k]))
        ++k;
    return k - pos;
}

// Line numbers for offsets, counted incrementally (offsets mostly grow).
class LineCounter {
public:
    explicit LineCounter(std::string_view text)
        : m_text(text)
    {
    }
    size_t line_of(size_t offset)
    {
        offset = std::min(offset, m_text.size());
        const char* d = m_text.data();
        if (offset >= m_pos)
            m_line += static_cast<size_t>(std::count(d + m_pos, d + offset, '\n'));
        else
            m_line -= static_cast<size_t>(std::count(d + offset, d + m_pos, '\n'));
        m_pos = offset;
        return m_line;
    }

private:
    std::string_view m_text;
    size_t m_pos = 0;
    size_t m_line = 1;
};

// Literal anchors of the token rules. The scan looks each up by two of its bytes, the key at
// key_offset, chosen to be rare in ordinary text ("-B" in "-----BEGIN ", "tA" in
// "SecretAccessKey") so that few positions need a closer look.
enum class Anchor {
    Pem,
    AwsKeyId,
    AwsSecretName,
    GcpPrivateKey,
    GcpServiceAccount,
    Azure,
    GithubClassic,
    GithubPat,
    Gitlab,
    Slack,
    Stripe,
    Url
};
struct AnchorLiteral {
    std::string_view literal;
    Anchor kind;
    size_t key_offset;
};
constexpr AnchorLiteral k_anchors[] = {
    { "-----BEGIN ", Anchor::Pem, 4 },
    { "AKIA", Anchor::AwsKeyId, 0 },
    { "ASIA", Anchor::AwsKeyId, 0 },
    { "aws_secret_access_key", Anchor::AwsSecretName, 0 },
    { "AWS_SECRET_ACCESS_KEY", Anchor::AwsSecretName, 0 },
    { "SecretAccessKey", Anchor::AwsSecretName, 5 },
    { "secretAccessKey", Anchor::AwsSecretName, 5 },
    { "\"private_key\"", Anchor::GcpPrivateKey, 0 },
    { "\"service_account\"", Anchor::GcpServiceAccount, 0 },
    { "AccountKey=", Anchor::Azure, 6 },
    { "gh", Anchor::GithubClassic, 0 }, // ghp_ gho_ ghu_ ghs_ ghr_, checked by the handler
    { "github_pat_", Anchor::GithubPat, 5 },
    { "glpat-", Anchor::Gitlab, 1 },
    { "xox", Anchor::Slack, 0 },
    { "sk_live_", Anchor::Stripe, 2 },
    { "rk_live_", Anchor::Stripe, 2 },
    { "://", Anchor::Url, 0 },
};
constexpr size_t k_anchor_count = std::size(k_anchors);

uint16_t bigram(const char* p)
{
    return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) | (static_cast<uint8_t>(p[1]) << 8));
}

struct AnchorTable {
    std::array<uint64_t, 1024> bits {}; // one bit per key bigram
    std::array<uint8_t, 65536> head {}; // key bigram -> 1 + first anchor with it (0: none)
    std::array<uint8_t, k_anchor_count> next {}; // 1 + next anchor with the same key (0: none)
    AnchorTable()
    {
        for (size_t a = k_anchor_count; a-- > 0;) {
            uint16_t b = bigram(k_anchors[a].literal.data() + k_anchors[a].key_offset);
            bits[b >> 6] |= 1ULL << (b & 63);
            next[a] = head[b];
            head[b] = static_cast<uint8_t>(a + 1);
        }
    }
    bool hit(uint16_t b) const { return (bits[b >> 6] >> (b & 63)) & 1; }
};

const AnchorTable& anchor_table()
{
    static const AnchorTable table;
    return table;
}

// The next position from `from` on whose bigram is a key, byte by byte; n if none.
size_t next_key_scalar(const AnchorTable& table, const char* p, size_t n, size_t from)
{
    for (size_t i = from; i + 1 < n; ++i) {
        if (table.hit(bigram(p + i)))
            return i;
    }
    return n;
}

#if defined(__x86_64__)
// A vector prefilter for the key bigrams, 16 positions at a time (the "Teddy" idea of
// Hyperscan): every key belongs to one of 8 buckets (a bit), and four 16-entry tables give,
// for each nibble of a position's first and second byte, the buckets that nibble could start.
// A position where the four lookups share a bucket may hold a key and goes to the exact
// bitmap check; every other position cannot. Each key sets its bucket in all four tables, so
// no key is ever skipped: what is found is what the byte-at-a-time loop finds, only faster
// (most of a file is skipped 16 bytes per step).
struct KeyFilter {
    alignas(16) uint8_t lo0[16] {};
    alignas(16) uint8_t hi0[16] {};
    alignas(16) uint8_t lo1[16] {};
    alignas(16) uint8_t hi1[16] {};
    KeyFilter()
    {
        // Keys with the same first byte share a bucket; the rest are dealt round the 8.
        std::array<int, 256> bucket_of_first;
        bucket_of_first.fill(-1);
        int next = 0;
        for (const auto& a : k_anchors) {
            auto b0 = static_cast<uint8_t>(a.literal[a.key_offset]);
            auto b1 = static_cast<uint8_t>(a.literal[a.key_offset + 1]);
            if (bucket_of_first[b0] < 0)
                bucket_of_first[b0] = next++ % 8;
            auto bit = static_cast<uint8_t>(1u << bucket_of_first[b0]);
            lo0[b0 & 15] |= bit;
            hi0[b0 >> 4] |= bit;
            lo1[b1 & 15] |= bit;
            hi1[b1 >> 4] |= bit;
        }
    }
};

__attribute__((target("ssse3"))) size_t next_key_ssse3(const AnchorTable& table, const char* p, size_t n, size_t from)
{
    static const KeyFilter filter;
    const __m128i lo0 = _mm_load_si128(reinterpret_cast<const __m128i*>(filter.lo0));
    const __m128i hi0 = _mm_load_si128(reinterpret_cast<const __m128i*>(filter.hi0));
    const __m128i lo1 = _mm_load_si128(reinterpret_cast<const __m128i*>(filter.lo1));
    const __m128i hi1 = _mm_load_si128(reinterpret_cast<const __m128i*>(filter.hi1));
    const __m128i nibble = _mm_set1_epi8(0x0f);
    const __m128i zero = _mm_setzero_si128();
    size_t i = from;
    // Positions i..i+15 need bytes up to i+16.
    while (i + 17 <= n) {
        __m128i first = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
        __m128i second = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 1));
        __m128i m = _mm_and_si128(_mm_shuffle_epi8(lo0, _mm_and_si128(first, nibble)),
            _mm_shuffle_epi8(hi0, _mm_and_si128(_mm_srli_epi16(first, 4), nibble)));
        m = _mm_and_si128(m, _mm_shuffle_epi8(lo1, _mm_and_si128(second, nibble)));
        m = _mm_and_si128(m, _mm_shuffle_epi8(hi1, _mm_and_si128(_mm_srli_epi16(second, 4), nibble)));
        auto candidates = static_cast<unsigned>(~_mm_movemask_epi8(_mm_cmpeq_epi8(m, zero)) & 0xffff);
        while (candidates) {
            size_t at = i + static_cast<size_t>(__builtin_ctz(candidates));
            if (table.hit(bigram(p + at)))
                return at;
            candidates &= candidates - 1;
        }
        i += 16;
    }
    return next_key_scalar(table, p, n, i);
}
#endif

// The next position from `from` on whose bigram is the key of an anchor; n if none.
size_t next_key(const AnchorTable& table, const char* p, size_t n, size_t from)
{
#if defined(__x86_64__)
    static const bool ssse3 = __builtin_cpu_supports("ssse3");
    if (ssse3)
        return next_key_ssse3(table, p, n, from);
#endif
    return next_key_scalar(table, p, n, from);
}

// Shell-like words of one history line; separators (; | &) are words of their own.
struct Word {
    std::string text;
    bool separator = false;
};

std::vector<Word> shell_words(std::string_view s)
{
    std::vector<Word> out;
    size_t i = 0;
    while (i < s.size() && out.size() < 512) {
        while (i < s.size() && is_space(s[i]))
            ++i;
        if (i >= s.size() || s[i] == '#')
            break;
        if (s[i] == ';' || s[i] == '|' || s[i] == '&') {
            size_t j = i;
            while (j < s.size() && (s[j] == ';' || s[j] == '|' || s[j] == '&'))
                ++j;
            out.push_back(Word { std::string(s.substr(i, j - i)), true });
            i = j;
            continue;
        }
        Word w;
        while (i < s.size() && !is_space(s[i]) && s[i] != ';' && s[i] != '|' && s[i] != '&') {
            char c = s[i];
            if (c == '\\' && i + 1 < s.size()) {
                w.text.push_back(s[i + 1]);
                i += 2;
            } else if (c == '\'' || c == '"') {
                size_t end = s.find(c, i + 1);
                if (end == std::string_view::npos)
                    end = s.size();
                w.text.append(s.substr(i + 1, end - i - 1));
                i = std::min(s.size(), end + 1);
            } else {
                w.text.push_back(c);
                ++i;
            }
        }
        out.push_back(std::move(w));
    }
    return out;
}

bool sensitive_key(std::string_view key)
{
    static constexpr std::string_view keywords[] = { "password", "passwd", "passphrase", "pwd", "secret", "token", "apikey",
        "api_key", "api-key", "access_key", "accesskey", "auth_key", "authkey", "private_key", "credential" };
    // Words that make the key about the secret rather than the secret itself.
    static constexpr std::string_view excluded[] = { "file", "path", "dir", "url", "uri", "name", "type", "len", "length", "ttl",
        "timeout", "expiry", "expires", "expiration", "lifetime", "size", "policy", "enable", "enabled", "require", "required",
        "algorithm", "header", "prefix", "min", "max", "count", "command", "cmd", "helper", "script", "format", "hash",
        "endpoint", "field", "mode", "rotation", "length" };
    if (key.empty() || key.size() > 64)
        return false;
    std::string k = to_lower(key);
    bool hit = false;
    for (auto w : keywords)
        hit = hit || k.find(w) != std::string::npos;
    if (!hit || ends_with(k, "key_id"))
        return false;
    size_t start = 0;
    while (start < k.size()) {
        size_t end = start;
        while (end < k.size() && is_alnum(k[end]))
            ++end;
        std::string_view word = std::string_view(k).substr(start, end - start);
        for (auto x : excluded) {
            if (word == x)
                return false;
        }
        start = end + 1;
    }
    return true;
}

} // namespace

std::span<const SecretRule> secret_rules()
{
    return k_rules;
}

double shannon_entropy(std::string_view s)
{
    if (s.empty())
        return 0;
    std::array<uint32_t, 256> counts {};
    for (unsigned char c : s)
        ++counts[c];
    double h = 0;
    double n = static_cast<double>(s.size());
    for (uint32_t c : counts) {
        if (c) {
            double p = c / n;
            h -= p * std::log2(p);
        }
    }
    return h;
}

bool is_placeholder_secret(std::string_view value)
{
    static constexpr std::string_view contains[] = { "changeme", "change_me", "change-me", "changeit", "example", "xxxx", "****",
        "....", "placeholder", "your_", "your-", "yourpass", "${", "$(", "{{", "}}", "%(", "<%", "dummy", "sample", "redacted",
        "_here", "-here", "insert", "replace", "todo", "fixme", "notset", "not_set", "secret_key_base_dummy" };
    static constexpr std::string_view exact[]
        = { "password", "passwd", "pass", "secret", "token", "true", "false", "yes", "no", "on", "off", "null", "none", "nil",
              "empty", "default", "required", "optional", "string", "value", "test", "undefined", "unset", "hidden", "masked" };
    if (value.empty())
        return true;
    std::string v = to_lower(value);
    for (auto c : contains) {
        if (v.find(c) != std::string::npos)
            return true;
    }
    for (auto e : exact) {
        if (v == e)
            return true;
    }
    if (v[0] == '<' || v[0] == '$' || v[0] == '%' || v[0] == '@')
        return true;
    // One character repeated ("aaaaaaaa", "********").
    return std::all_of(v.begin(), v.end(), [&](char c) { return c == v[0]; });
}

SecretFileClass classify_secret_path(std::string_view path)
{
    std::string_view base = basename_of(path);
    static constexpr std::string_view history[] = { ".bash_history", ".zsh_history", ".zhistory", ".sh_history", ".history",
        ".ash_history", ".mysql_history", ".psql_history", ".sqlite_history", ".python_history", ".node_repl_history",
        ".rediscli_history", ".mongosh_history", ".dbshell", "fish_history" };
    for (auto h : history) {
        if (base == h)
            return SecretFileClass::History;
    }
    if (base == ".netrc" || base == "_netrc")
        return SecretFileClass::Netrc;
    if (base == ".pgpass")
        return SecretFileClass::Pgpass;
    if (base == ".git-credentials")
        return SecretFileClass::GitCredentials;
    if (ends_with(path, "/.docker/config.json") || ends_with(path, "/containers/auth.json"))
        return SecretFileClass::DockerConfig;
    if (base == ".env" || starts_with(base, ".env.") || ends_with(base, ".env"))
        return SecretFileClass::EnvFile;
    static constexpr std::string_view key_names[]
        = { "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "identity" };
    for (auto k : key_names) {
        if (base == k)
            return SecretFileClass::PrivateKey;
    }
    if (ends_with(base, ".pem") || ends_with(base, ".key") || ends_with(base, ".p8")
        || (starts_with(base, "ssh_host_") && ends_with(base, "_key")))
        return SecretFileClass::PrivateKey;

    static constexpr std::string_view config_roots[]
        = { "/etc/", "/root/", "/home/", "/opt/", "/srv/", "/var/www/", "/usr/local/", "/var/lib/", "/var/spool/" };
    bool in_root = false;
    for (auto r : config_roots)
        in_root = in_root || starts_with(path, r);
    if (!in_root)
        return SecretFileClass::Other;
    if (starts_with(path, "/etc/"))
        return SecretFileClass::Config;
    static constexpr std::string_view config_exts[] = { ".conf", ".cfg", ".cnf", ".ini", ".yml", ".yaml", ".json", ".toml",
        ".properties", ".xml", ".tfvars", ".tfstate", ".npmrc", ".pypirc", ".s3cfg", ".boto", ".gitconfig" };
    for (auto e : config_exts) {
        if (ends_with(base, e))
            return SecretFileClass::Config;
    }
    static constexpr std::string_view config_names[]
        = { "credentials", "config", "wp-config.php", "settings.py", "local_settings.py", "database.yml", "secrets.yml" };
    for (auto c : config_names) {
        if (base == c)
            return SecretFileClass::Config;
    }
    bool in_home = starts_with(path, "/root/") || starts_with(path, "/home/");
    if (in_home && starts_with(base, ".") && base.size() > 1)
        return SecretFileClass::Config;
    return SecretFileClass::Other;
}

bool interesting_path(std::string_view path)
{
    static constexpr std::string_view excluded[] = { "/proc/", "/sys/", "/dev/", "/run/", "/boot/", "/usr/share/",
        "/usr/include/", "/usr/src/", "/usr/lib/", "/lib/", "/lib32/", "/lib64/", "/libx32/", "/usr/bin/", "/usr/sbin/", "/bin/",
        "/sbin/", "/var/lib/dpkg/", "/var/lib/apt/", "/var/cache/", "/var/log/", "/snap/" };
    // Third-party code installed by language package managers: its test keys and examples
    // are not the image's secrets, and there is a lot of it.
    static constexpr std::string_view vendored[] = { "/site-packages/", "/dist-packages/", "/node_modules/", "/.pyenv/",
        "/.rbenv/", "/.cargo/registry/", "/go/pkg/mod/", "/.m2/repository/", "/.npm/", "/.cache/pip/" };
    if (path.empty() || path[0] != '/')
        return false;
    for (auto x : excluded) {
        if (starts_with(path, x))
            return false;
    }
    for (auto v : vendored) {
        if (path.find(v) != std::string_view::npos)
            return false;
    }
    if (classify_secret_path(path) != SecretFileClass::Other)
        return true;
    static constexpr std::string_view token_roots[] = { "/root/", "/home/", "/opt/", "/srv/", "/var/www/", "/tmp/", "/var/tmp/" };
    for (auto r : token_roots) {
        if (starts_with(path, r))
            return true;
    }
    return false;
}

namespace {

class Scanner {
public:
    Scanner(std::string_view path, std::string_view text, SecretFileClass cls)
        : m_path(path)
        , m_text(text)
        , m_class(cls)
        , m_lines(text)
    {
    }

    void run()
    {
        bool binary = !m_text.empty() && std::memchr(m_text.data(), '\0', std::min<size_t>(m_text.size(), 8192)) != nullptr;
        scan_tokens();
        if (binary)
            return;
        switch (m_class) {
        case SecretFileClass::History:
            for_each_line([&](std::string_view line, size_t n) { history_line(line, n); });
            break;
        case SecretFileClass::Netrc:
            scan_netrc();
            break;
        case SecretFileClass::Pgpass:
            for_each_line([&](std::string_view line, size_t n) { pgpass_line(line, n); });
            break;
        case SecretFileClass::DockerConfig:
            scan_docker_auths();
            break;
        case SecretFileClass::EnvFile:
        case SecretFileClass::Config:
            for_each_line([&](std::string_view line, size_t n) { assignment_line(line, n); });
            break;
        default:
            break;
        }
    }

    // Copies every secret reported from now on to out (for redact_secrets_in_line).
    void collect_secrets(std::vector<std::string>* out) { m_collected = out; }

    std::vector<Finding> take()
    {
        if (m_capped) {
            Finding f = make_finding("secret.too-many", std::string(m_path), Severity::Info, std::string(m_path),
                "more than " + std::to_string(k_max_secret_findings)
                    + " secrets were found in this file; the rest were not reported");
            m_findings.push_back(std::move(f));
        }
        return std::move(m_findings);
    }

private:
    struct Hit {
        Hit(Rule r, size_t l, std::string_view s, std::string lab, size_t prefix = 0, size_t visible = 4)
            : rule(r)
            , line(l)
            , secret(s)
            , label(std::move(lab))
            , public_prefix(prefix)
            , max_visible(visible)
        {
        }
        Rule rule;
        size_t line = 0;
        std::string_view secret; // never stored; hashed for de-duplication, partly shown
        std::string label; // non-secret context shown before the secret
        size_t public_prefix = 0; // leading characters of the secret that are a fixed prefix
        size_t max_visible = 4; // 0: show none of the secret
        std::optional<Severity> severity;
        std::string detail;
    };

    static std::string redact(const Hit& h)
    {
        size_t n = h.secret.size();
        size_t visible = n >= 20 ? 4 : n >= 12 ? 2 : 0;
        visible = std::min(visible, h.max_visible);
        if (h.public_prefix < n)
            visible = std::max(visible, h.public_prefix);
        std::string tail = display_text(h.secret.substr(0, visible), 16) + "****";
        size_t budget = k_max_excerpt > tail.size() ? k_max_excerpt - tail.size() : 0;
        return display_text(h.label, budget) + tail;
    }

    bool report(const Hit& h)
    {
        if (m_capped)
            return false;
        if (m_findings.size() >= k_max_secret_findings) {
            m_capped = true;
            return false;
        }
        if (m_per_rule[h.rule] >= k_max_secret_findings_per_rule)
            return false;
        // The same secret on the same line is one finding, whichever rules saw it.
        if (!m_seen.emplace(h.line, std::hash<std::string_view> {}(h.secret)).second)
            return false;
        size_t count = ++m_per_rule[h.rule];
        if (m_collected)
            m_collected->emplace_back(h.secret);
        const SecretRule& rule = k_rules[h.rule];
        std::string path(m_path);
        std::string message(rule.description.substr(0, rule.description.find(" (")));
        message += h.detail.empty() ? "" : " (" + h.detail + ")";
        message += " in " + display_text(m_path, 256) + " on line " + std::to_string(h.line);
        Finding f = make_finding("secret." + std::string(rule.id), path, h.severity.value_or(rule.severity), path, message);
        if (count > 1)
            f.id += "#" + std::to_string(count);
        f.line = h.line;
        f.excerpt = redact(h);
        m_findings.push_back(std::move(f));
        return true;
    }

    template <typename F> void for_each_line(F handle)
    {
        size_t pos = 0;
        size_t line = 0;
        while (pos < m_text.size() && !m_capped) {
            const void* nl = std::memchr(m_text.data() + pos, '\n', m_text.size() - pos);
            size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - m_text.data()) : m_text.size();
            ++line;
            if (end - pos <= k_max_line) {
                std::string_view s = m_text.substr(pos, end - pos);
                if (!s.empty() && s.back() == '\r')
                    s.remove_suffix(1);
                handle(s, line);
            }
            pos = end + 1;
        }
    }

    // ---- token rules, one pass over everything -------------------------------------------

    void scan_tokens()
    {
        const AnchorTable& table = anchor_table();
        const char* p = m_text.data();
        size_t n = m_text.size();
        for (size_t i = next_key(table, p, n, 0); i + 1 < n; i = next_key(table, p, n, i + 1)) {
            uint16_t b = bigram(p + i);
            for (size_t a = table.head[b]; a != 0; a = table.next[a - 1]) {
                const AnchorLiteral& anchor = k_anchors[a - 1];
                if (i < anchor.key_offset)
                    continue;
                size_t start = i - anchor.key_offset;
                size_t len = anchor.literal.size();
                // Most candidates fail on their first bytes: compare those inline.
                if (n - start < len || p[start] != anchor.literal[0] || p[start + len - 1] != anchor.literal[len - 1]
                    || std::memcmp(p + start, anchor.literal.data(), len) != 0)
                    continue;
                size_t resume = on_anchor(anchor, start);
                if (resume > i + 1)
                    i = resume - 1;
                break;
            }
            if (m_capped)
                return;
        }
        if (m_deferred_pem) {
            Hit h = *m_deferred_pem;
            if (m_service_account) {
                h.rule = GcpServiceAccountKey;
                h.label = "\"private_key\": ";
                h.severity.reset();
                h.detail.clear();
            }
            report(h);
        }
    }

    bool boundary_before(size_t i, bool (*inside)(char)) const { return i == 0 || !inside(m_text[i - 1]); }
    bool boundary_after(size_t end, bool (*inside)(char)) const { return end >= m_text.size() || !inside(m_text[end]); }

    size_t on_anchor(const AnchorLiteral& a, size_t i)
    {
        switch (a.kind) {
        case Anchor::Pem:
            return pem(i);
        case Anchor::AwsKeyId:
            return aws_key_id(i);
        case Anchor::AwsSecretName:
            return aws_secret_named(i, a.literal);
        case Anchor::GcpPrivateKey:
            return gcp_private_key(i);
        case Anchor::GcpServiceAccount:
            m_service_account = true;
            return i + a.literal.size();
        case Anchor::Azure:
            return azure(i);
        case Anchor::GithubClassic:
            if (i + 4 > m_text.size() || std::string_view("pousr").find(m_text[i + 2]) == std::string_view::npos
                || m_text[i + 3] != '_')
                return i + 1;
            return prefixed_token(i, 4, 36, 251, GithubToken, is_alnum, is_word);
        case Anchor::GithubPat:
            return prefixed_token(i, 11, 50, 244, GithubToken, is_word, is_word);
        case Anchor::Gitlab:
            return prefixed_token(i, 6, 20, 249, GitlabToken, is_token, is_token);
        case Anchor::Slack:
            if (i + 5 > m_text.size() || std::string_view("abprs").find(m_text[i + 3]) == std::string_view::npos
                || m_text[i + 4] != '-')
                return i + 1;
            return prefixed_token(
                i, 5, 10, 250, SlackToken, [](char c) { return is_alnum(c) || c == '-'; }, is_token);
        case Anchor::Stripe:
            return prefixed_token(i, 8, 16, 247, StripeSecretKey, is_alnum, is_word);
        case Anchor::Url:
            return url_credentials(i);
        }
        return i + 1;
    }

    // prefix (public) + a run of body characters of min..max length, with word boundaries.
    size_t prefixed_token(size_t i, size_t prefix, size_t min, size_t max, Rule rule, bool (*body)(char), bool (*word)(char))
    {
        if (!boundary_before(i, word))
            return i + 1;
        size_t len = run_length(m_text, i + prefix, max + 1, body);
        if (len < min || len > max || !boundary_after(i + prefix + len, word))
            return i + 1;
        std::string_view token = m_text.substr(i, prefix + len);
        if (rule == SlackToken && token.find_first_of("0123456789", prefix) == std::string_view::npos)
            return i + 1;
        if (is_placeholder_secret(token.substr(prefix)))
            return i + prefix + len;
        report(Hit(rule, m_lines.line_of(i), token, "", prefix));
        return i + prefix + len;
    }

    size_t pem(size_t i)
    {
        size_t j = i + 11;
        size_t len = run_length(m_text, j, 48, [](char c) { return is_upper_or_digit(c) || c == ' '; });
        size_t k = j + len;
        if (m_text.substr(k, 5) != "-----")
            return i + 1;
        std::string_view label = m_text.substr(j, len);
        if (label.find("PRIVATE KEY") == std::string_view::npos)
            return i + 1;
        size_t body = k + 5;
        std::string_view window = m_text.substr(body, 512);
        bool encrypted = starts_with(label, "ENCRYPTED");
        bool looks_real = false;
        if (window.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos) {
            encrypted = true;
            looks_real = true;
        } else {
            // Count base64 in the body, through newlines and JSON "\n" escapes.
            size_t b64 = 0;
            for (size_t x = 0; x < window.size() && b64 < 32; ++x) {
                char c = window[x];
                if (c == '\\' && x + 1 < window.size() && (window[x + 1] == 'n' || window[x + 1] == 'r')) {
                    ++x;
                    continue;
                }
                if (is_space(c))
                    continue;
                if (!is_b64(c) && c != '=')
                    break;
                ++b64;
            }
            looks_real = b64 >= 32;
        }
        if (!looks_real)
            return body;
        std::string detail = std::string(label);
        if (label == "OPENSSH PRIVATE KEY" && !encrypted) {
            static constexpr std::string_view end = "-----END OPENSSH PRIVATE KEY-----";
            std::string_view rest = m_text.substr(i, 64 * 1024);
            size_t e = rest.find(end);
            if (e != std::string_view::npos) {
                auto info = parse_openssh_private_key(rest.substr(0, e + end.size()));
                if (info.is_ok() && info.value().encrypted())
                    encrypted = true;
            }
        }
        detail += encrypted ? ", encrypted" : ", not encrypted";
        Hit h(PemPrivateKey, m_lines.line_of(i), m_text.substr(body, 64), "-----BEGIN " + std::string(label) + "-----", 0, 0);
        if (encrypted)
            h.severity = Severity::Medium;
        h.detail = detail;
        if (m_gcp_value && *m_gcp_value == i && !m_deferred_pem)
            m_deferred_pem = h; // decided at the end: a service account key file, or a plain key
        else
            report(h);
        return body;
    }

    size_t aws_key_id(size_t i)
    {
        if (!boundary_before(i, is_alnum) || m_text.size() - i < 20)
            return i + 1;
        for (size_t k = 4; k < 20; ++k) {
            if (!is_upper_or_digit(m_text[i + k]))
                return i + 1;
        }
        if (!boundary_after(i + 20, is_alnum))
            return i + 1;
        std::string_view id = m_text.substr(i, 20);
        if (is_placeholder_secret(id.substr(4)))
            return i + 20;
        report(Hit(AwsAccessKeyId, m_lines.line_of(i), id, "", 4));
        // The secret key usually sits next to its id: a lone 40-character base64 word.
        size_t from = i > 512 ? i - 512 : 0;
        size_t to = std::min(m_text.size(), i + 20 + 512);
        for (size_t x = from; x < to;) {
            if (!is_b64(m_text[x])) {
                ++x;
                continue;
            }
            size_t len = run_length(m_text, x, 41, is_b64);
            if (len == 40 && (x == 0 || !is_b64(m_text[x - 1])) && plausible_aws_secret(m_text.substr(x, 40))) {
                report(Hit(AwsSecretAccessKey, m_lines.line_of(x), m_text.substr(x, 40), "secret key ", 0));
                break;
            }
            x += len;
            while (x < to && is_b64(m_text[x]))
                ++x;
        }
        return i + 20;
    }

    static bool plausible_aws_secret(std::string_view s)
    {
        bool lower = false, upper = false, digit = false;
        for (char c : s) {
            lower = lower || (c >= 'a' && c <= 'z');
            upper = upper || (c >= 'A' && c <= 'Z');
            digit = digit || (c >= '0' && c <= '9');
        }
        return lower && upper && digit && shannon_entropy(s) >= 4.0 && !is_placeholder_secret(s);
    }

    size_t aws_secret_named(size_t i, std::string_view name)
    {
        size_t j = i + name.size();
        bool assigned = false;
        size_t skipped = 0;
        while (j < m_text.size() && skipped < 8 && std::string_view(" \t\"':=").find(m_text[j]) != std::string_view::npos) {
            assigned = assigned || m_text[j] == '=' || m_text[j] == ':';
            ++j;
            ++skipped;
        }
        if (!assigned)
            return i + name.size();
        size_t len = run_length(m_text, j, 41, is_b64);
        if (len != 40 || !plausible_aws_secret(m_text.substr(j, 40)))
            return i + name.size();
        report(Hit(AwsSecretAccessKey, m_lines.line_of(j), m_text.substr(j, 40), std::string(name) + "=", 0));
        return j + 40;
    }

    size_t gcp_private_key(size_t i)
    {
        size_t j = i + 13;
        while (j < m_text.size() && is_blank(m_text[j]))
            ++j;
        if (j >= m_text.size() || m_text[j] != ':')
            return i + 13;
        ++j;
        while (j < m_text.size() && is_space(m_text[j]))
            ++j;
        if (j < m_text.size() && m_text[j] == '"' && m_text.substr(j + 1, 11) == "-----BEGIN " && !m_gcp_value)
            m_gcp_value = j + 1;
        return i + 13;
    }

    size_t azure(size_t i)
    {
        size_t j = i + 11;
        size_t len = run_length(m_text, j, 200, [](char c) { return is_b64(c) || c == '='; });
        std::string_view key = m_text.substr(j, len);
        if (len < 40 || shannon_entropy(key) < 4.0 || is_placeholder_secret(key))
            return j;
        report(Hit(AzureStorageKey, m_lines.line_of(i), key, "AccountKey=", 0));
        return j + len;
    }

    size_t url_credentials(size_t i)
    {
        // scheme://user:password@host
        size_t s = i;
        while (s > 0 && i - s < 32
            && (is_alnum(m_text[s - 1]) || m_text[s - 1] == '+' || m_text[s - 1] == '.' || m_text[s - 1] == '-'))
            --s;
        if (i - s < 2 || !((m_text[s] >= 'a' && m_text[s] <= 'z') || (m_text[s] >= 'A' && m_text[s] <= 'Z')))
            return i + 3;
        size_t u = i + 3;
        size_t at = u;
        while (at < m_text.size() && at - u < 256) {
            char c = m_text[at];
            if (c == '@' || is_space(c) || std::string_view("/?#\"'<>\\`").find(c) != std::string_view::npos)
                break;
            ++at;
        }
        if (at >= m_text.size() || m_text[at] != '@')
            return i + 3;
        std::string_view userinfo = m_text.substr(u, at - u);
        size_t colon = userinfo.find(':');
        if (colon == std::string_view::npos)
            return i + 3;
        std::string_view password = userinfo.substr(colon + 1);
        size_t host_len = run_length(m_text, at + 1, 255, [](char c) { return is_alnum(c) || c == '.' || c == '-'; });
        std::string_view host = m_text.substr(at + 1, host_len);
        if (password.empty() || host.empty() || is_placeholder_secret(password)
            || ifind(host, "example") != std::string_view::npos)
            return at;
        // The user name stays out of the excerpt as well: in token-in-URL schemes it is the
        // secret. The host is shown after the redacted part.
        std::string scheme(m_text.substr(s, i - s));
        if (report(Hit(UrlCredentials, m_lines.line_of(i), userinfo, scheme + "://", 0, 0))) {
            std::string& excerpt = m_findings.back().excerpt;
            excerpt += display_text("@" + std::string(host), k_max_excerpt > excerpt.size() ? k_max_excerpt - excerpt.size() : 0);
        }
        return at + 1;
    }

    // ---- per-line rules --------------------------------------------------------------

    void secret_value(Rule rule, size_t line, std::string_view secret, std::string label, size_t min_len = 1)
    {
        secret = trim(secret);
        if (secret.size() < min_len || is_placeholder_secret(secret))
            return;
        report(Hit(rule, line, secret, std::move(label), 0));
    }

    static std::string_view strip_history_prefix(std::string_view s)
    {
        // zsh extended history ": 1700000000:0;command", fish "- cmd: command"
        if (starts_with(s, ": ")) {
            size_t semi = s.find(';');
            if (semi != std::string_view::npos && semi < 32)
                return s.substr(semi + 1);
        }
        if (starts_with(s, "- cmd: "))
            return s.substr(7);
        return s;
    }

    void history_line(std::string_view raw, size_t n)
    {
        std::string decoded;
        std::string_view s = strip_history_prefix(raw);
        if (basename_of(m_path) == ".mysql_history") {
            // The mysql client writes spaces as \040.
            decoded.reserve(s.size());
            for (size_t i = 0; i < s.size(); ++i) {
                if (s.substr(i, 4) == "\\040") {
                    decoded.push_back(' ');
                    i += 3;
                } else {
                    decoded.push_back(s[i]);
                }
            }
            s = decoded;
        }
        sql_passwords(s, n);

        auto words = shell_words(s);
        std::string_view tool;
        bool login = false;
        for (size_t w = 0; w < words.size(); ++w) {
            const std::string& t = words[w].text;
            if (words[w].separator) {
                tool = {};
                login = false;
                continue;
            }
            const std::string* next = w + 1 < words.size() && !words[w + 1].separator ? &words[w + 1].text : nullptr;
            // NAME=value with a sensitive name (PGPASSWORD=..., export API_TOKEN=...)
            size_t eq = t.find('=');
            if (eq != std::string::npos && eq > 0 && t[0] != '-'
                && std::all_of(t.begin(), t.begin() + static_cast<ptrdiff_t>(eq), is_word) && sensitive_key(t.substr(0, eq))) {
                secret_value(HistoryPassword, n, std::string_view(t).substr(eq + 1), t.substr(0, eq + 1));
                continue;
            }
            if (t == "login")
                login = true;
            if (tool.empty() && !t.empty() && t[0] != '-') {
                static constexpr std::string_view tools[] = { "mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlcheck",
                    "mysqlshow", "mysqlpump", "mysqlsh", "mariadb", "mariadb-dump", "mariadb-admin", "sshpass", "curl", "docker",
                    "podman", "nerdctl", "helm", "buildah", "skopeo", "openssl", "htpasswd", "redis-cli", "smbclient",
                    "rpcclient", "ldapsearch", "ldapmodify", "ldapadd", "ldapdelete", "ldappasswd" };
                std::string_view b = basename_of(t);
                for (auto x : tools) {
                    if (b == x)
                        tool = x;
                }
                if (!tool.empty())
                    continue;
            }
            // Options that every tool spells the same way: --password=x, --db-password x.
            if (starts_with(t, "--")) {
                std::string opt = to_lower(t.substr(0, eq));
                bool secret_option = ends_with(opt, "password") || ends_with(opt, "passwd") || opt == "--pass"
                    || ends_with(opt, "-pass") || ends_with(opt, "-token") || ends_with(opt, "-secret");
                if (secret_option && eq != std::string::npos) {
                    secret_value(HistoryPassword, n, std::string_view(t).substr(eq + 1), t.substr(0, eq + 1));
                    continue;
                }
                if (secret_option && next && !next->empty() && (*next)[0] != '-') {
                    secret_value(HistoryPassword, n, *next, t + " ");
                    continue;
                }
            }
            if (tool.empty())
                continue;
            std::string tl(tool);
            if (starts_with(tool, "mysql") || starts_with(tool, "mariadb")) {
                if (t.size() > 2 && t[0] == '-' && t[1] == 'p')
                    secret_value(HistoryPassword, n, std::string_view(t).substr(2), tl + " -p");
            } else if (tool == "sshpass") {
                if (t == "-p" && next)
                    secret_value(HistoryPassword, n, *next, tl + " -p ");
                else if (t.size() > 2 && starts_with(t, "-p"))
                    secret_value(HistoryPassword, n, std::string_view(t).substr(2), tl + " -p");
            } else if (tool == "curl") {
                std::optional<std::string_view> cred;
                if ((t == "-u" || t == "--user") && next)
                    cred = *next;
                else if (starts_with(t, "--user="))
                    cred = std::string_view(t).substr(7);
                else if (t.size() > 2 && starts_with(t, "-u"))
                    cred = std::string_view(t).substr(2);
                if (cred && cred->find(':') != std::string_view::npos)
                    secret_value(HistoryPassword, n, cred->substr(cred->find(':') + 1), tl + " -u ");
            } else if (tool == "docker" || tool == "podman" || tool == "nerdctl" || tool == "helm" || tool == "buildah"
                || tool == "skopeo") {
                if (login && t == "-p" && next)
                    secret_value(HistoryPassword, n, *next, tl + " login -p ");
            } else if (tool == "openssl") {
                if ((t == "-passin" || t == "-passout" || t == "-pass") && next && starts_with(*next, "pass:"))
                    secret_value(HistoryPassword, n, std::string_view(*next).substr(5), tl + " " + t + " pass:");
                else if (t == "-k" && next)
                    secret_value(HistoryPassword, n, *next, tl + " -k ");
            } else if (tool == "htpasswd") {
                if (t.size() >= 2 && t[0] == '-' && t.find('b') != std::string::npos) {
                    // htpasswd -b[c] file user password, htpasswd -nb user password
                    size_t wanted = t.find('n') != std::string::npos ? 2 : 3;
                    size_t seen = 0;
                    for (size_t x = w + 1; x < words.size() && !words[x].separator; ++x) {
                        if (!words[x].text.empty() && words[x].text[0] == '-')
                            continue;
                        if (++seen == wanted) {
                            secret_value(HistoryPassword, n, words[x].text, tl + " -b ... ");
                            break;
                        }
                    }
                }
            } else if (tool == "redis-cli") {
                if (t == "-a" && next)
                    secret_value(HistoryPassword, n, *next, tl + " -a ");
            } else if (tool == "smbclient" || tool == "rpcclient") {
                if ((t == "-U" || t == "--user") && next && next->find('%') != std::string::npos)
                    secret_value(HistoryPassword, n, std::string_view(*next).substr(next->find('%') + 1), tl + " -U ");
            } else if (starts_with(tool, "ldap")) {
                if (t == "-w" && next)
                    secret_value(HistoryPassword, n, *next, tl + " -w ");
            }
        }
    }

    // IDENTIFIED BY 'x', PASSWORD 'x', PASSWORD('x'), password = 'x' in SQL typed at a prompt.
    void sql_passwords(std::string_view s, size_t n)
    {
        for (std::string_view needle : { std::string_view("identified by"), std::string_view("password") }) {
            size_t from = 0;
            for (int guard = 0; guard < 16; ++guard) {
                size_t at = ifind(s, needle, from);
                if (at == std::string_view::npos)
                    break;
                from = at + needle.size();
                size_t j = from;
                while (j < s.size() && (is_blank(s[j]) || s[j] == '=' || s[j] == '('))
                    ++j;
                if (j >= s.size() || (s[j] != '\'' && s[j] != '"'))
                    continue;
                size_t end = s.find(s[j], j + 1);
                if (end == std::string_view::npos || end - j > 256)
                    continue;
                secret_value(HistoryPassword, n, s.substr(j + 1, end - j - 1), to_upper_label(s.substr(at, j + 1 - at)));
            }
        }
    }

    static std::string to_upper_label(std::string_view s)
    {
        std::string out(s.substr(0, 24));
        for (auto& c : out) {
            if (c >= 'a' && c <= 'z')
                c = static_cast<char>(c - 'a' + 'A');
        }
        return out;
    }

    void scan_netrc()
    {
        size_t pos = 0;
        size_t line = 1;
        bool want_password = false;
        bool in_macro = false;
        while (pos < m_text.size() && !m_capped) {
            char c = m_text[pos];
            if (c == '\n') {
                ++line;
                ++pos;
                // A macro definition ends at an empty line.
                if (in_macro && pos < m_text.size() && (m_text[pos] == '\n' || m_text[pos] == '\r'))
                    in_macro = false;
                continue;
            }
            if (is_space(c)) {
                ++pos;
                continue;
            }
            size_t end = pos;
            while (end < m_text.size() && !is_space(m_text[end]))
                ++end;
            std::string_view word = m_text.substr(pos, end - pos);
            pos = end;
            if (in_macro)
                continue;
            if (want_password) {
                want_password = false;
                secret_value(NetrcPassword, line, word, "password ");
            } else if (word == "password" || word == "passwd") {
                want_password = true;
            } else if (word == "macdef") {
                in_macro = true;
            }
        }
    }

    void pgpass_line(std::string_view s, size_t n)
    {
        // hostname:port:database:username:password, with \: and \\ escapes
        if (s.empty() || s[0] == '#')
            return;
        std::vector<size_t> colons;
        for (size_t i = 0; i < s.size() && colons.size() < 4; ++i) {
            if (s[i] == '\\') {
                ++i;
                continue;
            }
            if (s[i] == ':')
                colons.push_back(i);
        }
        if (colons.size() < 4)
            return;
        std::string_view password = s.substr(colons[3] + 1);
        std::string_view host = s.substr(0, colons[0]);
        secret_value(PgpassPassword, n, password, std::string(host) + ":...:");
    }

    void scan_docker_auths()
    {
        for (std::string_view key :
            { std::string_view("\"auth\""), std::string_view("\"identitytoken\""), std::string_view("\"registrytoken\"") }) {
            size_t from = 0;
            while (!m_capped) {
                size_t at = m_text.find(key, from);
                if (at == std::string_view::npos)
                    break;
                from = at + key.size();
                size_t j = from;
                while (j < m_text.size() && is_space(m_text[j]))
                    ++j;
                if (j >= m_text.size() || m_text[j] != ':')
                    continue;
                ++j;
                while (j < m_text.size() && is_space(m_text[j]))
                    ++j;
                if (j >= m_text.size() || m_text[j] != '"')
                    continue;
                size_t end = m_text.find('"', j + 1);
                if (end == std::string_view::npos || end - j > 8192)
                    continue;
                std::string_view value = m_text.substr(j + 1, end - j - 1);
                if (key == "\"auth\"") {
                    auto decoded = base64_decode(std::string(value));
                    size_t colon = decoded ? decoded->find(':') : std::string::npos;
                    if (colon == std::string::npos || colon + 1 >= decoded->size())
                        continue;
                }
                if (value.empty() || is_placeholder_secret(value))
                    continue;
                Hit h(DockerRegistryAuth, m_lines.line_of(j), value, std::string(key) + ": ", 0, 0);
                report(h);
                from = end;
            }
        }
    }

    void assignment_line(std::string_view raw, size_t n)
    {
        std::string_view s = trim(raw);
        if (s.empty() || s[0] == '#' || s[0] == ';' || starts_with(s, "//") || starts_with(s, "<!--"))
            return;
        if (starts_with(s, "export "))
            s = trim_left(s.substr(7));
        if (starts_with(s, "- "))
            s = trim_left(s.substr(2));
        // PHP: define('DB_PASSWORD', 'value');
        if (starts_with(s, "define(") || starts_with(s, "define (")) {
            auto words = quoted_strings(s, 2);
            if (words.size() == 2 && sensitive_key(words[0]))
                check_assigned(n, words[0], words[1], true);
            return;
        }
        size_t sep = 0;
        while (sep < s.size() && s[sep] != '=' && s[sep] != ':')
            ++sep;
        if (sep == s.size() || sep == 0)
            return;
        std::string_view key = trim(s.substr(0, sep));
        std::string_view rest = s.substr(sep + 1);
        if (!rest.empty() && rest[0] == '=' && s[sep] == ':')
            rest = rest.substr(1); // :=
        if (key.size() >= 2 && (key.front() == '"' || key.front() == '\'') && key.back() == key.front())
            key = key.substr(1, key.size() - 2);
        if (key.empty() || !std::all_of(key.begin(), key.end(), [](char c) { return is_token(c) || c == '.'; }))
            return;
        if (!sensitive_key(key))
            return;
        rest = trim(rest);
        bool quoted = false;
        std::string_view value = rest;
        if (!rest.empty() && (rest[0] == '"' || rest[0] == '\'')) {
            size_t end = rest.find(rest[0], 1);
            if (end == std::string_view::npos)
                return;
            value = rest.substr(1, end - 1);
            quoted = true;
        } else {
            size_t comment = value.find(" #");
            if (comment != std::string_view::npos)
                value = value.substr(0, comment);
            value = trim(value);
            while (!value.empty() && (value.back() == ',' || value.back() == ';'))
                value.remove_suffix(1);
        }
        check_assigned(n, key, value, quoted);
    }

    // Up to max 'single' or "double" quoted strings of s, in order.
    static std::vector<std::string_view> quoted_strings(std::string_view s, size_t max)
    {
        std::vector<std::string_view> out;
        size_t i = 0;
        while (i < s.size() && out.size() < max) {
            if (s[i] != '\'' && s[i] != '"') {
                ++i;
                continue;
            }
            size_t end = s.find(s[i], i + 1);
            if (end == std::string_view::npos)
                break;
            out.push_back(s.substr(i + 1, end - i - 1));
            i = end + 1;
        }
        return out;
    }

    void check_assigned(size_t n, std::string_view key, std::string_view value, bool quoted)
    {
        // Passwords may be short and plain; tokens, secrets and keys are long and not words.
        std::string k = to_lower(key);
        bool password = k.find("pass") != std::string::npos || k.find("pwd") != std::string::npos;
        size_t min_len = password ? 6 : 16;
        if (value.size() < min_len || value.size() > 512 || is_placeholder_secret(value))
            return;
        if (!password && value.find_first_of("0123456789") == std::string_view::npos)
            return;
        if (value[0] == '/' || value[0] == '~' || starts_with(value, "./") || starts_with(value, "../"))
            return; // a path to a file that holds the secret
        if (starts_with(value, "-----BEGIN"))
            return; // a PEM block: the PEM rule reports it
        if (starts_with(value, "arn:") || starts_with(value, "http://") || starts_with(value, "https://"))
            return; // an identifier or a URL (URLs with credentials have their own rule)
        if (value.find_first_of(" \t") != std::string_view::npos)
            return; // prose, not a secret
        if (!quoted && value.find_first_of("()[]{}") != std::string_view::npos)
            return; // code, not a literal
        double need = std::min(3.0, 0.75 * std::log2(static_cast<double>(value.size())));
        if (shannon_entropy(value) < need)
            return;
        report(Hit(GenericAssignment, n, value, std::string(key) + "=", 0));
    }

    std::string_view m_path;
    std::string_view m_text;
    SecretFileClass m_class;
    LineCounter m_lines;
    std::vector<Finding> m_findings;
    std::array<size_t, RuleCount> m_per_rule {};
    std::set<std::pair<size_t, size_t>> m_seen; // (line, hash of the secret)
    bool m_capped = false;
    bool m_service_account = false;
    std::optional<size_t> m_gcp_value; // offset of the first "private_key": "-----BEGIN value
    std::optional<Hit> m_deferred_pem;
    std::vector<std::string>* m_collected = nullptr; // when set, every reported secret is copied here
};

} // namespace

std::string redact_secrets_in_line(std::string_view line)
{
    std::string out(line.substr(0, k_max_line));
    std::vector<std::string> secrets;
    {
        Scanner scanner("", out, SecretFileClass::History);
        scanner.collect_secrets(&secrets);
        scanner.run();
    }
    // Longest first, so that a secret containing another is masked whole.
    std::sort(secrets.begin(), secrets.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const auto& secret : secrets) {
        if (secret.empty())
            continue;
        for (size_t at = out.find(secret); at != std::string::npos; at = out.find(secret, at + 4))
            out.replace(at, secret.size(), "****");
    }
    return out;
}

std::vector<Finding> scan_content(std::string_view path, std::string_view bytes)
{
    bool partial = bytes.size() > k_secret_scan_max_bytes;
    if (partial)
        bytes = bytes.substr(0, k_secret_scan_max_bytes);
    Scanner scanner(path, bytes, classify_secret_path(path));
    scanner.run();
    auto findings = scanner.take();
    if (partial)
        findings.push_back(make_finding("secret.scan-incomplete", path, Severity::Info, std::string(path),
            "only the first " + std::to_string(k_secret_scan_max_bytes >> 20) + " MiB of this file were scanned for secrets"));
    return findings;
}

} // namespace bulwark::inspect
