// bulwarkd: the control plane. Wiring only; each subsystem lives in its own folder.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "api/handlers.h"
#include "api/server.h"
#include "audit/audit_log.h"
#include "base/log.h"
#include "base/paths.h"
#include "base/process.h"
#include "base/system.h"
#include "crypto/signing_key.h"
#include "image/image_store.h"
#include "net/network.h"
#include "store/db.h"
#include "scan/vetting.h"
#include "vm/vm_manager.h"
#include "vuln/feed_store.h"

using namespace bulwark;

namespace {

constexpr const char* k_usage = R"(Usage: bulwarkd [--home DIR] [--detach] [--log-level debug|info|warn|error]

The Bulwark control plane. It keeps its state under DIR (default: $BULWARK_HOME, else
$XDG_DATA_HOME/bulwark, else ~/.local/share/bulwark) and listens on DIR/bulwarkd.sock.

  --home DIR     data directory (several daemons may run side by side with different homes)
  --detach       run in the background once ready; the log goes to DIR/bulwarkd.log
  --log-level L  debug, info (default), warn or error
  --version      print the version

Environment: BULWARK_QEMU (QEMU binary, default qemu-system-x86_64), BULWARK_QEMU_IMG
(default qemu-img), BULWARK_ACCEL=tcg to never use KVM, BULWARK_CONSOLE_LIMIT (bytes a
guest's console log may reach before it is cut back; default 16 MiB).
Every guest's QEMU runs jailed (docs/jail.md), which needs root: BULWARK_JAILER (default: the
bulwark-jailer beside bulwarkd), BULWARK_JAIL_UID_BASE (a guest's uid is this plus its id;
default 2000000000), BULWARK_JAIL=off runs QEMU unjailed (insecure: for benchmarks only).
BULWARK_INSPECTOR: the image inspector worker (default: bulwark-inspect beside bulwarkd);
BULWARK_SWITCH: the switch worker (default: bulwark-switch beside bulwarkd);
BULWARK_INSPECT_TIMEOUT: seconds an inspection may take before it is killed (default 1800).
)";

struct Options {
    std::string home;
    bool detach = false;
    log::Level level = log::Level::Info;
};

// KVM is used when /dev/kvm opens and QEMU can really start a vCPU with it: some nested
// hosts offer a /dev/kvm on which QEMU aborts at the first vCPU reset. A QEMU that is still
// alive (paused, -S) after a quarter second got past that point.
bool kvm_usable(const std::string& qemu)
{
    if (const char* a = std::getenv("BULWARK_ACCEL"); a && std::string(a) == "tcg")
        return false;
    int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    ::close(fd);
    auto binary = sys::find_executable(qemu);
    if (binary.is_error())
        return false;
    SpawnOptions probe;
    probe.argv = {binary.value(), "-accel", "kvm", "-cpu", "host", "-machine", "q35", "-nodefaults", "-no-user-config",
        "-display", "none", "-S", "-m", "16M"};
    probe.env = minimal_env();
    auto child = Child::spawn(probe);
    if (child.is_error())
        return false;
    auto status = child.value().wait(std::chrono::milliseconds(250));
    if (status.is_ok()) {
        log::warn("/dev/kvm is present but QEMU cannot run a vCPU on it (" + status.value().describe()
            + "); guests use software emulation (TCG)");
        return false;
    }
    (void)pidfd_send_signal(child.value().pidfd(), SIGKILL);
    (void)child.value().wait();
    return true;
}

