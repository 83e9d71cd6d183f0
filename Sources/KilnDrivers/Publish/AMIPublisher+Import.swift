import Foundation
import KilnAWS
import KilnCore
import KilnTemplate

extension AMIPublisher {
    /// The classic path: upload to S3, then ImportImage.
    func publishByImport(_ request: PublishRequest) async throws -> PublishResult {
        throw KilnError(.publish, "publishing with method 'import' (S3 + ImportImage) is not implemented yet",
                        hint: "use method: direct (the default), which needs no bucket")
    }
}
