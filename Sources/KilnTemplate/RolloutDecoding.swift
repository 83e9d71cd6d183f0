import Foundation
import Yams

extension Decoding {
    static let rolloutAMIKeys = ["launch_template", "auto_scaling_group", "retention"]
    static let launchTemplateKeys = ["name", "create", "set_default", "instance_type", "key_name", "security_group_ids",
                                     "user_data_file", "instance_tags", "volume_tags", "market", "max_price"]
    static let autoScalingGroupKeys = ["name", "refresh", "desired", "min", "max"]
    static let refreshKeys = ["min_healthy_percentage", "instance_warmup", "wait", "timeout"]
    static let retentionKeys = ["keep", "name_pattern"]
    /// EC2 limits user data to 16 KiB before base64.
    static let userDataLimit = 16 * 1024
    static let groupSizeRange = 0...100_000

    /// `launch_template`, `auto_scaling_group` and `retention` of `publish.ami`; false when one of
    /// them is invalid (reported). `amiName` is the resolved AMI name, `rawName` as written.
    func rolloutOptions(_ fields: Fields, amiName: String, rawName: String?, into spec: inout AMISpec) -> Bool {
        var ok = true
        if let entry = fields["launch_template"] {
            if let template = launchTemplate(entry) { spec.launchTemplate = template } else { ok = false }
        }
        if let entry = fields["auto_scaling_group"] {
            if let group = autoScalingGroup(entry) {
                spec.autoScalingGroup = group
                if fields["launch_template"] == nil {
                    report(entry.keyNode, entry.path,
                           "needs launch_template: the group is rolled onto the new version of that template")
                    ok = false
                }
            } else {
                ok = false
            }
        }
        if let entry = fields["retention"] {
            if let retention = retention(entry, amiName: amiName, rawName: rawName) { spec.retention = retention } else { ok = false }
        }
        return ok
    }

