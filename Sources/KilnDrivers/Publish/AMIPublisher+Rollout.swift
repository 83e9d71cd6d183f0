import Foundation
import KilnAWS
import KilnCore
import KilnTemplate

extension AMIPublisher {
    /// After the image is registered: launch template version, Auto Scaling rollout, retention.
    func rollOut(_ registered: PublishResult, _ request: PublishRequest) async throws -> PublishResult {
        registered
    }
}
