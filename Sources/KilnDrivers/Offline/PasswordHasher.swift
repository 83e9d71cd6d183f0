import Foundation
import KilnCore

/// Hashes passwords for /etc/shadow on the host; the password travels only on a pipe.
enum PasswordHasher {
    /// A SHA-512 crypt hash (`$6$salt$...`) from `openssl passwd -6`.
    static func sha512Crypt(_ password: String) async throws -> String {
        let openssl = HostTools.path("openssl")
        guard openssl.hasPrefix("/") else {
            throw KilnError(.provisioner, "cannot hash the root password: openssl is not installed on the host",
                            hint: "apt-get install openssl")
        }
        let result: ProcessResult
        do {
            result = try await Subprocess.run(openssl, ["passwd", "-6", "-stdin"], stdin: Data((password + "\n").utf8))
        } catch let failure as Subprocess.Failure {
            throw KilnError(.provisioner, "cannot hash the root password: openssl passwd failed: \(failure.stderr)")
        }
        let hash = result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard hash.hasPrefix("$6$") else {
            throw KilnError(.provisioner, "cannot hash the root password: unexpected openssl output")
        }
        return hash
    }
}
