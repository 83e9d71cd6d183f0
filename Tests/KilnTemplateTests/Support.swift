import Foundation
import KilnTemplate

/// Helpers shared by the template tests.
enum Support {
    static var fixtures: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }

    /// The repository root, found from this source file's path.
    static func repositoryRoot(_ file: String = #filePath) -> URL {
        URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static let fixedNow = Date(timeIntervalSince1970: 1_700_000_000)

    static func options(_ edit: (inout LoadOptions) -> Void = { _ in }) -> LoadOptions {
        var options = LoadOptions(environment: ["HOME": "/home/test"], now: fixedNow, checkFiles: false,
                                  workingDirectory: "/work/here")
        edit(&options)
        return options
    }

    /// Loads YAML text as /tmpl/t.yaml, returning the template or the diagnostics' text.
    static func load(_ yaml: String, _ options: LoadOptions = Support.options()) -> Result<Template, TemplateErrors> {
        Result { () throws(TemplateErrors) -> Template in
            try TemplateLoader.load(text: yaml, path: "/tmpl/t.yaml", options: options)
        }
    }

    static func errors(_ yaml: String, _ options: LoadOptions = Support.options()) -> [String] {
        switch load(yaml, options) {
        case .success: return []
        case .failure(let errors): return errors.diagnostics.map(\.description)
        }
    }

    /// The only build of a template that must load.
    static func build(_ yaml: String, _ options: LoadOptions = Support.options()) throws -> BuildSpec {
        let template = try load(yaml, options).get()
        guard template.builds.count == 1 else { throw TemplateErrors(diagnostics: []) }
        return template.builds[0]
    }
}
