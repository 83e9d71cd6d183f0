import Foundation
import Yams

extension Decoding {
    static let outputOptions: [OutputFormat: [String]] = [
        .qcow2: ["compress"], .vmdk: ["subformat"], .vhd: ["fixed"], .vagrant: ["provider"],
        .raw: [], .vdi: [], .vhdx: [], .ova: [],
    ]
    static let amiKeys = ["region", "name", "method", "bucket", "tags", "description", "architecture", "boot_mode",
                          "root_device_name", "volume_type", "volume_size", "ena_support", "concurrency", "timeout",
                          "import_format"]
        + rolloutAMIKeys

    /// `outputs:` — each item a format name, or a mapping of one format name to its options.
    func outputs(_ entry: Entry?, buildNode: Node) -> [OutputSpec]? {
        guard let entry else { return [output(.qcow2, at: buildNode)] }
        guard let items = list(entry.value, entry.path) else { return nil }
        if items.isEmpty {
            report(entry.value, entry.path, "must list at least one output format")
            return nil
        }
        var outputs: [OutputSpec] = []
        var ok = true
        for item in items {
            guard let spec = output(item.node, item.path) else { ok = false; continue }
            if outputs.contains(where: { $0.format == spec.format }) {
                report(item.node, item.path, "'\(spec.format.rawValue)' is listed twice; each format is written once")
                ok = false
                continue
            }
            outputs.append(spec)
        }
        return ok ? outputs : nil
    }

    private func output(_ format: OutputFormat, at node: Node) -> OutputSpec {
        OutputSpec(format: format, compress: false, vmdkSubformat: .streamOptimized, fixed: false,
                   vagrantProvider: .libvirt, location: location(node))
    }

    private func format(_ name: String, _ node: Node, _ path: String) -> OutputFormat? {
        if let format = OutputFormat(rawValue: name) { return format }
        let names = OutputFormat.allCases.map(\.rawValue)
        report(node, path, Message("unknown output format '\(name)'\(Suggestion.didYouMean(name, among: names)); "
                                   + "expected one of \(names.joined(separator: ", "))"))
        return nil
    }

    private func output(_ node: Node, _ path: String) -> OutputSpec? {
        if case .scalar = node, let name = string(node, path, expected: "an output format") {
            return format(name, node, path).map { output($0, at: node) }
        }
        guard case .mapping(let mapping) = node else {
            typeMismatch(node, path, expected: "an output format or a mapping of one format to its options")
            return nil
        }
        guard mapping.count == 1, let (keyNode, value) = mapping.first, case .scalar(let key) = keyNode else {
            report(node, path, "expected one output format per list item, found \(mapping.count)")
            return nil
        }
        guard let format = format(key.string, keyNode, path) else { return nil }
        let optionsPath = Self.child(path, key.string)
        guard let fields = fields(value, optionsPath, allowed: Self.outputOptions[format] ?? []) else { return nil }
        var spec = output(format, at: node)
        var ok = true
        if let compress = fields["compress"] {
            if let flag = bool(compress) { spec.compress = flag } else { ok = false }
        }
        if let fixed = fields["fixed"] {
            if let flag = bool(fixed) { spec.fixed = flag } else { ok = false }
        }
        if let subformat = fields["subformat"] {
            if let value = choice(subformat, VMDKSubformat.self) { spec.vmdkSubformat = value } else { ok = false }
        }
        if let provider = fields["provider"] {
            if let value = choice(provider, VagrantProvider.self) { spec.vagrantProvider = value } else { ok = false }
        }
        return ok ? spec : nil
    }

    /// `publish:` — where finished images go besides the output directory.
    func publish(_ entry: Entry?) -> PublishSpec?? {
        guard let entry else { return .some(nil) }
        guard let fields = fields(entry.value, entry.path, allowed: ["ami"]) else { return nil }
        guard let amiEntry = fields["ami"] else { return .some(PublishSpec(ami: nil)) }
        return ami(amiEntry).map { .some(PublishSpec(ami: $0)) }
    }

    private func ami(_ entry: Entry) -> AMISpec? {
        guard let fields = fields(entry.value, entry.path, allowed: Self.amiKeys) else { return nil }
        let name = nonEmptyString(required(fields, "name"))
        let region = fields["region"].map { nonEmptyString($0) }
        let method = fields["method"].map { choice($0, AMIMethod.self) } ?? .direct
        let bucket = fields["bucket"].map { nonEmptyString($0) }
        let tags = fields["tags"].map { stringMap($0) } ?? [:]
        guard let name, let method, let tags, region.map({ $0 != nil }) ?? true, bucket.map({ $0 != nil }) ?? true else {
            return nil
        }
        if method == .import, bucket == nil {
            report(fields.node, Self.child(fields.path, "bucket"), "method 'import' needs an S3 bucket to upload the image to")
            return nil
        }
        if method == .direct, let bucketEntry = fields["bucket"] {
            report(bucketEntry.keyNode, bucketEntry.path, "a bucket is used only with method 'import'")
            return nil
        }
        if method == .direct, let formatEntry = fields["import_format"] {
            report(formatEntry.keyNode, formatEntry.path, "import_format is used only with method 'import'")
            return nil
        }
        var spec = AMISpec(region: region ?? nil, name: name, method: method, bucket: bucket ?? nil, tags: tags,
                           location: location(entry.value))
        let optionsOK = amiOptions(fields, into: &spec)
        var rawName: String?
        if case .scalar(let scalar) = fields["name"]?.value { rawName = scalar.string }
        let rolloutOK = rolloutOptions(fields, amiName: name, rawName: rawName, into: &spec)
        return optionsOK && rolloutOK ? spec : nil
    }

    /// The optional registration and upload settings; false when one of them is invalid (reported).
    private func amiOptions(_ fields: Fields, into spec: inout AMISpec) -> Bool {
        var ok = true
        func take<T>(_ key: String, _ parse: (Entry) -> T?, _ apply: (T) -> Void) {
            guard let entry = fields[key] else { return }
            if let value = parse(entry) { apply(value) } else { ok = false }
        }
        take("description", { nonEmptyString($0) }) { spec.description = $0 }
        take("architecture", { choice($0, AMIArchitecture.self) }) { spec.architecture = $0 }
        take("boot_mode", { choice($0, AMIBootMode.self) }) { spec.bootMode = $0 }
        take("volume_type", { choice($0, AMIVolumeType.self) }) { spec.volumeType = $0 }
        take("volume_size", { size($0, bareUnit: 1 << 30, range: (1 << 30)...(64 << 40)) }) { spec.volumeSize = $0 }
        take("ena_support", { bool($0) }) { spec.enaSupport = $0 }
        take("concurrency", { integer($0, range: 1...64) }) { spec.concurrency = $0 }
        take("timeout", { duration($0) }) { spec.timeout = $0 }
        take("import_format", { choice($0, AMIImportFormat.self) }) { spec.importFormat = $0 }
        take("root_device_name", { entry -> String? in
            guard let text = nonEmptyString(entry) else { return nil }
            guard text.range(of: #"^/dev/[a-z][a-z0-9]{2,15}$"#, options: .regularExpression) != nil else {
                report(entry.value, entry.path, "'\(text.prefix(40))' is not a device name like /dev/xvda or /dev/sda1")
                return nil
            }
            return text
        }) { spec.rootDeviceName = $0 }
        return ok
    }
}
