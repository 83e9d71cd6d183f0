/// Maps the progress of one packaging stage onto its share of the whole (0...1).
struct PackageProgress: Sendable {
    let report: @Sendable (Double) -> Void

    func stage(_ start: Double, _ end: Double) -> @Sendable (Double) -> Void {
        let report = self.report
        return { fraction in report(start + (end - start) * min(max(fraction, 0), 1)) }
    }

    /// A callback for bytes copied out of `total`, mapped onto `start...end`.
    func bytes(_ start: Double, _ end: Double, total: UInt64) -> @Sendable (UInt64) -> Void {
        let stage = self.stage(start, end)
        return { done in stage(total == 0 ? 1 : Double(done) / Double(total)) }
    }
}
