import Foundation

/// Where settings are read from: the process environment and the home directory (injectable for tests).
public struct AWSEnvironment: Sendable {
    public var variables: [String: String]
    public var home: String

    public init(variables: [String: String], home: String) {
        self.variables = variables
        self.home = home
    }

    public static var current: AWSEnvironment {
        let variables = ProcessInfo.processInfo.environment
        return AWSEnvironment(variables: variables, home: variables["HOME"] ?? NSHomeDirectory())
    }

    func value(_ name: String) -> String? {
        guard let value = variables[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }
}

/// A configuration problem, with what to do about it. Never contains secret values.
public struct AWSConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var hint: String?
    public var description: String { message }
}

/// Everything needed to talk to AWS: credentials, region and per-service endpoints.
public struct AWSConfiguration: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    /// Explicit endpoints by service id (`ec2`, `ebs`, `autoscaling`, `s3`); others use AWS's public endpoints.
    public var endpointOverrides: [String: URL]

    public init(credentials: AWSCredentials, region: String, endpointOverrides: [String: URL] = [:]) {
        self.credentials = credentials
        self.region = region
        self.endpointOverrides = endpointOverrides
    }

    public func endpoint(for service: String) -> URL {
        endpointOverrides[service] ?? URL(string: "https://\(service).\(region).amazonaws.com")!
    }

    /// The standard chain, in AWS CLI order: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
    /// (+ `AWS_SESSION_TOKEN`), then the profile (`AWS_PROFILE`, else `default`) in the shared
    /// credentials file, then in the config file. Region: `preferredRegion` (the template's),
    /// `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's. Endpoints: `AWS_ENDPOINT_URL_<SERVICE>`
    /// (see `endpointVariable`), `AWS_ENDPOINT_URL`, then the profile's `endpoint_url`.
    public static func resolve(environment env: AWSEnvironment = .current, preferredRegion: String? = nil,
                               services: [String] = ["ec2", "ebs", "autoscaling", "s3"]) throws -> AWSConfiguration {
        let profileName = env.value("AWS_PROFILE") ?? env.value("AWS_DEFAULT_PROFILE") ?? "default"
        let credentialsPath = env.value("AWS_SHARED_CREDENTIALS_FILE") ?? "\(env.home)/.aws/credentials"
        let configPath = env.value("AWS_CONFIG_FILE") ?? "\(env.home)/.aws/config"
        let credentialsFile = INIFile.load(credentialsPath)
        let configFile = INIFile.load(configPath)
        let fromCredentialsFile = credentialsFile?.sections[profileName]
        let fromConfigFile = configFile?.sections[profileName == "default" ? "default" : "profile \(profileName)"]
            ?? (profileName == "default" ? configFile?.sections["profile default"] : nil)

        if env.value("AWS_PROFILE") != nil, fromCredentialsFile == nil, fromConfigFile == nil {
            throw AWSConfigurationError(
                message: "AWS profile '\(profileName)' (from AWS_PROFILE) is in neither \(credentialsPath) nor \(configPath)",
                hint: "check the profile's name, or unset AWS_PROFILE")
        }

        let credentials = try resolveCredentials(env, profileName: profileName, credentialsFile: fromCredentialsFile,
                                                 credentialsPath: credentialsPath, configFile: fromConfigFile,
                                                 configPath: configPath)
        let regionSetting = preferredRegion.flatMap { $0.isEmpty ? nil : $0 } ?? env.value("AWS_REGION")
            ?? env.value("AWS_DEFAULT_REGION") ?? fromConfigFile?["region"].flatMap { $0.isEmpty ? nil : $0 }
        guard let region = regionSetting else {
            throw AWSConfigurationError(message: "no AWS region is set",
                                        hint: "set `region:` under publish.ami, or AWS_REGION, or `region` in the profile of \(configPath)")
        }
        guard region.range(of: #"^[a-z0-9-]{1,40}$"#, options: .regularExpression) != nil else {
            throw AWSConfigurationError(message: "'\(region)' is not an AWS region name", hint: "regions look like eu-west-1")
        }

        var overrides: [String: URL] = [:]
        for service in services {
            let text = env.value(endpointVariable(service)) ?? env.value("AWS_ENDPOINT_URL")
                ?? fromConfigFile?["endpoint_url"]
            guard let text else { continue }
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
                  url.host != nil else {
                throw AWSConfigurationError(message: "endpoint '\(text)' for \(service) is not an http(s) URL", hint: nil)
            }
            overrides[service] = url
        }
        return AWSConfiguration(credentials: credentials, region: region, endpointOverrides: overrides)
    }

    /// The SDKs' per-service variable: `AWS_ENDPOINT_URL_` and the service's id upper-cased with
    /// spaces as underscores (`EC2`, `EBS`, `AUTO_SCALING` for Auto Scaling, whose id has a space).
    public static func endpointVariable(_ service: String) -> String {
        let serviceIDs = ["autoscaling": "AUTO_SCALING"]
        return "AWS_ENDPOINT_URL_" + (serviceIDs[service] ?? service.uppercased())
    }

    private static func resolveCredentials(_ env: AWSEnvironment, profileName: String, credentialsFile: [String: String]?,
                                           credentialsPath: String, configFile: [String: String]?,
                                           configPath: String) throws -> AWSCredentials {
        let envKey = env.value("AWS_ACCESS_KEY_ID"), envSecret = env.value("AWS_SECRET_ACCESS_KEY")
        if let envKey, let envSecret {
            return AWSCredentials(accessKeyID: envKey, secretAccessKey: envSecret, sessionToken: env.value("AWS_SESSION_TOKEN"),
                                  source: "the environment")
        }
        if (envKey == nil) != (envSecret == nil) {
            throw AWSConfigurationError(
                message: "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set",
                hint: "set both, or neither to use the profile '\(profileName)'")
        }
        for (section, path) in [(credentialsFile, credentialsPath), (configFile, configPath)] {
            guard let section else { continue }
            let key = section["aws_access_key_id"].flatMap { $0.isEmpty ? nil : $0 }
            let secret = section["aws_secret_access_key"].flatMap { $0.isEmpty ? nil : $0 }
            if let key, let secret {
                return AWSCredentials(accessKeyID: key, secretAccessKey: secret,
                                      sessionToken: section["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 },
                                      source: "profile '\(profileName)' in \(path)")
            }
            if key != nil || secret != nil {
                throw AWSConfigurationError(
                    message: "profile '\(profileName)' in \(path) has only one of aws_access_key_id and aws_secret_access_key",
                    hint: nil)
            }
        }
        throw AWSConfigurationError(
            message: "no AWS credentials found (environment, profile '\(profileName)' in \(credentialsPath) or \(configPath))",
            hint: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add the keys to \(credentialsPath); "
                + "SSO, assume-role and instance metadata credentials are not supported")
    }
}
