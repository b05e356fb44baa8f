#!/usr/bin/python3
"""Makes data/fashion-mnist-subset/: the small Fashion-MNIST subset jetgrad ships as its embedded data set.

Selection rule (deterministic, no randomness): walk each original file in its own order and keep an
image when fewer than K images of its class have been kept so far, i.e. the first K images of every
class, in their original relative order. K = 600 for the training split (6,000 images) and K = 100
for the test split (1,000 images). The output is gzip-compressed IDX, the same format as the
original files, so jetgrad's one IDX reader loads both. The gzip headers carry no file name and a
zero time stamp, so running this twice gives byte-identical files.

Usage: /usr/bin/python3 scripts/make_embedded_data.py [SOURCE_DIR [OUTPUT_DIR]]
  SOURCE_DIR  defaults to /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist)
  OUTPUT_DIR  defaults to data/fashion-mnist-subset next to this script's parent directory
Only the Python standard library is used.
"""
import gzip
import os
import struct
import sys

NUM_CLASSES = 10
PER_CLASS = {"train": 600, "t10k": 100}


def read_idx(path, magic, ndims):
    with gzip.open(path, "rb") as f:
        data = f.read()
    got_magic = struct.unpack(">I", data[:4])[0]
    if got_magic != magic:
        sys.exit(f"{path}: magic number 0x{got_magic:08x}, expected 0x{magic:08x}")
    dims = struct.unpack(">" + "I" * ndims, data[4:4 + 4 * ndims])
    body = data[4 + 4 * ndims:]
    item = 1
    for d in dims[1:]:
        item *= d
    if len(body) != dims[0] * item:
        sys.exit(f"{path}: {len(body)} data bytes, expected {dims[0] * item}")
    return dims, [body[i * item:(i + 1) * item] for i in range(dims[0])]


def write_gz(path, payload):
    # mtime=0 and an empty file name: reproducible bytes.
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
            f.write(payload)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "data", "fashion-mnist-subset")
    os.makedirs(out, exist_ok=True)
    for split, k in PER_CLASS.items():
        img_dims, images = read_idx(os.path.join(src, f"{split}-images-idx3-ubyte.gz"), 0x00000803, 3)
        _, labels = read_idx(os.path.join(src, f"{split}-labels-idx1-ubyte.gz"), 0x00000801, 1)
        if len(images) != len(labels):
            sys.exit(f"{split}: {len(images)} images but {len(labels)} labels")
        kept = [0] * NUM_CLASSES
        sel_images, sel_labels = [], []
        for img, lab in zip(images, labels):
            c = lab[0]
            if kept[c] < k:
                kept[c] += 1
                sel_images.append(img)
                sel_labels.append(lab)
        if kept != [k] * NUM_CLASSES:
            sys.exit(f"{split}: not enough images of some class: {kept}")
        n = len(sel_images)
        write_gz(os.path.join(out, f"{split}-images-idx3-ubyte.gz"),
                 struct.pack(">IIII", 0x00000803, n, img_dims[1], img_dims[2]) + b"".join(sel_images))
        write_gz(os.path.join(out, f"{split}-labels-idx1-ubyte.gz"),
                 struct.pack(">II", 0x00000801, n) + b"".join(sel_labels))
        print(f"{split}: kept {n} of {len(images)} images ({k} per class)")


if __name__ == "__main__":
    main()
