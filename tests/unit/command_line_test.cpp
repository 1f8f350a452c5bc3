// The QEMU command line: a minimal machine, QEMU's sandbox, a read-only base, virtio only.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "base/json.h"
#include "qemu/command_line.h"

namespace bulwark {
namespace {

QemuLaunchSpec spec()
{
    QemuLaunchSpec s;
    s.qemu_binary = "/usr/bin/qemu-system-x86_64";
    s.name = "web-1";
    s.cpus = 2;
    s.memory_mib = 512;
    s.base_disk = "/var/lib/bulwark/images/blobs/abc.qcow2";
    s.overlay = "/var/lib/bulwark/vms/web-1/disk.qcow2";
    s.qmp_socket = "/run/bulwark/web-1/qmp.sock";
    s.agent_socket = "/run/bulwark/web-1/qga.sock";
    s.console_log = "/var/lib/bulwark/vms/web-1/console.log";
    return s;
}

// The value following each occurrence of option.
std::vector<std::string> values_of(const std::vector<std::string>& argv, const std::string& option)
{
    std::vector<std::string> out;
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == option)
            out.push_back(argv[i + 1]);
    }
    return out;
}

bool has(const std::vector<std::string>& argv, const std::string& word)
{
    return std::find(argv.begin(), argv.end(), word) != argv.end();
}

TEST(QemuCommandLine, MinimalSandboxedMachine)
{
    {
        SCOPED_TRACE("MinimalMachine");
        auto argv = build_qemu_argv(spec());
        ASSERT_FALSE(argv.empty());
        EXPECT_EQ(argv[0], "/usr/bin/qemu-system-x86_64");
        EXPECT_TRUE(has(argv, "-nodefaults"));
        EXPECT_TRUE(has(argv, "-no-user-config"));
        EXPECT_EQ(values_of(argv, "-display"), std::vector<std::string> {"none"});
        EXPECT_EQ(values_of(argv, "-smp"), std::vector<std::string> {"2"});
        EXPECT_EQ(values_of(argv, "-m"), std::vector<std::string> {"512M"});
        auto machine = values_of(argv, "-machine");
        ASSERT_EQ(machine.size(), 1u);
        for (const char* off : {"usb=off", "sata=off", "vmport=off", "smbus=off"})
            EXPECT_NE(machine[0].find(off), std::string::npos) << off;
    }
    {
        SCOPED_TRACE("SandboxDeniesEverything");
        auto argv = build_qemu_argv(spec());
        auto sandbox = values_of(argv, "-sandbox");
        ASSERT_EQ(sandbox.size(), 1u);
        const std::string& s = sandbox[0];
        EXPECT_EQ(s.rfind("on", 0), 0u) << s;
        for (const char* opt : {"obsolete=deny", "elevateprivileges=deny", "spawn=deny", "resourcecontrol=deny"})
            EXPECT_NE(s.find(opt), std::string::npos) << opt;
    }
    {
        SCOPED_TRACE("AccelAndCpu");
        auto s = spec();
        auto tcg = build_qemu_argv(s);
        EXPECT_EQ(values_of(tcg, "-accel"), std::vector<std::string> {"tcg"});
        s.kvm = true;
        auto kvm = build_qemu_argv(s);
        EXPECT_EQ(values_of(kvm, "-accel"), std::vector<std::string> {"kvm"});
        EXPECT_EQ(values_of(kvm, "-cpu"), std::vector<std::string> {"host"});
    }
    {
        SCOPED_TRACE("NameIsGuestName");
        auto argv = build_qemu_argv(spec());
        auto name = values_of(argv, "-name");
        ASSERT_EQ(name.size(), 1u);
        EXPECT_EQ(name[0].rfind("guest=web-1,", 0), 0u) << name[0];
    }
}

TEST(QemuCommandLine, BlockdevsReadOnlyBaseAndWritableOverlay)
{
    {
        SCOPED_TRACE("BlockdevsReadOnlyBaseAndWritableOverlay");
        auto s = spec();
        auto argv = build_qemu_argv(s);
        auto blockdevs = values_of(argv, "-blockdev");
        ASSERT_EQ(blockdevs.size(), 4u);
        std::map<std::string, Json> nodes;
        for (const auto& text : blockdevs) {
            Json node = Json::parse(text, nullptr, false);
            ASSERT_FALSE(node.is_discarded()) << text;
            nodes[node["node-name"].get<std::string>()] = node;
        }
        ASSERT_TRUE(nodes.count("base-file") && nodes.count("base") && nodes.count("disk0-file") && nodes.count(k_disk_node));
        EXPECT_EQ(nodes["base-file"]["filename"], s.base_disk);
        EXPECT_EQ(nodes["base-file"]["read-only"], true);
        EXPECT_EQ(nodes["base"]["read-only"], true);
        EXPECT_EQ(nodes["base"]["driver"], "qcow2");
        EXPECT_EQ(nodes["disk0-file"]["filename"], s.overlay);
        EXPECT_EQ(nodes[k_disk_node]["backing"], "base");
        EXPECT_EQ(nodes[k_disk_node]["driver"], "qcow2");
        // The overlay's backing is pinned by node name, never taken from the overlay's header.
        EXPECT_TRUE(nodes[k_disk_node]["backing"].is_string());
        // No node is ever opened as raw over a qcow2, or via a format probe.
        for (const auto& [name, node] : nodes)
            EXPECT_TRUE(node.contains("driver")) << name;
    }
    {
        SCOPED_TRACE("PathsWithJsonSpecialCharactersStayInsideTheirField");
        auto s = spec();
        s.base_disk = "/data/\"evil\",\"read-only\":false,\"x\":\"/base.qcow2";
        auto argv = build_qemu_argv(s);
        for (const auto& text : values_of(argv, "-blockdev")) {
            Json node = Json::parse(text, nullptr, false);
            ASSERT_FALSE(node.is_discarded());
            if (node["node-name"] == "base-file") {
                EXPECT_EQ(node["filename"], s.base_disk);
                EXPECT_EQ(node["read-only"], true);
            }
        }
    }
}

