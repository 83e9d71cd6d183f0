import Testing
@testable import Libvirt

@Suite struct VersionTests {
    @Test func decodesLibvirtEncoding() {
        #expect(Version(encoded: 9_000_000) == Version(major: 9, minor: 0, release: 0))
        #expect(Version(encoded: 7_002_022).description == "7.2.22")
        #expect(Version(major: 7, minor: 2, release: 22) < Version(major: 9, minor: 0, release: 0))
    }
}
