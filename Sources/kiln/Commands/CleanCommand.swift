import ArgumentParser
import Foundation
import KilnCore

struct CleanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Remove what killed kiln runs left behind: domains and work directories whose owner process is gone.",
        discussion: "Resources of builds that are still running are never touched. kiln build does this on start too.")

    @Option(name: .long, help: ArgumentHelp("libvirt connection URI (repeatable; default qemu:///system). On a remote host "
                                            + "this also removes the storage pools of dead runs.", valueName: "uri"))
    var connect: [String] = []

    func run() async throws {
        let uris = connect.isEmpty ? ["qemu:///system"] : connect
        let report = await Janitor.clean(hypervisors: uris.map(DriverFactory.hypervisor(uri:)), workRoot: BuildOptions.defaultWorkRoot)
        for line in report.removed { print("removed \(line)") }
        for line in report.failed { FileHandle.standardError.write(Data("could not remove \(line)\n".utf8)) }
        if report.removed.isEmpty && report.failed.isEmpty { print("nothing to clean") }
        if !report.failed.isEmpty { throw ExitCode(1) }
    }
}
