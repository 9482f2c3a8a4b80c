/// "Did you mean" suggestions for misspelt names.
public enum Suggest {
    /// Levenshtein distance over characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// Names longer than this get no suggestion, and at most `consideredCandidates` candidates are
    /// compared: a file of thousands of misspelt names must still be checked in linear time.
    static let longestWord = 64
    static let consideredCandidates = 1_000

    /// The candidate closest to `word`, if it is close enough to be a plausible typo.
    public static func closest(to word: String, in candidates: [String]) -> String? {
        let length = word.count
        guard length <= longestWord else { return nil }
        let candidates = candidates.prefix(consideredCandidates)
        let lower = word.lowercased()
        var best: (name: String, distance: Int)?
        for candidate in candidates where candidate != word {
            // The distance is at least the difference in length: skip what cannot be closer.
            let other = candidate.count
            if other > longestWord || abs(other - length) > max(2, length) { continue }
            if let best, abs(other - length) >= best.distance { continue }
            let d = editDistance(lower, candidate.lowercased())
            if best == nil || d < best!.distance { best = (candidate, d) }
        }
        guard let best else { return nil }
        let limit = max(2, min(word.count, best.name.count) / 3)
        if best.distance <= limit { return best.name }
        // A prefix ("threshold" for "threshold_down") is a plausible slip too.
        if lower.count >= 3, let prefixed = candidates.first(where: { $0.lowercased().hasPrefix(lower) }) {
            return prefixed
        }
        return nil
    }

    /// `; did you mean 'x'?` (with `quote` around the name), or the empty string: appended to messages.
    public static func hint(_ word: String, _ candidates: [String], quote: String = "'") -> String {
        guard let c = closest(to: word, in: candidates) else { return "" }
        return "; did you mean \(quote)\(c)\(quote)?"
    }
}
