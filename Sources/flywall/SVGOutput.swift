import Foundation

/// Writing `flywall simulate --svg FILE`, with errors in plain words (the system's, not
/// Foundation's "NSCocoaErrorDomain error 512").
enum SVGOutput {
    /// Why `path` cannot be the drawing's file, checked before the run: it is one of the run's own
    /// inputs (the same file, by device and inode, whatever the spelling of the path), it exists
    /// and is not a regular file, or its directory is not writable.
    static func problem(writing path: String, inputs: [String]) -> String? {
        var target = stat()
        if stat(path, &target) == 0 {
            for input in inputs {
                var other = stat()
                if stat(input, &other) == 0, other.st_dev == target.st_dev, other.st_ino == target.st_ino {
                    return "refusing to overwrite \(input), an input of this run; choose another --svg file"
                }
            }
            if target.st_mode & S_IFMT != S_IFREG { return "exists and is not a regular file" }
            if access(path, W_OK) != 0 { return "cannot write: \(systemError())" }
            return nil
        }
        let directory = (path as NSString).deletingLastPathComponent
        let dir = directory.isEmpty ? "." : directory
        var info = stat()
        guard stat(dir, &info) == 0 else { return "cannot write: directory \(dir): \(systemError())" }
        guard info.st_mode & S_IFMT == S_IFDIR else { return "cannot write: \(dir) is not a directory" }
        if access(dir, W_OK) != 0 { return "cannot write: directory \(dir): \(systemError())" }
        return nil
    }

    /// Writes `text` to `path` (replacing it); nil on success, else the reason.
    static func write(_ text: String, to path: String) -> String? {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return systemError() }
        defer { close(fd) }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return systemError()
            }
            bytes = bytes.dropFirst(n)
        }
        return nil
    }

    private static func systemError() -> String { String(cString: strerror(errno)) }
}
