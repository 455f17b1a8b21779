"""Adapters between FedGuard's F32 safetensors files and Flower ArrayRecords, bit for bit.

The safetensors layout (u64 little-endian header length, JSON header, raw data) is written and
read here with numpy alone, so neither side depends on the `safetensors` package.
"""

import json
import struct
from collections import OrderedDict
from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord


def read_safetensors(path: Path) -> "OrderedDict[str, np.ndarray]":
    """The F32 tensors of `path`, in the order of their data in the file."""
    raw = Path(path).read_bytes()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (length,) = struct.unpack("<Q", raw[:8])
    if length > len(raw) - 8:
        raise ValueError(f"{path}: header length {length} exceeds the file")
    header = json.loads(raw[8 : 8 + length])
    header.pop("__metadata__", None)
    data = raw[8 + length :]
    tensors = OrderedDict()
    for name, info in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {info['dtype']}, expected F32")
        start, end = info["data_offsets"]
        array = np.frombuffer(data[start:end], dtype="<f4").reshape(info["shape"])
        tensors[name] = array
    return tensors


def write_safetensors(tensors: "dict[str, np.ndarray]", path: Path) -> None:
    """Writes F32 `tensors` to `path` (names in byte order, as FedGuard writes them)."""
    names = sorted(tensors, key=lambda name: name.encode())
    header, offset, blobs = {}, 0, []
    for name in names:
        blob = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


# The key of the one array that holds a whole safetensors file (see `to_record`).
PACKED = "safetensors"


def to_record(path: Path, per_tensor: bool = False) -> ArrayRecord:
    """A safetensors file as an ArrayRecord.

    By default the record holds one uint8 array, the file's bytes (names, shapes and values, bit
    for bit): Flower moves every Array as its own object with its own requests, and a LoRA adapter
    of SmolLM2 has 120 tensors, so one array per tensor cost ~10 s per message hop here. With
    `per_tensor`, one float32 array per tensor keyed by name (what Flower's stock strategies read).
    """
    if per_tensor:
        return ArrayRecord(array_dict={name: Array.from_numpy_ndarray(a) for name, a in read_safetensors(path).items()})
    raw = np.frombuffer(Path(path).read_bytes(), dtype=np.uint8)
    return ArrayRecord(array_dict={PACKED: Array.from_numpy_ndarray(raw)})


def from_record(record: ArrayRecord, path: Path) -> None:
    """Writes an ArrayRecord made by `to_record` (either form) to a safetensors file."""
    if list(record.keys()) == [PACKED]:
        Path(path).write_bytes(record[PACKED].numpy().tobytes())
        return
    write_safetensors({name: array.numpy() for name, array in record.items()}, path)
