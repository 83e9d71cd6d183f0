import Foundation
import KilnCore
import KilnSSH

/// A connected guest: commands with line-split output, and uploads, over one SSH connection.
struct SSHGuestShell: GuestShell {
    let client: SSHClient

    func run(
        _ command: String, output: @escaping @Sendable (BuildEvent.OutputStream, String) -> Void
    ) async throws -> Int32 {
        let lines = OutputLineSplitter(output)
        defer { lines.flush() }
        do {
            return try await client.run(command: command) { stream, bytes in lines.append(stream, bytes) }
        } catch SSHClientError.disconnected {
            throw GuestDisconnected()
        } catch {
            throw KilnError.wrap(error, as: .ssh, "running a command on \(client.host):\(client.port) failed")
        }
    }

    func upload(file: String, to guestPath: String, mode: Int?) async throws {
        let fileMode: Int
        if let mode {
            fileMode = mode
        } else {
            do {
                let attributes = try FileManager.default.attributesOfItem(atPath: file)
                fileMode = ((attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o644) & 0o7777
            } catch {
                throw KilnError(.ssh, "cannot upload \(file): \(error.localizedDescription)", cause: error)
            }
        }
        do {
            try await client.upload(file: file, to: guestPath, mode: fileMode)
        } catch SSHClientError.disconnected {
            throw KilnError(.ssh, "the connection to the guest dropped while uploading \(file) to \(guestPath)",
                            cause: SSHClientError.disconnected)
        } catch {
            throw KilnError.wrap(error, as: .ssh, "uploading \(file) to \(guestPath) failed")
        }
    }

    func close() async {
        await client.close()
    }
}
