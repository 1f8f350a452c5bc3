#include "qemu/command_line.h"

#include "base/json.h"

namespace bulwark {

std::vector<std::string> build_qemu_argv(const QemuLaunchSpec& spec)
{
    std::vector<std::string> argv {
        spec.qemu_binary,
        "-name", "guest=" + spec.name + ",debug-threads=on",
        "-nodefaults", "-no-user-config", "-display", "none",
        // q35: PCI, so virtio-pci devices; no legacy devices are added by -nodefaults.
        "-machine", "q35,vmport=off,smbus=off,sata=off,usb=off,graphics=off",
        "-accel", spec.kvm ? "kvm" : "tcg",
        "-cpu", spec.kvm ? "host" : "max",
        "-smp", std::to_string(spec.cpus),
        "-m", std::to_string(spec.memory_mib) + "M",
        // QEMU's own seccomp filter: no obsolete syscalls, no setuid, no fork/exec, no
        // scheduler or resource changes.
        "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
        "-msg", "timestamp=on",
    };
    // The golden base is opened read-only: a guest can write only to its overlay.
    Json base_file {{"driver", "file"}, {"filename", spec.base_disk}, {"node-name", "base-file"}, {"read-only", true}};
    Json base {{"driver", "qcow2"}, {"file", "base-file"}, {"node-name", "base"}, {"read-only", true}};
    Json disk_file {{"driver", "file"}, {"filename", spec.overlay}, {"node-name", "disk0-file"}};
    Json disk {{"driver", "qcow2"}, {"file", "disk0-file"}, {"backing", "base"}, {"node-name", k_disk_node}};
    for (const auto& node : {base_file, base, disk_file, disk}) {
        argv.push_back("-blockdev");
        argv.push_back(json_dump(node));
    }
    argv.insert(argv.end(), {"-device", std::string("virtio-blk-pci,drive=") + k_disk_node + ",id=vblk0,bootindex=1"});
    if (!spec.kernel.empty()) {
        argv.insert(argv.end(), {"-kernel", spec.kernel});
        if (!spec.initrd.empty())
            argv.insert(argv.end(), {"-initrd", spec.initrd});
        if (!spec.cmdline.empty())
            argv.insert(argv.end(), {"-append", spec.cmdline});
    }
    // Console: the first serial port, written to a log file.
    argv.insert(argv.end(), {"-chardev", "file,id=con0,append=on,path=" + spec.console_log, "-serial", "chardev:con0"});
    // Guest agent over virtio-serial.
    argv.insert(argv.end(), {"-device", "virtio-serial-pci,id=vser0",
                                "-chardev", "socket,id=qga0,path=" + spec.agent_socket + ",server=on,wait=off",
                                "-device", "virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0"});
    argv.insert(argv.end(), {"-device", "virtio-rng-pci"});
    // Network: QEMU is the listening side, so it survives switch restarts (it accepts again).
    // No option ROM: nothing boots from the network.
    for (size_t i = 0; i < spec.nics.size(); ++i) {
        std::string id = "net" + std::to_string(i);
        argv.insert(argv.end(), {"-netdev", "stream,id=" + id + ",server=on,addr.type=unix,addr.path=" + spec.nics[i].socket,
                                    "-device", "virtio-net-pci,netdev=" + id + ",mac=" + spec.nics[i].mac + ",romfile="});
    }
    argv.insert(argv.end(), {"-qmp", "unix:" + spec.qmp_socket + ",server=on,wait=off"});
    if (!spec.loadvm.empty())
        argv.insert(argv.end(), {"-loadvm", spec.loadvm});
    return argv;
}

}  // namespace bulwark
