import CLibvirt

/// `virDomainCreateFlags` for `Connection.createDomain(xml:flags:)`.
public struct DomainCreateFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let paused = DomainCreateFlags(rawValue: VIR_DOMAIN_START_PAUSED.rawValue)
    /// The domain is destroyed when the connection that created it closes (or its process dies).
    public static let autodestroy = DomainCreateFlags(rawValue: VIR_DOMAIN_START_AUTODESTROY.rawValue)
    public static let bypassCache = DomainCreateFlags(rawValue: VIR_DOMAIN_START_BYPASS_CACHE.rawValue)
    public static let validate = DomainCreateFlags(rawValue: VIR_DOMAIN_START_VALIDATE.rawValue)
}

/// `virConnectListAllDomainsFlags`; bits of one group filter together, an empty group does not filter.
public struct ListDomainsFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let active = ListDomainsFlags(rawValue: VIR_CONNECT_LIST_DOMAINS_ACTIVE.rawValue)
    public static let inactive = ListDomainsFlags(rawValue: VIR_CONNECT_LIST_DOMAINS_INACTIVE.rawValue)
    public static let persistent = ListDomainsFlags(rawValue: VIR_CONNECT_LIST_DOMAINS_PERSISTENT.rawValue)
    public static let transient = ListDomainsFlags(rawValue: VIR_CONNECT_LIST_DOMAINS_TRANSIENT.rawValue)
    public static let running = ListDomainsFlags(rawValue: VIR_CONNECT_LIST_DOMAINS_RUNNING.rawValue)
    public static let paused = ListDomainsFlags(rawValue: VIR_CONNECT_LIST_DOMAINS_PAUSED.rawValue)
    public static let shutoff = ListDomainsFlags(rawValue: VIR_CONNECT_LIST_DOMAINS_SHUTOFF.rawValue)
    public static let other = ListDomainsFlags(rawValue: VIR_CONNECT_LIST_DOMAINS_OTHER.rawValue)
}

/// `virDomainXMLFlags` for `Domain.xmlDescription(flags:)`.
public struct DomainXMLFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let secure = DomainXMLFlags(rawValue: VIR_DOMAIN_XML_SECURE.rawValue)
    public static let inactive = DomainXMLFlags(rawValue: VIR_DOMAIN_XML_INACTIVE.rawValue)
    public static let updateCPU = DomainXMLFlags(rawValue: VIR_DOMAIN_XML_UPDATE_CPU.rawValue)
    public static let migratable = DomainXMLFlags(rawValue: VIR_DOMAIN_XML_MIGRATABLE.rawValue)
}

/// `virStoragePoolBuildFlags`.
public struct StoragePoolBuildFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let noOverwrite = StoragePoolBuildFlags(rawValue: VIR_STORAGE_POOL_BUILD_NO_OVERWRITE.rawValue)
    public static let overwrite = StoragePoolBuildFlags(rawValue: VIR_STORAGE_POOL_BUILD_OVERWRITE.rawValue)
}

/// `virStoragePoolCreateFlags`.
public struct StoragePoolCreateFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Build the pool's storage (mkdir for a `dir` pool) before starting it.
    public static let build = StoragePoolCreateFlags(rawValue: VIR_STORAGE_POOL_CREATE_WITH_BUILD.rawValue)
}
