#if canImport(Glibc)
import Glibc
#endif

/// A failure at one of the real edges: which C call failed, its error code and the library's message.
public struct AdapterError: Error, Equatable, Sendable, CustomStringConvertible {
    public var operation: String
    public var code: Int32
    public var message: String

    public init(operation: String, code: Int32, message: String) {
        self.operation = operation
        self.code = code
        self.message = message
    }

    /// An error from a call that reports through `errno`.
    static func errno(_ operation: String, _ code: Int32 = Glibc.errno) -> AdapterError {
        AdapterError(operation: operation, code: code, message: String(cString: strerror(code)))
    }

    public var description: String { "\(operation): \(message) (\(code))" }
}
