import ArgumentParser
import Foundation
import KilnCore
import KilnTemplate

/// What selects and parameterises a template: shared by validate, inspect and build.
struct TemplateOptions: ParsableArguments {
    @Argument(help: "The template file (YAML or JSON).", completion: .file(extensions: ["yaml", "yml", "json"]))
    var template: String

    @Option(name: .customLong("var"), help: ArgumentHelp("Set a variable (repeatable; later ones win).", valueName: "name=value"))
    var variables: [String] = []

    @Option(name: .customLong("var-file"), help: ArgumentHelp("Read variables from a YAML/JSON file (repeatable).", valueName: "path"),
            completion: .file())
    var variableFiles: [String] = []

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Run only these builds (comma-separated, globs allowed).", valueName: "names"))
    var only: [String] = []

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Skip these builds (comma-separated, globs allowed).", valueName: "names"))
    var except: [String] = []

    func loadOptions(outputDirectory: String? = nil, checkFiles: Bool = true) -> LoadOptions {
        var options = LoadOptions()
        options.checkFiles = checkFiles
        options.variables = variables.map { pair in
            guard let equals = pair.firstIndex(of: "=") else { return (name: pair, value: "\u{0}missing") }
            return (name: String(pair[..<equals]), value: String(pair[pair.index(after: equals)...]))
        }
        options.variableFiles = variableFiles
        options.only = only.flatMap { $0.split(separator: ",").map(String.init) }
        options.except = except.flatMap { $0.split(separator: ",").map(String.init) }
        options.environment = ProcessInfo.processInfo.environment
        options.now = Date()
        options.outputDirectoryOverride = outputDirectory
        return options
    }

    /// Loads and validates; on errors prints every diagnostic and exits 2. Without `checkFiles`,
    /// files the template names need not exist (commands that do not build).
    func load(outputDirectory: String? = nil, checkFiles: Bool = true) throws -> Template {
        for pair in variables where !pair.contains("=") {
            FileHandle.standardError.write(Data("error: --var \(pair): expected name=value\n".utf8))
            throw ExitCode(2)
        }
        do {
            return try TemplateLoader.load(path: template, options: loadOptions(outputDirectory: outputDirectory,
                                                                                checkFiles: checkFiles))
        } catch {
            let count = error.diagnostics.count
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            FileHandle.standardError.write(Data("\(template): \(count) error\(count == 1 ? "" : "s"); nothing was created\n".utf8))
            throw ExitCode(2)
        }
    }
}
