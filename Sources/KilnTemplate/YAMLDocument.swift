import Foundation
import Yams

/// Turns a file's bytes into a YAML node tree, refusing what is too large, not UTF-8, empty,
/// hostile or malformed, with the position of the problem.
enum YAMLDocument {
    static let maximumBytes = 10 << 20

    /// The file's bytes, or nil after reporting why it could not be read.
    static func read(path: String, displayPath: String, field: String, sink: DiagnosticSink) -> [UInt8]? {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let type = attributes?[.type] as? FileAttributeType, type == .typeDirectory {
            sink.report(nil, field, "'\(displayPath)' is a directory, not a file")
            return nil
        }
        if let size = attributes?[.size] as? NSNumber, size.intValue > maximumBytes {
            sink.report(SourceLocation(file: displayPath, line: 1, column: 1), field,
                        "the file is \(size.intValue) bytes; the limit is 10 MiB (\(maximumBytes) bytes)")
            return nil
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
            sink.report(nil, field, "cannot read '\(displayPath)': \(reason)")
            return nil
        }
        defer { try? handle.close() }
        // Read one byte past the limit: the size in the attributes may lie (a pipe, /proc).
        let data = (try? handle.read(upToCount: maximumBytes + 1)) ?? Data()
        if data.count > maximumBytes {
            sink.report(SourceLocation(file: displayPath, line: 1, column: 1), field,
                        "the file is larger than the limit of 10 MiB (\(maximumBytes) bytes)")
            return nil
        }
        return [UInt8](data)
    }

    /// The document's top-level mapping, or nil after reporting what is wrong.
    static func mapping(_ bytes: [UInt8], file: String, sink: DiagnosticSink) -> Node? {
        let start = SourceLocation(file: file, line: 1, column: 1)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            sink.report(invalidUTF8Location(bytes, file: file), "file", "the file is not valid UTF-8 text")
            return nil
        }
        if text.allSatisfy(\.isWhitespace) {
            sink.report(start, "file", "the file is empty")
            return nil
        }
        if let problem = YAMLPrescan.check(bytes) {
            sink.report(SourceLocation(file: file, line: problem.line, column: problem.column), "yaml", problem.message)
            return nil
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            report(error, file: file, sink: sink)
            return nil
        } catch {
            sink.report(start, "yaml", "invalid YAML: \(error)")
            return nil
        }
        guard let root else {
            sink.report(start, "file", "the file holds only comments; expected a mapping")
            return nil
        }
        guard case .mapping = root else {
            let found: String
            switch root {
            case .sequence: found = "a list"
            case .scalar: found = "a single value"
            default: found = "an alias"
            }
            let mark = root.mark
            sink.report(SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1), "template",
                        "expected a mapping at the top level, found \(found)")
            return nil
        }
        return root
    }

    private static func report(_ error: YamlError, file: String, sink: DiagnosticSink) {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        switch error {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            sink.report(at(mark), "yaml", "invalid YAML: \(problem)")
        case let .duplicatedKeysInMapping(duplicates, context):
            let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            sink.report(at(context.mark), "yaml", "duplicate key \(names) in a mapping")
        default:
            sink.report(SourceLocation(file: file, line: 1, column: 1), "yaml", "invalid YAML: \(error)")
        }
    }

    /// Line and column (in characters) of the first byte that is not valid UTF-8.
    static func invalidUTF8Location(_ bytes: [UInt8], file: String) -> SourceLocation {
        var line = 1, column = 1
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
            case .emptyInput, .error:
                break loop
            }
        }
        return SourceLocation(file: file, line: line, column: column)
    }
}
