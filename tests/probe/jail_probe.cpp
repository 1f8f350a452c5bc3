// jail_probe: runs in QEMU's place inside a guest's jail and tries to get out. Each command
// prints one JSON line: {"check": ..., "target": ..., "ok": true|false, "error": "...", ...}.
// Built static and without sanitizers: the jail has no /proc for a sanitizer runtime to read.
//
//   jail_probe read PATH | write PATH | connect-tcp IP PORT | connect-unix PATH | kill PID
//              alloc MIB | fork-max N | exec PATH | whoami | setuid0 | unshare-user | mount
//              list DIR
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <string>
#include <vector>

static std::string quote(const std::string& s)
{
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            out += '\\';
        if (static_cast<unsigned char>(c) < 0x20)
            out += '?';
        else
            out += c;
    }
    return out + "\"";
}

static void emit(const std::string& check, const std::string& target, bool ok, int err, const std::string& extra = "")
{
    std::string line = "{\"check\":" + quote(check) + ",\"target\":" + quote(target) + ",\"ok\":" + (ok ? "true" : "false")
        + ",\"error\":" + quote(ok ? "" : strerror(err)) + extra + "}\n";
    (void)!write(1, line.data(), line.size());
}

static void list(const std::string& dir, int depth, std::vector<std::string>& out)
{
    if (depth > 8 || out.size() > 5000)
        return;
    DIR* d = opendir(dir.c_str());
    if (!d)
        return;
    while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..")
            continue;
        std::string path = (dir == "/" ? "" : dir) + "/" + name;
        out.push_back(path);
        // Big system directories are listed, not walked.
        if (e->d_type == DT_DIR && path.rfind("/usr/", 0) != 0)
            list(path, depth + 1, out);
    }
    closedir(d);
}

int main(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i) {
        std::string cmd = argv[i];
        auto arg = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (cmd == "read") {
            std::string path = arg();
            int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
            char c;
            bool ok = fd >= 0 && read(fd, &c, 1) >= 0;
            emit("read", path, ok, errno);
            if (fd >= 0)
                close(fd);
        } else if (cmd == "write") {
            std::string path = arg();
            int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
            emit("write", path, fd >= 0, errno);
            if (fd >= 0)
                close(fd);
        } else if (cmd == "connect-tcp") {
            std::string ip = arg();
            int port = atoi(arg().c_str());
            int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in sa {};
            sa.sin_family = AF_INET;
            sa.sin_port = htons(static_cast<uint16_t>(port));
            inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
            bool ok = s >= 0 && connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
            emit("connect-tcp", ip + ":" + std::to_string(port), ok, errno);
        } else if (cmd == "connect-unix") {
            std::string path = arg();
            int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_un sa {};
            sa.sun_family = AF_UNIX;
            strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
            bool ok = s >= 0 && connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
            emit("connect-unix", path, ok, errno);
        } else if (cmd == "kill") {
            std::string pid = arg();
            emit("kill", pid, kill(atoi(pid.c_str()), 0) == 0, errno);
        } else if (cmd == "alloc") {
            std::string mib = arg();
            pid_t child = fork();
            if (child == 0) {
                size_t bytes = static_cast<size_t>(atol(mib.c_str())) << 20;
                char* p = static_cast<char*>(malloc(bytes));
                if (!p)
                    _exit(3);
                for (size_t off = 0; off < bytes; off += 4096)
                    p[off] = 1;
                _exit(0);
            }
            int status = 0;
            waitpid(child, &status, 0);
            bool completed = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            emit("alloc", mib, completed, ENOMEM,
                ",\"signal\":" + std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0));
        } else if (cmd == "fork-max") {
            int n = atoi(arg().c_str());
            std::vector<pid_t> kids;
            int err = 0;
            for (int k = 0; k < n; ++k) {
                pid_t c = fork();
                if (c == 0) {
                    pause();
                    _exit(0);
                }
                if (c < 0) {
                    err = errno;
                    break;
                }
                kids.push_back(c);
            }
            for (pid_t c : kids)
                kill(c, SIGKILL);
            for (pid_t c : kids)
                waitpid(c, nullptr, 0);
            emit("fork-max", std::to_string(n), static_cast<int>(kids.size()) == n, err,
                ",\"forked\":" + std::to_string(kids.size()));
        } else if (cmd == "exec") {
            std::string path = arg();
            pid_t child = fork();
            if (child == 0) {
                char* args[] = {const_cast<char*>(path.c_str()), const_cast<char*>("whoami"), nullptr};
                char* env[] = {nullptr};
                execve(path.c_str(), args, env);
                emit("exec", path, false, errno);
                _exit(127);
            }
            int status = 0;
            waitpid(child, &status, 0);
        } else if (cmd == "whoami") {
            uid_t r, e, s;
            getresuid(&r, &e, &s);
            __user_cap_header_struct header {_LINUX_CAPABILITY_VERSION_3, 0};
            __user_cap_data_struct data[2] {};
            syscall(SYS_capget, &header, data);
            unsigned long long eff = data[0].effective | (static_cast<unsigned long long>(data[1].effective) << 32);
            unsigned long long prm = data[0].permitted | (static_cast<unsigned long long>(data[1].permitted) << 32);
            int bounding = 0;
            for (int cap = 0; cap < 64; ++cap) {
                if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
                    ++bounding;
            }
            emit("whoami", "", true, 0,
                ",\"uid\":" + std::to_string(r) + ",\"euid\":" + std::to_string(e) + ",\"suid\":" + std::to_string(s)
                    + ",\"gid\":" + std::to_string(getgid()) + ",\"groups\":" + std::to_string(getgroups(0, nullptr))
                    + ",\"cap_eff\":" + std::to_string(eff) + ",\"cap_prm\":" + std::to_string(prm)
                    + ",\"cap_bounding\":" + std::to_string(bounding)
                    + ",\"no_new_privs\":" + std::to_string(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0))
                    + ",\"seccomp\":" + std::to_string(prctl(PR_GET_SECCOMP, 0, 0, 0, 0)) + ",\"pid\":" + std::to_string(getpid()));
        } else if (cmd == "setuid0") {
            emit("setuid0", "", setuid(0) == 0, errno);
        } else if (cmd == "unshare-user") {
            emit("unshare-user", "", unshare(CLONE_NEWUSER) == 0, errno);
        } else if (cmd == "mount") {
            emit("mount", "/run", mount("x", "/run", "tmpfs", 0, nullptr) == 0, errno);
        } else if (cmd == "list") {
            std::string dir = arg();
            std::vector<std::string> out;
            list(dir, 0, out);
            std::string extra = ",\"entries\":[";
            for (size_t k = 0; k < out.size(); ++k)
                extra += (k ? "," : "") + quote(out[k]);
            emit("list", dir, true, 0, extra + "]");
        } else {
            emit("unknown", cmd, false, EINVAL);
        }
    }
    return 0;
}
