import Foundation
import Yams

extension Decoding {
    static let sourceKinds = ["image", "url", "bootstrap", "build"]
    static let bootstrapKeys = ["distribution", "suite", "packages", "mirror", "bootloader", "size"]
    static let maximumDiskBytes: UInt64 = 64 << 40
    static let minimumBootstrapBytes: UInt64 = 256 << 20

    /// `source:` — exactly one of `image`, `url` (with `checksum`) or `bootstrap`; bootstrap Debian when absent.
    func source(_ entry: Entry?) -> SourceSpec? {
        guard let entry else { return .bootstrap(BootstrapSpec()) }
        guard let fields = fields(entry.value, entry.path, allowed: Self.sourceKinds + ["checksum"]) else { return nil }
        let kinds = fields.entries.filter { Self.sourceKinds.contains($0.key) }
        guard kinds.count == 1, let kind = kinds.first else {
            let message: Message = kinds.isEmpty
                ? "expected one of image, url, bootstrap or build"
                : "has both '\(kinds[0].key)' and '\(kinds[1].key)'; keep exactly one of image, url, bootstrap or build"
            report(kinds.count > 1 ? kinds[1].keyNode : entry.value, entry.path, message)
            return nil
        }
        if kind.key != "url", let checksum = fields["checksum"] {
            report(checksum.keyNode, checksum.path, "only a url source has a checksum")
        }
        switch kind.key {
        case "image":
            return hostPath(kind, kind: .file, hashContents: false).map { .image(path: $0) }
        case "url":
            return urlSource(kind, checksum: fields["checksum"], in: fields)
        case "build":
            return buildReference(kind).map { .build($0) }
        default:
            return bootstrap(kind).map { .bootstrap($0) }
        }
    }

    /// `build: NAME` (a build of this template) or `build: FILE#NAME` (of another template).
    private func buildReference(_ entry: Entry) -> BuildReference? {
        guard let text = string(entry) else { return nil }
        let parts = text.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let name = parts.last ?? ""
        guard !name.isEmpty, parts.count == 1 || !parts[0].isEmpty else {
            report(entry.value, entry.path, "'\(text.prefix(80))' is not a build reference; write NAME (a build of this template) or FILE#NAME")
            return nil
        }
        if parts.count == 1 { return BuildReference(template: nil, build: name) }
        return hostPath(entry.value, entry.path, parts[0], kind: .file).map { BuildReference(template: $0, build: name) }
    }

    private func urlSource(_ entry: Entry, checksum: Entry?, in fields: Fields) -> SourceSpec? {
        let url = self.url(entry)
        guard let checksum else {
            report(fields.node, Self.child(fields.path, "checksum"),
                   "a url source needs a checksum (sha256:HEX, sha512:HEX or file:URL); "
                   + "write 'checksum: none' to skip verification deliberately")
            return nil
        }
        guard let sum = self.checksum(checksum), let url else { return nil }
        return .url(URLSource(url: url, checksum: sum))
    }

    /// An http, https or file URL.
    func url(_ entry: Entry) -> String? {
        guard let text = string(entry) else { return nil }
        return checkedURL(text, entry.value, entry.path)
    }

    private func checkedURL(_ text: String, _ node: Node, _ path: String) -> String? {
        let lower = text.lowercased()
        guard ["http://", "https://", "file://"].contains(where: { lower.hasPrefix($0) }),
              let parsed = URL(string: text), parsed.scheme != nil,
              lower.hasPrefix("file://") || !(parsed.host ?? "").isEmpty else {
            report(node, path, "'\(text.prefix(80))' is not an http://, https:// or file:// URL")
            return nil
        }
        return text
    }

    private func checksum(_ entry: Entry) -> Checksum? {
        guard let text = string(entry) else { return nil }
        let trimmed = text.trimmingWhitespace()
        if trimmed.lowercased() == "none" { return Checksum.none }
        guard let colon = trimmed.firstIndex(of: ":") else {
            report(entry.value, entry.path, "'\(text.prefix(80))' is not a checksum; write sha256:HEX, sha512:HEX, file:URL or none")
            return nil
        }
        let kind = trimmed[..<colon].lowercased()
        let value = String(trimmed[trimmed.index(after: colon)...])
        if kind == "file" {
            return checkedURL(value, entry.value, entry.path).map { .file(url: $0) }
        }
        guard let algorithm = ChecksumAlgorithm(rawValue: kind) else {
            report(entry.value, entry.path, Message("unknown checksum type '\(kind)'; expected sha256, sha512, file or none"
                                                    + Suggestion.didYouMean(kind, among: ["sha256", "sha512", "file", "none"])))
            return nil
        }
        let expectedLength = algorithm == .sha256 ? 64 : 128
        guard value.allSatisfy(\.isHexDigit) else {
            report(entry.value, entry.path, "the \(kind) checksum must be hexadecimal digits only")
            return nil
        }
        guard value.count == expectedLength else {
            report(entry.value, entry.path, "a \(kind) checksum has \(expectedLength) hex digits, found \(value.count)")
            return nil
        }
        return .value(algorithm, hex: value.lowercased())
    }

    private func bootstrap(_ entry: Entry) -> BootstrapSpec? {
        guard let fields = fields(entry.value, entry.path, allowed: Self.bootstrapKeys) else { return nil }
        var spec = BootstrapSpec()
        var ok = true
        func take<T>(_ key: String, _ read: (Entry) -> T?, _ apply: (T) -> Void) {
            guard let field = fields[key] else { return }
            if let value = read(field) { apply(value) } else { ok = false }
        }
        take("distribution", { self.choice($0, ["debian"]) }, { spec.distribution = $0 })
        take("suite", nonEmptyString, { spec.suite = $0 })
        take("packages", packageList, { spec.packages = $0 })
        take("mirror", url, { spec.mirror = $0 })
        take("bootloader", { self.choice($0, Bootloader.self) }, { spec.bootloader = $0 })
        take("size", { self.size($0, range: Self.minimumBootstrapBytes...Self.maximumDiskBytes) }, { spec.size = $0 })
        return ok ? spec : nil
    }

    private func choice(_ entry: Entry, _ allowed: [String]) -> String? {
        guard let text = string(entry) else { return nil }
        guard allowed.contains(text) else {
            report(entry.value, entry.path, Message("'\(text)' is not supported; expected \(allowed.joined(separator: ", "))"))
            return nil
        }
        return text
    }

    /// Debian package names (a list, or one name); refuses what would be read as an option.
    private func packageList(_ entry: Entry) -> [String]? {
        guard let names = strings(entry) else { return nil }
        for name in names where name.isEmpty || name.hasPrefix("-") || name.contains(where: { $0.isWhitespace || $0 == "," }) {
            report(entry.value, entry.path, "'\(name)' is not a package name")
            return nil
        }
        return names
    }
}
