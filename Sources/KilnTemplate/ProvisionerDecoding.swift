import Foundation
import Yams

extension Decoding {
    static let onlineKinds = ["shell", "script", "scripts", "file", "reboot"]
    static let offlineKinds = ["write", "upload", "delete", "run_command", "hostname", "root_password"]
    static let provisionerKinds = onlineKinds + offlineKinds
    static let shellOptions = ["env", "working_directory", "execute_command", "expect_disconnect", "timeout"]
    static let defaultExecuteCommand = "sh -e '{{path}}'"
    /// Options every provisioner kind takes.
    static let commonOptions = ["cache"]

    /// `provisioners:` — a list whose items each have exactly one kind key.
    func provisioners(_ entry: Entry?) -> [ProvisionerSpec]? {
        guard let entry, !isNull(entry.value) else { return [] }
        guard let items = list(entry.value, entry.path) else { return nil }
        let decoded = items.map { provisioner($0.node, $0.path) }
        return decoded.contains(where: { $0 == nil }) ? nil : decoded.compactMap { $0 }
    }

    private func provisioner(_ node: Node, _ path: String) -> ProvisionerSpec? {
        if case .scalar(let scalar) = node, !isNull(node) {
            // A bare kind name, for kinds that need no value: `- reboot`.
            if scalar.string == "reboot" {
                return ProvisionerSpec(kind: .reboot(timeout: .seconds(300)), location: location(node), title: "reboot", cache: true)
            }
            report(node, path, Message("expected a mapping with one of \(Self.provisionerKinds.joined(separator: ", ")), found '\(scalar.string.prefix(40))'"
                                       + Suggestion.didYouMean(scalar.string, among: Self.provisionerKinds)))
            return nil
        }
        guard case .mapping(let mapping) = node else {
            typeMismatch(node, path, expected: "a mapping")
            return nil
        }
        let keys = mapping.keys.compactMap { $0.scalar?.string }
        let kinds = keys.filter { Self.provisionerKinds.contains($0) }
        let unknown = keys.filter { !Self.provisionerKinds.contains($0) && !Self.shellOptions.contains($0)
                                    && !Self.commonOptions.contains($0) }
        if kinds.count > 1 {
            let second = mapping.keys.first { $0.scalar?.string == kinds[1] } ?? node
            report(second, path, "has two kinds, '\(kinds[0])' and '\(kinds[1])'; give each its own list item")
            return nil
        }
        guard let kind = kinds.first else {
            if let first = unknown.first, let keyNode = mapping.keys.first(where: { $0.scalar?.string == first }) {
                report(keyNode, path, Message("unknown provisioner kind '\(first)'"
                                              + (Suggestion.closest(first, among: Self.provisionerKinds).map { " (did you mean '\($0)'?)" }
                                                 ?? "; expected one of \(Self.provisionerKinds.joined(separator: ", "))")))
            } else {
                report(node, path, "has no kind; expected one of \(Self.provisionerKinds.joined(separator: ", "))")
            }
            return nil
        }
        let allowed = (["script", "scripts", "shell"].contains(kind) ? [kind] + Self.shellOptions : [kind]) + Self.commonOptions
        guard let fields = fields(node, path, allowed: allowed), let value = fields[kind] else { return nil }
        var cache = true
        if let entry = fields["cache"] {
            guard let value = bool(entry) else { return nil }
            cache = value
        }
        let decoded: (kind: ProvisionerKind, title: String)?
        switch kind {
        case "shell", "script", "scripts": decoded = shell(value, options: fields)
        case "file": decoded = fileUpload(value)
        case "reboot": decoded = reboot(value)
        case "write": decoded = write(value)
        case "upload": decoded = upload(value)
        case "delete": decoded = delete(value)
        default: decoded = simpleOffline(value)
        }
        return decoded.map { ProvisionerSpec(kind: $0.kind, location: location(node), title: $0.title, cache: cache) }
    }

    private func shell(_ value: Entry, options fields: Fields) -> (kind: ProvisionerKind, title: String)? {
        let body: ShellStep.Body?
        let title: String
        if value.key == "shell" {
            let lines = stringItems(value)
            body = lines.map { .inline($0.map(\.text).joined(separator: "\n")) }
            title = "shell"
        } else {
            let items = stringItems(value) ?? []
            let paths = items.map { hostPath($0.node, $0.path, $0.text, kind: .file) }
            body = paths.contains(where: { $0 == nil }) || items.isEmpty ? nil : .scripts(paths.compactMap { $0 })
            if items.isEmpty, case .sequence = value.value { report(value.value, value.path, "must list at least one script") }
            title = "script " + items.map(\.text).joined(separator: ", ")
        }
        var ok = body != nil
        var step = ShellStep(body: body ?? .inline(""), env: [:], workingDirectory: nil,
                             executeCommand: Self.defaultExecuteCommand, expectDisconnect: false, timeout: nil)
        if let env = fields["env"] {
            if let map = stringMap(env) {
                for name in map.keys.sorted() where !Reference.isName(name) {
                    report(env.value, env.path, "'\(name)' is not a valid environment variable name")
                    ok = false
                }
                step.env = map
            } else { ok = false }
        }
        if let directory = fields["working_directory"] {
            if let path = guestPath(directory) { step.workingDirectory = path } else { ok = false }
        }
        if let command = fields["execute_command"] {
            if let text = nonEmptyString(command) {
                if text.contains("{{path}}") {
                    step.executeCommand = text
                } else {
                    report(command.value, command.path, "must contain {{path}}, which stands for the script's path in the guest")
                    ok = false
                }
            } else { ok = false }
        }
        if let expect = fields["expect_disconnect"] {
            if let flag = bool(expect) { step.expectDisconnect = flag } else { ok = false }
        }
        if let timeout = fields["timeout"] {
            if let value = duration(timeout) { step.timeout = value } else { ok = false }
        }
        return ok ? (.shell(step), title) : nil
    }

