/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast generator whose whole state is one UInt64.
///
/// The simulator never uses system randomness: every random choice comes from one of these, seeded
/// from the scenario's `seed`, so that the same file and seed give the same run. Draws are turned
/// into numbers here too (not with the standard library's `random(in:using:)`, whose algorithm may
/// change between Swift releases), so the output stays byte-stable across toolchains.
public struct SplitMix64: Sendable, Equatable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for one named stream of a run (e.g. `"probe:eth0"`, `"traffic:lan"`).
    ///
    /// Independent streams keep a change in one place of a scenario (another traffic source, one more
    /// probe target) from shifting the random draws of everything else.
    public init(seed: UInt64, stream: String) {
        var g = SplitMix64(seed: seed ^ SplitMix64.fnv1a(stream))
        _ = g.next()
        self = g
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), with 53 random bits.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    public mutating func nextUInt32() -> UInt32 {
        UInt32(truncatingIfNeeded: next() >> 32)
    }

    /// 64-bit FNV-1a of a string's UTF-8 bytes: a stable hash (Swift's `Hasher` is seeded per process).
    public static func fnv1a(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }
}
