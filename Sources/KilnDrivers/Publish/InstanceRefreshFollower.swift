import Foundation
import KilnAWS

/// Follows an instance refresh until AWS says it ended: success returns, failure, cancellation
/// and rollback throw `Ended` with AWS's reason, and `timeout` throws `StillRunning` (the refresh
/// goes on in AWS).
struct InstanceRefreshFollower: Sendable {
    var autoScaling: AutoScalingClient
    var interval: Duration
    var timeout: Duration

    static let endedBadly: Set<String> = ["Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"]

    struct Ended: Error, Equatable, CustomStringConvertible {
        var group: String
        var refresh: AutoScalingClient.InstanceRefresh
        var description: String {
            "instance refresh \(refresh.id) of group '\(group)' ended \(refresh.status): "
                + (refresh.statusReason ?? "AWS gave no reason")
        }
    }

    struct StillRunning: Error, Equatable, CustomStringConvertible {
        var group: String
        var id: String
        var last: AutoScalingClient.InstanceRefresh?
        var after: Duration
        var lastState: String {
            last.map { "\($0.status)" + ($0.percentageComplete.map { ", \($0)% done" } ?? "") } ?? "not yet visible"
        }
        var description: String {
            "instance refresh \(id) of group '\(group)' had not ended after \(after) (\(lastState)); it goes on in AWS"
        }
    }

    /// `progress` sees every poll's answer.
    func follow(group: String, id: String,
                progress: (AutoScalingClient.InstanceRefresh) -> Void = { _ in }) async throws -> AutoScalingClient.InstanceRefresh {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var last: AutoScalingClient.InstanceRefresh?
        while true {
            if let refresh = try await autoScaling.describeInstanceRefreshes(group: group, ids: [id]).first(where: { $0.id == id }) {
                last = refresh
                progress(refresh)
                if refresh.status == "Successful" { return refresh }
                if Self.endedBadly.contains(refresh.status) { throw Ended(group: group, refresh: refresh) }
            }
            guard clock.now + interval < deadline else { throw StillRunning(group: group, id: id, last: last, after: timeout) }
            try await Task.sleep(for: interval)
        }
    }
}
