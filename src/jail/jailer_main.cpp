// bulwark-jailer: builds one guest's box and execs QEMU inside it. Started by bulwarkd as
// root; every option comes from bulwarkd (see jail/jail_spec.h and docs/jail.md).
#include <unistd.h>

#include <string>
#include <vector>

#include "jail/jail_spec.h"
#include "jail/launcher.h"

int main(int argc, char** argv)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    auto spec = bulwark::jail::parse_jailer_args(args);
    if (spec.is_error()) {
        std::string msg = "bulwark-jailer: spec: " + spec.error().message() + "\n";
        (void)!::write(STDERR_FILENO, msg.data(), msg.size());
        return bulwark::jail::k_jail_failed;
    }
    bulwark::jail::run_jailer(spec.value());
}
