import NIOSSH

/// The transport protection schemes Kiln's SSH client offers, in order of preference: NIOSSH's
/// AES-GCM first, then AES-CTR with HMAC-SHA-256 for servers without GCM (dropbear).
/// Pass to `SSHClientConfiguration(..., transportProtectionSchemes: KilnTransportSchemes.all)`.
public enum KilnTransportSchemes {
    public static let all: [(NIOSSHTransportProtection & SendableMetatype).Type] =
        NIOSSH.Constants.bundledTransportProtectionSchemes + counterMode

    #if canImport(_CryptoExtras)
    /// NIOSSH picks the cipher and the MAC from separate name lists, then looks for a scheme with
    /// both, so every cipher is offered with every MAC. Encrypt-then-MAC first: the stronger one.
    static let counterMode: [(NIOSSHTransportProtection & SendableMetatype).Type] = [
        AES128CTRHMACSHA256ETMTransportProtection.self,
        AES256CTRHMACSHA256ETMTransportProtection.self,
        AES128CTRHMACSHA256TransportProtection.self,
        AES256CTRHMACSHA256TransportProtection.self,
    ]
    #else
    #warning("AES-CTR SSH transport disabled: KilnSSH needs swift-crypto's _CryptoExtras product")
    /// Empty until KilnSSH depends on swift-crypto's `_CryptoExtras` product (for `AES._CTR`).
    static let counterMode: [(NIOSSHTransportProtection & SendableMetatype).Type] = []
    #endif
}
