import Foundation
import KilnCore
import Libvirt

/// The storage one guest run holds on a remote libvirt host: a `dir` pool named like its domain
/// (`kiln-<build>-<id>`), holding the work disk, the kernel files, the serial console and an
/// owner record. Kiln's files on that host live nowhere else.
///
/// The pool is persistent (define, build, start), not transient: libvirt deletes a pool's
/// directory only while the pool is inactive, and a transient pool vanishes when stopped, so
/// its directory could never be removed through the API. `remove` undoes all of it.
struct RemotePool: Sendable {
    static let ownerVolume = "kiln-owner.json"

    let pool: StoragePool
    let path: String
    var name: String { pool.name }
    var connection: Connection { pool.connection }

    /// Defines, builds (mkdir) and starts the pool, then writes the owner record into it. On a
    /// failure, whatever was made is removed again.
    static func create(on connection: Connection, name: String, parent: String, owner: RemoteOwner) async throws -> RemotePool {
        let path = parent + "/" + name
        // A pool of this name can only be this build's, from an earlier boot whose removal failed.
        try? await remove(named: name, on: connection)
        let defined: StoragePool
        do {
            defined = try await connection.defineStoragePool(xml: StorageXML.pool(name: name, path: path))
        } catch {
            throw LibvirtFailure.error("cannot create storage pool \(name) on \(connection.uri)", error)
        }
        let pool = RemotePool(pool: defined, path: path)
        do {
            do {
                try await defined.build()
                try await defined.start()
            } catch {
                throw LibvirtFailure.error("cannot create directory \(path) for storage pool \(name) on \(connection.uri)", error)
            }
            _ = try await pool.upload(data: try owner.encoded(), as: ownerVolume)
            return pool
        } catch {
            try? await remove(named: name, on: connection)
            throw error
        }
    }

    /// Uploads a local file into a new volume, as a sparse stream; returns the volume's path on the host.
    func upload(file: String, as volumeName: String) async throws -> String {
        let volume = try await createVolume(volumeName)
        let source: SparseFileSource
        do {
            source = try SparseFileSource(path: file)
        } catch {
            throw KilnError(.hypervisor, "cannot upload \(file) to \(connection.uri): \(error)")
        }
        try await transfer("upload \(file) to volume \(volumeName) of pool \(name) on \(connection.uri)") {
            let stream = try await Stream.open(on: connection)
            try await volume.upload(to: stream, flags: .sparse)
            try await stream.sparseSendAll(from: source)
            try await stream.finish()
        }
        return try await volumePath(volume)
    }

    /// Uploads bytes into a new volume (small files: the owner record).
    func upload(data: Data, as volumeName: String) async throws -> String {
        let volume = try await createVolume(volumeName)
        try await transfer("write volume \(volumeName) of pool \(name) on \(connection.uri)") {
            let stream = try await Stream.open(on: connection)
            try await volume.upload(to: stream)
            var rest = [UInt8](data)
            while !rest.isEmpty {
                let sent = try await stream.send(rest)
                rest.removeFirst(sent)
            }
            try await stream.finish()
        }
        return try await volumePath(volume)
    }

    /// A new empty volume (a file the domain writes: the serial console); returns its path.
    func createEmpty(_ volumeName: String) async throws -> String {
        try await volumePath(try await createVolume(volumeName))
    }

    /// Downloads a volume into a local file (created, 0600), as a sparse stream; returns the bytes written.
    func download(_ volumeName: String, to file: String) async throws -> UInt64 {
        let context = "download volume \(volumeName) of pool \(name) from \(connection.uri) to \(file)"
        let volume: StorageVolume
        do {
            volume = try await pool.lookupVolume(named: volumeName)
        } catch {
            throw LibvirtFailure.error("cannot \(context)", error)
        }
        let sink: SparseFileSink
        do {
            sink = try SparseFileSink(path: file)
        } catch {
            throw KilnError(.hypervisor, "cannot \(context): \(error)")
        }
        try await transfer(context) {
            let stream = try await Stream.open(on: connection)
            try await volume.download(from: stream, flags: .sparse)
            try await stream.sparseReceiveAll(into: sink)
            try await stream.finish()
        }
        do {
            try sink.sync()
        } catch {
            throw KilnError(.hypervisor, "cannot \(context): \(error)")
        }
        return sink.bytesWritten
    }

