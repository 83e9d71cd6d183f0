import ArgumentParser
import Foundation

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print kiln's version.")

    func run() {
        print("kiln \(Kiln.version)")
    }
}
