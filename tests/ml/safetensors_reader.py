"""An independent safetensors reader following the format's rules (the ones the Python
`safetensors` package enforces), used by the tests to check fedsilo's blobs from outside C++.
Prints name dtype shape sum for each tensor; exits 1 with a reason on any violation."""
import json
import struct
import sys

SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
FORMATS = {"F64": "d", "F32": "f", "I64": "q", "I32": "i", "U8": "B"}


def main(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = data[8 : 8 + n]
    if not header.startswith(b"{"):
        sys.exit("header must start with '{'")
    if (8 + n) % 8:
        sys.exit("header is not padded to 8 bytes")
    meta = json.loads(header.decode("utf-8"))
    body = data[8 + n :]
    entries = sorted(((k, v) for k, v in meta.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"][0])
    cursor = 0
    for name, info in entries:
        begin, end = info["data_offsets"]
        count = 1
        for d in info["shape"]:
            count *= d
        if begin != cursor or end - begin != count * SIZES[info["dtype"]]:
            sys.exit(f"{name}: bad offsets")
        cursor = end
        fmt = FORMATS.get(info["dtype"])
        total = sum(struct.unpack(f"<{count}{fmt}", body[begin:end])) if fmt else 0
        print(name, info["dtype"], info["shape"], f"{total:.6g}")
    if cursor != len(body):
        sys.exit("trailing bytes")
    print("metadata", json.dumps(meta.get("__metadata__", {})))


if __name__ == "__main__":
    main(sys.argv[1])
