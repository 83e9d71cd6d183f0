import Foundation
import Testing
@testable import KilnAWS

@Suite struct ConfigurationTests {
    /// A throwaway home directory with optional `~/.aws/credentials` and `~/.aws/config`.
    func home(credentials: String? = nil, config: String? = nil) throws -> String {
        let home = NSTemporaryDirectory() + "kiln-aws-home-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        if let credentials { try credentials.write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8) }
        if let config { try config.write(toFile: home + "/.aws/config", atomically: true, encoding: .utf8) }
        return home
    }

    func resolve(_ variables: [String: String], home: String, region: String? = nil) throws -> AWSConfiguration {
        try AWSConfiguration.resolve(environment: AWSEnvironment(variables: variables, home: home), preferredRegion: region)
    }

    @Test func environmentKeysWin() throws {
        let home = try home(credentials: "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = FILESECRET\n")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let config = try resolve(["AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "ENVSECRET",
                                  "AWS_SESSION_TOKEN": "ENVTOKEN", "AWS_REGION": "eu-west-3"], home: home)
        #expect(config.credentials == AWSCredentials(accessKeyID: "ENVKEY", secretAccessKey: "ENVSECRET",
                                                     sessionToken: "ENVTOKEN", source: "the environment"))
        #expect(config.region == "eu-west-3")
        #expect(config.endpoint(for: "ebs").absoluteString == "https://ebs.eu-west-3.amazonaws.com")
    }

    @Test func defaultProfileFromSharedFiles() throws {
        let home = try home(credentials: "# keys\n[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = FILESECRET\n",
                            config: "[default]\nregion = us-west-2\ns3 =\n  max_concurrent_requests = 4\n")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let config = try resolve([:], home: home)
        #expect(config.credentials.accessKeyID == "FILEKEY")
        #expect(config.credentials.secretAccessKey == "FILESECRET")
        #expect(config.credentials.sessionToken == nil)
        #expect(config.region == "us-west-2")
    }

    @Test func namedProfileInConfigFileUsesProfilePrefix() throws {
        let home = try home(config: """
            [default]
            region = us-east-1
            [profile ci]
            region = ap-southeast-2
            aws_access_key_id = CIKEY
            aws_secret_access_key = CISECRET
            aws_session_token = CITOKEN
            endpoint_url = http://127.0.0.1:4566
            """)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let config = try resolve(["AWS_PROFILE": "ci"], home: home)
        #expect(config.credentials.accessKeyID == "CIKEY")
        #expect(config.credentials.sessionToken == "CITOKEN")
        #expect(config.region == "ap-southeast-2")
        #expect(config.endpoint(for: "ec2").absoluteString == "http://127.0.0.1:4566")
    }

    @Test func regionPrecedence() throws {
        let home = try home(credentials: "[default]\naws_access_key_id=K\naws_secret_access_key=S\n",
                            config: "[default]\nregion = us-east-1\n")
        defer { try? FileManager.default.removeItem(atPath: home) }
        #expect(try resolve([:], home: home).region == "us-east-1")
        #expect(try resolve(["AWS_DEFAULT_REGION": "eu-north-1"], home: home).region == "eu-north-1")
        #expect(try resolve(["AWS_DEFAULT_REGION": "eu-north-1", "AWS_REGION": "eu-south-1"], home: home).region == "eu-south-1")
        #expect(try resolve(["AWS_REGION": "eu-south-1"], home: home, region: "sa-east-1").region == "sa-east-1")
    }

    @Test func endpointOverridesPerServiceFirst() throws {
        let home = try home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let config = try resolve(["AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S", "AWS_REGION": "us-east-1",
                                  "AWS_ENDPOINT_URL": "http://127.0.0.1:1000",
                                  "AWS_ENDPOINT_URL_EBS": "http://127.0.0.1:2000",
                                  "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:3000"], home: home)
        #expect(config.endpoint(for: "ebs").absoluteString == "http://127.0.0.1:2000")
        #expect(config.endpoint(for: "s3").absoluteString == "http://127.0.0.1:3000")
        #expect(config.endpoint(for: "ec2").absoluteString == "http://127.0.0.1:1000")
        #expect(throws: AWSConfigurationError.self) {
            try resolve(["AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S", "AWS_REGION": "us-east-1",
                         "AWS_ENDPOINT_URL_EC2": "ftp://x"], home: home)
        }
    }

    @Test func missingCredentialsSayWhereTheyWereLookedFor() throws {
        let home = try home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let error = #expect(throws: AWSConfigurationError.self) { try resolve(["AWS_REGION": "us-east-1"], home: home) }
        #expect(error?.message.contains("no AWS credentials found") == true)
        #expect(error?.hint?.contains("AWS_ACCESS_KEY_ID") == true)
    }

    @Test func halfSetKeysAreRefusedWithoutEchoingThem() throws {
        let home = try home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let error = #expect(throws: AWSConfigurationError.self) {
            try resolve(["AWS_SECRET_ACCESS_KEY": "TOPSECRETVALUE", "AWS_REGION": "us-east-1"], home: home)
        }
        #expect(error?.message.contains("only one of") == true)
        #expect(error.map { "\($0) \($0.hint ?? "")" }?.contains("TOPSECRETVALUE") == false)
    }

    @Test func unknownProfileIsAnError() throws {
        let home = try home(credentials: "[default]\naws_access_key_id=K\naws_secret_access_key=S\n")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let error = #expect(throws: AWSConfigurationError.self) {
            try resolve(["AWS_PROFILE": "nope", "AWS_REGION": "us-east-1"], home: home)
        }
        #expect(error?.message.contains("'nope'") == true)
    }

    @Test func noRegionIsAnError() throws {
        let home = try home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let error = #expect(throws: AWSConfigurationError.self) {
            try resolve(["AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S"], home: home)
        }
        #expect(error?.message == "no AWS region is set")
    }
}
