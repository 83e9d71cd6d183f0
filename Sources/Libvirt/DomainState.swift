import CLibvirt

/// `virDomainState`.
public enum DomainState: Int32, Sendable, CaseIterable {
    case noState = 0
    case running = 1
    case blocked = 2
    case paused = 3
    /// Being shut down.
    case shutdown = 4
    case shutoff = 5
    case crashed = 6
    case pmSuspended = 7

    init(raw: Int32) {
        self = DomainState(rawValue: raw) ?? .noState
    }
}

/// `virDomainInfo`.
public struct DomainInfo: Sendable, Equatable {
    public var state: DomainState
    public var maxMemoryKiB: UInt64
    public var memoryKiB: UInt64
    public var virtualCPUs: Int
    public var cpuTimeNanoseconds: UInt64
}
