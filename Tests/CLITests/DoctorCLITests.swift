import Foundation
import Testing

/// `fedguard doctor` and the start-up choice of OpenBLAS kernels, in child processes: OpenBLAS reads
/// OPENBLAS_CORETYPE when it loads, so a child started with `Prescott` is what a CPU that Debian's
/// OpenBLAS does not recognise gets (the Intel Xeon of ENGINE.md, 3-5× slower products).
struct DoctorCLITests {
    static func doctor(_ environment: [String: String]) throws -> (status: Int32, json: [String: Any], stderr: String) {
        var env = environment
        if env["FEDGUARD_BLAS_CORE"] == nil { env["FEDGUARD_BLAS_CORE"] = "auto" }
        let r = try CLITests.run(["doctor", "--json"], environment: env)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
        return (r.status, json, r.stderr)
    }

    @Test func doctorReportsTheCPUAndTheKernelOfEachPath() throws {
        let r = try Self.doctor([:])
        #expect(r.status == 0, "\(r.stderr)")
        let cpu = try #require(r.json["cpu"] as? [String: Any])
        #expect(cpu["avx2"] as? Bool == true && cpu["fma"] as? Bool == true)  // the kernels need them, and run here
        let blas = try #require(r.json["blas"] as? [String: Any])
        #expect(blas["checkPassed"] as? Bool == true)
        let paths = try #require(r.json["paths"] as? [[String: Any]])
        #expect(paths.count == 4)
        let text = try CLITests.run(["doctor"])
        #expect(text.stdout.contains("OpenBLAS kernels:") && text.stdout.contains("int8 products"))
        let version = try CLITests.run(["--version"])
        #expect(version.stdout.contains("x86-64-v") && version.stdout.contains("product check passed"))
    }

    @Test func aGenericOpenBLASFallbackIsSwitchedOrExplained() throws {
        let cpu = try #require(try Self.doctor([:]).json["cpu"] as? [String: Any])
        let avx512 = ["avx512f", "avx512dq", "avx512bw", "avx512vl"].allSatisfy { cpu[$0] as? Bool == true }
        let steered = try Self.doctor(["OPENBLAS_CORETYPE": "Prescott"])
        #expect(steered.status == 0, "\(steered.stderr)")
        let blas = try #require(steered.json["blas"] as? [String: Any])
        #expect(blas["detected"] as? String == "Prescott")
        if blas["reason"] as? String == "fallback" {
            // Only an OpenBLAS built without DYNAMIC_ARCH cannot switch; it must say so.
            let warnings = blas["warnings"] as? [String] ?? []
            #expect(warnings.contains { $0.contains("cannot switch") }, "\(warnings)")
        } else {
            #expect(blas["reason"] as? String == "steered")
            let core = try #require(blas["core"] as? String)
            #expect(core == (avx512 ? "SkylakeX" : "Haswell"), "\(core)")
            #expect(blas["checkPassed"] as? Bool == true)
        }

        // FEDGUARD_BLAS_CORE=keep keeps the fallback, and every command warns about it.
        let kept = try Self.doctor(["OPENBLAS_CORETYPE": "Prescott", "FEDGUARD_BLAS_CORE": "keep"])
        let keptBLAS = try #require(kept.json["blas"] as? [String: Any])
        #expect(keptBLAS["core"] as? String == "Prescott")
        #expect(keptBLAS["reason"] as? String == "fallback")
        let tokenize = try CLITests.run(["tokenize", "--model", CLITests.tinyModel, "--text", "hi"],
                                        environment: ["OPENBLAS_CORETYPE": "Prescott", "FEDGUARD_BLAS_CORE": "keep"])
        #expect(tokenize.status == 0)
        #expect(tokenize.stderr.contains("warning: FEDGUARD_BLAS_CORE=keep"), "\(tokenize.stderr)")

        // A family the CPU cannot run is refused, not tried.
        if !avx512 {
            let refused = try Self.doctor(["FEDGUARD_BLAS_CORE": "SkylakeX"])
            let refusedBLAS = try #require(refused.json["blas"] as? [String: Any])
            #expect(refusedBLAS["core"] as? String != "SkylakeX")
            #expect((refusedBLAS["warnings"] as? [String] ?? []).contains { $0.contains("needs AVX-512") })
        }
    }
}
