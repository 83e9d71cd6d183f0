import Foundation
import Yams

/// The state shared while one template is decoded: where it is, what was found wrong so far,
/// how strings are interpolated, and which host files it references (for the content hash).
final class Decoding {
    /// The file as the user named it, for diagnostics.
    let file: String
    let sink: DiagnosticSink
    let options: LoadOptions
    /// Absolute directory of the template; relative host paths resolve against it.
    let directory: String
    var interpolator: Interpolator
    /// The build whose values are being decoded, for `${build.name}`.
    var buildName: String?
    private(set) var referencedFiles: Set<String> = []
    private(set) var identifiedFiles: Set<String> = []

    init(file: String, directory: String, sink: DiagnosticSink, options: LoadOptions, interpolator: Interpolator) {
        self.file = file
        self.directory = directory
        self.sink = sink
        self.options = options
        self.interpolator = interpolator
    }

    func location(_ node: Node) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    func report(_ node: Node, _ field: String, _ message: Message) {
        sink.report(location(node), Self.fieldName(field), message.text)
    }

    func report(_ node: Node, _ field: String, _ text: String) {
        report(node, field, Message(text))
    }

    static func fieldName(_ path: String) -> String { path.isEmpty ? "template" : path }

    static func child(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    static func element(_ path: String, _ index: Int) -> String { "\(path)[\(index)]" }

    func noteReferencedFile(_ path: String) { referencedFiles.insert(path) }

    func noteIdentifiedFile(_ path: String) { identifiedFiles.insert(path) }
}
