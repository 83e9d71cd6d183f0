import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A tiny read-only XML tree for EC2 responses: elements, their text, their children.
/// Namespaces are ignored (EC2 puts everything in one default namespace).
public final class XMLTree: @unchecked Sendable {
    public let name: String
    public fileprivate(set) var children: [XMLTree] = []
    public fileprivate(set) var textContent = ""

    init(name: String) { self.name = name }

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func parse(_ data: Data) throws -> XMLTree {
        let builder = Builder()
        let parser = XMLParser(data: data)
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            throw ParseError(description: "malformed XML: \(parser.parserError.map { "\($0)" } ?? "no root element")")
        }
        return root
    }

    public func first(_ child: String) -> XMLTree? { children.first { $0.name == child } }
    public func all(_ child: String) -> [XMLTree] { children.filter { $0.name == child } }
    /// The trimmed text of a direct child, nil when there is no such child.
    public func text(_ child: String) -> String? {
        first(child).map { $0.textContent.trimmingCharacters(in: .whitespacesAndNewlines) }
    }
    /// The `<item>`s of a child set (`snapshotSet`, `imagesSet`...).
    public func items(_ set: String) -> [XMLTree] { first(set)?.all("item") ?? [] }

    private final class Builder: NSObject, XMLParserDelegate {
        var root: XMLTree?
        var stack: [XMLTree] = []

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
            let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
            let node = XMLTree(name: local)
            if let parent = stack.last { parent.children.append(node) } else { root = node }
            stack.append(node)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            _ = stack.popLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.textContent += string
        }
    }
}
