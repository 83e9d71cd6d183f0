import CYaml

/// A pass over libyaml's event stream before the document is composed, to refuse what would make
/// composing it (or walking it) explode: aliases that expand to a huge tree ("billion laughs").
/// It also reports syntax errors, with libyaml's own line and column.
enum YAMLPrescan {
    /// Nodes the document may hold once every alias is expanded.
    static let maximumExpandedNodes = 200_000

    struct Problem: Error {
        var message: String
        var line: Int
        var column: Int
    }

    static func check(_ bytes: [UInt8]) -> Problem? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            return Problem(message: "out of memory", line: 1, column: 1)
        }
        defer { yaml_parser_delete(&parser) }
        return bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            return walk(&parser)
        }
    }

    private static func walk(_ parser: inout yaml_parser_t) -> Problem? {
        // Expanded size of each anchored node, and of each collection still open.
        var anchorSizes: [String: Int] = [:]
        var open: [(size: Int, anchor: String?)] = []
        var expanded = 0
        var sawAlias = false
        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else { return syntaxProblem(parser) }
            defer { yaml_event_delete(&event) }
            let mark = event.start_mark
            var finished: (size: Int, anchor: String?)?
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return nil
            case YAML_SCALAR_EVENT:
                expanded += 1
                finished = (1, string(event.data.scalar.anchor))
            case YAML_ALIAS_EVENT:
                let name = string(event.data.alias.anchor) ?? ""
                guard let size = anchorSizes[name] else {
                    return Problem(message: "invalid YAML: alias '*\(name)' refers to no anchor",
                                   line: Int(mark.line) + 1, column: Int(mark.column) + 1)
                }
                sawAlias = true
                expanded += size
                finished = (size, nil)
            case YAML_SEQUENCE_START_EVENT:
                expanded += 1
                open.append((1, string(event.data.sequence_start.anchor)))
            case YAML_MAPPING_START_EVENT:
                expanded += 1
                open.append((1, string(event.data.mapping_start.anchor)))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                finished = open.popLast()
            default:
                break
            }
            if expanded > maximumExpandedNodes {
                let message = sawAlias
                    ? "aliases expand this document to more than \(maximumExpandedNodes) values; refusing it (is it an alias bomb?)"
                    : "the document holds more than \(maximumExpandedNodes) values; refusing it"
                return Problem(message: message, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
            }
            guard let node = finished else { continue }
            if let anchor = node.anchor { anchorSizes[anchor] = node.size }
            if !open.isEmpty { open[open.count - 1].size += node.size }
        }
    }

    private static func syntaxProblem(_ parser: yaml_parser_t) -> Problem {
        var problem = parser.problem.map { String(cString: $0) } ?? "unknown error"
        if problem.hasPrefix("Maximum nesting level reached") {
            problem = "nested more than 1000 levels deep"
        }
        let context = parser.context.map { String(cString: $0) }
        var message = "invalid YAML: \(problem)"
        if let context { message += " (\(context) at line \(parser.context_mark.line + 1))" }
        if parser.error == YAML_READER_ERROR {
            return Problem(message: message, line: 1, column: 1)
        }
        return Problem(message: message, line: Int(parser.problem_mark.line) + 1,
                       column: Int(parser.problem_mark.column) + 1)
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }
}
