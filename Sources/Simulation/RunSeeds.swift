import Federation

/// The seeds of a run, each a pure function of (run seed, purpose, round, client), so that a
/// resumed run draws exactly what an uninterrupted one draws (no generator state to save).
public enum RunSeeds {
    private static func derive(_ seed: UInt64, _ tag: UInt64, _ components: UInt64...) -> UInt64 {
        var h = SplitMix64.mix(seed ^ 0x243F_6A88_85A3_08D3)
        h = SplitMix64.mix(h ^ tag)
        for component in components { h = SplitMix64.mix(h &+ 0x9E37_79B9_7F4A_7C15 ^ component) }
        return h
    }

    /// The seed of the initial global adapter (PEFT initialisation of A).
    public static func initialAdapter(_ seed: UInt64) -> UInt64 { derive(seed, 0x494E_4954) }

    /// The trainer seed (data order, dropout) of `client` in `round`.
    public static func training(_ seed: UInt64, round: Int, client: Int) -> UInt64 {
        derive(seed, 0x5452_4149, UInt64(round), UInt64(client))
    }

    /// The seed handed to the client data hook of `client` in `round`.
    public static func clientHook(_ seed: UInt64, round: Int, client: Int) -> UInt64 {
        derive(seed, 0x4344_484B, UInt64(round), UInt64(client))
    }

    /// The seed handed to the server and evaluation hooks in `round`.
    public static func serverHook(_ seed: UInt64, round: Int) -> UInt64 {
        derive(seed, 0x5345_5256, UInt64(round))
    }
}
