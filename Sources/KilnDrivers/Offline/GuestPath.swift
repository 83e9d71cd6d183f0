/// Guest path spelling: libguestfs returns directories from globs with a trailing slash.
enum GuestPath {
    /// `path` without trailing slashes (except the root itself).
    static func trimmed(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// `directory/name` with exactly one slash between.
    static func join(_ directory: String, _ name: String) -> String {
        let base = trimmed(directory)
        let leaf = name.drop { $0 == "/" }
        return base == "/" ? "/" + leaf : base + "/" + leaf
    }
}
