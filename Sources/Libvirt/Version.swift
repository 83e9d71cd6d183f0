/// A libvirt or hypervisor version, decoded from libvirt's `major * 1_000_000 + minor * 1_000 + release`.
public struct Version: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var release: Int

    public init(major: Int, minor: Int, release: Int) {
        self.major = major
        self.minor = minor
        self.release = release
    }

    public init(encoded: UInt) {
        let value = Int(encoded)
        self.init(major: value / 1_000_000, minor: value / 1_000 % 1_000, release: value % 1_000)
    }

    public var description: String { "\(major).\(minor).\(release)" }

    public static func < (lhs: Version, rhs: Version) -> Bool {
        (lhs.major, lhs.minor, lhs.release) < (rhs.major, rhs.minor, rhs.release)
    }
}
