import KilnTemplate

/// Which libvirt connection runs each build. `--connect` targets, when given, override
/// `machine.connect` and take the builds round-robin in template order (build i on target
/// i mod n), so a list of builds spreads evenly over several hosts whatever order they run in.
public struct HypervisorTargets: Sendable, Equatable {
    public var targets: [String]

    public init(_ targets: [String]) {
        self.targets = targets
    }

    /// The connection URI for the build at `index` (its position among the selected builds).
    public func uri(forBuildAt index: Int, _ build: BuildSpec) -> String {
        targets.isEmpty ? build.machine.connect : targets[index % targets.count]
    }

    /// Every connection the builds will use, each once, in first-use order.
    public func all(_ builds: [BuildSpec]) -> [String] {
        var seen: [String] = []
        for (index, build) in builds.enumerated() {
            let uri = uri(forBuildAt: index, build)
            if !seen.contains(uri) { seen.append(uri) }
        }
        return seen
    }
}
