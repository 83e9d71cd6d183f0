import Foundation
import Testing
@testable import KilnAWS

@Suite struct AWSErrorTests {
    @Test func ec2XMLError() {
        let body = Data("""
            <?xml version="1.0" encoding="UTF-8"?>
            <Response><Errors><Error><Code>InvalidSnapshot.NotFound</Code><Message>The snapshot 'snap-1' does not exist.</Message></Error></Errors><RequestID>req-123</RequestID></Response>
            """.utf8)
        let error = AWSError.parse(status: 400, headers: [:], body: body)
        #expect(error == AWSError(code: "InvalidSnapshot.NotFound", message: "The snapshot 'snap-1' does not exist.",
                                  httpStatus: 400, requestID: "req-123"))
        #expect(!error.isRetryable)
    }

    @Test func ec2ThrottlingIsRetryable() {
        let body = Data("<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>slow down</Message></Error></Errors></Response>".utf8)
        #expect(AWSError.parse(status: 503, headers: [:], body: body).isRetryable)
        let throttled400 = Data("<Response><Errors><Error><Code>Throttling</Code><Message>x</Message></Error></Errors></Response>".utf8)
        #expect(AWSError.parse(status: 400, headers: [:], body: throttled400).isRetryable)
    }

    @Test func restJSONErrorWithTypeHeader() {
        let error = AWSError.parse(status: 400,
                                   headers: ["x-amzn-ErrorType": "ValidationException:http://internal.amazon.com/",
                                             "x-amzn-RequestId": "r-9"],
                                   body: Data(#"{"Message":"Block index out of range","Reason":"INVALID_BLOCK"}"#.utf8))
        #expect(error == AWSError(code: "ValidationException", message: "Block index out of range", httpStatus: 400, requestID: "r-9"))
    }

    @Test func restJSONErrorWithTypeInBody() {
        let error = AWSError.parse(status: 400, headers: [:],
                                   body: Data(#"{"__type":"com.amazon#ThrottlingException","message":"Rate exceeded"}"#.utf8))
        #expect(error.code == "ThrottlingException")
        #expect(error.message == "Rate exceeded")
        #expect(error.isRetryable)
    }

    @Test func bareStatusCodes() {
        #expect(AWSError.parse(status: 429, headers: [:], body: Data()).isRetryable)
        #expect(AWSError.parse(status: 502, headers: [:], body: Data("Bad Gateway".utf8)).code == "InternalError")
        #expect(!AWSError.parse(status: 403, headers: [:], body: Data("denied".utf8)).isRetryable)
    }
}
