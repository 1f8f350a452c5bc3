// Builds the QEMU command line for a guest: a minimal machine with virtio devices only.
#pragma once

#include <string>
#include <vector>

namespace bulwark {

// A NIC on Bulwark's switch: QEMU listens on a unix socket (-netdev stream) that bulwarkd
// connects to and hands to the switch worker.
struct QemuNic {
    std::string socket;
    std::string mac;
};

struct QemuLaunchSpec {
    std::string qemu_binary;
    std::string name;
    unsigned cpus = 1;
    unsigned memory_mib = 256;
    bool kvm = false;
    std::string base_disk;      // golden image blob (qcow2), opened read-only
    std::string overlay;        // the guest's own qcow2 overlay on base_disk
    std::string kernel;         // empty: boot from the disk's bootloader
    std::string initrd;
    std::string cmdline;
    std::string qmp_socket;
    std::string agent_socket;
    std::string console_log;
    std::string loadvm;         // snapshot tag to restore at start, or empty
    std::vector<QemuNic> nics;
};

// The node name of the guest's writable disk (snapshots are taken on it).
inline constexpr const char* k_disk_node = "disk0";

std::vector<std::string> build_qemu_argv(const QemuLaunchSpec& spec);

}  // namespace bulwark
