// The secret scanner (src/inspect/secrets.h): one sample per rule, each checked for
// redaction; placeholders and near misses; which rules apply to which paths; hostile inputs.
// Secrets in this file are generated at run time, so that the source holds no token.
#include <chrono>
#include <gtest/gtest.h>
#include <iostream>
#include <map>
#include <random>
#include <set>

#include "base/base64.h"
#include "base/process.h"
#include "inspect/secrets.h"
#include "test_util.h"

namespace bulwark::inspect {
namespace {

using namespace std::chrono_literals;

const std::string k_alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const std::string k_base64 = k_alnum + "+/";

class TokenMaker {
public:
    explicit TokenMaker(uint32_t seed)
        : m_rng(seed)
    {
    }
    std::string make(size_t n, const std::string& charset = k_alnum)
    {
        std::string out;
        for (size_t i = 0; i < n; ++i)
            out.push_back(charset[m_rng() % charset.size()]);
        return out;
    }

private:
    std::mt19937 m_rng;
};

struct Sample {
    std::string rule; // without "secret."
    std::string path;
    std::string content;
    std::vector<std::string> secrets; // none of these may show up in a finding
    size_t public_prefix = 0; // leading bytes of secrets[0] that are a fixed, public prefix
    size_t line = 0; // expected line of the finding
};

std::string pem(const std::string& label, const std::string& body)
{
    return "-----BEGIN " + label + "-----\n" + body + "\n-----END " + label + "-----\n";
}

std::vector<Sample> samples()
{
    TokenMaker t(20240601);
    std::vector<Sample> s;
    std::string body = t.make(64, k_base64) + "\n" + t.make(64, k_base64) + "\n" + t.make(40, k_base64);
    s.push_back({ "pem-private-key", "/root/.ssh/id_rsa", pem("RSA PRIVATE KEY", body),
        { body.substr(0, 64), body.substr(65, 64) }, 0, 1 });
    std::string key_id = "AKIA" + t.make(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    s.push_back(
        { "aws-access-key-id", "/root/.aws/credentials", "[default]\naws_access_key_id = " + key_id + "\n", { key_id }, 4, 2 });
    std::string aws_secret = t.make(40, k_base64);
    s.push_back({ "aws-secret-access-key", "/srv/deploy/settings.txt", "AWS_SECRET_ACCESS_KEY=" + aws_secret + "\n",
        { aws_secret }, 0, 1 });
    std::string gcp_body = t.make(64, k_base64) + "\\n" + t.make(64, k_base64);
    s.push_back({ "gcp-service-account-key", "/opt/app/sa.json",
        "{\n  \"type\": \"service_account\",\n  \"project_id\": \"p\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n"
            + gcp_body + "\\n-----END PRIVATE KEY-----\\n\",\n  \"client_email\": \"x@p.iam.gserviceaccount.com\"\n}\n",
        { gcp_body.substr(0, 64) }, 0, 4 });
    std::string azure = t.make(86, k_base64) + "==";
    s.push_back({ "azure-storage-key", "/etc/app/storage.conf",
        "conn=DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + azure + ";EndpointSuffix=core.windows.net\n",
        { azure }, 0, 1 });
    std::string ghp = "gh" + std::string("p_") + t.make(36);
    s.push_back({ "github-token", "/home/dev/notes.txt", "token for CI: " + ghp + "\n", { ghp }, 4, 1 });
    std::string glpat = "gl" + std::string("pat-") + t.make(20);
    s.push_back({ "gitlab-token", "/home/dev/notes.txt", "\n\n" + glpat + "\n", { glpat }, 6, 3 });
    std::string slack = "xo" + std::string("xb-") + t.make(12, "0123456789") + "-" + t.make(13, "0123456789") + "-" + t.make(24);
    s.push_back({ "slack-token", "/opt/bot/run.sh", "export SLACK=" + slack + "\n", { slack }, 5, 1 });
    std::string stripe = "sk" + std::string("_live_") + t.make(24);
    s.push_back({ "stripe-secret-key", "/var/www/shop/config.php", "$stripe = '" + stripe + "';\n", { stripe }, 8, 1 });
    std::string url_pw = t.make(18);
    s.push_back({ "url-credentials", "/root/.git-credentials", "https://alice:" + url_pw + "@git.corp.net\n", { url_pw }, 0, 1 });
    std::string env_pw = t.make(16);
    s.push_back({ "generic-assignment", "/srv/app/.env", "DB_HOST=db\nDB_PASSWORD=" + env_pw + "\n", { env_pw }, 0, 2 });
    std::string hist_pw = t.make(14);
    s.push_back({ "history-password", "/root/.bash_history", "ls\nmysql -uroot -p" + hist_pw + " shop\n", { hist_pw }, 0, 2 });
    std::string netrc_pw = t.make(15);
    s.push_back({ "netrc-password", "/home/bob/.netrc", "machine ftp.corp.net\n  login bob\n  password " + netrc_pw + "\n",
        { netrc_pw }, 0, 3 });
    std::string pg_pw = t.make(13);
    s.push_back({ "pgpass-password", "/root/.pgpass", "# comment\ndb.corp.net:5432:*:app:" + pg_pw + "\n", { pg_pw }, 0, 2 });
    std::string docker_pw = t.make(24);
    std::string auth = base64_encode("robot:" + docker_pw);
    s.push_back({ "docker-registry-auth", "/root/.docker/config.json",
        "{\n  \"auths\": {\n    \"registry.corp.net\": {\n      \"auth\": \"" + auth + "\"\n    }\n  }\n}\n", { auth, docker_pw },
        0, 4 });
    return s;
}

// No field of the finding holds a secret, or any 6 bytes of it past its public prefix.
void expect_redacted(const Finding& f, const std::vector<std::string>& secrets, size_t public_prefix)
{
    for (size_t k = 0; k < secrets.size(); ++k) {
        const std::string& secret = secrets[k];
        std::string hidden = secret.substr(k == 0 ? public_prefix : 0);
        for (const std::string* field : { &f.id, &f.kind, &f.path, &f.message, &f.excerpt }) {
            EXPECT_EQ(field->find(secret), std::string::npos) << "secret in: " << *field;
            for (size_t i = 0; i + 6 <= hidden.size(); ++i)
                ASSERT_EQ(field->find(hidden.substr(i, 6)), std::string::npos) << "part of a secret in: " << *field;
        }
    }
    EXPECT_LE(f.excerpt.size(), k_max_excerpt);
    EXPECT_NE(f.excerpt.find("****"), std::string::npos) << f.excerpt;
}

std::vector<Finding> of_kind(const std::vector<Finding>& findings, const std::string& kind)
{
    std::vector<Finding> out;
    for (const auto& f : findings) {
        if (f.kind == kind)
            out.push_back(f);
    }
    return out;
}

TEST(InspectSecrets, EveryRuleFindsItsSampleAndRedactsIt)
{
    auto all = samples();
    std::set<std::string> covered;
    for (const auto& s : all) {
        SCOPED_TRACE(s.rule + " in " + s.path);
        auto findings = scan_content(s.path, s.content);
        auto mine = of_kind(findings, "secret." + s.rule);
        ASSERT_EQ(mine.size(), 1u) << findings.size() << " findings";
        const Finding& f = mine[0];
        EXPECT_EQ(f.id, "secret." + s.rule + ":" + s.path);
        EXPECT_EQ(f.path, s.path);
        EXPECT_EQ(f.line, s.line);
        EXPECT_FALSE(f.message.empty());
        for (const auto& other : findings)
            expect_redacted(other, s.secrets, s.public_prefix);
        covered.insert(s.rule);
    }
    {
        SCOPED_TRACE("EveryRuleHasASample");
        for (const auto& rule : secret_rules()) {
            EXPECT_TRUE(covered.count(std::string(rule.id))) << "no redaction sample for rule " << rule.id;
            EXPECT_FALSE(rule.description.empty());
        }
        EXPECT_EQ(covered.size(), secret_rules().size());
    }
}

// The token rules find their anchors through a vector prefilter that steps 16 bytes at a time:
// an anchor at any alignment, and in the last bytes of a file where the prefilter hands over
// to the byte-at-a-time loop, is found all the same.
TEST(InspectSecrets, AnchorsAreFoundAtEveryAlignment)
{
    std::set<std::string> token_rules { "pem-private-key", "aws-access-key-id", "aws-secret-access-key", "gcp-service-account-key",
        "azure-storage-key", "github-token", "gitlab-token", "slack-token", "stripe-secret-key", "url-credentials" };
    for (const auto& s : samples()) {
        if (!token_rules.count(s.rule))
            continue;
        for (size_t pad = 0; pad < 32; ++pad) {
            for (size_t tail : { 0, 1, 5, 16, 17 }) {
                std::string content = std::string(pad, ' ') + s.content;
                // Without the sample's last newline the token may end the file.
                if (tail == 0 && content.back() == '\n')
                    content.pop_back();
                content += std::string(tail, ' ');
                auto mine = of_kind(scan_content(s.path, content), "secret." + s.rule);
                EXPECT_EQ(mine.size(), 1u) << s.rule << " after " << pad << " bytes, " << tail << " after it";
            }
        }
    }
}

TEST(InspectSecrets, ExcerptsAndSeverities)
{
    TokenMaker t(7);
    {
        SCOPED_TRACE("PublicPrefixAndShortSecrets");
        std::string ghp = "gh" + std::string("p_") + t.make(36);
        auto f = scan_content("/home/a/x.txt", ghp);
        ASSERT_EQ(f.size(), 1u);
        EXPECT_EQ(f[0].excerpt, "ghp_****");
        EXPECT_EQ(f[0].severity, Severity::High);
        // A short password shows nothing of itself; a long one its first 4 characters.
        auto short_pw = scan_content("/srv/a/.env", "PASSWORD=" + t.make(8) + "\n");
        ASSERT_EQ(short_pw.size(), 1u);
        EXPECT_EQ(short_pw[0].excerpt, "PASSWORD=****");
        std::string long_pw = t.make(24);
        auto long_f = scan_content("/srv/a/.env", "API_KEY=" + long_pw + "\n");
        ASSERT_EQ(long_f.size(), 1u);
        EXPECT_EQ(long_f[0].excerpt, "API_KEY=" + long_pw.substr(0, 4) + "****");
    }
    {
        SCOPED_TRACE("LongLabelsAreCut");
        std::string key = "A_VERY_LONG_CONFIGURATION_KEY_FOR_THE_PRIMARY_DATABASE_PASSWORD";
        auto f = scan_content("/srv/a/.env", key + "=" + t.make(20) + "\n");
        ASSERT_EQ(f.size(), 1u);
        EXPECT_LE(f[0].excerpt.size(), k_max_excerpt);
        EXPECT_NE(f[0].excerpt.find("****"), std::string::npos);
    }
    {
        SCOPED_TRACE("EncryptedKeysAreMedium");
        std::string body = t.make(64, k_base64);
        auto enc = scan_content("/etc/ssl/private/a.key", pem("ENCRYPTED PRIVATE KEY", body));
        ASSERT_EQ(enc.size(), 1u);
        EXPECT_EQ(enc[0].severity, Severity::Medium);
        auto legacy = scan_content("/etc/ssl/private/b.key",
            "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n"
                + body + "\n-----END EC PRIVATE KEY-----\n");
        ASSERT_EQ(legacy.size(), 1u);
        EXPECT_EQ(legacy[0].severity, Severity::Medium);
        auto plain = scan_content("/etc/ssl/private/c.key", pem("PRIVATE KEY", body));
        ASSERT_EQ(plain.size(), 1u);
        EXPECT_EQ(plain[0].severity, Severity::Critical);
        EXPECT_EQ(plain[0].excerpt, "-----BEGIN PRIVATE KEY-----****");
    }
    {
        SCOPED_TRACE("RepeatsGetNumberedIds");
        std::string text;
        for (int i = 0; i < 3; ++i)
            text += "gh" + std::string("s_") + t.make(36) + "\n";
        auto f = scan_content("/opt/x/tokens", text);
        ASSERT_EQ(f.size(), 3u);
        EXPECT_EQ(f[0].id, "secret.github-token:/opt/x/tokens");
        EXPECT_EQ(f[1].id, "secret.github-token:/opt/x/tokens#2");
        EXPECT_EQ(f[2].id, "secret.github-token:/opt/x/tokens#3");
        EXPECT_EQ(f[2].line, 3u);
    }
    {
        SCOPED_TRACE("SameSecretOnOneLineIsOneFinding");
        // An AWS secret named as such is found by its name and by its neighbour key id.
        std::string id = "AKIA" + t.make(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
        std::string secret = t.make(40, k_base64);
        auto f = scan_content(
            "/root/.aws/credentials", "[default]\naws_access_key_id=" + id + "\naws_secret_access_key=" + secret + "\n");
        EXPECT_EQ(of_kind(f, "secret.aws-access-key-id").size(), 1u);
        EXPECT_EQ(of_kind(f, "secret.aws-secret-access-key").size(), 1u);
        EXPECT_EQ(of_kind(f, "secret.generic-assignment").size(), 0u);
        EXPECT_EQ(f.size(), 2u);
    }
}

TEST(InspectSecrets, PlaceholdersAndNearMissesAreNotSecrets)
{
    TokenMaker t(99);
    const std::pair<std::string, std::string> clean[] = {
        { "/srv/a/.env", "DB_PASSWORD=changeme\nAPI_TOKEN=${API_TOKEN}\nSECRET=xxxxxxxxxxxx\nPASSWORD=<your password>\n" },
        { "/srv/a/.env", "PASSWORD=example-password-123\nTOKEN=dummy\nSECRET_KEY=\nPASSWORD_FILE=/run/secrets/db\n" },
        { "/srv/a/.env", "TOKEN_TTL=3600\nMAX_TOKENS=4096\nPASSWORD_MIN_LENGTH=12\nPWD=/home/app\nsecret=aaaaaaaaaaaaaaaa\n" },
        { "/etc/app.conf", "# password = " + t.make(16) + "\n; secret=" + t.make(16) + "\n" },
        { "/etc/app.conf", "password = get_password_from(vault)\npassword: {{ vault_password }}\n" },
        { "/root/notes.txt", "AKIAIOSFODNN7EXAMPLE is the documentation key\n" },
        { "/root/notes.txt", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx and x" + std::string("ghp_") + t.make(36) + "\n" },
        { "/root/notes.txt", "gh" + std::string("p_") + t.make(20) + " is too short\n" },
        { "/root/notes.txt", "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n" },
        { "/root/notes.txt", "-----BEGIN CERTIFICATE-----\n" + t.make(64, k_base64) + "\n-----END CERTIFICATE-----\n" },
        { "/root/notes.txt", "https://user:password@example.com/ and https://git.corp.net/repo and ftp://anonymous@host\n" },
        { "/root/notes.txt", "https://alice:" + t.make(12) + "@www.example.org/\n" },
        { "/root/.bash_history", "mysql -u root -p\nsshpass -f /root/pw ssh host\ncurl -u alice https://x\necho $PASSWORD\n" },
        { "/root/.bash_history", "docker login --password-stdin\nmysql --password=$DB_PASS\n" },
        { "/home/a/.netrc", "machine a login b password changeme\n" },
        // Prose, identifiers and stock configuration are not secrets.
        { "/opt/app/schema.json",
            "{\n  \"ApiKeyRequired\": \"Requires an API key 4 every call\",\n  \"input_token\": \"NextToken\",\n"
            "  \"SecretsManagerReadWrite\": \"arn:aws:iam::aws:policy/SecretsManagerReadWrite\"\n}\n" },
        { "/etc/ssl/openssl.cnf", "secret = pass:insta # can be used for both client and server side\n" },
    };
    for (const auto& [path, content] : clean) {
        SCOPED_TRACE(path + ": " + content.substr(0, 40));
        auto f = scan_content(path, content);
        for (const auto& x : f)
            ADD_FAILURE() << "unexpected " << x.id << " line " << x.line << " excerpt " << x.excerpt;
    }
}

TEST(InspectSecrets, RulesApplyByPath)
{
    TokenMaker t(5);
    std::string pw = t.make(14);
    {
        SCOPED_TRACE("HistoryRulesOnlyInHistoryFiles");
        std::string line = "sshpass -p " + pw + " ssh root@10.0.0.1\n";
        EXPECT_EQ(scan_content("/root/.bash_history", line).size(), 1u);
        EXPECT_EQ(scan_content("/root/.zsh_history", ": 1700000000:0;" + line).size(), 1u);
        EXPECT_EQ(scan_content("/home/a/.local/share/fish/fish_history", "- cmd: " + line).size(), 1u);
        EXPECT_EQ(scan_content("/root/run.sh", line).size(), 0u);
        EXPECT_EQ(scan_content("/etc/app.conf", line).size(), 0u);
    }
    {
        SCOPED_TRACE("AssignmentsOnlyInConfigFiles");
        std::string line = "password=" + pw + "\n";
        EXPECT_EQ(scan_content("/srv/app/.env.production", line).size(), 1u);
        EXPECT_EQ(scan_content("/etc/mysql/debian.cnf", line).size(), 1u);
        EXPECT_EQ(scan_content("/home/a/.my.cnf", line).size(), 1u);
        EXPECT_EQ(scan_content("/opt/app/config.yaml", "password: " + pw + "\n").size(), 1u);
        EXPECT_EQ(scan_content("/opt/app/README", line).size(), 0u);
        EXPECT_EQ(scan_content("/usr/bin/tool", line).size(), 0u);
    }
    {
        SCOPED_TRACE("TokensEverywhere");
        std::string ghp = "gh" + std::string("o_") + t.make(36);
        for (std::string p : { "/usr/bin/tool", "/root/.bash_history", "/etc/x", "/var/lib/y" })
            EXPECT_EQ(scan_content(p, "x " + ghp + " y").size(), 1u) << p;
        // Also in binaries, where only the token rules run.
        std::string binary = std::string("\x7f"
                                         "ELF\0\0\0",
                                 7)
            + "password=" + pw + "\n" + ghp;
        auto f = scan_content("/etc/bin.conf", binary);
        ASSERT_EQ(f.size(), 1u);
        EXPECT_EQ(f[0].kind, "secret.github-token");
    }
    {
        SCOPED_TRACE("Classification");
        EXPECT_EQ(classify_secret_path("/root/.bash_history"), SecretFileClass::History);
        EXPECT_EQ(classify_secret_path("/home/x/.psql_history"), SecretFileClass::History);
        EXPECT_EQ(classify_secret_path("/home/x/.netrc"), SecretFileClass::Netrc);
        EXPECT_EQ(classify_secret_path("/var/lib/postgresql/.pgpass"), SecretFileClass::Pgpass);
        EXPECT_EQ(classify_secret_path("/root/.git-credentials"), SecretFileClass::GitCredentials);
        EXPECT_EQ(classify_secret_path("/root/.docker/config.json"), SecretFileClass::DockerConfig);
        EXPECT_EQ(classify_secret_path("/run/containers/0/auth.json"), SecretFileClass::Other);
        EXPECT_EQ(classify_secret_path("/etc/containers/auth.json"), SecretFileClass::DockerConfig);
        EXPECT_EQ(classify_secret_path("/srv/app/.env"), SecretFileClass::EnvFile);
        EXPECT_EQ(classify_secret_path("/srv/app/prod.env"), SecretFileClass::EnvFile);
        EXPECT_EQ(classify_secret_path("/etc/ssh/ssh_host_ed25519_key"), SecretFileClass::PrivateKey);
        EXPECT_EQ(classify_secret_path("/home/a/.ssh/id_ed25519"), SecretFileClass::PrivateKey);
        EXPECT_EQ(classify_secret_path("/etc/nginx/nginx.conf"), SecretFileClass::Config);
        EXPECT_EQ(classify_secret_path("/root/.aws/credentials"), SecretFileClass::Config);
        EXPECT_EQ(classify_secret_path("/home/a/.bashrc"), SecretFileClass::Config);
        EXPECT_EQ(classify_secret_path("/usr/share/doc/x/README"), SecretFileClass::Other);
    }
    {
        SCOPED_TRACE("InterestingPaths");
        for (std::string p : { "/etc/shadow", "/root/.bash_history", "/home/a/.ssh/id_rsa", "/srv/app/.env", "/opt/app/x.bin",
                 "/var/www/html/wp-config.php", "/tmp/creds.txt", "/var/lib/jenkins/credentials.xml" })
            EXPECT_TRUE(interesting_path(p)) << p;
        for (std::string p : { "/usr/local/lib/python3.11/dist-packages/x/key.pem", "/root/.pyenv/versions/3.11/test/k.pem",
                 "/srv/app/node_modules/x/.env" })
            EXPECT_FALSE(interesting_path(p)) << p;
        for (std::string p : { "/usr/share/doc/openssl/README", "/proc/1/environ", "/usr/lib/x86_64-linux-gnu/libc.so.6",
                 "/usr/bin/ls", "/var/lib/dpkg/status", "relative/.env", "", "/var/log/syslog" })
            EXPECT_FALSE(interesting_path(p)) << p;
    }
}

TEST(InspectSecrets, HistoryCommandLines)
{
    TokenMaker t(11);
    struct Case {
        std::string line;
        std::string label; // the excerpt's start
    };
    std::vector<std::pair<Case, std::string>> cases;
    auto add = [&](const std::string& before, const std::string& after, const std::string& label) {
        std::string pw = t.make(14);
        cases.push_back({ { before + pw + after, label }, pw });
    };
    add("mysql -h db -uroot -p", " shop", "mysql -p");
    add("mysqldump --password=", " shop", "--password=");
    add("sshpass -p '", "' ssh admin@host", "sshpass -p ");
    add("curl -s -u deploy:", " https://x/upload", "curl -u ");
    add("curl --user=deploy:", " https://x/upload", "curl -u ");
    add("PGPASSWORD=", " psql -h db app", "PGPASSWORD=");
    add("export API_TOKEN=", "", "API_TOKEN=");
    add("./tool --db-password ", " --verbose", "--db-password ");
    add("docker login -u bot -p ", " registry.corp.net", "docker login -p ");
    add("openssl rsa -in k -passin pass:", " -out k2", "openssl -passin pass:");
    add("htpasswd -bc /etc/nginx/.htpasswd admin ", "", "htpasswd -b ... ");
    add("redis-cli -h cache -a ", " ping", "redis-cli -a ");
    add("smbclient //srv/share -U alice%", "", "smbclient -U ");
    add("ldapsearch -x -D cn=admin -w ", " -b dc=x", "ldapsearch -w ");
    add("sudo mysql -proot", "", "mysql -p");
    add("ls; mysql -p", " && echo ok", "mysql -p");
    for (const auto& [c, pw] : cases) {
        SCOPED_TRACE(c.line);
        auto f = scan_content("/root/.bash_history", "cd /tmp\n" + c.line + "\n");
        ASSERT_EQ(f.size(), 1u);
        EXPECT_EQ(f[0].kind, "secret.history-password");
        EXPECT_EQ(f[0].line, 2u);
        EXPECT_EQ(f[0].excerpt.substr(0, c.label.size()), c.label);
        expect_redacted(f[0], { pw }, 0);
    }
    {
        SCOPED_TRACE("SqlInClientHistory");
        std::string a = t.make(12), b = t.make(12);
        auto f = scan_content("/root/.mysql_history",
            "_HiStOrY_V2_\nCREATE\\040USER\\040'app'@'%'\\040IDENTIFIED\\040BY\\040'" + a + "';\nSET PASSWORD = PASSWORD('" + b
                + "');\n");
        ASSERT_EQ(f.size(), 2u);
        EXPECT_EQ(f[0].excerpt.substr(0, 15), "IDENTIFIED BY '");
        EXPECT_EQ(f[1].line, 3u);
        expect_redacted(f[0], { a, b }, 0);
        expect_redacted(f[1], { a, b }, 0);
        auto psql = scan_content("/var/lib/postgresql/.psql_history", "ALTER USER app WITH PASSWORD '" + a + "';\n");
        ASSERT_EQ(psql.size(), 1u);
    }
    {
        SCOPED_TRACE("RedactCommandLine");
        std::string pw = t.make(14);
        std::string ghp = "gh" + std::string("p_") + t.make(36);
        std::string line = "mysqldump -uroot -p" + pw + " db | gzip > /b.gz; curl -H 'Authorization: token " + ghp + "' x";
        std::string shown = redact_secrets_in_line(line);
        EXPECT_EQ(shown.find(pw), std::string::npos) << shown;
        EXPECT_EQ(shown.find(ghp), std::string::npos) << shown;
        EXPECT_NE(shown.find("mysqldump -uroot -p****"), std::string::npos) << shown;
        EXPECT_EQ(redact_secrets_in_line("ls -la /tmp"), "ls -la /tmp");
    }
}

TEST(InspectSecrets, CredentialFiles)
{
    TokenMaker t(3);
    {
        SCOPED_TRACE("NetrcAcrossLinesAndMacros");
        std::string a = t.make(12), b = t.make(12);
        auto f = scan_content("/root/.netrc",
            "machine a login x password " + a + "\nmachine b\n login y\n password\n " + b + "\nmacdef init\npassword "
                + t.make(12) + "\n\ndefault login anonymous password changeme\n");
        ASSERT_EQ(f.size(), 2u);
        EXPECT_EQ(f[0].line, 1u);
        EXPECT_EQ(f[1].line, 5u);
    }
    {
        SCOPED_TRACE("PgpassEscapes");
        std::string pw = t.make(10);
        auto f = scan_content("/root/.pgpass", "h\\:x:5432:db:u:" + pw + "\\:tail\nincomplete:line\n");
        ASSERT_EQ(f.size(), 1u);
        EXPECT_EQ(f[0].excerpt.substr(0, 5), "h\\x5c"); // the host, escaped for display
    }
    {
        SCOPED_TRACE("DockerAuthsNeedAPassword");
        std::string pw = t.make(20);
        auto f = scan_content("/home/a/.docker/config.json",
            "{\"auths\":{\"a\":{\"auth\":\"" + base64_encode("user:") + "\"},\"b\":{\"auth\":\"" + base64_encode("u:" + pw)
                + "\"},\"c\":{\"identitytoken\":\"" + t.make(40) + "\"}}}");
        ASSERT_EQ(f.size(), 2u);
        for (const auto& x : f)
            EXPECT_EQ(x.kind, "secret.docker-registry-auth");
    }
    {
        SCOPED_TRACE("TokenInUrlUserName");
        std::string token = t.make(40);
        auto f = scan_content("/root/.git-credentials", "https://" + token + ":x-oauth-basic@github.com\n");
        ASSERT_EQ(f.size(), 1u);
        EXPECT_EQ(f[0].excerpt, "https://****@github.com");
        expect_redacted(f[0], { token }, 0);
    }
    {
        SCOPED_TRACE("PhpDefineAndJson");
        std::string a = t.make(16), b = t.make(16);
        auto f = scan_content("/var/www/html/wp-config.php", "define( 'DB_PASSWORD', '" + a + "' );\n");
        ASSERT_EQ(f.size(), 1u);
        EXPECT_EQ(f[0].excerpt.substr(0, 12), "DB_PASSWORD=");
        auto j
            = scan_content("/opt/app/config.json", "{\n  \"client_secret\": \"" + b + "\",\n  \"token_url\": \"https://x\"\n}\n");
        ASSERT_EQ(j.size(), 1u);
        EXPECT_EQ(j[0].line, 2u);
    }
}

TEST(InspectSecrets, LimitsAndHostileInput)
{
    TokenMaker t(17);
    {
        SCOPED_TRACE("FindingCap");
        std::string text;
        for (int i = 0; i < 300; ++i)
            text += "gh" + std::string("p_") + t.make(36) + " " + "gl" + std::string("pat-") + t.make(20) + " xo" + "xp-"
                + t.make(10, "0123456789") + "-" + t.make(12) + " sk" + "_live_" + t.make(20) + " https://u:" + t.make(12)
                + "@h.corp.net AKIA" + t.make(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") + "\n";
        auto f = scan_content("/root/dump.txt", text);
        EXPECT_LE(f.size(), k_max_secret_findings + 1);
        std::map<std::string, size_t> per_kind;
        for (const auto& x : f)
            ++per_kind[x.kind];
        EXPECT_EQ(per_kind["secret.too-many"], 1u);
        for (const auto& [kind, n] : per_kind)
            EXPECT_LE(n, k_max_secret_findings_per_rule) << kind;
    }
    {
        SCOPED_TRACE("PathologicalRepetitionsFinish");
        // Each of these makes every position an anchor hit; the scan stays linear.
        for (std::string unit : { "://", "-----BEGIN ", "AKIA", "ghp_", "xoxb-", "AccountKey=", "\"private_key\": \"", "a:b@",
                 "password=", "define('", "-p", "\\" }) {
            std::string text;
            while (text.size() < (1u << 20))
                text += unit;
            for (std::string path :
                { "/srv/.env", "/root/.bash_history", "/root/.netrc", "/root/.pgpass", "/root/.docker/config.json" })
                (void)scan_content(path, text);
        }
        std::string long_line(1 << 20, 'A');
        (void)scan_content("/root/.bash_history", long_line);
        (void)scan_content("/srv/.env", "password=" + long_line);
    }
    {
        SCOPED_TRACE("EmptyAndTiny");
        EXPECT_TRUE(scan_content("/srv/.env", "").empty());
        EXPECT_TRUE(scan_content("", "x").empty());
        EXPECT_TRUE(scan_content("/root/.bash_history", "\n\n\n").empty());
    }
    {
        SCOPED_TRACE("EntropyAndPlaceholders");
        EXPECT_DOUBLE_EQ(shannon_entropy(""), 0.0);
        EXPECT_DOUBLE_EQ(shannon_entropy("aaaa"), 0.0);
        EXPECT_DOUBLE_EQ(shannon_entropy("abcd"), 2.0);
        EXPECT_TRUE(is_placeholder_secret("ChangeMe123"));
        EXPECT_TRUE(is_placeholder_secret("${DB_PASSWORD}"));
        EXPECT_TRUE(is_placeholder_secret("<password>"));
        EXPECT_TRUE(is_placeholder_secret("********"));
        EXPECT_FALSE(is_placeholder_secret(t.make(16)));
    }
}

// Not a benchmark (bench/ measures speed): scans a few MiB of ordinary text with secrets
// planted in it, reports the rate, and checks that exactly the planted ones are found.
TEST(InspectSecrets, ThroughputSmoke)
{
    TokenMaker t(42);
    std::string text;
    const char* words[] = { "the", "service", "started", "listening", "on", "port", "8080", "user", "session", "closed", "for",
        "https://deb.debian.org/debian", "key", "value", "token", "secret", "a-b_c", "--flag", "PRIVATE", "BEGIN", "gh", "sk_",
        "xo", "AKI", "AS", "://", "ghost", "skills", "xoxo", "glass" };
    std::mt19937 rng(1);
    while (text.size() < (8u << 20)) {
        size_t n = 4 + rng() % 12;
        for (size_t i = 0; i < n; ++i) {
            text += words[rng() % std::size(words)];
            text += ' ';
        }
        if (rng() % 16 == 0)
            text += t.make(64, k_base64);
        text += '\n';
    }
    std::string ghp = "gh" + std::string("p_") + t.make(36);
    std::string body = t.make(64, k_base64) + "\n" + t.make(64, k_base64);
    text.insert(text.size() / 3, "\n" + ghp + "\n");
    text.insert(text.size() / 2, "\n" + pem("OPENSSH PRIVATE KEY", body));
    text.insert(text.size() * 3 / 4, "\nid AKIA" + t.make(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") + " \n");
    for (std::string path : { "/opt/app/big.log", "/etc/app/big.conf" }) {
        auto start = std::chrono::steady_clock::now();
        auto f = scan_content(path, text);
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::cout << "[ scan rate ] " << path << ": " << static_cast<int>(text.size() / 1048576.0 / seconds) << " MiB/s over "
                  << (text.size() >> 20) << " MiB (sanitizer builds are far slower)\n";
        std::set<std::string> kinds;
        for (const auto& x : f)
            kinds.insert(x.kind);
        EXPECT_EQ(kinds, (std::set<std::string> { "secret.github-token", "secret.pem-private-key", "secret.aws-access-key-id" }));
        EXPECT_EQ(f.size(), 3u);
    }
}

// OpenSSH keys made by ssh-keygen: the PEM rule decodes them to tell encrypted from not.
TEST(InspectSecrets, RealOpenSshKeys)
{
    test::TempDir dir;
    auto plain = run_command({ "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir.file("plain") }, 30s);
    auto enc = run_command({ "ssh-keygen", "-q", "-t", "ed25519", "-N", "a passphrase", "-f", dir.file("enc") }, 30s);
    ASSERT_TRUE(test::is_ok(plain));
    ASSERT_TRUE(test::is_ok(enc));
    if (!plain.value().status.success() || !enc.value().status.success())
        GTEST_SKIP() << "ssh-keygen is not usable here";
    auto p = scan_content("/root/.ssh/id_ed25519", test::read_all(dir.file("plain")));
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].severity, Severity::Critical);
    EXPECT_NE(p[0].message.find("not encrypted"), std::string::npos);
    auto e = scan_content("/root/.ssh/id_ed25519", test::read_all(dir.file("enc")));
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].severity, Severity::Medium);
    // Host keys left in a golden image are shared by every clone: found wherever they are.
    auto host = scan_content("/etc/ssh/ssh_host_ed25519_key", test::read_all(dir.file("plain")));
    ASSERT_EQ(host.size(), 1u);
    EXPECT_EQ(host[0].id, "secret.pem-private-key:/etc/ssh/ssh_host_ed25519_key");
}

} // namespace
} // namespace bulwark::inspect
