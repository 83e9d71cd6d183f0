import Foundation
import Yams

extension Decoding {
    static let buildKeys = ["name", "source", "machine", "ssh", "seed", "provisioners", "shutdown", "generalize",
                            "outputs", "publish", "output_directory"]
    /// Keys that `defaults:` merges one level down rather than replacing whole.
    static let deepMergedKeys: Set<String> = ["machine", "ssh"]
    static let defaultOutputDirectory = "output/${build.name}"

    /// A build's name and fields, before the rest of it is decoded.
    struct BuildHead {
        var name: String
        var fields: Fields
        var nameNode: Node
    }

    /// The builds whose names are valid and unique (the others are reported).
    func buildHeads(_ entry: Entry) -> [BuildHead]? {
        guard let items = list(entry.value, entry.path) else { return nil }
        if items.isEmpty {
            report(entry.value, entry.path, "must list at least one build")
            return nil
        }
        var heads: [BuildHead] = []
        var firstLines: [String: Int] = [:]
        for item in items {
            guard let fields = fields(item.node, item.path, allowed: Self.buildKeys), !isNull(item.node) else {
                if isNull(item.node) { typeMismatch(item.node, item.path, expected: "a mapping") }
                continue
            }
            guard let nameEntry = required(fields, "name"), let name = string(nameEntry) else { continue }
            guard Self.isValidBuildName(name) else {
                report(nameEntry.value, nameEntry.path,
                       "'\(name.prefix(80))' is not a valid build name: use 1 to 63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit")
                continue
            }
            if let line = firstLines[name] {
                report(nameEntry.value, nameEntry.path, "duplicate build name '\(name)' (first used at line \(line))")
                continue
            }
            firstLines[name] = nameEntry.value.mark?.line ?? 0
            heads.append(BuildHead(name: name, fields: fields, nameNode: nameEntry.value))
        }
        return heads
    }

    static func isValidBuildName(_ name: String) -> Bool {
        guard (1...63).contains(name.count), let first = name.unicodeScalars.first else { return false }
        func alphanumeric(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("0"..."9").contains(c) }
        return alphanumeric(first) && name.unicodeScalars.allSatisfy { alphanumeric($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }

    /// `defaults:` — a build without a name, merged under every build.
    func buildDefaults(_ entry: Entry?) -> Fields? {
        guard let entry else { return nil }
        guard let fields = fields(entry.value, entry.path, allowed: Self.buildKeys) else { return nil }
        if let name = fields["name"] {
            report(name.keyNode, name.path, "a build's name has no default; name each build")
        }
        return Fields(node: fields.node, path: fields.path, entries: fields.entries.filter { $0.key != "name" })
    }

    func build(_ head: BuildHead, defaults: Fields?) -> BuildSpec? {
        buildName = head.name
        defer { buildName = nil }
        let fields = defaults.map { head.fields.merged(under: $0, deep: Self.deepMergedKeys, decoding: self) } ?? head.fields
        let source = self.source(fields["source"])
        let machine = self.machine(fields["machine"])
        let ssh = self.ssh(fields["ssh"])
        let seed = fields["seed"].map { choice($0, SeedMethod.self) } ?? .auto
        let provisioners = self.provisioners(fields["provisioners"])
        let shutdown = self.shutdown(fields["shutdown"])
        let generalize = self.generalize(fields["generalize"])
        let outputs = self.outputs(fields["outputs"], buildNode: head.fields.node)
        let publish = self.publish(fields["publish"])
        let outputDirectory = self.outputDirectory(fields["output_directory"])
        guard let source, let machine, let ssh, let seed, let provisioners, let shutdown, let generalize,
              let outputs, let publish, let outputDirectory else { return nil }
        return BuildSpec(name: head.name, source: source, machine: machine, ssh: ssh, seed: seed,
                         provisioners: provisioners, shutdown: shutdown, generalize: generalize, outputs: outputs,
                         publish: publish, outputDirectory: outputDirectory, location: location(head.fields.node))
    }

    private func outputDirectory(_ entry: Entry?) -> String? {
        let text: String
        if let entry {
            guard let value = nonEmptyString(entry) else { return nil }
            text = value
        } else {
            guard case .success(let value) = interpolator.expand(Self.defaultOutputDirectory, buildName: buildName) else {
                return nil
            }
            text = value
        }
        return absoluteHostPath(text)
    }
}