TEST(QemuCommandLine, VirtioDevicesOnly)
{
    {
        SCOPED_TRACE("VirtioDevicesOnly");
        auto argv = build_qemu_argv(spec());
        for (const char* legacy : {"-hda", "-hdb", "-cdrom", "-fda", "-drive", "-net", "-netdev", "-nic", "-usb",
                 "-usbdevice", "-soundhw", "-audiodev", "-vga", "-parallel", "-monitor", "-vnc", "-spice"}) {
            EXPECT_FALSE(has(argv, legacy)) << legacy;
        }
        auto devices = values_of(argv, "-device");
        ASSERT_FALSE(devices.empty());
        for (const auto& d : devices) {
            std::string driver = d.substr(0, d.find(','));
            bool virtio = driver.rfind("virtio-", 0) == 0 || driver == "virtserialport";
            EXPECT_TRUE(virtio) << d;
            EXPECT_EQ(d.find("ide"), std::string::npos) << d;
        }
        // The disk is on virtio-blk and boots first.
        bool found_disk = false;
        for (const auto& d : devices) {
            if (d.rfind("virtio-blk-pci,", 0) == 0 && d.find(std::string("drive=") + k_disk_node) != std::string::npos)
                found_disk = true;
        }
        EXPECT_TRUE(found_disk);
        for (const auto& a : argv) {
            EXPECT_EQ(a.find("if=ide"), std::string::npos) << a;
            EXPECT_EQ(a.find("ide-hd"), std::string::npos) << a;
        }
    }
    {
        SCOPED_TRACE("SocketsAndConsole");
        auto s = spec();
        auto argv = build_qemu_argv(s);
        auto qmp = values_of(argv, "-qmp");
        ASSERT_EQ(qmp.size(), 1u);
        EXPECT_EQ(qmp[0].rfind("unix:" + s.qmp_socket + ",", 0), 0u) << qmp[0];
        EXPECT_NE(qmp[0].find("server=on"), std::string::npos);
        EXPECT_NE(qmp[0].find("wait=off"), std::string::npos);
        bool agent = false;
        bool console = false;
        for (const auto& c : values_of(argv, "-chardev")) {
            if (c.find("path=" + s.agent_socket) != std::string::npos)
                agent = true;
            if (c.rfind("file,", 0) == 0 && c.find("path=" + s.console_log) != std::string::npos)
                console = true;
        }
        EXPECT_TRUE(agent);
        EXPECT_TRUE(console);
        EXPECT_EQ(values_of(argv, "-serial"), std::vector<std::string> {"chardev:con0"});
    }
}

TEST(QemuCommandLine, OptionalArguments)
{
    {
        SCOPED_TRACE("LoadvmOnlyWhenSet");
        auto s = spec();
        EXPECT_FALSE(has(build_qemu_argv(s), "-loadvm"));
        s.loadvm = "before-upgrade";
        auto argv = build_qemu_argv(s);
        EXPECT_EQ(values_of(argv, "-loadvm"), std::vector<std::string> {"before-upgrade"});
    }
    {
        SCOPED_TRACE("KernelOptions");
        auto s = spec();
        auto none = build_qemu_argv(s);
        for (const char* opt : {"-kernel", "-initrd", "-append"})
            EXPECT_FALSE(has(none, opt)) << opt;
        s.kernel = "/k/vmlinuz";
        s.initrd = "/k/initrd.img";
        s.cmdline = "console=ttyS0 root=/dev/vda1";
        auto argv = build_qemu_argv(s);
        EXPECT_EQ(values_of(argv, "-kernel"), std::vector<std::string> {"/k/vmlinuz"});
        EXPECT_EQ(values_of(argv, "-initrd"), std::vector<std::string> {"/k/initrd.img"});
        EXPECT_EQ(values_of(argv, "-append"), std::vector<std::string> {"console=ttyS0 root=/dev/vda1"});
        // initrd and append mean nothing without a kernel.
        s.kernel.clear();
        auto no_kernel = build_qemu_argv(s);
        EXPECT_FALSE(has(no_kernel, "-initrd"));
        EXPECT_FALSE(has(no_kernel, "-append"));
    }
}

}  // namespace
}  // namespace bulwark
