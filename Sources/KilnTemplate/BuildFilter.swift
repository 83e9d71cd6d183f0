/// `--only` and `--except`: build name patterns where `*` matches any run of characters.
enum BuildFilter {
    /// The selected names, in template order; reports patterns that match no build.
    static func select(_ names: [String], only: [String], except: [String], sink: DiagnosticSink) -> [String] {
        var ok = true
        for (flag, patterns) in [("--only", only), ("--except", except)] {
            for pattern in patterns where !names.contains(where: { matches($0, pattern) }) {
                sink.report(nil, flag, "'\(pattern)' names no build; the builds are \(names.joined(separator: ", "))")
                ok = false
            }
        }
        guard ok else { return [] }
        let selected = names.filter { name in
            (only.isEmpty || only.contains { matches(name, $0) }) && !except.contains { matches(name, $0) }
        }
        if selected.isEmpty {
            sink.report(nil, except.isEmpty ? "--only" : "--except", "no build is left to run")
        }
        return selected
    }

    /// Glob match with `*` only, iterative (no exponential backtracking on hostile patterns).
    static func matches(_ name: String, _ pattern: String) -> Bool {
        let text = Array(name), glob = Array(pattern)
        var t = 0, g = 0
        var starAt = -1, resumeAt = 0
        while t < text.count {
            if g < glob.count, glob[g] != "*", glob[g] == text[t] {
                t += 1; g += 1
            } else if g < glob.count, glob[g] == "*" {
                starAt = g; resumeAt = t; g += 1
            } else if starAt >= 0 {
                g = starAt + 1; resumeAt += 1; t = resumeAt
            } else {
                return false
            }
        }
        while g < glob.count, glob[g] == "*" { g += 1 }
        return g == glob.count
    }
}
