import ArgumentParser
import Foundation
import KilnCore
import KilnTemplate

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a template: syntax, types, values, referenced files. Creates nothing.")

    @OptionGroup var template: TemplateOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let loaded = try template.load()
        if output.json {
            let object: [String: Any] = ["valid": true, "template": template.template, "builds": loaded.builds.map(\.name)]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else if !output.quiet {
            print("\(template.template): valid (\(loaded.builds.count) build\(loaded.builds.count == 1 ? "" : "s"): \(loaded.builds.map(\.name).joined(separator: ", ")))")
        }
    }
}
