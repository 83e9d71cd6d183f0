import Foundation
import KilnAWS
import KilnCore

extension AMIPublisher {
    /// Deregisters the image, then deletes the snapshot (an image holds its snapshot). Runs in a
    /// detached task so that a cancelled build still cleans up; returns what it did, for the error.
    static func undo(_ created: CreatedResources, configuration: AWSConfiguration, transport: any HTTPTransport,
                     build: String, events: any EventSink) async -> String {
        guard created.snapshotID != nil || created.imageID != nil else { return "nothing was created in AWS" }
        return await Task.detached {
            let retry = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(500), maxDelay: .seconds(5),
                                    requestTimeout: .seconds(30), deadline: .seconds(60))
            let ec2 = EC2Client(configuration: configuration, transport: transport, retry: retry)
            var notes: [String] = []
            if let imageID = created.imageID {
                do {
                    try await ec2.deregisterImage(id: imageID)
                    notes.append("deregistered image \(imageID)")
                    events.emit(.cleanup(build: build, action: "deregister image \(imageID)", error: nil))
                } catch {
                    notes.append("could NOT deregister image \(imageID) (\(error)); deregister it by hand")
                    events.emit(.cleanup(build: build, action: "deregister image \(imageID)", error: "\(error)"))
                }
            }
            if let snapshotID = created.snapshotID {
                do {
                    try await ec2.deleteSnapshot(id: snapshotID)
                    notes.append("deleted snapshot \(snapshotID)")
                    events.emit(.cleanup(build: build, action: "delete snapshot \(snapshotID)", error: nil))
                } catch {
                    notes.append("could NOT delete snapshot \(snapshotID) (\(error)); delete it by hand")
                    events.emit(.cleanup(build: build, action: "delete snapshot \(snapshotID)", error: "\(error)"))
                }
            }
            return notes.joined(separator: "; ")
        }.value
    }

    static func failure(_ error: any Error, stage: String, cleanup: String, credentials: AWSCredentials) -> KilnError {
        if error is CancellationError || (error as? KilnError)?.code == .cancelled {
            return KilnError(.cancelled, "interrupted while \(stage); cleanup: \(cleanup)")
        }
        if let kiln = error as? KilnError {
            return KilnError(kiln.code, "\(kiln.message) (while \(stage); cleanup: \(cleanup))", hint: kiln.hint, cause: kiln.cause)
        }
        let reason: String
        var hint: String?
        switch error {
        case let aws as AWSError:
            reason = "\(aws)"
            hint = Self.hint(for: aws, credentials: credentials)
        case let waiting as ResourceWaiter.Failed:
            reason = waiting.message
        case let late as ResourceWaiter.TimedOut:
            reason = "timed out (last state: \(late.lastState))"
            hint = "raise publish.ami.timeout"
        default:
            reason = "\(error)"
        }
        return KilnError(.publish, "AMI publishing failed while \(stage): \(reason); cleanup: \(cleanup)", hint: hint, cause: error)
    }

    static func hint(for error: AWSError, credentials: AWSCredentials) -> String? {
        switch error.code {
        case "AuthFailure", "UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch",
             "InvalidSignatureException", "ExpiredToken", "ExpiredTokenException", "IncompleteSignature":
            return "AWS refused the credentials (\(credentials)); check or refresh them"
        case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
            return "the credentials need ebs:StartSnapshot, ebs:PutSnapshotBlock, ebs:CompleteSnapshot, "
                + "ec2:DescribeSnapshots, ec2:RegisterImage, ec2:DescribeImages, ec2:CreateTags, "
                + "ec2:DeregisterImage and ec2:DeleteSnapshot"
        case "RequestTimeout", "ConnectionFailed":
            return "check the network path to the AWS endpoint (AWS_ENDPOINT_URL* overrides it)"
        default:
            return nil
        }
    }
}
