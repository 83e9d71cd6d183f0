import ArgumentParser
import Foundation
import KilnCore
import KilnDrivers
import KilnTemplate

struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print the resolved plan of a template: builds, steps, generalize operations, outputs. Sensitive values are masked.")

    @OptionGroup var template: TemplateOptions

    @Option(name: .long, help: "Output directory override, as for build.")
    var outputDir: String?

    func run() async throws {
        let loaded = try template.load(outputDirectory: outputDir)
        let plans = loaded.builds.map(BuildPlan.init)
        print(PlanDescription.render(loaded, displayPath: template.template, plans: plans,
                                     generalizeLines: GeneralizePlan.describe), terminator: "")
    }
}
