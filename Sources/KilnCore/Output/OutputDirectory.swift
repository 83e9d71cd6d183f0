import Foundation

public enum OutputDirectory {
    /// Renames a complete staging directory onto `destination`. With `replace`, an existing
    /// destination is first moved aside and deleted only after the new one is in place.
    public static func publish(staging: String, to destination: String, replace: Bool, id: String) throws {
        let fm = FileManager.default
        var aside: String?
        if fm.fileExists(atPath: destination) {
            guard replace else {
                throw KilnError(.outputExists, "output directory \(destination) appeared during the build",
                                hint: "the new outputs are kept in \(staging)")
            }
            let parent = (destination as NSString).deletingLastPathComponent
            let leaf = (destination as NSString).lastPathComponent
            let old = (parent.isEmpty ? "." : parent) + "/.\(leaf).kiln-old-\(id)"
            try fm.moveItem(atPath: destination, toPath: old)
            aside = old
        }
        do {
            try fm.moveItem(atPath: staging, toPath: destination)
        } catch {
            if let aside { try? fm.moveItem(atPath: aside, toPath: destination) }
            throw KilnError(.export, "cannot move the outputs into \(destination): \(error)")
        }
        if let aside { try? fm.removeItem(atPath: aside) }
    }
}
