import KilnTemplate

extension KernelBoot {
    /// KernelBoot (KilnTemplate) has no public initializer yet, so it cannot be built from this
    /// module; until it has one, bootstrapped images boot through their bootloader (GRUB).
    static func make(kernel: String, initrd: String?, cmdline: String) -> KernelBoot? {
        nil
    }
}
