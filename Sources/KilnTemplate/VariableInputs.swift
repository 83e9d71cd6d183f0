import Foundation
import Yams

extension Decoding {
    /// Values given from outside the template, in increasing precedence:
    /// KILN_VAR_<name>, then each `--var-file` in order, then each `--var` in order.
    func variableOverrides(for declarations: [VariableDeclaration]) -> [(name: String, value: String, origin: ValueOrigin)] {
        let names = declarations.map(\.name)
        var overrides: [(name: String, value: String, origin: ValueOrigin)] = []
        for name in names {
            let key = "KILN_VAR_\(name)"
            if let value = options.environment[key] { overrides.append((name, value, .environment(key))) }
        }
        for file in options.variableFiles {
            overrides += variableFileValues(file, declared: names)
        }
        for (name, value) in options.variables {
            guard names.contains(name) else {
                sink.report(nil, "--var", "unknown variable '\(name)'" + Self.declaredHint(name, names))
                continue
            }
            overrides.append((name, value, .commandLine))
        }
        return overrides
    }

    private static func declaredHint(_ name: String, _ names: [String]) -> String {
        if names.isEmpty { return "; the template declares no variables" }
        return Suggestion.didYouMean(name, among: names)
    }

    /// A `--var-file`: a mapping of declared variable names to plain values.
    private func variableFileValues(_ file: String, declared names: [String]) -> [(name: String, value: String, origin: ValueOrigin)] {
        let absolute = file.hasPrefix("/") ? file : options.workingDirectory + "/" + file
        guard let bytes = YAMLDocument.read(path: absolute, displayPath: file, field: "--var-file", sink: sink),
              let root = YAMLDocument.mapping(bytes, file: file, sink: sink),
              case .mapping(let mapping) = root else { return [] }
        func at(_ node: Node) -> SourceLocation {
            SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        }
        var values: [(name: String, value: String, origin: ValueOrigin)] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                sink.report(at(keyNode), "--var-file", "expected a variable name, found \(kind(of: keyNode))")
                continue
            }
            guard names.contains(key.string) else {
                sink.report(at(keyNode), key.string, "unknown variable '\(key.string)'" + Self.declaredHint(key.string, names))
                continue
            }
            guard case .scalar(let scalar) = value, !isNull(value) else {
                sink.report(at(value), key.string, "expected a string, number or boolean, found \(kind(of: value))")
                continue
            }
            values.append((key.string, scalar.string, .file(at(value))))
        }
        return values
    }
}
