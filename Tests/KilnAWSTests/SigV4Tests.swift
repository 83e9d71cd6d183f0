import Foundation
import Testing
@testable import KilnAWS

/// Golden signatures produced by botocore 1.43 (`SigV4Auth.add_auth` with the clock fixed at
/// 2026-11-25T07:05:09Z and the keys below), so the signer is checked against AWS's own SDK.
@Suite struct SigV4Tests {
    static let date = Date(timeIntervalSince1970: 1_795_590_309) // 2026-11-25T07:05:09Z
    static let keys = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let form = "Action=DescribeSnapshots&Version=2016-11-15&SnapshotId.1=snap-0123456789abcdef0"
    static let formType = ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8"]
    static let block = Data(repeating: 1, count: 1024)
    static let blockHeaders = ["x-amz-Checksum": "abc=", "x-amz-Checksum-Algorithm": "SHA256", "x-amz-Data-Length": "1024"]

    func sign(_ method: String, _ url: String, _ headers: [String: String], body: Data?, payloadHash: String? = nil,
              service: String, region: String, keys: AWSCredentials = keys) -> SigV4.Signature {
        SigV4.sign(method: method, url: URL(string: url)!, headers: headers,
                   payloadHash: payloadHash ?? SigV4.sha256Hex(body ?? Data()),
                   credentials: keys, region: region, service: service, date: Self.date)
    }

    @Test func timestampIsUTCBasicFormat() {
        #expect(SigV4.timestamp(Self.date) == "20261125T070509Z")
    }

    @Test func ec2QueryFormPost() {
        let s = sign("POST", "https://ec2.eu-west-1.amazonaws.com/", Self.formType, body: Data(Self.form.utf8),
                     service: "ec2", region: "eu-west-1")
        #expect(s.authorization == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/eu-west-1/ec2/aws4_request, "
            + "SignedHeaders=content-type;host;x-amz-date, "
            + "Signature=7c06743ed148ee392eec17a0ee11835ee8b8b9d6a4a78be8d137b5916a217f93")
        #expect(s.headers["X-Amz-Date"] == "20261125T070509Z")
        #expect(s.headers["X-Amz-Security-Token"] == nil)
    }

    @Test func sessionTokenIsSentAndSigned() {
        var keys = Self.keys
        keys.sessionToken = "FwoGZXIvYXdzEBYaDH+session/token=="
        let s = sign("POST", "https://ec2.eu-west-1.amazonaws.com/", Self.formType, body: Data(Self.form.utf8),
                     service: "ec2", region: "eu-west-1", keys: keys)
        #expect(s.authorization.hasSuffix("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "
            + "Signature=b764270c691e436d6fe0945277a5c5d6b4af7570bdd086dfa99affa97b88361a"))
        #expect(s.headers["X-Amz-Security-Token"] == "FwoGZXIvYXdzEBYaDH+session/token==")
    }

    @Test func ebsJSONBody() {
        let body = Data(#"{"VolumeSize":8,"Description":"kiln web","ClientToken":"abc"}"#.utf8)
        let s = sign("POST", "https://ebs.us-east-1.amazonaws.com/snapshots", ["Content-Type": "application/json"],
                     body: body, service: "ebs", region: "us-east-1")
        #expect(s.authorization == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/ebs/aws4_request, "
            + "SignedHeaders=content-type;host;x-amz-date, "
            + "Signature=2fcb2e74596a90a2209b54a239275f80b0892bb3f8aabc22abc473513b1e593b")
    }

    @Test func unsignedPayloadBlock() {
        var headers = Self.blockHeaders
        headers["X-Amz-Content-SHA256"] = SigV4.unsignedPayload
        let s = sign("PUT", "https://ebs.us-east-1.amazonaws.com/snapshots/snap-0abc/blocks/42", headers,
                     body: Self.block, payloadHash: SigV4.unsignedPayload, service: "ebs", region: "us-east-1")
        #expect(s.authorization.hasSuffix(
            "SignedHeaders=host;x-amz-checksum;x-amz-checksum-algorithm;x-amz-content-sha256;x-amz-data-length;x-amz-date, "
            + "Signature=39de39f9095af6a64cbb462cb1a51b9fc717ba00cee6e814cf78bf98a781cae0"))
        #expect(s.canonicalRequest.hasSuffix("\nUNSIGNED-PAYLOAD"))
    }

    @Test func hashedPayloadBlockOnLocalEndpointWithPort() {
        #expect(SigV4.sha256Hex(Self.block) == "5a648d8015900d89664e00e125df179636301a2d8fa191c1aa2bd9358ea53a69")
        let s = sign("PUT", "http://127.0.0.1:5000/snapshots/snap-0abc/blocks/42", Self.blockHeaders, body: Self.block,
                     service: "ebs", region: "us-east-1")
        #expect(s.authorization.hasSuffix("SignedHeaders=host;x-amz-checksum;x-amz-checksum-algorithm;x-amz-data-length;x-amz-date, "
            + "Signature=82ab51108f4383ead65d1270adee6d6f312e3a41afce35a2471654f57031531b"))
        #expect(s.canonicalRequest.contains("\nhost:127.0.0.1:5000\n"))
    }

    @Test func pathAndQueryNeedingEncoding() {
        let s = sign("GET", "https://ebs.us-east-1.amazonaws.com/snapshots/snap%20x%2Fy/blocks?maxResults=100&startingBlockIndex=0&nextToken=a%2Bb%3D",
                     [:], body: nil, service: "ebs", region: "us-east-1")
        #expect(s.authorization.hasSuffix("SignedHeaders=host;x-amz-date, "
            + "Signature=de50dce6990ccf59e5b2c9976a490157de47386ee3d7b5f26b7904baef90646e"))
        #expect(s.canonicalRequest.hasPrefix("GET\n/snapshots/snap%2520x%252Fy/blocks\n"
            + "maxResults=100&nextToken=a%2Bb%3D&startingBlockIndex=0\n"))
    }

    @Test func headerValuesAreTrimmedAndCollapsed() {
        let s = sign("GET", "https://example.amazonaws.com/a/b", ["My-Header1": "  value1   with  spaces  "],
                     body: nil, service: "service", region: "us-east-1")
        #expect(s.authorization.hasSuffix("SignedHeaders=host;my-header1;x-amz-date, "
            + "Signature=f9ea75df35732bf8c3d292850af30e499e6935d4df2091cd3b8bac2eba42ebb8"))
    }

    @Test func userAgentIsNotSigned() {
        let s = sign("GET", "https://example.amazonaws.com/", ["User-Agent": "kiln"], body: nil, service: "s", region: "r")
        #expect(!s.authorization.contains("user-agent"))
    }

    @Test func credentialsNeverPrintTheirSecrets() {
        var keys = Self.keys
        keys.sessionToken = "TOKENVALUE"
        let text = "\(keys) \(String(reflecting: keys))"
        #expect(!text.contains("wJalrXUtnFEMI"))
        #expect(!text.contains("TOKENVALUE"))
        #expect(!text.contains("AKIDEXAMPLE"))
    }
}
