import Domain
import Foundation

/// Reads a config or scenario file as text; errors say why in plain words.
///
/// Only regular files are read: a FIFO would block the command (or the daemon's reload) until a
/// writer comes, and a device may never end. Text must be UTF-8 with LF or CRLF line endings
/// (`SourceText`); a problem there is a located `Diagnostic`, thrown as a one-entry `DiagnosticList`.
func readConfigFile(_ path: String) throws -> String {
    var info = stat()
    guard stat(path, &info) == 0 else { throw ReadError(String(cString: strerror(errno)).lowercased()) }
    switch info.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: throw ReadError("is a directory")
    case S_IFIFO: throw ReadError("is a FIFO (named pipe), not a regular file")
    case S_IFCHR, S_IFBLK: throw ReadError("is a device, not a regular file")
    case S_IFSOCK: throw ReadError("is a socket, not a regular file")
    default: throw ReadError("is not a regular file")
    }
    guard info.st_size <= SourceText.largestFile else {
        throw ReadError("too large (\(info.st_size) bytes), at most \(SourceText.largestFile) bytes")
    }
    guard let data = FileManager.default.contents(atPath: path) else { throw ReadError("permission denied or unreadable") }
    switch SourceText.decode([UInt8](data), file: path) {
    case .success(let text): return text
    case .failure(let diagnostic): throw DiagnosticList([diagnostic])
    }
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