    private func fileUpload(_ value: Entry) -> (kind: ProvisionerKind, title: String)? {
        guard let fields = fields(value.value, value.path, allowed: ["source", "destination"]) else { return nil }
        let sourceText = required(fields, "source").flatMap { string($0) }
        let source = sourceText.flatMap { text in
            fields["source"].flatMap { hostPath($0.value, $0.path, text, kind: .fileOrDirectory) }
        }
        let destinationText = required(fields, "destination").flatMap { string($0) }
        let destination = destinationText.flatMap { text in fields["destination"].flatMap { guestPath($0.value, $0.path, text) } }
        guard let source, let destination, let sourceText else { return nil }
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory)
        let directory = exists ? isDirectory.boolValue : sourceText.hasSuffix("/")
        return (.file(FileUpload(source: source, destination: destination, isDirectory: directory)),
                "file \(sourceText) -> \(destination)")
    }

    private func reboot(_ value: Entry) -> (kind: ProvisionerKind, title: String)? {
        guard let fields = fields(value.value, value.path, allowed: ["timeout"]) else { return nil }
        guard let timeout = fields["timeout"] else { return (.reboot(timeout: .seconds(300)), "reboot") }
        return duration(timeout).map { (.reboot(timeout: $0), "reboot") }
    }

    private func write(_ value: Entry) -> (kind: ProvisionerKind, title: String)? {
        guard let fields = fields(value.value, value.path, allowed: ["path", "content", "mode"]) else { return nil }
        let path = guestPath(required(fields, "path"))
        let content = required(fields, "content").flatMap { string($0) }
        var mode: Int?? = .some(nil)
        if let modeEntry = fields["mode"] { mode = fileMode(modeEntry).map { .some($0) } }
        guard let path, let content, let mode else { return nil }
        return (.write(path: path, content: content, mode: mode), "write \(path)")
    }

    /// Permission bits in octal, as chmod takes them: "0644", "755".
    private func fileMode(_ entry: Entry) -> Int? {
        guard let text = string(entry.value, entry.path, expected: "an octal mode") else { return nil }
        let digits = text.trimmingWhitespace()
        guard !digits.isEmpty, digits.count <= 5, let mode = Int(digits, radix: 8), mode <= 0o7777 else {
            report(entry.value, entry.path, "'\(text.prefix(20))' is not a file mode; write octal digits such as \"0644\"")
            return nil
        }
        return mode
    }

    private func upload(_ value: Entry) -> (kind: ProvisionerKind, title: String)? {
        guard let fields = fields(value.value, value.path, allowed: ["source", "destination"]) else { return nil }
        let sourceText = required(fields, "source").flatMap { string($0) }
        let source = sourceText.flatMap { text in fields["source"].flatMap { hostPath($0.value, $0.path, text, kind: .file) } }
        let destination = guestPath(required(fields, "destination"))
        guard let source, let destination, let sourceText else { return nil }
        return (.upload(source: source, destination: destination), "upload \(sourceText) -> \(destination)")
    }

    private func delete(_ value: Entry) -> (kind: ProvisionerKind, title: String)? {
        guard let items = stringItems(value) else { return nil }
        if items.isEmpty {
            report(value.value, value.path, "must list at least one path")
            return nil
        }
        let paths = items.map { guestPath($0.node, $0.path, $0.text) }
        guard !paths.contains(where: { $0 == nil }) else { return nil }
        let checked = paths.compactMap { $0 }
        return (.delete(paths: checked), "delete " + checked.joined(separator: ", "))
    }

    private func simpleOffline(_ value: Entry) -> (kind: ProvisionerKind, title: String)? {
        guard let text = nonEmptyString(value) else { return nil }
        switch value.key {
        case "run_command":
            let firstLine = text.split(separator: "\n").first.map(String.init) ?? text
            return (.runCommand(text), "run_command " + (firstLine.count > 40 ? firstLine.prefix(39) + "…" : firstLine))
        case "hostname":
            let valid = text.count <= 253 && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
                (1...63).contains(label.count) && label.first != "-" && label.last != "-"
                    && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            }
            guard valid else {
                report(value.value, value.path, "'\(text.prefix(80))' is not a valid host name")
                return nil
            }
            return (.hostname(text), "hostname \(text)")
        default:
            return (.rootPassword(text), "root_password")
        }
    }
}
