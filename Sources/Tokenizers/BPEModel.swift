// The BPE model stage: merges byte-level symbols of one pre-tokenized word into token ids.
// reference: Sennrich et al. 2016 (BPE); Hugging Face tokenizers `models/bpe/word.rs`
// (lowest merge rank first, ties broken by leftmost position).

import Foundation

/// Byte-level BPE over one word: a merge table keyed by id pairs and a per-word cache.
///
/// Merging keeps the word's symbols in a doubly linked list and candidate pairs in a binary
/// min-heap ordered by (rank, position), so a word of `n` bytes costs O(n log n).
struct BPEModel: Sendable {
    /// The merge that joins a pair of ids.
    struct Merge: Sendable {
        /// Priority: lower ranks merge first.
        let rank: Int32
        /// The id of the joined token.
        let result: Int32
    }

    /// Merges keyed by `left << 32 | right`.
    private let merges: [UInt64: Merge]
    /// The id of the single-character token spelling each byte, or -1.
    private let byteIDs: [Int32]
    /// When set, a word that is itself a vocabulary token is emitted without merging
    /// (Hugging Face `ignore_merges`, used by Llama 3).
    private let ignoreMerges: Bool
    /// Token ids by byte-level spelling, for `ignoreMerges`.
    private let idsByToken: [String: Int]
    private let cache = WordCache()

    /// Builds the merge table. Merges naming tokens that are not in the vocabulary are skipped
    /// (as llama.cpp does).
    init(idsByToken: [String: Int], merges mergePairs: [(String, String)], ignoreMerges: Bool) {
        var table: [UInt64: Merge] = [:]
        table.reserveCapacity(mergePairs.count)
        for (rank, pair) in mergePairs.enumerated() {
            guard let left = idsByToken[pair.0], let right = idsByToken[pair.1],
                  let result = idsByToken[pair.0 + pair.1] else { continue }
            let key = Self.key(Int32(left), Int32(right))
            if table[key] == nil { table[key] = Merge(rank: Int32(rank), result: Int32(result)) }
        }
        self.merges = table
        self.byteIDs = ByteLevel.scalars.map { scalar in
            idsByToken[String(scalar)].map { Int32($0) } ?? -1
        }
        self.ignoreMerges = ignoreMerges
        self.idsByToken = idsByToken
    }

    /// The number of usable merges.
    var mergeCount: Int { merges.count }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Appends the ids of one pre-tokenized word (given as Unicode scalars) to `ids`.
    func encodeWord(_ word: ArraySlice<Unicode.Scalar>, into ids: inout [Int]) {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: word)
        let key = String(view)
        if let cached = cache.lookup(key) {
            ids.append(contentsOf: cached)
            return
        }
        let bytes = Array(key.utf8)
        if ignoreMerges, let id = idsByToken[ByteLevel.encode(bytes)] {
            ids.append(id)
            cache.store(key, [id])
            return
        }
        let result = merge(bytes)
        ids.append(contentsOf: result)
        cache.store(key, result)
    }

    /// Applies the merges to a word's bytes.
    func merge(_ bytes: [UInt8]) -> [Int] {
        // Symbols as a linked list: symbol[i] spans from byte i; dead symbols have id -1.
        var symbols: [Int32] = []
        symbols.reserveCapacity(bytes.count)
        for byte in bytes {
            let id = byteIDs[Int(byte)]
            if id >= 0 { symbols.append(id) }   // bytes without a token are dropped, like HF without unk
        }
        let count = symbols.count
        if count < 2 { return symbols.map(Int.init) }
        var next = [Int32](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer[i] = i + 1 < count ? Int32(i + 1) : -1 }
            initialized = count
        }
        var previous = [Int32](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer[i] = Int32(i - 1) }
            initialized = count
        }
        var heap = MergeHeap()
        for i in 0..<(count - 1) {
            if let merge = merges[Self.key(symbols[i], symbols[i + 1])] {
                heap.push(.init(rank: merge.rank, position: Int32(i)))
            }
        }
        while let candidate = heap.pop() {
            let left = Int(candidate.position)
            let right = Int(next[left])
            guard symbols[left] >= 0, right >= 0,
                  let merge = merges[Self.key(symbols[left], symbols[right])],
                  merge.rank == candidate.rank else { continue }   // stale entry
            symbols[left] = merge.result
            symbols[right] = -1
            let after = next[right]
            next[left] = after
            if after >= 0 { previous[Int(after)] = Int32(left) }
            let before = previous[left]
            if before >= 0, let merged = merges[Self.key(symbols[Int(before)], symbols[left])] {
                heap.push(.init(rank: merged.rank, position: before))
            }
            if after >= 0, let merged = merges[Self.key(symbols[left], symbols[Int(after)])] {
                heap.push(.init(rank: merged.rank, position: Int32(left)))
            }
        }
        var result: [Int] = []
        var index: Int32 = 0
        while index >= 0 {
            result.append(Int(symbols[Int(index)]))
            index = next[Int(index)]
        }
        return result
    }
}

/// A binary min-heap of merge candidates ordered by (rank, position).
struct MergeHeap {
    struct Entry {
        let rank: Int32
        let position: Int32

        @inline(__always)
        func precedes(_ other: Entry) -> Bool {
            rank != other.rank ? rank < other.rank : position < other.position
        }
    }

    private var entries: [Entry] = []

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < entries.count, entries[left].precedes(entries[smallest]) { smallest = left }
                if right < entries.count, entries[right].precedes(entries[smallest]) { smallest = right }
                if smallest == parent { break }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}

/// A bounded, thread-safe map from word to ids.
///
/// `@unchecked Sendable`: every access to `storage` happens while holding `lock`.
final class WordCache: @unchecked Sendable {
    /// Words longer than this many UTF-8 bytes are not cached.
    static let maxWordBytes = 64
    /// The cache is cleared when it reaches this many words.
    static let capacity = 50_000

    private let lock = NSLock()
    private var storage: [String: [Int]] = [:]

    func lookup(_ word: String) -> [Int]? {
        lock.lock()
        defer { lock.unlock() }
        return storage[word]
    }

    func store(_ word: String, _ ids: [Int]) {
        guard word.utf8.count <= Self.maxWordBytes else { return }
        lock.lock()
        defer { lock.unlock() }
        if storage.count >= Self.capacity { storage.removeAll(keepingCapacity: true) }
        storage[word] = ids
    }
}