    private func launchTemplate(_ entry: Entry) -> LaunchTemplateSpec? {
        guard let fields = fields(entry.value, entry.path, allowed: Self.launchTemplateKeys) else { return nil }
        let name = required(fields, "name").flatMap { matching($0, #"^[A-Za-z0-9().\-/_]{3,128}$"#,
                                                              "is not a launch template name: 3 to 128 of A-Z a-z 0-9 ( ) . - / _") }
        var spec = LaunchTemplateSpec(name: name ?? "", location: location(entry.value))
        var ok = name != nil
        func take<T>(_ key: String, _ parse: (Entry) -> T?, _ apply: (T) -> Void) {
            guard let entry = fields[key] else { return }
            if let value = parse(entry) { apply(value) } else { ok = false }
        }
        take("create", { bool($0) }) { spec.create = $0 }
        take("set_default", { bool($0) }) { spec.setDefault = $0 }
        take("instance_type", { matching($0, #"^[a-z0-9][a-z0-9-]*\.[a-z0-9-]+$"#, "is not an instance type like t3.micro") }) {
            spec.instanceType = $0
        }
        take("key_name", { entry -> String? in
            guard let text = nonEmptyString(entry) else { return nil }
            guard text.count <= 255 else {
                report(entry.value, entry.path, "is longer than 255 characters")
                return nil
            }
            return text
        }) { spec.keyName = $0 }
        take("security_group_ids", securityGroups) { spec.securityGroupIDs = $0 }
        take("user_data_file", userDataFile) { spec.userDataFile = $0 }
        take("instance_tags", tagMap) { spec.instanceTags = $0 }
        take("volume_tags", tagMap) { spec.volumeTags = $0 }
        take("market", { choice($0, InstanceMarket.self) }) { spec.market = $0 }
        take("max_price", { entry -> String? in
            guard let text = string(entry) else { return nil }
            let trimmed = text.trimmingWhitespace()
            guard trimmed.range(of: #"^[0-9]{1,6}(\.[0-9]{1,6})?$"#, options: .regularExpression) != nil,
                  let value = Double(trimmed), value > 0 else {
                report(entry.value, entry.path, "expected a price in USD per hour such as 0.05, found '\(text.prefix(40))'")
                return nil
            }
            return trimmed
        }) { spec.maxPrice = $0 }
        if let priceEntry = fields["max_price"], spec.market != .spot, ok {
            report(priceEntry.keyNode, priceEntry.path, "max_price is used only with market: spot")
            ok = false
        }
        return ok ? spec : nil
    }

    private func autoScalingGroup(_ entry: Entry) -> AutoScalingGroupSpec? {
        guard let fields = fields(entry.value, entry.path, allowed: Self.autoScalingGroupKeys) else { return nil }
        let name = required(fields, "name").flatMap { entry -> String? in
            guard let text = nonEmptyString(entry) else { return nil }
            guard text.count <= 255, !text.contains(where: { $0.isNewline || $0 == "\t" }) else {
                report(entry.value, entry.path, "is not an Auto Scaling group name: up to 255 characters on one line")
                return nil
            }
            return text
        }
        var spec = AutoScalingGroupSpec(name: name ?? "", location: location(entry.value))
        var ok = name != nil
        func size(_ key: String, _ apply: (Int) -> Void) {
            guard let entry = fields[key] else { return }
            if let value = integer(entry, range: Self.groupSizeRange) { apply(value) } else { ok = false }
        }
        size("desired") { spec.desired = $0 }
        size("min") { spec.min = $0 }
        size("max") { spec.max = $0 }
        if let refreshEntry = fields["refresh"] {
            if let refresh = refresh(refreshEntry) { spec.refresh = refresh } else { ok = false }
        }
        if ok, let minimum = spec.min, let maximum = spec.max, minimum > maximum {
            report(fields["min"]!.value, fields["min"]!.path, "min (\(minimum)) is larger than max (\(maximum))")
            ok = false
        }
        if ok, let desired = spec.desired, let desiredEntry = fields["desired"] {
            if let minimum = spec.min, desired < minimum {
                report(desiredEntry.value, desiredEntry.path, "desired (\(desired)) is below min (\(minimum))")
                ok = false
            } else if let maximum = spec.max, desired > maximum {
                report(desiredEntry.value, desiredEntry.path, "desired (\(desired)) is above max (\(maximum))")
                ok = false
            }
        }
        return ok ? spec : nil
    }

    private func refresh(_ entry: Entry) -> InstanceRefreshSpec? {
        guard let fields = fields(entry.value, entry.path, allowed: Self.refreshKeys) else { return nil }
        var spec = InstanceRefreshSpec()
        var ok = true
        func take<T>(_ key: String, _ parse: (Entry) -> T?, _ apply: (T) -> Void) {
            guard let entry = fields[key] else { return }
            if let value = parse(entry) { apply(value) } else { ok = false }
        }
        take("min_healthy_percentage", { integer($0, range: 0...100) }) { spec.minHealthyPercentage = $0 }
        take("instance_warmup", { entry -> Duration? in
            guard let value = duration(entry) else { return nil }
            guard value <= .seconds(86_400) else {
                report(entry.value, entry.path, "must be at most 24h")
                return nil
            }
            return value
        }) { spec.instanceWarmup = $0 }
        take("wait", { bool($0) }) { spec.wait = $0 }
        take("timeout", { duration($0) }) { spec.timeout = $0 }
        if ok, !spec.wait, let timeoutEntry = fields["timeout"] {
            report(timeoutEntry.keyNode, timeoutEntry.path, "timeout is used only with wait: true")
            ok = false
        }
        return ok ? spec : nil
    }

    private func retention(_ entry: Entry, amiName: String, rawName: String?) -> RetentionSpec? {
        guard let fields = fields(entry.value, entry.path, allowed: Self.retentionKeys) else { return nil }
        let keep = required(fields, "keep").flatMap { integer($0, range: 1...1000) }
        var pattern: String?
        if let patternEntry = fields["name_pattern"] {
            pattern = namePattern(patternEntry, amiName: amiName)
        } else if let derived = rawName.flatMap(ImageNamePattern.derived) {
            pattern = derived
        } else {
            report(entry.value, Self.child(entry.path, "name_pattern"),
                   "cannot be derived from the AMI name '\(amiName.prefix(60))' (it has no fixed part); set it")
        }
        guard let keep, let pattern else { return nil }
        return RetentionSpec(keep: keep, namePattern: pattern, location: location(entry.value))
    }

    private func namePattern(_ entry: Entry, amiName: String) -> String? {
        guard let text = matching(entry, #"^[A-Za-z0-9()\[\] ./'@_*?-]{1,128}$"#,
                                  "is not an image name pattern: up to 128 of A-Z a-z 0-9 ( ) [ ] space . / - ' @ _ and the wildcards * ?")
        else { return nil }
        guard ImageNamePattern.hasFixedPart(text) else {
            report(entry.value, entry.path, "'\(text)' would match every image of the account; give it a fixed part such as web-*")
            return nil
        }
        guard ImageNamePattern.matches(amiName, text) else {
            report(entry.value, entry.path, "'\(text)' does not match this build's AMI name '\(amiName.prefix(80))'")
            return nil
        }
        return text
    }

    private func securityGroups(_ entry: Entry) -> [String]? {
        guard let items = stringItems(entry) else { return nil }
        if items.isEmpty {
            report(entry.value, entry.path, "must list at least one security group id")
            return nil
        }
        var ids: [String] = []
        var ok = true
        for item in items {
            guard item.text.range(of: #"^sg-([0-9a-f]{8}|[0-9a-f]{17})$"#, options: .regularExpression) != nil else {
                report(item.node, item.path, "'\(item.text.prefix(40))' is not a security group id like sg-0123456789abcdef0")
                ok = false
                continue
            }
            if ids.contains(item.text) {
                report(item.node, item.path, "'\(item.text)' is listed twice")
                ok = false
                continue
            }
            ids.append(item.text)
        }
        return ok ? ids : nil
    }

    private func userDataFile(_ entry: Entry) -> String? {
        guard let path = hostPath(entry, kind: .file) else { return nil }
        guard options.checkFiles else { return path }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        guard size <= Self.userDataLimit else {
            report(entry.value, entry.path, "is \(size) bytes; EC2 takes at most 16 KiB of user data")
            return nil
        }
        return path
    }

    /// Tags as EC2 takes them: keys of 1 to 128 characters not starting with `aws:`, values up to 256.
    private func tagMap(_ entry: Entry) -> [String: String]? {
        guard let tags = stringMap(entry) else { return nil }
        for (key, value) in tags.sorted(by: { $0.key < $1.key }) {
            let problem: String? = key.isEmpty || key.count > 128 ? "tag key '\(key.prefix(40))' must have 1 to 128 characters"
                : key.lowercased().hasPrefix("aws:") ? "tag key '\(key.prefix(40))' starts with 'aws:', which AWS reserves"
                : value.count > 256 ? "the value of tag '\(key.prefix(40))' is longer than 256 characters" : nil
            if let problem {
                report(entry.value, entry.path, problem)
                return nil
            }
        }
        return tags
    }

    /// A non-empty string matching `pattern`, else reported as "'text' <message>".
    private func matching(_ entry: Entry, _ pattern: String, _ message: String) -> String? {
        guard let text = nonEmptyString(entry) else { return nil }
        guard text.range(of: pattern, options: .regularExpression) != nil else {
            report(entry.value, entry.path, "'\(text.prefix(60))' \(message)")
            return nil
        }
        return text
    }
}
