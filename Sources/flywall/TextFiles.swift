import Foundation

/// Reads a UTF-8 text file; errors say why in plain words.
func readConfigFile(_ path: String) throws -> String {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw ReadError("no such file")
    }
    if isDirectory.boolValue { throw ReadError("is a directory") }
    guard let data = FileManager.default.contents(atPath: path) else { throw ReadError("permission denied or unreadable") }
    guard let text = String(data: data, encoding: .utf8) else { throw ReadError("not UTF-8 text") }
    return text
}

struct ReadError: Error, LocalizedError, CustomStringConvertible {
    var reason: String
    init(_ reason: String) { self.reason = reason }
    var errorDescription: String? { reason }
    var description: String { reason }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
