import Federation
import Foundation
import ModelFiles

/// A ``TensorMap`` as an F32 safetensors file: what a deployed server and its clients exchange
/// (the global adapter, a client's trained adapter, SCAFFOLD's control variates).
///
/// Tensor names are PEFT's keys, so an adapter file is also a PEFT `adapter_model.safetensors`.
/// Reading takes the layout the reader expects and checks every name, dtype and shape against it,
/// so a file made for another model or adapter is an error that names the tensor, never a crash.
/// Values are copied bit for bit (no conversion), so a map written and read back is identical.
public enum TensorMapFile {
    /// Writes `map` to `url` (atomically), with `metadata` in the header.
    public static func write(_ map: TensorMap, to url: URL, metadata: [String: String] = [:]) throws {
        var tensors: [(name: String, shape: [Int], values: [Float])] = []
        tensors.reserveCapacity(map.layout.entries.count)
        for entry in map.layout.entries {
            tensors.append((entry.name, entry.shape, Array(map.values(named: entry.name) ?? [])))
        }
        do { try SafeTensorsWriter.write(tensors, metadata: metadata, to: url) } catch {
            throw SimulationError.io(path: url.path, detail: "cannot write tensors: \(error)")
        }
    }

    /// Reads the file at `url` as a map with exactly `layout`'s tensors (F32, same names and shapes).
    public static func read(_ url: URL, layout: TensorLayout) throws -> TensorMap {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(url: url) } catch {
            throw SimulationError.io(path: url.path, detail: "not a readable safetensors file: \(error)")
        }
        let expected = Set(layout.entries.map(\.name))
        if let extra = file.tensorNames.first(where: { !expected.contains($0) }) {
            throw SimulationError.io(path: url.path, detail: "unexpected tensor '\(extra)' (the adapter layout has \(expected.count) tensors)")
        }
        var values: [Float] = []
        values.reserveCapacity(layout.elementCount)
        for entry in layout.entries {
            guard let info = file.tensors[entry.name] else {
                throw SimulationError.io(path: url.path, detail: "missing tensor '\(entry.name)'")
            }
            guard info.dtype == .f32 else {
                throw SimulationError.io(path: url.path, detail: "tensor '\(entry.name)' is \(info.dtype.name), expected F32")
            }
            guard info.shape == entry.shape else {
                throw SimulationError.io(path: url.path, detail: "tensor '\(entry.name)' has shape \(info.shape), expected \(entry.shape)")
            }
            do { values.append(contentsOf: try file.floats(named: entry.name)) } catch {
                throw SimulationError.io(path: url.path, detail: "\(error)")
            }
        }
        return try TensorMap(layout: layout, values: values)
    }
}
