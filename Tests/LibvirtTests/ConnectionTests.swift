import Foundation
import Testing
@testable import Libvirt

/// The wrapper against the real libvirtd: a transient domain that boots the host's kernel
/// (no disk; it panics after booting, which is enough) and is destroyed even when a check fails.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["KILN_INTEGRATION"] == "1"),
       .timeLimit(.minutes(3)))
struct ConnectionTests {
    static let uri = "qemu:///system"
    static let namespace = "https://example.org/libvirt-tests/1"

    static func domainXML(name: String) throws -> String {
        let kernels = try FileManager.default.contentsOfDirectory(atPath: "/boot").filter { $0.hasPrefix("vmlinuz-") }.sorted()
        let kernel = try #require(kernels.last, "no /boot/vmlinuz-* (install linux-image-amd64)")
        return """
            <domain type='qemu'>
              <name>\(name)</name>
              <metadata><t:mark xmlns:t='\(namespace)'><t:value>42</t:value></t:mark></metadata>
              <memory unit='MiB'>128</memory>
              <vcpu>1</vcpu>
              <os><type arch='x86_64' machine='pc'>hvm</type><kernel>/boot/\(kernel)</kernel><cmdline>console=ttyS0</cmdline></os>
              <devices><controller type='usb' model='none'/><video><model type='none'/></video><memballoon model='none'/></devices>
              <seclabel type='none' model='dac'/>
            </domain>
            """
    }

    @Test func versionsAndCapabilities() async throws {
        let connection = try await Connection.open(uri: Self.uri)
        #expect(await connection.isAlive())
        #expect(try await connection.libraryVersion() >= Version(major: 1, minor: 0, release: 0))
        #expect(try await connection.hypervisorVersion().major >= 2)
        #expect(try await connection.capabilities().contains("<capabilities>"))
    }

    @Test func lookingUpAMissingDomainIsNoDomain() async throws {
        let connection = try await Connection.open(uri: Self.uri)
        let error = await #expect(throws: LibvirtError.self) {
            _ = try await connection.lookupDomain(named: "kiln-test-missing-\(UUID().uuidString.prefix(8))")
        }
        #expect(error?.isNoDomain == true)
        #expect(error?.message.isEmpty == false)
    }

    @Test func badXMLIsAnErrorWithLibvirtsMessage() async throws {
        let connection = try await Connection.open(uri: Self.uri)
        let error = await #expect(throws: LibvirtError.self) {
            _ = try await connection.createDomain(xml: "<domain type='qemu'><name>kiln-test-bad</name></domain")
        }
        #expect(error?.message.isEmpty == false)
    }

    @Test func aTransientDomainLivesAndDies() async throws {
        let name = "kiln-test-\(UUID().uuidString.prefix(8).lowercased())"
        let connection = try await Connection.open(uri: Self.uri)
        let domain = try await connection.createDomain(xml: try Self.domainXML(name: name), flags: [.autodestroy])
        do {
            #expect(domain.name == name)
            #expect(try await domain.state().state == .running)
            let info = try await domain.info()
            #expect(info.state == .running && info.virtualCPUs == 1 && info.maxMemoryKiB == 128 * 1024)
            #expect(try await connection.listAllDomains(flags: [.active]).contains { $0.name == name })
            #expect(try await connection.lookupDomain(named: name).name == name)
            #expect(try await domain.xmlDescription().contains("<name>\(name)</name>"))

            let mark = try #require(try await domain.metadata(namespaceURI: Self.namespace))
            #expect(mark.contains("<t:value>42</t:value>") || mark.contains(">42<"))
            #expect(try await domain.metadata(namespaceURI: "https://example.org/nothing/1") == nil)

            #expect(try await domain.qemuMonitorCommand("info status", hmp: true).contains("running"))
            let qmp = try await domain.qemuMonitorCommand(#"{"execute":"query-status"}"#, hmp: false)
            #expect(qmp.contains("\"running\""))

            try await domain.shutdown()
            try await domain.destroy()
        } catch {
            try? await domain.destroy()
            throw error
        }
        let again = await #expect(throws: LibvirtError.self) { try await domain.destroy() }
        #expect(again?.isNoDomain == true || again?.isOperationInvalid == true)
        let lookup = await #expect(throws: LibvirtError.self) { _ = try await connection.lookupDomain(named: name) }
        #expect(lookup?.isNoDomain == true)
    }
}
