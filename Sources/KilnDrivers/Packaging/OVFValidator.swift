import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import KilnCore

/// What the validator needs to know about a file an OVF descriptor references.
public struct OVFFileFacts: Sendable, Equatable {
    /// The file's length in bytes.
    public var size: UInt64
    /// The disk's virtual size, when the file is a disk image qemu-img can read.
    public var virtualSize: UInt64?
    public init(size: UInt64, virtualSize: UInt64?) {
        self.size = size
        self.virtualSize = virtualSize
    }
}

/// Checks an OVF 1.0 descriptor against the files beside it: well-formed XML, the sections
/// importers require, every reference resolving, file sizes and disk capacities right.
public enum OVFValidator {
    static let envelopeNamespace = "http://schemas.dmtf.org/ovf/envelope/1"
    static let rasdNamespace = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
    static let vssdNamespace = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"

    /// Validates the descriptor at `path` against the files in its directory (sizes read from disk,
    /// virtual sizes from qemu-img). Throws a `.export` KilnError listing every problem.
    public static func validate(descriptorAt path: String) async throws {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw KilnError(.export, "cannot read OVF descriptor \(path): \(error)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        var facts: [String: OVFFileFacts] = [:]
        for href in referencedFiles(text) where isPlainFileName(href) {
            let file = directory + "/" + href
            guard FileManager.default.fileExists(atPath: file) else { continue }
            let size = try FileDigest.size(path: file)
            let virtualSize = try? await QemuImg.info(file).virtualSize
            facts[href] = OVFFileFacts(size: size, virtualSize: virtualSize)
        }
        let found = problems(descriptor: text, files: facts)
        guard found.isEmpty else {
            throw KilnError(.export, "invalid OVF descriptor \(path):\n  - " + found.joined(separator: "\n  - "),
                            hint: "this is a bug in Kiln's OVF generator; please report it with the descriptor")
        }
    }

    /// Every problem found in `descriptor`, given the facts of the files present (keyed by ovf:href).
    /// Empty when the descriptor is fine. Pure.
    public static func problems(descriptor: String, files: [String: OVFFileFacts]) -> [String] {
        // XMLDocument recovers from errors (a missing end tag) on Linux; XMLParser records them,
        // though its parse() may still return true.
        let parser = XMLParser(data: Data(descriptor.utf8))
        guard parser.parse(), parser.parserError == nil else {
            return ["not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "parse failed")"]
        }
        let document: XMLDocument
        do { document = try XMLDocument(xmlString: descriptor) } catch {
            return ["not well-formed XML: \(error)"]
        }
        guard let envelope = document.rootElement(), envelope.localName == "Envelope",
              envelope.uri == envelopeNamespace else {
            return ["the root element is not an OVF 1.0 Envelope (\(envelopeNamespace))"]
        }
        var found: [String] = []
        func require(_ element: XMLElement?, _ what: String) -> XMLElement? {
            if element == nil { found.append("missing \(what)") }
            return element
        }
        let references = require(child(envelope, "References"), "References section")
        let diskSection = require(child(envelope, "DiskSection"), "DiskSection")
        let system = require(child(envelope, "VirtualSystem"), "VirtualSystem")
        if let system {
            if ovfAttribute(system, "id") == nil { found.append("VirtualSystem has no ovf:id") }
            if let os = require(child(system, "OperatingSystemSection"), "OperatingSystemSection"),
               ovfAttribute(os, "id").flatMap(Int.init) == nil {
                found.append("OperatingSystemSection has no numeric ovf:id")
            }
            if let hardware = require(child(system, "VirtualHardwareSection"), "VirtualHardwareSection") {
                if child(hardware, "System").flatMap({ child($0, "VirtualSystemType", vssdNamespace) }) == nil {
                    found.append("VirtualHardwareSection has no System/VirtualSystemType")
                }
                found += itemProblems(hardware, diskIDs: diskIDs(diskSection))
            }
        }
        var fileIDs: [String: String] = [:]
        if let references { fileIDs = fileProblems(references, files: files, found: &found) }
        if let diskSection { found += diskProblems(diskSection, fileIDs: fileIDs, files: files) }
        return found
    }

    /// The ovf:href of every File in References (for gathering facts before `problems`).
    static func referencedFiles(_ descriptor: String) -> [String] {
        guard let document = try? XMLDocument(xmlString: descriptor), let envelope = document.rootElement(),
              let references = child(envelope, "References") else { return [] }
        return children(references, "File").compactMap { ovfAttribute($0, "href") }
    }

    // MARK: sections

    /// Checks References/File and returns the href of each file id.
    private static func fileProblems(_ references: XMLElement, files: [String: OVFFileFacts],
                                     found: inout [String]) -> [String: String] {
        var hrefs: [String: String] = [:]
        for file in children(references, "File") {
            guard let id = ovfAttribute(file, "id"), let href = ovfAttribute(file, "href") else {
                found.append("a File lacks ovf:id or ovf:href")
                continue
            }
            hrefs[id] = href
            guard isPlainFileName(href) else {
                found.append("File \(id): ovf:href '\(href)' is not a plain file name in the package")
                continue
            }
            guard let facts = files[href] else {
                found.append("File \(id): '\(href)' does not exist")
                continue
            }
            if let size = ovfAttribute(file, "size") {
                if UInt64(size) != facts.size {
                    found.append("File \(id): ovf:size is \(size) but '\(href)' is \(facts.size) bytes")
                }
            }
        }
        return hrefs
    }

    private static func diskIDs(_ diskSection: XMLElement?) -> Set<String> {
        Set(diskSection.map { children($0, "Disk").compactMap { ovfAttribute($0, "diskId") } } ?? [])
    }

    private static func diskProblems(_ section: XMLElement, fileIDs: [String: String],
                                     files: [String: OVFFileFacts]) -> [String] {
        var found: [String] = []
        let disks = children(section, "Disk")
        if disks.isEmpty { found.append("DiskSection has no Disk") }
        for disk in disks {
            let id = ovfAttribute(disk, "diskId") ?? "?"
            if ovfAttribute(disk, "format") == nil { found.append("Disk \(id) has no ovf:format") }
            guard let capacityText = ovfAttribute(disk, "capacity"), let capacity = UInt64(capacityText) else {
                found.append("Disk \(id): ovf:capacity is missing or not a whole number")
                continue
            }
            let units = ovfAttribute(disk, "capacityAllocationUnits") ?? "byte"
            guard let multiplier = byteMultiplier(units) else {
                found.append("Disk \(id): unsupported ovf:capacityAllocationUnits '\(units)'")
                continue
            }
            guard let fileRef = ovfAttribute(disk, "fileRef") else { continue } // a blank disk is allowed
            guard let href = fileIDs[fileRef] else {
                found.append("Disk \(id): ovf:fileRef '\(fileRef)' names no File")
                continue
            }
            if let virtualSize = files[href]?.virtualSize {
                let (bytes, overflow) = capacity.multipliedReportingOverflow(by: multiplier)
                if !overflow && bytes < virtualSize {
                    found.append("Disk \(id): ovf:capacity \(bytes) bytes is less than the virtual size \(virtualSize) of '\(href)'")
                }
            }
        }
        return found
    }

    private static func itemProblems(_ hardware: XMLElement, diskIDs: Set<String>) -> [String] {
        var found: [String] = []
        let items = children(hardware, "Item")
        var instanceIDs: [String] = []
        for item in items {
            if let id = rasd(item, "InstanceID") {
                if instanceIDs.contains(id) { found.append("duplicate Item InstanceID \(id)") }
                instanceIDs.append(id)
            } else {
                found.append("an Item has no InstanceID")
            }
        }
        let types = items.compactMap { rasd($0, "ResourceType").flatMap(Int.init) }
        if types.count != items.count { found.append("an Item has no numeric ResourceType") }
        if !types.contains(3) { found.append("no CPU Item (ResourceType 3)") }
        if !types.contains(4) { found.append("no memory Item (ResourceType 4)") }
        for item in items {
            let id = rasd(item, "InstanceID") ?? "?"
            if let parent = rasd(item, "Parent"), !instanceIDs.contains(parent) || parent == id {
                found.append("Item \(id): Parent \(parent) is no other Item's InstanceID")
            }
            if let resource = rasd(item, "HostResource") {
                let prefixes = ["ovf:/disk/", "ovf://disk/", "/disk/"]
                if let prefix = prefixes.first(where: resource.hasPrefix) {
                    let diskID = String(resource.dropFirst(prefix.count))
                    if !diskIDs.contains(diskID) { found.append("Item \(id): HostResource \(resource) names no Disk") }
                } else if rasd(item, "ResourceType") == "17" {
                    found.append("Item \(id): disk HostResource '\(resource)' is not ovf:/disk/ID")
                }
            }
            if rasd(item, "ResourceType") == "17" && rasd(item, "Parent") == nil {
                found.append("Item \(id): the disk has no Parent controller")
            }
        }
        return found
    }

    // MARK: XML helpers (by namespace URI, so any prefix works)

    private static func children(_ element: XMLElement, _ name: String, _ uri: String = envelopeNamespace) -> [XMLElement] {
        (element.children ?? []).compactMap { $0 as? XMLElement }.filter { $0.localName == name && $0.uri == uri }
    }

    private static func child(_ element: XMLElement, _ name: String, _ uri: String = envelopeNamespace) -> XMLElement? {
        children(element, name, uri).first
    }

    private static func rasd(_ item: XMLElement, _ name: String) -> String? {
        child(item, name, rasdNamespace)?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func ovfAttribute(_ element: XMLElement, _ name: String) -> String? {
        element.attribute(forLocalName: name, uri: envelopeNamespace)?.stringValue
    }

    private static func isPlainFileName(_ href: String) -> Bool {
        !href.isEmpty && !href.contains("/") && href != "." && href != ".." && !href.contains(":")
    }

    /// "byte" or "byte * 2^N".
    private static func byteMultiplier(_ units: String) -> UInt64? {
        let compact = units.replacingOccurrences(of: " ", with: "")
        if compact == "byte" { return 1 }
        guard compact.hasPrefix("byte*2^"), let power = UInt64(compact.dropFirst("byte*2^".count)), power < 64 else { return nil }
        return 1 << power
    }
}