// Runs the daemon until SIGTERM/SIGINT. ready_fd (or -1) receives "ok\n" once the socket
// accepts requests, or the error text.
int run_daemon(const Options& opt, int ready_fd)
{
    auto report = [&](const std::string& text) {
        if (ready_fd >= 0) {
            (void)sys::write_all(ready_fd, text);
            ::close(ready_fd);
            ready_fd = -1;
        }
    };
    auto fail = [&](const Error& e) {
        log::error(e.message());
        report("error: " + e.message() + "\n");
        return 1;
    };

    const std::string& home = opt.home;
    auto lock_fd = sys::open(home + "/bulwarkd.lock", O_RDWR | O_CREAT, 0600);
    if (lock_fd.is_error())
        return fail(lock_fd.error());
    if (::flock(lock_fd.value().get(), LOCK_EX | LOCK_NB) < 0)
        return fail(Error(ErrorKind::Conflict, "another bulwarkd is already running for " + home));

    auto key = SigningKey::load_or_create(home + "/keys");
    if (key.is_error())
        return fail(key.error());
    auto db = Db::open(home + "/bulwark.db");
    if (db.is_error())
        return fail(db.error());
    AuditLog audit(*db.value(), key.value());
    auto interrupted = audit.close_interrupted();
    if (interrupted.is_error())
        return fail(interrupted.error());
    if (interrupted.value() > 0)
        log::warn(std::to_string(interrupted.value()) + " audited operation(s) were interrupted by the last shutdown");

    VmConfig config;
    config.home = home;
    if (const char* q = std::getenv("BULWARK_QEMU"); q && *q)
        config.qemu_binary = q;
    if (const char* q = std::getenv("BULWARK_QEMU_IMG"); q && *q)
        config.qemu_img = q;
    config.kvm = kvm_usable(config.qemu_binary);
    if (const char* l = std::getenv("BULWARK_CONSOLE_LIMIT"); l && *l) {
        char* end = nullptr;
        unsigned long long v = std::strtoull(l, &end, 10);
        if (l[0] >= '0' && l[0] <= '9' && end && *end == '\0' && v >= 4096 && v <= (1ULL << 40))
            config.console_limit = v;
    }
    if (const char* j = std::getenv("BULWARK_JAIL"); j && std::string(j) == "off") {
        config.jail = false;
        log::warn("BULWARK_JAIL=off: guests run UNJAILED, with bulwarkd's privileges; an escaped guest owns the host");
    } else if (::geteuid() != 0) {
        return fail(Error(ErrorKind::Denied, "bulwarkd must run as root to jail its guests (BULWARK_JAIL=off runs them unjailed: insecure)"));
    }
    if (const char* j = std::getenv("BULWARK_JAILER"); j && *j) {
        config.jailer_binary = j;
    } else {
        auto self = sys::realpath("/proc/self/exe");
        config.jailer_binary = sys::dirname(self.is_ok() ? self.value() : std::string("/usr/local/bin/bulwarkd")) + "/bulwark-jailer";
    }
    config.jail_config.home = home;
    if (const char* b = std::getenv("BULWARK_JAIL_UID_BASE"); b && *b) {
        char* end = nullptr;
        unsigned long long v = std::strtoull(b, &end, 10);
        if (!(b[0] >= '0' && b[0] <= '9' && end && *end == '\0' && v >= 1000 && v <= 0x7f000000ULL))
            return fail(Error(ErrorKind::InvalidArgument, "BULWARK_JAIL_UID_BASE must be a number from 1000 to 2130706432"));
        config.jail_config.uid_base = static_cast<uid_t>(v);
    }
    if (sys::find_executable(config.qemu_binary).is_error())
        log::warn("QEMU (" + config.qemu_binary + ") is not installed: guests cannot start until it is (apt-get install qemu-system-x86)");
    auto qemu_img = sys::find_executable(config.qemu_img);
    if (qemu_img.is_error())
        return fail(Error(ErrorKind::Unavailable, "qemu-img is not installed; install the qemu-utils package"));
    config.qemu_img = qemu_img.value();

    ImageStore images(*db.value(), key.value(), home + "/images", config.qemu_img);
    if (auto r = images.initialise(); r.is_error())
        return fail(r.error());
    // The virtual network: bulwark-switch beside bulwarkd, in a jail of its own (the uid just
    // below the inspector's). Declared before the guests so that it outlives their manager.
    net::NetworkConfig netconfig;
    netconfig.home = home;
    netconfig.jailer_binary = config.jailer_binary;
    netconfig.jailed = config.jail;
    netconfig.uid = config.jail_config.uid_base - 1;
    if (const char* w = std::getenv("BULWARK_SWITCH"); w && *w) {
        netconfig.switch_binary = w;
    } else {
        auto self = sys::realpath("/proc/self/exe");
        netconfig.switch_binary = sys::dirname(self.is_ok() ? self.value() : std::string("/usr/local/bin/bulwarkd")) + "/bulwark-switch";
    }
    // Uplinks: one passt per guest NIC on a segment the policy gives one, as the uid below the
    // switch's.
    netconfig.uplink_uid = config.jail_config.uid_base - 2;
    if (auto passt = sys::find_executable(std::getenv("BULWARK_PASST") ? std::getenv("BULWARK_PASST") : "passt"); passt.is_ok())
        netconfig.passt_binary = passt.value();
    netconfig.socket_path = [home](int64_t vm_id, int64_t index) {
        return home + "/run/" + std::to_string(vm_id) + "/net" + std::to_string(index) + ".sock";
    };
    auto network = net::Network::create(*db.value(), netconfig);
    if (network.is_error())
        return fail(network.error());
    auto vms = VmManager::create(*db.value(), images, config);
    if (vms.is_error())
        return fail(vms.error());
    vms.value()->set_network(network.value().get());
    if (auto r = vms.value()->reconcile(); r.is_error())
        return fail(r.error());
    if (auto r = network.value()->resume(); r.is_error())
        log::error("the switch worker could not be started: " + r.error().message() + "; guests run without network");

    // The image inspector: bulwark-inspect beside bulwarkd, in a jail of its own (the uid
    // just below the guests' range is the inspector's), with a deadline.
    vuln::FeedStore feed(*db.value());
    scan::InspectorConfig inspector;
    inspector.home = home;
    inspector.jailer = config.jailer_binary;
    inspector.uid = config.jail_config.uid_base;
    inspector.jailed = config.jail;
    if (const char* w = std::getenv("BULWARK_INSPECTOR"); w && *w) {
        inspector.worker = w;
    } else {
        auto self = sys::realpath("/proc/self/exe");
        inspector.worker = sys::dirname(self.is_ok() ? self.value() : std::string("/usr/local/bin/bulwarkd")) + "/bulwark-inspect";
    }
    if (const char* t = std::getenv("BULWARK_INSPECT_TIMEOUT"); t && *t) {
        char* end = nullptr;
        unsigned long long v = std::strtoull(t, &end, 10);
        if (!(t[0] >= '1' && t[0] <= '9' && end && *end == '\0' && v <= 86400))
            return fail(Error(ErrorKind::InvalidArgument, "BULWARK_INSPECT_TIMEOUT must be a number of seconds from 1 to 86400"));
        inspector.timeout = std::chrono::seconds(v);
    }
    if (!sys::exists(inspector.worker))
        log::warn("the image inspector (" + inspector.worker + ") is missing: imports and scans will fail until it is installed");
    scan::Vetting vetting(inspector, feed);
    ApiHandlers handlers(*vms.value(), images, audit, key.value(), vetting, feed, home);
    auto server = ApiServer::create(home + "/bulwarkd.sock", handlers);
    if (server.is_error())
        return fail(server.error());

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC);
    log::info("bulwarkd ready: home " + home + ", accelerator " + vms.value()->accel_name() + ", pid " + std::to_string(::getpid()));
    report("ok\n");
    auto ran = server.value()->run(sfd);
    (void)sys::unlink_if_exists(home + "/bulwarkd.sock");
    log::info("bulwarkd stopping; guests keep running and will be reattached by the next start");
    return ran.is_ok() ? 0 : fail(ran.error());
}

}  // namespace

