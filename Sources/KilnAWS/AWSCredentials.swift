import Foundation

/// An access key pair, optionally with a session token. Never printed: `description` redacts it.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// Where the credentials came from ("environment", "profile default in ~/.aws/credentials").
    public var source: String

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, source: String = "explicit") {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.source = source
    }

    public var description: String { "AWS credentials from \(source) (access key \(Self.mask(accessKeyID)))" }
    public var debugDescription: String { description }

    /// The first four characters only: enough to tell keys apart, useless to an attacker.
    static func mask(_ key: String) -> String { key.count <= 4 ? "****" : key.prefix(4) + "****" }
}
