import Foundation

/// An error answered by an AWS service, or a failure to reach it.
public struct AWSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// AWS's error code (`InvalidSnapshot.NotFound`, `ThrottlingException`...), or one of Kiln's
    /// own for failures without an answer (`RequestTimeout`, `ConnectionFailed`, `DeadlineExceeded`).
    public var code: String
    public var message: String
    /// 0 when no HTTP answer arrived.
    public var httpStatus: Int
    public var requestID: String?

    public init(code: String, message: String, httpStatus: Int, requestID: String? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.requestID = requestID
    }

    public var description: String {
        var text = "\(code): \(message)"
        if httpStatus != 0 { text += " (HTTP \(httpStatus)" + (requestID.map { ", request \($0)" } ?? "") + ")" }
        return text
    }

    static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException",
        "RequestThrottled", "RequestThrottledException", "SlowDown", "PriorRequestNotComplete",
    ]
    static let transientCodes: Set<String> = [
        "RequestTimeout", "RequestTimeoutException", "ConnectionFailed", "InternalError", "InternalFailure",
        "ServiceUnavailable", "InternalServerException",
    ]

    /// Worth another attempt: throttling, 5xx and failures to get an answer at all.
    public var isRetryable: Bool {
        httpStatus == 429 || httpStatus >= 500 || Self.throttlingCodes.contains(code) || Self.transientCodes.contains(code)
    }

    /// Parses an error body: EC2's XML (`<Response><Errors><Error>`), or the JSON of REST-JSON
    /// services (EBS direct) with the code in `x-amzn-ErrorType` or the body.
    static func parse(status: Int, headers: [String: String], body: Data) -> AWSError {
        let requestIDHeader = headers.first { ["x-amzn-requestid", "x-amz-request-id"].contains($0.key.lowercased()) }?.value
        let text = String(decoding: body.prefix(64 * 1024), as: UTF8.self)
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("<"), let root = try? XMLTree.parse(body) {
            let error = root.first("Errors")?.first("Error") ?? root.first("Error") ?? (root.name == "Error" ? root : nil)
            if let error {
                return AWSError(code: error.text("Code") ?? "HTTP\(status)", message: error.text("Message") ?? "",
                                httpStatus: status,
                                requestID: root.text("RequestID") ?? root.text("RequestId") ?? requestIDHeader)
            }
        }
        var code = headers.first { $0.key.lowercased() == "x-amzn-errortype" }?.value
            .split(separator: ":").first.map(String.init)
        var message = ""
        if trimmed.hasPrefix("{"), let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] {
            if code == nil, let type = (object["__type"] ?? object["code"] ?? object["Code"]) as? String {
                code = type.split(separator: "#").last.map(String.init)
            }
            message = (object["message"] ?? object["Message"]) as? String ?? ""
        }
        if message.isEmpty { message = String(trimmed.prefix(300)) }
        return AWSError(code: code ?? Self.codeForStatus(status), message: message, httpStatus: status,
                        requestID: requestIDHeader)
    }

    static func codeForStatus(_ status: Int) -> String {
        switch status {
        case 429: return "TooManyRequestsException"
        case 503: return "ServiceUnavailable"
        case 500...599: return "InternalError"
        default: return "HTTP\(status)"
        }
    }
}
