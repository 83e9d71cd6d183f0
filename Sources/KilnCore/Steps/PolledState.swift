import Foundation

extension VirtualMachine {
    /// The state, for loops that poll it: a failed read counts as `.other` and the loop goes on,
    /// but a lost hypervisor connection ends the step with its own error.
    func polledState() async throws -> VMState {
        do {
            return try await state()
        } catch {
            if let lost = HypervisorConnectionLost.within(error) { throw lost }
            return .other
        }
    }
}

extension HypervisorConnectionLost {
    /// The error as the engine reports it, when `error` is (or wraps) a lost connection.
    static func within(_ error: any Error) -> KilnError? {
        if let kiln = error as? KilnError {
            return kiln.cause is HypervisorConnectionLost ? kiln : nil
        }
        guard let lost = error as? HypervisorConnectionLost else { return nil }
        return KilnError(.hypervisor, lost.description, cause: lost)
    }
}
