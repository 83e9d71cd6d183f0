import Foundation
import KilnCore
import Libvirt

extension LibvirtHypervisor {
    /// Starts a guest on a remote host. The work disk was made here (overlay, seeding: libguestfs
    /// works on local files); it goes to a pool on that host as one standalone qcow2, with the
    /// kernel files, and the domain boots from there. Anything made there is removed again if
    /// this fails or is cancelled.
    func startRemote(_ config: VMConfig, on connection: Connection) async throws -> any VirtualMachine {
        let started = ContinuousClock.now
        let pool = try await RemotePool.create(on: connection, name: config.name, parent: remotePoolParent,
                                               owner: .current(domain: config.name))
        do {
            var placed = config
            let disk = try await StandaloneDisk.make(from: config.diskPath)
            defer { disk.removeTemporary() }
            placed.diskPath = try await pool.upload(file: disk.path, as: RemoteRun.diskVolume)
            if let boot = config.kernelBoot {
                placed.kernelBoot?.kernel = try await pool.upload(file: boot.kernel, as: "kernel")
                if let initrd = boot.initrd {
                    placed.kernelBoot?.initrd = try await pool.upload(file: initrd, as: "initrd")
                }
            }
            placed.consoleLogPath = try await pool.createEmpty(RemoteRun.consoleVolume)
            // UEFI variables are written beside the disk, in the pool, and go with it.
            placed.workDirectory = pool.path
            let xml = DomainXML.render(placed, ownerHost: HostIdentity.current)
            let domain = try await createDomain(xml, placed, on: connection)
            let seconds = String(format: "%.1f", (ContinuousClock.now - started).seconds)
            let host = remote?.hostDescription ?? uri
            let vm = LibvirtVirtualMachine(
                name: config.name, guestPort: config.guestSSHPort, hypervisor: self,
                lifeline: destroyOnDisconnect ? domain : nil,
                remote: RemoteRun(pool: pool, localDisk: config.diskPath, localConsole: config.consoleLogPath, host: host),
                placement: "domain \(config.name) on \(uri) (remote host \(host)): disk uploaded to pool \(pool.name) "
                    + "(\(ByteFormat.string(disk.size)) in \(seconds) s)")
            await vm.startConsoleMirror()
            return vm
        } catch {
            try? await RemotePool.remove(named: pool.name, on: connection)
            throw error
        }
    }

    /// Removes a build's pool on this connection (reconnecting, with `patience`, when it dropped).
    func removePool(named name: String, patience: Duration) async throws {
        try await reconnecting("cannot remove storage pool \(name) from \(uri)", patience: patience) { connection throws(LibvirtError) in
            try await RemotePool.remove(named: name, on: connection)
        }
    }

    /// Kiln's pools on this connection (name prefix `kiln-`), with their owners when recorded.
    func kilnPools() async throws -> [(name: String, owner: RemoteOwner?)] {
        let pools = try await reconnecting("cannot list the storage pools of \(uri)") { connection throws(LibvirtError) in
            try await connection.listAllStoragePools()
        }
        var found: [(name: String, owner: RemoteOwner?)] = []
        for pool in pools where pool.name.hasPrefix("kiln-") {
            let owner = try? await RemotePool.owner(ofPoolNamed: pool.name, on: pool.connection)
            found.append((pool.name, owner ?? nil))
        }
        return found
    }

    public func kilnStorage() async throws -> [StorageLeftover] {
        guard remote != nil else { return [] }
        var leftovers: [StorageLeftover] = []
        for (name, owner) in try await kilnPools() {
            if let owner {
                // Only this machine can tell whether the owner is alive.
                guard owner.host == HostIdentity.current else { continue }
                leftovers.append(StorageLeftover(name: name, ownerPID: owner.pid, ownerAlive: !owner.isDeadOwner))
            } else {
                // No owner record: a run killed between making the pool and writing the record,
                // or one doing that right now. Nothing marks it as someone else's; an inactive
                // one cannot be a live run's.
                let active = (try? await reconnecting("") { connection throws(LibvirtError) in
                    try await connection.lookupStoragePool(named: name).isActive()
                }) ?? true
                if !active { leftovers.append(StorageLeftover(name: name, ownerPID: nil, ownerAlive: false)) }
            }
        }
        return leftovers
    }

    public func removeStorage(named name: String) async throws {
        try await removePool(named: name, patience: .zero)
    }
}

/// A disk that stands alone: the work disk itself when it has no backing file, or a
/// flattened copy beside it (the remote host cannot see the base image).
struct StandaloneDisk {
    let path: String
    let size: UInt64
    private let temporary: Bool

    static func make(from disk: String) async throws -> StandaloneDisk {
        let info = try await QemuImg.info(disk)
        guard info.backingFile != nil else {
            return StandaloneDisk(path: disk, size: try fileSize(disk), temporary: false)
        }
        let flat = disk + ".standalone"
        do {
            try await Subprocess.run("qemu-img", QemuImgArguments.flatten(source: disk, destination: flat))
        } catch {
            try? FileManager.default.removeItem(atPath: flat)
            throw KilnError.wrap(error, as: .hypervisor, "cannot flatten \(disk) for the remote host")
        }
        return StandaloneDisk(path: flat, size: try fileSize(flat), temporary: true)
    }

    func removeTemporary() {
        if temporary { try? FileManager.default.removeItem(atPath: path) }
    }

    private static func fileSize(_ path: String) throws -> UInt64 {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
    }
}

/// One run of a guest on a remote host: its pool there and the local files it stands for.
actor RemoteRun {
    static let diskVolume = "disk.qcow2"
    static let consoleVolume = "console.log"

    let pool: RemotePool
    let localDisk: String
    let localConsole: String
    let host: String
    private var consoleOffset: UInt64 = 0

    init(pool: RemotePool, localDisk: String, localConsole: String, host: String) {
        self.pool = pool
        self.localDisk = localDisk
        self.localConsole = localConsole
        self.host = host
    }

    /// Appends what the guest wrote to its console since the last call to the local console
    /// log, so that errors can quote it. False once the connection is gone (nothing more to get).
    func syncConsole() async -> Bool {
        do {
            let bytes = try await pool.read(Self.consoleVolume, from: consoleOffset)
            guard !bytes.isEmpty else { return true }
            if !FileManager.default.fileExists(atPath: localConsole) {
                FileManager.default.createFile(atPath: localConsole, contents: nil, attributes: [.posixPermissions: 0o600])
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: localConsole))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(bytes))
            consoleOffset += UInt64(bytes.count)
            return true
        } catch {
            return await pool.connection.isAlive()
        }
    }

    /// Downloads the disk over the local work disk (written beside it, then renamed over it).
    func retrieveDisk() async throws -> String {
        let started = ContinuousClock.now
        let partial = localDisk + ".download"
        let bytes: UInt64
        do {
            bytes = try await pool.download(Self.diskVolume, to: partial)
            try FileManager.default.removeItem(atPath: localDisk)
            try FileManager.default.moveItem(atPath: partial, toPath: localDisk)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw KilnError.wrap(error, as: .hypervisor, "cannot bring the disk back from \(host)")
        }
        let seconds = String(format: "%.1f", (ContinuousClock.now - started).seconds)
        return "disk downloaded from pool \(pool.name) on \(host) (\(ByteFormat.string(bytes)) in \(seconds) s)"
    }
}
