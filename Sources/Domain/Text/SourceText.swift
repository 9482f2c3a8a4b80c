/// The bytes of a config or scenario file turned into text, or the one reason they are not text
/// Flywall reads, at the position of the first offending byte (`file:line:col`, columns counting
/// characters as the parser does).
///
/// Refused: bytes that are not UTF-8 (a Latin-1 file, a binary pasted by mistake), and carriage
/// returns not followed by a line feed (a file saved with classic-Mac CR-only line endings would
/// otherwise read as one long line, with baffling errors). CRLF (Windows) is fine.
public enum SourceText {
    /// Files larger than this are refused before they are read in full (a config of 10,000 WANs is
    /// about 1 MB).
    public static let largestFile = 16 * 1024 * 1024

    public static func decode(_ bytes: [UInt8], file: String) -> Result<String, Diagnostic> {
        var line = 1
        var column = 1
        let n = bytes.count
        // A byte order mark is not text (the lexer skips it too).
        var i = n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                if b == 0x0A {
                    line += 1
                    column = 1
                } else if b == 0x0D && (i + 1 == n || bytes[i + 1] != 0x0A) {
                    return .failure(Diagnostic(SourceLocation(file: file, line: line, column: column),
                        "a carriage return without a line feed (CR-only line endings): save the file with LF (or CRLF) line endings"))
                } else {
                    column += 1
                }
                i += 1
                continue
            }
            let length = sequenceLength(bytes, at: i)
            guard length > 0 else {
                let shown = String(b, radix: 16, uppercase: true)
                return .failure(Diagnostic(SourceLocation(file: file, line: line, column: column),
                    "not UTF-8 text: byte 0x\(shown.count == 1 ? "0" : "")\(shown) at offset \(i) is not valid UTF-8 (save the file as UTF-8)"))
            }
            i += length
            column += 1
        }
        return .success(String(decoding: bytes, as: UTF8.self))
    }

    /// The length of the well-formed UTF-8 sequence at `i` (RFC 3629: no overlong forms, no
    /// surrogates, nothing above U+10FFFF), or 0.
    private static func sequenceLength(_ bytes: [UInt8], at i: Int) -> Int {
        let b = bytes[i]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF   // the allowed range of the second byte
        switch b {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return 0
        }
        guard i + length <= bytes.count else { return 0 }
        guard (low...high).contains(bytes[i + 1]) else { return 0 }
        for k in 2..<max(2, length) where !(0x80...0xBF).contains(bytes[i + k]) { return 0 }
        return length
    }
}