    /// What was appended to a volume since `offset` (the serial console, read as it grows).
    func read(_ volumeName: String, from offset: UInt64) async throws -> [UInt8] {
        try await Self.read(volumeName, in: pool, from: offset)
    }

    static func read(_ volumeName: String, in pool: StoragePool, from offset: UInt64) async throws -> [UInt8] {
        let volume = try await pool.lookupVolume(named: volumeName)
        let size = try await volume.info(physical: true).allocation
        guard size > offset else { return [] }
        let stream = try await Stream.open(on: pool.connection)
        try await volume.download(from: stream, offset: offset, length: size - offset)
        var bytes: [UInt8] = []
        while true {
            let chunk = try await stream.receive()
            if chunk.isEmpty { break }
            bytes += chunk
        }
        try await stream.finish()
        return bytes
    }

    private func createVolume(_ volumeName: String) async throws -> StorageVolume {
        do {
            return try await pool.createVolume(xml: StorageXML.volume(name: volumeName))
        } catch {
            throw LibvirtFailure.error("cannot create volume \(volumeName) in pool \(name) on \(connection.uri)", error)
        }
    }

    private func volumePath(_ volume: StorageVolume) async throws -> String {
        do {
            return try await volume.path()
        } catch {
            throw LibvirtFailure.error("cannot read the path of volume \(volume.name) on \(connection.uri)", error)
        }
    }

    /// Runs a stream transfer; cancellation stays a cancellation, anything else says what failed.
    private func transfer(_ context: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw LibvirtFailure.error("cannot \(context)", error)
        }
    }

    // MARK: removal

    /// Removes the pool `name` and everything in it: its volumes (those libvirt made and files
    /// the domain left, found by a refresh), its directory and its definition. A pool that is
    /// not there counts as removed; each step tolerates an earlier half-done removal.
    static func remove(named name: String, on connection: Connection) async throws(LibvirtError) {
        let pool: StoragePool
        do throws(LibvirtError) {
            pool = try await connection.lookupStoragePool(named: name)
        } catch where error.isNoStoragePool {
            return
        }
        do throws(LibvirtError) {
            var active = try await pool.isActive()
            if !active {
                // Left inactive (killed between define and start, or half removed): starting it
                // fails only when its directory is gone already.
                active = (try? await pool.start()) != nil
            }
            if active {
                try await pool.refresh()
                for volume in try await pool.listAllVolumes() {
                    do {
                        try await volume.delete()
                    } catch where error.isNoStorageVolume {
                        continue
                    }
                }
                try await pool.destroy()
                try await pool.delete()
            }
            if try await pool.isPersistent() {
                try await pool.undefine()
            }
        } catch where error.isNoStoragePool {
            return
        }
    }

    /// The owner record of pool `name`, or nil when it has none (yet).
    static func owner(ofPoolNamed name: String, on connection: Connection) async throws -> RemoteOwner? {
        let pool = try await connection.lookupStoragePool(named: name)
        guard try await pool.isActive() else { return nil }
        let bytes: [UInt8]
        do {
            bytes = try await read(ownerVolume, in: pool, from: 0)
        } catch let error as LibvirtError where error.isNoStorageVolume {
            return nil
        }
        return RemoteOwner.decode(Data(bytes))
    }
}

/// Who made a remote pool: the process (and its start time, so a recycled PID does not count)
/// on the machine `host`.
struct RemoteOwner: Codable, Sendable, Equatable {
    var pid: Int32
    var startTime: String?
    var host: String
    var domain: String
    var created: Date

    static func current(domain: String) -> RemoteOwner {
        let pid = getpid()
        return RemoteOwner(pid: pid, startTime: WorkDirectory.processStartTime(pid), host: HostIdentity.current,
                           domain: domain, created: Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
    }

    /// Gone for sure: it ran on this machine and that process is no longer there. An owner on
    /// another machine is never judged from here.
    var isDeadOwner: Bool {
        host == HostIdentity.current && !WorkDirectory.isAlive(pid: pid, startTime: startTime)
    }

    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    static func decode(_ data: Data) -> RemoteOwner? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(RemoteOwner.self, from: data)
    }
}
