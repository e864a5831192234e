#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into tests/fuzz/corpus/<target>/
and their libFuzzer dictionaries into tests/fuzz/<target>.dict.

A handful of valid and edge-case inputs per target, in the framing of
fuzz_common.h (byte 0: option bits; with FUZZ_TWO, a 2-byte little-endian
length of the first file, the first file, then the second).  Crash
reproducers live beside the seeds as crash-* files; this script never
touches them.

    tests/fuzz/seeds.py
"""

import gzip
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

TWO, CLASSES, SUBSET, SHARD, LAYOUT = 1, 2, 4, 32, 64
UNIT, NONE, MINUS1_1 = 1 << 3, 2 << 3, 3 << 3


def frame(flags, first, second=None):
    if second is None:
        return bytes([flags]) + first
    return bytes([flags | TWO]) + struct.pack("<H", len(first)) + first + second


def idx(code, dims, payload):
    return bytes([0, 0, code, len(dims)]) + b"".join(
        struct.pack(">I", d) for d in dims) + payload


def npy(descr, shape, payload, fortran=False, version=1):
    shape_text = (f"({shape[0]},)" if len(shape) == 1 else
                  "(" + ", ".join(str(d) for d in shape) + ")")
    header = (f"{{'descr': '{descr}', 'fortran_order': "
              f"{'True' if fortran else 'False'}, 'shape': {shape_text}, }}")
    pre = 10 if version == 1 else 12
    header += " " * ((64 - (pre + len(header) + 1) % 64) % 64) + "\n"
    size = (struct.pack("<H", len(header)) if version == 1 else
            struct.pack("<I", len(header)))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode() + payload


def cifar(labels, pixel=0):
    return b"".join(bytes([l]) + bytes([(pixel + i) % 256]) * 3072
                    for i, l in enumerate(labels))


def config_seeds():
    seeds = {}
    for name, path in (("demo.ini", "demo/F3a.ini"), ("F1.ini", "F1.ini"), ("S.ini", "S.ini")):
        with open(os.path.join(ROOT, "inputs", path), "rb") as f:
            seeds[name] = f.read()
    # Every key of reference.ini, without its comments.
    with open(os.path.join(ROOT, "inputs", "reference.ini")) as f:
        lines = [l for l in f if l.strip() and not l.startswith(";")]
    seeds["reference.ini"] = "".join(lines).encode()
    seeds["continuation.ini"] = (
        b"\xef\xbb\xbf[data]\r\nsource = gmm\r\nn = 10\r\nmeans = -2;0,\r\n"
        b"  2;0 ; a comment\r\n  0;1\r\nvariances = 1\n\n[sweep]\n"
        b"sde.kind = vp, ve\nsampler.steps = 10, 20\n")
    seeds["overrides.ini"] = (
        b"[run]\nname = x\n\0data.n=5\0sweep.perturb.magnitude=0, 1\0"
        b"sweep.perturb.magnitude=\0jacobian.points=3")
    seeds["errors.ini"] = (b"[run]\nseed = 1\nseed = 2\n[nosuch]\nkey\n"
                           b"= 3\n[sampler]\nstep = 4\n")
    seeds["jacobian.ini"] = (
        b"[data]\nsource = sphere\nn = 4\ndim = 3\nintrinsic = 1\n[jacobian]\n"
        b"times = 0.1, 0.5\ngrid = 2x1\nsave_vectors = all\n"
        b"[sampler]\nprior_value = 1, 2, 3\n")
    return seeds


def idx_seeds():
    u8 = idx(0x08, [3, 2, 2], bytes(range(12)))
    labels = idx(0x08, [3], bytes([0, 1, 0]))
    return {
        "u8": frame(0, u8),
        "u8-labels-classes": frame(CLASSES | SUBSET, u8, labels),
        "u8-gzip": frame(UNIT, gzip.compress(u8, mtime=0)),
        "gzip-labels": frame(CLASSES, gzip.compress(u8, mtime=0),
                             gzip.compress(labels, mtime=0)),
        "f64-1d": frame(MINUS1_1, idx(0x0E, [3], struct.pack(">3d", 1, -2,
                                                              3.5))),
        "i16-shard": frame(SHARD | UNIT, idx(0x0B, [2, 3],
                                             struct.pack(">6h", *range(-3,
                                                                       3)))),
        "f32-i32labels": frame(CLASSES, idx(0x0D, [2, 1, 1, 2],
                                            struct.pack(">4f", 1, 2, 3, 4)),
                               idx(0x0C, [2], struct.pack(">2i", 1, 0))),
        "fashion-layout": frame(LAYOUT | CLASSES, u8, labels),
        "truncated": frame(0, u8[:-3]),
    }


def npy_seeds():
    f8 = npy("<f8", (3, 2), struct.pack("<6d", 0, 1, 2, 3, 4, 5))
    labels = npy("<i8", (3,), struct.pack("<3q", 1, 0, 1))
    return {
        "f8": frame(0, f8),
        "f8-labels-classes": frame(CLASSES | SUBSET, f8, labels),
        "u1-v2": frame(UNIT, npy("|u1", (2, 2, 2), bytes(range(8)),
                                 version=2)),
        "be-i4-fortran": frame(MINUS1_1, npy(">i4", (4, 1), struct.pack(
            ">4i", -1, 0, 1, 2), fortran=True)),
        "f4-1d-v3": frame(SHARD, npy("<f4", (5,), struct.pack("<5f", *range(5)),
                                    version=3)),
        "u8-self-labels": frame(LAYOUT | CLASSES, npy("<u8", (2,),
                                                      struct.pack("<2Q", 0,
                                                                  1))),
        "bad-descr": frame(0, npy("<c16", (1,), bytes(16))),
    }


def cifar_seeds():
    return {
        "one": frame(0, cifar([0, 1])),
        "two-classes": frame(CLASSES | SUBSET, cifar([3, 1]), cifar([0, 1])),
        "test-layout": frame(LAYOUT | UNIT, cifar([9])),
        "bad-label": frame(SHARD, cifar([1, 10])),
        "truncated": frame(0, cifar([2])[:-1]),
    }


def config_dict():
    """Sections, keys and choice names of the key table, and value forms."""
    with open(os.path.join(ROOT, "src", "config", "keys.c")) as f:
        table = f.read()
    words = set(re.findall(r'"([A-Za-z0-9_.-]+)"', table))
    listed = re.search(r"sgm__cfg_sections\[\] = \{(.*?)\}", table, re.S)
    sections = set(re.findall(r'"([a-z]+)"', listed.group(1)))
    pairs = {p for p in re.findall(r'\{"([a-z]+)", "([A-Za-z0-9_]+)"', table)
             if p[0] in sections}
    tokens = set(words)
    tokens |= {f"[{s}]" for s, _ in pairs} | {"[sweep]"}
    tokens |= {f"\n{k} = " for _, k in pairs}
    tokens |= {f"{s}.{k}=" for s, k in pairs}
    tokens |= {"auto", "all", "yes", "no", "true", "false", "inf", "nan",
               "1e308", "-1", "0.5", "2x3", "1;2", ", ", ",\n  ", " ;",
               "\n#", "\r\n", "\xef\xbb\xbf"}
    return sorted(tokens)


def data_dicts():
    npy_tokens = ["\x93NUMPY", "'descr'", "'fortran_order'", "'shape'",
                  "\"descr\"", "True", "False", "(", ")", ",)", ": ", "{",
                  "}"]
    npy_tokens += ["9223372036854775807", "4294967296", "268435456", "-1",
                   "0, "]
    npy_tokens += [e + c for e in "<>|=" for c in
                   ("f8", "f4", "u1", "i1", "i2", "i4", "i8", "u2", "u4",
                    "u8")]
    idx_tokens = ["\x00\x00\x08", "\x00\x00\x09", "\x00\x00\x0b",
                  "\x00\x00\x0c", "\x00\x00\x0d", "\x00\x00\x0e",
                  "\x1f\x8b\x08\x00", "\xff\xff\xff\xff", "\x7f\xff\xff\xff",
                  "\x10\x00\x00\x00"]
    return {"npy": npy_tokens, "idx": idx_tokens}


def write_dict(name, tokens):
    def quote(t):
        out = ""
        for c in t.encode("latin-1"):
            ch = chr(c)
            if ch in '"\\' or not 32 <= c < 127:
                out += f"\\x{c:02x}"
            else:
                out += ch
        return f'"{out}"'

    with open(os.path.join(HERE, name + ".dict"), "w") as f:
        f.write(f"# libFuzzer dictionary of fuzz_{name} (written by "
                "tests/fuzz/seeds.py).\n")
        for t in tokens:
            f.write(quote(t) + "\n")


def main():
    write_dict("config", config_dict())
    for name, tokens in data_dicts().items():
        write_dict(name, tokens)
    for target, seeds in (("config", config_seeds()), ("idx", idx_seeds()),
                          ("npy", npy_seeds()), ("cifar10", cifar_seeds())):
        folder = os.path.join(HERE, "corpus", target)
        os.makedirs(folder, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(folder, "seed-" + name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