int main(int argc, char** argv)
{
    Options opt;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--home" && i + 1 < argc) {
            opt.home = argv[++i];
        } else if (a.rfind("--home=", 0) == 0) {
            opt.home = a.substr(7);
        } else if (a == "--detach") {
            opt.detach = true;
        } else if (a == "--log-level" && i + 1 < argc) {
            std::string l = argv[++i];
            opt.level = l == "debug" ? log::Level::Debug : l == "warn" ? log::Level::Warn : l == "error" ? log::Level::Error : log::Level::Info;
        } else if (a == "--version") {
            std::puts("bulwarkd 0.1.0");
            return 0;
        } else if (a == "--help" || a == "-h") {
            std::fputs(k_usage, stdout);
            return 0;
        } else {
            std::fprintf(stderr, "bulwarkd: unknown argument '%s'\n%s", a.c_str(), k_usage);
            return 2;
        }
    }
    log::set_level(opt.level);
    ::umask(077);
    if (opt.home.empty())
        opt.home = default_home();
    if (auto made = sys::mkdirs(opt.home, 0700); made.is_error()) {
        std::fprintf(stderr, "bulwarkd: %s\n", made.error().message().c_str());
        return 1;
    }
    auto resolved = sys::realpath(opt.home);
    if (resolved.is_error()) {
        std::fprintf(stderr, "bulwarkd: %s\n", resolved.error().message().c_str());
        return 1;
    }
    opt.home = resolved.value();
    // Paths under home end up in QEMU option strings (',' separates options there) and in
    // unix socket addresses (108 bytes at most).
    if (opt.home.find(',') != std::string::npos || opt.home.size() > 80) {
        std::fprintf(stderr, "bulwarkd: the data directory path must be at most 80 characters and contain no ','\n");
        return 2;
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    if (!opt.detach)
        return run_daemon(opt, -1);

    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) < 0) {
        std::perror("bulwarkd: pipe");
        return 1;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        std::perror("bulwarkd: fork");
        return 1;
    }
    if (pid == 0) {
        ::close(pipefd[0]);
        ::setsid();
        int logfd = ::open((opt.home + "/bulwarkd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        int nullfd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (logfd >= 0) {
            ::dup2(logfd, 1);
            ::dup2(logfd, 2);
        }
        if (nullfd >= 0)
            ::dup2(nullfd, 0);
        std::_Exit(run_daemon(opt, pipefd[1]));
    }
    ::close(pipefd[1]);
    char buf[4096];
    std::string answer;
    ssize_t n;
    while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0)
        answer.append(buf, static_cast<size_t>(n));
    if (answer == "ok\n") {
        std::printf("bulwarkd started (pid %d, home %s)\n", pid, opt.home.c_str());
        return 0;
    }
    std::fprintf(stderr, "bulwarkd: %s", answer.empty() ? "failed to start; see the log\n" : answer.c_str());
    return 1;
}
