import Crypto
import Foundation

/// AWS Signature Version 4 for headers, as a pure function of its inputs.
public enum SigV4 {
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// Headers that proxies may rewrite; never signed (same list as the AWS SDKs).
    static let unsignedHeaders: Set<String> = [
        "authorization", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    /// What signing adds to a request, plus the intermediate strings for debugging.
    public struct Signature: Sendable, Equatable {
        /// Headers to add to the request: Authorization, X-Amz-Date and, with a session token, X-Amz-Security-Token.
        public var headers: [String: String]
        public var canonicalRequest: String
        public var stringToSign: String
        public var authorization: String { headers["Authorization"] ?? "" }
    }

    public static func sha256Hex(_ data: some DataProtocol) -> String {
        SHA256.hash(data: data).hexString
    }

    /// Signs one request. `headers` are the request's own headers (Host is derived from the URL
    /// when absent); `payloadHash` is the hex SHA-256 of the body or `unsignedPayload`.
    public static func sign(method: String, url: URL, headers: [String: String], payloadHash: String,
                            credentials: AWSCredentials, region: String, service: String, date: Date) -> Signature {
        let amzDate = timestamp(date)
        let day = String(amzDate.prefix(8))
        var added = ["X-Amz-Date": amzDate]
        if let token = credentials.sessionToken { added["X-Amz-Security-Token"] = token }

        var signed: [String: [String]] = [:]
        for (name, value) in headers.merging(added, uniquingKeysWith: { _, new in new }) {
            let key = name.lowercased()
            if unsignedHeaders.contains(key) { continue }
            signed[key, default: []].append(trimAll(value))
        }
        if signed["host"] == nil { signed["host"] = [host(of: url)] }
        let names = signed.keys.sorted()
        let signedHeaderList = names.joined(separator: ";")
        let canonicalHeaders = names.map { "\($0):\(signed[$0]!.joined(separator: ","))\n" }.joined()

        let path = service == "s3" ? s3CanonicalPath(url) : canonicalPath(url)
        let canonicalRequest = [
            method.uppercased(), path, canonicalQuery(url), canonicalHeaders, signedHeaderList, payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(Data(canonicalRequest.utf8))]
            .joined(separator: "\n")

        let key = signingKey(secret: credentials.secretAccessKey, day: day, region: region, service: service)
        let signature = HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key).hexString
        added["Authorization"] = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(signedHeaderList), Signature=\(signature)"
        return Signature(headers: added, canonicalRequest: canonicalRequest, stringToSign: stringToSign)
    }

    static func signingKey(secret: String, day: String, region: String, service: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secret)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// `host[:port]`, the port only when it is not the scheme's default.
    static func host(of url: URL) -> String {
        let host = url.host ?? ""
        guard let port = url.port else { return host }
        let scheme = url.scheme?.lowercased()
        if (scheme == "https" && port == 443) || (scheme == "http" && port == 80) { return host }
        return "\(host):\(port)"
    }

    /// Non-S3 services: the already-encoded path, dot segments removed, encoded once more.
    static func canonicalPath(_ url: URL) -> String {
        let raw = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedPath ?? "/"
        var segments: [Substring] = []
        for segment in raw.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            switch segment {
            case ".": continue
            case "..": if !segments.isEmpty { segments.removeLast() }
            default: segments.append(segment)
            }
        }
        let normalized = "/" + segments.joined(separator: "/")
        return URIEncoding.encode(normalized, keepSlash: true)
    }

    /// S3: the path encoded once, as sent; no dot-segment removal (`a/../b` is a valid key).
    static func s3CanonicalPath(_ url: URL) -> String {
        let raw = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedPath ?? ""
        let decoded = raw.removingPercentEncoding ?? raw
        return decoded.isEmpty ? "/" : URIEncoding.encode(decoded, keepSlash: true)
    }

    static func canonicalQuery(_ url: URL) -> String {
        guard let query = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedQuery,
              !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&").map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            let value = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            return (URIEncoding.encode(key), URIEncoding.encode(value))
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Trims and collapses runs of whitespace to one space.
    static func trimAll(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).joined(separator: " ")
    }
}

extension Sequence where Element == UInt8 {
    var hexString: String {
        var text = ""
        for byte in self { text += String(format: "%02x", byte) }
        return text
    }
}

extension Digest {
    var hexString: String { Array(self).hexString }
}
