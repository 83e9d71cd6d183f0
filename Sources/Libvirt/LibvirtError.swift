import CLibvirt

/// An error reported by libvirt, copied out of the calling thread's last-error slot in the same
/// synchronous call that failed (libvirt keeps the last error per thread).
public struct LibvirtError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A `virErrorNumber` (VIR_ERR_*).
    public var code: Int32
    /// A `virErrorDomain` (VIR_FROM_*): the part of libvirt that raised the error.
    public var domain: Int32
    public var message: String

    public init(code: Int32, domain: Int32, message: String) {
        self.code = code
        self.domain = domain
        self.message = message
    }

    public var description: String { message }

    /// The domain does not exist (any more).
    public var isNoDomain: Bool { code == Int32(VIR_ERR_NO_DOMAIN.rawValue) }
    /// The domain has no metadata element in the requested namespace.
    public var isNoMetadata: Bool { code == Int32(VIR_ERR_NO_DOMAIN_METADATA.rawValue) }
    /// The storage pool does not exist (any more).
    public var isNoStoragePool: Bool { code == Int32(VIR_ERR_NO_STORAGE_POOL.rawValue) }
    /// The storage volume does not exist (any more).
    public var isNoStorageVolume: Bool { code == Int32(VIR_ERR_NO_STORAGE_VOL.rawValue) }
    /// The operation does not apply in the current state, e.g. "domain is not running".
    public var isOperationInvalid: Bool { code == Int32(VIR_ERR_OPERATION_INVALID.rawValue) }

    /// Reads the calling thread's last libvirt error. Call it right after the failing call, on
    /// the same thread, before any other libvirt call.
    static func last(_ fallback: @autoclosure () -> String) -> LibvirtError {
        guard let error = virGetLastError() else {
            return LibvirtError(code: Int32(VIR_ERR_INTERNAL_ERROR.rawValue), domain: 0, message: fallback())
        }
        let message = error.pointee.message.map { String(cString: $0) } ?? fallback()
        return LibvirtError(code: error.pointee.code, domain: error.pointee.domain, message: message)
    }
}
