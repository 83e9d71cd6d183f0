import Foundation

/// Boot menu files for a bootstrapped image (pure text; the kernel version comes from the root tree).
enum BootloaderConfig {
    static func grubConfig(kernelVersion: String, cmdline: String) -> String {
        """
        # Written by Kiln. The disk's bootloader is GRUB for BIOS (i386-pc), embedded after the MBR.
        set timeout=0
        set default=0
        serial --unit=0 --speed=115200
        terminal_input serial console
        terminal_output serial console
        menuentry "Debian GNU/Linux" {
            set root=(hd0,msdos1)
            linux /boot/vmlinuz-\(kernelVersion) \(cmdline)
            initrd /boot/initrd.img-\(kernelVersion)
        }

        """
    }

    static func extlinuxConfig(kernelVersion: String, cmdline: String) -> String {
        """
        DEFAULT linux
        TIMEOUT 0
        PROMPT 0
        SERIAL 0 115200
        LABEL linux
          KERNEL /boot/vmlinuz-\(kernelVersion)
          INITRD /boot/initrd.img-\(kernelVersion)
          APPEND \(cmdline)

        """
    }
}
