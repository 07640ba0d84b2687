#!/usr/bin/env python3
"""An independent reader of TensorBoard event files, for the TensorBoard test: TFRecord framing
with its masked CRC-32C (computed bit by bit here, not with the writer's table), then the Event
and Summary protocol buffers decoded field by field. Prints one JSON line per scalar:
{"step": N, "tag": "...", "value": V, "wall_time": T}; the first record must be the
file_version "brain.Event:2". Exits 1 naming the first thing that is wrong.

Usage: tfevents_reader.py EVENTS_FILE
"""
import json
import struct
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def fields(buf):
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(buf, i)
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        elif wire == 5:
            v, i = buf[i:i + 4], i + 4
        elif wire == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        else:
            raise ValueError(f"wire type {wire}")
        yield num, wire, v


def main(path):
    data = open(path, "rb").read()
    i = n = 0
    while i < len(data):
        if len(data) - i < 12:
            sys.exit(f"record {n}: truncated header")
        header = data[i:i + 8]
        (length,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", data[i + 8:i + 12])
        if hcrc != masked(header):
            sys.exit(f"record {n}: length CRC mismatch")
        body = data[i + 12:i + 12 + length]
        (bcrc,) = struct.unpack("<I", data[i + 12 + length:i + 16 + length])
        if len(body) != length or bcrc != masked(body):
            sys.exit(f"record {n}: data CRC mismatch")
        i += 16 + length
        event = {"step": 0}
        for num, wire, v in fields(body):
            if num == 1 and wire == 1:
                event["wall_time"] = struct.unpack("<d", v)[0]
            elif num == 2 and wire == 0:
                event["step"] = v
            elif num == 3 and wire == 2:
                event["file_version"] = v.decode()
            elif num == 5 and wire == 2:
                for snum, _, value in fields(v):
                    if snum != 1:
                        continue
                    tag = val = None
                    for vnum, vwire, x in fields(value):
                        if vnum == 1:
                            tag = x.decode()
                        elif vnum == 2 and vwire == 5:
                            val = struct.unpack("<f", x)[0]
                    print(json.dumps({"step": event["step"], "tag": tag, "value": val,
                                      "wall_time": event.get("wall_time")}))
        if n == 0 and event.get("file_version") != "brain.Event:2":
            sys.exit("record 0 is not the file_version event")
        n += 1


if __name__ == "__main__":
    main(sys.argv[1])
